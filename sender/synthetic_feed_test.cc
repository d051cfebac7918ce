// SyntheticFeed's statistics for fixed seeds, in virtual time (fast and deterministic):
// rates, the account size and owner mix, the hot set, the slot status lifecycle, dead
// slots, write_version order, transactions (parsed and their statuses decoded, the
// accounts that name them), entries and block meta, determinism, option checks. Then
// SyntheticSource publishing through a real Dispatcher into a consumer's ring, paced and
// at max speed.
#include "sender/synthetic_feed.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "sender/testing/one_consumer_dispatcher.h"
#include "sender/testing/run_source.h"
#include "sender/synthetic_source.h"
#include "wire/lz4_policy.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_generator.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::sender {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

SyntheticFeed MakeFeed(const SyntheticOptions& options) {
  absl::StatusOr<SyntheticFeed> feed = SyntheticFeed::Create(options);
  EXPECT_TRUE(feed.ok()) << feed.status();
  return *std::move(feed);
}

// Calls `visit(feed, kind)` for every event before virtual time `seconds`.
template <typename Visit>
void RunFor(SyntheticFeed& feed, double seconds, Visit visit) {
  const int64_t end = static_cast<int64_t>(seconds * kSecond);
  for (;;) {
    const SyntheticEventKind kind = feed.Advance();
    if (feed.at_nanos() >= end) return;
    visit(feed, kind);
  }
}

// Counts over a run of the feed.
struct Totals {
  uint64_t accounts = 0;  // excluding large ones, which come on top of the rate
  uint64_t large = 0;
  uint64_t transactions = 0;
  uint64_t votes = 0;
  uint64_t slots_started = 0;
};

Totals Count(const SyntheticOptions& options, double seconds) {
  SyntheticFeed feed = MakeFeed(options);
  Totals t;
  RunFor(feed, seconds, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    switch (kind) {
      case SyntheticEventKind::kAccount:
        ++(f.account_kind() == SyntheticAccountKind::kLarge ? t.large : t.accounts);
        break;
      case SyntheticEventKind::kTransaction:
        ++t.transactions;
        t.votes += f.transaction().is_vote;
        break;
      case SyntheticEventKind::kSlot:
        t.slots_started += f.slot().status == SlotStatus::kFirstShredReceived;
        break;
      case SyntheticEventKind::kBlockMeta:
      case SyntheticEventKind::kEntry:
        break;
    }
  });
  return t;
}

