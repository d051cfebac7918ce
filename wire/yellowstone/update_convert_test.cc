// Tests for SubscribeUpdate -> frame: each kind converts into the frame a consumer
// decodes back to the same values, and each kind of malformed upstream field is refused
// with kInvalidArgument naming it.
#include "wire/yellowstone/update_convert.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wire/solana/transaction_generator.h"
#include "wire/yellowstone/transaction_convert.h"

namespace qlaster::yellowstone {
namespace {

using ::testing::HasSubstr;

FrameView Decode(const UpstreamMessage& m) {
  EXPECT_EQ(m.type, UpstreamMessage::Type::kFrame);
  static std::vector<uint8_t> bytes;
  bytes = m.frame->update().ToBytes(1, 2);
  absl::StatusOr<FrameView> view = DecodeFrame(bytes);
  EXPECT_TRUE(view.ok()) << view.status();
  return *view;
}

geyser::SubscribeUpdate AccountMessage() {
  geyser::SubscribeUpdate u;
  auto* a = u.mutable_account();
  a->set_slot(77);
  auto* info = a->mutable_account();
  info->set_pubkey(std::string(32, 'p'));
  info->set_owner(std::string(32, 'o'));
  info->set_lamports(123);
  info->set_executable(true);
  info->set_rent_epoch(9);
  info->set_data("hello");
  info->set_write_version(42);
  info->set_txn_signature(std::string(64, 's'));
  return u;
}

TEST(UpdateConvertTest, AccountBecomesItsFrame) {
  absl::StatusOr<UpstreamMessage> m = FromSubscribeUpdate(AccountMessage());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->frame->key().kind, fb::UpdateKind::Account);
  EXPECT_EQ(m->frame->slot(), 77u);
  const FrameView view = Decode(*m);
  const AccountView& a = std::get<AccountView>(view.body);
  Pubkey p;
  p.fill('p');
  EXPECT_EQ(a.pubkey, p);
  EXPECT_EQ(m->frame->key().pubkey, p);
  EXPECT_EQ(a.lamports, 123u);
  EXPECT_TRUE(a.executable);
  EXPECT_EQ(a.write_version, 42u);
  ASSERT_TRUE(a.txn_signature.has_value());
  EXPECT_EQ((*a.txn_signature)[0], 's');
  EXPECT_EQ(*a.Data(), std::vector<uint8_t>({'h', 'e', 'l', 'l', 'o'}));
}

TEST(UpdateConvertTest, TransactionSlotBlockMetaAndEntryBecomeTheirFrames) {
  const solana::TransactionGenerator gen;
  const solana::GeneratedTransaction g = gen.Generate(500, 3);
  geyser::SubscribeUpdate tx;
  ASSERT_TRUE(FillUpdateTransaction(g.transaction, g.status, 500, 3, tx.mutable_transaction()).ok());
  absl::StatusOr<UpstreamMessage> m = FromSubscribeUpdate(tx);
  ASSERT_TRUE(m.ok()) << m.status();
  const FrameView tv = Decode(*m);
  const TransactionView& t = std::get<TransactionView>(tv.body);
  EXPECT_EQ(t.slot, 500u);
  EXPECT_EQ(t.index, 3u);
  EXPECT_EQ(t.signature, g.signature);
  EXPECT_EQ(std::vector<uint8_t>(t.data.begin(), t.data.end()), g.transaction);
  EXPECT_EQ(std::vector<uint8_t>(t.status.begin(), t.status.end()), g.status);
  EXPECT_EQ(t.failed, g.failed);

  geyser::SubscribeUpdate slot;
  slot.mutable_slot()->set_slot(501);
  slot.mutable_slot()->set_parent(500);
  slot.mutable_slot()->set_status(geyser::SLOT_CONFIRMED);
  m = FromSubscribeUpdate(slot);
  ASSERT_TRUE(m.ok()) << m.status();
  const SlotView s = std::get<SlotView>(Decode(*m).body);
  EXPECT_EQ(s.slot, 501u);
  EXPECT_EQ(s.parent, 500u);
  EXPECT_EQ(s.status, SlotStatus::kConfirmed);

  geyser::SubscribeUpdate meta;
  auto* bm = meta.mutable_block_meta();
  bm->set_slot(502);
  bm->set_parent_slot(501);
  bm->set_blockhash("11111111111111111111111111111111");
  bm->set_parent_blockhash("11111111111111111111111111111111");
  bm->mutable_block_height()->set_block_height(400);
  bm->mutable_block_time()->set_timestamp(1700000000);
  auto* reward = bm->mutable_rewards()->add_rewards();
  reward->set_pubkey("11111111111111111111111111111111");
  reward->set_lamports(-5);
  reward->set_reward_type(storage::Voting);
  reward->set_commission("10");
  m = FromSubscribeUpdate(meta);
  ASSERT_TRUE(m.ok()) << m.status();
  const FrameView bv = Decode(*m);
  const BlockMetaView& b = std::get<BlockMetaView>(bv.body);
  EXPECT_EQ(b.slot, 502u);
  EXPECT_EQ(b.block_height, 400u);
  EXPECT_EQ(b.block_time, 1700000000);
  ASSERT_EQ(b.reward_count(), 1u);
  EXPECT_EQ(b.reward(0).lamports, -5);
  EXPECT_EQ(b.reward(0).commission, 10);

  geyser::SubscribeUpdate entry;
  entry.mutable_entry()->set_slot(503);
  entry.mutable_entry()->set_index(2);
  entry.mutable_entry()->set_hash(std::string(32, 'h'));
  m = FromSubscribeUpdate(entry);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(std::get<EntryView>(Decode(*m).body).index, 2u);
}

TEST(UpdateConvertTest, PingPongAndUnsubscribedKinds) {
  geyser::SubscribeUpdate u;
  u.mutable_ping();
  EXPECT_EQ(FromSubscribeUpdate(u)->type, UpstreamMessage::Type::kPing);
  u.mutable_pong()->set_id(7);
  EXPECT_EQ(FromSubscribeUpdate(u)->pong_id, 7);
  u.mutable_block()->set_slot(1);
  EXPECT_EQ(FromSubscribeUpdate(u)->type, UpstreamMessage::Type::kIgnored);
}

void ExpectRefused(const geyser::SubscribeUpdate& u, const std::string& field) {
  absl::StatusOr<UpstreamMessage> m = FromSubscribeUpdate(u);
  ASSERT_FALSE(m.ok()) << field;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr(field));
}

