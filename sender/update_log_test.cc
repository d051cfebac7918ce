// UpdateLog: positions and frames, the latest write per account, the levels slot
// statuses bring (ancestors first, dead and abandoned slots never), and retention (replay
// limits, pending slots kept beyond them up to the commitment budget, pins).
#include "sender/update_log.h"

#include <vector>

#include "gtest/gtest.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t n) {
  Pubkey k{};
  k[0] = n;
  return k;
}

class UpdateLogTest : public ::testing::Test {
 protected:
  explicit UpdateLogTest(UpdateLogOptions o = {}) : log_(o) {}

  UpdateLog::Position Account(uint64_t slot, uint8_t key, uint64_t write_version,
                              size_t data = 100) {
    data_.assign(data, key);
    AccountUpdate a;
    a.pubkey = Key(key);
    a.owner = Key(200);
    a.slot = slot;
    a.write_version = write_version;
    a.data = data_;
    absl::StatusOr<EncodedUpdate> u = EncodedUpdate::Account(a);
    EXPECT_TRUE(u.ok());
    return log_.Append(*u, {.kind = fb::UpdateKind::Account, .pubkey = a.pubkey, .owner = a.owner,
                            .slot = slot},
                       /*timestamp_ns=*/slot * 1000 + write_version);
  }
  UpdateLog::Position Status(uint64_t slot, SlotStatus status, uint64_t parent = 0) {
    absl::StatusOr<EncodedUpdate> u =
        EncodedUpdate::Slot({.slot = slot, .parent = parent, .status = status});
    EXPECT_TRUE(u.ok());
    return log_.Append(*u, {.kind = fb::UpdateKind::Slot, .slot = slot}, 0);
  }
  std::vector<uint64_t> Released(UpdateLog::Position p, Commitment c) {
    const std::vector<uint64_t>* r = log_.Released(p, c);
    return r == nullptr ? std::vector<uint64_t>{} : *r;
  }
  // The positions of `slot` a release delivers: not superseded, not statuses.
  std::vector<UpdateLog::Position> Delivered(uint64_t slot) {
    std::vector<UpdateLog::Position> out;
    const std::vector<UpdateLog::Position>* p = log_.ResolveSlot(slot);
    if (p == nullptr) return out;
    for (UpdateLog::Position x : *p) {
      if (x < log_.begin()) continue;
      const UpdateLog::Entry& e = log_.entry(x);
      if (!e.superseded && e.kind != fb::UpdateKind::Slot) out.push_back(x);
    }
    return out;
  }
  void EvictAll() {
    log_.Evict([](UpdateLog::Position, const UpdateLog::Entry&, absl::Span<const uint8_t>) {});
  }

  UpdateLog log_;
  std::vector<uint8_t> data_;
};

TEST_F(UpdateLogTest, FramesComeBackAsWritten) {
  const UpdateLog::Position p = Account(10, 1, 5, 300);
  EXPECT_EQ(p, 0u);
  EXPECT_EQ(log_.end(), 1u);
  RouteKey key;
  absl::StatusOr<EncodedUpdate> u = EncodedUpdate::FromFrame(log_.frame(p), Lz4Policy::Never(), &key);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(key.pubkey, Key(1));
  EXPECT_EQ(key.slot, 10u);
  absl::StatusOr<FrameView> view = DecodeFrame(log_.frame(p));
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->timestamp_ns, 10'005u) << "the publication time is kept";
  EXPECT_EQ(view->account()->data_len, 300u);
}

TEST_F(UpdateLogTest, OnlyTheLatestWriteOfAnAccountInASlotIsReleased) {
  const UpdateLog::Position a1 = Account(10, 1, 5);
  const UpdateLog::Position b = Account(10, 2, 6);
  const UpdateLog::Position a2 = Account(10, 1, 7);
  const UpdateLog::Position other_slot = Account(11, 1, 8);
  const UpdateLog::Position a_older = Account(10, 1, 4);  // arrives late, lower version
  EXPECT_TRUE(log_.Superseded(a1));
  EXPECT_FALSE(log_.Superseded(a2));
  EXPECT_TRUE(log_.Superseded(a_older));
  EXPECT_FALSE(log_.Superseded(other_slot)) << "per slot";
  EXPECT_FALSE(log_.Superseded(b));
  EXPECT_EQ(Delivered(10), (std::vector<UpdateLog::Position>{b, a2}));
}

