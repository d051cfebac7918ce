// The broadcast ring: creation, attachment and validation, reading, and waking.
#include "shm/broadcast_ring.h"

#include <fcntl.h>
#include <immintrin.h>
#include <linux/futex.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <new>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace qlaster::shm {
namespace {

// A new descriptor of the same open file, read-only. Works for unlinked files too: the
// /proc link names the inode, not a path.
absl::StatusOr<UniqueFd> ReopenReadOnly(int fd) {
  const std::string path = absl::StrCat("/proc/self/fd/", fd);
  UniqueFd ro(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ro) return ErrnoStatus(errno, absl::StrCat("reopening ", path, " read-only"));
  return ro;
}

absl::StatusOr<size_t> RegularFileSize(int fd, const char* what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, absl::StrCat("fstat of the ", what));
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " is not a regular file"));
  }
  if (st.st_size < 0) return absl::DataLossError(absl::StrCat("the ", what, " has a negative size"));
  return static_cast<size_t>(st.st_size);
}

absl::Status CheckSizes(uint32_t slot_bytes, uint64_t slot_count, bool from_file) {
  auto error = [from_file](std::string message) {
    return from_file ? absl::DataLossError(message) : absl::InvalidArgumentError(message);
  };
  if (slot_bytes < kMinBroadcastSlotBytes || slot_bytes > kMaxBroadcastSlotBytes ||
      !std::has_single_bit(slot_bytes)) {
    return error(absl::StrCat("broadcast slot_bytes ", slot_bytes, " is not a power of two in [",
                              kMinBroadcastSlotBytes, ", ", kMaxBroadcastSlotBytes, "]"));
  }
  if (slot_count < kMinBroadcastSlotCount || slot_count > kMaxBroadcastSlotCount ||
      !std::has_single_bit(slot_count)) {
    return error(absl::StrCat("broadcast slot_count ", slot_count, " is not a power of two in [",
                              kMinBroadcastSlotCount, ", ", kMaxBroadcastSlotCount, "]"));
  }
  if (uint64_t{slot_bytes} * slot_count > kMaxBroadcastDataBytes) {
    return error(absl::StrCat("broadcast ring of ", slot_count, " slots of ", slot_bytes,
                              " bytes exceeds ", kMaxBroadcastDataBytes, " bytes"));
  }
  return absl::OkStatus();
}

long Futex(const std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  // Shared (not FUTEX_PRIVATE_FLAG): the word is in a file mapped by other processes.
  // FUTEX_WAIT only reads the word, so a PROT_READ mapping suffices.
  return ::syscall(SYS_futex, const_cast<std::atomic<uint32_t>*>(word), op, value, timeout,
                   nullptr, 0);
}

}  // namespace

// ------------------------------------------------------------------------- writer

BroadcastWriter::BroadcastWriter(UniqueFd fd, UniqueFd waiters_fd, MappedRegion region,
                                 MappedRegion waiters, uint32_t slot_bytes, uint64_t slot_count)
    : fd_(std::move(fd)),
      waiters_fd_(std::move(waiters_fd)),
      region_(std::move(region)),
      waiters_region_(std::move(waiters)),
      slots_(region_.data() + kBroadcastHeaderBytes),
      slot_bytes_(slot_bytes),
      slot_count_(slot_count),
      mask_(slot_count - 1) {}

absl::StatusOr<BroadcastWriter> BroadcastWriter::Create(const BroadcastOptions& options) {
  QLASTER_RETURN_IF_ERROR(CheckSizes(options.slot_bytes, options.slot_count, false));
  const size_t file_size = kBroadcastHeaderBytes + uint64_t{options.slot_bytes} * options.slot_count;
  QLASTER_ASSIGN_OR_RETURN(UniqueFd fd, CreateShmFile(options.dir, file_size));
  QLASTER_ASSIGN_OR_RETURN(MappedRegion region, MappedRegion::Map(fd.get(), file_size));
  QLASTER_ASSIGN_OR_RETURN(UniqueFd waiters_fd, CreateShmFile(options.dir, kBroadcastWaitersBytes));
  QLASTER_ASSIGN_OR_RETURN(MappedRegion waiters,
                           MappedRegion::Map(waiters_fd.get(), kBroadcastWaitersBytes));

  // Both files are fresh (all zero, so every slot's stamp says "never written").
  auto* h = new (region.data()) BroadcastHeader();
  h->magic = kBroadcastMagic;
  h->layout_version = kBroadcastLayoutVersion;
  h->header_bytes = kBroadcastHeaderBytes;
  h->slot_bytes = options.slot_bytes;
  h->flags = 0;
  h->slot_count = options.slot_count;
  h->write_sequence.store(0, std::memory_order_relaxed);
  h->closed.store(0, std::memory_order_relaxed);
  h->wake_word.store(0, std::memory_order_relaxed);
  auto* w = new (waiters.data()) BroadcastWaitersHeader();
  w->magic = kBroadcastWaitersMagic;
  w->layout_version = kBroadcastLayoutVersion;
  w->waiters.store(0, std::memory_order_relaxed);
  w->sleep_word.store(0, std::memory_order_relaxed);
  return BroadcastWriter(std::move(fd), std::move(waiters_fd), std::move(region),
                         std::move(waiters), options.slot_bytes, options.slot_count);
}