TEST(SyntheticFeedTest, DefaultRatesAreMainnetLike) {
  const Totals t = Count({.seed = 42}, 60);
  const double accounts_per_second = t.accounts / 60.0;
  const double transactions_per_second = t.transactions / 60.0;
  const double vote_share = static_cast<double>(t.votes) / t.transactions;
  std::printf("default feed, 60 s: %.0f accounts/s, %.0f tx/s, vote share %.3f, %llu large\n",
              accounts_per_second, transactions_per_second, vote_share,
              static_cast<unsigned long long>(t.large));
  EXPECT_NEAR(accounts_per_second, 20'000, 2'000);
  EXPECT_NEAR(transactions_per_second, 3'700, 370);
  EXPECT_GE(vote_share, 0.62);
  EXPECT_LE(vote_share, 0.71);
  EXPECT_EQ(t.slots_started, 150u);
  EXPECT_GE(t.large, 5u);  // one every ~10 s
  EXPECT_LE(t.large, 7u);
}

TEST(SyntheticFeedTest, RateMultiplierScalesEveryRate) {
  const Totals base = Count({.seed = 3}, 20);
  const Totals doubled = Count({.seed = 3, .rate = 2.0}, 20);
  EXPECT_NEAR(static_cast<double>(doubled.accounts) / base.accounts, 2.0, 0.2);
  EXPECT_NEAR(static_cast<double>(doubled.transactions) / base.transactions, 2.0, 0.2);
  EXPECT_EQ(doubled.slots_started, base.slots_started);  // not the slot interval
  const Totals tenth = Count({.seed = 3, .rate = 0.1}, 20);
  EXPECT_NEAR(static_cast<double>(tenth.accounts) / base.accounts, 0.1, 0.01);
}

TEST(SyntheticFeedTest, RatesArePerSecondWhateverTheSlotInterval) {
  const Totals t = Count({.seed = 5, .slot_interval = absl::Milliseconds(200)}, 30);
  EXPECT_EQ(t.slots_started, 150u);
  EXPECT_NEAR(t.accounts / 30.0, 20'000, 2'000);
  EXPECT_NEAR(t.transactions / 30.0, 3'700, 370);
}

// Every status of every slot, in arrival order, with its virtual time.
struct SlotHistory {
  struct Entry {
    SlotStatus status;
    int64_t at;
  };
  std::map<uint64_t, std::vector<Entry>> statuses;
  std::map<uint64_t, uint64_t> parent;  // from FirstShredReceived
};

void ExpectLifecycle(const SyntheticOptions& options, double seconds, size_t min_dead) {
  SyntheticFeed feed = MakeFeed(options);
  const int64_t interval = absl::ToInt64Nanoseconds(options.slot_interval);
  SlotHistory history;
  uint64_t current = 0;
  std::set<uint64_t> dead;
  uint64_t data_in_dead_after_death = 0;
  RunFor(feed, seconds, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    if (kind == SyntheticEventKind::kSlot) {
      const SlotUpdate& s = f.slot();
      history.statuses[s.slot].push_back({s.status, f.at_nanos()});
      if (s.status == SlotStatus::kFirstShredReceived) {
        current = s.slot;
        history.parent[s.slot] = s.parent;
      }
      if (s.status == SlotStatus::kDead) dead.insert(s.slot);
      return;
    }
    const uint64_t slot = kind == SyntheticEventKind::kAccount       ? f.account().slot
                          : kind == SyntheticEventKind::kTransaction ? f.transaction().slot
                          : kind == SyntheticEventKind::kEntry       ? f.entry().slot
                                                                     : f.block_meta().slot;
    EXPECT_EQ(slot, current);
    data_in_dead_after_death += dead.count(slot);
  });
  EXPECT_EQ(data_in_dead_after_death, 0u);
  EXPECT_GE(dead.size(), min_dead);

  const uint64_t first = options.first_slot;
  const uint64_t last = history.parent.rbegin()->first;
  EXPECT_EQ(last - first + 1, static_cast<uint64_t>(seconds * kSecond / interval));
  uint64_t live_before = first - 1;
  for (uint64_t slot = first; slot <= last; ++slot) {
    SCOPED_TRACE(slot);
    const auto& entries = history.statuses[slot];
    ASSERT_GE(entries.size(), 3u);
    EXPECT_EQ(entries[0].status, SlotStatus::kFirstShredReceived);
    // Exactly the configured interval apart, by absolute schedule.
    EXPECT_EQ(entries[0].at, static_cast<int64_t>(slot - first) * interval);
    EXPECT_EQ(entries[1].status, SlotStatus::kCreatedBank);
    EXPECT_EQ(history.parent[slot], live_before);
    if (dead.count(slot)) {
      ASSERT_EQ(entries.size(), 3u);  // never completed, processed, confirmed or rooted
      EXPECT_EQ(entries[2].status, SlotStatus::kDead);
      continue;
    }
    live_before = slot;
    std::vector<SlotStatus> expected = {SlotStatus::kFirstShredReceived, SlotStatus::kCreatedBank,
                                        SlotStatus::kCompleted, SlotStatus::kProcessed};
    if (slot < last) expected.push_back(SlotStatus::kConfirmed);
    if (slot + 32 <= last) expected.push_back(SlotStatus::kRooted);
    std::vector<SlotStatus> got;
    for (const auto& e : entries) got.push_back(e.status);
    ASSERT_EQ(got, expected);
    for (size_t i = 1; i < entries.size(); ++i) EXPECT_GE(entries[i].at, entries[i - 1].at);
    const int64_t processed = entries[3].at;
    if (slot < last) {
      EXPECT_GE(entries[4].at - processed, interval / 2);  // about one slot later
      EXPECT_LE(entries[4].at - processed, interval * 3 / 2);
    }
    if (slot + 32 <= last) {
      EXPECT_GE(entries[5].at - processed, interval * 31);  // about 32 slots later
      EXPECT_LE(entries[5].at - processed, interval * 33);
    }
  }
}

TEST(SyntheticFeedTest, SlotsFollowTheirStatusLifecycle) {
  // Defaults: 0.5% dead slots, so maybe none in 150 slots; the lifecycle holds regardless.
  ExpectLifecycle({.seed = 42}, 60, 0);
}

TEST(SyntheticFeedTest, DeadSlotsAreNeverConfirmedOrRooted) {
  // Few accounts (the slots are what is tested), many dead slots.
  ExpectLifecycle({.seed = 9, .rate = 0.01, .dead_slot_probability = 0.05}, 400, 20);
}

TEST(SyntheticFeedTest, DefaultDeadSlotRateIsAboutHalfAPercent) {
  SyntheticFeed feed = MakeFeed({.seed = 11, .rate = 0.001});
  uint64_t slots = 0, dead = 0;
  RunFor(feed, 4000, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    if (kind != SyntheticEventKind::kSlot) return;
    slots += f.slot().status == SlotStatus::kFirstShredReceived;
    dead += f.slot().status == SlotStatus::kDead;
  });
  EXPECT_EQ(slots, 10'000u);
  EXPECT_GE(dead, 25u);
  EXPECT_LE(dead, 80u);
}

TEST(SyntheticFeedTest, AccountsHaveRealisticSizesOwnersAndOrder) {
  SyntheticOptions options{.seed = 42};
  SyntheticFeed feed = MakeFeed(options);
  const std::vector<Pubkey> hot_keys = SyntheticFeed::HotAccounts(options);
  const absl::flat_hash_set<Pubkey> hot(hot_keys.begin(), hot_keys.end());
  ASSERT_EQ(hot.size(), 16u);

  std::map<SyntheticAccountKind, uint64_t> by_kind;
  absl::flat_hash_map<Pubkey, uint64_t> updates_per_key;
  absl::flat_hash_map<Pubkey, std::pair<Pubkey, size_t>> shape;  // owner, size per pubkey
  uint64_t last_write_version = 0, accounts = 0, hot_updates = 0, with_signature = 0;
  uint64_t token = 0, token_2022 = 0, mint_token = 0, mint_token_2022 = 0;
  uint64_t shape_changes = 0, slots = 0;
  size_t program_min = SIZE_MAX, program_max = 0;
  int compressible = 0, incompressible = 0;
  absl::flat_hash_set<Pubkey> votes;
  RunFor(feed, 60, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    if (kind == SyntheticEventKind::kSlot) {
      slots += f.slot().status == SlotStatus::kFirstShredReceived;
      return;
    }
    if (kind != SyntheticEventKind::kAccount) return;
    const AccountUpdate& a = f.account();
    ++accounts;
    EXPECT_GT(a.write_version, last_write_version);
    last_write_version = a.write_version;
    EXPECT_GT(a.lamports, 0u);
    with_signature += a.txn_signature.has_value();
    ++by_kind[f.account_kind()];
    ++updates_per_key[a.pubkey];
    hot_updates += hot.contains(a.pubkey);
    auto [it, inserted] = shape.try_emplace(a.pubkey, a.owner, a.data.size());
    if (!inserted && f.account_kind() != SyntheticAccountKind::kLarge) {
      shape_changes += it->second != std::make_pair(a.owner, a.data.size());
    }
    switch (f.account_kind()) {
      case SyntheticAccountKind::kHot:
        EXPECT_TRUE(hot.contains(a.pubkey));
        EXPECT_TRUE(a.owner == RaydiumAmmV4ProgramId() || a.owner == OrcaWhirlpoolProgramId());
        EXPECT_TRUE(a.data.size() == kRaydiumPoolSize || a.data.size() == kWhirlpoolSize);
        break;
      case SyntheticAccountKind::kVote:
        EXPECT_EQ(a.owner, VoteProgramId());
        EXPECT_EQ(a.data.size(), 3762u);
        votes.insert(a.pubkey);
        break;
      case SyntheticAccountKind::kFeePayer:
        EXPECT_EQ(a.owner, SystemProgramId());
        EXPECT_EQ(a.data.size(), 0u);
        break;
      case SyntheticAccountKind::kToken:
        EXPECT_EQ(a.data.size(), 165u);
        token += a.owner == TokenProgramId();
        token_2022 += a.owner == Token2022ProgramId();
        EXPECT_EQ(a.data[108], 1);  // initialized
        break;
      case SyntheticAccountKind::kMint:
        EXPECT_EQ(a.data.size(), 82u);
        mint_token += a.owner == TokenProgramId();
        mint_token_2022 += a.owner == Token2022ProgramId();
        break;
      case SyntheticAccountKind::kProgramState:
        program_min = std::min(program_min, a.data.size());
        program_max = std::max(program_max, a.data.size());
        break;
      case SyntheticAccountKind::kLarge: {
        EXPECT_EQ(a.owner, BpfLoaderUpgradeableProgramId());
        EXPECT_GE(a.data.size(), 1u << 20);
        EXPECT_LE(a.data.size(), kMaxAccountDataSize);
        (ShouldCompress(a.data, Lz4Policy{}) ? compressible : incompressible)++;
        break;
      }
    }
  });
  std::printf("60 s: %llu accounts; hot %llu, vote %llu, fee payer %llu, token %llu "
              "(token-2022 %llu), mint %llu, program %llu (%zu..%zu B), large %llu\n",
              static_cast<unsigned long long>(accounts),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kHot]),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kVote]),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kFeePayer]),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kToken]),
              static_cast<unsigned long long>(token_2022),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kMint]),
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kProgramState]),
              program_min, program_max,
              static_cast<unsigned long long>(by_kind[SyntheticAccountKind::kLarge]));
  EXPECT_EQ(shape_changes, 0u);  // an account keeps its owner and size
  EXPECT_GT(token, 0u);
  EXPECT_GT(token_2022, 0u);
  EXPECT_GT(mint_token, 0u);
  EXPECT_GT(mint_token_2022, 0u);
  EXPECT_GT(by_kind[SyntheticAccountKind::kMint], 0u);
  EXPECT_GE(program_min, kMinProgramStateSize);
  EXPECT_LT(program_min, 300u);  // hundreds of bytes...
  EXPECT_LE(program_max, kMaxProgramStateSize);
  EXPECT_GT(program_max, 9 * 1024u);  // ...to 10 KiB
  EXPECT_GE(compressible, 2);
  EXPECT_GE(incompressible, 2);
  EXPECT_GE(with_signature, accounts * 9 / 10);

  // Shares of the mix, each within a few points of its option.
  const auto share = [&](SyntheticAccountKind k) { return static_cast<double>(by_kind[k]) / accounts; };
  EXPECT_NEAR(share(SyntheticAccountKind::kHot), 0.30, 0.02);
  EXPECT_NEAR(share(SyntheticAccountKind::kVote), 0.125, 0.02);
  EXPECT_NEAR(share(SyntheticAccountKind::kFeePayer), 0.215, 0.02);
  EXPECT_NEAR(share(SyntheticAccountKind::kToken), 0.25, 0.02);
  EXPECT_NEAR(share(SyntheticAccountKind::kMint), 0.03, 0.01);
  EXPECT_NEAR(share(SyntheticAccountKind::kProgramState), 0.08, 0.02);

  // The hot set takes its share, each hot account far busier than anything in the tail.
  EXPECT_NEAR(static_cast<double>(hot_updates) / accounts, 0.30, 0.02);
  uint64_t coldest_hot = UINT64_MAX, busiest_other = 0;
  for (const auto& [key, n] : updates_per_key) {
    if (hot.contains(key)) {
      coldest_hot = std::min(coldest_hot, n);
    } else if (!votes.contains(key)) {
      busiest_other = std::max(busiest_other, n);
    }
  }
  EXPECT_GT(coldest_hot, 3 * busiest_other);
  // Every validator votes, each about once a slot.
  EXPECT_EQ(votes.size(), 1000u);
  EXPECT_NEAR(static_cast<double>(by_kind[SyntheticAccountKind::kVote]) / (1000.0 * slots), 1.0, 0.15);
}

