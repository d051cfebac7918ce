// RingReader: the consumer's side of its ring. Reads records in place, decodes each frame
// straight into the public Event (no intermediate copies of the update), checks every
// sequence number, and turns what is missing into GapEvents: a gap record the sender
// wrote (drop-and-count), or a jump it did not explain.
//
// Thread-compatible. Events point into the ring or into the reader's decompression
// buffer: valid during the handler call only.
#ifndef QLASTER_CONSUMER_RING_READER_H_
#define QLASTER_CONSUMER_RING_READER_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "qlaster/consumer.hpp"
#include "shm/spsc_ring.h"
#include "wire/frame.h"

namespace qlaster::consumer {

using EventFn = void (*)(void* ctx, const Event& event);

// Counts the reader adds to (they outlive connections: the Consumer owns them).
struct ReadCounts {
  uint64_t received = 0;  // account, transaction and slot events
  uint64_t gaps = 0;
  uint64_t dropped = 0;
};

class RingReader {
 public:
  enum class Outcome : uint8_t {
    kLimit,    // read max_records; more may wait
    kEmpty,    // read everything published so far
    kClosed,   // read everything, and the sender closed the ring (it is done with us)
    kCorrupt,  // the ring or a record is impossible: see error()
  };
  struct Result {
    Outcome outcome = Outcome::kEmpty;
    int records = 0;  // ring records read (padding excluded)
    int events = 0;   // events handed to the handler (a record may give two: gap + update)
  };

  explicit RingReader(shm::RingConsumer ring) : ring_(std::move(ring)) {}

  // Reads up to `max_records` records, handing their events to `fn`, and releases the ring
  // space at least every kReleaseEvery records and before returning.
  Result Read(EventFn fn, void* ctx, int max_records, ReadCounts& counts);

  // Why the last Read was kCorrupt (kDataLoss).
  const absl::Status& error() const { return error_; }

  shm::RingConsumer& ring() { return ring_; }
  const shm::RingConsumer& ring() const { return ring_; }
  uint64_t last_sequence() const { return last_sequence_; }

  // Release ring space at least this often, so a long Read does not starve the producer.
  static constexpr int kReleaseEvery = 64;

 private:
  // Decodes one frame and delivers its event(s); returns how many, or kDataLoss.
  absl::StatusOr<int> Deliver(absl::Span<const uint8_t> frame, EventFn fn, void* ctx,
                              ReadCounts& counts);
  void DeliverGap(uint64_t first, uint64_t last, bool reported, uint64_t timestamp_ns,
                  absl::Span<const uint8_t> frame, EventFn fn, void* ctx, ReadCounts& counts);

  shm::RingConsumer ring_;
  uint64_t last_sequence_ = 0;
  // Reused for every record: decoding allocates and constructs nothing.
  CheckedFrame checked_;
  Event event_;
  absl::Status error_;
  std::unique_ptr<uint8_t[]> inflate_;  // decompression buffer, grown, never shrunk
  size_t inflate_size_ = 0;
};

}  // namespace qlaster::consumer

#endif  // QLASTER_CONSUMER_RING_READER_H_
