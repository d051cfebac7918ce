// Named subscriptions (qlaster/subscription.hpp) end to end through the real sender
// engine: Consumer::SetSubscription over the control socket, filtering in
// the sender, delivery through the ring, FilterNames on the consumer's side. Account
// filters (pubkeys, owners, memcmp, datasize, lamports; AND within a filter, OR across
// filters), data slices, limits, transaction and status filters over real Solana
// transactions, block meta and entries, commitment, replay from a slot.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "consumer/testing/sender_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "qlaster/consumer.hpp"
#include "qlaster/subscription.hpp"
#include "wire/solana/transaction_generator.h"

namespace qlaster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace qlaster::testing;  // NOLINT: the fixture's helpers

class SubscriptionTest : public ConsumerTest {
 protected:
  void PublishSlotStatus(uint64_t slot, uint64_t parent, SlotStatus status) {
    Publish([=](sender::Dispatcher& d) {
      ASSERT_TRUE(d.PublishSlot({.slot = slot, .parent = parent, .status = status}).ok());
    });
  }
  // An account written in `slot`.
  static AccountUpdate InSlot(const Pubkey& pubkey, const Pubkey& owner, uint64_t slot,
                              uint64_t write_version, std::vector<uint8_t> data = {1, 2, 3}) {
    AccountUpdate a = Account(pubkey, owner, 10, std::move(data));
    a.slot = slot;
    a.write_version = write_version;
    return a;
  }
};

std::vector<uint8_t> Bytes(uint8_t fill, size_t n) { return std::vector<uint8_t>(n, fill); }

TEST_F(SubscriptionTest, AccountFiltersMatchAllWithinAndAnyAcrossAndSayWhichMatched) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey owner = Key(0x0E), other_owner = Key(0x0F);
  const std::vector<uint8_t> mint_a = Bytes(0xAA, 32), mint_b = Bytes(0xBB, 32);

  Subscription s;
  // bit 0 "big": exactly 10 bytes; bit 1 "pool": owner and a mint at offset 0;
  // bit 2 "rich": more than 1000 lamports and not 5000.
  s.accounts["pool"] = {.owners = {owner}, .memcmp = {{.offset = 0, .bytes = mint_a}}};
  s.accounts["big"] = {.datasize = 10};
  s.accounts["rich"] = {.lamports = {{.op = LamportsOp::kGt, .value = 1000},
                                     {.op = LamportsOp::kNe, .value = 5000}}};
  absl::StatusOr<SubscribeResult> r = c->SetSubscription(s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(c->subscription(), s);

  auto with_mint = [](std::vector<uint8_t> mint) {
    mint.resize(40, 0x01);
    return mint;
  };
  std::vector<AccountUpdate> published = {
      Account(Key(1), owner, 5, with_mint(mint_a)),         // pool
      Account(Key(2), owner, 5, with_mint(mint_b)),         // nothing: other mint
      Account(Key(3), other_owner, 5, with_mint(mint_a)),   // nothing: other owner
      Account(Key(4), other_owner, 5, Bytes(7, 10)),        // big
      Account(Key(5), other_owner, 2000, Bytes(7, 3)),      // rich
      Account(Key(6), other_owner, 5000, Bytes(7, 3)),      // nothing: lamports == 5000
      Account(Key(7), other_owner, 2000, Bytes(7, 10)),     // big and rich
      Account(Key(8), owner, 5, Bytes(0xAA, 20)),           // nothing: memcmp past the end
  };
  for (const AccountUpdate& a : published) PublishAccount(a);
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 4));
  // Publish a marker and wait for it, so nothing unexpected is still on its way.
  PublishAccount(Account(Key(9), other_owner, 9999, {}));
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 5));

  std::vector<std::pair<uint8_t, uint16_t>> got;
  for (const Got& g : events.OfKind(EventKind::kAccount)) got.emplace_back(g.account.pubkey[0], g.filters);
  EXPECT_THAT(got, ElementsAre(std::pair<uint8_t, uint16_t>{1, 0b010}, std::pair<uint8_t, uint16_t>{4, 0b001},
                               std::pair<uint8_t, uint16_t>{5, 0b100}, std::pair<uint8_t, uint16_t>{7, 0b101},
                               std::pair<uint8_t, uint16_t>{9, 0b100}));
  // Names, from the events themselves.
  PublishAccount(Account(Key(7), other_owner, 2000, Bytes(7, 10)));
  std::vector<std::string> names;
  const absl::Time end = absl::Now() + kDeadline;
  while (names.empty() && absl::Now() < end) {
    (void)c->Wait(absl::Milliseconds(20));
    ASSERT_TRUE(c->Poll([&](const Event& e) {
                   if (e.kind == EventKind::kAccount) names = c->FilterNames(e);
                 }).ok());
  }
  EXPECT_THAT(names, ElementsAre("big", "rich"));
}

