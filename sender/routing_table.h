// RoutingTable: one immutable snapshot of "who is connected and what do they want", built
// by the control plane and swapped into the dispatcher as a whole.
//
// The dispatcher reads a table through raw pointers with no lock and no reference count on
// the hot path. Lifetime is managed by Dispatcher: a table (and through `owners`, the
// channels it names) is freed only once the dispatcher has adopted a newer one.
#ifndef QLASTER_SENDER_ROUTING_TABLE_H_
#define QLASTER_SENDER_ROUTING_TABLE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "sender/consumer_channel.h"
#include "sender/subscription_index.h"

namespace qlaster::sender {

struct RoutingTable {
  // Increases by one per table installed.
  uint64_t version = 0;
  std::unique_ptr<const SubscriptionIndex> index;
  // channels[i] for every consumer index the table can name; null for a free seat.
  std::array<ConsumerChannel*, kMaxConsumers> channels{};
  // Keeps the channels above alive as long as this table lives.
  std::vector<std::shared_ptr<ConsumerChannel>> owners;

  // Written by the dispatcher when it adopts this table, read by the control plane after
  // Dispatcher::adopted() returns this table or a newer one: for each consumer, the last
  // sequence number written to that consumer under the previous table. Every record with
  // a greater sequence was routed by this table.
  std::array<uint64_t, kMaxConsumers> adopted_after_sequence{};
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_ROUTING_TABLE_H_