TEST(SyntheticFeedTest, TransactionsAreRealWithTheirStatus) {
  SyntheticOptions options{.seed = 8};
  SyntheticFeed feed = MakeFeed(options);
  const solana::TransactionGenerator generator(SyntheticFeed::GeneratorOptionsOf(options));
  uint64_t current_slot = 0, transactions = 0, failed_votes = 0, failed = 0, legacy = 0, v0 = 0;
  uint64_t loaded = 0, accounts = 0, with_signature = 0, named_checked = 0;
  uint32_t expected_index = 0;
  absl::flat_hash_set<Signature> signatures;
  // Accounts of the current slot waiting for the transaction they name: the key, and for
  // a token account its data (mint, owner, amount).
  struct Named {
    Pubkey key;
    std::vector<uint8_t> token;
  };
  absl::flat_hash_map<Signature, std::vector<Named>> awaiting;
  uint64_t token_checked = 0;
  std::set<uint64_t> dead;
  RunFor(feed, 20, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    if (kind == SyntheticEventKind::kSlot) {
      const SlotUpdate& s = f.slot();
      if (s.status == SlotStatus::kDead) dead.insert(s.slot);
      if (s.status == SlotStatus::kCompleted) {
        // Every account the slot's transactions were named by came before its transaction.
        EXPECT_TRUE(awaiting.empty()) << awaiting.size() << " in slot " << s.slot;
      }
      if (s.status == SlotStatus::kFirstShredReceived) awaiting.clear();
      return;
    }
    if (kind == SyntheticEventKind::kAccount) {
      ++accounts;
      if (f.account().txn_signature) {
        ++with_signature;
        Named n{f.account().pubkey, {}};
        if (f.account_kind() == SyntheticAccountKind::kToken) {
          n.token.assign(f.account().data.begin(), f.account().data.begin() + 72);
        }
        auto& list = awaiting[*f.account().txn_signature];
        // A later write of the same account in the same transaction is its final state.
        auto same = std::find_if(list.begin(), list.end(), [&](const Named& m) { return m.key == n.key; });
        if (same != list.end()) {
          *same = std::move(n);
        } else {
          list.push_back(std::move(n));
        }
        EXPECT_FALSE(signatures.contains(*f.account().txn_signature)) << "names a transaction already sent";
      }
      return;
    }
    if (kind != SyntheticEventKind::kTransaction) return;
    const TransactionUpdate& t = f.transaction();
    if (t.slot != current_slot) {
      current_slot = t.slot;
      expected_index = 0;
    }
    EXPECT_EQ(t.index, expected_index++);
    ASSERT_LE(t.data.size(), kMaxSyntheticTransactionSize);
    absl::StatusOr<solana::TransactionView> tx = solana::ParseTransaction(t.data);
    ASSERT_TRUE(tx.ok()) << tx.status();
    absl::StatusOr<solana::TransactionStatusView> st = solana::DecodeTransactionStatus(t.status);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(tx->first_signature(), t.signature);
    EXPECT_TRUE(signatures.insert(t.signature).second);
    EXPECT_EQ(tx->IsSimpleVote(), t.is_vote);
    EXPECT_EQ(st->failed(), t.failed);
    EXPECT_EQ(st->pre_balances().size(), tx->account_count());
    EXPECT_EQ(st->post_balances().size(), tx->account_count());
    EXPECT_EQ(st->summary().loaded_writable_count(), tx->loaded_writable_count());
    EXPECT_EQ(st->summary().loaded_readonly_count(), tx->loaded_readonly_count());
    EXPECT_GE(st->fee(), 5'000u);
    EXPECT_TRUE(st->compute_units_consumed().has_value());
    EXPECT_TRUE(st->has_log_messages());
    EXPECT_GT(st->log_messages().size(), 0u);
    // A blockhash of one of the last 20 slots.
    bool recent = false;
    for (uint64_t back = 1; back <= 20 && !recent; ++back) {
      recent = solana::KeyEquals(tx->recent_blockhash(), Pubkey{generator.BlockhashOf(t.slot - back)});
    }
    EXPECT_TRUE(recent);
    if (t.failed) {
      const std::vector<uint8_t> error(st->error()->begin(), st->error()->end());
      EXPECT_TRUE(error == solana::InstructionCustomErrorBincode(2, 1) ||
                  error == solana::InstructionCustomErrorBincode(2, 6001));
    }
    ++(tx->version() == solana::MessageVersion::kLegacy ? legacy : v0);
    loaded += tx->loaded_writable_count() + tx->loaded_readonly_count();
    ++transactions;
    failed += t.failed;
    failed_votes += t.is_vote && t.failed;
    // The accounts that named this transaction are among its writable static keys.
    if (auto it = awaiting.find(t.signature); it != awaiting.end()) {
      EXPECT_FALSE(t.failed);  // a failed transaction writes only its fee payer
      for (const Named& named : it->second) {
        std::optional<size_t> index;
        for (size_t i = 0; i < tx->static_key_count(); ++i) {
          if (solana::KeyEquals(tx->static_key(i), named.key)) index = i;
        }
        ASSERT_TRUE(index.has_value());
        EXPECT_TRUE(tx->IsWritable(*index));
        ++named_checked;
        if (named.token.empty()) continue;
        // Its token balance after the transaction is what the account update holds.
        bool found = false;
        for (const solana::TokenBalanceView& b : st->post_token_balances()) {
          if (b.account_index != *index) continue;
          found = true;
          EXPECT_TRUE(std::equal(b.mint.begin(), b.mint.end(), named.token.begin()));
          EXPECT_TRUE(std::equal(b.owner.begin(), b.owner.end(), named.token.begin() + 32));
          uint64_t amount;
          std::memcpy(&amount, named.token.data() + 64, 8);
          EXPECT_EQ(b.amount, amount);
          ++token_checked;
        }
        EXPECT_TRUE(found);
      }
      // Token balances stay in account order.
      int last = -1;
      for (const solana::TokenBalanceView& b : st->post_token_balances()) {
        EXPECT_GT(static_cast<int>(b.account_index), last);
        last = b.account_index;
      }
      awaiting.erase(it);
    }
  });
  EXPECT_EQ(failed_votes, 0u);
  EXPECT_NEAR(static_cast<double>(failed) / transactions, 0.033, 0.01);  // 10% of a third
  // Swaps (55% of the third that are not votes) are v0; the rest legacy.
  EXPECT_NEAR(static_cast<double>(v0) / transactions, 0.55 / 3, 0.02);
  EXPECT_GT(legacy, v0);
  EXPECT_GT(loaded, v0 * 4);
  EXPECT_GE(with_signature, accounts * 9 / 10);
  EXPECT_GT(named_checked, with_signature * 9 / 10);  // the rest are of dead slots
  EXPECT_GT(token_checked, named_checked / 5);
  std::printf("%llu transactions: %.1f%% v0, %.1f%% failed; %.1f%% of %llu accounts name one\n",
              static_cast<unsigned long long>(transactions), 100.0 * v0 / transactions,
              100.0 * failed / transactions, 100.0 * with_signature / accounts,
              static_cast<unsigned long long>(accounts));
}