TEST_F(SubscriptionTest, AShortMemcmpWithOwnerSizeAndLamportsIsScanned) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey owner = Key(0x0E);
  Subscription s;
  s.accounts["inspect"] = {.owners = {owner},
                           .memcmp = {{.offset = 0, .bytes = {0, 1, 2}}},
                           .datasize = 7,
                           .lamports = {{.op = LamportsOp::kGt, .value = 1000}}};
  s.data_slices = {{.offset = 1, .length = 2}};
  ASSERT_TRUE(c->SetSubscription(s).ok());
  for (uint8_t k : {3, 1}) {
    AccountUpdate a = Account(Key(k), owner, 2'039'280, {0, k == 3 ? uint8_t{9} : uint8_t{1}, 2, 250, 251, 252, 253});
    a.txn_signature.emplace();
    a.txn_signature->fill(0x42);
    PublishAccount(a);
  }
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 1));
  EXPECT_EQ(events.OfKind(EventKind::kAccount).front().account.pubkey, Key(1));
}

TEST_F(SubscriptionTest, DataSlicesCopyOnlyTheRangesAskedFor) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey owner = Key(0x0E);
  Subscription s;
  s.accounts["all"] = {.owners = {owner}};
  s.data_slices = {{.offset = 1, .length = 2}, {.offset = 6, .length = 10}};
  ASSERT_TRUE(c->SetSubscription(s).ok());
  PublishAccount(Account(Key(1), owner, 5, {0, 1, 2, 3, 4, 5, 6, 7, 8}));
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 1));
  const Got g = events.OfKind(EventKind::kAccount).front();  // a copy: OfKind returns a temporary
  // 1..2 and 6..8 (the second range is cut at the end of the data).
  EXPECT_EQ(g.account.data, (std::vector<uint8_t>{1, 2, 6, 7, 8}));
  EXPECT_EQ(g.account_data_len, 9u);
}

TEST_F(SubscriptionTest, AFilterOverALimitIsRefusedNamingItAndThePreviousOneStays) {
  sender::ControlOptions control;
  control.limits.max_keys_per_filter = 3;
  control.limits.max_filters_per_kind = 2;
  StartSender(control);
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey owner = Key(0x0E);
  Subscription good;
  good.accounts["mine"] = {.pubkeys = {Key(1)}};
  ASSERT_TRUE(c->SetSubscription(good).ok());

  Subscription too_many_keys;
  too_many_keys.accounts["wide"] = {.owners = {owner, Key(2), Key(3), Key(4)}};
  absl::StatusOr<SubscribeResult> r = c->SetSubscription(too_many_keys);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("max_keys_per_filter"));

  Subscription too_many_filters;
  for (const char* n : {"a", "b", "c"}) too_many_filters.accounts[n] = {.pubkeys = {Key(1)}};
  r = c->SetSubscription(too_many_filters);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("max_filters_per_kind"));

  // Malformed: caught before sending (overlapping slices, a memcmp too long).
  Subscription bad_slices = good;
  bad_slices.data_slices = {{.offset = 0, .length = 4}, {.offset = 2, .length = 4}};
  EXPECT_EQ(c->SetSubscription(bad_slices).status().code(), absl::StatusCode::kInvalidArgument);
  Subscription long_memcmp;
  long_memcmp.accounts["m"] = {.memcmp = {{.offset = 0, .bytes = Bytes(1, 129)}}};
  EXPECT_EQ(c->SetSubscription(long_memcmp).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(c->subscription(), good);
  PublishAccount(Account(Key(2), owner, 5));
  PublishAccount(Account(Key(1), owner, 6));
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 1));
  EXPECT_EQ(events.OfKind(EventKind::kAccount).front().account.pubkey, Key(1));
}

