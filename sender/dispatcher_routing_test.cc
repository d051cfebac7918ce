// Dispatcher routing by named filters, through real rings: the filter bits each copy
// carries, data slices, transaction filters over static and loaded keys, derived
// transaction statuses, block meta and entries, slot filter bits, commitment levels (the
// latest write per account per slot, after the slot reaches the level, nothing of dead
// slots), replay from a slot (stored then live, no gap, no duplicate, paced by the ring),
// and the exact gaps when the update log evicts what a consumer still waited for.
#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "sender/dispatcher.h"
#include "sender/registry.h"
#include "shm/spsc_ring.h"
#include "wire/solana/programs.h"
#include "wire/solana/transaction_generator.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t n) {
  Pubkey k{};
  k[0] = n;
  k[31] = 0x3c;
  return k;
}

// What a consumer found in its ring.
struct Seen {
  fb::UpdateKind kind;
  uint64_t sequence;
  uint16_t filters;
  uint64_t slot = 0;
  Pubkey pubkey{};
  uint64_t write_version = 0;
  std::vector<uint8_t> data = {};
  uint32_t account_data_len = 0;
  bool sliced = false;
  SlotStatus status = SlotStatus::kProcessed;
  uint64_t dropped = 0;
  std::vector<uint8_t> error = {};
  Signature signature{};
};

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(DispatcherOptions options) {
    auto notify = shm::EventFd::Create();
    ASSERT_TRUE(notify.ok());
    notify_ = *std::move(notify);
    dispatcher_ = std::make_unique<Dispatcher>(&notify_, options);
  }

  // A consumer with a real ring; returns its id.
  uint64_t Consumer(uint64_t ring_bytes = 1 << 20,
                    OverflowPolicy policy = OverflowPolicy::kDropAndCount) {
    const uint64_t id = *registry_.Reserve();
    auto ring = shm::RingProducer::Create({.capacity = ring_bytes});
    auto bell = shm::EventFd::Create();
    EXPECT_TRUE(ring.ok() && bell.ok());
    auto reader = shm::RingConsumer::Attach(UniqueFd(::dup(ring->fd())));
    EXPECT_TRUE(reader.ok());
    readers_.emplace(id, std::make_unique<shm::RingConsumer>(*std::move(reader)));
    registry_.Find(id)->channel =
        std::make_shared<ConsumerChannel>(id, "t", *std::move(ring), *std::move(bell), policy);
    return id;
  }

  void Subscribe(uint64_t id, const SubscribeMsg& msg) {
    ASSERT_TRUE(registry_.ApplySubscribe(id, msg).ok());
    auto table = registry_.BuildTable();
    ASSERT_TRUE(table.ok()) << table.status();
    dispatcher_->Install(*std::move(table));
    dispatcher_->Poll();
  }

  // Everything in `id`'s ring since the last call.
  std::vector<Seen> Read(uint64_t id) {
    std::vector<Seen> out;
    shm::RingConsumer& reader = *readers_.at(id);
    shm::RingRecord r;
    while (reader.TryRead(&r) == shm::ReadResult::kOk) {
      absl::StatusOr<FrameView> v = DecodeFrame(r.payload);
      EXPECT_TRUE(v.ok()) << v.status();
      if (!v.ok()) continue;
      Seen s{.kind = v->kind, .sequence = v->sequence, .filters = v->filters};
      if (const AccountView* a = v->account()) {
        s.slot = a->slot;
        s.pubkey = a->pubkey;
        s.write_version = a->write_version;
        s.data = *a->Data();
        s.account_data_len = a->account_data_len;
        s.sliced = a->is_sliced;
      } else if (const SlotView* sl = v->slot()) {
        s.slot = sl->slot;
        s.status = sl->status;
      } else if (const GapView* g = v->gap()) {
        s.dropped = g->dropped;
      } else if (const TransactionView* t = v->transaction()) {
        s.slot = t->slot;
        s.signature = t->signature;
      } else if (const TransactionStatusView* ts = v->transaction_status()) {
        s.slot = ts->slot;
        s.signature = ts->signature;
        s.error.assign(ts->error.begin(), ts->error.end());
      } else if (const BlockMetaView* b = v->block_meta()) {
        s.slot = b->slot;
      } else if (const EntryView* e = v->entry()) {
        s.slot = e->slot;
      }
      out.push_back(std::move(s));
      reader.Release();
    }
    return out;
  }

  void Account(uint64_t slot, uint8_t key, uint64_t write_version, uint8_t owner = 200,
               size_t size = 64) {
    AccountUpdate a;
    a.pubkey = Key(key);
    a.owner = Key(owner);
    a.slot = slot;
    a.write_version = write_version;
    a.lamports = write_version;
    a.data.resize(size);
    for (size_t i = 0; i < size; ++i) a.data[i] = static_cast<uint8_t>(i + write_version);
    ASSERT_TRUE(dispatcher_->PublishAccount(a).ok());
  }
  void Status(uint64_t slot, SlotStatus status, uint64_t parent = 0) {
    ASSERT_TRUE(dispatcher_->PublishSlot({.slot = slot, .parent = parent, .status = status}).ok());
  }

  static std::vector<uint64_t> Versions(const std::vector<Seen>& seen) {
    std::vector<uint64_t> out;
    for (const Seen& s : seen) {
      if (s.kind == fb::UpdateKind::Account) out.push_back(s.write_version);
    }
    return out;
  }
  // Sequence numbers 1..n, each once, gaps covering what they say.
  static void ExpectContiguous(const std::vector<Seen>& seen) {
    uint64_t next = 1;
    for (const Seen& s : seen) {
      if (s.kind == fb::UpdateKind::Gap) {
        EXPECT_EQ(s.sequence, next + s.dropped - 1) << "a gap names the last sequence it covers";
        next += s.dropped;
      } else {
        EXPECT_EQ(s.sequence, next);
        ++next;
      }
    }
  }

  shm::EventFd notify_;
  std::unique_ptr<Dispatcher> dispatcher_;
  Registry registry_{RegistryLimits{}};
  std::map<uint64_t, std::unique_ptr<shm::RingConsumer>> readers_;
};

