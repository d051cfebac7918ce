// Dispatcher batches: updates reach the ring at once, a sleeping consumer is woken once,
// at the end of the batch; outside a batch every update wakes it.
#include <bit>
#include <memory>

#include "base/clock.h"
#include "gtest/gtest.h"
#include "sender/testing/one_consumer_dispatcher.h"

namespace qlaster::sender {
namespace {

class DispatcherBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = testing::OneConsumerDispatcher::Create(1 << 20);
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    SubscribeMsg sub;
    sub.pubkeys.push_back(key_);
    ASSERT_TRUE(h_->Subscribe(sub).ok());
  }

  void Publish(uint64_t version) {
    AccountUpdate a;
    a.pubkey = key_;
    a.write_version = version;
    ASSERT_TRUE(h_->dispatcher().PublishAccount(a).ok());
  }

  int Readable() {
    int n = 0;
    shm::RingRecord r;
    while (h_->reader().TryRead(&r) == shm::ReadResult::kOk) ++n;
    h_->reader().Release();
    return n;
  }

  bool Rung() { return *h_->doorbell().WaitFor(absl::ZeroDuration()); }

  std::unique_ptr<testing::OneConsumerDispatcher> h_;
  Pubkey key_ = [] {
    Pubkey k;
    k.fill(0x42);
    return k;
  }();
};

TEST_F(DispatcherBatchTest, WithoutABatchEachUpdateWakesASleeper) {
  h_->MarkConsumerSleeping();
  Publish(1);
  EXPECT_TRUE(Rung());
  EXPECT_EQ(Readable(), 1);
}

TEST_F(DispatcherBatchTest, ABatchPublishesAtOnceAndWakesOnceAtTheEnd) {
  h_->MarkConsumerSleeping();
  {
    Dispatcher::Batch batch(h_->dispatcher());
    Publish(1);
    Publish(2);
    EXPECT_EQ(Readable(), 2) << "a spinning consumer sees each update as it is published";
    Publish(3);
    EXPECT_FALSE(Rung()) << "no wake-up inside the batch";
  }
  EXPECT_TRUE(Rung()) << "the end of the batch wakes the sleeper";
  EXPECT_EQ(Readable(), 1);
}

TEST_F(DispatcherBatchTest, NestedBatchesWakeWhenTheOutermostEnds) {
  h_->MarkConsumerSleeping();
  h_->dispatcher().BeginBatch();
  h_->dispatcher().BeginBatch();
  Publish(1);
  h_->dispatcher().EndBatch();
  EXPECT_FALSE(Rung());
  h_->dispatcher().EndBatch();
  EXPECT_TRUE(Rung());
  h_->dispatcher().EndBatch();  // unbalanced: ignored
  EXPECT_FALSE(Rung());
}

TEST_F(DispatcherBatchTest, AdoptingATableWakesWhatTheOldTableOwed) {
  h_->MarkConsumerSleeping();
  Dispatcher::Batch batch(h_->dispatcher());
  Publish(1);
  SubscribeMsg more;
  Pubkey other;
  other.fill(0x43);
  more.pubkeys.push_back(other);
  ASSERT_TRUE(h_->Subscribe(more).ok());  // installs and adopts a new table mid-batch
  EXPECT_TRUE(Rung()) << "wake-ups owed by channels of the old table are made before it goes";
}

// As a consumer about to block would: says it sleeps, then an update is published to it.
void PublishToSleeper(testing::OneConsumerDispatcher& h, const Pubkey& key, uint64_t version) {
  h.MarkConsumerSleeping();
  AccountUpdate a;
  a.pubkey = key;
  a.write_version = version;
  ASSERT_TRUE(h.dispatcher().PublishAccount(a).ok());
}

// A consumer that keeps its sleeping flag set (hostile, or broken) costs the dispatcher
// at most one eventfd write per --min_wake_interval, however many updates it is sent;
// the wake held back is not lost: a Poll after the interval delivers it.
class DispatcherWakeLimitTest : public ::testing::Test {
 protected:
  // One consumer subscribed to key_, woken at most once per `interval_ns`.
  void Make(int64_t interval_ns) {
    auto made = testing::OneConsumerDispatcher::Create(64 << 20, OverflowPolicy::kDropAndCount,
                                                       interval_ns);
    ASSERT_TRUE(made.ok()) << made.status();
    h = *std::move(made);
    key.fill(0x42);
    SubscribeMsg sub;
    sub.pubkeys.push_back(key);
    ASSERT_TRUE(h->Subscribe(sub).ok());
  }

