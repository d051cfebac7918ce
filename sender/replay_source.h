// ReplaySource: plays a record file (wire/record_file.h, written by `qlaster-inspect
// --record`) back through the sender, at the recorded pace, faster or slower, or as fast
// as the dispatcher goes.
//
// Each record is a frame a consumer once received. It is validated and published as it
// is (EncodedUpdate::FromFrame: its bytes are borrowed, nothing is decoded into values or
// encoded again; compressed accounts stay as they were compressed); gap records in a
// recording are skipped (they said that the recording consumer missed something; nothing
// in them can be replayed). Sequence numbers and timestamps are the new sender's:
// consumers of a replay see a normal stream. Each DoWork call publishes the records due
// (at most kMaxBatchRecords, one batch).
//
// Pacing is absolute: record i is published at start + (t_i - t_0) / speed, where t is the
// frame's sender timestamp, so waiting errors never accumulate. A timestamp that goes
// backwards (a recording spanning a sender restart with a clock step) restarts the
// schedule at that record instead of publishing everything after it at once.
#ifndef QLASTER_SENDER_REPLAY_SOURCE_H_
#define QLASTER_SENDER_REPLAY_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sender/source.h"
#include "wire/record_file.h"

namespace qlaster::sender {

struct ReplayOptions {
  std::string path = {};  // the record file
  // 1.0: the recorded pace; 2.0: twice as fast; 0: as fast as possible.
  // REQUIRES: speed >= 0 and finite.
  double speed = 1.0;
  // Start again from the first record at the end of the file (forever, until stopped).
  bool loop = false;
  // Do not start before the sender's routing table names at least this many consumers
  // and holds some subscription (a key or a transaction filter); 0 starts at once. A
  // replay that starts before anyone listens reaches nobody. (Slot-only consumers have
  // no subscription to wait for: use 0 and loop, or subscribe to something.)
  size_t wait_for_consumers = 0;
};

struct ReplayCounters {
  std::atomic<uint64_t> published{0};  // updates handed to the dispatcher
  std::atomic<uint64_t> gaps{0};       // gap records skipped
  std::atomic<uint64_t> rejected{0};   // updates the dispatcher refused (logged)
  std::atomic<uint64_t> passes{0};     // complete passes over the file
  std::atomic<bool> truncated_tail{false};  // the file ended in a record cut short
  std::atomic<bool> finished{false};   // the last record was published (without loop)
};

// Thread-safety: Run() on the dispatch thread; counters() from any thread.
class ReplaySource : public Source {
 public:
  // Opens the file and checks its header (RecordReader::Open's errors: kNotFound,
  // kDataLoss for a file that is not a record file, kFailedPrecondition for an unknown
  // version) and the options (kInvalidArgument).
  static absl::StatusOr<std::unique_ptr<ReplaySource>> Open(const ReplayOptions& options);

  std::string name() const override { return "replay:" + options_.path; }

  // Publishes the records due at `now_ns`, as described above; ends after the last
  // record (without `loop`). kDataLoss naming the file and offset for a corrupt record or
  // a frame that does not decode. A truncated tail (a recording cut short by a crash) is
  // not an error: it is logged and counted.
  absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) override;

  const ReplayCounters& counters() const { return counters_; }
  SourceCounts Counts() const override {
    return {.updates = counters_.published.load(std::memory_order_relaxed),
            .rejects = {{"refused", counters_.rejected.load(std::memory_order_relaxed)}}};
  }

  static constexpr int kMaxBatchRecords = 64;

 private:
  ReplaySource(RecordReader reader, ReplayOptions options);
  bool ConsumersReady(const Dispatcher& dispatcher) const;
  // Publishes one record (or counts a gap record); kDataLoss for a frame that fails
  // validation.
  absl::Status Publish(Dispatcher& dispatcher, absl::Span<const uint8_t> frame, uint64_t offset);
  // The end of one pass: loop or end.
  SourceWork EndOfPass(int done);

  RecordReader reader_;
  const ReplayOptions options_;
  ReplayCounters counters_;
  bool started_ = false;  // wait_for_consumers is satisfied
  // The record read but not yet published (it is not due yet), valid until the next read.
  std::optional<absl::Span<const uint8_t>> pending_;
  uint64_t pending_offset_ = 0;
  // The schedule: the record stamped base_ts_ is due at base_wall_ns_.
  bool have_base_ = false;
  uint64_t base_ts_ = 0;
  uint64_t last_ts_ = 0;
  int64_t base_wall_ns_ = 0;
  uint64_t pass_records_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_REPLAY_SOURCE_H_