TEST(SyntheticFeedTest, VoteAccountsAreWrittenByTheirOwnVotes) {
  SyntheticOptions options{.seed = 9};
  SyntheticFeed feed = MakeFeed(options);
  absl::flat_hash_map<Signature, Pubkey> vote_account_of;
  uint64_t checked = 0;
  RunFor(feed, 10, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    if (kind == SyntheticEventKind::kAccount && f.account_kind() == SyntheticAccountKind::kVote &&
        f.account().txn_signature) {
      EXPECT_TRUE(vote_account_of.emplace(*f.account().txn_signature, f.account().pubkey).second)
          << "two vote accounts name one vote";
    }
    if (kind != SyntheticEventKind::kTransaction) return;
    auto it = vote_account_of.find(f.transaction().signature);
    if (it == vote_account_of.end()) return;
    EXPECT_TRUE(f.transaction().is_vote);
    absl::StatusOr<solana::TransactionView> tx = solana::ParseTransaction(f.transaction().data);
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_TRUE(solana::KeyEquals(tx->static_key(1), it->second));
    EXPECT_TRUE(tx->InvokesProgram(VoteProgramId()));
    ++checked;
  });
  EXPECT_GT(checked, 10'000u);
}

// Per slot: what the block meta and the entries say against the slot's transactions.
TEST(SyntheticFeedTest, EntriesAndBlockMetaMatchTheirSlot) {
  SyntheticOptions options{.seed = 21, .dead_slot_probability = 0.05};
  SyntheticFeed feed = MakeFeed(options);
  const solana::TransactionGenerator generator(SyntheticFeed::GeneratorOptionsOf(options));
  struct Slot {
    uint64_t transactions = 0;
    uint64_t fees = 0;
    std::vector<EntryUpdate> entries;
    bool dead = false;
    bool meta = false;
  };
  std::map<uint64_t, Slot> slots;
  uint64_t current = 0, metas = 0, last_height = 0;
  std::optional<BlockMetaUpdate> last_meta;
  RunFor(feed, 40, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    switch (kind) {
      case SyntheticEventKind::kSlot:
        if (f.slot().status == SlotStatus::kFirstShredReceived) current = f.slot().slot;
        if (f.slot().status == SlotStatus::kDead) slots[f.slot().slot].dead = true;
        break;
      case SyntheticEventKind::kTransaction: {
        Slot& s = slots[f.transaction().slot];
        EXPECT_FALSE(s.meta);
        ++s.transactions;
        absl::StatusOr<solana::TransactionStatusView> st = solana::DecodeTransactionStatus(f.transaction().status);
        ASSERT_TRUE(st.ok()) << st.status();
        s.fees += st->fee();
        break;
      }
      case SyntheticEventKind::kEntry: {
        const EntryUpdate& e = f.entry();
        EXPECT_EQ(e.slot, current);
        Slot& s = slots[e.slot];
        EXPECT_EQ(e.index, s.entries.size());
        const uint64_t start = s.entries.empty() ? 0
                                                 : s.entries.back().starting_transaction_index +
                                                       s.entries.back().executed_transaction_count;
        EXPECT_EQ(e.starting_transaction_index, start);
        // After all of its transactions.
        EXPECT_LE(e.starting_transaction_index + e.executed_transaction_count, s.transactions);
        EXPECT_LE(e.executed_transaction_count, kMaxEntryTransactions);
        EXPECT_GE(e.num_hashes, 1u);
        s.entries.push_back(e);
        break;
      }
      case SyntheticEventKind::kBlockMeta: {
        const BlockMetaUpdate& m = f.block_meta();
        EXPECT_EQ(m.slot, current);
        Slot& s = slots[m.slot];
        EXPECT_FALSE(s.dead);
        EXPECT_FALSE(s.meta);
        s.meta = true;
        ++metas;
        EXPECT_EQ(m.executed_transaction_count, s.transactions);
        EXPECT_EQ(m.entries_count, s.entries.size());
        ASSERT_FALSE(s.entries.empty());
        EXPECT_EQ(s.entries.back().hash, m.blockhash);
        EXPECT_EQ(s.entries.back().executed_transaction_count, 0u);  // a tick
        EXPECT_EQ(m.blockhash, Pubkey{generator.BlockhashOf(m.slot)});
        EXPECT_EQ(m.parent_blockhash, Pubkey{generator.BlockhashOf(m.parent_slot)});
        // Ticks and hashes: 64 ticks, each period's hashes summing to a tick's.
        uint64_t ticks = 0, hashes = 0, transactions = 0;
        for (const EntryUpdate& e : s.entries) {
          hashes += e.num_hashes;
          transactions += e.executed_transaction_count;
          if (e.executed_transaction_count == 0) {
            ++ticks;
            EXPECT_EQ(hashes, kHashesPerTick * ticks);
          }
        }
        EXPECT_EQ(ticks, kTicksPerSlot);
        EXPECT_EQ(transactions, s.transactions);
        // A few hundred entries in a mainnet slot of ~1,500 transactions.
        EXPECT_GT(s.entries.size(), 64 + s.transactions / 8);
        EXPECT_LT(s.entries.size(), 64 + s.transactions / 2);
        ASSERT_TRUE(m.block_height.has_value());
        if (last_meta) {
          EXPECT_EQ(m.parent_slot, last_meta->slot);
          EXPECT_EQ(m.parent_blockhash, last_meta->blockhash);
          EXPECT_EQ(*m.block_height, last_height + 1);
          EXPECT_GE(*m.block_time, *last_meta->block_time);
        }
        last_height = *m.block_height;
        ASSERT_EQ(m.rewards.size(), 1u);
        EXPECT_EQ(m.rewards[0].reward_type, 1);  // fee
        EXPECT_EQ(static_cast<uint64_t>(m.rewards[0].lamports), s.fees - 2'500 * s.transactions);
        last_meta = m;
        break;
      }
      case SyntheticEventKind::kAccount:
        break;
    }
  });
  uint64_t dead = 0;
  for (const auto& [slot, s] : slots) {
    if (slot == current) continue;  // cut off by the end of the run
    SCOPED_TRACE(slot);
    EXPECT_EQ(s.meta, !s.dead);
    dead += s.dead;
  }
  EXPECT_GE(dead, 2u);
  EXPECT_GT(metas, 90u);
}

