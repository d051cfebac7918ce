// Registry: seats and tokens, subscription deltas and their limits, table building.
#include "sender/registry.h"

#include "gtest/gtest.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint16_t n) {
  Pubkey k{};
  k[0] = static_cast<uint8_t>(n);
  k[1] = static_cast<uint8_t>(n >> 8);
  return k;
}

SubscribeMsg Msg(fb::SubscribeOp op, std::vector<Pubkey> pubkeys, std::vector<Pubkey> owners = {}) {
  SubscribeMsg m;
  m.op = op;
  m.pubkeys = std::move(pubkeys);
  m.owners = std::move(owners);
  return m;
}

TEST(RegistryTest, IdsAreTokensThatAStaleHolderCannotReuse) {
  Registry r(RegistryLimits{.max_consumers = 2});
  const uint64_t a = *r.Reserve();
  const uint64_t b = *r.Reserve();
  EXPECT_TRUE(absl::IsResourceExhausted(r.Reserve().status()));
  r.Remove(a);
  EXPECT_EQ(r.Find(a), nullptr);
  const uint64_t c = *r.Reserve();  // the same seat, a new generation
  EXPECT_EQ(c & 0xffffffffu, a & 0xffffffffu);
  EXPECT_NE(c, a);
  EXPECT_EQ(r.Find(a), nullptr) << "the old id never reaches the new consumer";
  EXPECT_NE(r.Find(c), nullptr);
  EXPECT_NE(r.Find(b), nullptr);
  EXPECT_EQ(r.consumer_count(), 2u);
  r.Remove(a);  // stale: no effect
  EXPECT_EQ(r.consumer_count(), 2u);
}

TEST(RegistryTest, AddAndRemoveAreDeltasCountingDistinctKeys) {
  Registry r(RegistryLimits{.max_keys_per_consumer = 3});
  const uint64_t id = *r.Reserve();
  ASSERT_TRUE(r.ApplySubscribe(id, Msg(fb::SubscribeOp::Add, {Key(1), Key(1), Key(2)})).ok());
  EXPECT_EQ(KeyCount(r.Find(id)->filter), 2u) << "a key sent twice counts once";
  // At the limit (3): one new key fits, and a key already held costs nothing.
  ASSERT_TRUE(r.ApplySubscribe(id, Msg(fb::SubscribeOp::Add, {Key(2)}, {Key(3)})).ok());
  EXPECT_EQ(KeyCount(r.Find(id)->filter), 3u);
  const absl::Status over = r.ApplySubscribe(id, Msg(fb::SubscribeOp::Add, {Key(4)}));
  EXPECT_TRUE(absl::IsResourceExhausted(over));
  EXPECT_NE(over.message().find("--max_keys_per_consumer"), absl::string_view::npos) << over;
  EXPECT_EQ(KeyCount(r.Find(id)->filter), 3u) << "a refused change changes nothing";
  ASSERT_TRUE(r.ApplySubscribe(id, Msg(fb::SubscribeOp::Remove, {Key(1), Key(9)})).ok());
  EXPECT_EQ(KeyCount(r.Find(id)->filter), 2u) << "removing a key not held is no change";
  ASSERT_TRUE(r.ApplySubscribe(id, Msg(fb::SubscribeOp::Add, {Key(4)})).ok());
}

TEST(RegistryTest, TheTotalLimitCountsEveryConsumer) {
  Registry r(RegistryLimits{.max_keys_per_consumer = 10, .max_total_keys = 3});
  const uint64_t a = *r.Reserve();
  const uint64_t b = *r.Reserve();
  ASSERT_TRUE(r.ApplySubscribe(a, Msg(fb::SubscribeOp::Add, {Key(1), Key(2)})).ok());
  const absl::Status over = r.ApplySubscribe(b, Msg(fb::SubscribeOp::Add, {Key(1), Key(3)}));
  EXPECT_TRUE(absl::IsResourceExhausted(over));
  EXPECT_NE(over.message().find("--max_total_keys"), absl::string_view::npos) << over;
  ASSERT_TRUE(r.ApplySubscribe(b, Msg(fb::SubscribeOp::Add, {Key(1)})).ok());
  r.Remove(a);  // its two keys return to the pool
  EXPECT_TRUE(r.ApplySubscribe(b, Msg(fb::SubscribeOp::Add, {Key(2), Key(3)})).ok());
}

