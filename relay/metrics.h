// The relay's Prometheus metrics (`qlaster-relay --metrics_address`): its own counters and
// each link's, from RelayStats, in the format every qlaster daemon writes
// (metrics/prometheus.h), with the process_* families.
//
//   qlaster_relay_updates_total                 updates read from the ring and numbered
//   qlaster_relay_local_gap_updates_total       updates the local sender reported missed
//   qlaster_relay_queue_drops_total             dropped: the network thread was behind
//   qlaster_relay_replay_held_bytes             the replay buffer now
//   qlaster_relay_replay_evicted_messages_total left the replay buffer (oldest first)
//   qlaster_relay_link_up{target}               1 while the link is past WELCOME
//   qlaster_relay_link_connects_total{target}, _welcomes_total, _updates_sent_total,
//   _resumed_messages_total, _gaps_sent_total, _dropped_updates_total (sent on as GAPs),
//   qlaster_relay_link_cwnd_bytes, _bytes_in_flight, _unsent_bytes, _smoothed_rtt_seconds
#ifndef QLASTER_RELAY_METRICS_H_
#define QLASTER_RELAY_METRICS_H_

#include <string>

#include "relay/relay.h"

namespace qlaster::relay {

std::string RenderRelayMetrics(const RelayStats& stats, const std::string& name);

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_METRICS_H_
