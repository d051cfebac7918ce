// libFuzzer target for the conversion of an upstream Yellowstone transaction update into
// what the sender carries (FromUpdateTransaction): the bytes are an untrusted protobuf
// from the network. Any input must parse-and-convert or fail with a clean status
// (kInvalidArgument, or kUnimplemented for a version-1 message), never crash. A
// converted record must hold a transaction that parses and a status that decodes, and
// converting it back to Yellowstone and in again must give the same record. Each input
// is also applied as an overlay onto a generated update's serialization, to reach the
// checks behind the protobuf parse without a seed corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/overlay.h"
#include "wire/solana/transaction_generator.h"
#include "wire/yellowstone/transaction_convert.h"

namespace {

namespace yellowstone = qlaster::yellowstone;

void Check(const uint8_t* data, size_t size) {
  geyser::SubscribeUpdateTransaction update;
  if (!update.ParseFromArray(data, static_cast<int>(size))) return;  // not protobuf at all
  absl::StatusOr<yellowstone::SlotTransactionRecord> record = yellowstone::FromUpdateTransaction(update);
  if (!record.ok()) {
    FUZZ_CHECK(record.status().code() == absl::StatusCode::kInvalidArgument ||
               record.status().code() == absl::StatusCode::kUnimplemented);
    return;
  }
  const yellowstone::TransactionRecord& r = record->record;
  absl::StatusOr<qlaster::solana::TransactionView> tx = qlaster::solana::ParseTransaction(r.transaction);
  FUZZ_CHECK(tx.ok());
  FUZZ_CHECK(tx->first_signature() == r.signature);
  absl::StatusOr<qlaster::solana::TransactionStatusView> status =
      qlaster::solana::DecodeTransactionStatus(r.status);
  FUZZ_CHECK(status.ok());
  FUZZ_CHECK(status->failed() == r.failed);
  FUZZ_CHECK(status->summary().loaded_writable_count() == tx->loaded_writable_count());

  geyser::SubscribeUpdateTransaction back;
  FUZZ_CHECK(yellowstone::FillUpdateTransaction(r.transaction, r.status, record->slot, r.index, &back).ok());
  absl::StatusOr<yellowstone::SlotTransactionRecord> again = yellowstone::FromUpdateTransaction(back);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->slot == record->slot);
  FUZZ_CHECK(again->record.transaction == r.transaction);
  FUZZ_CHECK(again->record.status == r.status);
  FUZZ_CHECK(again->record.index == r.index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(data, size);
  if (size < 2) return 0;
  static const qlaster::solana::TransactionGenerator generator;
  const qlaster::solana::GeneratedTransaction g = generator.Generate(350'000'000, data[0] >> 1);
  geyser::SubscribeUpdateTransaction update;
  if (!yellowstone::FillUpdateTransaction(g.transaction, g.status, 350'000'000, data[0], &update).ok()) {
    std::abort();
  }
  const std::string serialized = update.SerializeAsString();
  const std::vector<uint8_t> bytes = Overlay({serialized.begin(), serialized.end()}, data, size);
  Check(bytes.data(), bytes.size());
  return 0;
}
