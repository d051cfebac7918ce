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

#include "qlaster/subscription.hpp"
#include "wire/types.h"

namespace qlaster {

// Solana caps an account's data at 10 MiB (MAX_PERMITTED_DATA_LENGTH). The decoder rejects
// any larger declared length before allocating, so a corrupt record cannot make a
// consumer allocate gigabytes.
inline constexpr size_t kMaxAccountDataSize = 10 * 1024 * 1024;

// A serialized Solana transaction fits one 1232-byte packet today; the limit leaves room
// for larger transaction formats without letting a corrupt length run away.
inline constexpr size_t kMaxTransactionSize = 64 * 1024;

// A transaction's status (wire/solana/transaction_status.h: logs, balances, inner
// instructions) and a transaction error's bincode stay within these.
inline constexpr size_t kMaxTransactionStatusSize = 1 << 20;
inline constexpr size_t kMaxTransactionErrorSize = 4096;

// Rewards in one block meta (a block pays at most a few thousand: fees, rent, and the
// vote rewards of an epoch's first blocks).
inline constexpr size_t kMaxBlockRewards = 65536;

// A 32-byte hash (a blockhash, an entry's PoH hash).
using Hash = Pubkey;

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

// One transaction: `data` is the serialized transaction (Solana's wire format), `status`
// its outcome in qlaster's encoding (wire/solana/transaction_status.h), empty when the
// source has none.
struct TransactionUpdate {
  uint64_t slot = 0;
  // Position in its block.
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  // At most kMaxTransactionSize bytes.
  std::vector<uint8_t> data;
  // At most kMaxTransactionStatusSize bytes.
  std::vector<uint8_t> status = {};

  friend bool operator==(const TransactionUpdate&, const TransactionUpdate&) = default;
};

// One reward paid in a block.
struct Reward {
  Pubkey pubkey{};
  int64_t lamports = 0;
  uint64_t post_balance = 0;
  uint8_t reward_type = 0;  // fb::RewardType: 0 unspecified, 1 fee, 2 rent, 3 staking, 4 voting
  std::optional<uint8_t> commission;

  friend bool operator==(const Reward&, const Reward&) = default;
};

// A block's metadata, once the block is complete.
struct BlockMetaUpdate {
  uint64_t slot = 0;
  uint64_t parent_slot = 0;
  Hash blockhash{};
  Hash parent_blockhash{};
  std::optional<uint64_t> block_height;
  std::optional<int64_t> block_time;  // Unix seconds
  uint64_t executed_transaction_count = 0;
  uint64_t entries_count = 0;
  std::vector<Reward> rewards = {};  // at most kMaxBlockRewards
  std::optional<uint32_t> num_partitions;

  friend bool operator==(const BlockMetaUpdate&, const BlockMetaUpdate&) = default;
};

// One entry of a block: a batch of transactions and the proof-of-history hash after it.
struct EntryUpdate {
  uint64_t slot = 0;
  uint64_t index = 0;
  uint64_t num_hashes = 0;
  Hash hash{};
  uint64_t executed_transaction_count = 0;
  uint64_t starting_transaction_index = 0;

  friend bool operator==(const EntryUpdate&, const EntryUpdate&) = default;
};

// A transaction's outcome alone (Yellowstone's transaction status updates).
struct TransactionStatusUpdate {
  uint64_t slot = 0;
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  std::vector<uint8_t> error = {};  // the TransactionError's bincode; empty when it succeeded

  friend bool operator==(const TransactionStatusUpdate&, const TransactionStatusUpdate&) = default;
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
