// The sender's metrics in the Prometheus text format (metrics/prometheus.h writes it).
#include "sender/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/qlaster_generated.h"

namespace qlaster::sender {

namespace {

uint64_t Get(const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); }

}  // namespace

DispatcherMetrics ReadDispatcherMetrics(const DispatcherCounters& c) {
  DispatcherMetrics m;
  for (size_t i = 0; i < m.published_by_kind.size(); ++i) m.published_by_kind[i] = Get(c.published_by_kind[i]);
  m.unwanted = Get(c.rejected);
  m.evicted = Get(c.evicted);
  m.unparsed_transactions = Get(c.unparsed_transactions);
  m.released_slots = Get(c.released_slots);
  m.replays_started = Get(c.replays_started);
  m.replays_finished = Get(c.replays_finished);
  m.log_gap_updates = Get(c.log_gap_updates);
  m.log_bytes = Get(c.log_bytes);
  m.log_entries = Get(c.log_entries);
  return m;
}

std::string RenderPrometheus(const SenderMetrics& m) {
  metrics::PrometheusWriter w;
  const ControlMetrics& c = m.control;
  const DispatcherMetrics& d = m.dispatcher;

  w.Family("qlaster_build_info", "gauge", "The sender's version and name (always 1).");
  w.Sample({"version", QLASTER_VERSION, "name", m.sender_name}, 1);

  // ---- dispatcher
  w.Family("qlaster_sender_updates_published_total", "counter",
           "Updates published to the dispatcher, by kind.");
  for (fb::UpdateKind kind : fb::EnumValuesUpdateKind()) {
    if (kind == fb::UpdateKind::None || kind == fb::UpdateKind::Gap) continue;
    w.Sample({"kind", SnakeCaseLabel(fb::EnumNameUpdateKind(kind))},
             static_cast<double>(d.published_by_kind[static_cast<size_t>(kind) & 7]));
  }
  w.One("qlaster_sender_updates_unwanted_total", "counter",
        "Updates no consumer of the processed level wanted.", static_cast<double>(d.unwanted));
  w.One("qlaster_sender_unparsed_transactions_total", "counter",
        "Transactions whose bytes or status did not parse (account-key filters cannot match them).",
        static_cast<double>(d.unparsed_transactions));
  w.One("qlaster_sender_released_slots_total", "counter",
        "Slots released to the confirmed or finalized level.", static_cast<double>(d.released_slots));
  w.Family("qlaster_sender_replays_total", "counter", "Replays from a past slot, by state.");
  w.Sample({"state", "started"}, static_cast<double>(d.replays_started));
  w.Sample({"state", "finished"}, static_cast<double>(d.replays_finished));
  w.One("qlaster_sender_log_gap_updates_total", "counter",
        "Updates consumers lost because the update log evicted them first.",
        static_cast<double>(d.log_gap_updates));
  w.One("qlaster_sender_update_log_bytes", "gauge", "Bytes the update log holds.",
        static_cast<double>(d.log_bytes));
  w.One("qlaster_sender_update_log_entries", "gauge", "Updates the update log holds.",
        static_cast<double>(d.log_entries));
  if (d.log_oldest_slot.has_value()) {
    w.One("qlaster_sender_update_log_oldest_slot", "gauge",
          "The oldest slot the update log keeps whole: the oldest from_slot served now.",
          static_cast<double>(*d.log_oldest_slot));
  }
  w.Family("qlaster_sender_routing_table_version", "gauge",
           "Version of the newest routing table installed by the control plane and adopted by "
           "the dispatcher.");
  w.Sample({"state", "installed"}, static_cast<double>(c.table_version_installed));
  w.Sample({"state", "adopted"}, static_cast<double>(c.table_version_adopted));
  w.One("qlaster_sender_routing_table_consumers", "gauge",
        "Consumers the adopted routing table names.", static_cast<double>(c.table_consumers));
  w.One("qlaster_sender_subscription_keys", "gauge",
        "Keys (pubkeys, owners, transaction accounts) of every consumer's subscription.",
        static_cast<double>(c.keys));

  // ---- control plane
  w.One("qlaster_sender_consumers", "gauge", "Consumers past their handshake.",
        static_cast<double>(c.consumers.size()));
  w.One("qlaster_sender_connections_accepted_total", "counter", "Connections accepted.",
        static_cast<double>(c.connections_accepted));
  w.One("qlaster_sender_connections_pending", "gauge",
        "Connections that have not said Hello (stats-only viewers included).",
        static_cast<double>(c.connections_pending));
  w.Family("qlaster_sender_connections_refused_total", "counter",
           "Connections refused or closed with an Error, by reason.");
  for (const auto& [reason, n] : c.refusals) w.Sample({"reason", reason}, static_cast<double>(n));
  w.Family("qlaster_sender_subscriptions_refused_total", "counter",
           "Subscribe requests refused (the connection stays), by error code.");
  for (const auto& [code, n] : c.subscribe_refusals) w.Sample({"code", code}, static_cast<double>(n));
  w.Family("qlaster_sender_evictions_total", "counter", "Consumers evicted, by reason.");
  for (fb::EvictReason reason : fb::EnumValuesEvictReason()) {
    const size_t i = static_cast<size_t>(reason);
    if (i >= c.evictions.size()) continue;
    w.Sample({"reason", SnakeCaseLabel(fb::EnumNameEvictReason(reason))},
             static_cast<double>(c.evictions[i]));
  }
  w.Family("qlaster_consumer_evictions_total", "counter",
           "Consumers evicted, by name and reason; kept after the consumer has gone (the "
           "first 256 names, then consumer=\"(other)\").");
  for (const auto& [name, by_reason] : c.evictions_by_name) {
    for (fb::EvictReason reason : fb::EnumValuesEvictReason()) {
      const size_t i = static_cast<size_t>(reason);
      if (i >= by_reason.size() || by_reason[i] == 0) continue;
      w.Sample({"consumer", name, "reason", SnakeCaseLabel(fb::EnumNameEvictReason(reason))},
               static_cast<double>(by_reason[i]));
    }
  }

  // ---- per consumer (labels: consumer = its name, id = its consumer id)
  struct PerConsumer {
    const char* name;
    const char* type;
    const char* help;
    uint64_t ConsumerMetrics::*field;
  };
  static constexpr PerConsumer kPerConsumer[] = {
      {"qlaster_consumer_delivered_total", "counter", "Updates written into the consumer's ring.",
       &ConsumerMetrics::delivered},
      {"qlaster_consumer_dropped_total", "counter",
       "Updates the consumer lost (ring full under drop-and-count, or evicted from the log).",
       &ConsumerMetrics::dropped},
      {"qlaster_consumer_gaps_total", "counter",
       "Gap records written into the consumer's ring (each tells of dropped updates).",
       &ConsumerMetrics::gaps},
      {"qlaster_consumer_wakes_total", "counter", "Doorbell rings (the consumer slept).",
       &ConsumerMetrics::wakes},
      {"qlaster_consumer_wakes_deferred_total", "counter",
       "Wake-ups held back by --min_wake_interval (retried after it).",
       &ConsumerMetrics::wakes_deferred},
      {"qlaster_consumer_ring_size_bytes", "gauge", "The consumer's ring capacity.",
       &ConsumerMetrics::ring_bytes},
      {"qlaster_consumer_ring_fill_bytes", "gauge",
       "Bytes published into the consumer's ring and not yet released by it.",
       &ConsumerMetrics::ring_fill},
      {"qlaster_consumer_lag_records", "gauge",
       "Records written and not yet released by the consumer (exact up to 4096).",
       &ConsumerMetrics::lag_records},
      {"qlaster_consumer_subscription_keys", "gauge", "Keys of the consumer's subscription.",
       &ConsumerMetrics::keys},
  };
  for (const PerConsumer& f : kPerConsumer) {
    w.Family(f.name, f.type, f.help);
    for (const ConsumerMetrics& cm : c.consumers) {
      const std::string id = absl::StrCat(cm.consumer_id);
      const std::string uid = absl::StrCat(cm.uid);
      w.Sample({"consumer", cm.name, "id", id, "uid", uid}, static_cast<double>(cm.*f.field));
    }
  }

  // ---- sources
  w.Family("qlaster_source_updates_total", "counter", "Updates a source published.");
  for (const SourceMetrics& s : m.sources) {
    w.Sample({"source", s.name}, static_cast<double>(s.counts.updates));
  }
  w.Family("qlaster_source_backlog", "gauge",
           "Input written and not yet read by the sender (the ingest ring: cells).");
  for (const SourceMetrics& s : m.sources) {
    w.Sample({"source", s.name}, static_cast<double>(s.counts.backlog));
  }
  // Lag: a stalled source stops publishing; one of several behind the others has a lower
  // slot (a Yellowstone upstream that fell behind the local validator, say).
  w.Family("qlaster_source_last_update_age_seconds", "gauge",
           "Seconds since the source last published an update (absent until it has).");
  for (const SourceMetrics& s : m.sources) {
    if (s.seconds_since_update >= 0) w.Sample({"source", s.name}, s.seconds_since_update);
  }
  uint64_t highest = 0;
  for (const SourceMetrics& s : m.sources) highest = std::max(highest, s.highest_slot);
  w.Family("qlaster_source_highest_slot", "gauge",
           "The highest slot of the updates the source published (absent until it has).");
  for (const SourceMetrics& s : m.sources) {
    if (s.highest_slot != 0) w.Sample({"source", s.name}, static_cast<double>(s.highest_slot));
  }
  w.Family("qlaster_source_slot_lag", "gauge",
           "Slots the source is behind the highest slot any source published.");
  for (const SourceMetrics& s : m.sources) {
    if (s.highest_slot != 0) {
      w.Sample({"source", s.name}, static_cast<double>(highest - s.highest_slot));
    }
  }
  w.Family("qlaster_source_rejects_total", "counter",
           "Input a source refused or lost, by reason (for the ingest ring: lapped, rewound, "
           "torn, bad_length, unknown_schema, undecodable).");
  for (const SourceMetrics& s : m.sources) {
    for (const auto& [reason, n] : s.counts.rejects) {
      w.Sample({"source", s.name, "reason", reason}, static_cast<double>(n));
    }
  }

  // ---- process
  metrics::WriteProcessMetrics(m.process, w);
  return w.Take();
}

}  // namespace qlaster::sender
