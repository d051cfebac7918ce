// SourceRunner: the dispatch thread's duty cycle. It asks each source for a unit of work
// inside one Dispatcher batch (sleeping consumers are woken once for what one call
// published), polls the dispatcher (routing tables are adopted at least every
// poll_interval), and when no source did anything it waits: until the earliest time a
// paced source said it next has something due, or, while a source waits for input it
// cannot foresee (the ingest ring), for its idle strategy — spin, yield, or sleep a set
// interval with the timer slack at 1 ns.
//
// The runner runs until stopped, or until a source fails (its error), or, when every
// source has ended, at once (Run returns OK with ended() true) or, with
// serve_after_end, until stopped (consumers can still connect and subscribe).
//
// Thread-compatible: Run on one thread; Stop from any.
#ifndef QLASTER_SENDER_SOURCE_RUNNER_H_
#define QLASTER_SENDER_SOURCE_RUNNER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sender/dispatcher.h"
#include "sender/source.h"

namespace qlaster::sender {

enum class IdleKind : uint8_t {
  kSpin,   // busy-poll: the lowest latency for input nobody announces, a core burnt
  kYield,  // sched_yield between polls: spins, but gives way to other runnable threads
  kSleep,  // sleep `sleep` between polls (the default: 10 us)
};

struct IdleStrategy {
  IdleKind kind = IdleKind::kSleep;
  absl::Duration sleep = absl::Microseconds(10);
};

struct RunnerOptions {
  IdleStrategy idle;
  // The dispatcher is polled at least this often, whatever the sources do.
  absl::Duration poll_interval = absl::Milliseconds(1);
  // A paced source's event due sooner than this is waited for by spinning, not sleeping
  // (a sleep's wake-up costs more than that).
  absl::Duration spin_ahead = absl::Microseconds(20);
  // When every source has ended: keep polling the dispatcher until stopped (true), or
  // return from Run (false).
  bool serve_after_end = true;
};

// What one duty cycle did, over all sources.
struct CycleResult {
  int done = 0;
  // The earliest time a paced source has something due (SourceWork::kWhenever if none).
  int64_t next_due_ns = SourceWork::kWhenever;
  // Some source waits for input it cannot foresee (the idle strategy applies).
  bool awaiting_input = false;
  // Sources that wait for input with a doorbell (SourceWork::doorbell_fd), under the
  // sleep strategy: the idle wait watches these fds. More than kMaxDoorbells, or any
  // other strategy, counts as awaiting_input instead.
  static constexpr int kMaxDoorbells = 8;
  std::array<int, kMaxDoorbells> doorbells{};
  int doorbell_count = 0;
};

// How the runner waits after a cycle that did nothing (PlanIdle decides, Idle does it).
struct IdlePlan {
  enum class Kind : uint8_t {
    kPause,      // one pause instruction, then the next cycle (spin strategy)
    kYield,      // sched_yield, then the next cycle
    kSpinUntil,  // spin until `until_ns` (too close to sleep for)
    kSleepUntil  // sleep until `until_ns`
  };
  Kind kind = Kind::kPause;
  int64_t until_ns = 0;
  friend bool operator==(const IdlePlan&, const IdlePlan&) = default;
};

// The wait after a cycle at `now_ns` that did nothing: until the first of the poll
// interval, the cycle's next due time (spinning when within spin_ahead), and, when a source
// awaits input, the idle strategy's pause (none for spin and yield). Pure.
IdlePlan PlanIdle(const RunnerOptions& options, int64_t now_ns, const CycleResult& cycle);

struct RunnerCounters {
  std::atomic<uint64_t> cycles{0};      // duty cycles
  std::atomic<uint64_t> idle_waits{0};  // cycles that did no work and waited
};

class SourceRunner {
 public:
  // `dispatcher` and the sources must outlive the runner. REQUIRES: sources non-null.
  SourceRunner(Dispatcher& dispatcher, std::vector<Source*> sources, RunnerOptions options);

  // Runs duty cycles until `stop` is true (OK), a source fails (its error), or every
  // source has ended without serve_after_end (OK).
  absl::Status Run(const std::atomic<bool>& stop);

  // One duty cycle at `now_ns` without waiting: every live source's DoWork inside one
  // batch, then a dispatcher poll.
  absl::StatusOr<CycleResult> Cycle(int64_t now_ns);

  // Waits after a cycle that did nothing, until the first of: the poll interval; the
  // cycle's next due time (spinning when it is within spin_ahead); when a source
  // awaits input, the idle strategy's pause (none for spin and yield); and a doorbell
  // of the cycle becoming readable.
  void Idle(int64_t now_ns, const CycleResult& cycle);

  // True once every source has ended. Any thread.
  bool ended() const { return ended_.load(std::memory_order_acquire); }
  const RunnerCounters& counters() const { return counters_; }

 private:
  Dispatcher& dispatcher_;
  struct Entry {
    Source* source;
    bool ended = false;
  };
  std::vector<Entry> sources_;
  const RunnerOptions options_;
  std::atomic<bool> ended_{false};
  RunnerCounters counters_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SOURCE_RUNNER_H_
