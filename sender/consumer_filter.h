// ConsumerFilter: one consumer's whole subscription as the control plane keeps it — the
// unnamed keys of protocol version 1 and the named filters, options and replay request of
// version 2 (qlaster/subscription.hpp). The registry changes it; routing tables are built
// from it (copied, so it may change again at once).
#ifndef QLASTER_SENDER_CONSUMER_FILTER_H_
#define QLASTER_SENDER_CONSUMER_FILTER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "qlaster/subscription.hpp"
#include "sender/pubkey_hash.h"
#include "wire/types.h"

namespace qlaster::sender {

// The named filters: bit i of a delivered update's filters is the i-th name of its kind,
// in order.
struct NamedFilterSet {
  std::map<std::string, AccountFilter> accounts = {};
  std::map<std::string, TransactionSelector> transactions = {};
  std::map<std::string, TransactionSelector> statuses = {};
  std::map<std::string, SlotSelector> slots = {};
  std::set<std::string> blocks_meta = {};
  std::set<std::string> entries = {};

  bool empty() const {
    return accounts.empty() && transactions.empty() && statuses.empty() && slots.empty() &&
           blocks_meta.empty() && entries.empty();
  }
  // Pubkeys and owners of the account filters plus the transaction (status) filters'
  // account lists.
  size_t KeyCount() const;
};

struct ConsumerFilter {
  // Unnamed: account updates for these accounts and for the accounts these own, and
  // transactions. Matched updates carry no filter bits.
  absl::flat_hash_set<Pubkey, PubkeyHash> pubkeys;
  absl::flat_hash_set<Pubkey, PubkeyHash> owners;
  TransactionFilter transactions = TransactionFilter::kNone;

  NamedFilterSet named;
  size_t named_keys = 0;  // named.KeyCount(), kept by the registry

  Commitment commitment = Commitment::kProcessed;
  std::vector<DataSlice> data_slices;  // sorted, not overlapping; empty: the whole data

  // Set by a Subscribe with from_slot: the replay the next routing table starts;
  // `replay_request` tells one request from the next.
  std::optional<uint64_t> from_slot;
  uint64_t replay_request = 0;
};

// Keys a filter holds: the unnamed pubkeys and owners and the named filters' keys. What
// --max_keys_per_consumer and --max_total_keys count.
inline size_t KeyCount(const ConsumerFilter& f) {
  return f.pubkeys.size() + f.owners.size() + f.named_keys;
}

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_CONSUMER_FILTER_H_