SubscribeMsg Accounts(std::vector<NamedAccountFilter> filters) {
  SubscribeMsg m;
  m.accounts = std::move(filters);
  return m;
}

TEST_F(RoutingTest, EachCopyCarriesTheBitsOfItsConsumersFilters) {
  const uint64_t a = Consumer();
  const uint64_t b = Consumer();
  Subscribe(a, Accounts({{.name = "by_key", .filter = {.pubkeys = {Key(1)}}},
                         {.name = "by_owner", .filter = {.owners = {Key(200)}}}}));
  SubscribeMsg legacy;
  legacy.pubkeys = {Key(1)};
  legacy.accounts = {{.name = "rich", .filter = {.owners = {Key(200)}, .lamports = {{LamportsOp::kGt, 5}}}}};
  Subscribe(b, legacy);

  Account(1, 1, 9);  // K1, owner 200, lamports 9
  Account(1, 2, 3);  // K2, owner 200, lamports 3
  const std::vector<Seen> at_a = Read(a);
  ASSERT_EQ(at_a.size(), 2u);
  EXPECT_EQ(at_a[0].filters, 3) << "by_key | by_owner";
  EXPECT_EQ(at_a[1].filters, 2) << "by_owner";
  const std::vector<Seen> at_b = Read(b);
  ASSERT_EQ(at_b.size(), 1u) << "the unnamed key and the named filter together: one copy";
  EXPECT_EQ(at_b[0].pubkey, Key(1));
  EXPECT_EQ(at_b[0].filters, 1) << "rich matched; the unnamed key has no bit";
}

TEST_F(RoutingTest, AnAccountNobodyWantsIsRejectedWithNamedFiltersPresent) {
  const uint64_t a = Consumer();
  Subscribe(a, Accounts({{.name = "mint", .filter = {.owners = {solana::kTokenProgram},
                                                    .memcmp = {{.offset = 0, .bytes = std::vector<uint8_t>(32, 4)}}}}}));
  const uint64_t rejected = dispatcher_->counters().rejected.load();
  Account(1, 1, 1, /*owner=*/7);
  EXPECT_EQ(dispatcher_->counters().rejected.load(), rejected + 1);
  EXPECT_TRUE(Read(a).empty());
}

