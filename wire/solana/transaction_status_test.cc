// Tests for the transaction status encoding: round trips of every field, absent versus
// empty, the fixed-offset loaded addresses the sender reads, the limits, and one case per
// kind of malformed input.
#include "wire/solana/transaction_status.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wire/solana/testing/keys.h"

namespace qlaster::solana {
namespace {

using testing::TestKey;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TransactionStatus FullStatus() {
  TransactionStatus s;
  s.error = InstructionCustomErrorBincode(2, 6001);
  s.fee = 105'000;
  s.pre_balances = {1'000'000'000, 2'039'280, 1};
  s.post_balances = {999'895'000, 2'039'280, 1};
  s.pre_token_balances = {{1, TestKey(5), TestKey(6), TestKey(7), 1'500'000, 6, 1.5, "1.5"},
                          {2, TestKey(8), std::nullopt, std::nullopt, 0, 9, 0, "0"}};
  s.post_token_balances = {{1, TestKey(5), TestKey(6), TestKey(7), 1'000'000, 6, 1.0, "1"}};
  s.log_messages = std::vector<std::string>{
      "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4 invoke [1]",
      "Program log: Instruction: Route", ""};
  s.inner_instructions = std::vector<InnerInstructions>{
      {0, {{3, {1, 2}, {0x03, 0x40}, 2}, {4, {}, {}, std::nullopt}}}, {2, {}}};
  s.loaded_writable_addresses = {TestKey(20), TestKey(21)};
  s.loaded_readonly_addresses = {TestKey(22)};
  s.return_data = ReturnData{TestKey(9), {1, 2, 3}};
  s.compute_units_consumed = 123'456;
  s.cost_units = 130'000;
  s.rewards = {{TestKey(30), -5, 77, RewardType::kFee, std::nullopt, std::nullopt},
               {TestKey(31), 1000, 2000, RewardType::kVoting, 10, 1000}};
  return s;
}

std::vector<uint8_t> Encode(const TransactionStatus& s) {
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeTransactionStatus(s);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::vector<uint8_t>{};
}

void ExpectCorrupt(const std::vector<uint8_t>& bytes, const std::string& what) {
  absl::StatusOr<TransactionStatusView> view = DecodeTransactionStatus(bytes);
  ASSERT_FALSE(view.ok()) << "decoded, expected an error about " << what;
  EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss) << view.status();
  EXPECT_THAT(std::string(view.status().message()), HasSubstr(what));
}

void ExpectTooLarge(const TransactionStatus& s, const std::string& what) {
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeTransactionStatus(s);
  ASSERT_FALSE(bytes.ok()) << "encoded, expected a limit on " << what;
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bytes.status().message()), HasSubstr(what));
}

