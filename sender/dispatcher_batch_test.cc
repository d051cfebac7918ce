// Dispatcher batches: updates reach the ring at once, a sleeping consumer is woken once,
// at the end of the batch; outside a batch every update wakes it.
#include <memory>

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

}  // namespace
}  // namespace qlaster::sender