TEST_F(RoutingTest, DataSlicesCarryOnlyTheirBytes) {
  const uint64_t sliced = Consumer();
  const uint64_t whole = Consumer();
  SubscribeMsg s;
  s.pubkeys = {Key(1)};
  s.options = SubscribeOptionsMsg{.data_slices = {{.offset = 2, .length = 3}, {.offset = 60, .length = 10}}};
  Subscribe(sliced, s);
  SubscribeMsg w;
  w.pubkeys = {Key(1)};
  Subscribe(whole, w);

  Account(1, 1, 0);  // data[i] = i, 64 bytes
  const std::vector<Seen> got = Read(sliced);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].sliced);
  EXPECT_EQ(got[0].account_data_len, 64u);
  EXPECT_EQ(got[0].data, (std::vector<uint8_t>{2, 3, 4, 60, 61, 62, 63})) << "cut at the end";
  const std::vector<Seen> full = Read(whole);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_FALSE(full[0].sliced);
  EXPECT_EQ(full[0].data.size(), 64u);
}

TEST_F(RoutingTest, SlicesOfCompressedDataComeFromTheDecompressedBytes) {
  Start({.lz4 = {.threshold = 1024}});
  const uint64_t sliced = Consumer();
  SubscribeMsg s;
  s.accounts = {{.name = "big", .filter = {.pubkeys = {Key(1)}, .memcmp = {{.offset = 4096, .bytes = {0}}}}}};
  s.options = SubscribeOptionsMsg{.data_slices = {{.offset = 4096, .length = 4}}};
  Subscribe(sliced, s);
  AccountUpdate a;
  a.pubkey = Key(1);
  a.data.assign(8192, 0);  // compresses well
  a.data[4097] = 9;
  ASSERT_TRUE(dispatcher_->PublishAccount(a).ok());
  const std::vector<Seen> got = Read(sliced);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, (std::vector<uint8_t>{0, 9, 0, 0}));
  EXPECT_EQ(got[0].filters, 1);
}

TEST_F(RoutingTest, TransactionFiltersSeeLoadedKeysAndStatusesAreDerived) {
  // A v0 swap: some of its accounts are loaded through address tables, so they appear only
  // in its status.
  solana::TransactionGenerator gen;
  solana::GeneratedTransaction tx;
  for (uint32_t i = 0;; ++i) {
    tx = gen.Generate(100, i, solana::TransactionKind::kSwap);
    if (tx.failed) break;
  }
  absl::StatusOr<solana::TransactionStatusSummary> summary = solana::PeekTransactionStatus(tx.status);
  ASSERT_TRUE(summary.ok());
  ASSERT_GT(summary->loaded_writable_count(), 0u);
  const Pubkey loaded = solana::ToPubkey(summary->loaded_writable.subspan(0, 32));

  const uint64_t c = Consumer();
  SubscribeMsg s;
  s.transaction_filters = {{.name = "pool", .selector = {.account_include = {loaded}}},
                           {.name = "votes", .selector = {.vote = true}}};
  s.transaction_status_filters = {{.name = "failed", .selector = {.failed = true}}};
  Subscribe(c, s);

  TransactionUpdate t{.slot = 100, .index = 3, .signature = tx.signature, .is_vote = false,
                      .failed = true, .data = tx.transaction, .status = tx.status};
  ASSERT_TRUE(dispatcher_->PublishTransaction(t).ok());
  const std::vector<Seen> got = Read(c);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, fb::UpdateKind::Transaction);
  EXPECT_EQ(got[0].filters, 1) << "pool, through a loaded key";
  EXPECT_EQ(got[1].kind, fb::UpdateKind::TransactionStatus);
  EXPECT_EQ(got[1].filters, 1);
  EXPECT_EQ(got[1].signature, tx.signature);
  EXPECT_EQ(got[1].error, std::vector<uint8_t>(summary->error->begin(), summary->error->end()));
  ExpectContiguous(got);
}

TEST_F(RoutingTest, ATransactionThatDoesNotParseStillMeetsFiltersWithoutKeys) {
  const uint64_t c = Consumer();
  SubscribeMsg s;
  s.transaction_filters = {{.name = "keys", .selector = {.account_include = {Key(1)}}},
                           {.name = "nonvote", .selector = {.vote = false}}};
  Subscribe(c, s);
  TransactionUpdate t{.slot = 1, .data = {1, 2, 3}};
  ASSERT_TRUE(dispatcher_->PublishTransaction(t).ok());
  const std::vector<Seen> got = Read(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].filters, 2);
  EXPECT_EQ(dispatcher_->counters().unparsed_transactions.load(), 1u);
}