uint64_t HashEvents(SyntheticFeed& feed, int n) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* p, size_t len) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < len; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  for (int i = 0; i < n; ++i) {
    const SyntheticEvent e = feed.Next();
    const int64_t at = absl::ToInt64Nanoseconds(e.at);
    mix(&at, sizeof(at));
    if (const auto* a = std::get_if<AccountUpdate>(&e.update)) {
      mix(a->pubkey.data(), 32);
      mix(a->owner.data(), 32);
      mix(&a->lamports, 8);
      mix(&a->write_version, 8);
      mix(&a->slot, 8);
      mix(a->data.data(), std::min<size_t>(a->data.size(), 4096));
    } else if (const auto* t = std::get_if<TransactionUpdate>(&e.update)) {
      mix(t->signature.data(), 64);
      mix(t->data.data(), t->data.size());
      mix(t->status.data(), t->status.size());
      mix(&t->is_vote, 1);
    } else if (const auto* m = std::get_if<BlockMetaUpdate>(&e.update)) {
      mix(m->blockhash.data(), 32);
      mix(&m->executed_transaction_count, 8);
      mix(&m->entries_count, 8);
      mix(&m->rewards[0].lamports, 8);
    } else if (const auto* n = std::get_if<EntryUpdate>(&e.update)) {
      mix(n->hash.data(), 32);
      mix(&n->num_hashes, 8);
      mix(&n->executed_transaction_count, 8);
    } else {
      const SlotUpdate& s = std::get<SlotUpdate>(e.update);
      mix(&s, sizeof(s));
    }
  }
  return h;
}

