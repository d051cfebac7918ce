// Dispatcher: table adoption and freeing, acknowledgement sequences, eviction events, and
// the one entry point for encoded frames, gaps told at once.
#include "sender/dispatcher.h"

#include <unistd.h>

#include <memory>
#include <optional>
#include <tuple>

#include "gtest/gtest.h"
#include "sender/registry.h"
#include "shm/spsc_ring.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t b) {
  Pubkey k;
  k.fill(b);
  return k;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto notify = shm::EventFd::Create();
    ASSERT_TRUE(notify.ok());
    notify_ = *std::move(notify);
    dispatcher_ = std::make_unique<Dispatcher>(&notify_);
  }

  // A consumer with a real ring of `ring_bytes`, subscribed to Key(1).
  // `reader`: if given, a reader of that ring.
  uint64_t AddConsumer(uint64_t ring_bytes, OverflowPolicy policy,
                       std::weak_ptr<ConsumerChannel>* watch = nullptr,
                       std::optional<shm::RingConsumer>* reader = nullptr) {
    absl::StatusOr<uint64_t> id = registry_.Reserve();
    EXPECT_TRUE(id.ok());
    auto ring = shm::RingProducer::Create({.capacity = ring_bytes});
    auto bell = shm::EventFd::Create();
    EXPECT_TRUE(ring.ok() && bell.ok());
    if (reader != nullptr) {
      auto r = shm::RingConsumer::Attach(UniqueFd(::dup(ring->fd())));
      EXPECT_TRUE(r.ok()) << r.status();
      reader->emplace(*std::move(r));
    }
    auto channel = std::make_shared<ConsumerChannel>(*id, "t", *std::move(ring), *std::move(bell), policy);
    if (watch != nullptr) *watch = channel;
    registry_.Find(*id)->channel = std::move(channel);
    SubscribeMsg sub;
    sub.pubkeys.push_back(Key(1));
    EXPECT_TRUE(registry_.ApplySubscribe(*id, sub).ok());
    return *id;
  }

  const RoutingTable* Install() {
    auto table = registry_.BuildTable();
    EXPECT_TRUE(table.ok()) << table.status();
    return dispatcher_->Install(*std::move(table));
  }

  void PublishAccount(uint64_t version, size_t size = 16) {
    AccountUpdate a;
    a.pubkey = Key(1);
    a.write_version = version;
    a.data.assign(size, 7);
    ASSERT_TRUE(dispatcher_->PublishAccount(a).ok());
  }

  // (kind, sequence, gap count) of every record waiting in `reader`'s ring.
  static std::vector<std::tuple<fb::UpdateKind, uint64_t, uint64_t>> Drain(shm::RingConsumer& reader) {
    std::vector<std::tuple<fb::UpdateKind, uint64_t, uint64_t>> out;
    shm::RingRecord r;
    while (reader.TryRead(&r) == shm::ReadResult::kOk) {
      auto v = DecodeFrame(r.payload);
      EXPECT_TRUE(v.ok()) << v.status();
      out.emplace_back(v->kind, v->sequence, v->gap() ? v->gap()->dropped : 0);
    }
    reader.Release();
    return out;
  }

  shm::EventFd notify_;
  std::unique_ptr<Dispatcher> dispatcher_;
  Registry registry_{RegistryLimits{}};
};

TEST_F(DispatcherTest, AdoptsOnlyTheNewestInstalledTable) {
  AddConsumer(1 << 16, OverflowPolicy::kDropAndCount);
  EXPECT_EQ(dispatcher_->next_version(), 1u);
  const RoutingTable* first = Install();
  const RoutingTable* second = Install();
  EXPECT_EQ(first->version, 1u);
  EXPECT_EQ(second->version, 2u);
  EXPECT_EQ(dispatcher_->adopted(), nullptr) << "nothing before the dispatch thread looks";
  dispatcher_->Poll();
  EXPECT_EQ(dispatcher_->adopted(), second);
  EXPECT_EQ(dispatcher_->current(), second);
  EXPECT_TRUE(*notify_.WaitFor(absl::ZeroDuration())) << "the control thread is told";
}

TEST_F(DispatcherTest, FreesTablesAndTheirChannelsOnlyOnceANewerOneIsAdopted) {
  std::weak_ptr<ConsumerChannel> watch;
  const uint64_t id = AddConsumer(1 << 16, OverflowPolicy::kDropAndCount, &watch);
  Install();
  dispatcher_->Poll();
  registry_.Remove(id);  // the consumer leaves; only the adopted table holds its channel
  Install();
  dispatcher_->CollectGarbage();
  EXPECT_FALSE(watch.expired()) << "the dispatcher may still write through the old table";
  dispatcher_->Poll();  // adopts the table without it
  dispatcher_->CollectGarbage();
  EXPECT_TRUE(watch.expired()) << "no table names it any more: ring and fds released";
}

TEST_F(DispatcherTest, AdoptionRecordsEachConsumersLastSequence) {
  const uint64_t id = AddConsumer(1 << 16, OverflowPolicy::kDropAndCount);
  Install();
  dispatcher_->Poll();
  PublishAccount(1);
  PublishAccount(2);
  PublishAccount(3);
  const RoutingTable* next = Install();
  dispatcher_->Poll();
  EXPECT_EQ(next->adopted_after_sequence[registry_.Find(id)->index], 3u)
      << "every record after sequence 3 was routed by the new table";
}

