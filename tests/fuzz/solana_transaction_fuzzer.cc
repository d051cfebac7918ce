// libFuzzer target for ParseTransaction: transaction bytes come from upstreams, rings and
// record files, so any bytes must parse or fail with kDataLoss, never crash or read out
// of bounds. A transaction that parses is read through every accessor and rebuilt:
// ParseTransaction accepts only canonical encodings, so the builder must give back the
// input exactly. Each input is also applied as an overlay onto a generated transaction,
// so the fuzzer explores deep inside valid messages without a seed corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/overlay.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_generator.h"

namespace {

using qlaster::solana::ParseTransaction;
using qlaster::solana::TransactionView;

void Check(const uint8_t* data, size_t size) {
  absl::StatusOr<TransactionView> view = ParseTransaction(absl::MakeConstSpan(data, size));
  if (!view.ok()) {
    FUZZ_CHECK(view.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  FUZZ_CHECK(view->signature_count() >= 1);
  FUZZ_CHECK(view->account_count() <= qlaster::solana::kMaxAccounts);
  size_t instructions = 0;
  for (const qlaster::solana::InstructionView& ix : view->instructions()) {
    FUZZ_CHECK(ix.program_id_index > 0 && ix.program_id_index < view->static_key_count());
    for (uint8_t a : ix.accounts) FUZZ_CHECK(a < view->account_count());
    ++instructions;
  }
  FUZZ_CHECK(instructions == view->instruction_count());
  size_t loaded = 0;
  for (const qlaster::solana::AddressTableLookupView& l : view->address_table_lookups()) {
    loaded += l.writable_indexes.size() + l.readonly_indexes.size();
  }
  FUZZ_CHECK(loaded == view->loaded_writable_count() + view->loaded_readonly_count());
  size_t writable = 0;
  for (size_t i = 0; i < view->account_count(); ++i) writable += view->IsWritable(i);
  FUZZ_CHECK(writable >= 1);  // the fee payer
  (void)view->IsSimpleVote();
  absl::StatusOr<std::vector<uint8_t>> rebuilt =
      qlaster::solana::SerializeTransaction(qlaster::solana::ToTransaction(*view));
  FUZZ_CHECK(rebuilt.ok());
  FUZZ_CHECK(*rebuilt == std::vector<uint8_t>(data, data + size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(data, size);
  if (size < 2) return 0;
  static const qlaster::solana::TransactionGenerator generator;
  const std::vector<uint8_t> bytes =
      Overlay(generator.Generate(350'000'000, data[0] >> 1).transaction, data, size);
  Check(bytes.data(), bytes.size());
  return 0;
}
