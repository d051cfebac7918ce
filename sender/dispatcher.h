// Dispatcher: the hot path. Finds the consumers that want an update in the current
// routing table and copies the update, encoded once, into each of their rings.
//
// One entry point, Publish(EncodedUpdate, RouteKey): a source that holds wire bytes (the
// ingest ring, a recording, a relay) validates them into an EncodedUpdate that borrows
// them (wire/frame.h) and publishes that. PublishAccount/Transaction/Slot are for
// in-process publishers that hold values (the synthetic feed, tests, a program linking
// the sender): they route first and encode only if someone wants the update.
//
// Threads: Publish*(), Poll() and batches belong to one feeding thread (the dispatch
// thread). Install(), adopted(), CollectGarbage() and NextEvent() belong to the control
// thread. The two share no lock: the control thread publishes a new table with a release
// store; the dispatch thread adopts it at its next Publish or Poll and says so with a
// release store of its own; what the dispatch thread has to tell (a table adopted, a
// consumer evicted) it rings `notify` for, and evictions travel as events in a queue, so
// the control thread never scans its consumers to find out what happened.
#ifndef QLASTER_SENDER_DISPATCHER_H_
#define QLASTER_SENDER_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "base/spsc_queue.h"
#include "base/wall_clock.h"
#include "sender/routing_table.h"
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

// A consumer the dispatcher evicted (its ring was full under the evict policy, or the
// consumer wrote an impossible ring position), as the control thread learns of it.
struct EvictionEvent {
  uint64_t consumer_id = 0;
  fb::EvictReason reason = fb::EvictReason::Slow;
  uint64_t ring_fill = 0;      // bytes the consumer had not read
  uint64_t last_sequence = 0;  // the last sequence its stream reached
};

class Dispatcher {
 public:
  // `notify` is rung (from the dispatch thread) after a table is adopted or a consumer is
  // evicted. It must outlive the dispatcher. `lz4` is the policy of PublishAccount.
  Dispatcher(const shm::EventFd* notify, Lz4Policy lz4 = {});
  ~Dispatcher();

  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // ---- dispatch thread

  // Delivers `update` to every consumer whose subscription matches `key`: written into
  // each matching ring, stamped with that consumer's next sequence number and the time,
  // and sleepers woken (or, in a batch, at its end). REQUIRES: key is `update`'s route
  // (as EncodedUpdate::FromBody returns it) and its kind is not Gap.
  void Publish(const EncodedUpdate& update, const RouteKey& key);

  // For publishers holding values: route, then encode only if someone wants it (account
  // data at or over the policy's threshold is compressed then, once). kInvalidArgument
  // for an update the codec refuses (data over the limits, an unknown slot status);
  // nothing is delivered then.
  absl::Status PublishAccount(const AccountUpdate& update);
  absl::Status PublishTransaction(const TransactionUpdate& update);
  absl::Status PublishSlot(const SlotUpdate& update);

  // Batches. Between BeginBatch() and EndBatch() every update is still published to the
  // rings at once (a spinning consumer sees it immediately), but the check for a sleeping
  // consumer (a full barrier per ring, and an eventfd write per sleeper) is made once per
  // consumer, at EndBatch(): a sleeper is woken once for the batch, not once per update.
  // The source runner opens a batch around each unit of a source's work. Nestable.
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
  // this at least every millisecond (the source runner does), so that subscription
  // changes take effect and freed consumers are released promptly.
  void Poll() {
    if (next_.load(std::memory_order_acquire) != current_) Adopt();
  }

  // The table the dispatch thread routes by now (null before the first). For the
  // dispatch thread itself (a source that waits for subscribers looks at it).
  const RoutingTable* current() const { return current_; }

  // ---- control thread

  // Hands `table` to the dispatcher (it takes effect at the dispatcher's next Publish or
  // Poll). Assigns table->version: next_version(), then one more.
  const RoutingTable* Install(std::unique_ptr<RoutingTable> table);

  // The version the next Install() assigns: a subscription change made now is routed by
  // the table of that version and every later one.
  uint64_t next_version() const { return next_version_; }

  // The newest table the dispatcher has adopted (null before the first adoption).
  const RoutingTable* adopted() const { return in_use_.load(std::memory_order_acquire); }

  // Frees the tables the dispatcher can no longer reach: every table older than adopted().
  void CollectGarbage();

  // The next eviction the dispatch thread reported, oldest first; nullopt when none is
  // waiting. (If more evictions happened than the queue holds, which takes more than
  // kEventQueueSize consumers evicted between two looks, the rest are found by
  // ConsumerChannel::evicted() and OverflowedEvents() says to look.)
  std::optional<EvictionEvent> NextEvent() { return events_.Pop(); }
  bool OverflowedEvents() { return events_overflowed_.exchange(false, std::memory_order_acq_rel); }

  const DispatcherCounters& counters() const { return counters_; }

  static constexpr size_t kEventQueueSize = 4 * kMaxConsumers;

 private:
  void Adopt();
  // The consumers that want an update with route `key`, ascending; empty when no table.
  absl::Span<const ConsumerIndex> Route(const RouteKey& key);
  void Deliver(const EncodedUpdate& update, absl::Span<const ConsumerIndex> matches);
  // Wakes (if asleep) every consumer written to since the batch began.
  void WakePending();

  const shm::EventFd* notify_;
  const Lz4Policy lz4_;
  DispatcherCounters counters_;
  WallClock clock_;  // the updates' timestamps
  int batch_depth_ = 0;
  std::vector<ConsumerIndex> pending_wake_;  // consumers written to in the open batch
  std::vector<bool> pending_wake_flag_ = std::vector<bool>(kMaxConsumers);

  // Dispatch-thread state.
  RoutingTable* current_ = nullptr;
  ConsumerSet matches_;

  // Shared between the threads.
  std::atomic<RoutingTable*> next_{nullptr};
  std::atomic<RoutingTable*> in_use_{nullptr};
  SpscQueue<EvictionEvent, kEventQueueSize> events_;
  std::atomic<bool> events_overflowed_{false};

  // Control-thread state: every table not yet freed, oldest first.
  std::deque<std::unique_ptr<RoutingTable>> tables_;
  uint64_t next_version_ = 1;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_DISPATCHER_H_
