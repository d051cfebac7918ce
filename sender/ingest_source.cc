// IngestSource: validation, the seqlock-style frame copy, and publishing.
#include "sender/ingest_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "wire/frame.h"

namespace qlaster::sender {

static_assert(offsetof(qlaster_ingest_header, magic) == 0);
static_assert(offsetof(qlaster_ingest_header, version) == 8);
static_assert(offsetof(qlaster_ingest_header, header_bytes) == 12);
static_assert(offsetof(qlaster_ingest_header, capacity) == 16);
static_assert(offsetof(qlaster_ingest_header, frame_size) == 24);
static_assert(offsetof(qlaster_ingest_header, write_pos) == 128);
static_assert(offsetof(qlaster_ingest_header, read_pos) == 256);
static_assert(sizeof(qlaster_ingest_header) == QLASTER_INGEST_HEADER_BYTES);
static_assert(offsetof(qlaster_ingest_frame, schema_id) == 0);
static_assert(offsetof(qlaster_ingest_frame, payload_len) == 4);
static_assert(offsetof(qlaster_ingest_frame, sequence) == 8);
static_assert(sizeof(qlaster_ingest_frame) == QLASTER_INGEST_FRAME_HEADER_BYTES);

absl::StatusOr<std::unique_ptr<IngestSource>> IngestSource::Open(const IngestOptions& options) {
  if (options.name.empty() || options.name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("ingest name '", options.name, "' must be non-empty, without '/'"));
  }
  if (options.frame_size < 64 || options.frame_size % 64 != 0 ||
      options.capacity < options.frame_size || options.capacity % options.frame_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ingest frame size ", options.frame_size, " must be a multiple of 64 that divides the capacity ",
        options.capacity));
  }
  const std::string shm_name = "/" + options.name;
  bool created = true;
  UniqueFd fd(::shm_open(shm_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode));
  if (!fd && errno == EEXIST) {
    created = false;
    fd.Reset(::shm_open(shm_name.c_str(), O_RDWR | O_CLOEXEC, 0));
  }
  if (!fd) return ErrnoStatus(errno, absl::StrCat("shm_open ", shm_name));
  size_t size = QLASTER_INGEST_HEADER_BYTES + options.capacity;
  if (created) {
    ::fchmod(fd.get(), options.mode);  // shm_open's mode is filtered by the umask
    if (int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); rc != 0) {
      ::shm_unlink(shm_name.c_str());
      return ErrnoStatus(rc, absl::StrCat("sizing ingest ring ", shm_name));
    }
  } else {
    QLASTER_ASSIGN_OR_RETURN(size_t existing, shm::FileSize(fd.get()));
    size = existing;
  }
  QLASTER_ASSIGN_OR_RETURN(shm::MappedRegion region, shm::MappedRegion::Map(fd.get(), size));
  auto* h = reinterpret_cast<qlaster_ingest_header*>(region.data());
  if (created) {
    h->version = QLASTER_INGEST_VERSION;
    h->header_bytes = QLASTER_INGEST_HEADER_BYTES;
    h->capacity = options.capacity;
    h->frame_size = options.frame_size;
    h->write_pos.store(0, std::memory_order_relaxed);
    h->read_pos.store(0, std::memory_order_relaxed);
    // Magic last: a writer that checks the header sees a complete one or none.
    std::atomic_ref<uint64_t>(h->magic).store(QLASTER_INGEST_MAGIC, std::memory_order_release);
  } else if (qlaster_ingest_check(h, size) != QLASTER_INGEST_OK) {
    return absl::DataLossError(absl::StrCat(shm_name, " exists but is not a version ",
                                            QLASTER_INGEST_VERSION,
                                            " ingest ring; remove it or choose another name"));
  }
  return std::unique_ptr<IngestSource>(new IngestSource(std::move(region), options));
}

IngestSource::IngestSource(shm::MappedRegion region, IngestOptions options)
    : region_(std::move(region)),
      options_(std::move(options)),
      header_(reinterpret_cast<qlaster_ingest_header*>(region_.data())),
      area_(region_.data() + QLASTER_INGEST_HEADER_BYTES),
      frame_size_(header_->frame_size),
      cells_(header_->capacity / header_->frame_size),
      read_pos_(header_->read_pos.load(std::memory_order_acquire)) {}

void IngestSource::Resync(uint64_t write_pos, std::atomic<uint64_t>& counter, const char* what) {
  Count(counter);
  QLASTER_LOG_RATE_LIMITED(kWarning, "ingest %s at position %d; resynchronizing at %d", what,
                           read_pos_, write_pos);
  read_pos_ = write_pos;
  header_->read_pos.store(read_pos_, std::memory_order_release);
}