TEST_F(UpdateLogTest, AWriteAfterTheSlotWasResolvedSupersedesAgain) {
  const UpdateLog::Position a1 = Account(10, 1, 5);
  const UpdateLog::Position a2 = Account(10, 1, 7);
  EXPECT_EQ(Delivered(10), (std::vector<UpdateLog::Position>{a2}));
  const UpdateLog::Position a3 = Account(10, 1, 9);
  const UpdateLog::Position b = Account(10, 2, 6);
  EXPECT_EQ(Delivered(10), (std::vector<UpdateLog::Position>{a3, b}));
  EXPECT_TRUE(log_.Superseded(a1));
  EXPECT_TRUE(log_.Superseded(a2)) << "resolved again after a later write";
  const UpdateLog::Position a_equal = Account(10, 1, 9);
  EXPECT_TRUE(log_.Superseded(a3)) << "of equal versions, the later write wins";
  EXPECT_FALSE(log_.Superseded(a_equal));
}

TEST_F(UpdateLogTest, ConfirmedReleasesTheSlotAndItsUnconfirmedAncestorsInOrder) {
  Status(10, SlotStatus::kProcessed, 9);
  Status(11, SlotStatus::kProcessed, 10);
  Status(12, SlotStatus::kProcessed, 11);
  const UpdateLog::Position c = Status(12, SlotStatus::kConfirmed);
  EXPECT_TRUE(log_.entry(c).releases);
  EXPECT_EQ(Released(c, Commitment::kConfirmed), (std::vector<uint64_t>{10, 11, 12}))
      << "slot 9 is unknown to the log; the chain stops there";
  EXPECT_TRUE(Released(c, Commitment::kFinalized).empty());
  EXPECT_EQ(log_.ReachedAt(11, Commitment::kConfirmed), c);
  const UpdateLog::Position again = Status(12, SlotStatus::kConfirmed);
  EXPECT_FALSE(log_.entry(again).releases);
}

TEST_F(UpdateLogTest, RootedConfirmsFirstAndAbandonsOtherForks) {
  Status(10, SlotStatus::kProcessed, 9);
  Status(11, SlotStatus::kProcessed, 10);
  Status(12, SlotStatus::kProcessed, 10);  // a fork beside 11
  Status(13, SlotStatus::kProcessed, 11);
  const UpdateLog::Position c = Status(11, SlotStatus::kConfirmed);
  EXPECT_EQ(Released(c, Commitment::kConfirmed), (std::vector<uint64_t>{10, 11}));
  const UpdateLog::Position r = Status(13, SlotStatus::kRooted);
  EXPECT_EQ(Released(r, Commitment::kConfirmed), (std::vector<uint64_t>{13}));
  EXPECT_EQ(Released(r, Commitment::kFinalized), (std::vector<uint64_t>{10, 11, 13}));
  EXPECT_TRUE(log_.Dead(12)) << "abandoned by the root";
  const UpdateLog::Position late = Status(12, SlotStatus::kConfirmed);
  EXPECT_FALSE(log_.entry(late).releases) << "an abandoned slot is never released";
}

TEST_F(UpdateLogTest, DeadSlotsAreNeverReleased) {
  Account(20, 1, 1);
  Status(20, SlotStatus::kDead);
  EXPECT_TRUE(log_.Dead(20));
  const UpdateLog::Position c = Status(20, SlotStatus::kConfirmed);
  EXPECT_TRUE(Released(c, Commitment::kConfirmed).empty());
}

TEST_F(UpdateLogTest, FirstAtOrAfterFindsTheEarliestPositionOfLaterSlots) {
  Account(10, 1, 1);
  const UpdateLog::Position p12 = Account(12, 1, 2);
  Account(11, 1, 3);  // slot 11 arrives after 12
  Account(13, 1, 4);
  EXPECT_EQ(log_.FirstAtOrAfter(11), p12);
  EXPECT_EQ(log_.FirstAtOrAfter(14), log_.end());
}

class SmallLogTest : public UpdateLogTest {
 protected:
  SmallLogTest()
      : UpdateLogTest({.replay_slots = 3, .replay_bytes = 1 << 20, .commitment_bytes = 1 << 20}) {}
};

TEST_F(SmallLogTest, FinalizedSlotsAgeOutAfterReplaySlots) {
  for (uint64_t s = 1; s <= 3; ++s) {
    Status(s, SlotStatus::kProcessed, s - 1);
    Account(s, 1, s);
    Status(s, SlotStatus::kRooted);
  }
  EvictAll();
  EXPECT_EQ(log_.OldestSlot(), 1u);
  Status(4, SlotStatus::kProcessed, 3);
  EvictAll();
  EXPECT_EQ(log_.OldestSlot(), 2u) << "slot 1 is three slots behind slot 4";
  EXPECT_EQ(log_.SlotPositions(1), nullptr);
}

