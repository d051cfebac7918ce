// Registry: the control plane's book of connected consumers — their seats, tokens,
// channels and subscriptions — and the builder of routing tables from it.
//
// A consumer has a seat (its ConsumerIndex, below kMaxConsumers) while it is connected.
// Its id is a token: the seat in the low 32 bits, the seat's generation in the high 32.
// A seat's generation grows each time it is reused, so an id held past its consumer's
// departure can never reach the consumer that took the seat next.
//
// Subscription changes are applied as deltas: the limits are checked against the size
// the change would leave, then the keys are added or removed in place, so a one-key change
// costs one key's work whatever the subscription holds.
//
// Thread-compatible: used by the control thread only.
#ifndef QLASTER_SENDER_REGISTRY_H_
#define QLASTER_SENDER_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "sender/consumer_channel.h"
#include "sender/consumer_filter.h"
#include "sender/routing_table.h"
#include "sender/subscription_index.h"
#include "wire/control_framing.h"

namespace qlaster::sender {

struct RegistryLimits {
  size_t max_consumers = 64;               // at most kMaxConsumers
  size_t max_keys_per_consumer = 100'000;  // every key of one consumer (KeyCount)
  size_t max_total_keys = 2'000'000;       // every key of all consumers
  // Named filters (over these: kInvalidArgument naming the flag).
  size_t max_filters_per_kind = kMaxFiltersPerKind;  // at most kMaxFiltersPerKind
  size_t max_keys_per_filter = 100'000;  // pubkeys + owners, or one transaction list
  size_t max_data_slices = 16;           // at most kMaxDataSlices
};

struct ConsumerEntry {
  uint64_t id = 0;
  ConsumerIndex index = 0;
  std::shared_ptr<ConsumerChannel> channel;  // null until the handshake completes
  ConsumerFilter filter;
};

class Registry {
 public:
  explicit Registry(RegistryLimits limits);

  // Takes a free seat and returns its new consumer id. kResourceExhausted when
  // max_consumers consumers are registered.
  absl::StatusOr<uint64_t> Reserve();
  // The entry for `id`, or null if `id` is stale or unknown.
  ConsumerEntry* Find(uint64_t id);
  const ConsumerEntry* Find(uint64_t id) const;
  // Frees the seat of `id` (no-op for a stale id). The channel lives on in any routing
  // table that still names it.
  void Remove(uint64_t id);

  // Applies a Subscribe (add, remove or replace) to `id`'s filter. On error nothing
  // changes: kResourceExhausted names the key limit that would be exceeded,
  // kInvalidArgument the named-filter limit (or an append to a filter that does not
  // exist, from_slot without Replace); kNotFound for a stale id. A from_slot is recorded
  // as the filter's replay request; the caller checks it against what the sender keeps.
  absl::Status ApplySubscribe(uint64_t id, const SubscribeMsg& msg);

  // Forgets `id`'s replay request `request` (once the dispatcher adopted a table naming
  // it: every table built before then names it, so the dispatcher cannot miss it).
  void ClearReplayRequest(uint64_t id, uint64_t request);

  // A routing table for every consumer whose channel is set. Fails only on an
  // inconsistency of the registry itself (kInternal), which the caller reports.
  absl::StatusOr<std::unique_ptr<RoutingTable>> BuildTable() const;

  size_t consumer_count() const { return count_; }
  const RegistryLimits& limits() const { return limits_; }

  // Every registered entry, in seat order.
  std::vector<const ConsumerEntry*> Entries() const;

 private:
  struct Seat {
    uint32_t generation = 0;
    bool used = false;
    ConsumerEntry entry;
  };
  const RegistryLimits limits_;
  std::vector<Seat> seats_;
  size_t count_ = 0;
  size_t total_keys_ = 0;
  uint64_t next_replay_request_ = 1;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_REGISTRY_H_