size_t IngestSource::Drain(Dispatcher& dispatcher, size_t max_frames) {
  const uint64_t write_pos = header_->write_pos.load(std::memory_order_acquire);
  size_t consumed = 0;
  if (write_pos < read_pos_) {
    // A write position going backwards is a broken writer. Following it would publish
    // old frames again (their sequences still check out), so the reader stays where it is
    // until the writer passes it; a writer resumes from the header's write_pos.
    Count(counters_.rewound);
    QLASTER_LOG_RATE_LIMITED(kWarning, "ingest write_pos %d went behind the reader at %d",
                             write_pos, read_pos_);
    return 0;
  }
  while (read_pos_ != write_pos && consumed < max_frames) {
    if (write_pos - read_pos_ > cells_) {
      Resync(write_pos, counters_.lapped, "writer lapped the sender");
      break;
    }
    const uint64_t index = read_pos_ % cells_;
    auto* frame = reinterpret_cast<qlaster_ingest_frame*>(area_ + index * frame_size_);
    const uint64_t sequence = frame->sequence.load(std::memory_order_acquire);
    if (sequence != read_pos_ + 1) {
      Resync(write_pos, counters_.torn, "torn frame");
      break;
    }
    const uint32_t schema = frame->schema_id;
    const uint32_t length = frame->payload_len;
    if (schema == QLASTER_INGEST_SCHEMA_SKIP) {
      read_pos_ += cells_ - index;
      header_->read_pos.store(read_pos_, std::memory_order_release);
      continue;
    }
    const uint64_t n = (QLASTER_INGEST_FRAME_HEADER_BYTES + uint64_t{length} + frame_size_ - 1) / frame_size_;
    if (n > cells_ - index || n > write_pos - read_pos_) {
      Resync(write_pos, counters_.bad_length, "frame length past the written data");
      break;
    }
    // Copied out: the writer may reuse the cells as soon as read_pos moves past them.
    payload_.resize(length);
    if (length != 0) {
      std::memcpy(payload_.data(),
                  reinterpret_cast<const uint8_t*>(frame) + QLASTER_INGEST_FRAME_HEADER_BYTES, length);
    }
    // A read-don't-modify-write with release ordering keeps the copy above before this
    // second look at the sequence (a seqlock reader's re-check).
    if (frame->sequence.fetch_add(0, std::memory_order_acq_rel) != sequence) {
      Resync(write_pos, counters_.torn, "frame overwritten while being read");
      break;
    }
    const uint64_t position = read_pos_;
    read_pos_ += n;
    header_->read_pos.store(read_pos_, std::memory_order_release);
    ++consumed;
    Publish(dispatcher, schema, position);
  }
  return consumed;
}

void IngestSource::Publish(Dispatcher& dispatcher, uint32_t schema, uint64_t position) {
  if (schema != QLASTER_INGEST_SCHEMA_ACCOUNT && schema != QLASTER_INGEST_SCHEMA_TRANSACTION &&
      schema != QLASTER_INGEST_SCHEMA_SLOT && schema != QLASTER_INGEST_SCHEMA_BLOCK_META &&
      schema != QLASTER_INGEST_SCHEMA_ENTRY && schema != QLASTER_INGEST_SCHEMA_TRANSACTION_STATUS) {
    Count(counters_.unknown_schema);
    QLASTER_LOG_RATE_LIMITED(kWarning, "ingest frame at %d has unknown schema %d; skipped",
                             position, schema);
    return;
  }
  // The schema ids are the UpdateKinds (ingest.h), and the payload is the frame body.
  RouteKey key;
  absl::StatusOr<EncodedUpdate> update =
      EncodedUpdate::FromBody(static_cast<fb::UpdateKind>(schema), payload_, options_.lz4, &key);
  if (!update.ok()) {
    Count(counters_.rejected);
    QLASTER_LOG_RATE_LIMITED(kWarning, "ingest frame at %d rejected: %s", position,
                             update.status().ToString());
    return;
  }
  dispatcher.Publish(*update, key);
  Count(counters_.frames);
}

absl::StatusOr<SourceWork> IngestSource::DoWork(Dispatcher& dispatcher, int64_t) {
  return SourceWork{.done = static_cast<int>(Drain(dispatcher, options_.max_frames_per_call)),
                    .next_due_ns = SourceWork::kWhenever};
}

}  // namespace qlaster::sender
