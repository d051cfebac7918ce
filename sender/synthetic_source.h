// SyntheticSource: the `synthetic` source, the sender's embedded default. It plays a
// SyntheticFeed (synthetic_feed.h) into the Dispatcher, each event at its virtual time
// against CLOCK_MONOTONIC (or as fast as it can, for benchmarks).
//
// Pacing is by absolute time (start + the event's virtual time), never by summing sleeps,
// so it does not drift: a late event is published at once and the schedule catches up.
// Events due within kSyntheticSpinAhead are published without sleeping, since a burst
// packs events microseconds apart and a sleep per event would cost more than the event.
#ifndef QLASTER_SENDER_SYNTHETIC_SOURCE_H_
#define QLASTER_SENDER_SYNTHETIC_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sender/source.h"
#include "sender/synthetic_feed.h"

namespace qlaster::sender {

inline constexpr absl::Duration kSyntheticSpinAhead = absl::Microseconds(20);

struct SyntheticSourceOptions {
  SyntheticOptions feed{};
  // Publish as fast as the dispatcher takes the events, ignoring their virtual times.
  bool max_speed = false;
  // End (Run returns OK) once the feed's virtual time reaches this; infinite by default.
  // With max_speed this bounds the work of a benchmark run rather than its wall time.
  absl::Duration duration = absl::InfiniteDuration();
  // Print a one-line summary to stderr every log_interval.
  bool verbose = false;
  absl::Duration log_interval = absl::Seconds(10);
};

// What the source published. Written by the dispatch thread, readable from any thread
// (relaxed loads: each counter is exact, but they are not a consistent snapshot).
struct SyntheticCounters {
  std::atomic<uint64_t> accounts{0};
  std::atomic<uint64_t> account_bytes{0};  // account data bytes
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> slots{0};           // slot status updates
  std::atomic<uint64_t> publish_errors{0};  // updates the dispatcher refused (a bug)
  std::atomic<uint64_t> virtual_nanos{0};   // virtual time of the last event published
};

class SyntheticSource : public Source {
 public:
  // kInvalidArgument for options ValidateSyntheticOptions rejects, or a duration <= 0 or
  // log_interval <= 0.
  static absl::StatusOr<std::unique_ptr<SyntheticSource>> Create(const SyntheticSourceOptions& options);

  // Publishes the feed into `dispatcher` until `stop` (OK) or the duration is reached
  // (OK). Errors from the dispatcher are counted, never returned. Calls dispatcher.Poll()
  // at least every millisecond while waiting for the next event's time. Run once only.
  absl::Status Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) override;

  const SyntheticCounters& counters() const { return counters_; }
  const SyntheticSourceOptions& options() const { return options_; }

 private:
  SyntheticSource(const SyntheticSourceOptions& options, SyntheticFeed feed);
  void Publish(Dispatcher& dispatcher, SyntheticEventKind kind);
  void Log(int64_t real_elapsed_ns);

  const SyntheticSourceOptions options_;
  SyntheticFeed feed_;
  SyntheticCounters counters_;
  // For the periodic summary: counters at the previous log line.
  int64_t logged_at_ns_ = 0;
  uint64_t logged_accounts_ = 0;
  uint64_t logged_transactions_ = 0;
  uint64_t logged_bytes_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SYNTHETIC_SOURCE_H_
