// Logging: both formats, levels, escaping, and the rate limiter's counts.
#include "base/log.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace qlaster::log {
namespace {

// Captures what the logger writes through a pipe.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::pipe(fds_), 0); }
  void TearDown() override {
    Configure(Options{});
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void Use(Format format, Level min = Level::kInfo) {
    Configure(Options{.program = "qlaster-test", .min_level = min, .format = format, .fd = fds_[1]});
  }
  std::string Drain() {
    ::close(fds_[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    fds_[1] = ::dup(2);  // TearDown closes something harmless
    return out;
  }
  int fds_[2];
};

TEST_F(LogTest, HumanLineHasTimeLevelProgramAndMessage) {
  Use(Format::kHuman);
  QLASTER_LOG(kWarning, "ingest frame at %d rejected", 7);
  const std::string out = Drain();
  // 2026-12-01T20:13:55.123456Z W qlaster-test: ...
  ASSERT_GE(out.size(), 28u) << out;
  EXPECT_EQ(out[4], '-');
  EXPECT_EQ(out[10], 'T');
  EXPECT_EQ(out[26], 'Z');
  EXPECT_EQ(out.substr(27), " W qlaster-test: ingest frame at 7 rejected\n");
}

TEST_F(LogTest, JsonLineEscapesTheMessage) {
  Use(Format::kJson);
  QLASTER_LOG(kError, "bad \"name\"\tx\n");
  const std::string out = Drain();
  EXPECT_NE(out.find("\"level\":\"error\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"program\":\"qlaster-test\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"message\":\"bad \\\"name\\\"\\tx\"}"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line";
}

TEST_F(LogTest, LevelsBelowTheMinimumAreNotWrittenNorEvaluated) {
  Use(Format::kHuman, Level::kWarning);
  int evaluated = 0;
  auto arg = [&] { return ++evaluated; };
  QLASTER_LOG(kInfo, "hidden %d", arg());
  QLASTER_LOG(kError, "shown %d", arg());
  const std::string out = Drain();
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("shown 1"), std::string::npos) << out;
  EXPECT_EQ(evaluated, 1);
}

TEST_F(LogTest, RateLimitedSiteSaysHowManyItHeldBack) {
  Use(Format::kJson);
  for (int i = 0; i < 1000; ++i) QLASTER_LOG_RATE_LIMITED(kWarning, "flood %d", i);
  const std::string out = Drain();
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_GE(lines, 20u);
  EXPECT_LT(lines, 30u) << "the burst, and whatever refilled meanwhile";
}

TEST(RateLimiterTest, CountsWhatItRefusesAndReportsItOnce) {
  RateLimiter limiter(3, int64_t{1} << 40);  // never refills within the test
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Allow(&suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.Allow(&suppressed));
  RateLimiter refilling(1, 1);  // 1 ns per event: refills at once
  ASSERT_TRUE(refilling.Allow(&suppressed));
}

TEST(ParseTest, LevelsAndFormats) {
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarning);
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLevel("loud").status()));
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseFormat("xml").status()));
}

}  // namespace
}  // namespace qlaster::log
