// ReplaySource: reading, absolute-time pacing and publishing of a record file.
#include "sender/replay_source.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "wire/frame.h"

namespace qlaster::sender {
namespace {

// The dispatcher must be polled at least every millisecond while the source waits
// (source.h); half of that leaves room for a late wake-up.
constexpr int64_t kPollIntervalNs = 500'000;

int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SleepUntil(int64_t deadline_ns) {
  timespec ts{.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000),
              .tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplaySource>> ReplaySource::Open(const ReplayOptions& options) {
  if (!(options.speed >= 0) || !std::isfinite(options.speed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("replay speed ", options.speed, " must be a finite number >= 0"));
  }
  absl::StatusOr<RecordReader> reader = RecordReader::Open(options.path);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<ReplaySource>(new ReplaySource(*std::move(reader), options));
}

ReplaySource::ReplaySource(RecordReader reader, ReplayOptions options)
    : reader_(std::move(reader)), options_(std::move(options)) {}

bool ReplaySource::WaitUntil(int64_t deadline, Dispatcher& dispatcher,
                             const std::atomic<bool>& stop) {
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) return false;
    const int64_t now = MonotonicNs();
    if (now >= deadline) return true;
    dispatcher.Poll();
    SleepUntil(std::min(deadline, now + kPollIntervalNs));
  }
}

bool ReplaySource::WaitForConsumers(Dispatcher& dispatcher, const std::atomic<bool>& stop) {
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) return false;
    dispatcher.Poll();
    // adopted() is the table this thread itself adopted in Poll(): it cannot be freed
    // before this thread adopts a newer one.
    if (const RoutingTable* table = dispatcher.adopted(); table != nullptr && table->index) {
      const SubscriptionIndex& index = *table->index;
      const bool subscribed = index.key_count() > 0 ||
                              !index.TransactionConsumers(false).empty() ||
                              !index.TransactionConsumers(true).empty();
      if (index.all_consumers().size() >= options_.wait_for_consumers && subscribed) return true;
    }
    SleepUntil(MonotonicNs() + kPollIntervalNs);
  }
}

absl::Status ReplaySource::Publish(Dispatcher& dispatcher, absl::Span<const uint8_t> frame,
                                   uint64_t offset) {
  absl::StatusOr<FrameView> view = DecodeFrame(frame);
  if (!view.ok()) {
    return absl::DataLossError(absl::StrCat(options_.path, ": record at offset ", offset,
                                            " does not decode: ", view.status().message()));
  }
  absl::Status status;
  if (const AccountView* a = view->account()) {
    absl::StatusOr<AccountUpdate> update = ToAccountUpdate(*a);
    if (!update.ok()) {
      return absl::DataLossError(absl::StrCat(options_.path, ": record at offset ", offset,
                                              ": ", update.status().message()));
    }
    status = dispatcher.PublishAccount(*update);
  } else if (const TransactionView* t = view->transaction()) {
    status = dispatcher.PublishTransaction(ToTransactionUpdate(*t));
  } else if (const SlotView* s = view->slot()) {
    dispatcher.PublishSlot(ToSlotUpdate(*s));
  } else {
    counters_.gaps.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  if (!status.ok()) {
    // Only a limit the dispatcher enforces and the decoder does not; say so, carry on.
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    if (++logged_ <= 20) {
      std::fprintf(stderr, "qlaster-sender: replay %s: record at offset %llu rejected: %s\n",
                   options_.path.c_str(), static_cast<unsigned long long>(offset),
                   status.ToString().c_str());
    }
    return absl::OkStatus();
  }
  counters_.published.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ReplaySource::Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) {
  // Waits are short; the default 50 us timer slack would blur the pacing.
  ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  if (options_.wait_for_consumers > 0 && !WaitForConsumers(dispatcher, stop)) {
    return absl::OkStatus();
  }
  for (;;) {
    // The schedule: the record stamped base_ts is due at base_wall.
    bool have_base = false;
    uint64_t base_ts = 0;
    uint64_t last_ts = 0;
    int64_t base_wall = 0;
    uint64_t records = 0;
    for (;;) {
      if (stop.load(std::memory_order_relaxed)) return absl::OkStatus();
      const uint64_t offset = reader_.offset();
      absl::StatusOr<std::optional<absl::Span<const uint8_t>>> next = reader_.Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) break;
      ++records;
      const absl::Span<const uint8_t> frame = **next;
      if (options_.speed > 0 && frame.size() >= kFrameHeaderSize) {
        fb::FrameHeader header;
        std::memcpy(&header, frame.data(), sizeof(header));
        const uint64_t ts = header.timestamp_ns();
        if (!have_base || ts < last_ts) {
          have_base = true;
          base_ts = ts;
          base_wall = MonotonicNs();
        }
        last_ts = ts;
        const double delay_ns = static_cast<double>(ts - base_ts) / options_.speed;
        // Beyond ~292 years the int64 deadline would overflow; such a file is nonsense,
        // and waiting "forever" (until stopped) is what it asks for.
        const int64_t deadline =
            delay_ns >= 9e18 ? INT64_MAX : base_wall + static_cast<int64_t>(delay_ns);
        if (!WaitUntil(deadline, dispatcher, stop)) return absl::OkStatus();
      }
      if (absl::Status s = Publish(dispatcher, frame, offset); !s.ok()) return s;
    }
    counters_.passes.fetch_add(1, std::memory_order_relaxed);
    if (reader_.truncated_tail()) {
      if (!counters_.truncated_tail.exchange(true)) {
        std::fprintf(stderr,
                     "qlaster-sender: replay %s: the last %llu bytes are a record cut short "
                     "(the recording was interrupted); ignored\n",
                     options_.path.c_str(),
                     static_cast<unsigned long long>(reader_.truncated_bytes()));
      }
    }
    // An empty file has nothing to loop over.
    if (!options_.loop || records == 0) break;
    reader_.Rewind();
  }
  counters_.finished.store(true, std::memory_order_release);
  std::fprintf(stderr, "qlaster-sender: replay %s: done (%llu updates published)\n",
               options_.path.c_str(),
               static_cast<unsigned long long>(counters_.published.load()));
  if (options_.serve_after_end) {
    while (WaitUntil(MonotonicNs() + kPollIntervalNs, dispatcher, stop)) {
    }
  }
  return absl::OkStatus();
}

}  // namespace qlaster::sender