TEST_F(SubscriptionTest, ConfirmedGetsTheLatestWritePerAccountThenTheStatusAndNothingDead) {
  StartSender();
  absl::StatusOr<Consumer> confirmed = Connect({.name = "confirmed"});
  absl::StatusOr<Consumer> processed = Connect({.name = "processed"});
  ASSERT_TRUE(confirmed.ok() && processed.ok());
  const Pubkey owner = Key(0x0E), x = Key(1), y = Key(2), z = Key(3);
  Subscription s;
  s.accounts["o"] = {.owners = {owner}};
  ASSERT_TRUE(processed->SetSubscription(s).ok());
  s.commitment = Commitment::kConfirmed;
  ASSERT_TRUE(confirmed->SetSubscription(s).ok());

  PublishSlotStatus(10, 9, SlotStatus::kProcessed);
  PublishAccount(InSlot(x, owner, 10, 1));
  PublishAccount(InSlot(x, owner, 10, 2));  // supersedes write 1 for confirmed consumers
  PublishAccount(InSlot(y, owner, 10, 3));
  PublishSlotStatus(11, 10, SlotStatus::kProcessed);
  PublishAccount(InSlot(x, owner, 11, 4));
  PublishSlotStatus(12, 10, SlotStatus::kProcessed);  // a fork that dies
  PublishAccount(InSlot(z, owner, 12, 5));
  PublishSlotStatus(12, 10, SlotStatus::kDead);
  PublishSlotStatus(11, 10, SlotStatus::kConfirmed);  // confirms 11 and its parent 10
  PublishAccount(InSlot(y, owner, 13, 6));            // processed, never confirmed here

  Events c_events, p_events;
  ASSERT_TRUE(p_events.PollForKind(*processed, EventKind::kAccount, 6));
  ASSERT_TRUE(c_events.PollUntil(*confirmed, [](const std::vector<Got>& all) {
    return std::count_if(all.begin(), all.end(), [](const Got& g) {
             return g.kind == EventKind::kSlot && g.slot.slot == 11 &&
                    g.slot.status == SlotStatus::kConfirmed;
           }) > 0;
  }));
  // Give anything unexpected the chance to arrive: a marker the confirmed consumer gets.
  PublishSlotStatus(13, 11, SlotStatus::kProcessed);
  PublishSlotStatus(13, 11, SlotStatus::kConfirmed);
  ASSERT_TRUE(c_events.PollUntil(*confirmed, [](const std::vector<Got>& all) {
    return std::count_if(all.begin(), all.end(), [](const Got& g) {
             return g.kind == EventKind::kAccount && g.account.slot == 13;
           }) > 0;
  }));

  // The confirmed stream: slot 10's latest writes, its status, slot 11's, its status,
  // then slot 13.
  std::vector<std::string> order;
  for (const Got& g : c_events.all) {
    if (g.kind == EventKind::kAccount) {
      order.push_back("a" + std::to_string(g.account.write_version));
    } else if (g.kind == EventKind::kSlot && g.slot.status == SlotStatus::kConfirmed) {
      order.push_back("c" + std::to_string(g.slot.slot));
    }
  }
  EXPECT_THAT(order, ElementsAre("a2", "a3", "c10", "a4", "c11", "a6", "c13"));
  for (const Got& g : c_events.all) {
    if (g.kind == EventKind::kAccount) {
      EXPECT_NE(g.account.pubkey, z) << "a dead slot's update";
    }
  }
  std::vector<uint64_t> processed_versions;
  for (const Got& g : p_events.OfKind(EventKind::kAccount)) processed_versions.push_back(g.account.write_version);
  EXPECT_THAT(processed_versions, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(SubscriptionTest, FromSlotReplaysWhatIsKeptThenGoesLiveWithNoGapAndNoDuplicate) {
  StartSender();
  const Pubkey owner = Key(0x0E);
  uint64_t version = 0;
  for (uint64_t slot = 20; slot < 25; ++slot) {
    PublishSlotStatus(slot, slot - 1, SlotStatus::kProcessed);
    PublishAccount(InSlot(Key(1), owner, slot, ++version));
    PublishAccount(InSlot(Key(2), Key(0x0F), slot, ++version));  // not subscribed
  }
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  Subscription s;
  s.accounts["o"] = {.owners = {owner}};
  s.from_slot = 5;
  absl::StatusOr<SubscribeResult> r = c->SetSubscription(s);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("20"));

  s.from_slot = 22;
  r = c->SetSubscription(s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(c->subscription().from_slot.has_value());
  for (uint64_t slot = 25; slot < 27; ++slot) {
    PublishSlotStatus(slot, slot - 1, SlotStatus::kProcessed);
    PublishAccount(InSlot(Key(1), owner, slot, ++version));
  }
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 5));
  std::vector<uint64_t> slots;
  for (const Got& g : events.OfKind(EventKind::kAccount)) slots.push_back(g.account.slot);
  EXPECT_THAT(slots, ElementsAre(22, 23, 24, 25, 26));
  EXPECT_EQ(events.Count(EventKind::kGap), 0u);
  uint64_t last = 0;
  for (const Got& g : events.all) {
    EXPECT_GT(g.sequence, last);
    last = g.sequence;
  }
}

