// The SPSC ring: creation, attachment and validation, the cold paths of reading and
// writing, and waiting.
#include "shm/spsc_ring.h"

#include <immintrin.h>

#include <bit>
#include <new>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace qlaster::shm {

uint64_t RoundRingCapacity(uint64_t requested) {
  if (requested <= kMinRingCapacity) return kMinRingCapacity;
  if (requested >= kMaxRingCapacity) return kMaxRingCapacity;
  return std::bit_ceil(requested);
}

// ------------------------------------------------------------------------- producer

RingProducer::RingProducer(UniqueFd fd, MappedRegion region, uint64_t capacity)
    : fd_(std::move(fd)),
      region_(std::move(region)),
      data_(region_.data() + kRingHeaderBytes),
      capacity_(capacity),
      mask_(capacity - 1) {}

absl::StatusOr<RingProducer> RingProducer::Create(const RingOptions& options) {
  const uint64_t capacity = RoundRingCapacity(options.capacity);
  const size_t file_size = kRingHeaderBytes + capacity;
  absl::StatusOr<UniqueFd> fd = CreateShmFile(options.dir, file_size);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<MappedRegion> region = MappedRegion::Map(fd->get(), file_size);
  if (!region.ok()) return region.status();

  // The file is fresh (all zero); construct the header in place, then fill it.
  auto* h = new (region->data()) RingHeader();
  h->magic = kRingMagic;
  h->layout_version = kRingLayoutVersion;
  h->header_bytes = kRingHeaderBytes;
  h->capacity = capacity;
  h->flags = 0;
  h->producer_position.store(0, std::memory_order_relaxed);
  h->producer_closed.store(0, std::memory_order_relaxed);
  h->consumer_position.store(0, std::memory_order_relaxed);
  h->consumer_sleeping.store(0, std::memory_order_relaxed);
  return RingProducer(*std::move(fd), *std::move(region), capacity);
}

WriteResult RingProducer::RefreshConsumer() {
  if (violated_) return WriteResult::kConsumerViolation;
  const uint64_t seen = header()->consumer_position.load(std::memory_order_acquire);
  const uint64_t published = published_position_;
  if (seen < cached_consumer_ || seen > published) {
    violation_ = absl::DataLossError(absl::StrFormat(
        "consumer wrote position %d, outside [last seen %d, producer position %d]", seen,
        cached_consumer_, published));
    violated_ = true;
    return WriteResult::kConsumerViolation;
  }
  cached_consumer_ = seen;
  return WriteResult::kOk;
}

uint64_t RingProducer::unread_bytes() {
  RefreshConsumer();
  return published_position() - cached_consumer_;
}

void RingProducer::Close(const EventFd* doorbell) {
  Publish();
  header()->producer_closed.store(1, std::memory_order_release);
  if (doorbell != nullptr) WakeIfSleeping(*doorbell);
}

// ------------------------------------------------------------------------- consumer

RingConsumer::RingConsumer(MappedRegion region, uint64_t capacity)
    : region_(std::move(region)),
      data_(region_.data() + kRingHeaderBytes),
      capacity_(capacity),
      mask_(capacity - 1) {}

absl::StatusOr<RingConsumer> RingConsumer::Attach(UniqueFd ring_fd) {
  absl::StatusOr<size_t> file_size = FileSize(ring_fd.get());
  if (!file_size.ok()) return file_size.status();
  if (*file_size < kRingHeaderBytes) {
    return absl::DataLossError(absl::StrCat("ring file is ", *file_size,
                                            " bytes, smaller than its ", kRingHeaderBytes,
                                            "-byte header"));
  }
  // Map the header alone first: nothing else is trusted until it checks out.
  absl::StatusOr<MappedRegion> head = MappedRegion::Map(ring_fd.get(), kRingHeaderBytes);
  if (!head.ok()) return head.status();
  const auto* h = reinterpret_cast<const RingHeader*>(head->data());
  if (h->magic != kRingMagic) {
    return absl::DataLossError(absl::StrFormat("ring magic is %#x, expected %#x", h->magic, kRingMagic));
  }
  if (h->layout_version != kRingLayoutVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("ring layout version ", h->layout_version, ", this build speaks ",
                     kRingLayoutVersion));
  }
  if (h->header_bytes != kRingHeaderBytes) {
    return absl::DataLossError(absl::StrCat("ring header_bytes is ", h->header_bytes,
                                            ", expected ", kRingHeaderBytes));
  }
  const uint64_t capacity = h->capacity;
  if (capacity < kMinRingCapacity || capacity > kMaxRingCapacity || !std::has_single_bit(capacity)) {
    return absl::DataLossError(absl::StrCat("ring capacity ", capacity,
                                            " is not a power of two in [", kMinRingCapacity,
                                            ", ", kMaxRingCapacity, "]"));
  }
  if (*file_size != kRingHeaderBytes + capacity) {
    return absl::DataLossError(absl::StrCat("ring file is ", *file_size, " bytes, header says ",
                                            kRingHeaderBytes + capacity));
  }
  const uint64_t consumer = h->consumer_position.load(std::memory_order_acquire);
  const uint64_t producer = h->producer_position.load(std::memory_order_acquire);
  if (consumer > producer || producer - consumer > capacity || (consumer & 7) != 0) {
    return absl::DataLossError(absl::StrCat("ring positions are impossible: consumer ", consumer,
                                            ", producer ", producer, ", capacity ", capacity));
  }
  absl::StatusOr<MappedRegion> region = MappedRegion::Map(ring_fd.get(), *file_size);
  if (!region.ok()) return region.status();
  RingConsumer consumer_ring(*std::move(region), capacity);
  consumer_ring.read_position_ = consumer;
  consumer_ring.released_position_ = consumer;
  consumer_ring.cached_producer_ = consumer;
  return consumer_ring;
}