absl::StatusOr<UniqueFd> BroadcastWriter::ReadOnlyFd() const { return ReopenReadOnly(fd_.get()); }

void BroadcastWriter::WakeAll() {
  header()->wake_word.fetch_add(1, std::memory_order_seq_cst);
  Futex(&header()->wake_word, FUTEX_WAKE, INT_MAX, nullptr);
}

void BroadcastWriter::Close() {
  if (closed_) return;
  closed_ = true;
  header()->closed.store(1, std::memory_order_seq_cst);
  // Unconditionally: a reader that reads closed == 0 read wake_word before this increment.
  WakeAll();
}

// ------------------------------------------------------------------------- reader

BroadcastReader::BroadcastReader(UniqueFd ring_fd, UniqueFd waiters_fd, MappedRegion region,
                                 MappedRegion waiters, uint32_t slot_bytes, uint64_t slot_count)
    : ring_fd_(std::move(ring_fd)),
      waiters_fd_(std::move(waiters_fd)),
      region_(std::move(region)),
      waiters_region_(std::move(waiters)),
      slots_(region_.data() + kBroadcastHeaderBytes),
      slot_bytes_(slot_bytes),
      slot_count_(slot_count),
      mask_(slot_count - 1),
      buffer_(slot_bytes - kBroadcastSlotHeaderBytes) {}

absl::StatusOr<BroadcastReader> BroadcastReader::Attach(UniqueFd ring_fd, UniqueFd waiters_fd,
                                                        BroadcastStart start) {
  // Keep only a read-only descriptor of the ring, whatever we were given.
  QLASTER_ASSIGN_OR_RETURN(size_t file_size, RegularFileSize(ring_fd.get(), "broadcast ring file"));
  QLASTER_ASSIGN_OR_RETURN(UniqueFd ro, ReopenReadOnly(ring_fd.get()));
  ring_fd.Reset();
  if (file_size < kBroadcastHeaderBytes) {
    return absl::DataLossError(absl::StrCat("broadcast ring file is ", file_size,
                                            " bytes, smaller than its ", kBroadcastHeaderBytes,
                                            "-byte header"));
  }
  QLASTER_ASSIGN_OR_RETURN(size_t waiters_size,
                           RegularFileSize(waiters_fd.get(), "broadcast waiters file"));
  if (waiters_size != kBroadcastWaitersBytes) {
    return absl::DataLossError(absl::StrCat("broadcast waiters file is ", waiters_size,
                                            " bytes, expected ", kBroadcastWaitersBytes));
  }
  // The header alone first: nothing else is trusted until it checks out.
  QLASTER_ASSIGN_OR_RETURN(MappedRegion head, MappedRegion::MapReadOnly(ro.get(), kBroadcastHeaderBytes));
  const auto* h = reinterpret_cast<const BroadcastHeader*>(head.data());
  if (h->magic != kBroadcastMagic) {
    return absl::DataLossError(
        absl::StrFormat("broadcast ring magic is %#x, expected %#x", h->magic, kBroadcastMagic));
  }
  if (h->layout_version != kBroadcastLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrCat("broadcast ring layout version ",
                                                      h->layout_version, ", this build speaks ",
                                                      kBroadcastLayoutVersion));
  }
  if (h->header_bytes != kBroadcastHeaderBytes) {
    return absl::DataLossError(absl::StrCat("broadcast ring header_bytes is ", h->header_bytes,
                                            ", expected ", kBroadcastHeaderBytes));
  }
  const uint32_t slot_bytes = h->slot_bytes;
  const uint64_t slot_count = h->slot_count;
  QLASTER_RETURN_IF_ERROR(CheckSizes(slot_bytes, slot_count, true));
  const uint64_t expected_size = kBroadcastHeaderBytes + uint64_t{slot_bytes} * slot_count;
  if (file_size != expected_size) {
    return absl::DataLossError(absl::StrCat("broadcast ring file is ", file_size,
                                            " bytes, header says ", expected_size));
  }
  QLASTER_ASSIGN_OR_RETURN(MappedRegion waiters,
                           MappedRegion::Map(waiters_fd.get(), kBroadcastWaitersBytes));
  const auto* w = reinterpret_cast<const BroadcastWaitersHeader*>(waiters.data());
  if (w->magic != kBroadcastWaitersMagic) {
    return absl::DataLossError(absl::StrFormat("broadcast waiters magic is %#x, expected %#x",
                                               w->magic, kBroadcastWaitersMagic));
  }
  if (w->layout_version != kBroadcastLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrCat("broadcast waiters layout version ",
                                                      w->layout_version, ", this build speaks ",
                                                      kBroadcastLayoutVersion));
  }
  QLASTER_ASSIGN_OR_RETURN(MappedRegion region, MappedRegion::MapReadOnly(ro.get(), file_size));
  BroadcastReader reader(std::move(ro), std::move(waiters_fd), std::move(region),
                         std::move(waiters), slot_bytes, slot_count);
  uint64_t sequence = 0;
  if (!reader.LoadHead(&sequence)) return reader.error();
  reader.next_ = sequence + 1;
  if (start == BroadcastStart::kOldest) {
    reader.next_ = sequence + 2 > slot_count ? sequence + 2 - slot_count : 1;
  }
  return reader;
}

