// SyntheticSource: the `synthetic` source, the sender's embedded default. It plays a
// SyntheticFeed (synthetic_feed.h) into the Dispatcher, each event at its virtual time
// against CLOCK_MONOTONIC (or as fast as it can, for benchmarks): accounts, transactions,
// slot statuses, block meta and entries, each with its Publish call (transaction status
// updates are the dispatcher's, derived from the transactions).
//
// Pacing is by absolute time (the first DoWork's time + the event's virtual time), never
// by summing sleeps, so it does not drift: a late event is published at once and the
// schedule catches up. Each DoWork publishes the events due (at most kMaxBatchUpdates, one
// batch) and returns when the next one is due; the source runner waits for it, spinning
// when it is close, since a burst packs events microseconds apart.
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

struct SyntheticSourceOptions {
  SyntheticOptions feed{};
  // Publish as fast as the dispatcher takes the events, ignoring their virtual times.
  bool max_speed = false;
  // End once the feed's virtual time reaches this; infinite by default.
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
  std::atomic<uint64_t> block_metas{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> publish_errors{0};  // updates the dispatcher refused (a bug)
  std::atomic<uint64_t> virtual_nanos{0};   // virtual time of the last event published
};

class SyntheticSource : public Source {
 public:
  // kInvalidArgument for options ValidateSyntheticOptions rejects, or a duration <= 0 or
  // log_interval <= 0.
  static absl::StatusOr<std::unique_ptr<SyntheticSource>> Create(const SyntheticSourceOptions& options);

  std::string name() const override { return "synthetic"; }

  // Publishes the events due at `now_ns` (all of them, up to kMaxBatchUpdates); ends once
  // the feed's virtual time reaches the duration. Errors from the dispatcher are counted
  // and logged, never returned (the feed builds only valid updates).
  absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) override;

  // Most updates one DoWork call publishes (one batch: sleeping consumers are woken
  // after it).
  static constexpr int kMaxBatchUpdates = 64;

  const SyntheticCounters& counters() const { return counters_; }
  SourceCounts Counts() const override {
    const SyntheticCounters& c = counters_;
    return {.updates = c.accounts.load(std::memory_order_relaxed) +
                       c.transactions.load(std::memory_order_relaxed) +
                       c.slots.load(std::memory_order_relaxed),
            .rejects = {{"refused", c.publish_errors.load(std::memory_order_relaxed)}}};
  }
  const SyntheticSourceOptions& options() const { return options_; }

 private:
  SyntheticSource(const SyntheticSourceOptions& options, SyntheticFeed feed);
  void Publish(Dispatcher& dispatcher, SyntheticEventKind kind);
  void Log(int64_t real_elapsed_ns);
  void LogDone(int64_t now_ns);

  const SyntheticSourceOptions options_;
  SyntheticFeed feed_;
  SyntheticCounters counters_;
  int64_t start_ns_ = -1;  // CLOCK_MONOTONIC of virtual time 0 (the first DoWork)
  int64_t end_ns_;         // the duration, in virtual ns
  bool pending_ = false;   // feed_ holds an event not yet published
  SyntheticEventKind pending_kind_ = SyntheticEventKind::kSlot;
  int64_t next_log_ns_ = 0;
  // For the periodic summary: counters at the previous log line.
  int64_t logged_at_ns_ = 0;
  uint64_t logged_accounts_ = 0;
  uint64_t logged_transactions_ = 0;
  uint64_t logged_bytes_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SYNTHETIC_SOURCE_H_
