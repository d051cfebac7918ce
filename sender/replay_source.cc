// ReplaySource: reading, absolute-time pacing and publishing of a record file.
#include "sender/replay_source.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "wire/frame.h"

namespace qlaster::sender {
namespace {

// While waiting for consumers, look again this often.
constexpr int64_t kConsumerCheckNs = 500'000;

}  // namespace

absl::StatusOr<std::unique_ptr<ReplaySource>> ReplaySource::Open(const ReplayOptions& options) {
  if (!(options.speed >= 0) || !std::isfinite(options.speed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("replay speed ", options.speed, " must be a finite number >= 0"));
  }
  QLASTER_ASSIGN_OR_RETURN(RecordReader reader, RecordReader::Open(options.path));
  return std::unique_ptr<ReplaySource>(new ReplaySource(std::move(reader), options));
}

ReplaySource::ReplaySource(RecordReader reader, ReplayOptions options)
    : reader_(std::move(reader)), options_(std::move(options)) {}

bool ReplaySource::ConsumersReady(const Dispatcher& dispatcher) const {
  // current() is the table this thread itself adopted: it cannot be freed before this
  // thread adopts a newer one.
  const RoutingTable* table = dispatcher.current();
  if (table == nullptr) return false;
  return table->all.size() >= options_.wait_for_consumers && table->any_subscription;
}

absl::Status ReplaySource::Publish(Dispatcher& dispatcher, absl::Span<const uint8_t> frame,
                                   uint64_t offset) {
  if (frame.size() >= kFrameHeaderSize) {
    fb::FrameHeader header;
    std::memcpy(&header, frame.data(), sizeof(header));
    if (header.kind() == fb::UpdateKind::Gap) {
      counters_.gaps.fetch_add(1, std::memory_order_relaxed);
      return absl::OkStatus();
    }
  }
  // Recorded frames were encoded (and compressed) by the sender that sent them.
  RouteKey key;
  absl::StatusOr<EncodedUpdate> update = EncodedUpdate::FromFrame(frame, Lz4Policy::Never(), &key);
  if (!update.ok()) {
    return absl::DataLossError(absl::StrCat(options_.path, ": record at offset ", offset,
                                            " does not decode: ", update.status().message()));
  }
  dispatcher.Publish(*update, key);
  counters_.published.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

SourceWork ReplaySource::EndOfPass(int done) {
  counters_.passes.fetch_add(1, std::memory_order_relaxed);
  if (reader_.truncated_tail() && !counters_.truncated_tail.exchange(true)) {
    QLASTER_LOG(kWarning,
                "replay %s: the last %d bytes are a record cut short (the recording was "
                "interrupted); ignored",
                options_.path, reader_.truncated_bytes());
  }
  // An empty file has nothing to loop over.
  if (options_.loop && pass_records_ > 0) {
    reader_.Rewind();
    pass_records_ = 0;
    have_base_ = false;
    return SourceWork{.done = done, .next_due_ns = 0};
  }
  counters_.finished.store(true, std::memory_order_release);
  QLASTER_LOG(kInfo, "replay %s: done (%d updates published)", options_.path,
              counters_.published.load());
  return SourceWork{.done = done, .next_due_ns = SourceWork::kEnded};
}

absl::StatusOr<SourceWork> ReplaySource::DoWork(Dispatcher& dispatcher, int64_t now_ns) {
  if (!started_) {
    if (options_.wait_for_consumers > 0 && !ConsumersReady(dispatcher)) {
      return SourceWork{.done = 0, .next_due_ns = now_ns + kConsumerCheckNs};
    }
    started_ = true;
  }
  int done = 0;
  while (done < kMaxBatchRecords) {
    if (!pending_.has_value()) {
      pending_offset_ = reader_.offset();
      QLASTER_ASSIGN_OR_RETURN(std::optional<absl::Span<const uint8_t>> next, reader_.Next());
      if (!next.has_value()) return EndOfPass(done);
      pending_ = *next;
      ++pass_records_;
    }
    const absl::Span<const uint8_t> frame = *pending_;
    if (options_.speed > 0 && frame.size() >= kFrameHeaderSize) {
      fb::FrameHeader header;
      std::memcpy(&header, frame.data(), sizeof(header));
      const uint64_t ts = header.timestamp_ns();
      if (!have_base_ || ts < last_ts_) {
        // The first record of a pass, or a timestamp that went backwards (a recording
        // spanning a clock step): the schedule restarts here.
        have_base_ = true;
        base_ts_ = ts;
        base_wall_ns_ = now_ns;
      }
      last_ts_ = ts;
      const double delay_ns = static_cast<double>(ts - base_ts_) / options_.speed;
      // Beyond ~292 years the int64 deadline would overflow; such a file is nonsense,
      // and waiting "forever" (until stopped) is what it asks for.
      const int64_t due =
          delay_ns >= 9e18 ? SourceWork::kWhenever - 1 : base_wall_ns_ + static_cast<int64_t>(delay_ns);
      if (due > now_ns) return SourceWork{.done = done, .next_due_ns = due};
    }
    pending_.reset();
    QLASTER_RETURN_IF_ERROR(Publish(dispatcher, frame, pending_offset_));
    ++done;
  }
  return SourceWork{.done = done, .next_due_ns = now_ns};
}

}  // namespace qlaster::sender