TEST_F(SubscriptionTest, TransactionAndStatusFiltersLookAtRealTransactionsKeys) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const solana::TransactionGenerator gen;
  std::vector<solana::GeneratedTransaction> txs;
  for (uint32_t i = 0; txs.size() < 12; ++i) {
    solana::GeneratedTransaction t = gen.Generate(350'000'000, i);
    txs.push_back(std::move(t));
  }
  const Pubkey usdc = gen.Mint(1);
  Subscription s;
  s.transactions["nonvote"] = {.vote = false};
  s.transactions["failed"] = {.failed = true};
  s.transaction_statuses["votes"] = {.vote = true};
  ASSERT_TRUE(c->SetSubscription(s).ok());
  size_t want_tx = 0, want_status = 0;
  for (uint32_t i = 0; i < txs.size(); ++i) {
    const solana::GeneratedTransaction& t = txs[i];
    const bool vote = t.kind == solana::TransactionKind::kVote;
    want_tx += (!vote || t.failed) ? 1 : 0;
    want_status += vote ? 1 : 0;
    Publish([&](sender::Dispatcher& d) {
      ASSERT_TRUE(d.PublishTransaction({.slot = 350'000'000,
                                        .index = i,
                                        .signature = t.signature,
                                        .is_vote = vote,
                                        .failed = t.failed,
                                        .data = t.transaction,
                                        .status = t.status})
                      .ok());
    });
  }
  ASSERT_GT(want_tx, 0u);
  ASSERT_GT(want_status, 0u);
  Events events;
  ASSERT_TRUE(events.PollUntil(*c, [&](const std::vector<Got>&) {
    return events.Count(EventKind::kTransaction) >= want_tx &&
           events.Count(EventKind::kTransactionStatus) >= want_status;
  }));
  for (const Got& g : events.OfKind(EventKind::kTransaction)) {
    const bool vote = g.tx.is_vote;
    const uint16_t want = static_cast<uint16_t>((g.tx.failed ? 0b01 : 0) | (!vote ? 0b10 : 0));
    EXPECT_EQ(g.filters, want) << "index " << g.tx.index;
  }
  for (const Got& g : events.OfKind(EventKind::kTransactionStatus)) EXPECT_EQ(g.filters, 1);
  (void)usdc;

  // account_include / account_required / account_exclude over static and loaded keys: a
  // swap's loaded pools are in its lookup tables, not its static keys.
  Subscription by_key;
  const Pubkey table_entry = gen.LookupTableEntry(0, 0);  // the Token program, entry 0
  by_key.transactions["token"] = {.account_include = {table_entry}};
  ASSERT_TRUE(c->SetSubscription(by_key).ok());
  Events keyed;
  size_t want_keyed = 0;
  for (uint32_t i = 0; i < txs.size(); ++i) {
    const solana::GeneratedTransaction& t = txs[i];
    if (t.kind == solana::TransactionKind::kSwap || t.kind == solana::TransactionKind::kTokenTransfer) ++want_keyed;
    Publish([&](sender::Dispatcher& d) {
      ASSERT_TRUE(d.PublishTransaction({.slot = 350'000'001,
                                        .index = i,
                                        .signature = t.signature,
                                        .is_vote = t.kind == solana::TransactionKind::kVote,
                                        .failed = t.failed,
                                        .data = t.transaction,
                                        .status = t.status})
                      .ok());
    });
  }
  ASSERT_GT(want_keyed, 0u);
  ASSERT_TRUE(keyed.PollForKind(*c, EventKind::kTransaction, want_keyed));
  for (const Got& g : keyed.OfKind(EventKind::kTransaction)) {
    EXPECT_EQ(g.tx.slot, 350'000'001u);
    EXPECT_FALSE(g.tx.is_vote);
  }
}