TEST_F(RoutingTest, BlockMetaAndEntriesOnlyForTheirFiltersAndSlotsForAllWithBits) {
  const uint64_t blocks = Consumer();
  const uint64_t plain = Consumer();
  SubscribeMsg s;
  s.blocks_meta = {"b"};
  s.entries = {"e1", "e2"};
  s.slots = {{.name = "all", .selector = {.interslot_updates = true}},
             {.name = "mine", .selector = {.filter_by_commitment = true}}};
  Subscribe(blocks, s);
  Subscribe(plain, SubscribeMsg{});
  BlockMetaUpdate meta;
  meta.slot = 5;
  ASSERT_TRUE(dispatcher_->PublishBlockMeta(meta).ok());
  ASSERT_TRUE(dispatcher_->PublishEntry({.slot = 5, .index = 1}).ok());
  Status(5, SlotStatus::kProcessed, 4);
  Status(5, SlotStatus::kCompleted);
  Status(4, SlotStatus::kConfirmed);
  const std::vector<Seen> got = Read(blocks);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].kind, fb::UpdateKind::BlockMeta);
  EXPECT_EQ(got[0].filters, 1);
  EXPECT_EQ(got[1].kind, fb::UpdateKind::Entry);
  EXPECT_EQ(got[1].filters, 3);
  EXPECT_EQ(got[2].filters, 3) << "processed: all, and mine (its level)";
  EXPECT_EQ(got[3].filters, 1) << "completed: only with interslot updates";
  EXPECT_EQ(got[4].filters, 1) << "confirmed is not a processed consumer's level";
  const std::vector<Seen> other = Read(plain);
  ASSERT_EQ(other.size(), 3u) << "slot updates only";
  for (const Seen& x : other) EXPECT_EQ(x.filters, 0);
}

SubscribeMsg OwnerAt(Commitment c) {
  SubscribeMsg m;
  m.owners = {Key(200)};
  m.options = SubscribeOptionsMsg{.commitment = c};
  return m;
}

