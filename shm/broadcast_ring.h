// The broadcast ring: one writer, any number of reader processes, laid out as
// shm/broadcast_layout.h describes.
//
// Writer: Write() commits one record into the next slot (a seqlock: dirty stamp, bytes,
// clean stamp) and publishes it; WakeSleepers() then wakes every sleeping reader with at
// most one syscall, and none when nobody sleeps. The writer never waits for or reads the
// position of any reader: it overwrites the oldest slot. Its cost per record is the same
// for 1 or 1,000 readers.
//
// Reader: attaches with a read-only descriptor of the ring file (it reopens it O_RDONLY
// and maps it PROT_READ, so it cannot write into what other readers read) and a read-write
// descriptor of the waiters file. Its cursor lives in its own memory. TryRead() copies the
// next record out of the ring and hands it out only if the slot's stamp is unchanged after
// the copy; a reader the writer lapped gets kGap with the exact number of records it
// missed, and continues from the oldest record still intact. Everything read from shared
// memory is validated: an impossible header is kCorrupt, never a crash.
//
// Thread-safety: a BroadcastWriter is used by one thread at a time, and so is each
// BroadcastReader.
#ifndef QLASTER_SHM_BROADCAST_RING_H_
#define QLASTER_SHM_BROADCAST_RING_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/unique_fd.h"
#include "qlaster/types.hpp"
#include "shm/broadcast_layout.h"
#include "shm/mapped_region.h"
#include "shm/spsc_ring.h"

namespace qlaster::shm {

struct BroadcastOptions {
  std::string dir = kDefaultShmDir;
  // Bytes per slot, its 16-byte header included; a power of two in
  // [kMinBroadcastSlotBytes, kMaxBroadcastSlotBytes]. Records carry up to slot_bytes - 16.
  uint32_t slot_bytes = 256;
  // Slots; a power of two in [kMinBroadcastSlotCount, kMaxBroadcastSlotCount], with
  // slot_bytes * slot_count at most kMaxBroadcastDataBytes.
  uint64_t slot_count = 65536;
};

enum class BroadcastWriteResult : uint8_t {
  kOk,
  kTooLarge,  // the payload exceeds slot_bytes - 16; nothing was written
  kClosed,    // Close() was called
};

enum class BroadcastReadResult : uint8_t {
  kOk,       // *record holds the next record
  kGap,      // the writer lapped this reader: record->missed records are lost
  kEmpty,    // nothing new
  kClosed,   // drained, and the writer will write no more
  kCorrupt,  // shared memory holds something impossible; see BroadcastReader::error()
};

class BroadcastWriter {
 public:
  // Creates (and unlinks) the ring file and the waiters file in options.dir and maps them.
  // kInvalidArgument for sizes outside the limits above.
  static absl::StatusOr<BroadcastWriter> Create(const BroadcastOptions& options);

  BroadcastWriter(BroadcastWriter&&) noexcept = default;
  BroadcastWriter& operator=(BroadcastWriter&&) noexcept = default;

  // The ring file (read-write; owned by the writer). Pass readers ReadOnlyFd() instead.
  int fd() const { return fd_.get(); }
  // The waiters file, read-write, to pass to readers. Owned by the writer.
  int waiters_fd() const { return waiters_fd_.get(); }
  // A new O_RDONLY descriptor of the ring file, for a reader.
  absl::StatusOr<UniqueFd> ReadOnlyFd() const;

  uint32_t slot_bytes() const { return slot_bytes_; }
  uint64_t slot_count() const { return slot_count_; }
  uint32_t max_payload() const { return slot_bytes_ - kBroadcastSlotHeaderBytes; }
  // Records written so far (the sequence number of the last one).
  uint64_t write_sequence() const { return sequence_; }

  // Writes and publishes one record of type `type`. Never blocks, never fails for lack of
  // readers' progress: the oldest slot is overwritten.
  BroadcastWriteResult Write(uint32_t type, absl::Span<const uint8_t> payload) {
    if (payload.size() > max_payload()) return BroadcastWriteResult::kTooLarge;
    if (closed_) return BroadcastWriteResult::kClosed;
    const uint64_t sequence = sequence_ + 1;
    uint8_t* slot = slots_ + ((sequence - 1) & mask_) * slot_bytes_;
    auto* h = reinterpret_cast<BroadcastSlotHeader*>(slot);
    h->stamp.store(BroadcastStamp(sequence, true), std::memory_order_relaxed);
    // Orders the dirty stamp before the bytes below (the seqlock writer's half).
    std::atomic_thread_fence(std::memory_order_release);
    h->length.store(static_cast<uint32_t>(payload.size()), std::memory_order_relaxed);
    h->type.store(type, std::memory_order_relaxed);
    if (!payload.empty()) {
      std::memcpy(slot + kBroadcastSlotHeaderBytes, payload.data(), payload.size());
    }
    h->stamp.store(BroadcastStamp(sequence, false), std::memory_order_release);
    header()->write_sequence.store(sequence, std::memory_order_release);
    sequence_ = sequence;
    return BroadcastWriteResult::kOk;
  }

