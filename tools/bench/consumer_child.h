// Consumer processes for the multi-process scenarios (fanout, e2e): each is a real
// libqlaster-consumer bot, forked from qlaster-bench before the parent starts any thread,
// that connects to a sender, subscribes, and measures what reaches its callback.
//
// Parent and children share one page (ChildBoard, a MAP_SHARED anonymous mapping made
// before the fork): the children count themselves ready there once the sender has
// acknowledged their subscription, and the parent sets the measurement window and the
// stop flag there. Each child writes its counts and latency samples to a file of its own
// in the run's temporary directory (or, when it fails, the reason to PATH.err) and exits;
// the parent reads the files after reaping the children. Latency is CLOCK_REALTIME at the
// callback minus Event::timestamp_ns (CLOCK_REALTIME when the sender published): one
// clock, one machine, no cross-process comparison of different clocks.
#ifndef QLASTER_TOOLS_BENCH_CONSUMER_CHILD_H_
#define QLASTER_TOOLS_BENCH_CONSUMER_CHILD_H_

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qlaster/consumer.hpp"
#include "shm/spsc_ring.h"
#include "base/process.h"

namespace qlaster::bench {

uint64_t RealtimeNs();
// This process's CPU time (user + system), ns.
uint64_t SelfCpuNs();

// The consumer library's spelling of a ring wait mode.
WaitMode ToConsumerMode(WaitMode mode);

// Lives in a MAP_SHARED page: lock-free atomics work across processes.
struct ChildBoard {
  std::atomic<uint64_t> ready{0};  // children whose subscription the sender acknowledged
  std::atomic<uint64_t> stop{0};   // 1: children write their results and exit
  // Events published (timestamp_ns, CLOCK_REALTIME) outside [start, end) are not counted.
  std::atomic<uint64_t> window_start_ns{0};
  std::atomic<uint64_t> window_end_ns{UINT64_MAX};
};

// Owns the shared page. Create it before forking; the children inherit the mapping.
class SharedBoard {
 public:
  static absl::StatusOr<SharedBoard> Create();
  SharedBoard(SharedBoard&& o) noexcept;
  SharedBoard& operator=(SharedBoard&&) = delete;
  ~SharedBoard();
  ChildBoard* get() const { return board_; }
  ChildBoard* operator->() const { return board_; }

 private:
  explicit SharedBoard(ChildBoard* board) : board_(board) {}
  ChildBoard* board_;
};


// Counts and latency samples of one child; also the format of its result file.
struct ChildReport {
  uint64_t received = 0;  // updates in the window (accounts + transactions + slots)
  uint64_t accounts = 0;
  uint64_t transactions = 0;
  uint64_t slots = 0;
  uint64_t gaps = 0;      // GapEvents in the window
  uint64_t dropped = 0;   // the sum of their counts
  uint64_t first_ns = 0;  // CLOCK_REALTIME of the first and last counted update
  uint64_t last_ns = 0;
  uint64_t cpu_ns = 0;  // the child's CPU time (user + system) when it finished
  // Latency samples, ns: every update in the window, or a uniform sample of them when
  // there were more than the child's cap (reservoir sampling).
  std::vector<double> samples_ns;
};

// Keeps at most `cap` samples, a uniform choice among all offered (reservoir sampling).
class Reservoir {
 public:
  explicit Reservoir(size_t cap) : cap_(cap) {}
  void Add(double v);
  std::vector<double>& samples() { return samples_; }

 private:
  size_t cap_;
  uint64_t seen_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  std::vector<double> samples_;
};

// Writes `report` to `path` (replacing it); ReadChildReport reads it back.
absl::Status WriteChildReport(const std::string& path, const ChildReport& report);
absl::StatusOr<ChildReport> ReadChildReport(const std::string& path);

struct ConsumerChildSpec {
  std::string name;  // "fanout-3": in errors and the sender's stats
  std::string socket_path;
  std::string result_path;  // the report; PATH.err says why when the child fails
  int cpu = -1;
  WaitMode wait_mode = WaitMode::kSpinThenSleep;
  uint64_t ring_bytes = 0;
  std::vector<Pubkey> owners;
  TransactionFilter transactions = TransactionFilter::kNone;
  std::optional<uint64_t> end_slot;  // a slot update with this number ends the run
  size_t max_samples = 1'000'000;
  // Latency from the first 8 bytes of each account's data (a CLOCK_REALTIME stamp its
  // writer put there, for a path that starts before the sender) instead of from the
  // sender's timestamp. Updates without 8 bytes of data count, with no sample.
  bool latency_from_data = false;
  absl::Duration connect_deadline = absl::Seconds(30);  // for the sender to start listening
  absl::Duration run_deadline = absl::Seconds(300);     // safety net: give up after this
  ChildBoard* board = nullptr;
};

// The body of a forked consumer: connect (retrying until the sender listens), subscribe,
// count ready on the board, then read until the end slot, the stop flag, or the deadline
// (an error, as is a disconnection). Returns the exit code: 0, or 1 with PATH.err written.
// Runs OverflowPolicy::kDropAndCount without auto-reconnect.
int RunConsumerChild(const ConsumerChildSpec& spec);

// Processes forked by a scenario, with what they left behind.
class ChildSet {
 public:
  // Forks one child per body. REQUIRES: the caller has no other thread.
  absl::Status Fork(std::vector<std::string> names, std::vector<std::string> result_paths,
                    const std::function<int(size_t)>& body);

  size_t size() const { return procs_.size(); }

  // Fails (naming the child, how it ended and its .err) if any child has exited; with
  // `exit_ok`, a child that exited 0 is fine.
  absl::Status CheckAlive(bool exit_ok);

  // Until board.ready reaches size(): calls `idle` between checks (the fanout parent
  // polls its dispatcher there, which the subscription acknowledgements need).
  absl::Status WaitReady(const ChildBoard& board, absl::Duration timeout,
                         const std::function<absl::Status()>& idle);

  // Until every child has exited 0, calling `idle` between checks; then their reports.
  absl::StatusOr<std::vector<ChildReport>> Collect(absl::Duration timeout,
                                                   const std::function<absl::Status()>& idle);

 private:
  std::string Describe(size_t i, int status) const;
  std::vector<ChildProcess> procs_;
  std::vector<pid_t> pids_;
  std::vector<std::optional<int>> status_;
  std::vector<std::string> names_;
  std::vector<std::string> paths_;
};

// The samples of all reports in one vector, for Latency::FromSamples.
std::vector<double> MergeSamples(std::vector<ChildReport>& reports);

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_CONSUMER_CHILD_H_