ReadResult RingConsumer::RefreshProducer() {
  if (!error_.ok()) return ReadResult::kCorrupt;
  // Closed first: once set, the position read after it is final.
  const bool closed = header()->producer_closed.load(std::memory_order_acquire) != 0;
  const uint64_t produced = header()->producer_position.load(std::memory_order_acquire);
  if (produced < read_position_ || produced - released_position_ > capacity_ ||
      (produced & 7) != 0) {
    error_ = absl::DataLossError(absl::StrFormat(
        "producer position %d is impossible (read %d, released %d, capacity %d)", produced,
        read_position_, released_position_, capacity_));
    return ReadResult::kCorrupt;
  }
  cached_producer_ = produced;
  if (produced == read_position_) return closed ? ReadResult::kClosed : ReadResult::kEmpty;
  return ReadResult::kOk;
}

ReadResult RingConsumer::Corrupt(const RecordHeader& h, uint64_t index) {
  error_ = absl::DataLossError(absl::StrFormat(
      "corrupt record at position %d (index %d): length %d, type %d, producer position %d, "
      "capacity %d",
      read_position_, index, h.length, h.type, cached_producer_, capacity_));
  return ReadResult::kCorrupt;
}

WaitResult RingConsumer::Wait(const EventFd& doorbell, WaitMode mode, absl::Duration timeout,
                              absl::Duration spin, int also_fd) {
  auto ready = [this]() -> std::optional<WaitResult> {
    if (read_position_ != header()->producer_position.load(std::memory_order_acquire)) {
      return WaitResult::kReady;
    }
    if (header()->producer_closed.load(std::memory_order_acquire) != 0) {
      // A last publish may have raced the close flag; re-check the position.
      return read_position_ != header()->producer_position.load(std::memory_order_acquire)
                 ? WaitResult::kReady
                 : WaitResult::kClosed;
    }
    return std::nullopt;
  };
  if (auto r = ready()) return *r;
  const absl::Time start = absl::Now();
  const absl::Time deadline = timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : start + timeout;

  if (mode != WaitMode::kSleep) {
    const absl::Time spin_until = mode == WaitMode::kSpin ? deadline : std::min(deadline, start + spin);
    for (uint32_t i = 1;; ++i) {
      if (auto r = ready()) return *r;
      _mm_pause();
      // Reading the clock costs ~20 ns; look at it once per 256 pauses.
      if ((i & 255) == 0 && absl::Now() >= spin_until) break;
    }
    if (mode == WaitMode::kSpin) return WaitResult::kTimeout;
  }

  auto& sleeping = header()->consumer_sleeping;
  for (;;) {
    // Declare, re-check, block: the other half of the handshake in
    // RingProducer::WakeIfSleeping.
    sleeping.store(1, std::memory_order_seq_cst);
    if (header()->producer_position.load(std::memory_order_seq_cst) != read_position_) {
      sleeping.store(0, std::memory_order_relaxed);
      return WaitResult::kReady;
    }
    if (auto r = ready()) {
      sleeping.store(0, std::memory_order_relaxed);
      return *r;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      sleeping.store(0, std::memory_order_relaxed);
      return WaitResult::kTimeout;
    }
    // An error from the eventfd (the sender closed it?) is treated as a spurious wake-up;
    // the loop re-checks the ring and the deadline.
    absl::StatusOr<bool> rung = doorbell.WaitFor(left, also_fd);
    sleeping.store(0, std::memory_order_relaxed);
    if (auto r = ready()) return *r;
    if (also_fd >= 0 && rung.ok() && !*rung && absl::Now() < deadline) {
      // Woken by the other fd (or a signal): let the caller look at it.
      return WaitResult::kTimeout;
    }
  }
}

}  // namespace qlaster::shm
