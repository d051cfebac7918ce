// Scenario `netbaseline`: what the kernel's network stacks alone cost over loopback, the
// baselines the relay's latency is to be read against (issue 11: its p50 within 2x of a
// UDP ping-pong of the same run). One-way latency as half a round trip between two
// processes, each blocking in recv(2), of `size` payload bytes each way:
//   udp   two connected UDP sockets on 127.0.0.1 (UdpPingPong)
//   tcp   one TCP connection on 127.0.0.1, TCP_NODELAY on both ends (TcpPingPong)
// For 165 B (a token account) and 3,762 B (a vote account) unless --size says otherwise.
// Each is measured in two halves, interleaved with the other, and the halves pooled, so
// that a neighbour slowing the machine for a while weighs on both alike.
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tools/bench/pingpong.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {

absl::StatusOr<std::vector<Result>> RunNetBaseline(const Config& config) {
  std::vector<uint64_t> sizes = {165, 3762};
  if (config.size) {
    if (*config.size < 8 || *config.size > 65'507) {
      return absl::InvalidArgumentError("netbaseline: --size must be 8 .. 65507 bytes (one UDP datagram)");
    }
    sizes = {*config.size};
  }
  PingPongOptions o;
  o.parent_cpu = config.Cpu(0);
  o.child_cpu = config.Cpu(1);
  o.rate = config.rate.value_or(0);
  // Halves of 5,000 + 50,000 round trips: a meaningful p99.9 in about a second each.
  o.warmup = config.quick ? 50 : 2'500;
  o.iterations = config.quick ? 500 : 25'000;

  std::vector<Result> results;
  for (uint64_t size : sizes) {
    o.size = size;
    Samples udp, tcp;
    for (int half = 0; half < 2; ++half) {
      absl::StatusOr<Samples> u = UdpPingPong(o);
      if (!u.ok()) return absl::Status(u.status().code(), absl::StrCat("udp ", size, " B: ", u.status().message()));
      absl::StatusOr<Samples> t = TcpPingPong(o);
      if (!t.ok()) return absl::Status(t.status().code(), absl::StrCat("tcp ", size, " B: ", t.status().message()));
      udp.insert(udp.end(), u->begin(), u->end());
      tcp.insert(tcp.end(), t->begin(), t->end());
    }
    for (auto& [subject, samples] : {std::pair<const char*, Samples*>{"udp", &udp}, {"tcp", &tcp}}) {
      Result r;
      r.scenario = "netbaseline";
      r.subject = subject;
      r.Param("size", static_cast<int64_t>(size));
      r.Param("rate", o.rate);
      r.latency = Latency::FromSamples(*samples);
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace qlaster::bench
