// Scenario `latency`: one-way latency, publish -> the other process sees it, as half of a
// round trip, for 32 B, 256 B and 4 KiB, in each wait mode.
//
// For each size, in one run and interleaved so that a noisy neighbour hits all alike:
//   baselines   cacheline (the hardware limit, spinning), eventfd (the wake-up limit,
//               blocking), unix_socket (the same bytes over a socketpair, blocking reads)
//   qlaster     the whole path: Dispatcher::PublishAccount in a real in-process sender ->
//               the consumer's ring -> libqlaster-consumer Wait/Poll -> the callback in
//               another process, which echoes through a qlaster ring
//   ring        the transport alone: a qlaster ring each way, `size` bytes each way
// Spin-then-sleep ("hybrid") runs at a steady 100,000 round trips/s (the rate a busy
// feed gives one consumer); spin and sleep run back to back unless --rate says otherwise.
#include <algorithm>
#include <vector>

#include "base/status_macros.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/pingpong.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr double kHybridRate = 100'000;

struct Counts {
  int warmup;
  int iterations;
};

// Round trips per measurement: enough for a meaningful p99.99 in about a second each.
Counts CountsFor(const Config& c, WaitMode mode, bool spinning_baseline) {
  if (c.quick) return {100, 1'000};  // halves for the baselines: 2 x 500
  if (spinning_baseline || mode == WaitMode::kSpin) return {20'000, 200'000};
  if (mode == WaitMode::kSpinThenSleep) return {10'000, 100'000};
  return {5'000, 50'000};
}

Result Make(const std::string& subject, uint64_t size, Samples samples) {
  Result r;
  r.scenario = "latency";
  r.subject = subject;
  r.Param("size", static_cast<int64_t>(size));
  r.latency = Latency::FromSamples(samples);
  return r;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunLatency(const Config& config) {
  std::vector<uint64_t> sizes = {32, 256, 4096};
  if (config.size) {
    if (*config.size < 8 || *config.size > (64u << 20)) {
      return absl::InvalidArgumentError("latency: --size must be 8 bytes .. 64 MiB");
    }
    sizes = {*config.size};
  }
  std::vector<WaitMode> modes = {WaitMode::kSpin, WaitMode::kSpinThenSleep,
                                      WaitMode::kSleep};
  if (config.mode) modes = {*config.mode};

  std::vector<Result> results;
  for (uint64_t size : sizes) {
    PingPongOptions o;
    o.size = size;
    o.parent_cpu = config.Cpu(0);
    o.child_cpu = config.Cpu(1);
    o.shm_dir = config.shm_dir;

    // The baselines run in two halves, before and after qlaster's runs, and their samples
    // are pooled: a neighbour that slows the machine for a while weighs on both sides.
    std::vector<Samples> base(3);
    auto measure_baselines = [&]() -> absl::Status {
      Counts n = CountsFor(config, WaitMode::kSpin, true);
      o.warmup = n.warmup / 2;
      o.iterations = n.iterations / 2;
      QLASTER_ASSIGN_OR_RETURN(Samples cacheline, CachelinePingPong(o));
      n = CountsFor(config, WaitMode::kSleep, false);
      o.warmup = n.warmup / 2;
      o.iterations = n.iterations / 2;
      QLASTER_ASSIGN_OR_RETURN(Samples eventfd, EventfdPingPong(o));
      QLASTER_ASSIGN_OR_RETURN(Samples socket, UnixSocketPingPong(o));
      base[0].insert(base[0].end(), cacheline.begin(), cacheline.end());
      base[1].insert(base[1].end(), eventfd.begin(), eventfd.end());
      base[2].insert(base[2].end(), socket.begin(), socket.end());
      return absl::OkStatus();
    };
    if (absl::Status s = measure_baselines(); !s.ok()) return s;

    const size_t first = results.size();
    for (WaitMode mode : modes) {
      Counts n = CountsFor(config, mode, false);
      o.warmup = n.warmup;
      o.iterations = n.iterations;
      o.mode = mode;
      o.rate = config.rate ? *config.rate : (mode == WaitMode::kSpinThenSleep ? kHybridRate : 0);
      // --ring broadcast: the broadcast ring beside the SPSC ring (the sender's path does
      // not use the broadcast ring yet).
      std::vector<std::string> paths = {"qlaster", "ring"};
      if (config.ring == "broadcast") paths = {"ring", "broadcast"};
      for (const std::string& path : paths) {
        absl::StatusOr<Samples> l = path == "qlaster"     ? SenderToCallbackPingPong(o)
                                    : path == "broadcast" ? BroadcastPingPong(o)
                                                          : RingPingPong(o);
        if (!l.ok()) {
          return absl::Status(l.status().code(),
                              absl::StrCat(path, " ", ModeName(mode), " ", size, " B: ", l.status().message()));
        }
        Result r = Make(path == "broadcast" ? "ring" : path, size, *l);
        r.Param("ring", path == "broadcast" ? "broadcast" : "spsc");
        r.Param("mode", ModeName(mode));
        r.Param("rate", o.rate);
        results.push_back(std::move(r));
      }
    }

    if (absl::Status s = measure_baselines(); !s.ok()) return s;
    const std::vector<Result> baselines = {Make("cacheline", size, base[0]),
                                           Make("eventfd", size, base[1]),
                                           Make("unix_socket", size, base[2])};
    for (size_t i = first; i < results.size(); ++i) results[i].baseline = baselines;
  }
  return results;
}

}  // namespace qlaster::bench
