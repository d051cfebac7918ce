// libFuzzer target for the transaction status decoder: statuses travel in ring records
// and record files, so any bytes must decode or fail with kDataLoss. PeekTransactionStatus
// must agree with a full decode; a status that decodes must re-encode to the input
// exactly (the encoding has one spelling per value). Each input is also applied as an
// overlay onto a generated status, to reach every section without a seed corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/overlay.h"
#include "wire/solana/transaction_generator.h"
#include "wire/solana/transaction_status.h"

namespace {

namespace solana = qlaster::solana;

void Check(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> bytes(data, size);
  absl::StatusOr<solana::TransactionStatusView> view = solana::DecodeTransactionStatus(bytes);
  absl::StatusOr<solana::TransactionStatusSummary> peek = solana::PeekTransactionStatus(bytes);
  if (!view.ok()) {
    FUZZ_CHECK(view.status().code() == absl::StatusCode::kDataLoss);
    if (!peek.ok()) FUZZ_CHECK(peek.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  FUZZ_CHECK(peek.ok());
  FUZZ_CHECK(peek->failed == view->failed());
  FUZZ_CHECK(peek->loaded_writable.data() == view->loaded_writable().data());
  FUZZ_CHECK(peek->loaded_readonly.size() == view->loaded_readonly().size());
  const solana::TransactionStatus owned = solana::ToTransactionStatus(*view);
  absl::StatusOr<std::vector<uint8_t>> again = solana::EncodeTransactionStatus(owned);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == std::vector<uint8_t>(data, data + size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(data, size);
  if (size < 2) return 0;
  static const qlaster::solana::TransactionGenerator generator;
  const std::vector<uint8_t> bytes =
      Overlay(generator.Generate(350'000'000, data[0] >> 1).status, data, size);
  Check(bytes.data(), bytes.size());
  return 0;
}