TEST_F(DispatcherTest, EvictionsArriveAsEventsWithTheirReason) {
  const uint64_t id = AddConsumer(4096, OverflowPolicy::kEvict);
  Install();
  dispatcher_->Poll();
  EXPECT_FALSE(dispatcher_->NextEvent().has_value());
  for (uint64_t v = 1; v <= 64; ++v) PublishAccount(v, 200);  // nobody reads: the ring fills
  std::optional<EvictionEvent> e = dispatcher_->NextEvent();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->consumer_id, id);
  EXPECT_EQ(e->reason, fb::EvictReason::Slow);
  EXPECT_GT(e->ring_fill, 0u);
  EXPECT_GT(e->last_sequence, 0u);
  EXPECT_FALSE(dispatcher_->NextEvent().has_value()) << "one event per eviction";
  EXPECT_FALSE(dispatcher_->OverflowedEvents());
  EXPECT_EQ(dispatcher_->counters().evicted.load(), 1u);
}

TEST_F(DispatcherTest, PublishesAValidatedFrameAsItIs) {
  AddConsumer(1 << 16, OverflowPolicy::kDropAndCount);
  Install();
  dispatcher_->Poll();
  AccountUpdate a;
  a.pubkey = Key(1);
  a.owner = Key(9);
  a.write_version = 77;
  a.data = {1, 2, 3};
  const std::vector<uint8_t> frame = EncodedUpdate::Account(a)->ToBytes(5, 6);
  RouteKey key;
  absl::StatusOr<EncodedUpdate> update = EncodedUpdate::FromFrame(frame, Lz4Policy::Never(), &key);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(key.pubkey, Key(1));
  EXPECT_EQ(key.owner, Key(9));
  dispatcher_->Publish(*update, key);
  EXPECT_EQ(dispatcher_->counters().published.load(), 1u);
  EXPECT_EQ(dispatcher_->counters().rejected.load(), 0u);
  // Nobody wants Key(2): counted as rejected.
  a.pubkey = Key(2);
  const std::vector<uint8_t> other = EncodedUpdate::Account(a)->ToBytes(1, 1);
  update = EncodedUpdate::FromFrame(other, Lz4Policy::Never(), &key);
  ASSERT_TRUE(update.ok());
  dispatcher_->Publish(*update, key);
  EXPECT_EQ(dispatcher_->counters().rejected.load(), 1u);
}

TEST_F(DispatcherTest, APublishedGapIsToldAtOnceNotWithTheNextUpdate) {
  std::optional<shm::RingConsumer> reader;
  AddConsumer(1 << 16, OverflowPolicy::kDropAndCount, nullptr, &reader);
  Install();
  dispatcher_->Poll();
  PublishAccount(1);
  dispatcher_->PublishGap(5);  // a relay's GAP: nothing follows it for now
  auto records = Drain(*reader);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(std::get<0>(records[1]), fb::UpdateKind::Gap);
  EXPECT_EQ(std::get<1>(records[1]), 6u) << "the gap's sequence is the last one it covers";
  EXPECT_EQ(std::get<2>(records[1]), 5u);
  PublishAccount(2);
  records = Drain(*reader);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(std::get<1>(records[0]), 7u);
}

TEST_F(DispatcherTest, DropsAtTheEndOfABurstAreToldOnceTheRingHasRoom) {
  std::optional<shm::RingConsumer> reader;
  std::weak_ptr<ConsumerChannel> watch;
  AddConsumer(4096, OverflowPolicy::kDropAndCount, &watch, &reader);
  Install();
  dispatcher_->Poll();
  const std::shared_ptr<ConsumerChannel> channel = watch.lock();
  ASSERT_NE(channel, nullptr);
  uint64_t published = 0;
  while (channel->dropped() < 3 && published < 1000) PublishAccount(++published, 200);
  ASSERT_EQ(channel->dropped(), 3u);
  auto records = Drain(*reader);  // what fit; the burst is over and nothing else comes
  ASSERT_EQ(records.size(), published - 3);
  dispatcher_->Poll();  // the feeding thread's idle call
  records = Drain(*reader);
  ASSERT_EQ(records.size(), 1u) << "the consumer is told without waiting for an update";
  EXPECT_EQ(std::get<0>(records[0]), fb::UpdateKind::Gap);
  EXPECT_EQ(std::get<1>(records[0]), published);
  EXPECT_EQ(std::get<2>(records[0]), 3u);
  dispatcher_->Poll();
  EXPECT_TRUE(Drain(*reader).empty()) << "told once";
}

TEST_F(DispatcherTest, RefusesAnUnknownSlotStatus) {
  const SlotUpdate bad{.slot = 1, .parent = 0, .status = static_cast<SlotStatus>(9)};
  EXPECT_TRUE(absl::IsInvalidArgument(dispatcher_->PublishSlot(bad)));
}

}  // namespace
}  // namespace qlaster::sender
