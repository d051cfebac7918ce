// The Prometheus text exposition format (version 0.0.4) as every qlaster daemon writes it,
// and the standard process_* metrics of client libraries read from /proc/self.
//
// PrometheusWriter builds the text family by family; the daemons decide what they
// expose (sender/metrics.h, grpc_server/endpoint_metrics.h). Names follow Prometheus
// conventions: a qlaster_ prefix, base units (bytes, seconds), counters end in _total, one
// label per dimension.
//
// Thread-compatible: a writer belongs to one thread (the scrape's).
#ifndef QLASTER_METRICS_PROMETHEUS_H_
#define QLASTER_METRICS_PROMETHEUS_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace qlaster::metrics {

// The Content-Type of the text PrometheusWriter makes.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusWriter {
 public:
  // Starts a family: its "# HELP" and "# TYPE" lines. `type`: counter or gauge.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help);
  // One sample of the current family. `labels`: name, value, name, value, ... (values are
  // escaped here; names must be valid label names).
  void Sample(std::initializer_list<absl::string_view> labels, double value);
  void Sample(double value) { Sample({}, value); }
  // A family of one unlabelled sample.
  void One(absl::string_view name, absl::string_view type, absl::string_view help, double value);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

// This process, from /proc/self (the names of Prometheus client libraries).
struct ProcessMetrics {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t threads = 0;
};

ProcessMetrics ReadProcessMetrics();

// The process_* families.
void WriteProcessMetrics(const ProcessMetrics& p, PrometheusWriter& w);

// A label value from an enum's name: "BlockMeta" -> "block_meta".
std::string SnakeCaseLabel(absl::string_view name);

}  // namespace qlaster::metrics

#endif  // QLASTER_METRICS_PROMETHEUS_H_
