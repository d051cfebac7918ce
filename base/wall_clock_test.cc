// WallClock against CLOCK_REALTIME: the TSC extrapolation stays close to the real clock
// and never runs ahead of it by more than the re-anchoring allows.
#include "base/wall_clock.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace qlaster {
namespace {

TEST(WallClockTest, TracksRealtimeAcrossManyReanchors) {
  WallClock clock;
  // Bracket each reading between two real ones; over ~50 ms (about 50 re-anchors) the
  // reading must lie inside the bracket, give or take the extrapolation error. The bound
  // is loose (20 us) because a preempted thread can sit between the readings; the point is
  // that the clock is the wall clock, not a count since start.
  int64_t worst = 0;
  const uint64_t end = WallClock::RealtimeNs() + 50'000'000;
  uint64_t previous = 0;
  int backwards = 0;
  while (WallClock::RealtimeNs() < end) {
    const uint64_t before = WallClock::RealtimeNs();
    const uint64_t now = clock.Now();
    const uint64_t after = WallClock::RealtimeNs();
    int64_t off = 0;
    if (now < before) off = static_cast<int64_t>(before - now);
    if (now > after) off = static_cast<int64_t>(now - after);
    worst = std::max(worst, off);
    if (now < previous) ++backwards;
    previous = now;
  }
  EXPECT_LT(worst, 20'000) << "ns off the real clock";
  // A re-anchor may step back by the extrapolation error, rarely.
  EXPECT_LT(backwards, 100);
}

}  // namespace
}  // namespace qlaster
