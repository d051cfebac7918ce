// SourceRunner: batches around each source's work, polling the dispatcher, the idle plan
// for every kind of source, endings and failures.
#include "sender/source_runner.h"

#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "sender/testing/one_consumer_dispatcher.h"
#include "shm/event_fd.h"

namespace qlaster::sender {
namespace {

// A source driven by a function of (call number, now).
class ScriptedSource : public Source {
 public:
  using Step = std::function<absl::StatusOr<SourceWork>(Dispatcher&, int call, int64_t now_ns)>;
  ScriptedSource(std::string name, Step step) : name_(std::move(name)), step_(std::move(step)) {}
  std::string name() const override { return name_; }
  absl::StatusOr<SourceWork> DoWork(Dispatcher& d, int64_t now_ns) override {
    return step_(d, calls_++, now_ns);
  }
  int calls() const { return calls_; }

 private:
  std::string name_;
  Step step_;
  int calls_ = 0;
};

Pubkey Key(uint8_t b) {
  Pubkey k;
  k.fill(b);
  return k;
}

class SourceRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = testing::OneConsumerDispatcher::Create(1 << 20);
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    SubscribeMsg sub;
    sub.pubkeys.push_back(Key(1));
    ASSERT_TRUE(h_->Subscribe(sub).ok());
  }

  static absl::Status PublishOne(Dispatcher& d, uint64_t version) {
    AccountUpdate a;
    a.pubkey = Key(1);
    a.write_version = version;
    return d.PublishAccount(a);
  }

  int Readable() {
    int n = 0;
    shm::RingRecord r;
    while (h_->reader().TryRead(&r) == shm::ReadResult::kOk) ++n;
    h_->reader().Release();
    return n;
  }

  // How many times the doorbell was rung since the last look (an eventfd counts them).
  uint64_t Rings() {
    uint64_t n = 0;
    return ::read(h_->doorbell().fd(), &n, sizeof(n)) == sizeof(n) ? n : 0;
  }

  std::unique_ptr<testing::OneConsumerDispatcher> h_;
};

TEST_F(SourceRunnerTest, WakesASleeperOncePerCycleWhateverTheSourcesPublished) {
  ScriptedSource three("three", [](Dispatcher& d, int call, int64_t) -> absl::StatusOr<SourceWork> {
    for (int i = 0; i < 3; ++i) {
      if (absl::Status s = PublishOne(d, call * 3 + i); !s.ok()) return s;
    }
    return SourceWork{.done = 3, .next_due_ns = SourceWork::kWhenever};
  });
  ScriptedSource two("two", [](Dispatcher& d, int call, int64_t) -> absl::StatusOr<SourceWork> {
    for (int i = 0; i < 2; ++i) {
      if (absl::Status s = PublishOne(d, 100 + call * 2 + i); !s.ok()) return s;
    }
    return SourceWork{.done = 2, .next_due_ns = SourceWork::kWhenever};
  });
  SourceRunner runner(h_->dispatcher(), {&three, &two}, {});
  h_->MarkConsumerSleeping();
  absl::StatusOr<CycleResult> cycle = runner.Cycle(MonotonicNs());
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  EXPECT_EQ(cycle->done, 5);
  EXPECT_TRUE(cycle->awaiting_input);
  EXPECT_EQ(Readable(), 5) << "every update reached the ring";
  EXPECT_EQ(Rings(), 1u) << "one wake-up for the whole cycle";
}

