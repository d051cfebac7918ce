// Source: where the updates a sender fans out come from (the synthetic feed, the ingest
// ring, a replayed recording, and later relays and upstreams). A source does not own a
// loop: it does a unit of work when the source runner (source_runner.h) asks, and says
// how much it did and when it next has something due. The runner owns waiting, the
// dispatcher's polling and batching, for every source alike (Aeron's agent duty cycle).
#ifndef QLASTER_SENDER_SOURCE_H_
#define QLASTER_SENDER_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sender/dispatcher.h"
#include "wire/control_framing.h"

namespace qlaster::sender {

// What one DoWork call did.
struct SourceWork {
  // Nothing is due at a known time: the source waits for input it cannot see coming (the
  // ingest ring); the runner polls it again after its idle strategy's pause.
  static constexpr int64_t kWhenever = std::numeric_limits<int64_t>::max() - 1;
  // The source has ended (a replay's last record, a synthetic duration reached).
  static constexpr int64_t kEnded = std::numeric_limits<int64_t>::max();

  // Updates published (or other progress made); > 0 asks to be called again at once.
  int done = 0;
  // CLOCK_MONOTONIC ns at which the source next has something to publish (a paced
  // source's next event), or kWhenever, or kEnded.
  int64_t next_due_ns = kWhenever;
  // With kWhenever: an fd that becomes readable when input arrives (an eventfd another
  // thread of the source rings, such as the Yellowstone source's gRPC thread), or -1.
  // Under the sleep idle strategy the runner then sleeps on it (up to its poll interval)
  // instead of calling the source again after every idle pause. The source resets it.
  int doorbell_fd = -1;
};

// A source's counters, for the metrics endpoint.
struct SourceCounts {
  uint64_t updates = 0;  // updates it published
  // Input waiting to be read, in the source's own unit (the ingest ring: cells); 0 for
  // a source that has none.
  uint64_t backlog = 0;
  // Input it refused or lost, by reason ("torn", "lapped", "decode", ...).
  std::vector<std::pair<std::string, uint64_t>> rejects;
};

// What the source runner saw a source publish, for its lag (the metrics' "source age" and
// "slot lag"). Written by the dispatch thread (relaxed stores), read by any thread.
struct SourceProgress {
  // CLOCK_MONOTONIC ns of the last DoWork that published something; 0: none yet.
  std::atomic<int64_t> last_update_ns{0};
  // The highest slot of any update it published; 0: none yet.
  std::atomic<uint64_t> highest_slot{0};
};

class Source {
 public:
  virtual ~Source() = default;

  SourceProgress& progress() { return progress_; }
  const SourceProgress& progress() const { return progress_; }

  // Its counters now (relaxed loads: each exact, not a consistent snapshot). Any thread.
  virtual SourceCounts Counts() const { return {}; }

  // "synthetic", "ingest:NAME", "replay:FILE": for logs and statistics.
  virtual std::string name() const = 0;

  // Publishes into `dispatcher` what is ready at `now_ns` (CLOCK_MONOTONIC), at most a
  // bounded amount (the runner must keep control: it polls the dispatcher between calls
  // and closes the batch it opened around this one), and returns what it did. An error
  // stops the sender (a corrupt recording); input a source can survive (a malformed
  // ingest frame) is counted and logged by the source, not returned. Called from the
  // dispatch thread only.
  virtual absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) = 0;

  // Appends the source's counters (what it received, refused, survived) for the sender's
  // Stats reply. Called from the control thread while DoWork runs: read atomics only.
  virtual void AppendCounters(std::vector<SourceCounterEntry>* /*out*/) const {}

 private:
  SourceProgress progress_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SOURCE_H_
