// Dispatcher: the hot path. Finds the consumers that want an update in the current
// routing table and copies the update, encoded once, into each of their rings.
//
// One entry point, Publish(EncodedUpdate, RouteKey): a source that holds wire bytes (the
// ingest ring, a recording, a relay) validates them into an EncodedUpdate that borrows
// them (wire/frame.h) and publishes that. PublishAccount/Transaction/Slot are for
// in-process publishers that hold values (the synthetic feed, tests, a program linking
// the sender): they route first and encode only if someone wants the update.
//
// Routing (sender/routing_table.h): an update is matched against the processed level's
// unnamed subscriptions and named filters and delivered at once, each copy stamped with
// the bits of the consumer's filters it matched and cut to the consumer's data slices; a
// transaction also yields a transaction-status update for the consumers whose status
// filters match it. Then it is appended to the update log (sender/update_log.h). A slot
// status is appended first: the slots it brings to the confirmed or finalized level are
// released to that level's consumers (their stored updates, latest write per account,
// routed by that level's filters), and then the status goes to every consumer. A
// consumer that subscribed from a past slot reads the log through its own cursor until
// it reaches the end, and only then live; while it catches up the live path passes it
// by, so the seam has no gap and no duplicate.
//
// Threads: Publish*(), Poll() and batches belong to one feeding thread (the dispatch
// thread). Install(), adopted(), CollectGarbage() and NextEvent() belong to the control
// thread. The two share no lock: the control thread publishes a new table with a release
// store; the dispatch thread adopts it at its next Publish or Poll and says so with a
// release store of its own; what the dispatch thread has to tell (a table adopted, a
// consumer evicted) it rings `notify` for, and evictions travel as events in a queue, so
// the control thread never scans its consumers to find out what happened. The update
// log's Pin/OldestSlot are the one exception (a mutex the dispatch thread takes only
// while evicting from the log).
#ifndef QLASTER_SENDER_DISPATCHER_H_
#define QLASTER_SENDER_DISPATCHER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "base/spsc_queue.h"
#include "base/wall_clock.h"
#include "sender/matcher.h"
#include "sender/routing_table.h"
#include "sender/update_log.h"
#include "shm/event_fd.h"
#include "wire/frame.h"
#include "wire/lz4_policy.h"
#include "wire/updates.h"

namespace qlaster::sender {

struct DispatcherCounters {
  std::atomic<uint64_t> published{0};  // updates handed to Publish*
  // ... by fb::UpdateKind (Account, Transaction, Slot, BlockMeta, Entry, ...).
  std::array<std::atomic<uint64_t>, 8> published_by_kind{};
  std::atomic<uint64_t> rejected{0};   // updates no live consumer wanted
  std::atomic<uint64_t> evicted{0};    // consumers evicted by the dispatcher
  // Transactions whose bytes or status did not parse: account-key predicates cannot
  // match them (the others still do).
  std::atomic<uint64_t> unparsed_transactions{0};
  std::atomic<uint64_t> released_slots{0};  // slots released to a commitment level
  std::atomic<uint64_t> replays_started{0};
  std::atomic<uint64_t> replays_finished{0};
  // Updates lost to consumers because the update log evicted them first (commitment
  // levels waiting, replays behind): each reached its consumers as part of a gap.
  std::atomic<uint64_t> log_gap_updates{0};
  // The update log, as of the last append.
  std::atomic<uint64_t> log_bytes{0};
  std::atomic<uint64_t> log_entries{0};
};

struct DispatcherOptions {
  Lz4Policy lz4 = {};  // the policy of PublishAccount
  // The update log (replay and commitment levels); nullopt: none (then from_slot is
  // refused and confirmed/finalized consumers get nothing but slot updates).
  std::optional<UpdateLogOptions> log = UpdateLogOptions{};
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
  // evicted. It must outlive the dispatcher.
  explicit Dispatcher(const shm::EventFd* notify, DispatcherOptions options = {});
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
  absl::Status PublishBlockMeta(const BlockMetaUpdate& update);
  absl::Status PublishEntry(const EntryUpdate& update);

  // Tells every consumer that `count` updates were lost before they reached this sender
  // (a relay's gap, an overflowing source queue): each sees a gap of `count` before its
  // next record. Consumers cannot know which of those updates they would have wanted, so
  // the count is the source's.
  void PublishGap(uint64_t count);

  // The highest slot of the updates published since the last call (0: none), and starts
  // again: the source runner's record of which slot each source has reached.
  uint64_t TakeHighestSlot() { return std::exchange(highest_slot_, 0); }

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
    if (!catching_up_.empty()) CatchUp(kCatchUpIdleBudget);
    if (!deferred_wake_.empty()) RetryWakes();
    if (!gap_pending_.empty()) FlushGaps();
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

  // The update log, for the control thread's from_slot checks (Pin/Unpin/OldestSlot);
  // null without one.
  UpdateLog* update_log() { return log_.get(); }
  const UpdateLog* update_log() const { return log_.get(); }

  const DispatcherCounters& counters() const { return counters_; }

  static constexpr size_t kEventQueueSize = 4 * kMaxConsumers;
  // Log entries a catching-up consumer reads per publish, and per idle poll.
  static constexpr int kCatchUpPublishBudget = 32;
  static constexpr int kCatchUpIdleBudget = 1024;

