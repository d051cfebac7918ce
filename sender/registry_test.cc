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
  EXPECT_TRUE((*table)->index->all_consumers().empty()) << "no handshake yet";
  EXPECT_TRUE((*table)->owners.empty());
}

}  // namespace
}  // namespace qlaster::sender