TEST(RegistryTest, ReplaceSwapsTheWholeSubscriptionAndItsTransactionFilter) {
  Registry r(RegistryLimits{.max_keys_per_consumer = 2});
  const uint64_t id = *r.Reserve();
  SubscribeMsg add = Msg(fb::SubscribeOp::Add, {Key(1), Key(2)});
  add.transactions = TransactionFilter::kAll;
  add.set_transactions = true;
  ASSERT_TRUE(r.ApplySubscribe(id, add).ok());
  // Replacing two keys by two others stays within a limit of two.
  SubscribeMsg replace = Msg(fb::SubscribeOp::Replace, {Key(3)}, {Key(4)});
  replace.transactions = TransactionFilter::kNonVote;
  ASSERT_TRUE(r.ApplySubscribe(id, replace).ok());
  const ConsumerFilter& f = r.Find(id)->filter;
  EXPECT_EQ(f.pubkeys.size(), 1u);
  EXPECT_TRUE(f.pubkeys.contains(Key(3)));
  EXPECT_TRUE(f.owners.contains(Key(4)));
  EXPECT_EQ(f.transactions, TransactionFilter::kNonVote);
  EXPECT_TRUE(absl::IsNotFound(r.ApplySubscribe(id + (uint64_t{1} << 32), add)));
}

TEST(RegistryTest, TablesNameOnlyConsumersWhoseChannelIsSet) {
  Registry r(RegistryLimits{});
  const uint64_t id = *r.Reserve();
  ASSERT_TRUE(r.ApplySubscribe(id, Msg(fb::SubscribeOp::Add, {Key(1)})).ok());
  absl::StatusOr<std::unique_ptr<RoutingTable>> table = r.BuildTable();
  ASSERT_TRUE(table.ok());
  EXPECT_TRUE((*table)->all.empty()) << "no handshake yet";
  EXPECT_TRUE((*table)->owners.empty());
}


NamedAccountFilter Named(std::string name, AccountFilter f, bool append = false) {
  return NamedAccountFilter{.name = std::move(name), .append = append, .filter = std::move(f)};
}

TEST(RegistryTest, NamedFiltersAreSetAppendedAndRemovedByName) {
  Registry r(RegistryLimits{});
  const uint64_t id = *r.Reserve();
  SubscribeMsg set;
  set.accounts = {Named("pools", {.pubkeys = {Key(1), Key(2)}})};
  set.transaction_filters = {{.name = "mine", .selector = {.vote = false}}};
  set.blocks_meta = {"blocks"};
  ASSERT_TRUE(r.ApplySubscribe(id, set).ok());
  SubscribeMsg more;
  more.accounts = {Named("pools", {.pubkeys = {Key(2), Key(3)}}, /*append=*/true)};
  ASSERT_TRUE(r.ApplySubscribe(id, more).ok());
  const ConsumerFilter& f = r.Find(id)->filter;
  EXPECT_EQ(f.named.accounts.at("pools").pubkeys, (std::vector<Pubkey>{Key(1), Key(2), Key(3)}));
  EXPECT_EQ(KeyCount(f), 3u) << "named keys count, each once";
  SubscribeMsg drop;
  drop.op = fb::SubscribeOp::Remove;
  drop.transaction_filters = {{.name = "mine", .selector = {}}};
  ASSERT_TRUE(r.ApplySubscribe(id, drop).ok());
  EXPECT_TRUE(f.named.transactions.empty());
  EXPECT_EQ(f.named.accounts.size(), 1u);
  EXPECT_EQ(f.named.blocks_meta, (std::set<std::string>{"blocks"}));

  SubscribeMsg orphan;
  orphan.accounts = {Named("nope", {.pubkeys = {Key(4)}}, /*append=*/true)};
  const absl::Status refused = r.ApplySubscribe(id, orphan);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
}

