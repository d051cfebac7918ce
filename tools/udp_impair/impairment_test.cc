// The impairments without sockets: the decisions are a function of the seed and the index,
// and the timer queue gives back what is due, in order, with copies, holds and cuts.
#include "tools/udp_impair/impairment.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster::udp_impair {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMs = 1'000'000;

std::vector<uint8_t> Datagram(uint8_t n) { return std::vector<uint8_t>(3, n); }

// The first byte of each datagram sent, which the tests set to its number.
std::vector<int> Numbers(const std::vector<std::vector<uint8_t>>& sent) {
  std::vector<int> out;
  for (const auto& d : sent) out.push_back(d.empty() ? -1 : d[0]);
  return out;
}

TEST(ImpairmentSpecTest, ParsesEveryKeyOverTheBase) {
  ImpairmentSpec base;
  base.drop = 0.5;
  absl::StatusOr<ImpairmentSpec> s =
      ParseSpec("delay=20ms, jitter=5ms,duplicate=0.01,reorder=0.02,reorder_distance=3,reorder_timeout=1s", base);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->drop, 0.5);
  EXPECT_EQ(s->delay, absl::Milliseconds(20));
  EXPECT_EQ(s->jitter, absl::Milliseconds(5));
  EXPECT_EQ(s->duplicate, 0.01);
  EXPECT_EQ(s->reorder, 0.02);
  EXPECT_EQ(s->reorder_distance, 3);
  EXPECT_EQ(s->reorder_timeout, absl::Seconds(1));
  EXPECT_EQ(ParseSpec("", base)->drop, 0.5);
}

TEST(ImpairmentSpecTest, RefusesBadKeysAndValues) {
  EXPECT_THAT(ParseSpec("loss=0.1", {}).status().message(), HasSubstr("unknown key"));
  EXPECT_THAT(ParseSpec("drop=lots", {}).status().message(), HasSubstr("not a number"));
  EXPECT_THAT(ParseSpec("drop=1.5", {}).status().message(), HasSubstr("drop must be a probability"));
  EXPECT_THAT(ParseSpec("delay=20", {}).status().message(), HasSubstr("not a duration"));
  EXPECT_THAT(ParseSpec("delay=-1ms", {}).status().message(), HasSubstr("delay must be in"));
  EXPECT_THAT(ParseSpec("reorder_distance=0", {}).status().message(), HasSubstr("reorder_distance"));
  EXPECT_THAT(ParseSpec("drop", {}).status().message(), HasSubstr("not a number"));
}

