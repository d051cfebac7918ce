// RoutingTable: one immutable snapshot of "who is connected and what do they want", built
// by the control plane and swapped into the dispatcher as a whole.
//
// Consumers are grouped by commitment level. The processed level routes updates as they
// are published; the confirmed and finalized levels route a slot's stored updates when the
// slot reaches that level (sender/update_log.h). Slot updates go to every consumer, live.
//
// The dispatcher reads a table through raw pointers with no lock and no reference count on
// the hot path. Lifetime is managed by Dispatcher: a table (and through `owners`, the
// channels it names) is freed only once the dispatcher has adopted a newer one.
#ifndef QLASTER_SENDER_ROUTING_TABLE_H_
#define QLASTER_SENDER_ROUTING_TABLE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "qlaster/subscription.hpp"
#include "sender/consumer_channel.h"
#include "sender/named_filters.h"
#include "sender/subscription_index.h"

namespace qlaster::sender {

inline constexpr size_t kCommitmentLevels = 3;
inline constexpr size_t kSlotStatuses = kMaxSlotStatus + 1;

inline size_t LevelOf(Commitment c) { return static_cast<size_t>(c); }

// The slot status that brings a slot to a commitment level.
inline SlotStatus StatusOfLevel(Commitment c) {
  switch (c) {
    case Commitment::kProcessed:
      return SlotStatus::kProcessed;
    case Commitment::kConfirmed:
      return SlotStatus::kConfirmed;
    case Commitment::kFinalized:
      return SlotStatus::kRooted;
  }
  return SlotStatus::kProcessed;
}

// A consumer and the bits of its filters an update matched.
struct Recipient {
  ConsumerIndex who;
  uint16_t bits;
};

// Routing for the consumers of one commitment level.
struct LevelRoutes {
  // The unnamed subscriptions. Its Bloom filter also holds every key the named account
  // filters are indexed by, so that an account nobody wants costs the same two probes.
  std::unique_ptr<const SubscriptionIndex> index = SubscriptionIndex::Empty();
  NamedFilters named;
  // Consumers with block-meta or entry filters, ascending, each with every bit of its
  // names of that kind (those filters have no predicates).
  std::vector<Recipient> blocks_meta;
  std::vector<Recipient> entries;
  // Every consumer of this level, ascending.
  std::vector<ConsumerIndex> consumers;

  bool empty() const { return consumers.empty(); }
};

// A replay a table starts: `who` reads the update log from `from_slot` on before it
// reads live updates.
struct ReplayStart {
  ConsumerIndex who = 0;
  uint64_t from_slot = 0;
  uint64_t request = 0;
};

struct RoutingTable {
  // Increases by one per table installed.
  uint64_t version = 0;
  std::array<LevelRoutes, kCommitmentLevels> levels;
  // channels[i] for every consumer index the table can name; null for a free seat.
  std::array<ConsumerChannel*, kMaxConsumers> channels{};
  // Keeps the channels above alive as long as this table lives.
  std::vector<std::shared_ptr<ConsumerChannel>> owners;
  // Every consumer, ascending (slot updates go to all).
  std::vector<ConsumerIndex> all;
  // Per consumer: its level, its data slices (empty: whole data), and for each slot
  // status the bits of its slot filters such a slot update matches.
  std::array<Commitment, kMaxConsumers> commitment{};
  std::array<std::vector<DataSlice>, kMaxConsumers> slices;
  std::array<std::array<uint16_t, kSlotStatuses>, kMaxConsumers> slot_bits{};
  // Replays this table starts.
  std::vector<ReplayStart> replays;
  // Some consumer is at the confirmed or finalized level.
  bool any_commitment = false;
  // Some consumer asked for more than slot updates.
  bool any_subscription = false;

  // Written by the dispatcher when it adopts this table, read by the control plane after
  // Dispatcher::adopted() returns this table or a newer one: for each consumer, the last
  // sequence number written to that consumer under the previous table. Every record with
  // a greater sequence was routed by this table.
  std::array<uint64_t, kMaxConsumers> adopted_after_sequence{};
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_ROUTING_TABLE_H_
