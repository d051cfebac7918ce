// IngestSource: reads the ingest ring (shm/include/qlaster/ingest.h) that other processes
// write, and publishes what it finds.
//
// Everything in the ring is untrusted. A writer that laps the sender, a torn frame, a bad
// length, an unknown schema or a payload that does not decode is counted (and logged),
// the reader resynchronizes where it must, and the sender carries on.
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

namespace qlaster::sender {

struct IngestOptions {
  std::string name = QLASTER_INGEST_DEFAULT_NAME;  // shm_open name, without the slash
  uint64_t capacity = QLASTER_INGEST_DEFAULT_CAPACITY;
  uint64_t frame_size = QLASTER_INGEST_DEFAULT_FRAME_SIZE;
  // Pause between polls of an empty ring; zero spins.
  absl::Duration poll_interval = absl::Microseconds(10);
  mode_t mode = 0660;
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

  absl::Status Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) override;

  // Publishes every complete frame written so far; returns how many frames it consumed.
  size_t Drain(Dispatcher& dispatcher);

  const IngestCounters& counters() const { return counters_; }
  uint64_t slot_count() const { return slots_; }

 private:
  IngestSource(shm::MappedRegion region, IngestOptions options);
  void Resync(uint64_t write_pos, std::atomic<uint64_t>& counter, const char* what);
  void Publish(Dispatcher& dispatcher, uint32_t schema, uint64_t position);

  shm::MappedRegion region_;
  const IngestOptions options_;
  qlaster_ingest_header* header_;
  uint8_t* area_;
  uint64_t frame_size_;
  uint64_t slots_;
  uint64_t read_pos_;
  std::vector<uint8_t> frame_;  // frame header + payload copied out of the ring
  IngestCounters counters_;
  uint64_t logged_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_INGEST_SOURCE_H_