bool BroadcastReader::LoadHead(uint64_t* head) {
  const uint64_t seen = header()->write_sequence.load(std::memory_order_acquire);
  if (seen < last_head_ || seen >= (uint64_t{1} << 62)) {
    Corrupt(absl::StrCat("broadcast write_sequence went from ", last_head_, " to ", seen));
    return false;
  }
  last_head_ = seen;
  *head = seen;
  return true;
}

BroadcastReadResult BroadcastReader::Corrupt(std::string message) {
  if (error_.ok()) error_ = absl::DataLossError(std::move(message));
  return BroadcastReadResult::kCorrupt;
}

BroadcastReadResult BroadcastReader::Skip(uint64_t to, BroadcastRecord* record) {
  record->missed = to - next_;
  missed_ += record->missed;
  next_ = to;
  return BroadcastReadResult::kGap;
}

BroadcastReadResult BroadcastReader::TryRead(BroadcastRecord* record) {
  if (!error_.ok()) return BroadcastReadResult::kCorrupt;
  // Closed first: once set, the sequence read after it is final.
  const bool closed = header()->closed.load(std::memory_order_acquire) != 0;
  uint64_t head = 0;
  if (!LoadHead(&head)) return BroadcastReadResult::kCorrupt;
  if (next_ > head) return closed ? BroadcastReadResult::kClosed : BroadcastReadResult::kEmpty;
  if (head - next_ >= slot_count_) return Skip(head - slot_count_ + 1, record);

  const uint8_t* slot = slots_ + ((next_ - 1) & mask_) * slot_bytes_;
  const auto* h = reinterpret_cast<const BroadcastSlotHeader*>(slot);
  const uint64_t expected = BroadcastStamp(next_, false);
  uint64_t stamp = h->stamp.load(std::memory_order_acquire);
  const uint32_t max_payload = slot_bytes_ - kBroadcastSlotHeaderBytes;
  uint32_t length = 0;
  uint32_t type = 0;
  if (stamp == expected) {
    length = h->length.load(std::memory_order_relaxed);
    type = h->type.load(std::memory_order_relaxed);
    // Bounded by the slot whatever the length says; the length is judged only once the
    // stamp proves the copy whole.
    const uint32_t copy = std::min(length, max_payload);
    if (copy > 0) std::memcpy(buffer_.data(), slot + kBroadcastSlotHeaderBytes, copy);
    // The seqlock reader's half: the copy above happens before the stamp is re-read.
    std::atomic_thread_fence(std::memory_order_acquire);
    stamp = h->stamp.load(std::memory_order_relaxed);
  }
  if (stamp == expected) {
    if (length > max_payload) {
      return Corrupt(absl::StrCat("broadcast record ", next_, " has length ", length,
                                  ", beyond the slot's ", max_payload, " payload bytes"));
    }
    record->sequence = next_;
    record->type = type;
    record->payload = absl::Span<const uint8_t>(buffer_.data(), length);
    record->missed = 0;
    ++next_;
    return BroadcastReadResult::kOk;
  }
  // Not the clean stamp of record next_: the writer must have moved on to a later record of
  // the same slot (dirty or clean). Anything else is corruption.
  const uint64_t stamp_sequence = stamp >> 1;
  if (!LoadHead(&head)) return BroadcastReadResult::kCorrupt;
  if (stamp_sequence <= next_ || ((stamp_sequence - next_) & mask_) != 0 ||
      stamp_sequence > head + 1) {
    return Corrupt(absl::StrFormat(
        "broadcast slot %d has stamp %#x while record %d was expected (write_sequence %d)",
        (next_ - 1) & mask_, stamp, next_, head));
  }
  // Record head + 1 may be being written over the slot of head + 1 - slot_count: the
  // oldest record certainly intact is head + 2 - slot_count.
  const uint64_t oldest = head + 2 > slot_count_ ? head + 2 - slot_count_ : 1;
  return Skip(std::max(next_ + 1, oldest), record);
}

