// ConsumerChannel: delivery into one ring, and the overflow policies.
#include "sender/consumer_channel.h"

#include "base/clock.h"

namespace qlaster::sender {

namespace {

// Claims room for one frame; on success writes it.
shm::WriteResult WriteFrame(shm::RingProducer& ring, const EncodedUpdate& update,
                            uint64_t sequence, uint64_t timestamp_ns, uint16_t filters) {
  uint8_t* at = nullptr;
  shm::WriteResult r =
      ring.TryClaim(kFrameRecordType, static_cast<uint32_t>(update.frame_size()), &at);
  if (r == shm::WriteResult::kOk) update.WriteFrame(at, sequence, timestamp_ns, filters);
  return r;
}

}  // namespace

ConsumerChannel::DeliverResult ConsumerChannel::Write(const EncodedUpdate& update,
                                                      uint64_t timestamp_ns, uint16_t filters,
                                                      bool wait_if_full) {
  if (evicted_.load(std::memory_order_relaxed)) return DeliverResult::kWritten;
  const uint64_t sequence = next_sequence_;

  shm::WriteResult r = shm::WriteResult::kOk;
  if (pending_drops_ > 0) {
    // The gap record carries the last dropped sequence, so the consumer can check that
    // (sequence - dropped, sequence] is exactly what it missed.
    r = WriteFrame(ring_, EncodedUpdate::Gap(pending_drops_), sequence - 1, timestamp_ns, 0);
    if (r == shm::WriteResult::kOk) {
      pending_drops_ = 0;
      BumpCounter(gaps_);
    }
  }
  if (r == shm::WriteResult::kOk) r = WriteFrame(ring_, update, sequence, timestamp_ns, filters);
  if (r == shm::WriteResult::kFull && wait_if_full) {
    // A gap record may have fit even though the update did not: publish it (its count is
    // settled); the update itself waits.
    ring_.Publish();
    return DeliverResult::kFull;
  }
  ++next_sequence_;
  last_sequence_.store(sequence, std::memory_order_relaxed);

  switch (r) {
    case shm::WriteResult::kOk:
      ring_.Publish();
      end_position_[sequence % kLagWindow].store(ring_.published_position(), std::memory_order_relaxed);
      BumpCounter(delivered_);
      ring_fill_.store(ring_.published_position() - ring_.consumer_position(),
                       std::memory_order_relaxed);
      return DeliverResult::kWritten;
    case shm::WriteResult::kConsumerViolation:
      Evict(fb::EvictReason::ProtocolViolation);
      return DeliverResult::kEvicted;
    case shm::WriteResult::kFull:
    case shm::WriteResult::kTooLarge:
      // A gap record may have fit even though the update did not: publish it.
      ring_.Publish();
      // An update larger than the ring the consumer asked for is dropped and counted under
      // either policy: waiting cannot make it fit, and the consumer is not slow.
      if (r == shm::WriteResult::kFull && policy_ == OverflowPolicy::kEvict) {
        Evict(fb::EvictReason::Slow);
        return DeliverResult::kEvicted;
      }
      end_position_[sequence % kLagWindow].store(0, std::memory_order_relaxed);
      ++pending_drops_;
      BumpCounter(dropped_);
      return DeliverResult::kWritten;
  }
  return DeliverResult::kWritten;
}

void ConsumerChannel::Skip(uint64_t n) {
  if (n == 0 || evicted_.load(std::memory_order_relaxed)) return;
  for (uint64_t i = 0; i < n && i < kLagWindow; ++i) {
    end_position_[(next_sequence_ + i) % kLagWindow].store(0, std::memory_order_relaxed);
  }
  next_sequence_ += n;
  last_sequence_.store(next_sequence_ - 1, std::memory_order_relaxed);
  pending_drops_ += n;
  dropped_.store(dropped_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

bool ConsumerChannel::FlushGap(uint64_t timestamp_ns) {
  if (pending_drops_ == 0 || evicted_.load(std::memory_order_relaxed)) return true;
  // As Write does before an update: the record carries the last skipped sequence.
  if (WriteFrame(ring_, EncodedUpdate::Gap(pending_drops_), next_sequence_ - 1, timestamp_ns, 0) !=
      shm::WriteResult::kOk) {
    return false;  // still no room (or a consumer violation, which the next Write evicts for)
  }
  pending_drops_ = 0;
  BumpCounter(gaps_);
  ring_.Publish();
  return true;
}

uint64_t ConsumerChannel::LagRecords() const {
  const uint64_t released = ring_.peer_consumer_position();
  const uint64_t last = last_sequence();
  uint64_t lag = 0;
  for (uint64_t seq = last; seq > 0 && lag < kLagWindow; --seq) {
    const uint64_t end = end_position_[seq % kLagWindow].load(std::memory_order_relaxed);
    if (end != 0 && end <= released) break;  // this record and all before it are read
    if (end != 0) ++lag;
  }
  return lag;
}

bool ConsumerChannel::WakeLimited() {
  // The clock is read only for a sleeper, which costs a syscall anyway.
  if (!ring_.ConsumerSleeping()) return true;
  // A consumer that released everything it was woken for acted on it: it sleeps again
  // because it is done, and is woken at once, however soon. One that keeps its flag set
  // with records from before its last wake-up unread (asleep through its wake-ups, or
  // hostile: reading one record per wake-up while many arrive) is held to the interval,
  // until it has read up to there: one that reads at a fraction of the rate it is sent
  // gets there ever later, so it is woken a number of times logarithmic in the updates
  // per interval. (One that reads everything as it comes but keeps its flag set costs
  // what a consumer that really sleeps between updates costs, a wake-up per update.)
  const uint64_t read = ring_.peer_consumer_position();
  const int64_t now = MonotonicNs();
  if (read < published_at_last_wake_ && now < next_wake_ns_) {
    BumpCounter(wakes_deferred_);
    return false;
  }
  if (ring_.WakeIfSleeping(doorbell_)) {
    BumpCounter(wakes_);
    next_wake_ns_ = now + min_wake_interval_ns_;
    published_at_last_wake_ = ring_.published_position();
  }
  return true;
}

void ConsumerChannel::Evict(fb::EvictReason reason) {
  evict_reason_ = reason;
  evict_fill_ = ring_.published_position() - ring_.consumer_position();
  ring_.Close(&doorbell_);
  evicted_.store(true, std::memory_order_release);
}

}  // namespace qlaster::sender
