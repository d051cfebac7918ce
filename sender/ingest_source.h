// IngestSource: reads the ingest ring (shm/include/qlaster/ingest.h) that other processes
// write, and publishes what it finds.
//
// Each frame's payload is already an update in qlaster's wire encoding (a frame body): it
// is copied out of the ring (the writer may overwrite it; the copy is re-checked as a
// seqlock reader does), validated, and published as it is (EncodedUpdate::FromBody), with
// no decoding into values and no re-encoding. This is where data enters the sender, so
// large account data the writer left raw is compressed here when the policy says it pays.
//
// Everything in the ring is untrusted. A writer that laps the sender, a torn frame, a bad
// length, an unknown schema or a payload that does not decode is counted (and logged,
// rate-limited), the reader resynchronizes where it must, and the sender carries on.
#ifndef QLASTER_SENDER_INGEST_SOURCE_H_
#define QLASTER_SENDER_INGEST_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qlaster/ingest.h"
#include "sender/source.h"
#include "shm/mapped_region.h"
#include "wire/lz4_policy.h"

namespace qlaster::sender {

struct IngestOptions {
  std::string name = QLASTER_INGEST_DEFAULT_NAME;  // shm_open name, without the slash
  uint64_t capacity = QLASTER_INGEST_DEFAULT_CAPACITY;
  uint64_t frame_size = QLASTER_INGEST_DEFAULT_FRAME_SIZE;
  mode_t mode = 0660;
  // Applied to raw account data as it enters (the sender's --lz4_threshold).
  Lz4Policy lz4 = {};
  // Frames one DoWork call publishes at most (one batch).
  size_t max_frames_per_call = 256;
};

struct IngestCounters {
  std::atomic<uint64_t> frames{0};          // published
  std::atomic<uint64_t> lapped{0};          // times the writer overran the sender
  std::atomic<uint64_t> rewound{0};         // polls that found write_pos behind the reader
  std::atomic<uint64_t> torn{0};            // frames whose sequence was wrong
  std::atomic<uint64_t> bad_length{0};      // frames whose length ran past what was written
  std::atomic<uint64_t> unknown_schema{0};  // frames of a schema_id we do not know
  std::atomic<uint64_t> rejected{0};        // payloads that failed to decode or publish
};

class IngestSource : public Source {
 public:
  // Opens the ring `options.name`, creating and initializing it if it does not exist. An
  // existing object that is not a valid ingest ring is kDataLoss (it is not clobbered).
  static absl::StatusOr<std::unique_ptr<IngestSource>> Open(const IngestOptions& options);

  std::string name() const override { return "ingest:" + options_.name; }

  // Publishes up to max_frames_per_call complete frames; next_due is kWhenever.
  absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) override;

  // Publishes up to `max_frames` complete frames written so far; returns how many frames
  // it consumed.
  size_t Drain(Dispatcher& dispatcher, size_t max_frames = SIZE_MAX);

  const IngestCounters& counters() const { return counters_; }
  SourceCounts Counts() const override {
    const IngestCounters& c = counters_;
    auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    // Cells the writer has written and the sender not yet read (both positions are in
    // the shared header, readable from any thread).
    const uint64_t written = header_->write_pos.load(std::memory_order_acquire);
    const uint64_t read = header_->read_pos.load(std::memory_order_acquire);
    return {.updates = get(c.frames),
            .backlog = written > read ? written - read : 0,
            .rejects = {{"lapped", get(c.lapped)},
                        {"rewound", get(c.rewound)},
                        {"torn", get(c.torn)},
                        {"bad_length", get(c.bad_length)},
                        {"unknown_schema", get(c.unknown_schema)},
                        {"undecodable", get(c.rejected)}}};
  }
  // Cells in the ring (a frame occupies one or more consecutive cells).
  uint64_t cell_count() const { return cells_; }

 private:
  IngestSource(shm::MappedRegion region, IngestOptions options);
  void Resync(uint64_t write_pos, std::atomic<uint64_t>& counter, const char* what);
  void Publish(Dispatcher& dispatcher, uint32_t schema, uint64_t position);
  void Count(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  shm::MappedRegion region_;
  const IngestOptions options_;
  qlaster_ingest_header* header_;
  uint8_t* area_;
  uint64_t frame_size_;
  uint64_t cells_;
  uint64_t read_pos_;
  std::vector<uint8_t> payload_;  // the frame's payload, copied out of the ring
  IngestCounters counters_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_INGEST_SOURCE_H_
