// Clocks: the one place the project reads CLOCK_MONOTONIC and CLOCK_REALTIME, and sleeps
// until a monotonic deadline. (The hot path's timestamps come from WallClock,
// base/wall_clock.h, which extrapolates CLOCK_REALTIME with the TSC.)
//
// All functions are thread-safe.
#ifndef QLASTER_BASE_CLOCK_H_
#define QLASTER_BASE_CLOCK_H_

#include <time.h>

#include <cerrno>
#include <cstdint>

namespace qlaster {

// CLOCK_MONOTONIC in nanoseconds: for deadlines, pacing and intervals.
inline int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_REALTIME in nanoseconds since the Unix epoch: for timestamps other processes read.
inline uint64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns` (at once if it already has), through
// signals. Absolute, so that repeated sleeps never accumulate error.
inline void SleepUntilMonotonicNs(int64_t deadline_ns) {
  if (deadline_ns <= 0) return;
  const timespec ts{.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000),
                    .tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace qlaster

#endif  // QLASTER_BASE_CLOCK_H_
