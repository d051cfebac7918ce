// ConsumerChannel: the data-plane half of one consumer — its ring, its doorbell, its
// sequence numbers and its overflow policy.
//
// Ownership and threads: the control plane creates a channel and shares it with the
// dispatcher through routing tables (sender/routing_table.h); the channel dies when the
// last table holding it is freed, which unmaps the ring and closes its fds. Deliver() and
// Wake() run on the dispatch thread only. The counters and the eviction state are atomics
// that the control plane reads at any time.
#ifndef QLASTER_SENDER_CONSUMER_CHANNEL_H_
#define QLASTER_SENDER_CONSUMER_CHANNEL_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "proto/qlaster_generated.h"
#include "shm/event_fd.h"
#include "shm/spsc_ring.h"
#include "wire/frame.h"

namespace qlaster::sender {

// Counters written only by the dispatch thread and read by others: a relaxed load and
// store, not a locked read-modify-write (~8 ns per update).
inline void BumpCounter(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

class ConsumerChannel {
 public:
  // `min_wake_interval_ns`: Wake() rings the doorbell at most once per this interval,
  // unless the consumer read all it was last woken for (0: whenever it sleeps).
  ConsumerChannel(uint64_t consumer_id, std::string name, shm::RingProducer ring,
                  shm::EventFd doorbell, OverflowPolicy policy, int64_t min_wake_interval_ns = 0)
      : consumer_id_(consumer_id),
        name_(std::move(name)),
        ring_(std::move(ring)),
        doorbell_(std::move(doorbell)),
        policy_(policy),
        min_wake_interval_ns_(min_wake_interval_ns) {}

  ConsumerChannel(const ConsumerChannel&) = delete;
  ConsumerChannel& operator=(const ConsumerChannel&) = delete;

  // ---- dispatch thread only

  // Writes `update` (stamped with this consumer's next sequence number) into the ring, or
  // applies the overflow policy when it does not fit: Evict closes the ring and marks the
  // channel evicted; DropAndCount counts it, and the next record that fits is preceded by
  // a gap record. An update that can never fit this ring is dropped and counted under
  // either policy. Returns true if the channel was evicted by this call: the caller tells
  // the control plane.
  // `filters`: the bits of the consumer's named filters the update matched.
  bool Deliver(const EncodedUpdate& update, uint64_t timestamp_ns, uint16_t filters = 0) {
    return Write(update, timestamp_ns, filters, /*wait_if_full=*/false) == DeliverResult::kEvicted;
  }

  // For a replay, which must not lose what it has not written yet: writes `update` if it
  // fits now; kFull leaves everything as it was (no sequence used, nothing counted), to be
  // tried again once the consumer has read. kEvicted as Deliver's true (a consumer that
  // corrupted its ring); an update that can never fit is dropped and counted (kWritten).
  enum class DeliverResult { kWritten, kFull, kEvicted };
  DeliverResult TryDeliver(const EncodedUpdate& update, uint64_t timestamp_ns, uint16_t filters) {
    return Write(update, timestamp_ns, filters, /*wait_if_full=*/true);
  }

  // Counts `n` updates this consumer lost elsewhere (evicted from the update log before
  // they reached it) as dropped: they take sequence numbers, and the next record that
  // fits is preceded by a gap record for them.
  void Skip(uint64_t n);

  // Writes the gap record for what was dropped or skipped since the last one, if any and
  // if it fits now, so that a consumer learns of a drop at the end of a burst (or of a
  // Skip) at once rather than with the next update. Returns true when no gap is pending.
  bool FlushGap(uint64_t timestamp_ns);
  bool gap_pending() const { return pending_drops_ > 0; }

  // Rings the doorbell if the consumer sleeps. Call once per channel after a publish.
  // Returns false when the consumer sleeps, was woken less than the minimum wake interval
  // ago and has not released all that was published when it was woken: the wake is held
  // back (its sleeping flag stays set) and the caller must call Wake() again later. A
  // consumer that keeps its flag set without reading, or reads one record per wake-up
  // while many arrive, so costs the dispatcher one eventfd write per interval, not one
  // per update, while one that reads all it was woken for and sleeps again is woken at
  // once every time.
  bool Wake() {
    if (min_wake_interval_ns_ == 0) {
      if (ring_.WakeIfSleeping(doorbell_)) BumpCounter(wakes_);
      return true;
    }
    return WakeLimited();
  }

  // Marks the ring closed and wakes the consumer (shutdown, or the consumer is leaving).
  // Safe only when the dispatcher no longer writes to this channel.
  void CloseRing() { ring_.Close(&doorbell_); }

  // ---- any thread

  uint64_t consumer_id() const { return consumer_id_; }
  const std::string& name() const { return name_; }
  int ring_fd() const { return ring_.fd(); }
  int doorbell_fd() const { return doorbell_.fd(); }
  uint64_t ring_bytes() const { return ring_.capacity(); }
  OverflowPolicy policy() const { return policy_; }

  bool evicted() const { return evicted_.load(std::memory_order_acquire); }
  // Meaningful once evicted() is true.
  fb::EvictReason evict_reason() const { return evict_reason_; }
  uint64_t evict_fill() const { return evict_fill_; }

  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Gap records written: each tells the consumer of the updates dropped before it.
  uint64_t gaps() const { return gaps_.load(std::memory_order_relaxed); }
  // Doorbell rings, and wakes held back by the minimum wake interval.
  uint64_t wakes() const { return wakes_.load(std::memory_order_relaxed); }
  uint64_t wakes_deferred() const { return wakes_deferred_.load(std::memory_order_relaxed); }
  // The last sequence number this consumer's stream has reached (delivered or dropped).
  uint64_t last_sequence() const { return last_sequence_.load(std::memory_order_relaxed); }
  // Published bytes the consumer has not released yet, as last seen by the dispatcher.
  uint64_t ring_fill() const { return ring_fill_.load(std::memory_order_relaxed); }
  // Records written but not yet released by the consumer (exact up to kLagWindow records
  // behind; a consumer further behind is reported as kLagWindow).
  uint64_t LagRecords() const;

  static constexpr uint64_t kLagWindow = 4096;

 private:
  DeliverResult Write(const EncodedUpdate& update, uint64_t timestamp_ns, uint16_t filters,
                      bool wait_if_full);
  void Evict(fb::EvictReason reason);
  bool WakeLimited();

  const uint64_t consumer_id_;
  const std::string name_;
  shm::RingProducer ring_;
  shm::EventFd doorbell_;
  const OverflowPolicy policy_;
  const int64_t min_wake_interval_ns_;
  uint64_t published_at_last_wake_ = 0;  // the ring's published end at the last wake-up

  // Dispatch-thread state.
  uint64_t next_sequence_ = 1;
  uint64_t pending_drops_ = 0;  // dropped since the last gap record that fit
  int64_t next_wake_ns_ = 0;     // CLOCK_MONOTONIC: no doorbell before this

  std::atomic<bool> evicted_{false};
  fb::EvictReason evict_reason_ = fb::EvictReason::Slow;  // written before evicted_
  uint64_t evict_fill_ = 0;                               // written before evicted_
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> gaps_{0};
  std::atomic<uint64_t> wakes_{0};
  std::atomic<uint64_t> wakes_deferred_{0};
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> ring_fill_{0};
  // end_position_[seq % kLagWindow]: the ring position just past record `seq` (0 for a
  // dropped update). Written by the dispatcher, read by LagRecords.
  std::array<std::atomic<uint64_t>, kLagWindow> end_position_{};
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_CONSUMER_CHANNEL_H_
