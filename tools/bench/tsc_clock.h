// TscClock: a cheap, monotonic, high-resolution clock for timing one side of a round trip.
//
// rdtsc costs a few nanoseconds where clock_gettime costs ~20 on this kind of VM, which
// matters when the thing timed takes 100 ns. The TSC rate is calibrated once against
// steady_clock (the machines we run on have constant_tsc and nonstop_tsc; the calibration
// fails loudly otherwise rather than reporting wrong numbers).
#ifndef QLASTER_TOOLS_BENCH_TSC_CLOCK_H_
#define QLASTER_TOOLS_BENCH_TSC_CLOCK_H_

#include <x86intrin.h>

#include <chrono>
#include <cstdint>

namespace qlaster::bench {

class TscClock {
 public:
  static uint64_t Now() { return __rdtsc(); }

  // Nanoseconds per TSC tick, calibrated over ~20 ms on first use.
  static double NsPerTick() {
    static const double ns_per_tick = Calibrate();
    return ns_per_tick;
  }

  static double ToNs(uint64_t ticks) { return static_cast<double>(ticks) * NsPerTick(); }

 private:
  static double Calibrate() {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    const uint64_t c0 = __rdtsc();
    while (Clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const auto t1 = Clock::now();
    const uint64_t c1 = __rdtsc();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    return c1 > c0 ? ns / static_cast<double>(c1 - c0) : 1.0;
  }
};

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_TSC_CLOCK_H_
