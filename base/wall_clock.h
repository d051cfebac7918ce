// WallClock: CLOCK_REALTIME in nanoseconds for the timestamp of every update, at the cost
// of a TSC read.
//
// clock_gettime(CLOCK_REALTIME) measured ~40 ns on a virtual machine, a fifth of the
// dispatcher's whole delivery cost (perf). Where the CPU has an invariant TSC, Now()
// extrapolates from the last real clock reading with the TSC and takes a new reading
// (and the TSC rate between the two readings) every kReanchorNs, so clock adjustments
// (NTP) are followed within a millisecond and the extrapolation error stays in the tens of
// nanoseconds. Without an invariant TSC it is clock_gettime.
//
// Thread-compatible: one WallClock per thread (the dispatcher owns one).
#ifndef QLASTER_BASE_WALL_CLOCK_H_
#define QLASTER_BASE_WALL_CLOCK_H_

#include <time.h>

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace qlaster {

class WallClock {
 public:
  WallClock() : use_tsc_(HasInvariantTsc()) {
    if (use_tsc_) Anchor(Ticks());
  }

  // CLOCK_REALTIME itself, ns (one clock_gettime).
  static uint64_t RealtimeNs() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
  }

  uint64_t Now() {
    if (!use_tsc_) return RealtimeNs();
    const uint64_t ticks = Ticks();
    const uint64_t elapsed = ticks - anchor_ticks_;
    if (elapsed >= reanchor_ticks_ || ticks < anchor_ticks_) return Anchor(ticks);
    return anchor_ns_ + static_cast<uint64_t>(static_cast<double>(elapsed) * ns_per_tick_);
  }

 private:
  static constexpr uint64_t kReanchorNs = 1'000'000;

#if defined(__x86_64__)
  static uint64_t Ticks() { return __rdtsc(); }
  static bool HasInvariantTsc() {
    unsigned a, b, c, d;
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000007u) return false;
    __get_cpuid(0x80000007u, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0;
  }
#else
  static uint64_t Ticks() { return 0; }
  static bool HasInvariantTsc() { return false; }
#endif

  // Takes a real reading; the TSC rate comes from the previous anchor (the first one
  // measures it over a short busy interval).
  uint64_t Anchor(uint64_t ticks) {
    uint64_t ns = RealtimeNs();
    if (anchor_ticks_ == 0) {
      // First anchor: measure the rate over ~200 us of CLOCK_MONOTONIC.
      timespec a, b;
      ::clock_gettime(CLOCK_MONOTONIC, &a);
      const uint64_t t0 = Ticks();
      do {
        ::clock_gettime(CLOCK_MONOTONIC, &b);
      } while ((b.tv_sec - a.tv_sec) * 1'000'000'000 + (b.tv_nsec - a.tv_nsec) < 200'000);
      const uint64_t t1 = Ticks();
      const double ns_elapsed = static_cast<double>((b.tv_sec - a.tv_sec) * 1'000'000'000 + (b.tv_nsec - a.tv_nsec));
      ns_per_tick_ = t1 > t0 ? ns_elapsed / static_cast<double>(t1 - t0) : 1.0;
      ticks = t1;
      ns = RealtimeNs();
    } else if (ticks > anchor_ticks_ && ns > anchor_ns_) {
      const double rate = static_cast<double>(ns - anchor_ns_) / static_cast<double>(ticks - anchor_ticks_);
      // A clock step (settimeofday) is not a rate: keep the old rate across one.
      if (rate > ns_per_tick_ * 0.9 && rate < ns_per_tick_ * 1.1) ns_per_tick_ = rate;
    }
    anchor_ticks_ = ticks;
    anchor_ns_ = ns;
    reanchor_ticks_ = static_cast<uint64_t>(static_cast<double>(kReanchorNs) / ns_per_tick_);
    return ns;
  }

  const bool use_tsc_;
  uint64_t anchor_ticks_ = 0;
  uint64_t anchor_ns_ = 0;
  uint64_t reanchor_ticks_ = 0;
  double ns_per_tick_ = 1.0;
};

}  // namespace qlaster

#endif  // QLASTER_BASE_WALL_CLOCK_H_
