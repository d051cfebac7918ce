// qlaster/subscription.hpp: what a consumer asks the sender for, in Yellowstone gRPC's
// vocabulary (geyser.proto's SubscribeRequest): named filters for accounts, transactions,
// transaction statuses, slots, block metadata and entries; data slices; a commitment
// level; replay from a slot. The consumer library sends it, the control protocol carries
// it, the sender filters by it: one definition for all three.
//
// Semantics (Yellowstone's, unless stated otherwise):
//  * An update reaches a consumer when any of its filters of that kind matches; each
//    delivered update says which ones (Event::filters, a bit per filter, in the order of
//    their names).
//  * Within an account filter everything that is set must hold: the pubkey is one of
//    `pubkeys` (when not empty), the owner one of `owners` (when not empty), and every
//    data predicate (memcmp, datasize, lamports, token_account_state,
//    nonempty_txn_signature). Data predicates look at the whole data, before slicing.
//  * Within a transaction filter: vote and failed as set (failed: the transaction has an
//    error), the first signature is `signature` (when set), at least one of
//    `account_include`, none of `account_exclude` and all of `account_required` are among
//    its account keys (static keys and those its address-table lookups loaded).
//  * Transaction statuses are derived from transactions by the sender, so a status
//    filter can use every transaction predicate.
//  * Slot updates of every status always arrive (qlaster's behaviour since its first
//    version); a named slot filter marks those it matches: processed, confirmed and
//    finalized ones (all statuses with interslot_updates), only the consumer's commitment
//    level with filter_by_commitment.
//  * Commitment: processed delivers everything as it happens; confirmed and finalized
//    deliver a slot's updates once the slot reaches that level — for accounts only the
//    latest write of each account in the slot — followed by the slot status, and nothing
//    of a slot that dies.
//  * from_slot: the updates the sender still keeps from that slot on that match the
//    subscription, in order, then the live stream, with no gap and no duplicate between
//    them; a slot older than what is kept is refused (kOutOfRange, naming the oldest).
#ifndef QLASTER_SUBSCRIPTION_HPP_
#define QLASTER_SUBSCRIPTION_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "qlaster/types.hpp"

namespace qlaster {

enum class Commitment : uint8_t {
  kProcessed = 0,
  kConfirmed = 1,
  kFinalized = 2,
};

// Account data at `offset` equals `bytes` (at most 128 bytes).
struct Memcmp {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes = {};
  friend bool operator==(const Memcmp&, const Memcmp&) = default;
};

enum class LamportsOp : uint8_t { kEq = 0, kNe = 1, kLt = 2, kGt = 3 };

// The account's lamports `op` `value` (kLt: lamports < value).
struct LamportsFilter {
  LamportsOp op = LamportsOp::kEq;
  uint64_t value = 0;
  friend bool operator==(const LamportsFilter&, const LamportsFilter&) = default;
};

struct AccountFilter {
  std::vector<Pubkey> pubkeys = {};  // one of these (empty: any account)
  std::vector<Pubkey> owners = {};   // owned by one of these (empty: any owner)
  // Data predicates, at most 4 in all (memcmp entries, datasize, lamports entries,
  // token_account_state).
  std::vector<Memcmp> memcmp = {};
  std::optional<uint64_t> datasize = std::nullopt;  // the data is this many bytes
  std::vector<LamportsFilter> lamports = {};
  bool token_account_state = false;  // a valid, initialized SPL Token or Token-2022 account
  // Set: the update carries the signature of the transaction that wrote it (true), or
  // does not (false).
  std::optional<bool> nonempty_txn_signature = std::nullopt;
  friend bool operator==(const AccountFilter&, const AccountFilter&) = default;
};

struct TransactionSelector {
  std::optional<bool> vote = std::nullopt;
  std::optional<bool> failed = std::nullopt;
  std::optional<Signature> signature = std::nullopt;
  std::vector<Pubkey> account_include = {};   // any of them
  std::vector<Pubkey> account_exclude = {};   // none of them
  std::vector<Pubkey> account_required = {};  // all of them
  friend bool operator==(const TransactionSelector&, const TransactionSelector&) = default;
};

struct SlotSelector {
  bool filter_by_commitment = false;
  bool interslot_updates = false;
  friend bool operator==(const SlotSelector&, const SlotSelector&) = default;
};

// A byte range of account data (see Subscription::data_slices).
struct DataSlice {
  uint64_t offset = 0;
  uint64_t length = 0;
  friend bool operator==(const DataSlice&, const DataSlice&) = default;
};

// A whole subscription, as Yellowstone's SubscribeRequest is: a new one replaces the old.
// Names identify filters to the consumer (16 at most per kind: each is a bit of
// Event::filters); at most 128 bytes, printable.
struct Subscription {
  std::map<std::string, AccountFilter> accounts = {};
  std::map<std::string, TransactionSelector> transactions = {};
  std::map<std::string, TransactionSelector> transaction_statuses = {};
  std::map<std::string, SlotSelector> slots = {};
  std::set<std::string> blocks_meta = {};
  std::set<std::string> entries = {};
  // Only these byte ranges of account data, concatenated (sorted, not overlapping).
  std::vector<DataSlice> data_slices = {};
  Commitment commitment = Commitment::kProcessed;
  std::optional<uint64_t> from_slot = std::nullopt;
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

// Filters of one kind a consumer may hold: one bit each in Event::filters.
inline constexpr size_t kMaxFiltersPerKind = 16;

}  // namespace qlaster

#endif  // QLASTER_SUBSCRIPTION_HPP_
