// Transactions between qlaster's form (Solana wire bytes + the status encoding of
// wire/solana/transaction_status.h) and Yellowstone's protobuf messages
// (proto/yellowstone/), both ways:
//
//  - To Yellowstone (what qlaster-grpc sends): the messages filled as Yellowstone's own
//    plugin fills them: signatures and the message decomposed (header, account keys,
//    recent blockhash, instructions, `versioned`, address table lookups), the status meta
//    with the error as its bincode bytes, token balances and rewards with base58 keys,
//    `*_none` set for absent logs, inner instructions and return data.
//  - From Yellowstone (what the Yellowstone source receives): every field of the
//    untrusted message is checked (sizes of keys, signatures and hashes, counts, u8
//    ranges, base58 and decimal strings, contradictory `*_none` flags, the loaded
//    addresses against the lookups) and the transaction is re-serialized and re-parsed,
//    so anything the sender could not carry is refused here with kInvalidArgument naming
//    the field (kUnimplemented for a version-1 message, which qlaster does not carry yet).
//
// For every message a Yellowstone server produces, From then To gives back the same
// message (tested against real mainnet blocks).
//
// All functions are thread-safe; they allocate (protobuf).
#ifndef QLASTER_WIRE_YELLOWSTONE_TRANSACTION_CONVERT_H_
#define QLASTER_WIRE_YELLOWSTONE_TRANSACTION_CONVERT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "geyser.pb.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_status.h"
#include "wire/types.h"

namespace qlaster::yellowstone {

// The generated namespaces, spelled from the global scope (qlaster::solana would shadow
// the generated ::solana).
namespace storage = ::solana::storage::ConfirmedBlock;

// ---- To Yellowstone -----------------------------------------------------------------

void FillTransaction(const solana::TransactionView& tx, storage::Transaction* out);
void FillTransactionStatusMeta(const solana::TransactionStatusView& status,
                               storage::TransactionStatusMeta* out);

// Parses `transaction` and `status` (kDataLoss if either is corrupt) and fills `out`:
// signature (the first), is_vote (TransactionView::IsSimpleVote, as Agave reports it),
// transaction, meta, index.
absl::Status FillTransactionInfo(absl::Span<const uint8_t> transaction,
                                 absl::Span<const uint8_t> status, uint64_t index,
                                 geyser::SubscribeUpdateTransactionInfo* out);
absl::Status FillUpdateTransaction(absl::Span<const uint8_t> transaction,
                                   absl::Span<const uint8_t> status, uint64_t slot,
                                   uint64_t index, geyser::SubscribeUpdateTransaction* out);
// The transactions_status update: slot, signature, is_vote, index, err (set only when
// the transaction failed). Reads only the status header and the transaction.
absl::Status FillUpdateTransactionStatus(absl::Span<const uint8_t> transaction,
                                         absl::Span<const uint8_t> status, uint64_t slot,
                                         uint64_t index,
                                         geyser::SubscribeUpdateTransactionStatus* out);

// ---- From Yellowstone ---------------------------------------------------------------

// The wire bytes of a Yellowstone Transaction.
absl::StatusOr<std::vector<uint8_t>> TransactionBytes(const storage::Transaction& tx);
// The owned status of a Yellowstone meta (not yet checked against a transaction).
absl::StatusOr<solana::TransactionStatus> ToTransactionStatus(
    const storage::TransactionStatusMeta& meta);

// A transaction as the sender carries it.
struct TransactionRecord {
  std::vector<uint8_t> transaction;  // Solana wire format, ParseTransaction accepts it
  std::vector<uint8_t> status;       // DecodeTransactionStatus accepts it
  Signature signature{};             // the first signature
  bool is_vote = false;              // as the upstream reported it
  bool failed = false;
  uint64_t index = 0;                // position in the block
};

// Converts and checks an upstream transaction: the transaction and meta must be present,
// `signature` must be the transaction's first, and the loaded addresses must be as many
// as the lookups select.
absl::StatusOr<TransactionRecord> FromTransactionInfo(
    const geyser::SubscribeUpdateTransactionInfo& info);

struct SlotTransactionRecord {
  uint64_t slot = 0;
  TransactionRecord record;
};
absl::StatusOr<SlotTransactionRecord> FromUpdateTransaction(
    const geyser::SubscribeUpdateTransaction& update);

}  // namespace qlaster::yellowstone

#endif  // QLASTER_WIRE_YELLOWSTONE_TRANSACTION_CONVERT_H_