  std::unique_ptr<testing::OneConsumerDispatcher> h;
  Pubkey key;
};

TEST_F(DispatcherWakeLimitTest, HostileSleeperIsWokenAtMostOncePerInterval) {
  constexpr int64_t kInterval = 1'000'000'000;  // 1 s
  Make(kInterval);
  ConsumerChannel& channel = h->channel();

  const int64_t start = MonotonicNs();
  constexpr uint64_t kUpdates = 10'000;
  for (uint64_t v = 1; v <= kUpdates; ++v) PublishToSleeper(*h, key, v);
  const int64_t elapsed = MonotonicNs() - start;
  EXPECT_GE(channel.wakes(), 1u);
  EXPECT_LE(channel.wakes(), static_cast<uint64_t>(elapsed / kInterval + 1));
  EXPECT_GE(channel.wakes() + channel.wakes_deferred(), kUpdates);

  // Two more updates in a row: the second's wake-up is held back (the first may have
  // rung, if an interval ended just then); the dispatcher's idle polls deliver it.
  PublishToSleeper(*h, key, kUpdates + 1);
  PublishToSleeper(*h, key, kUpdates + 2);
  ASSERT_TRUE(*h->doorbell().WaitFor(absl::ZeroDuration())) << "the first wake-up rang";
  const uint64_t wakes = channel.wakes();
  const int64_t deadline = MonotonicNs() + 30'000'000'000;
  while (channel.wakes() == wakes && MonotonicNs() < deadline) h->dispatcher().Poll();
  EXPECT_EQ(channel.wakes(), wakes + 1);
  EXPECT_TRUE(*h->doorbell().WaitFor(absl::ZeroDuration())) << "the held-back wake-up rang";
  EXPECT_GE(MonotonicNs() - start, kInterval);
}

// Reads one record and releases it, keeping the sleeping flag set.
bool ReadOne(testing::OneConsumerDispatcher& h) {
  shm::RingRecord r;
  const bool read = h.reader().TryRead(&r) == shm::ReadResult::kOk;
  h.reader().Release();
  return read;
}

TEST_F(DispatcherWakeLimitTest, SleeperReadingOneRecordPerWakeIsHeldToTheInterval) {
  // Reading something since the last wake-up is not enough to be woken at once: this
  // consumer reads one record per round while two arrive, so it is behind what was
  // published when it was last woken, and is held to the interval, until it has read up
  // to there. It gets there ever later (rounds 0, 1, 2, 4, 8, ...): within one interval
  // it is woken about log2(rounds) times, not once per round.
  constexpr int64_t kInterval = 1'000'000'000;  // 1 s
  Make(kInterval);
  ConsumerChannel& channel = h->channel();
  const int64_t start = MonotonicNs();
  constexpr uint64_t kRounds = 5'000;
  for (uint64_t round = 0; round < kRounds; ++round) {
    PublishToSleeper(*h, key, 2 * round + 1);
    PublishToSleeper(*h, key, 2 * round + 2);
    ASSERT_TRUE(ReadOne(*h));
  }
  const int64_t elapsed = MonotonicNs() - start;
  const uint64_t intervals = static_cast<uint64_t>(elapsed / kInterval) + 1;
  EXPECT_GE(channel.wakes(), 1u);
  EXPECT_LE(channel.wakes(), intervals * (std::bit_width(kRounds) + 1));  // 14 per interval
  EXPECT_GE(channel.wakes() + channel.wakes_deferred(), 2 * kRounds);
}

TEST_F(DispatcherWakeLimitTest, SleeperThatReadsAllItWasWokenForIsWokenAtOnceEveryTime) {
  Make(1'000'000'000);  // 1 s: the loop below is far shorter
  for (uint64_t v = 1; v <= 100; ++v) {
    PublishToSleeper(*h, key, v);
    ASSERT_TRUE(*h->doorbell().WaitFor(absl::ZeroDuration())) << "update " << v;
    ASSERT_TRUE(ReadOne(*h));
    ASSERT_FALSE(ReadOne(*h));
  }
  EXPECT_EQ(h->channel().wakes(), 100u);
  EXPECT_EQ(h->channel().wakes_deferred(), 0u);
}

TEST_F(DispatcherWakeLimitTest, WithoutALimitEverySleepIsWoken) {
  Make(0);
  for (uint64_t v = 1; v <= 100; ++v) PublishToSleeper(*h, key, v);
  EXPECT_EQ(h->channel().wakes(), 100u);
  EXPECT_EQ(h->channel().wakes_deferred(), 0u);
}

}  // namespace
}  // namespace qlaster::sender
