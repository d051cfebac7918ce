// The updates a publisher hands to the sender: plain owning values, independent of the
// wire format. wire/frame.h encodes them into ring records and decodes records back into
// zero-copy views; these types are what a source, the in-process Publish API and the
// tests build and compare.
#ifndef QLASTER_WIRE_UPDATES_H_
#define QLASTER_WIRE_UPDATES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "wire/types.h"

namespace qlaster {

// Solana caps an account's data at 10 MiB (MAX_PERMITTED_DATA_LENGTH). The decoder rejects
// any larger declared length before allocating, so a corrupt record cannot make a
// consumer allocate gigabytes.
inline constexpr size_t kMaxAccountDataSize = 10 * 1024 * 1024;

// A serialized Solana transaction fits one 1232-byte packet today; the limit leaves room
// for larger transaction formats without letting a corrupt length run away.
inline constexpr size_t kMaxTransactionSize = 64 * 1024;

// One write of one account, as of `slot`.
struct AccountUpdate {
  Pubkey pubkey{};
  Pubkey owner{};
  uint64_t lamports = 0;
  bool executable = false;
  uint64_t rent_epoch = 0;
  uint64_t slot = 0;
  // Orders writes of the same account within a slot.
  uint64_t write_version = 0;
  // The transaction that wrote the account, when the source knows it.
  std::optional<Signature> txn_signature;
  // At most kMaxAccountDataSize bytes.
  std::vector<uint8_t> data;

  friend bool operator==(const AccountUpdate&, const AccountUpdate&) = default;
};

// One transaction; `data` is the serialized transaction, opaque to qlaster.
struct TransactionUpdate {
  uint64_t slot = 0;
  // Position in its block.
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  // At most kMaxTransactionSize bytes.
  std::vector<uint8_t> data;

  friend bool operator==(const TransactionUpdate&, const TransactionUpdate&) = default;
};


// A slot's status change.
struct SlotUpdate {
  uint64_t slot = 0;
  uint64_t parent = 0;
  SlotStatus status = SlotStatus::kProcessed;

  friend bool operator==(const SlotUpdate&, const SlotUpdate&) = default;
};

}  // namespace qlaster

#endif  // QLASTER_WIRE_UPDATES_H_
