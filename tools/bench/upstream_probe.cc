// qlaster-upstream-probe: the consumer end of `qlaster-bench grpc`'s Yellowstone source
// part (tools/bench/yellowstone_source_scenario.cc). It links libqlaster-consumer like
// any bot, follows the accounts of one owner, and reads in each account's lamports the time (CLOCK_REALTIME, ns) at which the benchmark's
// upstream handed it to gRPC. For every account it records, at its callback:
//   total    upstream send -> this callback
//   upstream upstream send -> the sender's publish (Event::timestamp_ns): gRPC, the
//            conversion, the source's queue
//   local    the sender's publish -> this callback: the shared-memory path
// Prints "READY" once subscribed, then, after --count accounts (or when its stdin
// closes), one JSON object: counts, first and last receipt times, and percentiles.
//
//   qlaster-upstream-probe SOCKET OWNER_HEX32 COUNT
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "qlaster/consumer.hpp"

namespace {

int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string Percentiles(std::vector<int64_t> v) {
  if (v.empty()) return "{}";
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"p50\":%ld,\"p90\":%ld,\"p99\":%ld,\"p999\":%ld,\"p9999\":%ld,\"max\":%ld}",
                at(0.5), at(0.9), at(0.99), at(0.999), at(0.9999), v.back());
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || std::strlen(argv[2]) != 64) {
    std::fprintf(stderr, "usage: %s SOCKET OWNER_HEX32 COUNT\n", argv[0]);
    return 2;
  }
  qlaster::Pubkey owner{};
  for (size_t i = 0; i < owner.size(); ++i) {
    owner[i] = static_cast<uint8_t>(std::strtoul(std::string(argv[2] + 2 * i, 2).c_str(), nullptr, 16));
  }
  const long count = std::strtol(argv[3], nullptr, 10);
  qlaster::ConsumerOptions options;
  options.name = "upstream-probe";
  options.ring_bytes = 64 << 20;
  options.overflow = qlaster::OverflowPolicy::kDropAndCount;
  auto consumer = qlaster::Consumer::Connect(argv[1], options);
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  auto subscribed = consumer->Subscribe({}, {&owner, 1}, qlaster::TransactionFilter::kNone);
  if (!subscribed.ok()) {
    std::fprintf(stderr, "%s\n", subscribed.status().ToString().c_str());
    return 1;
  }
  std::printf("READY\n");
  std::fflush(stdout);

  std::vector<int64_t> total, upstream, local;
  total.reserve(static_cast<size_t>(count));
  upstream.reserve(static_cast<size_t>(count));
  local.reserve(static_cast<size_t>(count));
  int64_t first = 0, last = 0;
  uint64_t gaps = 0;
  bool stdin_closed = false;
  while (static_cast<long>(total.size()) < count && !stdin_closed) {
    (void)consumer->Wait(absl::Milliseconds(100));
    auto polled = consumer->Poll([&](const qlaster::Event& e) {
      if (const auto* a = e.account()) {
        const int64_t now = RealtimeNs();
        const int64_t sent = static_cast<int64_t>(a->lamports);
        total.push_back(now - sent);
        upstream.push_back(static_cast<int64_t>(e.timestamp_ns) - sent);
        local.push_back(now - static_cast<int64_t>(e.timestamp_ns));
        if (first == 0) first = now;
        last = now;
      } else if (const auto* g = e.gap()) {
        gaps += g->dropped;
      }
    });
    if (!polled.ok()) {
      std::fprintf(stderr, "%s\n", polled.status().ToString().c_str());
      return 1;
    }
    pollfd p{.fd = 0, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) == 1) {
      char c;
      if (::read(0, &c, 1) <= 0) stdin_closed = true;
    }
  }
  std::printf("{\"received\":%zu,\"gaps\":%lu,\"first_ns\":%ld,\"last_ns\":%ld,\"total_ns\":%s,"
              "\"upstream_ns\":%s,\"local_ns\":%s}\n",
              total.size(), gaps, first, last, Percentiles(total).c_str(),
              Percentiles(upstream).c_str(), Percentiles(local).c_str());
  return 0;
}