TEST(SyntheticFeedTest, SameSeedGivesTheSameSequence) {
  SyntheticFeed a = MakeFeed({.seed = 7});
  SyntheticFeed b = MakeFeed({.seed = 7});
  SyntheticFeed c = MakeFeed({.seed = 8});
  const uint64_t ha = HashEvents(a, 100'000);
  EXPECT_EQ(ha, HashEvents(b, 100'000));
  EXPECT_NE(ha, HashEvents(c, 100'000));
  EXPECT_NE(SyntheticFeed::HotAccounts({.seed = 7}), SyntheticFeed::HotAccounts({.seed = 8}));
}

TEST(SyntheticFeedTest, NextCopiesWhatAdvanceShows) {
  SyntheticFeed a = MakeFeed({.seed = 12});
  SyntheticFeed b = MakeFeed({.seed = 12});
  for (int i = 0; i < 40'000; ++i) {
    const SyntheticEvent e = a.Next();
    const SyntheticEventKind kind = b.Advance();
    ASSERT_EQ(e.at, b.at());
    switch (kind) {
      case SyntheticEventKind::kAccount:
        ASSERT_EQ(std::get<AccountUpdate>(e.update), b.account());
        break;
      case SyntheticEventKind::kTransaction:
        ASSERT_EQ(std::get<TransactionUpdate>(e.update), b.transaction());
        break;
      case SyntheticEventKind::kSlot:
        ASSERT_EQ(std::get<SlotUpdate>(e.update), b.slot());
        break;
      case SyntheticEventKind::kBlockMeta:
        ASSERT_EQ(std::get<BlockMetaUpdate>(e.update), b.block_meta());
        break;
      case SyntheticEventKind::kEntry:
        ASSERT_EQ(std::get<EntryUpdate>(e.update), b.entry());
        break;
    }
  }
}

TEST(SyntheticFeedTest, VirtualTimeNeverGoesBackAndBurstsAreBursty) {
  SyntheticFeed feed = MakeFeed({.seed = 13});
  int64_t last = 0;
  // Account updates per 10 ms bucket: bursts leave most buckets empty.
  std::map<int64_t, uint64_t> buckets;
  RunFor(feed, 10, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    EXPECT_GE(f.at_nanos(), last);
    last = f.at_nanos();
    if (kind == SyntheticEventKind::kAccount) ++buckets[f.at_nanos() / 10'000'000];
  });
  EXPECT_LT(buckets.size(), 1000u * 6 / 10);  // at most 60% of the 1,000 buckets see any
  uint64_t peak = 0;
  for (const auto& [bucket, n] : buckets) peak = std::max(peak, n);
  EXPECT_GT(peak, 20'000u / 100 * 3);  // peaks at 3x the mean rate or more
}

TEST(SyntheticFeedTest, RejectsBadOptions) {
  auto code = [](const SyntheticOptions& o) { return SyntheticFeed::Create(o).status().code(); };
  EXPECT_EQ(code({.slot_interval = absl::Milliseconds(199)}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.slot_interval = absl::Milliseconds(200)}), absl::StatusCode::kOk);
  EXPECT_EQ(code({.rate = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.rate = std::numeric_limits<double>::quiet_NaN()}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.accounts_per_second = -1}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.rate = 1e4, .accounts_per_second = 1e5}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.slot_interval = absl::Seconds(60), .rate = 1e3}),  // 1.4e9 per slot
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.rate = 100, .transactions_per_second = 300'000}),  // 1.2e7 per slot
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.vote_fraction = 1.5}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.dead_slot_probability = 0.9}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.hot_share = 0.9}), absl::StatusCode::kInvalidArgument);  // shares > 1
  EXPECT_EQ(code({.hot_accounts = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.vote_accounts = 0}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.large_account_max_bytes = kMaxAccountDataSize + 1}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.burstiness = -0.1}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SyntheticSource::Create({.duration = absl::ZeroDuration()}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SyntheticFeedTest, WellKnownProgramIdsDecode) {
  EXPECT_EQ(SystemProgramId(), Pubkey{});
  EXPECT_NE(VoteProgramId(), TokenProgramId());
  EXPECT_NE(TokenProgramId(), Token2022ProgramId());
}

