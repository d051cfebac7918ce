// ReplaySource: plays a record file (wire/record_file.h, written by `qlaster-inspect
// --record`) back through the sender, at the recorded pace, faster or slower, or as fast
// as the dispatcher goes.
//
// Each record is a frame a consumer once received. It is decoded (DecodeFrame), turned
// back into an update and published; gap records in a recording are skipped (they said
// that the recording consumer missed something; nothing in them can be replayed).
// Sequence numbers and timestamps are the new sender's: consumers of a replay see a
// normal stream.
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
  // After the last record (without `loop`): keep adopting routing tables until stopped,
  // so that consumers can still connect and subscribe (Sender::Run does not poll the
  // dispatcher once its source returns). False: return OK at once.
  bool serve_after_end = true;
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

  // Publishes the file as described above. Returns OK when stopped, or at the end of the
  // file (after serving until stopped, with serve_after_end); kDataLoss naming the file
  // and offset for a corrupt record or a frame that does not decode. A truncated tail
  // (a recording cut short by a crash) is not an error: it is logged and counted.
  absl::Status Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) override;

  const ReplayCounters& counters() const { return counters_; }

 private:
  ReplaySource(RecordReader reader, ReplayOptions options);
  // Waits until `deadline` (CLOCK_MONOTONIC ns), polling the dispatcher at least every
  // millisecond. False if stopped first.
  bool WaitUntil(int64_t deadline, Dispatcher& dispatcher, const std::atomic<bool>& stop);
  bool WaitForConsumers(Dispatcher& dispatcher, const std::atomic<bool>& stop);
  absl::Status Publish(Dispatcher& dispatcher, absl::Span<const uint8_t> frame, uint64_t offset);

  RecordReader reader_;
  const ReplayOptions options_;
  ReplayCounters counters_;
  uint64_t logged_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_REPLAY_SOURCE_H_
