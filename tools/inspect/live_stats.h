// `qlaster-inspect --stats`: a per-second view of what arrives (rates per kind, bytes,
// latency percentiles, gaps, how full the ring is), refreshed in place on a terminal and
// printed as one plain (or JSON) line per interval otherwise.
//
// "bytes" are the decoded sizes of the updates (frame header, fixed fields, uncompressed
// data), i.e. what a consumer handles, not what the ring carried when LZ4 was used.
//
// Thread-compatible: used from the inspect loop only.
#ifndef QLASTER_TOOLS_INSPECT_LIVE_STATS_H_
#define QLASTER_TOOLS_INSPECT_LIVE_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qlaster/consumer.hpp"

namespace qlaster::inspect {

// One interval, as rates and latency percentiles.
struct StatsSnapshot {
  double seconds = 0;  // length of the interval
  double elapsed = 0;  // since the start
  uint64_t accounts = 0;
  uint64_t transactions = 0;
  uint64_t slots = 0;
  uint64_t bytes = 0;
  uint64_t gaps = 0;
  uint64_t dropped = 0;  // updates missed, summed over the gaps
  uint64_t disconnects = 0;
  uint64_t latency_samples = 0;
  int64_t latency_p50_ns = 0;
  int64_t latency_p99_ns = 0;
  int64_t latency_max_ns = 0;
  uint64_t lag_bytes = 0;   // unread bytes in the ring at the end of the interval
  uint64_t ring_bytes = 0;  // the ring's size
  uint64_t total_updates = 0;  // since the start
};

class LiveStats {
 public:
  // Counts one event; `now_ns` is CLOCK_REALTIME, for its latency.
  void Add(const Event& event, int64_t now_ns);

  // The interval since the last call (or the start), then starts a new one.
  StatsSnapshot TakeInterval(double seconds, double elapsed, uint64_t lag_bytes,
                             uint64_t ring_bytes);

 private:
  StatsSnapshot current_;
  std::vector<int64_t> latencies_;
  uint64_t total_updates_ = 0;
};

// "  12.0s  acct 1200/s  tx 0/s  slot 10/s  1.20MiB/s  lat p50 12.0us p99 40.0us max 0.10ms
//  gaps 0 (0 dropped)  ring 0.0% lag 0B"
std::string FormatStatsLine(const StatsSnapshot& s);
// {"kind":"stats", ...} with the same fields, rates per second.
std::string FormatStatsJson(const StatsSnapshot& s);
// A few lines for a terminal (no escape sequences).
std::string FormatStatsBlock(const StatsSnapshot& s);

// Draws successive blocks over each other on a terminal: the second and later frames
// start by moving the cursor up over the previous one and clearing it (ANSI CSI F, J).
class StatsScreen {
 public:
  std::string Frame(const std::string& block);

 private:
  int previous_lines_ = 0;
};

}  // namespace qlaster::inspect

#endif  // QLASTER_TOOLS_INSPECT_LIVE_STATS_H_