TEST(DecideTest, SameSeedSameDecisionsOtherSeedOthers) {
  ImpairmentSpec spec;
  spec.drop = 0.5;
  int dropped = 0, differ = 0;
  for (uint64_t i = 0; i < 10'000; ++i) {
    const bool a = Decide(spec, 42, 0, i).drop;
    EXPECT_EQ(a, Decide(spec, 42, 0, i).drop);
    dropped += a;
    differ += a != Decide(spec, 43, 0, i).drop;
    differ += a != Decide(spec, 42, 1, i).drop;  // another stream decides on its own
  }
  EXPECT_GT(dropped, 4'500);
  EXPECT_LT(dropped, 5'500);
  EXPECT_GT(differ, 8'000);  // about half of 2 x 10,000
}

TEST(DecideTest, JitterStaysWithinItsBoundsAndAboveZero) {
  ImpairmentSpec spec;
  spec.delay = absl::Milliseconds(2);
  spec.jitter = absl::Milliseconds(5);
  bool saw_zero = false, saw_max_half = false;
  for (uint64_t i = 0; i < 1'000; ++i) {
    const Verdict v = Decide(spec, 1, 0, i);
    for (absl::Duration d : v.delay) {
      EXPECT_GE(d, absl::ZeroDuration());
      EXPECT_LE(d, absl::Milliseconds(7));
      saw_zero |= d == absl::ZeroDuration();
      saw_max_half |= d > absl::Microseconds(4500);
    }
  }
  EXPECT_TRUE(saw_zero);
  EXPECT_TRUE(saw_max_half);
}

TEST(ImpairedPathTest, WithoutImpairmentEverythingGoesAtOnceInOrder) {
  ImpairedPath path({}, 1, 0);
  std::vector<std::vector<uint8_t>> sent;
  for (uint8_t i = 0; i < 100; ++i) {
    path.Submit(i, Datagram(i));
    path.TakeDue(i, &sent);
  }
  ASSERT_EQ(sent.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sent[i], Datagram(static_cast<uint8_t>(i)));
  EXPECT_EQ(path.NextExpiry(), -1);
  EXPECT_EQ(path.counters().received, 100u);
  EXPECT_EQ(path.counters().forwarded, 100u);
}

TEST(ImpairedPathTest, DelayHoldsUntilDue) {
  ImpairmentSpec spec;
  spec.delay = absl::Milliseconds(20);
  ImpairedPath path(spec, 1, 0);
  std::vector<std::vector<uint8_t>> sent;
  path.Submit(0, Datagram(1));
  path.Submit(5 * kMs, Datagram(2));
  EXPECT_EQ(path.NextExpiry(), 20 * kMs);
  path.TakeDue(20 * kMs - 1, &sent);
  EXPECT_TRUE(sent.empty());
  path.TakeDue(20 * kMs, &sent);
  EXPECT_THAT(Numbers(sent), ElementsAre(1));
  EXPECT_EQ(path.NextExpiry(), 25 * kMs);
  path.TakeDue(30 * kMs, &sent);
  EXPECT_THAT(Numbers(sent), ElementsAre(1, 2));
  EXPECT_EQ(path.counters().delayed, 2u);
}

TEST(ImpairedPathTest, DuplicateSendsACopyRightAfter) {
  ImpairmentSpec spec;
  spec.duplicate = 1;
  ImpairedPath path(spec, 1, 0);
  std::vector<std::vector<uint8_t>> sent;
  path.Submit(0, Datagram(7));
  path.Submit(0, Datagram(8));
  path.TakeDue(0, &sent);
  EXPECT_THAT(Numbers(sent), ElementsAre(7, 7, 8, 8));
  EXPECT_EQ(path.counters().duplicated, 2u);
  EXPECT_EQ(path.counters().forwarded, 4u);
}

TEST(ImpairedPathTest, HeldDatagramGoesAtItsTimeoutWithoutLaterOnes) {
  ImpairmentSpec spec;
  spec.reorder = 1;  // held, and nothing comes after it
  spec.reorder_distance = 2;
  ImpairedPath path(spec, 1, 0);
  std::vector<std::vector<uint8_t>> sent;
  path.Submit(0, Datagram(1));
  path.TakeDue(0, &sent);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(path.NextExpiry(), 100 * kMs);  // the hold's timeout
  path.TakeDue(100 * kMs, &sent);
  EXPECT_THAT(Numbers(sent), ElementsAre(1));
  EXPECT_EQ(path.counters().reorder_expired, 1u);
  EXPECT_EQ(path.counters().reordered, 0u);
}

TEST(ImpairedPathTest, HeldDatagramIsOvertakenByExactlyTheDistance) {
  // Find a seed whose stream holds back datagram 0 and not 1..3, at reorder 0.3.
  ImpairmentSpec spec;
  spec.reorder = 0.3;
  spec.reorder_distance = 2;
  uint64_t seed = 0;
  for (;; ++seed) {
    if (Decide(spec, seed, 0, 0).reorder && !Decide(spec, seed, 0, 1).reorder &&
        !Decide(spec, seed, 0, 2).reorder && !Decide(spec, seed, 0, 3).reorder) {
      break;
    }
  }
  ImpairedPath path(spec, seed, 0);
  std::vector<std::vector<uint8_t>> sent;
  for (uint8_t i = 0; i < 4; ++i) {
    path.Submit(0, Datagram(i));
    path.TakeDue(0, &sent);
  }
  EXPECT_THAT(Numbers(sent), ElementsAre(1, 2, 0, 3));
  EXPECT_EQ(path.counters().reordered, 1u);
  EXPECT_EQ(path.pending(), 0u);
}

TEST(ImpairedPathTest, SameSeedDropsTheSameDatagrams) {
  ImpairmentSpec spec;
  spec.drop = 0.5;
  auto run = [&](uint64_t seed) {
    ImpairedPath path(spec, seed, 0);
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < 200; ++i) {
      path.Submit(i, Datagram(static_cast<uint8_t>(i)));
      path.TakeDue(i, &sent);
    }
    EXPECT_EQ(path.counters().dropped + path.counters().forwarded, 200u);
    return Numbers(sent);
  };
  EXPECT_EQ(run(9), run(9));
  EXPECT_NE(run(9), run(10));
}

TEST(ImpairedPathTest, BlackholeLosesArrivalsAndWhatIsQueued) {
  ImpairmentSpec spec;
  spec.delay = absl::Milliseconds(10);
  ImpairedPath path(spec, 1, 0);
  std::vector<std::vector<uint8_t>> sent;
  path.Submit(0, Datagram(1));  // queued before the cut
  path.set_blackhole(true);
  path.Submit(1, Datagram(2));  // arrives during the cut
  path.TakeDue(20 * kMs, &sent);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(path.counters().blackholed, 2u);
  path.set_blackhole(false);
  path.Submit(30 * kMs, Datagram(3));
  path.TakeDue(40 * kMs, &sent);
  EXPECT_THAT(Numbers(sent), ElementsAre(3));
  const Counters& c = path.counters();
  EXPECT_EQ(c.received, c.forwarded + c.blackholed + c.dropped);
}

}  // namespace
}  // namespace qlaster::udp_impair
