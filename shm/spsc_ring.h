// The SPSC ring: one producer (the sender) and one consumer process share a ring file laid
// out as shm/ring_layout.h describes.
//
// Producer: claim space for one or more records, write them in place, Publish() them all
// with one release store, then WakeIfSleeping() — a syscall only when the consumer said it
// is going to sleep. The producer never blocks and never overwrites: a full ring is kFull.
// The consumer's position lives in memory the consumer can write, so the producer checks it
// whenever it reads it; an impossible value is kConsumerViolation, sticky, never UB.
//
// Consumer: TryRead() returns records in place, valid until Release(), which frees every
// record read so far (release in batches to keep the producer's cache line quiet). The
// consumer validates the header before mapping the ring and every record header before use,
// since the other side of shared memory is another process.
//
// Thread-safety: a RingProducer is used by one thread at a time, and so is a RingConsumer.
#ifndef QLASTER_SHM_SPSC_RING_H_
#define QLASTER_SHM_SPSC_RING_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "shm/event_fd.h"
#include "shm/mapped_region.h"
#include "shm/ring_layout.h"
#include "base/unique_fd.h"
#include "qlaster/types.hpp"

namespace qlaster::shm {

enum class WriteResult : uint8_t {
  kOk,
  kFull,               // not enough free space now; nothing was written
  kTooLarge,           // the record can never fit in this ring
  kConsumerViolation,  // the consumer wrote an impossible position; the ring is dead
};

enum class ReadResult : uint8_t {
  kOk,
  kEmpty,    // nothing published yet
  kClosed,   // drained, and the producer will publish no more
  kCorrupt,  // the shared memory holds something impossible; see RingConsumer::error()
};


enum class WaitResult : uint8_t { kReady, kTimeout, kClosed };

struct RingOptions {
  std::string dir = kDefaultShmDir;
  // Data-region bytes; rounded up to a power of two in [kMinRingCapacity, kMaxRingCapacity].
  uint64_t capacity = uint64_t{16} << 20;
};

// Rounds a requested capacity to the size a ring would get.
uint64_t RoundRingCapacity(uint64_t requested);

class RingProducer {
 public:
  // Creates (and unlinks) a ring file in options.dir and maps it.
  static absl::StatusOr<RingProducer> Create(const RingOptions& options);

  RingProducer(RingProducer&&) noexcept = default;
  RingProducer& operator=(RingProducer&&) noexcept = default;

  // The ring file, to pass to the consumer. Owned by this producer.
  int fd() const { return fd_.get(); }
  uint64_t capacity() const { return capacity_; }

  // Reserves a record of `length` payload bytes and type `type` (>= kFirstUserRecordType).
  // On kOk, *payload points at `length` writable, 8-byte-aligned bytes in the ring; they
  // become visible to the consumer at the next Publish(). Claims are published in order.
  WriteResult TryClaim(uint32_t type, uint32_t length, uint8_t** payload) {
    const uint64_t span = RecordSpan(length);
    if (span > capacity_) return WriteResult::kTooLarge;
    if (violated_) return WriteResult::kConsumerViolation;
    const uint64_t index = claim_position_ & mask_;
    const uint64_t tail = capacity_ - index;
    const uint64_t needed = span <= tail ? span : tail + span;
    if (claim_position_ + needed - cached_consumer_ > capacity_) {
      WriteResult r = RefreshConsumer();
      if (r != WriteResult::kOk) return r;
      if (claim_position_ + needed - cached_consumer_ > capacity_) return WriteResult::kFull;
    }
    uint8_t* at = data_ + index;
    if (span > tail) {
      StoreHeader(at, static_cast<uint32_t>(tail - sizeof(RecordHeader)), kRecordTypePadding);
      claim_position_ += tail;
      at = data_;
    }
    StoreHeader(at, length, type);
    claim_position_ += span;
    *payload = at + sizeof(RecordHeader);
    return WriteResult::kOk;
  }

  // Makes every claimed record visible to the consumer (one release store).
  void Publish() {
    published_position_ = claim_position_;
    header()->producer_position.store(claim_position_, std::memory_order_release);
  }

  // Claims, copies and publishes one record.
  WriteResult TryWrite(uint32_t type, absl::Span<const uint8_t> payload) {
    if (payload.size() > UINT32_MAX) return WriteResult::kTooLarge;
    uint8_t* at = nullptr;
    WriteResult r = TryClaim(type, static_cast<uint32_t>(payload.size()), &at);
    if (r != WriteResult::kOk) return r;
    if (!payload.empty()) std::memcpy(at, payload.data(), payload.size());
    Publish();
    return WriteResult::kOk;
  }

  // After Publish(): rings `doorbell` if the consumer has declared it is going to sleep.
  // Returns true if it rang. This is one half of a Dekker handshake with RingConsumer::Wait:
  // the producer makes its position globally visible (a seq_cst read-modify-write, a full
  // barrier) before it looks at the flag; the consumer stores the flag (seq_cst) before it
  // re-reads the position. One of the two sees the other's store: no lost wake-up.
  // (Read-modify-writes rather than fences, because ThreadSanitizer does not model fences.)
  bool WakeIfSleeping(const EventFd& doorbell) {
    header()->producer_position.fetch_add(0, std::memory_order_seq_cst);
    auto& sleeping = header()->consumer_sleeping;
    if (sleeping.load(std::memory_order_seq_cst) == 0) return false;
    if (sleeping.exchange(0, std::memory_order_acq_rel) == 0) return false;
    doorbell.Notify();
    return true;
  }

