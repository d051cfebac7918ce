// qlaster-inspect --stats: counting, percentiles and the three renderings.
#include "tools/inspect/live_stats.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/inspect/printer.h"

namespace qlaster::inspect {
namespace {

// Latencies kept per interval for the percentiles; beyond this only max is exact (a
// second of a few million updates is still summarized by its first million).
constexpr size_t kMaxLatencySamples = 1 << 20;

// Decoded sizes (wire/frame.h): 24-byte FrameHeader + fixed struct + data.
constexpr uint64_t kFrameHeader = 24;
constexpr uint64_t kAccountHeader = 176;
constexpr uint64_t kTransactionHeader = 88;
constexpr uint64_t kSlotHeader = 24;

double Rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

double FillPercent(const StatsSnapshot& s) {
  return s.ring_bytes == 0 ? 0.0
                           : 100.0 * static_cast<double>(s.lag_bytes) /
                                 static_cast<double>(s.ring_bytes);
}

std::string Latency(const StatsSnapshot& s, int64_t v) {
  return s.latency_samples == 0 ? "-" : FormatNanos(v);
}

}  // namespace

void LiveStats::Add(const Event& e, int64_t now_ns) {
  bool update = true;
  if (const auto* a = e.account()) {
    ++current_.accounts;
    current_.bytes += kFrameHeader + kAccountHeader + a->data.size();
  } else if (const auto* t = e.transaction()) {
    ++current_.transactions;
    current_.bytes += kFrameHeader + kTransactionHeader + t->data.size();
  } else if (e.slot() != nullptr) {
    ++current_.slots;
    current_.bytes += kFrameHeader + kSlotHeader;
  } else {
    update = false;
    if (const auto* g = e.gap()) {
      ++current_.gaps;
      current_.dropped += g->dropped;
    } else if (e.disconnected() != nullptr) {
      ++current_.disconnects;
    }
  }
  if (update) {
    ++total_updates_;
    if (e.timestamp_ns != 0) {
      const int64_t latency = now_ns - static_cast<int64_t>(e.timestamp_ns);
      if (current_.latency_samples == 0 || latency > current_.latency_max_ns) {
        current_.latency_max_ns = latency;
      }
      ++current_.latency_samples;
      if (latencies_.size() < kMaxLatencySamples) latencies_.push_back(latency);
    }
  }
}

StatsSnapshot LiveStats::TakeInterval(double seconds, double elapsed, uint64_t lag_bytes,
                                      uint64_t ring_bytes) {
  StatsSnapshot s = current_;
  s.seconds = seconds;
  s.elapsed = elapsed;
  s.lag_bytes = lag_bytes;
  s.ring_bytes = ring_bytes;
  s.total_updates = total_updates_;
  if (!latencies_.empty()) {
    auto at = [&](double q) {
      const size_t k = std::min(latencies_.size() - 1,
                                static_cast<size_t>(q * static_cast<double>(latencies_.size())));
      std::nth_element(latencies_.begin(), latencies_.begin() + static_cast<long>(k),
                       latencies_.end());
      return latencies_[k];
    };
    s.latency_p50_ns = at(0.50);
    s.latency_p99_ns = at(0.99);
  }
  current_ = StatsSnapshot{};
  latencies_.clear();
  return s;
}

std::string FormatStatsLine(const StatsSnapshot& s) {
  return absl::StrFormat(
      "%7.1fs  acct %.0f/s  tx %.0f/s  slot %.0f/s  %s/s  lat p50 %s p99 %s max %s  gaps %d "
      "(%d dropped)  ring %.1f%% lag %s",
      s.elapsed, Rate(s.accounts, s.seconds), Rate(s.transactions, s.seconds),
      Rate(s.slots, s.seconds), FormatBytes(Rate(s.bytes, s.seconds)),
      Latency(s, s.latency_p50_ns), Latency(s, s.latency_p99_ns), Latency(s, s.latency_max_ns),
      s.gaps, s.dropped, FillPercent(s), FormatBytes(static_cast<double>(s.lag_bytes)));
}

std::string FormatStatsJson(const StatsSnapshot& s) {
  auto latency = [&](int64_t v) { return s.latency_samples == 0 ? "null" : absl::StrCat(v); };
  return absl::StrFormat(
      "{\"kind\":\"stats\",\"elapsed_s\":%.3f,\"interval_s\":%.3f,\"accounts_per_s\":%.1f,"
      "\"transactions_per_s\":%.1f,\"slots_per_s\":%.1f,\"bytes_per_s\":%.0f,"
      "\"latency_p50_ns\":%s,\"latency_p99_ns\":%s,\"latency_max_ns\":%s,\"gaps\":%d,"
      "\"dropped\":%d,\"disconnects\":%d,\"lag_bytes\":%d,\"ring_bytes\":%d,"
      "\"ring_fill\":%.4f,\"total_updates\":%d}",
      s.elapsed, s.seconds, Rate(s.accounts, s.seconds), Rate(s.transactions, s.seconds),
      Rate(s.slots, s.seconds), Rate(s.bytes, s.seconds), latency(s.latency_p50_ns),
      latency(s.latency_p99_ns), latency(s.latency_max_ns), s.gaps, s.dropped, s.disconnects,
      s.lag_bytes, s.ring_bytes, FillPercent(s) / 100.0, s.total_updates);
}

std::string FormatStatsBlock(const StatsSnapshot& s) {
  std::string out = absl::StrFormat("qlaster-inspect  %.0fs  %d updates\n", s.elapsed,
                                    s.total_updates);
  absl::StrAppend(&out, absl::StrFormat("  rate     accounts %10.0f/s  transactions %10.0f/s  "
                                        "slots %6.0f/s  %s/s\n",
                                        Rate(s.accounts, s.seconds),
                                        Rate(s.transactions, s.seconds), Rate(s.slots, s.seconds),
                                        FormatBytes(Rate(s.bytes, s.seconds))));
  absl::StrAppend(&out, absl::StrFormat("  latency  p50 %9s  p99 %9s  max %9s\n",
                                        Latency(s, s.latency_p50_ns),
                                        Latency(s, s.latency_p99_ns),
                                        Latency(s, s.latency_max_ns)));
  absl::StrAppend(&out, absl::StrFormat("  loss     gaps %d  dropped %d  disconnects %d\n", s.gaps,
                                        s.dropped, s.disconnects));
  absl::StrAppend(&out, absl::StrFormat("  ring     %.1f%% full  lag %s of %s\n", FillPercent(s),
                                        FormatBytes(static_cast<double>(s.lag_bytes)),
                                        FormatBytes(static_cast<double>(s.ring_bytes))));
  return out;
}

std::string StatsScreen::Frame(const std::string& block) {
  std::string out;
  if (previous_lines_ > 0) out = absl::StrFormat("\x1b[%dF\x1b[J", previous_lines_);
  out += block;
  previous_lines_ = static_cast<int>(std::count(block.begin(), block.end(), '\n'));
  return out;
}

}  // namespace qlaster::inspect
