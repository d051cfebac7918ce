// The C++ side of the bindings benchmark (run.py): drains N account updates from a full
// ring through qlaster::Consumer, touching each (lamports and the first data byte).
//
//   bindings_bench_cpp SOCKET N     then one line "drain" on stdin per round
// Prints "ready" once subscribed, then "ns T" (nanoseconds for the N updates) per round.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qlaster/consumer.hpp"

namespace {
uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const unsigned long n = std::strtoul(argv[2], nullptr, 10);
  qlaster::ConsumerOptions o;
  o.name = "bench-cpp";
  o.ring_bytes = 64u << 20;
  o.overflow = qlaster::OverflowPolicy::kDropAndCount;
  o.wait_mode = qlaster::WaitMode::kSpin;
  auto c = qlaster::Consumer::Connect(argv[1], o);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
    return 1;
  }
  qlaster::Pubkey owner;
  owner.fill(0x22);
  if (!c->Subscribe({}, {&owner, 1}).ok()) return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  char line[64];
  uint64_t sink = 0;
  while (std::fgets(line, sizeof(line), stdin) != nullptr) {
    unsigned long got = 0, other = 0;
    const uint64_t t0 = NowNs();
    while (got < n && other == 0) {  // a gap ends the round: run.py reports it
      auto polled = c->Poll(
          [&](const qlaster::Event& e) {
            if (const auto* a = e.account()) {
              sink += a->lamports + a->data[0];
              ++got;
            } else if (!e.slot()) {
              ++other;
            }
          },
          256);
      if (!polled.ok()) return 1;
      if (*polled == 0) break;  // everything was published before "drain": some is missing
    }
    other += n - got;
    const uint64_t t1 = NowNs();
    std::printf("ns %lu other %lu sink %lu\n", static_cast<unsigned long>(t1 - t0), other,
                static_cast<unsigned long>(sink & 1));
    std::fflush(stdout);
  }
  return 0;
}