 private:
  // A consumer reading the log before it reads live (see Dispatcher's comment).
  struct Cursor {
    ConsumerChannel* channel = nullptr;  // the cursor is for this channel only
    UpdateLog::Position next = 0;
    uint64_t from_slot = 0;
    uint64_t request = 0;
    // Inside the release of the slots the status at `next` released: how far.
    size_t release_slot = 0;
    size_t release_index = 0;
    // The update being delivered is out; only its derived status is not.
    bool primary_done = false;
  };
  enum class Target { kLive, kCursor };

  void Adopt();
  void StartReplays();
  // Routes `update` at `level` and delivers it (live: to every match not catching up;
  // cursor: only to `only`, returning kFull when its ring has no room).
  ConsumerChannel::DeliverResult Route(const EncodedUpdate& update, const RouteKey& key,
                                       size_t level, Target target, ConsumerIndex only = 0,
                                       Cursor* cursor = nullptr);
  // The update at `p` of the log (and its route); sets timestamp_ to its publication.
  absl::StatusOr<EncodedUpdate> FromLog(UpdateLog::Position p, RouteKey* key);
  // Delivers to one recipient: sliced if it asked for slices.
  ConsumerChannel::DeliverResult DeliverOne(const EncodedUpdate& update, ConsumerIndex who,
                                            uint16_t bits, Target target);
  void AfterWrite(ConsumerIndex who, ConsumerChannel::DeliverResult r, ConsumerChannel* channel);
  // Live publishing: deliver, then log (a slot status: log, release, deliver).
  void PublishLive(const EncodedUpdate& update, const RouteKey& key);
  void Release(UpdateLog::Position at);
  void ReleaseSlot(uint64_t slot, Commitment level, uint64_t status_slot);
  // The status a slot released through a descendant's status gets at `level` (a
  // confirmed or finalized consumer sees a status after every slot it is given).
  absl::StatusOr<EncodedUpdate> AncestorStatus(uint64_t slot, Commitment level) const;
  void AppendToLog(const EncodedUpdate& update, const RouteKey& key);
  void EvictFromLog();
  void ForgetLost();
  void CatchUp(int budget);
  // Advances `who`'s cursor by up to `budget` entries; true when it reached the end.
  bool Advance(ConsumerIndex who, Cursor& c, int& budget);
  // Wakes (if asleep) every consumer written to since the batch began.
  void WakePending();
  // Wake() for `who`'s channel; a wake held back (the minimum wake interval) is retried
  // at the next Poll.
  void WakeOrDefer(ConsumerIndex who, ConsumerChannel* channel);
  void RetryWakes();
  // Remembers that `who` has a gap record still to write (ConsumerChannel::FlushGap).
  void NoteGap(ConsumerIndex who, ConsumerChannel* channel) {
    if (channel->gap_pending() && !gap_pending_flag_[who]) {
      gap_pending_flag_[who] = true;
      gap_pending_.push_back(who);
    }
  }
  // Writes every pending gap record that fits now, and wakes its consumer.
  void FlushGaps();

  const shm::EventFd* notify_;
  const Lz4Policy lz4_;
  DispatcherCounters counters_;
  WallClock clock_;  // the updates' timestamps
  int batch_depth_ = 0;
  std::vector<ConsumerIndex> pending_wake_;  // consumers written to in the open batch
  std::vector<bool> pending_wake_flag_ = std::vector<bool>(kMaxConsumers);
  std::vector<ConsumerIndex> deferred_wake_;  // wakes held back, retried by Poll
  std::vector<bool> deferred_wake_flag_ = std::vector<bool>(kMaxConsumers);
  std::vector<ConsumerIndex> gap_pending_;  // consumers with a gap record to write, by Poll
  std::vector<bool> gap_pending_flag_ = std::vector<bool>(kMaxConsumers);

  // Dispatch-thread state.
  RoutingTable* current_ = nullptr;
  Matcher matcher_;
  ConsumerSet unnamed_scratch_;
  // The account being published (PublishAccount encodes into it: no StatusOr to move
  // out of, and its buffer for compressed data is reused). Borrows the caller's data
  // while it is published; stale after.
  EncodedUpdate account_;
  std::unique_ptr<UpdateLog> log_;
  uint64_t timestamp_ = 0;  // the timestamp of the update being delivered
  uint64_t highest_slot_ = 0;  // since the last TakeHighestSlot()
  std::vector<uint8_t> slice_storage_;
  std::array<Cursor, kMaxConsumers> cursors_{};
  // Updates the log evicted before their slot was released to a commitment level, by
  // (slot, level): the consumers that would have had them, told at the release.
  struct LostUpdates {
    absl::flat_hash_map<Pubkey, std::vector<ConsumerIndex>, PubkeyHash> accounts;
    absl::flat_hash_map<ConsumerIndex, uint64_t> others;
  };
  std::map<std::pair<uint64_t, size_t>, LostUpdates> lost_;
  std::vector<ConsumerIndex> catching_up_;           // consumers with a cursor
  std::array<bool, kMaxConsumers> is_catching_up_{};  // ... as flags

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
