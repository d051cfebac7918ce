#include "relay/metrics.h"

#include <functional>

#include "metrics/prometheus.h"

namespace qlaster::relay {

std::string RenderRelayMetrics(const RelayStats& s, const std::string& name) {
  metrics::PrometheusWriter w;
  w.Family("qlaster_relay_info", "gauge", "this relay: its name and session");
  w.Sample({"name", name, "session", std::to_string(s.session_id)}, 1);
  w.One("qlaster_relay_updates_total", "counter", "updates read from the local sender and numbered",
        static_cast<double>(s.updates));
  w.One("qlaster_relay_local_gap_updates_total", "counter",
        "updates the local sender reported missed (a gap on every link)", static_cast<double>(s.local_gaps));
  w.One("qlaster_relay_queue_drops_total", "counter",
        "updates dropped because the network thread was behind (sent on as gaps)",
        static_cast<double>(s.queue_drops));
  w.One("qlaster_relay_replay_held_bytes", "gauge", "bytes the replay buffer holds",
        static_cast<double>(s.replay_held_bytes));
  w.One("qlaster_relay_replay_evicted_messages_total", "counter",
        "messages that left the replay buffer, oldest first", static_cast<double>(s.replay_evicted));

  struct LinkFamily {
    const char* name;
    const char* type;
    const char* help;
    std::function<double(const RelayLinkCounts&)> value;
  };
  const LinkFamily families[] = {
      {"qlaster_relay_link_up", "gauge", "1 while the link to the gateway is past WELCOME",
       [](const RelayLinkCounts& c) { return c.live ? 1.0 : 0.0; }},
      {"qlaster_relay_link_connects_total", "counter", "connection attempts",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.connects); }},
      {"qlaster_relay_link_welcomes_total", "counter", "connections that reached WELCOME",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.welcomes); }},
      {"qlaster_relay_link_updates_sent_total", "counter", "updates queued on the class streams",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.updates_sent); }},
      {"qlaster_relay_link_resumed_messages_total", "counter", "messages re-sent from the replay buffer on resume",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.resumed_messages); }},
      {"qlaster_relay_link_gaps_sent_total", "counter", "GAP messages sent",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.gaps_sent); }},
      {"qlaster_relay_link_dropped_updates_total", "counter",
       "updates the path could not keep up with (sent on as GAPs)",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.dropped); }},
      {"qlaster_relay_link_cwnd_bytes", "gauge", "the connection's congestion window",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.cwnd); }},
      {"qlaster_relay_link_bytes_in_flight", "gauge", "bytes sent and not yet acknowledged",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.bytes_in_flight); }},
      {"qlaster_relay_link_unsent_bytes", "gauge", "bytes queued on the class streams, not yet sent",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.unsent_bytes); }},
      {"qlaster_relay_link_smoothed_rtt_seconds", "gauge", "the connection's smoothed round-trip time",
       [](const RelayLinkCounts& c) { return static_cast<double>(c.smoothed_rtt_us) / 1e6; }},
  };
  for (const LinkFamily& f : families) {
    w.Family(f.name, f.type, f.help);
    for (const auto& [target, counts] : s.links) w.Sample({"target", target}, f.value(counts));
  }
  metrics::WriteProcessMetrics(metrics::ReadProcessMetrics(), w);
  return w.Take();
}

}  // namespace qlaster::relay