TEST(UpdateConvertBadInputTest, RefusesEachMalformedField) {
  ExpectRefused(geyser::SubscribeUpdate(), "no update");
  geyser::SubscribeUpdate u = AccountMessage();
  u.mutable_account()->mutable_account()->set_pubkey(std::string(31, 'p'));
  ExpectRefused(u, "account pubkey is 31 bytes");
  u = AccountMessage();
  u.mutable_account()->mutable_account()->set_owner("");
  ExpectRefused(u, "account owner");
  u = AccountMessage();
  u.mutable_account()->mutable_account()->set_txn_signature(std::string(63, 's'));
  ExpectRefused(u, "txn_signature");
  u = AccountMessage();
  u.mutable_account()->clear_account();
  ExpectRefused(u, "without account info");
  u = AccountMessage();
  u.mutable_account()->mutable_account()->set_data(std::string(kMaxAccountDataSize + 1, 'd'));
  ExpectRefused(u, "account data");

  geyser::SubscribeUpdate slot;
  slot.mutable_slot()->set_status(static_cast<geyser::SlotStatus>(9));
  ExpectRefused(slot, "unknown status 9");

  geyser::SubscribeUpdate meta;
  meta.mutable_block_meta()->set_blockhash("0OIl");
  ExpectRefused(meta, "blockhash");
  meta.mutable_block_meta()->set_blockhash("11111111111111111111111111111111");
  meta.mutable_block_meta()->set_parent_blockhash("11111111111111111111111111111111");
  auto* reward = meta.mutable_block_meta()->mutable_rewards()->add_rewards();
  reward->set_pubkey("11111111111111111111111111111111");
  reward->set_reward_type(storage::DeactivatedStake);
  ExpectRefused(meta, "reward type 5");
  reward->set_reward_type(storage::Fee);
  reward->set_commission("256");
  ExpectRefused(meta, "commission");

  geyser::SubscribeUpdate entry;
  entry.mutable_entry()->set_hash("short");
  ExpectRefused(entry, "entry hash");

  geyser::SubscribeUpdate tx;
  tx.mutable_transaction()->set_slot(1);
  ExpectRefused(tx, "without transaction info");
}

}  // namespace
}  // namespace qlaster::yellowstone
