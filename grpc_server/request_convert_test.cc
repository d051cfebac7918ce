#include "grpc_server/request_convert.h"

#include "gtest/gtest.h"

namespace qlaster::grpc_endpoint {
namespace {

constexpr char kToken[] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

TEST(RequestConvertTest, EveryFilterKind) {
  geyser::SubscribeRequest r;
  auto& a = (*r.mutable_accounts())["tok"];
  a.add_owner(kToken);
  a.set_nonempty_txn_signature(true);
  a.add_filters()->set_datasize(165);
  a.add_filters()->set_token_account_state(true);
  auto* m = a.add_filters()->mutable_memcmp();
  m->set_offset(32);
  m->set_base64("AQID");
  a.add_filters()->mutable_lamports()->set_gt(5);
  auto& t = (*r.mutable_transactions())["t"];
  t.set_vote(false);
  t.add_account_required(kToken);
  (*r.mutable_transactions_status())["st"].set_failed(true);
  auto& sl = (*r.mutable_slots())["s"];
  sl.set_filter_by_commitment(true);
  (*r.mutable_blocks_meta())["bm"];
  (*r.mutable_entry())["e"];
  auto* ds = r.add_accounts_data_slice();
  ds->set_offset(0);
  ds->set_length(32);
  r.set_commitment(geyser::CONFIRMED);
  r.set_from_slot(77);

  absl::StatusOr<Subscription> s = ToSubscription(r);
  ASSERT_TRUE(s.ok()) << s.status();
  const AccountFilter& f = s->accounts.at("tok");
  ASSERT_EQ(f.owners.size(), 1u);
  EXPECT_EQ(f.owners[0].ToBase58(), kToken);
  EXPECT_EQ(f.datasize, 165u);
  EXPECT_TRUE(f.token_account_state);
  EXPECT_EQ(f.nonempty_txn_signature, true);
  ASSERT_EQ(f.memcmp.size(), 1u);
  EXPECT_EQ(f.memcmp[0].offset, 32u);
  EXPECT_EQ(f.memcmp[0].bytes, (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_EQ(f.lamports.size(), 1u);
  EXPECT_EQ(f.lamports[0], (LamportsFilter{LamportsOp::kGt, 5}));
  EXPECT_EQ(s->transactions.at("t").vote, false);
  EXPECT_EQ(s->transactions.at("t").account_required.size(), 1u);
  EXPECT_EQ(s->transaction_statuses.at("st").failed, true);
  EXPECT_TRUE(s->slots.at("s").filter_by_commitment);
  EXPECT_EQ(s->blocks_meta.count("bm"), 1u);
  EXPECT_EQ(s->entries.count("e"), 1u);
  EXPECT_EQ(s->data_slices, (std::vector<DataSlice>{{0, 32}}));
  EXPECT_EQ(s->commitment, Commitment::kConfirmed);
  EXPECT_EQ(s->from_slot, 77u);
  EXPECT_FALSE(IsPingOnly(r));
}

TEST(RequestConvertTest, RefusesWhatItCannotServe) {
  geyser::SubscribeRequest blocks;
  (*blocks.mutable_blocks())["b"];
  EXPECT_EQ(ToSubscription(blocks).status().code(), absl::StatusCode::kUnimplemented);

  geyser::SubscribeRequest key;
  (*key.mutable_accounts())["a"].add_account("0OIl");
  absl::Status s = ToSubscription(key).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("accounts[a].account"), absl::string_view::npos) << s;

  geyser::SubscribeRequest b64;
  (*b64.mutable_accounts())["a"].add_filters()->mutable_memcmp()->set_base64("!!");
  EXPECT_EQ(ToSubscription(b64).status().code(), absl::StatusCode::kInvalidArgument);

  geyser::SubscribeRequest empty_filter;
  (*empty_filter.mutable_accounts())["a"].add_filters();
  EXPECT_EQ(ToSubscription(empty_filter).status().code(), absl::StatusCode::kInvalidArgument);

  geyser::SubscribeRequest sig;
  (*sig.mutable_transactions())["t"].set_signature("abc");
  EXPECT_EQ(ToSubscription(sig).status().code(), absl::StatusCode::kInvalidArgument);

  geyser::SubscribeRequest commitment;
  commitment.set_commitment(static_cast<geyser::CommitmentLevel>(9));
  EXPECT_EQ(ToSubscription(commitment).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestConvertTest, PingOnly) {
  geyser::SubscribeRequest r;
  r.mutable_ping()->set_id(3);
  EXPECT_TRUE(IsPingOnly(r));
  (*r.mutable_slots())["s"];
  EXPECT_FALSE(IsPingOnly(r));
  EXPECT_FALSE(IsPingOnly(geyser::SubscribeRequest()));
}

}  // namespace
}  // namespace qlaster::grpc_endpoint