TEST_F(RoutingTest, ConfirmedAndFinalizedGetTheLatestWritePerAccountThenTheStatus) {
  const uint64_t processed = Consumer();
  const uint64_t confirmed = Consumer();
  const uint64_t finalized = Consumer();
  Subscribe(processed, OwnerAt(Commitment::kProcessed));
  Subscribe(confirmed, OwnerAt(Commitment::kConfirmed));
  Subscribe(finalized, OwnerAt(Commitment::kFinalized));

  Status(10, SlotStatus::kProcessed, 9);
  Account(10, 1, 1);
  Account(10, 2, 2);
  Account(10, 1, 3);  // K1 again: only this one is confirmed
  Status(11, SlotStatus::kProcessed, 10);
  Account(11, 1, 4);
  Status(11, SlotStatus::kDead);
  EXPECT_EQ(Versions(Read(processed)), (std::vector<uint64_t>{1, 2, 3, 4}));
  std::vector<Seen> got = Read(confirmed);
  EXPECT_TRUE(Versions(got).empty()) << "nothing before the slot is confirmed";
  EXPECT_EQ(got.size(), 3u) << "slot statuses arrive as they happen";

  Status(10, SlotStatus::kConfirmed);
  got = Read(confirmed);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(Versions(got), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(got[2].kind, fb::UpdateKind::Slot);
  EXPECT_EQ(got[2].status, SlotStatus::kConfirmed) << "the status after the slot's updates";
  EXPECT_TRUE(Versions(Read(finalized)).empty());

  Status(10, SlotStatus::kRooted);
  got = Read(finalized);
  EXPECT_EQ(Versions(got), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(got.back().status, SlotStatus::kRooted);
  Status(11, SlotStatus::kConfirmed);  // a dead slot never reaches a level
  EXPECT_TRUE(Versions(Read(confirmed)).empty());
  EXPECT_EQ(dispatcher_->counters().released_slots.load(), 2u);
}

TEST_F(RoutingTest, ReplayFromASlotThenLiveWithNoGapAndNoDuplicate) {
  const uint64_t early = Consumer();
  Subscribe(early, OwnerAt(Commitment::kProcessed));
  for (uint64_t slot = 1; slot <= 5; ++slot) {
    Status(slot, SlotStatus::kProcessed, slot - 1);
    Account(slot, 1, slot * 10);
    Account(slot, 2, slot * 10 + 1);
  }
  const uint64_t late = Consumer();
  SubscribeMsg m = OwnerAt(Commitment::kProcessed);
  m.op = fb::SubscribeOp::Replace;
  m.from_slot = 3;
  Subscribe(late, m);
  Account(6, 1, 60);  // published while the replay is under way
  for (int i = 0; i < 10; ++i) dispatcher_->Poll();
  Account(6, 2, 61);
  const std::vector<Seen> got = Read(late);
  EXPECT_EQ(Versions(got), (std::vector<uint64_t>{30, 31, 40, 41, 50, 51, 60, 61}));
  ExpectContiguous(got);
  size_t statuses = 0;
  for (const Seen& s : got) statuses += s.kind == fb::UpdateKind::Slot;
  EXPECT_EQ(statuses, 3u) << "slots 3, 4 and 5";
  EXPECT_EQ(dispatcher_->counters().replays_finished.load(), 1u);
}

TEST_F(RoutingTest, AReplayLargerThanTheRingIsPacedByTheConsumer) {
  for (uint64_t v = 1; v <= 2000; ++v) Account(1, static_cast<uint8_t>(v % 50), v, 200, 400);
  const uint64_t c = Consumer(/*ring_bytes=*/64 << 10);
  SubscribeMsg m = OwnerAt(Commitment::kProcessed);
  m.op = fb::SubscribeOp::Replace;
  m.from_slot = 1;
  Subscribe(c, m);
  std::vector<Seen> got;
  for (int round = 0; round < 10'000 && Versions(got).size() < 2000; ++round) {
    dispatcher_->Poll();
    for (Seen& s : Read(c)) got.push_back(std::move(s));
  }
  std::vector<uint64_t> expected(2000);
  for (uint64_t v = 1; v <= 2000; ++v) expected[v - 1] = v;
  EXPECT_EQ(Versions(got), expected);
  ExpectContiguous(got);
  for (const Seen& s : got) EXPECT_NE(s.kind, fb::UpdateKind::Gap);
}

TEST_F(RoutingTest, AReplayOfAConfirmedConsumerReleasesSlotsWhereTheyWereReleased) {
  for (uint64_t slot = 1; slot <= 4; ++slot) {
    Status(slot, SlotStatus::kProcessed, slot - 1);
    Account(slot, 1, slot * 10);
    Account(slot, 1, slot * 10 + 1);
    if (slot >= 2) Status(slot - 1, SlotStatus::kConfirmed);
  }
  const uint64_t c = Consumer();
  SubscribeMsg m = OwnerAt(Commitment::kConfirmed);
  m.op = fb::SubscribeOp::Replace;
  m.from_slot = 2;
  Subscribe(c, m);
  for (int i = 0; i < 4; ++i) dispatcher_->Poll();
  Status(4, SlotStatus::kConfirmed);
  const std::vector<Seen> got = Read(c);
  EXPECT_EQ(Versions(got), (std::vector<uint64_t>{21, 31, 41}));
  ExpectContiguous(got);
}

TEST_F(RoutingTest, UpdatesTheLogEvictsBeforeACommitmentLevelGetsThemAreAnExactGap) {
  Start({.log = UpdateLogOptions{.replay_slots = 150, .replay_bytes = 16 << 10,
                                 .commitment_bytes = 16 << 10}});
  const uint64_t c = Consumer(4 << 20);
  Subscribe(c, OwnerAt(Commitment::kConfirmed));
  Status(7, SlotStatus::kProcessed, 6);
  for (uint64_t v = 1; v <= 300; ++v) Account(7, static_cast<uint8_t>(v), v, 200, 500);
  Status(7, SlotStatus::kConfirmed);
  const std::vector<Seen> got = Read(c);
  uint64_t dropped = 0;
  for (const Seen& s : got) dropped += s.dropped;
  const size_t delivered = Versions(got).size();
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(delivered, 0u);
  EXPECT_EQ(delivered + dropped, 256u) << "256 distinct accounts: exactly their latest writes";
  EXPECT_EQ(dispatcher_->counters().log_gap_updates.load(), dropped);
  ExpectContiguous(got);
}

}  // namespace
}  // namespace qlaster::sender
