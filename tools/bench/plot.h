// qlaster-bench --plot: the latency distributions (log scale) and the throughput bars,
// drawn by gnuplot into one PNG.
#ifndef QLASTER_TOOLS_BENCH_PLOT_H_
#define QLASTER_TOOLS_BENCH_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {

// Draws `results` into `png_path` with gnuplot. Errors: kFailedPrecondition when gnuplot
// is not installed (saying which package provides it), kInternal when it fails.
absl::Status WritePlot(const std::vector<Result>& results, const std::string& png_path);

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_PLOT_H_