TEST_F(SmallLogTest, PendingSlotsStayBeyondTheReplayLimits) {
  Status(1, SlotStatus::kProcessed, 0);
  Account(1, 1, 1);  // never finalized
  for (uint64_t s = 2; s <= 10; ++s) Status(s, SlotStatus::kProcessed, s - 1);
  EvictAll();
  EXPECT_EQ(log_.OldestSlot(), 1u) << "slot 1 still waits for a commitment level";
  EXPECT_EQ(Delivered(1).size(), 1u);
  EXPECT_EQ(log_.evicted_pending(), 0u);
}

TEST_F(SmallLogTest, PinsHoldSlotsAndRefuseOlderOnes) {
  for (uint64_t s = 1; s <= 3; ++s) {
    Account(s, 1, s);
    Status(s, SlotStatus::kRooted, s - 1);
  }
  ASSERT_TRUE(log_.Pin(1).ok());
  for (uint64_t s = 4; s <= 8; ++s) Status(s, SlotStatus::kRooted, s - 1);
  EvictAll();
  EXPECT_EQ(log_.OldestSlot(), 1u) << "pinned";
  log_.Unpin(1);
  EvictAll();
  EXPECT_EQ(log_.OldestSlot(), 6u);
  absl::Status refused = log_.Pin(5);
  EXPECT_EQ(refused.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(refused.message().find("oldest slot the sender keeps, 6"), std::string::npos)
      << refused.message();
  EXPECT_TRUE(log_.Pin(6).ok());
  EXPECT_TRUE(log_.Pin(100).ok()) << "a slot not reached yet starts live";
}

class TightLogTest : public UpdateLogTest {
 protected:
  TightLogTest()
      : UpdateLogTest({.replay_slots = 150, .replay_bytes = 64 << 10, .commitment_bytes = 64 << 10}) {}
};

TEST_F(TightLogTest, BytesBoundTheLogAndPendingEntriesGoLastAndAreCounted) {
  // Finalized slots first, then pending ones: the finalized go at the replay budget, the
  // pending ones only past the two budgets together.
  uint64_t slot = 1;
  for (; slot <= 20; ++slot) {
    Account(slot, 1, slot, 4000);
    Status(slot, SlotStatus::kRooted, slot - 1);
    if (log_.MustEvict()) EvictAll();
  }
  EXPECT_LE(log_.bytes(), (64u << 10) + (64u << 10));
  EXPECT_EQ(log_.evicted_pending(), 0u);
  for (; slot <= 80; ++slot) {
    Account(slot, 1, slot, 4000);  // never finalized
    if (log_.MustEvict()) EvictAll();
  }
  EXPECT_GT(log_.evicted_pending(), 0u);
  // Both budgets, plus at most one eviction margin of growth between two evictions.
  EXPECT_LE(log_.bytes(), (128u << 10) + (64u << 10) + 8000);
  EXPECT_GT(*log_.OldestSlot(), 20u);
}

TEST_F(TightLogTest, AnEvictedPendingWriteALaterOneSupersedesIsNotLost) {
  // 60 writes of one account in a slot never finalized: past both budgets the oldest go,
  // and each of them is superseded by the last, which is kept: nothing is lost.
  UpdateLog::Position last = 0;
  for (uint64_t v = 1; v <= 60; ++v) {
    last = Account(5, 1, v, 4000);
    if (log_.MustEvict()) EvictAll();
  }
  ASSERT_GT(log_.begin(), 0u) << "the test must evict";
  ASSERT_LT(last, log_.end());
  EXPECT_EQ(log_.evicted_pending(), 0u);
  EXPECT_EQ(Delivered(5), (std::vector<UpdateLog::Position>{last}));
  // Writes of distinct accounts: each one evicted is lost.
  for (uint8_t k = 2; k < 62; ++k) {
    Account(5, k, 1, 4000);
    if (log_.MustEvict()) EvictAll();
  }
  EXPECT_GT(log_.evicted_pending(), 0u);
  EXPECT_EQ(log_.evicted_pending() + Delivered(5).size(), 61u) << "every account: kept or counted lost";
}

}  // namespace
}  // namespace qlaster::sender
