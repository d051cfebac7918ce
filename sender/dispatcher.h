// Dispatcher: the hot path. Encodes each update once, finds the consumers that want it in
// the current routing table, and copies it into each of their rings.
//
// Threads: Publish*() and Poll() are called from one feeding thread (the dispatch thread).
// Install(), adopted() and CollectGarbage() are called from the control thread. The two
// sides share no lock: the control thread publishes a new table with a release store; the
// dispatch thread adopts it at its next Publish or Poll and acknowledges with a release
// store of its own, then rings `notify` so the control thread can send acknowledgements
// and free what the dispatcher no longer uses.
#ifndef QLASTER_SENDER_DISPATCHER_H_
#define QLASTER_SENDER_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "sender/routing_table.h"
#include "base/wall_clock.h"
#include "shm/event_fd.h"
#include "wire/frame.h"
#include "wire/lz4_policy.h"
#include "wire/updates.h"

namespace qlaster::sender {

struct DispatcherCounters {
  std::atomic<uint64_t> published{0};  // updates handed to Publish*
  std::atomic<uint64_t> rejected{0};   // updates no consumer wanted
  std::atomic<uint64_t> evicted{0};    // consumers evicted by the dispatcher
};

class Dispatcher {
 public:
  // `notify` is rung (from the dispatch thread) after a table is adopted or a consumer is
  // evicted. It must outlive the dispatcher.
  Dispatcher(const shm::EventFd* notify, Lz4Policy lz4 = {});
  ~Dispatcher();

  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // ---- dispatch thread

  // Each delivers one update to every consumer that wants it. Errors are for updates that
  // cannot be encoded (kInvalidArgument); nothing is delivered then.
  absl::Status PublishAccount(const AccountUpdate& update);
  absl::Status PublishTransaction(const TransactionUpdate& update);
  void PublishSlot(const SlotUpdate& update);

  // Batches. Between BeginBatch() and EndBatch() every update is still published to the
  // rings at once (a spinning consumer sees it immediately), but the check for a sleeping
  // consumer (a full barrier per ring, and an eventfd write per sleeper) is made once per
  // consumer, at EndBatch(): a sleeper is woken once for the batch, not once per update.
  // Sources open a batch for updates that arrive together (the frames an ingest drain
  // finds, a burst of the synthetic feed) and close it before they wait. Nestable.
  void BeginBatch() { ++batch_depth_; }
  void EndBatch() {
    if (batch_depth_ > 0 && --batch_depth_ == 0) WakePending();
  }
  // Holds a batch open for a scope.
  class Batch {
   public:
    explicit Batch(Dispatcher& d) : d_(&d) { d_->BeginBatch(); }
    ~Batch() { Close(); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    void Close() {
      if (d_ != nullptr) std::exchange(d_, nullptr)->EndBatch();
    }

   private:
    Dispatcher* d_;
  };

  // Adopts a newly installed table, if any. A feeding thread with nothing to publish calls
  // this at least every millisecond, so that subscription changes take effect and freed
  // consumers are released promptly.
  void Poll() {
    if (next_.load(std::memory_order_acquire) != current_) Adopt();
  }

  // ---- control thread

  // Hands `table` to the dispatcher (it takes effect at the dispatcher's next Publish or
  // Poll). Assigns table->version.
  const RoutingTable* Install(std::unique_ptr<RoutingTable> table);

  // The newest table the dispatcher has adopted (null before the first adoption).
  const RoutingTable* adopted() const { return in_use_.load(std::memory_order_acquire); }

  // Frees the tables the dispatcher can no longer reach: every table older than adopted().
  void CollectGarbage();

  const DispatcherCounters& counters() const { return counters_; }

 private:
  void Adopt();
  // Wakes (if asleep) every consumer written to since the batch began.
  void WakePending();
  // Delivers to the consumers in `matches` (already in ascending order).
  template <typename Set>
  void Deliver(const EncodedUpdate& update, const Set& matches);

  const shm::EventFd* notify_;
  const Lz4Policy lz4_;
  DispatcherCounters counters_;
  WallClock clock_;  // the updates' timestamps
  int batch_depth_ = 0;
  std::vector<ConsumerSlot> pending_wake_;        // slots written in the open batch
  std::vector<bool> pending_wake_flag_ = std::vector<bool>(kMaxConsumerSlots);

  // Dispatch-thread state.
  RoutingTable* current_ = nullptr;
  ConsumerSet matches_;

  // Shared between the threads.
  std::atomic<RoutingTable*> next_{nullptr};
  std::atomic<RoutingTable*> in_use_{nullptr};

  // Control-thread state: every table not yet freed, oldest first.
  std::deque<std::unique_ptr<RoutingTable>> tables_;
  uint64_t next_version_ = 1;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_DISPATCHER_H_