bool BroadcastReader::HasData() const {
  return next_ <= header()->write_sequence.load(std::memory_order_acquire) ||
         header()->closed.load(std::memory_order_acquire) != 0;
}

WaitResult BroadcastReader::Wait(WaitMode mode, absl::Duration timeout, absl::Duration spin) {
  auto ready = [this]() -> std::optional<WaitResult> {
    if (next_ <= header()->write_sequence.load(std::memory_order_seq_cst)) return WaitResult::kReady;
    if (header()->closed.load(std::memory_order_seq_cst) != 0) {
      return next_ <= header()->write_sequence.load(std::memory_order_seq_cst)
                 ? WaitResult::kReady
                 : WaitResult::kClosed;
    }
    return std::nullopt;
  };
  if (auto r = ready()) return *r;
  const absl::Time start = absl::Now();
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : start + timeout;

  if (mode != WaitMode::kSleep) {
    const absl::Time spin_until =
        mode == WaitMode::kSpin ? deadline : std::min(deadline, start + spin);
    for (uint32_t i = 1;; ++i) {
      if (auto r = ready()) return *r;
      _mm_pause();
      if ((i & 255) == 0 && absl::Now() >= spin_until) break;
    }
    if (mode == WaitMode::kSpin) return WaitResult::kTimeout;
  }

  auto& waiting = waiters()->waiters;
  for (;;) {
    // Declare, read the wake word, re-check, block: the other half of the handshake in
    // BroadcastWriter::WakeSleepers. A wake between the re-check and the FUTEX_WAIT changes
    // the word, so the kernel returns at once (EAGAIN).
    waiting.fetch_add(1, std::memory_order_seq_cst);
    const uint32_t word = header()->wake_word.load(std::memory_order_seq_cst);
    // Advance sleep_word to `word` unless a reader already set it there or later (a
    // reader with an older word must not move it back). seq_cst, even when it is already
    // there, for the handshake with WakeSleepers.
    auto& sleep_word = waiters()->sleep_word;
    for (uint32_t seen = sleep_word.load(std::memory_order_seq_cst);
         static_cast<int32_t>(word - seen) > 0 &&
         !sleep_word.compare_exchange_weak(seen, word, std::memory_order_seq_cst);) {
    }
    if (auto r = ready()) {
      waiting.fetch_sub(1, std::memory_order_relaxed);
      return *r;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      waiting.fetch_sub(1, std::memory_order_relaxed);
      return WaitResult::kTimeout;
    }
    if (deadline == absl::InfiniteFuture()) {
      Futex(&header()->wake_word, FUTEX_WAIT, word, nullptr);
    } else {
      const timespec ts = absl::ToTimespec(left);
      Futex(&header()->wake_word, FUTEX_WAIT, word, &ts);
    }
    waiting.fetch_sub(1, std::memory_order_relaxed);
    if (auto r = ready()) return *r;
  }
}

}  // namespace qlaster::shm