TEST_F(SubscriptionTest, BlockMetaAndEntriesReachOnlyThoseWhoAskWithTheirFilterBit) {
  StartSender();
  absl::StatusOr<Consumer> asks = Connect({.name = "asks"});
  absl::StatusOr<Consumer> not_asked = Connect({.name = "not"});
  ASSERT_TRUE(asks.ok() && not_asked.ok());
  Subscription s;
  s.blocks_meta = {"meta"};
  s.entries = {"e1", "e2"};
  ASSERT_TRUE(asks->SetSubscription(s).ok());
  Publish([](sender::Dispatcher& d) {
    ASSERT_TRUE(d.PublishEntry({.slot = 30, .index = 0, .num_hashes = 12, .hash = {}, .executed_transaction_count = 3,
                                .starting_transaction_index = 0})
                    .ok());
    BlockMetaUpdate meta;
    meta.slot = 30;
    meta.parent_slot = 29;
    meta.executed_transaction_count = 3;
    meta.entries_count = 1;
    ASSERT_TRUE(d.PublishBlockMeta(meta).ok());
    ASSERT_TRUE(d.PublishSlot({.slot = 30, .parent = 29, .status = SlotStatus::kProcessed}).ok());
  });
  Events a, n;
  ASSERT_TRUE(a.PollForKind(*asks, EventKind::kBlockMeta, 1));
  ASSERT_TRUE(a.PollForKind(*asks, EventKind::kEntry, 1));
  ASSERT_TRUE(n.PollForKind(*not_asked, EventKind::kSlot, 1));
  EXPECT_EQ(n.Count(EventKind::kBlockMeta) + n.Count(EventKind::kEntry), 0u);
  EXPECT_EQ(a.OfKind(EventKind::kEntry).front().filters, 0b11);
  EXPECT_EQ(a.OfKind(EventKind::kBlockMeta).front().filters, 0b1);
  EXPECT_EQ(a.OfKind(EventKind::kBlockMeta).front().meta_slot, 30u);
}

TEST_F(SubscriptionTest, ABigSubscriptionIsSplitAndReplayedWholeAfterAReconnection) {
  sender::ControlOptions control;
  control.limits.max_keys_per_consumer = 200'000;
  control.limits.max_keys_per_filter = 200'000;
  StartSender(control);
  absl::StatusOr<Consumer> c = Connect({.auto_reconnect = true});
  ASSERT_TRUE(c.ok()) << c.status();
  Subscription s;
  std::vector<Pubkey> keys;
  for (uint32_t i = 0; i < 150'000; ++i) {
    Pubkey k{};
    std::memcpy(k.data(), &i, sizeof(i));
    k[31] = 0x77;
    keys.push_back(k);
  }
  s.accounts["many"] = {.pubkeys = keys};
  s.commitment = Commitment::kProcessed;
  absl::StatusOr<SubscribeResult> r = c->SetSubscription(s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->messages, 2u);
  EXPECT_EQ(c->subscription().accounts.at("many").pubkeys.size(), keys.size());
  PublishAccount(Account(keys.back(), Key(0x0E), 5));
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 1));
  EXPECT_EQ(events.all.back().filters, 1);

  // from_slot with a subscription that needs two messages is refused up front.
  s.from_slot = 1;
  EXPECT_EQ(c->SetSubscription(s).status().code(), absl::StatusCode::kInvalidArgument);

  StopSender();
  StartSender(control);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kReconnected, 1));
  PublishAccount(Account(keys.back(), Key(0x0E), 6));
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 2));
  EXPECT_EQ(events.all.back().filters, 1);
}

}  // namespace
}  // namespace qlaster
