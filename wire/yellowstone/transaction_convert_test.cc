// Tests for the Yellowstone transaction conversions: real mainnet blocks round-trip to
// identical protobuf through qlaster's encodings (and their rebuilt wire bytes carry
// valid signatures), the messages are filled as Yellowstone fills them, and every kind of
// bad upstream field is refused.
#include "wire/yellowstone/transaction_convert.h"

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "solana-storage.pb.h"
#include "base/base58.h"
#include "wire/solana/programs.h"
#include "wire/solana/testing/ed25519.h"
#include "wire/solana/testing/keys.h"
#include "wire/solana/transaction_generator.h"

namespace qlaster::yellowstone {
namespace {

using solana::testing::TestKey;
using solana::testing::TestSignature;
using ::testing::HasSubstr;

std::string Str(const Pubkey& k) { return std::string(k.begin(), k.end()); }

storage::ConfirmedBlock LoadBlock(const std::string& name) {
  std::ifstream in(std::string(QLASTER_YELLOWSTONE_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  storage::ConfirmedBlock block;
  EXPECT_TRUE(block.ParseFromString(bytes)) << name;
  return block;
}

std::string Diff(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  return differencer.Compare(a, b) ? "" : report;
}

// A v0 swap with every status field set, in qlaster's form.
solana::Transaction SwapTransaction() {
  solana::Transaction tx;
  tx.version = solana::MessageVersion::kV0;
  tx.signatures = {TestSignature(7)};
  tx.header = {1, 0, 1};
  tx.account_keys = {TestKey(20), TestKey(21), solana::kJupiterV6Program};
  tx.recent_blockhash.fill(0x99);
  tx.instructions = {{2, {0, 1, 3, 4, 5}, {0xe5, 0x17, 0xcb, 0x97}}};
  tx.address_table_lookups = {{TestKey(30), {1, 2}, {9}}};
  return tx;
}

solana::TransactionStatus SwapStatus() {
  solana::TransactionStatus s;
  s.error = solana::InstructionCustomErrorBincode(0, 6001);
  s.fee = 25'000;
  s.pre_balances = {5'000'000'000, 2'039'280, 1, 2'039'280, 2'039'280, 1};
  s.post_balances = {4'999'975'000, 2'039'280, 1, 2'039'280, 2'039'280, 1};
  s.pre_token_balances = {{1, solana::kUsdcMint, TestKey(20), solana::kTokenProgram, 1'500'000, 6, 1.5, "1.5"},
                          {3, solana::kWrappedSolMint, std::nullopt, std::nullopt, 0, 9, 0, "0"}};
  s.post_token_balances = s.pre_token_balances;
  s.log_messages = std::vector<std::string>{
      "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4 invoke [1]",
      "Program log: Error: slippage tolerance exceeded"};
  s.inner_instructions = std::vector<solana::InnerInstructions>{{0, {{3, {1, 2}, {3}, 2}}}};
  s.loaded_writable_addresses = {TestKey(40), TestKey(41)};
  s.loaded_readonly_addresses = {TestKey(42)};
  s.compute_units_consumed = 48'211;
  s.cost_units = 52'000;
  s.rewards = {{TestKey(50), 10, 20, solana::RewardType::kFee, 5, std::nullopt}};
  return s;
}

geyser::SubscribeUpdateTransactionInfo SwapInfo() {
  absl::StatusOr<std::vector<uint8_t>> tx = solana::SerializeTransaction(SwapTransaction());
  absl::StatusOr<std::vector<uint8_t>> status = solana::EncodeTransactionStatus(SwapStatus());
  EXPECT_TRUE(tx.ok() && status.ok());
  geyser::SubscribeUpdateTransactionInfo info;
  EXPECT_TRUE(FillTransactionInfo(*tx, *status, 17, &info).ok());
  return info;
}

void ExpectRefused(const geyser::SubscribeUpdateTransactionInfo& info, const std::string& what,
                   absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  absl::StatusOr<TransactionRecord> record = FromTransactionInfo(info);
  ASSERT_FALSE(record.ok()) << "accepted, expected an error about " << what;
  EXPECT_EQ(record.status().code(), code) << record.status();
  EXPECT_THAT(std::string(record.status().message()), HasSubstr(what));
}

class MainnetBlockTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MainnetBlockTest, EveryTransactionRoundTripsAndItsSignaturesVerify) {
  const storage::ConfirmedBlock block = LoadBlock(GetParam());
  ASSERT_GT(block.transactions_size(), 0);
  size_t votes = 0;
  size_t failed = 0;
  for (int i = 0; i < block.transactions_size(); ++i) {
    const storage::ConfirmedTransaction& confirmed = block.transactions(i);
    geyser::SubscribeUpdateTransactionInfo info;
    info.set_signature(confirmed.transaction().signatures(0));
    *info.mutable_transaction() = confirmed.transaction();
    *info.mutable_meta() = confirmed.meta();
    info.set_index(i);

    absl::StatusOr<TransactionRecord> record = FromTransactionInfo(info);
    ASSERT_TRUE(record.ok()) << "transaction " << i << ": " << record.status();
    absl::StatusOr<solana::TransactionView> view = solana::ParseTransaction(record->transaction);
    ASSERT_TRUE(view.ok()) << view.status();
    // Signatures made on mainnet verify over the message we serialized: byte-exact.
    EXPECT_TRUE(solana::testing::SignaturesVerify(*view)) << "transaction " << i;
    EXPECT_EQ(record->failed, confirmed.meta().has_err());
    failed += record->failed;
    votes += view->IsSimpleVote();

    info.set_is_vote(view->IsSimpleVote());
    geyser::SubscribeUpdateTransactionInfo back;
    ASSERT_TRUE(FillTransactionInfo(record->transaction, record->status, i, &back).ok());
    EXPECT_EQ(Diff(info, back), "") << "transaction " << i;
  }
  // Both blocks hold votes and failed transactions (18144001 holds nothing but votes).
  EXPECT_GT(votes, 0u);
  EXPECT_GT(failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MainnetBlockTest,
                         ::testing::Values("mainnet_block_18144001.pb", "mainnet_block_43200000.pb"));

TEST(TransactionConvertTest, FillsAsYellowstoneDoes) {
  const geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  EXPECT_EQ(info.signature(), std::string(64, 7));
  EXPECT_FALSE(info.is_vote());
  EXPECT_EQ(info.index(), 17u);
  const storage::Message& m = info.transaction().message();
  EXPECT_TRUE(m.versioned());
  EXPECT_FALSE(m.has_config());
  EXPECT_EQ(m.header().num_readonly_unsigned_accounts(), 1u);
  EXPECT_EQ(m.account_keys_size(), 3);
  EXPECT_EQ(m.account_keys(2), Str(solana::kJupiterV6Program));
  ASSERT_EQ(m.address_table_lookups_size(), 1);
  EXPECT_EQ(m.address_table_lookups(0).writable_indexes(), std::string("\x01\x02", 2));
  EXPECT_EQ(m.instructions(0).accounts(), std::string("\x00\x01\x03\x04\x05", 5));

  const storage::TransactionStatusMeta& meta = info.meta();
  EXPECT_EQ(meta.err().err(), std::string("\x08\x00\x00\x00\x00\x19\x00\x00\x00\x71\x17\x00\x00", 13));
  EXPECT_EQ(meta.fee(), 25'000u);
  EXPECT_FALSE(meta.log_messages_none());
  EXPECT_FALSE(meta.inner_instructions_none());
  EXPECT_TRUE(meta.return_data_none());
  EXPECT_FALSE(meta.has_return_data());
  EXPECT_EQ(meta.compute_units_consumed(), 48'211u);
  EXPECT_EQ(meta.cost_units(), 52'000u);
  EXPECT_EQ(meta.inner_instructions(0).instructions(0).stack_height(), 2u);
  const storage::TokenBalance& usdc = meta.pre_token_balances(0);
  EXPECT_EQ(usdc.mint(), "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
  EXPECT_EQ(usdc.program_id(), "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  EXPECT_EQ(usdc.ui_token_amount().amount(), "1500000");
  EXPECT_EQ(usdc.ui_token_amount().decimals(), 6u);
  EXPECT_EQ(usdc.ui_token_amount().ui_amount_string(), "1.5");
  EXPECT_EQ(meta.pre_token_balances(1).owner(), "");  // absent
  EXPECT_EQ(meta.rewards(0).commission(), "5");
  EXPECT_EQ(meta.rewards(0).commission_bps(), "");
  EXPECT_EQ(meta.rewards(0).reward_type(), storage::Fee);
  EXPECT_EQ(meta.loaded_writable_addresses_size(), 2);
  EXPECT_EQ(meta.loaded_readonly_addresses(0), Str(TestKey(42)));
}

TEST(TransactionConvertTest, AbsentListsSetTheNoneFlags) {
  solana::TransactionStatus s;
  s.return_data = solana::ReturnData{TestKey(3), {1, 2}};
  absl::StatusOr<std::vector<uint8_t>> status = solana::EncodeTransactionStatus(s);
  absl::StatusOr<std::vector<uint8_t>> tx = solana::SerializeTransaction(SwapTransaction());
  ASSERT_TRUE(status.ok() && tx.ok());
  geyser::SubscribeUpdateTransactionInfo info;
  ASSERT_TRUE(FillTransactionInfo(*tx, *status, 0, &info).ok());
  EXPECT_TRUE(info.meta().log_messages_none());
  EXPECT_TRUE(info.meta().inner_instructions_none());
  EXPECT_FALSE(info.meta().return_data_none());
  EXPECT_EQ(info.meta().return_data().data(), "\x01\x02");
  EXPECT_FALSE(info.meta().has_err());
  EXPECT_FALSE(info.meta().has_compute_units_consumed());
}

TEST(TransactionConvertTest, RoundTripsOurFormsExactly) {
  const geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  geyser::SubscribeUpdateTransaction update;
  *update.mutable_transaction() = info;
  update.set_slot(300'000'123);
  absl::StatusOr<SlotTransactionRecord> back = FromUpdateTransaction(update);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->slot, 300'000'123u);
  EXPECT_EQ(back->record.index, 17u);
  EXPECT_TRUE(back->record.failed);
  EXPECT_EQ(back->record.signature, TestSignature(7));
  EXPECT_EQ(back->record.transaction, *solana::SerializeTransaction(SwapTransaction()));
  EXPECT_EQ(back->record.status, *solana::EncodeTransactionStatus(SwapStatus()));
}

TEST(TransactionConvertTest, GeneratedTransactionsRoundTripThroughYellowstone) {
  const solana::TransactionGenerator gen;
  for (uint32_t i = 0; i < 2000; ++i) {
    const solana::GeneratedTransaction g = gen.Generate(350'000'000 + i / 500, i % 500);
    geyser::SubscribeUpdateTransaction update;
    ASSERT_TRUE(FillUpdateTransaction(g.transaction, g.status, 350'000'000, i, &update).ok());
    EXPECT_EQ(update.transaction().is_vote(), g.kind == solana::TransactionKind::kVote);
    EXPECT_EQ(update.transaction().meta().has_err(), g.failed);
    // The bytes clients receive parse back (a client re-sending to another qlaster).
    geyser::SubscribeUpdateTransaction reparsed;
    ASSERT_TRUE(reparsed.ParseFromString(update.SerializeAsString()));
    absl::StatusOr<SlotTransactionRecord> back = FromUpdateTransaction(reparsed);
    ASSERT_TRUE(back.ok()) << i << ": " << back.status();
    EXPECT_EQ(back->record.transaction, g.transaction);
    EXPECT_EQ(back->record.status, g.status);
    EXPECT_EQ(back->record.signature, g.signature);
  }
}

TEST(TransactionConvertTest, FillsTheStatusUpdate) {
  const std::vector<uint8_t> tx = *solana::SerializeTransaction(SwapTransaction());
  const std::vector<uint8_t> status = *solana::EncodeTransactionStatus(SwapStatus());
  geyser::SubscribeUpdateTransactionStatus update;
  ASSERT_TRUE(FillUpdateTransactionStatus(tx, status, 9, 4, &update).ok());
  EXPECT_EQ(update.slot(), 9u);
  EXPECT_EQ(update.index(), 4u);
  EXPECT_EQ(update.signature(), std::string(64, 7));
  const std::vector<uint8_t> error = solana::InstructionCustomErrorBincode(0, 6001);
  EXPECT_EQ(update.err().err(), std::string(error.begin(), error.end()));
  std::vector<uint8_t> corrupt = status;
  corrupt[0] = 9;
  EXPECT_EQ(FillUpdateTransactionStatus(tx, corrupt, 9, 4, &update).code(), absl::StatusCode::kDataLoss);
}

TEST(TransactionConvertBadInputTest, RefusesMissingParts) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.clear_meta();
  ExpectRefused(info, "without a meta");
  info = SwapInfo();
  info.mutable_transaction()->clear_message();
  ExpectRefused(info, "without a message");
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->clear_header();
  ExpectRefused(info, "without a header");
}

TEST(TransactionConvertBadInputTest, RefusesWrongSizedKeysSignaturesAndHashes) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.mutable_transaction()->set_signatures(0, std::string(63, 1));
  ExpectRefused(info, "signature is 63 bytes");
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->set_account_keys(1, std::string(31, 1));
  ExpectRefused(info, "account key is 31 bytes");
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->set_recent_blockhash("short");
  ExpectRefused(info, "recent_blockhash is 5 bytes");
  info = SwapInfo();
  info.mutable_meta()->set_loaded_readonly_addresses(0, std::string(33, 0));
  ExpectRefused(info, "loaded readonly address is 33 bytes");
  info = SwapInfo();
  info.set_signature(std::string(64, 8));
  ExpectRefused(info, "not the transaction's first signature");
}

TEST(TransactionConvertBadInputTest, RefusesOutOfRangeNumbers) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.mutable_transaction()->mutable_message()->mutable_header()->set_num_readonly_unsigned_accounts(256);
  ExpectRefused(info, "num_readonly_unsigned_accounts 256 does not fit a u8");
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->mutable_instructions(0)->set_program_id_index(300);
  ExpectRefused(info, "program_id_index 300");
  info = SwapInfo();
  info.mutable_meta()->mutable_inner_instructions(0)->set_index(256);
  ExpectRefused(info, "inner instructions index 256");
  info = SwapInfo();
  info.mutable_meta()->mutable_rewards(0)->set_reward_type(static_cast<storage::RewardType>(9));
  ExpectRefused(info, "reward_type 9");
  info = SwapInfo();
  info.mutable_meta()->mutable_rewards(0)->set_commission("256");
  ExpectRefused(info, "reward commission \"256\"");
}

TEST(TransactionConvertBadInputTest, RefusesBadStrings) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.mutable_meta()->mutable_pre_token_balances(0)->set_mint("not base58 0OIl");
  ExpectRefused(info, "token balance mint");
  for (const char* amount : {"007", "-1", "", "18446744073709551616", "1e3"}) {
    info = SwapInfo();
    info.mutable_meta()->mutable_post_token_balances(0)->mutable_ui_token_amount()->set_amount(amount);
    ExpectRefused(info, "token balance amount");
  }
  info = SwapInfo();
  info.mutable_meta()->mutable_pre_token_balances(0)->clear_ui_token_amount();
  ExpectRefused(info, "without ui_token_amount");
  info = SwapInfo();
  info.mutable_meta()->mutable_rewards(0)->set_pubkey("3x");
  ExpectRefused(info, "reward pubkey");
}

TEST(TransactionConvertBadInputTest, RefusesContradictoryNoneFlags) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.mutable_meta()->set_log_messages_none(true);
  ExpectRefused(info, "log_messages_none with log messages");
  info = SwapInfo();
  info.mutable_meta()->set_inner_instructions_none(true);
  ExpectRefused(info, "inner_instructions_none with inner instructions");
  info = SwapInfo();
  info.mutable_meta()->mutable_return_data()->set_program_id(std::string(32, 1));
  ExpectRefused(info, "return_data_none with return data");
}

TEST(TransactionConvertBadInputTest, RefusesWhatTheWireFormatCannotCarry) {
  geyser::SubscribeUpdateTransactionInfo info = SwapInfo();
  info.mutable_transaction()->mutable_message()->set_versioned(false);
  ExpectRefused(info, "legacy message (versioned false) with address table lookups");
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->mutable_config()->set_compute_unit_limit(1);
  ExpectRefused(info, "version 1 messages", absl::StatusCode::kUnimplemented);
  info = SwapInfo();
  info.mutable_transaction()->mutable_message()->mutable_instructions(0)->set_accounts(
      std::string("\x00\x09", 2));
  ExpectRefused(info, "account index 9 >= 6 accounts");
  info = SwapInfo();
  info.mutable_meta()->add_loaded_writable_addresses(std::string(32, 3));
  ExpectRefused(info, "3 writable and 1 readonly loaded addresses, the lookups select 2 and 1");
  info = SwapInfo();
  for (int i = 0; i < 30; ++i) info.mutable_transaction()->add_signatures(std::string(64, 1));
  ExpectRefused(info, "signatures cannot fit");
}

}  // namespace
}  // namespace qlaster::yellowstone