  // The check of WakeIfSleeping without the wake: true if the consumer has declared it is
  // going to sleep (after the same full barrier).
  bool ConsumerSleeping() {
    header()->producer_position.fetch_add(0, std::memory_order_seq_cst);
    return header()->consumer_sleeping.load(std::memory_order_seq_cst) != 0;
  }

  // Marks the ring closed: the consumer drains what was published, then sees kClosed.
  // Publishes outstanding claims first.
  void Close(const EventFd* doorbell);

  // Bytes published but not yet released by the consumer (as last validated).
  uint64_t unread_bytes();
  // The consumer's position as last read and validated.
  uint64_t consumer_position() const { return cached_consumer_; }
  // The consumer's position as it stands in shared memory now, unvalidated: for
  // statistics only, from any thread.
  uint64_t peer_consumer_position() const {
    return header()->consumer_position.load(std::memory_order_relaxed);
  }
  uint64_t published_position() const { return published_position_; }

  // Why the ring died, when a write returned kConsumerViolation.
  absl::Status violation() const { return violation_; }

 private:
  RingProducer(UniqueFd fd, MappedRegion region, uint64_t capacity);
  RingHeader* header() const { return reinterpret_cast<RingHeader*>(region_.data()); }
  static void StoreHeader(uint8_t* at, uint32_t length, uint32_t type) {
    RecordHeader h{length, type};
    std::memcpy(at, &h, sizeof(h));
  }
  // Re-reads the consumer's position and checks it against [last seen, published].
  WriteResult RefreshConsumer();

  UniqueFd fd_;
  MappedRegion region_;
  uint8_t* data_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t mask_ = 0;
  uint64_t claim_position_ = 0;      // end of the last claimed record
  uint64_t published_position_ = 0;  // our own copy: the shared one is writable by the peer
  uint64_t cached_consumer_ = 0;  // last validated consumer position
  bool violated_ = false;         // violation_ is set; every write fails
  absl::Status violation_;
};

// One record read in place. `payload` stays valid until the consumer's next Release().
struct RingRecord {
  uint32_t type = 0;
  absl::Span<const uint8_t> payload;
};

class RingConsumer {
 public:
  // Validates the ring file's header (magic, layout version, sizes against the file size)
  // and maps it. Takes ownership of `ring_fd`. Errors: kDataLoss for a corrupt or truncated
  // header, kFailedPrecondition for a layout version this build does not speak.
  static absl::StatusOr<RingConsumer> Attach(UniqueFd ring_fd);

  RingConsumer(RingConsumer&&) noexcept = default;
  RingConsumer& operator=(RingConsumer&&) noexcept = default;

  uint64_t capacity() const { return capacity_; }

  // Reads the next record in place. Padding records are skipped.
  ReadResult TryRead(RingRecord* record) {
    for (;;) {
      if (read_position_ == cached_producer_) {
        ReadResult r = RefreshProducer();
        if (r != ReadResult::kOk) return r;
      }
      const uint64_t index = read_position_ & mask_;
      RecordHeader h;
      std::memcpy(&h, data_ + index, sizeof(h));  // one copy: the header cannot change under us
      const uint64_t tail = capacity_ - index;
      const uint64_t span = RecordSpan(h.length);
      if (span > tail || span > cached_producer_ - read_position_) return Corrupt(h, index);
      read_position_ += span;
      if (h.type == kRecordTypePadding) {
        if (span != tail) return Corrupt(h, index);
        continue;
      }
      record->type = h.type;
      record->payload = absl::Span<const uint8_t>(data_ + index + sizeof(RecordHeader), h.length);
      return ReadResult::kOk;
    }
  }

  // Frees every record read so far; their payload spans become invalid.
  void Release() {
    if (released_position_ != read_position_) {
      released_position_ = read_position_;
      header()->consumer_position.store(read_position_, std::memory_order_release);
    }
  }

  // True if a record (or the close mark) is waiting.
  bool HasData() const {
    return read_position_ != header()->producer_position.load(std::memory_order_acquire) ||
           header()->producer_closed.load(std::memory_order_acquire) != 0;
  }

  // Waits until HasData() or `timeout`. kSpin spins throughout; kSpinThenSleep spins for
  // `spin` and then sleeps on `doorbell`; kSleep sleeps at once. A sleeping wait also
  // returns (kTimeout, early) when `also_fd` (if >= 0) becomes readable.
  WaitResult Wait(const EventFd& doorbell, WaitMode mode, absl::Duration timeout,
                  absl::Duration spin = absl::Microseconds(50), int also_fd = -1);

  // Bytes published but not yet read, as the producer's position says now (bounded by the
  // capacity: the position is the peer's word).
  uint64_t unread_bytes() const {
    const uint64_t produced = header()->producer_position.load(std::memory_order_acquire);
    return produced > read_position_ ? std::min(produced - read_position_, capacity_) : 0;
  }

  // Why TryRead returned kCorrupt.
  absl::Status error() const { return error_; }
  uint64_t read_position() const { return read_position_; }

 private:
  RingConsumer(MappedRegion region, uint64_t capacity);
  RingHeader* header() const { return reinterpret_cast<RingHeader*>(region_.data()); }
  ReadResult RefreshProducer();
  ReadResult Corrupt(const RecordHeader& h, uint64_t index);

  MappedRegion region_;
  uint8_t* data_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t mask_ = 0;
  uint64_t read_position_ = 0;      // end of the last record read
  uint64_t released_position_ = 0;  // last position stored for the producer
  uint64_t cached_producer_ = 0;    // last validated producer position
  absl::Status error_;
};

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_SPSC_RING_H_