// Not a timed test: prints what the generator alone sustains on this machine (the number
// for the report), asserting nothing about time.
TEST(SyntheticFeedTest, MaxSpeedThroughput) {
  SyntheticFeed feed = MakeFeed({.seed = 1});
  const auto start = std::chrono::steady_clock::now();
  uint64_t events = 0, accounts = 0, bytes = 0;
  RunFor(feed, 30, [&](const SyntheticFeed& f, SyntheticEventKind kind) {
    ++events;
    if (kind == SyntheticEventKind::kAccount) {
      ++accounts;
      bytes += f.account().data.size();
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("generator: %llu events (%llu accounts, %.0f MB) of 30 virtual s in %.3f s: "
              "%.0f events/s, %.1fx real time\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(accounts),
              bytes * 1e-6, seconds, events / seconds, 30 / seconds);
  EXPECT_GT(events, 0u);
}

class SyntheticSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = testing::OneConsumerDispatcher::Create(64 << 20);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
    dispatcher_ = &harness_->dispatcher();
    consumer_ = &harness_->reader();
    // The hot set and every vote account's owner: what a demo would subscribe to.
    SubscribeMsg sub;
    sub.pubkeys = SyntheticFeed::HotAccounts(SyntheticOptions{});
    sub.owners = {VoteProgramId()};
    sub.transactions = TransactionFilter::kAll;
    sub.set_transactions = true;
    ASSERT_TRUE(harness_->Subscribe(sub).ok());
  }

  struct Received {
    uint64_t accounts = 0, transactions = 0, slots = 0;
  };

  Received Drain() {
    Received r;
    shm::RingRecord record;
    while (consumer_->TryRead(&record) == shm::ReadResult::kOk) {
      auto view = DecodeFrame(record.payload);
      if (!view.ok()) continue;  // gap records
      r.accounts += view->account() != nullptr;
      r.transactions += view->transaction() != nullptr;
      r.slots += view->slot() != nullptr;
    }
    consumer_->Release();
    return r;
  }

  std::unique_ptr<testing::OneConsumerDispatcher> harness_;
  Dispatcher* dispatcher_ = nullptr;
  shm::RingConsumer* consumer_ = nullptr;
};

TEST_F(SyntheticSourceTest, PublishesPacedByTheClock) {
  // Verbose, with a short interval, to exercise the summary line too.
  auto source = SyntheticSource::Create({.verbose = true, .log_interval = absl::Milliseconds(100)});
  ASSERT_TRUE(source.ok()) << source.status();
  std::atomic<bool> stop{false};
  absl::Status status;
  const auto start = std::chrono::steady_clock::now();
  std::thread dispatch([&] { status = testing::RunSource(**source, *dispatcher_, stop, true); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  dispatch.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(status.ok()) << status;

  const SyntheticCounters& c = (*source)->counters();
  const Received r = Drain();
  EXPECT_GT(r.slots, 0u);
  EXPECT_GT(r.accounts, 0u);
  EXPECT_GT(r.transactions, 0u);
  EXPECT_EQ(c.publish_errors.load(), 0u);
  EXPECT_EQ(r.transactions, c.transactions.load());
  EXPECT_LE(r.accounts, c.accounts.load());
  // Generous: at most the fastest slots' worth of the rate for the time elapsed plus one
  // slot (a burst may be published up to the spin-ahead early). A source ignoring its
  // clock would publish millions.
  const double slots_elapsed = elapsed / 0.4 + 1;
  EXPECT_LE(c.accounts.load(), 20'000 * 0.4 * 1.3 * slots_elapsed);
  EXPECT_LE(c.transactions.load(), 3'700 * 0.4 * 1.3 * slots_elapsed);
  EXPECT_LE(static_cast<double>(c.virtual_nanos.load()), (elapsed + 0.01) * 1e9);
}

TEST_F(SyntheticSourceTest, MaxSpeedEndsAtTheDurationAndReportsThroughput) {
  auto source = SyntheticSource::Create({.max_speed = true, .duration = absl::Seconds(10), .verbose = true});
  ASSERT_TRUE(source.ok()) << source.status();
  std::atomic<bool> stop{false};
  uint64_t received_accounts = 0;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> done{false};
  absl::Status status;
  std::thread dispatch([&] {
    status = testing::RunSource(**source, *dispatcher_, stop);
    done = true;
  });
  // Keep the ring drained meanwhile, so the measurement includes the consumer's copies.
  while (!done.load()) received_accounts += Drain().accounts;
  dispatch.join();
  received_accounts += Drain().accounts;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(status.ok()) << status;
  const SyntheticCounters& c = (*source)->counters();
  EXPECT_NEAR(c.accounts.load() / 10.0, 20'000, 3'000);
  EXPECT_EQ(c.slots.load() > 0, true);
  EXPECT_GT(received_accounts, 0u);
  EXPECT_EQ(c.publish_errors.load(), 0u);
  EXPECT_GT(c.block_metas.load(), 20u);
  EXPECT_GT(c.entries.load(), c.block_metas.load() * 64);
  const uint64_t events = c.accounts.load() + c.transactions.load() + c.slots.load() +
                          c.block_metas.load() + c.entries.load();
  std::printf("source at max speed into one consumer: %llu events of 10 virtual s in %.3f s: "
              "%.0f events/s (%.1fx real time)\n",
              static_cast<unsigned long long>(events), seconds, events / seconds, 10 / seconds);
}

// The new kinds and the filters over transactions' keys, through a real Dispatcher: a
// consumer with an account filter on the hot set (nonempty_txn_signature), a transaction
// filter including the hot set, a status filter for failures, block meta and entries.
TEST(SyntheticSourceFiltersTest, NewKindsAndKeyFiltersReachAConsumer) {
  auto harness = testing::OneConsumerDispatcher::Create(256 << 20);
  ASSERT_TRUE(harness.ok()) << harness.status();
  SyntheticSourceOptions options{.max_speed = true, .duration = absl::Seconds(4)};
  options.feed.dead_slot_probability = 0;  // every account's transaction comes
  const std::vector<Pubkey> hot = SyntheticFeed::HotAccounts(options.feed);
  SubscribeMsg sub;
  sub.accounts = {{.name = "hot", .filter = {.pubkeys = hot, .nonempty_txn_signature = true}}};
  sub.transaction_filters = {{.name = "hot", .selector = {.vote = false, .account_include = hot}}};
  sub.transaction_status_filters = {{.name = "failed", .selector = {.failed = true}}};
  sub.blocks_meta = {"blocks"};
  sub.entries = {"entries"};
  ASSERT_TRUE((*harness)->Subscribe(sub).ok());
  auto source = SyntheticSource::Create(options);
  ASSERT_TRUE(source.ok()) << source.status();

  absl::flat_hash_set<Signature> account_signatures, transactions;
  uint64_t accounts = 0, statuses = 0, failed_statuses = 0, metas = 0, entries = 0, gaps = 0;
  const auto drain = [&] {
    shm::RingConsumer& reader = (*harness)->reader();
    shm::RingRecord record;
    while (reader.TryRead(&record) == shm::ReadResult::kOk) {
      absl::StatusOr<FrameView> view = DecodeFrame(record.payload);
      ASSERT_TRUE(view.ok()) << view.status();
      if (const AccountView* a = view->account()) {
        ++accounts;
        ASSERT_TRUE(a->txn_signature.has_value());
        account_signatures.insert(*a->txn_signature);
      } else if (const TransactionView* t = view->transaction()) {
        EXPECT_FALSE(t->is_vote);
        transactions.insert(t->signature);
      } else if (const TransactionStatusView* s = view->transaction_status()) {
        ++statuses;
        failed_statuses += s->failed && !s->error.empty();
      } else if (view->block_meta() != nullptr) {
        ++metas;
      } else if (view->entry() != nullptr) {
        ++entries;
      } else if (view->gap() != nullptr) {
        ++gaps;
      }
    }
    reader.Release();
  };
  std::atomic<bool> stop{false}, done{false};
  absl::Status status;
  std::thread dispatch([&] {
    status = testing::RunSource(**source, (*harness)->dispatcher(), stop);
    done = true;
  });
  while (!done.load()) drain();
  dispatch.join();
  drain();
  ASSERT_TRUE(status.ok()) << status;

  const SyntheticCounters& c = (*source)->counters();
  EXPECT_EQ(c.publish_errors.load(), 0u);
  EXPECT_EQ((*harness)->dispatcher().counters().unparsed_transactions.load(), 0u);
  EXPECT_EQ(gaps, 0u);
  EXPECT_EQ(metas, c.block_metas.load());
  EXPECT_EQ(entries, c.entries.load());
  EXPECT_GT(metas, 5u);
  // Failed statuses: 10% of the non-votes.
  EXPECT_EQ(failed_statuses, statuses);
  EXPECT_NEAR(static_cast<double>(statuses) / c.transactions.load(), 0.033, 0.01);
  // Every hot account update names a transaction that lists it, so the transaction
  // filter over the hot set delivered that transaction too.
  EXPECT_GT(accounts, 1000u);
  uint64_t missing = 0;
  for (const Signature& s : account_signatures) missing += !transactions.contains(s);
  EXPECT_EQ(missing, 0u);
}

}  // namespace
}  // namespace qlaster::sender
