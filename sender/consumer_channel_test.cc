// ConsumerChannel: sequence stamping, lag, and both overflow policies at the ring level.
#include "sender/consumer_channel.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace qlaster::sender {
namespace {

class ConsumerChannelTest : public ::testing::Test {
 protected:
  void Make(OverflowPolicy policy) {
    auto ring = shm::RingProducer::Create({.capacity = 4096});
    ASSERT_TRUE(ring.ok());
    auto doorbell = shm::EventFd::Create();
    ASSERT_TRUE(doorbell.ok());
    auto reader = shm::RingConsumer::Attach(UniqueFd(::dup(ring->fd())));
    ASSERT_TRUE(reader.ok());
    reader_.emplace(*std::move(reader));
    channel_ = std::make_unique<ConsumerChannel>(1, "t", *std::move(ring), *std::move(doorbell), policy);
  }

  // (kind, sequence, gap count) of every record waiting in the ring.
  std::vector<std::tuple<fb::UpdateKind, uint64_t, uint64_t>> Drain() {
    std::vector<std::tuple<fb::UpdateKind, uint64_t, uint64_t>> out;
    shm::RingRecord r;
    while (reader_->TryRead(&r) == shm::ReadResult::kOk) {
      auto v = DecodeFrame(r.payload);
      EXPECT_TRUE(v.ok()) << v.status();
      out.emplace_back(v->kind, v->sequence, v->gap() ? v->gap()->dropped : 0);
    }
    reader_->Release();
    return out;
  }

  std::unique_ptr<ConsumerChannel> channel_;
  std::optional<shm::RingConsumer> reader_;
  const EncodedUpdate slot_ = *EncodedUpdate::Slot({.slot = 1, .parent = 0, .status = SlotStatus::kProcessed});
};

TEST_F(ConsumerChannelTest, StampsConsecutiveSequencesAndCountsLag) {
  Make(OverflowPolicy::kEvict);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(channel_->Deliver(slot_, 0));
  EXPECT_EQ(channel_->LagRecords(), 10u);
  shm::RingRecord r;
  for (int i = 0; i < 4; ++i) ASSERT_EQ(reader_->TryRead(&r), shm::ReadResult::kOk);
  reader_->Release();
  EXPECT_EQ(channel_->LagRecords(), 6u);
  auto rest = Drain();
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(std::get<1>(rest[0]), 5u);
  EXPECT_EQ(channel_->LagRecords(), 0u);
  EXPECT_EQ(channel_->delivered(), 10u);
}

TEST_F(ConsumerChannelTest, FullRingEvictsUnderEvictPolicy) {
  Make(OverflowPolicy::kEvict);
  bool evicted = false;
  int n = 0;
  while (!evicted && n < 1000) {
    evicted = channel_->Deliver(slot_, 0);
    ++n;
  }
  ASSERT_TRUE(evicted);
  EXPECT_TRUE(channel_->evicted());
  EXPECT_EQ(channel_->evict_reason(), fb::EvictReason::Slow);
  EXPECT_GT(channel_->evict_fill(), 4000u);
  EXPECT_FALSE(channel_->Deliver(slot_, 0)) << "an evicted channel takes no more";
  Drain();
  shm::RingRecord r;
  EXPECT_EQ(reader_->TryRead(&r), shm::ReadResult::kClosed) << "the consumer sees the ring closed";
}

TEST_F(ConsumerChannelTest, FullRingDropsAndThenReportsTheGap) {
  Make(OverflowPolicy::kDropAndCount);
  int n = 0;
  while (channel_->dropped() == 0 && n < 1000) {
    EXPECT_FALSE(channel_->Deliver(slot_, 0)) << "drop-and-count never evicts";
    ++n;
  }
  for (int i = 0; i < 4; ++i) channel_->Deliver(slot_, 0);  // 5 dropped in all
  EXPECT_EQ(channel_->dropped(), 5u);
  auto first = Drain();
  EXPECT_EQ(first.size(), static_cast<size_t>(n - 1));
  channel_->Deliver(slot_, 0);
  auto after = Drain();
  ASSERT_EQ(after.size(), 2u);
  // The gap covers (n - 1, n + 4]; its sequence is the last dropped one.
  EXPECT_EQ(std::get<0>(after[0]), fb::UpdateKind::Gap);
  EXPECT_EQ(std::get<1>(after[0]), static_cast<uint64_t>(n + 4));
  EXPECT_EQ(std::get<2>(after[0]), 5u);
  EXPECT_EQ(std::get<1>(after[1]), static_cast<uint64_t>(n + 5));
}

TEST_F(ConsumerChannelTest, FlushGapTellsATrailingDropOnceThereIsRoom) {
  Make(OverflowPolicy::kDropAndCount);
  EXPECT_TRUE(channel_->FlushGap(0)) << "nothing pending";
  int n = 0;
  while (channel_->dropped() == 0 && n < 1000) {
    channel_->Deliver(slot_, 0);
    ++n;
  }
  channel_->Deliver(slot_, 0);  // 2 dropped, the last writes of the burst
  EXPECT_TRUE(channel_->gap_pending());
  EXPECT_FALSE(channel_->FlushGap(0)) << "the ring is still full";
  EXPECT_EQ(Drain().size(), static_cast<size_t>(n - 1));
  EXPECT_TRUE(channel_->FlushGap(0));
  EXPECT_FALSE(channel_->gap_pending());
  auto after = Drain();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(std::get<0>(after[0]), fb::UpdateKind::Gap);
  EXPECT_EQ(std::get<1>(after[0]), static_cast<uint64_t>(n + 1));
  EXPECT_EQ(std::get<2>(after[0]), 2u);
  channel_->Deliver(slot_, 0);
  after = Drain();
  ASSERT_EQ(after.size(), 1u) << "no second gap record";
  EXPECT_EQ(std::get<1>(after[0]), static_cast<uint64_t>(n + 2));
}

TEST_F(ConsumerChannelTest, UpdateLargerThanTheRingIsDroppedNotEvicted) {
  Make(OverflowPolicy::kEvict);
  AccountUpdate big;
  big.data.assign(8192, 1);
  auto encoded = EncodedUpdate::Account(big);
  ASSERT_TRUE(encoded.ok());
  EXPECT_FALSE(channel_->Deliver(*encoded, 0));
  EXPECT_FALSE(channel_->evicted());
  EXPECT_EQ(channel_->dropped(), 1u);
  channel_->Deliver(slot_, 0);
  auto after = Drain();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(std::get<0>(after[0]), fb::UpdateKind::Gap);
}

}  // namespace
}  // namespace qlaster::sender
