// qlaster-bench output: the table on stdout and the JSON file.
#ifndef QLASTER_TOOLS_BENCH_REPORT_H_
#define QLASTER_TOOLS_BENCH_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {

// One readable table per scenario: each result, then its baselines, then the ratios.
std::string FormatTable(const std::vector<Result>& results);

// A JSON array with one object per result: scenario, subject, the parameters, p50_ns ...
// max_ns (latency) or records_per_s / bytes_per_s / ns_per_op, the metrics, and the
// baselines of the same run under "baseline".
std::string FormatJson(const std::vector<Result>& results);

// "1.23 us", "456 ns", "12.3 ms".
std::string FormatNs(double ns);
// "12.3 M/s", "456 k/s".
std::string FormatRate(double per_s);
// "1.2 GB/s".
std::string FormatBytesRate(double bytes_per_s);
// "32 B", "4 KiB", "1 MiB".
std::string FormatSize(uint64_t bytes);

// Writes `text` to `path` (replacing it). Errors name the path.
absl::Status WriteFile(const std::string& path, const std::string& text);

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_REPORT_H_