  // After Write(): wakes every sleeping reader. The writer's half of a Dekker handshake
  // with BroadcastReader::Wait: a seq_cst read-modify-write of write_sequence (a full
  // barrier) before reading the waiter count and sleep_word; the reader increments the
  // count and advances sleep_word (seq_cst) before re-reading write_sequence. One of the
  // two sees the other's write: no lost wake-up. A reader that read an older wake_word
  // was woken by the wake that bumped it, or finds the word changed when it calls
  // FUTEX_WAIT; so the writer wakes only when sleep_word is the current word. Returns true
  // if it made the FUTEX_WAKE syscall.
  bool WakeSleepers() {
    header()->write_sequence.fetch_add(0, std::memory_order_seq_cst);
    if (waiters()->waiters.load(std::memory_order_seq_cst) == 0) return false;
    if (waiters()->sleep_word.load(std::memory_order_seq_cst) !=
        header()->wake_word.load(std::memory_order_relaxed)) {
      return false;
    }
    WakeAll();
    return true;
  }

  // Marks the ring closed and wakes every sleeper; readers drain, then see kClosed.
  void Close();

 private:
  BroadcastWriter(UniqueFd fd, UniqueFd waiters_fd, MappedRegion region, MappedRegion waiters,
                  uint32_t slot_bytes, uint64_t slot_count);
  BroadcastHeader* header() const { return reinterpret_cast<BroadcastHeader*>(region_.data()); }
  BroadcastWaitersHeader* waiters() const {
    return reinterpret_cast<BroadcastWaitersHeader*>(waiters_region_.data());
  }
  void WakeAll();

  UniqueFd fd_;
  UniqueFd waiters_fd_;
  MappedRegion region_;
  MappedRegion waiters_region_;
  uint8_t* slots_ = nullptr;
  uint32_t slot_bytes_ = 0;
  uint64_t slot_count_ = 0;
  uint64_t mask_ = 0;
  uint64_t sequence_ = 0;  // our own copy of write_sequence
  bool closed_ = false;
};

// One record copied out of the ring. `payload` points into the reader's own buffer and
// stays valid until the reader's next TryRead().
struct BroadcastRecord {
  uint64_t sequence = 0;  // kOk: the record's sequence number
  uint32_t type = 0;
  absl::Span<const uint8_t> payload;
  uint64_t missed = 0;    // kGap: how many records were lost
};

// Where a new reader begins.
enum class BroadcastStart : uint8_t {
  kNext,    // with the first record written after Attach
  kOldest,  // with the oldest record certainly intact at Attach (a write may be under way)
};

class BroadcastReader {
 public:
  // Validates the ring file (magic, layout version, sizes, file size) and the waiters
  // file, reopens the ring read-only and maps it PROT_READ. Takes ownership of both
  // descriptors. The reader starts where `start` says. Errors:
  // kDataLoss for a corrupt or truncated file, kFailedPrecondition for a layout version
  // this build does not speak, kInvalidArgument for a descriptor that is not a file.
  static absl::StatusOr<BroadcastReader> Attach(UniqueFd ring_fd, UniqueFd waiters_fd,
                                                BroadcastStart start = BroadcastStart::kNext);

  BroadcastReader(BroadcastReader&&) noexcept = default;
  BroadcastReader& operator=(BroadcastReader&&) noexcept = default;

  uint32_t slot_bytes() const { return slot_bytes_; }
  uint64_t slot_count() const { return slot_count_; }
  // The sequence number of the next record this reader expects.
  uint64_t next_sequence() const { return next_; }
  // Total records this reader was told it missed (sum of every kGap).
  uint64_t missed() const { return missed_; }
  // The writer's write_sequence as it stands now, unvalidated: for statistics only.
  uint64_t peer_write_sequence() const {
    return header()->write_sequence.load(std::memory_order_relaxed);
  }
  // The reader's read-only descriptor and mapping of the ring file.
  int ring_fd() const { return ring_fd_.get(); }
  const uint8_t* mapping() const { return region_.data(); }

  BroadcastReadResult TryRead(BroadcastRecord* record);

  // True if a record (or the close mark) is waiting.
  bool HasData() const;

  // Waits until HasData() or `timeout`. kSpin spins throughout; kSpinThenSleep spins for
  // `spin` and then sleeps on the ring's futex word; kSleep sleeps at once. Returns
  // kReady, kTimeout or kClosed (closed and drained).
  WaitResult Wait(WaitMode mode, absl::Duration timeout,
                  absl::Duration spin = absl::Microseconds(50));

  absl::Status error() const { return error_; }

 private:
  BroadcastReader(UniqueFd ring_fd, UniqueFd waiters_fd, MappedRegion region,
                  MappedRegion waiters, uint32_t slot_bytes, uint64_t slot_count);
  const BroadcastHeader* header() const {
    return reinterpret_cast<const BroadcastHeader*>(region_.data());
  }
  BroadcastWaitersHeader* waiters() const {
    return reinterpret_cast<BroadcastWaitersHeader*>(waiters_region_.data());
  }
  // Loads write_sequence and checks that it never goes backwards.
  bool LoadHead(uint64_t* head);
  BroadcastReadResult Corrupt(std::string message);
  BroadcastReadResult Skip(uint64_t to, BroadcastRecord* record);

  UniqueFd ring_fd_;     // O_RDONLY
  UniqueFd waiters_fd_;
  MappedRegion region_;  // PROT_READ
  MappedRegion waiters_region_;
  const uint8_t* slots_ = nullptr;
  uint32_t slot_bytes_ = 0;
  uint64_t slot_count_ = 0;
  uint64_t mask_ = 0;
  uint64_t next_ = 1;       // next sequence to deliver
  uint64_t last_head_ = 0;  // last validated write_sequence
  uint64_t missed_ = 0;
  std::vector<uint8_t> buffer_;
  absl::Status error_;
};

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_BROADCAST_RING_H_