TEST(RegistryTest, ReplaceResetsEverythingIncludingOptions) {
  Registry r(RegistryLimits{});
  const uint64_t id = *r.Reserve();
  SubscribeMsg first = Msg(fb::SubscribeOp::Add, {Key(1)});
  first.accounts = {Named("a", {.owners = {Key(5)}})};
  first.options = SubscribeOptionsMsg{.commitment = Commitment::kConfirmed,
                                      .data_slices = {{.offset = 0, .length = 8}}};
  ASSERT_TRUE(r.ApplySubscribe(id, first).ok());
  EXPECT_EQ(r.Find(id)->filter.commitment, Commitment::kConfirmed);
  SubscribeMsg replace = Msg(fb::SubscribeOp::Replace, {});
  replace.entries = {"e"};
  ASSERT_TRUE(r.ApplySubscribe(id, replace).ok());
  const ConsumerFilter& f = r.Find(id)->filter;
  EXPECT_TRUE(f.pubkeys.empty());
  EXPECT_TRUE(f.named.accounts.empty());
  EXPECT_EQ(f.named.entries.size(), 1u);
  EXPECT_EQ(f.commitment, Commitment::kProcessed);
  EXPECT_TRUE(f.data_slices.empty());
  EXPECT_EQ(KeyCount(f), 0u);
}

TEST(RegistryTest, NamedFilterLimitsAreInvalidArgumentsNamingTheFlagAndChangeNothing) {
  Registry r(RegistryLimits{.max_filters_per_kind = 2, .max_keys_per_filter = 2, .max_data_slices = 1});
  const uint64_t id = *r.Reserve();
  SubscribeMsg ok;
  ok.accounts = {Named("a", {.pubkeys = {Key(1)}})};
  ASSERT_TRUE(r.ApplySubscribe(id, ok).ok());

  auto expect_refused = [&](const SubscribeMsg& m, absl::string_view flag) {
    const absl::Status s = r.ApplySubscribe(id, m);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(flag), absl::string_view::npos) << s;
    const ConsumerFilter& f = r.Find(id)->filter;
    EXPECT_EQ(f.named.accounts.size(), 1u);
    EXPECT_EQ(f.named.accounts.at("a").pubkeys, (std::vector<Pubkey>{Key(1)}));
    EXPECT_TRUE(f.data_slices.empty());
  };
  SubscribeMsg three_filters;
  three_filters.accounts = {Named("b", {}), Named("c", {})};
  expect_refused(three_filters, "--max_filters_per_kind");
  SubscribeMsg too_many_keys;
  too_many_keys.accounts = {Named("a", {.pubkeys = {Key(2), Key(3)}}, /*append=*/true)};
  expect_refused(too_many_keys, "--max_keys_per_filter");
  SubscribeMsg long_list;
  long_list.transaction_filters = {{.name = "t", .selector = {.account_required = {Key(1), Key(2), Key(3)}}}};
  expect_refused(long_list, "--max_keys_per_filter");
  SubscribeMsg slices;
  slices.options = SubscribeOptionsMsg{.data_slices = {{.offset = 0, .length = 1}, {.offset = 4, .length = 1}}};
  expect_refused(slices, "--max_data_slices");
}

TEST(RegistryTest, FromSlotOnlyWithReplaceAndItIsAReplayRequestUntilCleared) {
  Registry r(RegistryLimits{});
  const uint64_t id = *r.Reserve();
  SubscribeMsg add = Msg(fb::SubscribeOp::Add, {Key(1)});
  add.from_slot = 5;
  EXPECT_TRUE(absl::IsInvalidArgument(r.ApplySubscribe(id, add)));
  SubscribeMsg replace = Msg(fb::SubscribeOp::Replace, {Key(1)});
  replace.from_slot = 5;
  ASSERT_TRUE(r.ApplySubscribe(id, replace).ok());
  const uint64_t request = r.Find(id)->filter.replay_request;
  EXPECT_NE(request, 0u);
  r.Find(id)->channel = nullptr;  // no handshake: not in tables
  r.ClearReplayRequest(id, request + 1);
  EXPECT_EQ(r.Find(id)->filter.from_slot, 5u) << "another request's clearing";
  r.ClearReplayRequest(id, request);
  EXPECT_FALSE(r.Find(id)->filter.from_slot.has_value());
}

}  // namespace
}  // namespace qlaster::sender
