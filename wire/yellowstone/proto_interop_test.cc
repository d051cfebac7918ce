// The C++ and Python code generated from proto/yellowstone/ agree on the wire: messages
// built in C++ (a transaction update from the real conversion, a subscription using every
// kind of field: maps, oneofs, proto3 optionals, enums, repeated) parse in Python
// (grpcio's protobuf, stubs from grpc_python_plugin) with the same values, and messages
// built in Python parse here with the values the script set. The script also checks
// that the generated gRPC module has the Geyser stub and servicer with every RPC.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "geyser.grpc.pb.h"
#include "gtest/gtest.h"
#include "wire/solana/programs.h"
#include "wire/solana/testing/keys.h"
#include "wire/yellowstone/transaction_convert.h"

namespace qlaster::yellowstone {
namespace {

using solana::testing::TestKey;
using solana::testing::TestSignature;

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What the script expects, field for field (proto_interop_test.py restates it).
geyser::SubscribeUpdate CppUpdate() {
  solana::Transaction tx;
  tx.version = solana::MessageVersion::kV0;
  tx.signatures = {TestSignature(7)};
  tx.header = {1, 0, 1};
  tx.account_keys = {TestKey(20), TestKey(21), solana::kJupiterV6Program};
  tx.recent_blockhash.fill(0x99);
  tx.instructions = {{2, {0, 1, 3}, {0xe5, 0x17}}};
  tx.address_table_lookups = {{TestKey(30), {4}, {}}};
  solana::TransactionStatus s;
  s.error = solana::InstructionCustomErrorBincode(0, 6001);
  s.fee = 5000;
  s.pre_balances = {10, 20, 1, 30};
  s.post_balances = {5, 20, 1, 30};
  s.log_messages = std::vector<std::string>{"Program log: hi"};
  s.loaded_writable_addresses = {TestKey(40)};
  s.compute_units_consumed = 1234;
  s.pre_token_balances = {{1, solana::kUsdcMint, TestKey(20), solana::kTokenProgram, 1'500'000, 6, 1.5, "1.5"}};
  geyser::SubscribeUpdate update;
  update.add_filters("txs");
  const absl::Status filled = FillUpdateTransaction(*solana::SerializeTransaction(tx),
                                                    *solana::EncodeTransactionStatus(s), 300'000'001,
                                                    42, update.mutable_transaction());
  EXPECT_TRUE(filled.ok()) << filled;
  update.mutable_created_at()->set_seconds(1'700'000'000);
  update.mutable_created_at()->set_nanos(5);
  return update;
}

geyser::SubscribeRequest CppRequest() {
  geyser::SubscribeRequest r;
  geyser::SubscribeRequestFilterAccounts& a = (*r.mutable_accounts())["usdc"];
  a.add_owner("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  a.add_account("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
  a.set_nonempty_txn_signature(false);
  geyser::SubscribeRequestFilterAccountsFilterMemcmp* memcmp = a.add_filters()->mutable_memcmp();
  memcmp->set_offset(32);
  memcmp->set_base58("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
  a.add_filters()->set_datasize(165);
  a.add_filters()->set_token_account_state(true);
  a.add_filters()->mutable_lamports()->set_gt(2'039'280);
  geyser::SubscribeRequestFilterTransactions& t = (*r.mutable_transactions())["swaps"];
  t.set_vote(false);
  t.add_account_include("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4");
  t.add_account_required("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v");
  t.set_token_accounts(geyser::BALANCE_CHANGED);
  (*r.mutable_slots())["slots"].set_filter_by_commitment(true);
  (*r.mutable_blocks_meta())["meta"];
  (*r.mutable_entry())["entries"];
  r.set_commitment(geyser::CONFIRMED);
  geyser::SubscribeRequestAccountsDataSlice* slice = r.add_accounts_data_slice();
  slice->set_offset(0);
  slice->set_length(40);
  r.mutable_ping()->set_id(7);
  r.set_from_slot(299'999'000);
  return r;
}

TEST(ProtoInteropTest, CppAndPythonAgreeOnEveryKindOfField) {
  absl::StatusOr<TempDir> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string cpp_update = dir->path() + "/cpp_update.bin";
  const std::string cpp_request = dir->path() + "/cpp_request.bin";
  const std::string py_update = dir->path() + "/py_update.bin";
  const std::string py_request = dir->path() + "/py_request.bin";
  WriteFile(cpp_update, CppUpdate().SerializeAsString());
  WriteFile(cpp_request, CppRequest().SerializeAsString());

  absl::StatusOr<ChildProcess> python = ChildProcess::Spawn(
      {QLASTER_GRPC_PYTHON, QLASTER_INTEROP_SCRIPT, QLASTER_YELLOWSTONE_PYTHON_DIR, cpp_update,
       cpp_request, py_update, py_request});
  ASSERT_TRUE(python.ok()) << python.status();
  absl::StatusOr<int> wait = python->Wait(absl::Seconds(120));
  ASSERT_TRUE(wait.ok()) << wait.status();
  ASSERT_TRUE(WIFEXITED(*wait) && WEXITSTATUS(*wait) == 0)
      << "the Python side failed: " << DescribeWaitStatus(*wait);

  geyser::SubscribeUpdate account_update;
  ASSERT_TRUE(account_update.ParseFromString(ReadFile(py_update)));
  ASSERT_EQ(account_update.filters_size(), 2);
  EXPECT_EQ(account_update.filters(1), "b");
  ASSERT_EQ(account_update.update_oneof_case(), geyser::SubscribeUpdate::kAccount);
  const geyser::SubscribeUpdateAccount& account = account_update.account();
  EXPECT_EQ(account.slot(), 250'000'000u);
  EXPECT_TRUE(account.is_startup());
  EXPECT_EQ(account.account().pubkey(), std::string(32, 1));
  EXPECT_EQ(account.account().owner(), std::string(32, 2));
  EXPECT_EQ(account.account().lamports(), 2'039'280u);
  EXPECT_TRUE(account.account().executable());
  EXPECT_EQ(account.account().rent_epoch(), UINT64_MAX);
  EXPECT_EQ(account.account().data(), std::string("\x00\x01\xff", 3));
  EXPECT_EQ(account.account().write_version(), 987'654'321'012u);
  ASSERT_TRUE(account.account().has_txn_signature());
  EXPECT_EQ(account.account().txn_signature(), std::string(64, 9));
  EXPECT_EQ(account_update.created_at().seconds(), 1'700'000'001);

  geyser::SubscribeRequest request;
  ASSERT_TRUE(request.ParseFromString(ReadFile(py_request)));
  ASSERT_EQ(request.slots().count("s"), 1u);
  EXPECT_TRUE(request.slots().at("s").has_interslot_updates());
  EXPECT_FALSE(request.slots().at("s").interslot_updates());
  EXPECT_FALSE(request.slots().at("s").has_filter_by_commitment());
  ASSERT_EQ(request.transactions_status().count("st"), 1u);
  EXPECT_TRUE(request.transactions_status().at("st").has_failed());
  EXPECT_TRUE(request.transactions_status().at("st").failed());
  EXPECT_EQ(request.transactions_status().at("st").signature(), "5sig");
  ASSERT_EQ(request.accounts().count("m"), 1u);
  const auto& filters = request.accounts().at("m").filters();
  ASSERT_EQ(filters.size(), 2);
  EXPECT_EQ(filters[0].memcmp().bytes(), std::string("\x06\xdd", 2));
  EXPECT_EQ(filters[1].lamports().cmp_case(),
            geyser::SubscribeRequestFilterAccountsFilterLamports::kNe);
  EXPECT_EQ(filters[1].lamports().ne(), 0u);
  EXPECT_EQ(request.commitment(), geyser::FINALIZED);
  EXPECT_FALSE(request.has_from_slot());
  ASSERT_EQ(request.blocks().count("b"), 1u);
  EXPECT_TRUE(request.blocks().at("b").include_transactions());
  EXPECT_FALSE(request.blocks().at("b").has_include_accounts());
}

}  // namespace
}  // namespace qlaster::yellowstone
