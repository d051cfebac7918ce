// Metrics: what the sender knows about itself, as a plain copy (SenderMetrics), and that
// copy written in the Prometheus text exposition format (version 0.0.4,
// metrics/prometheus.h), which the metrics endpoint (metrics/http_server.h) serves.
//
// Nothing here touches the hot path: the copy is made on the control thread from the
// counters the dispatcher, the channels and the sources already keep (relaxed atomic
// loads, no lock); formatting happens on the metrics thread.
//
// Names follow Prometheus conventions: a qlaster_ prefix, base units (bytes, seconds),
// counters end in _total, one label per dimension (kind, reason, consumer), and the
// standard process_* metrics of client libraries (metrics::WriteProcessMetrics).
#ifndef QLASTER_SENDER_METRICS_H_
#define QLASTER_SENDER_METRICS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metrics/prometheus.h"
#include "sender/control_server.h"
#include "sender/dispatcher.h"
#include "sender/source.h"

namespace qlaster::sender {

struct DispatcherMetrics {
  std::array<uint64_t, 8> published_by_kind{};  // by fb::UpdateKind
  uint64_t unwanted = 0;
  uint64_t evicted = 0;
  uint64_t unparsed_transactions = 0;
  uint64_t released_slots = 0;
  uint64_t replays_started = 0;
  uint64_t replays_finished = 0;
  uint64_t log_gap_updates = 0;
  uint64_t log_bytes = 0;
  uint64_t log_entries = 0;
  std::optional<uint64_t> log_oldest_slot;  // UpdateLog::OldestSlot(); nullopt: no log or empty
};

// Relaxed loads of `c`: any thread.
DispatcherMetrics ReadDispatcherMetrics(const DispatcherCounters& c);

struct SourceMetrics {
  std::string name;  // "synthetic", "ingest:NAME", "replay:FILE"
  SourceCounts counts;
  // Its lag (SourceProgress): seconds since it last published (negative: never), and the
  // highest slot it published (0: none).
  double seconds_since_update = -1;
  uint64_t highest_slot = 0;
};

using metrics::ProcessMetrics;
using metrics::ReadProcessMetrics;
using metrics::SnakeCaseLabel;

struct SenderMetrics {
  std::string sender_name;
  ControlMetrics control;
  DispatcherMetrics dispatcher;
  std::vector<SourceMetrics> sources;
  ProcessMetrics process;
};

// The exposition text: "# HELP", "# TYPE" and samples, families in a fixed order.
std::string RenderPrometheus(const SenderMetrics& m);

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_METRICS_H_