TEST(TransactionStatusTest, RoundTripsEveryField) {
  const TransactionStatus s = FullStatus();
  const std::vector<uint8_t> bytes = Encode(s);
  absl::StatusOr<TransactionStatusView> view = DecodeTransactionStatus(bytes);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_TRUE(view->failed());
  EXPECT_EQ(view->fee(), 105'000u);
  EXPECT_EQ(view->compute_units_consumed(), 123'456u);
  EXPECT_EQ(view->post_balances()[0], 999'895'000u);
  ASSERT_TRUE(view->has_log_messages());
  EXPECT_EQ(view->log_messages().size(), 3u);
  EXPECT_EQ(*view->log_messages().begin(), s.log_messages->front());
  TokenBalanceView second;
  for (const TokenBalanceView& b : view->pre_token_balances()) second = b;
  EXPECT_EQ(second.account_index, 2);
  EXPECT_TRUE(second.owner.empty());
  EXPECT_EQ(second.ui_amount_string, "0");
  EXPECT_EQ(ToTransactionStatus(*view), s);
  EXPECT_EQ(Encode(ToTransactionStatus(*view)), bytes);
}

TEST(TransactionStatusTest, KeepsAbsentApartFromEmpty) {
  TransactionStatus absent;
  TransactionStatus empty;
  empty.log_messages.emplace();
  empty.inner_instructions.emplace();
  for (const TransactionStatus& s : {absent, empty}) {
    const std::vector<uint8_t> bytes = Encode(s);
    absl::StatusOr<TransactionStatusView> view = DecodeTransactionStatus(bytes);
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_FALSE(view->failed());
    EXPECT_FALSE(view->return_data().has_value());
    EXPECT_FALSE(view->compute_units_consumed().has_value());
    EXPECT_EQ(ToTransactionStatus(*view), s);
  }
  // Header, two empty balance lists, two empty token lists, no rewards.
  EXPECT_EQ(Encode(absent).size(), kStatusHeaderSize + 5 * 4);
  EXPECT_EQ(Encode(empty).size(), kStatusHeaderSize + 7 * 4);
}

TEST(TransactionStatusTest, PeekReadsLoadedAddressesAtAFixedOffset) {
  const std::vector<uint8_t> bytes = Encode(FullStatus());
  absl::StatusOr<TransactionStatusSummary> summary = PeekTransactionStatus(bytes);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->failed);
  EXPECT_EQ(summary->fee, 105'000u);
  ASSERT_EQ(summary->loaded_writable_count(), 2u);
  ASSERT_EQ(summary->loaded_readonly_count(), 1u);
  EXPECT_EQ(summary->loaded_writable.data(), bytes.data() + kStatusHeaderSize);
  EXPECT_EQ(summary->loaded_readonly.data(), bytes.data() + kStatusHeaderSize + 64);
  EXPECT_EQ(summary->loaded_readonly[0], 22);
  // The units and the error follow the keys; Peek reads them too, and nothing after.
  EXPECT_EQ(summary->compute_units_consumed, FullStatus().compute_units_consumed);
  EXPECT_EQ(summary->cost_units, FullStatus().cost_units);
  ASSERT_TRUE(summary->error.has_value());
  EXPECT_EQ(std::vector<uint8_t>(summary->error->begin(), summary->error->end()), *FullStatus().error);
  const size_t front = static_cast<size_t>(summary->rest - bytes.data());
  EXPECT_TRUE(PeekTransactionStatus(absl::MakeConstSpan(bytes.data(), front)).ok());
  EXPECT_FALSE(PeekTransactionStatus(absl::MakeConstSpan(bytes.data(), front - 1)).ok());
}

TEST(TransactionStatusTest, BincodeOfInstructionErrorMatchesMainnet) {
  // A failed transaction of mainnet block 18144001 (the Yellowstone fixtures) carries
  // exactly these bytes: InstructionError(0, Custom(0)).
  EXPECT_THAT(InstructionCustomErrorBincode(0, 0),
              ElementsAre(8, 0, 0, 0, 0, 25, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_THAT(InstructionCustomErrorBincode(3, 0x1771),
              ElementsAre(8, 0, 0, 0, 3, 25, 0, 0, 0, 0x71, 0x17, 0, 0));
  EXPECT_THAT(InsufficientFundsForFeeBincode(), ElementsAre(4, 0, 0, 0));
}

TEST(TransactionStatusTest, EncoderRefusesWhatExceedsTheLimits) {
  TransactionStatus s;
  s.loaded_writable_addresses.resize(200);
  s.loaded_readonly_addresses.resize(56);
  ExpectTooLarge(s, "256 loaded addresses");
  s = {};
  s.pre_balances.resize(kMaxBalances + 1);
  ExpectTooLarge(s, "pre balances");
  s = {};
  s.post_token_balances.resize(kMaxTokenBalances + 1);
  ExpectTooLarge(s, "post token balances");
  s = {};
  s.error = std::vector<uint8_t>(kMaxErrorSize + 1);
  ExpectTooLarge(s, "bytes of error");
  s = {};
  s.log_messages = std::vector<std::string>(kMaxLogMessages + 1);
  ExpectTooLarge(s, "log messages");
  s = {};
  s.inner_instructions = std::vector<InnerInstructions>(2);
  (*s.inner_instructions)[0].instructions.resize(kMaxInnerInstructions);
  (*s.inner_instructions)[1].instructions.resize(1);
  ExpectTooLarge(s, "inner instructions");
  s = {};
  s.return_data = ReturnData{TestKey(1), std::vector<uint8_t>(kMaxReturnDataSize + 1)};
  ExpectTooLarge(s, "bytes of return data");
  s = {};
  s.rewards.resize(1);
  s.rewards[0].reward_type = static_cast<RewardType>(6);
  ExpectTooLarge(s, "reward type 6");
}

TEST(TransactionStatusCorruptionTest, EveryTruncationIsDataLoss) {
  const std::vector<uint8_t> bytes = Encode(FullStatus());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<TransactionStatusView> view =
        DecodeTransactionStatus(absl::MakeConstSpan(bytes.data(), n));
    ASSERT_FALSE(view.ok()) << n;
    EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(TransactionStatusCorruptionTest, RejectsUnknownVersionAndFlags) {
  std::vector<uint8_t> bytes = Encode(FullStatus());
  bytes[0] = 2;
  ExpectCorrupt(bytes, "format version 2");
  bytes = Encode(FullStatus());
  bytes[1] |= 0x40;
  ExpectCorrupt(bytes, "unknown bits");
}

TEST(TransactionStatusCorruptionTest, RejectsTooManyLoadedAddresses) {
  std::vector<uint8_t> bytes = Encode(TransactionStatus{});
  bytes[2] = 200;
  bytes[3] = 56;
  ExpectCorrupt(bytes, "200 + 56 loaded addresses");
  bytes[3] = 1;
  ExpectCorrupt(bytes, "201 loaded addresses do not fit");
}

TEST(TransactionStatusCorruptionTest, RejectsTrailingBytes) {
  std::vector<uint8_t> bytes = Encode(FullStatus());
  bytes.push_back(0);
  ExpectCorrupt(bytes, "1 trailing bytes");
}

TEST(TransactionStatusCorruptionTest, RejectsCountsOverLimitsOrBeyondTheBytes) {
  TransactionStatus s;
  std::vector<uint8_t> bytes = Encode(s);
  // The pre balance count sits right after the header.
  bytes[kStatusHeaderSize] = 0x01;
  bytes[kStatusHeaderSize + 1] = 0x01;  // 257
  ExpectCorrupt(bytes, "257 pre balances, over the limit of 256");
  bytes[kStatusHeaderSize + 1] = 0;
  bytes[kStatusHeaderSize] = 3;
  ExpectCorrupt(bytes, "3 pre balances cannot fit");
}

TEST(TransactionStatusCorruptionTest, RejectsBadRewards) {
  TransactionStatus s;
  s.rewards = {{TestKey(1), 1, 2, RewardType::kStaking, std::nullopt, std::nullopt}};
  const std::vector<uint8_t> good = Encode(s);
  const size_t reward = good.size() - 53;
  std::vector<uint8_t> bytes = good;
  bytes[reward + 48] = 6;
  ExpectCorrupt(bytes, "reward type 6");
  bytes = good;
  bytes[reward + 49] = 0x04;
  ExpectCorrupt(bytes, "reward flags");
  bytes = good;
  bytes[reward + 50] = 7;
  ExpectCorrupt(bytes, "commission is set but flagged absent");
}

TEST(TransactionStatusCorruptionTest, RejectsUnknownTokenBalanceFlags) {
  TransactionStatus s;
  s.pre_token_balances = {{1, TestKey(5), std::nullopt, std::nullopt, 7, 0, 7, "7"}};
  std::vector<uint8_t> bytes = Encode(s);
  // Header, empty pre and post balances, the token balance count, then the balance.
  bytes[kStatusHeaderSize + 12 + 2] = 0x04;
  ExpectCorrupt(bytes, "token balance flags");
}

}  // namespace
}  // namespace qlaster::solana
