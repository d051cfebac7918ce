// SyntheticSource: pacing the feed against CLOCK_MONOTONIC and publishing it.
#include "sender/synthetic_source.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"

namespace qlaster::sender {
namespace {

// Sleep steps while waiting are at most this long, so the dispatcher is polled at least
// every millisecond (the Source contract) even with the timer's overshoot.
constexpr int64_t kMaxSleepNs = 500'000;

int64_t MonotonicNanos() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SyntheticSource>> SyntheticSource::Create(
    const SyntheticSourceOptions& options) {
  if (options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic duration ", absl::FormatDuration(options.duration), " must be > 0"));
  }
  if (options.log_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("synthetic log interval must be > 0");
  }
  absl::StatusOr<SyntheticFeed> feed = SyntheticFeed::Create(options.feed);
  if (!feed.ok()) return feed.status();
  return std::unique_ptr<SyntheticSource>(new SyntheticSource(options, *std::move(feed)));
}

SyntheticSource::SyntheticSource(const SyntheticSourceOptions& options, SyntheticFeed feed)
    : options_(options), feed_(std::move(feed)) {}

void SyntheticSource::Publish(Dispatcher& dispatcher, SyntheticEventKind kind) {
  absl::Status status;
  switch (kind) {
    case SyntheticEventKind::kAccount: {
      const AccountUpdate& a = feed_.account();
      status = dispatcher.PublishAccount(a);
      if (status.ok()) {
        counters_.accounts.fetch_add(1, std::memory_order_relaxed);
        counters_.account_bytes.fetch_add(a.data.size(), std::memory_order_relaxed);
      }
      break;
    }
    case SyntheticEventKind::kTransaction:
      status = dispatcher.PublishTransaction(feed_.transaction());
      if (status.ok()) counters_.transactions.fetch_add(1, std::memory_order_relaxed);
      break;
    case SyntheticEventKind::kSlot:
      dispatcher.PublishSlot(feed_.slot());
      counters_.slots.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  if (!status.ok()) {
    // The feed builds only valid updates, so this is a bug; log a few, never stop.
    if (counters_.publish_errors.fetch_add(1, std::memory_order_relaxed) < 10) {
      std::fprintf(stderr, "qlaster-sender: synthetic update rejected: %s\n",
                   status.ToString().c_str());
    }
  }
  counters_.virtual_nanos.store(static_cast<uint64_t>(feed_.at_nanos()), std::memory_order_relaxed);
}

void SyntheticSource::Log(int64_t real_elapsed_ns) {
  const uint64_t accounts = counters_.accounts.load(std::memory_order_relaxed);
  const uint64_t transactions = counters_.transactions.load(std::memory_order_relaxed);
  const uint64_t bytes = counters_.account_bytes.load(std::memory_order_relaxed);
  const double seconds = static_cast<double>(real_elapsed_ns - logged_at_ns_) * 1e-9;
  const int64_t lag_ns = options_.max_speed ? 0 : real_elapsed_ns - feed_.at_nanos();
  std::fprintf(stderr,
               "qlaster-sender: synthetic slot %llu: %.0f accounts/s (%.1f MB/s), %.0f tx/s, "
               "%llu errors, %.1f ms behind\n",
               static_cast<unsigned long long>(feed_.options().first_slot +
                                               static_cast<uint64_t>(feed_.at_nanos() /
                                                   absl::ToInt64Nanoseconds(feed_.options().slot_interval))),
               static_cast<double>(accounts - logged_accounts_) / seconds,
               static_cast<double>(bytes - logged_bytes_) / seconds * 1e-6,
               static_cast<double>(transactions - logged_transactions_) / seconds,
               static_cast<unsigned long long>(counters_.publish_errors.load(std::memory_order_relaxed)),
               static_cast<double>(std::max<int64_t>(lag_ns, 0)) * 1e-6);
  logged_at_ns_ = real_elapsed_ns;
  logged_accounts_ = accounts;
  logged_transactions_ = transactions;
  logged_bytes_ = bytes;
}

// Most updates published in one batch before sleeping consumers are woken.
constexpr int kMaxBatchUpdates = 64;

absl::Status SyntheticSource::Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) {
  // Waits are short sleeps; the default 50 us timer slack would stretch each of them.
  ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  const int64_t end_ns = options_.duration == absl::InfiniteDuration()
                             ? INT64_MAX
                             : absl::ToInt64Nanoseconds(options_.duration);
  const int64_t log_every_ns = absl::ToInt64Nanoseconds(options_.log_interval);
  const int64_t start_ns = MonotonicNanos();
  int64_t next_log_ns = log_every_ns;
  // A burst (events already due when the previous one is published) is one batch:
  // sleeping consumers are woken once for it, when the source is about to wait.
  bool in_batch = false;
  int batch_updates = 0;
  auto end_batch = [&] {
    if (in_batch) dispatcher.EndBatch();
    in_batch = false;
  };
  struct OnExit {
    std::function<void()> f;
    ~OnExit() { f(); }
  } close_batch{end_batch};
  while (!stop.load(std::memory_order_relaxed)) {
    const SyntheticEventKind kind = feed_.Advance();
    const int64_t due_ns = feed_.at_nanos();
    if (due_ns >= end_ns) {
      if (options_.verbose) {
        const double real = static_cast<double>(MonotonicNanos() - start_ns) * 1e-9;
        const uint64_t events = counters_.accounts.load(std::memory_order_relaxed) +
                                counters_.transactions.load(std::memory_order_relaxed) +
                                counters_.slots.load(std::memory_order_relaxed);
        std::fprintf(stderr,
                     "qlaster-sender: synthetic feed done: %s of feed time, %llu updates in "
                     "%.3f s (%.0f updates/s)\n",
                     absl::FormatDuration(options_.duration).c_str(),
                     static_cast<unsigned long long>(events), real, static_cast<double>(events) / real);
      }
      return absl::OkStatus();
    }
    int64_t elapsed_ns = MonotonicNanos() - start_ns;
    if (!options_.max_speed) {
      if (due_ns - elapsed_ns > absl::ToInt64Nanoseconds(kSyntheticSpinAhead)) end_batch();
      while (due_ns - elapsed_ns > absl::ToInt64Nanoseconds(kSyntheticSpinAhead)) {
        dispatcher.Poll();
        if (stop.load(std::memory_order_relaxed)) return absl::OkStatus();
        const int64_t step = std::min(kMaxSleepNs, due_ns - elapsed_ns);
        const timespec ts{.tv_sec = 0, .tv_nsec = static_cast<long>(step)};
        ::nanosleep(&ts, nullptr);
        elapsed_ns = MonotonicNanos() - start_ns;
      }
    }
    if (!in_batch) {
      dispatcher.BeginBatch();
      in_batch = true;
      batch_updates = 0;
    }
    Publish(dispatcher, kind);
    // A long burst (or --max_speed, which never waits) still wakes sleepers regularly.
    if (++batch_updates == kMaxBatchUpdates) end_batch();
    if (options_.verbose && elapsed_ns >= next_log_ns) {
      Log(elapsed_ns);
      next_log_ns = elapsed_ns + log_every_ns;
    }
  }
  return absl::OkStatus();
}

}  // namespace qlaster::sender