TEST_F(SourceRunnerTest, RecordsEachSourcesHighestSlotAndLastUpdate) {
  // "ahead" publishes slot 100 + call (wanted or not), "behind" slot 90 once; "idle" never.
  auto at_slot = [](uint64_t slot, uint8_t key) {
    AccountUpdate a;
    a.pubkey = Key(key);
    a.slot = slot;
    return a;
  };
  using Work = absl::StatusOr<SourceWork>;
  ScriptedSource ahead("ahead", [&](Dispatcher& d, int call, int64_t) -> Work {
    if (absl::Status s = d.PublishAccount(at_slot(100 + call, 1)); !s.ok()) return s;
    if (absl::Status s = d.PublishAccount(at_slot(100 + call, 9)); !s.ok()) return s;  // unwanted
    return SourceWork{.done = 2, .next_due_ns = SourceWork::kWhenever};
  });
  ScriptedSource behind("behind", [&](Dispatcher& d, int call, int64_t) -> Work {
    if (call > 0) return SourceWork{.done = 0, .next_due_ns = SourceWork::kWhenever};
    if (absl::Status s = d.PublishAccount(at_slot(90, 9)); !s.ok()) return s;
    return SourceWork{.done = 1, .next_due_ns = SourceWork::kWhenever};
  });
  ScriptedSource idle("idle", [](Dispatcher&, int, int64_t) -> Work {
    return SourceWork{.done = 0, .next_due_ns = SourceWork::kWhenever};
  });
  SourceRunner runner(h_->dispatcher(), {&ahead, &behind, &idle}, {});
  ASSERT_TRUE(runner.Cycle(1'000).ok());
  ASSERT_TRUE(runner.Cycle(2'000).ok());
  EXPECT_EQ(ahead.progress().highest_slot.load(), 101u);
  EXPECT_EQ(ahead.progress().last_update_ns.load(), 2'000);
  EXPECT_EQ(behind.progress().highest_slot.load(), 90u) << "not the slot another source reached";
  EXPECT_EQ(behind.progress().last_update_ns.load(), 1'000) << "it published nothing since";
  EXPECT_EQ(idle.progress().highest_slot.load(), 0u);
  EXPECT_EQ(idle.progress().last_update_ns.load(), 0);
}

TEST_F(SourceRunnerTest, AdoptsNewRoutingTablesEveryCycleEvenWithNothingToPublish) {
  ScriptedSource idle("idle", [](Dispatcher&, int, int64_t) -> absl::StatusOr<SourceWork> {
    return SourceWork{.done = 0, .next_due_ns = SourceWork::kWhenever};
  });
  SourceRunner runner(h_->dispatcher(), {&idle}, {});
  SubscribeMsg sub;
  sub.pubkeys.push_back(Key(2));
  ASSERT_TRUE(h_->Subscribe(sub, /*adopt=*/false).ok());
  const RoutingTable* before = h_->dispatcher().adopted();
  ASSERT_TRUE(runner.Cycle(MonotonicNs()).ok());
  EXPECT_NE(h_->dispatcher().adopted(), before);
  EXPECT_EQ(h_->dispatcher().adopted()->levels[0].index->key_count(), 2u);
}

TEST(PlanIdleTest, AwaitingInputFollowsTheIdleStrategy) {
  RunnerOptions o;
  const CycleResult input{.done = 0, .next_due_ns = SourceWork::kWhenever, .awaiting_input = true};
  o.idle = {.kind = IdleKind::kSpin};
  EXPECT_EQ(PlanIdle(o, 1000, input).kind, IdlePlan::Kind::kPause);
  o.idle = {.kind = IdleKind::kYield};
  EXPECT_EQ(PlanIdle(o, 1000, input).kind, IdlePlan::Kind::kYield);
  o.idle = {.kind = IdleKind::kSleep, .sleep = absl::Microseconds(100)};
  EXPECT_EQ(PlanIdle(o, 1000, input), (IdlePlan{IdlePlan::Kind::kSleepUntil, 101'000}));
  // A pause shorter than the spin-ahead is spun, not slept.
  o.idle = {.kind = IdleKind::kSleep, .sleep = absl::Microseconds(5)};
  EXPECT_EQ(PlanIdle(o, 1000, input), (IdlePlan{IdlePlan::Kind::kSpinUntil, 6'000}));
}

TEST(PlanIdleTest, APacedSourceIsWaitedForUntilDueButNeverPastThePollInterval) {
  RunnerOptions o;  // poll every 1 ms, spin the last 20 us
  const int64_t now = 5'000'000;
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now + 300'000}),
            (IdlePlan{IdlePlan::Kind::kSleepUntil, now + 300'000}));
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now + 3'000'000}),
            (IdlePlan{IdlePlan::Kind::kSleepUntil, now + 1'000'000}))
      << "the dispatcher is polled at least every poll_interval";
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now + 15'000}),
            (IdlePlan{IdlePlan::Kind::kSpinUntil, now + 15'000}));
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now - 7}),
            (IdlePlan{IdlePlan::Kind::kSpinUntil, now - 7}))
      << "already due: no wait at all";
}

TEST(PlanIdleTest, InputAndAPacedSourceTogetherWaitForWhicheverComesFirst) {
  RunnerOptions o;
  o.idle = {.kind = IdleKind::kSleep, .sleep = absl::Microseconds(100)};
  const int64_t now = 1'000'000;
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now + 5'000'000, .awaiting_input = true}),
            (IdlePlan{IdlePlan::Kind::kSleepUntil, now + 100'000}));
  EXPECT_EQ(PlanIdle(o, now, {.next_due_ns = now + 50'000, .awaiting_input = true}),
            (IdlePlan{IdlePlan::Kind::kSleepUntil, now + 50'000}));
  // Only sources that ended: the poll interval alone.
  EXPECT_EQ(PlanIdle(o, now, {}), (IdlePlan{IdlePlan::Kind::kSleepUntil, now + 1'000'000}));
}

TEST_F(SourceRunnerTest, SleepsNoShorterThanPlanned) {
  // A lower bound only: an absolute sleep cannot end early.
  SourceRunner runner(h_->dispatcher(), {}, {});
  const int64_t start = MonotonicNs();
  runner.Idle(start, {.next_due_ns = start + 2'000'000});
  EXPECT_GE(MonotonicNs() - start, 1'000'000) << "bounded by the 1 ms poll interval";
}

TEST_F(SourceRunnerTest, ReturnsOnceEverySourceHasEndedWithoutServeAfterEnd) {
  auto ends_after = [](int n) {
    return [n](Dispatcher&, int call, int64_t now) -> absl::StatusOr<SourceWork> {
      if (call >= n) return SourceWork{.done = 0, .next_due_ns = SourceWork::kEnded};
      return SourceWork{.done = 0, .next_due_ns = now + 10'000};
    };
  };
  ScriptedSource a("a", ends_after(2));
  ScriptedSource b("b", ends_after(5));
  RunnerOptions o;
  o.serve_after_end = false;
  SourceRunner runner(h_->dispatcher(), {&a, &b}, o);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(runner.Run(stop).ok());
  EXPECT_TRUE(runner.ended());
  EXPECT_EQ(a.calls(), 3) << "an ended source is not called again";
  EXPECT_EQ(b.calls(), 6);
}

TEST_F(SourceRunnerTest, ServesAfterTheEndUntilStopped) {
  ScriptedSource once("once", [](Dispatcher&, int, int64_t) -> absl::StatusOr<SourceWork> {
    return SourceWork{.done = 0, .next_due_ns = SourceWork::kEnded};
  });
  SourceRunner runner(h_->dispatcher(), {&once}, {});  // serve_after_end by default
  std::atomic<bool> stop{false};
  absl::Status status = absl::UnknownError("not run");
  std::thread t([&] { status = runner.Run(stop); });
  // Still polling: a subscription change after the end takes effect.
  SubscribeMsg sub;
  sub.pubkeys.push_back(Key(3));
  ASSERT_TRUE(h_->Subscribe(sub, /*adopt=*/false).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (h_->dispatcher().adopted()->levels[0].index->key_count() != 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a condition with a deadline
  }
  EXPECT_EQ(h_->dispatcher().adopted()->levels[0].index->key_count(), 2u);
  EXPECT_TRUE(runner.ended());
  stop = true;
  t.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(once.calls(), 1);
}

TEST_F(SourceRunnerTest, AFailingSourceStopsTheRunnerWithItsErrorAndName) {
  ScriptedSource bad("replay:x.qlrec", [](Dispatcher&, int call, int64_t) -> absl::StatusOr<SourceWork> {
    if (call == 3) return absl::DataLossError("record at offset 7 does not decode");
    return SourceWork{.done = 1, .next_due_ns = SourceWork::kWhenever};
  });
  SourceRunner runner(h_->dispatcher(), {&bad}, {});
  std::atomic<bool> stop{false};
  const absl::Status s = runner.Run(stop);
  EXPECT_EQ(s, absl::DataLossError("replay:x.qlrec: record at offset 7 does not decode"));
}

TEST_F(SourceRunnerTest, AsksAgainAtOnceWhileASourceHasWork) {
  // A source with a backlog publishes a batch per call; the runner does not wait between.
  int waits_seen = -1;
  SourceRunner* runner_ptr = nullptr;
  ScriptedSource backlog("backlog", [&](Dispatcher& d, int call, int64_t) -> absl::StatusOr<SourceWork> {
    if (call == 4) {
      waits_seen = static_cast<int>(runner_ptr->counters().idle_waits.load());
      return SourceWork{.done = 0, .next_due_ns = SourceWork::kEnded};
    }
    if (absl::Status s = PublishOne(d, call); !s.ok()) return s;
    return SourceWork{.done = 1, .next_due_ns = SourceWork::kWhenever};
  });
  RunnerOptions o;
  o.serve_after_end = false;
  SourceRunner runner(h_->dispatcher(), {&backlog}, o);
  runner_ptr = &runner;
  std::atomic<bool> stop{false};
  ASSERT_TRUE(runner.Run(stop).ok());
  EXPECT_EQ(waits_seen, 0);
  EXPECT_EQ(Readable(), 4);
}

TEST_F(SourceRunnerTest, SleepsOnADoorbellUntilItRings) {
  // An idle pause and a poll interval of a minute: only the doorbell can bring the second
  // call within the deadline.
  absl::StatusOr<shm::EventFd> bell = shm::EventFd::Create();
  ASSERT_TRUE(bell.ok()) << bell.status();
  std::atomic<int> calls{0};
  ScriptedSource source("bell", [&](Dispatcher& d, int call, int64_t) -> absl::StatusOr<SourceWork> {
    calls.store(call + 1);
    if (call == 0) {
      return SourceWork{.done = 0, .next_due_ns = SourceWork::kWhenever, .doorbell_fd = bell->fd()};
    }
    if (absl::Status st = PublishOne(d, 1); !st.ok()) return st;
    return SourceWork{.done = 1, .next_due_ns = SourceWork::kEnded};
  });
  RunnerOptions o;
  o.idle = {.kind = IdleKind::kSleep, .sleep = absl::Minutes(1)};
  o.poll_interval = absl::Minutes(1);
  o.serve_after_end = false;
  SourceRunner runner(h_->dispatcher(), {&source}, o);
  std::atomic<bool> stop{false};
  absl::Status result;
  std::thread thread([&] { result = runner.Run(stop); });
  const auto wait_for = [&](int n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (calls.load() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    return calls.load();
  };
  EXPECT_EQ(wait_for(1), 1);
  bell->Notify();
  EXPECT_EQ(wait_for(2), 2);
  thread.join();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(Readable(), 1);
}

}  // namespace
}  // namespace qlaster::sender
