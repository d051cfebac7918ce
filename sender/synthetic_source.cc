// SyntheticSource: pacing the feed against CLOCK_MONOTONIC and publishing it.
#include "sender/synthetic_source.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace qlaster::sender {

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
    : options_(options),
      feed_(std::move(feed)),
      end_ns_(options.duration == absl::InfiniteDuration()
                  ? INT64_MAX
                  : absl::ToInt64Nanoseconds(options.duration)) {}

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
      status = dispatcher.PublishSlot(feed_.slot());
      if (status.ok()) counters_.slots.fetch_add(1, std::memory_order_relaxed);
      break;
    case SyntheticEventKind::kBlockMeta:
      status = dispatcher.PublishBlockMeta(feed_.block_meta());
      if (status.ok()) counters_.block_metas.fetch_add(1, std::memory_order_relaxed);
      break;
    case SyntheticEventKind::kEntry:
      status = dispatcher.PublishEntry(feed_.entry());
      if (status.ok()) counters_.entries.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  if (!status.ok()) {
    // The feed builds only valid updates, so this is a bug: say so, never stop.
    counters_.publish_errors.fetch_add(1, std::memory_order_relaxed);
    QLASTER_LOG_RATE_LIMITED(kError, "synthetic update rejected: %s", status.ToString());
  }
  counters_.virtual_nanos.store(static_cast<uint64_t>(feed_.at_nanos()), std::memory_order_relaxed);
}

void SyntheticSource::Log(int64_t real_elapsed_ns) {
  const uint64_t accounts = counters_.accounts.load(std::memory_order_relaxed);
  const uint64_t transactions = counters_.transactions.load(std::memory_order_relaxed);
  const uint64_t bytes = counters_.account_bytes.load(std::memory_order_relaxed);
  const double seconds = static_cast<double>(real_elapsed_ns - logged_at_ns_) * 1e-9;
  const int64_t lag_ns = options_.max_speed ? 0 : real_elapsed_ns - feed_.at_nanos();
  QLASTER_LOG(kInfo,
              "synthetic slot %d: %.0f accounts/s (%.1f MB/s), %.0f tx/s, %d errors, %.1f ms behind",
              feed_.options().first_slot +
                  static_cast<uint64_t>(feed_.at_nanos() /
                                        absl::ToInt64Nanoseconds(feed_.options().slot_interval)),
              static_cast<double>(accounts - logged_accounts_) / seconds,
              static_cast<double>(bytes - logged_bytes_) / seconds * 1e-6,
              static_cast<double>(transactions - logged_transactions_) / seconds,
              counters_.publish_errors.load(std::memory_order_relaxed),
              static_cast<double>(std::max<int64_t>(lag_ns, 0)) * 1e-6);
  logged_at_ns_ = real_elapsed_ns;
  logged_accounts_ = accounts;
  logged_transactions_ = transactions;
  logged_bytes_ = bytes;
}

void SyntheticSource::LogDone(int64_t now_ns) {
  const double real = static_cast<double>(now_ns - start_ns_) * 1e-9;
  const uint64_t events = counters_.accounts.load(std::memory_order_relaxed) +
                          counters_.transactions.load(std::memory_order_relaxed) +
                          counters_.slots.load(std::memory_order_relaxed) +
                          counters_.block_metas.load(std::memory_order_relaxed) +
                          counters_.entries.load(std::memory_order_relaxed);
  QLASTER_LOG(kInfo, "synthetic feed done: %s of feed time, %d updates in %.3f s (%.0f updates/s)",
              absl::FormatDuration(options_.duration), events, real,
              real > 0 ? static_cast<double>(events) / real : 0.0);
}

absl::StatusOr<SourceWork> SyntheticSource::DoWork(Dispatcher& dispatcher, int64_t now_ns) {
  if (start_ns_ < 0) {
    start_ns_ = now_ns;
    next_log_ns_ = absl::ToInt64Nanoseconds(options_.log_interval);
  }
  int done = 0;
  while (done < kMaxBatchUpdates) {
    if (!pending_) {
      pending_kind_ = feed_.Advance();
      pending_ = true;
    }
    const int64_t due_ns = feed_.at_nanos();
    if (due_ns >= end_ns_) {
      if (options_.verbose) LogDone(now_ns);
      return SourceWork{.done = done, .next_due_ns = SourceWork::kEnded};
    }
    if (!options_.max_speed && start_ns_ + due_ns > now_ns) {
      return SourceWork{.done = done, .next_due_ns = start_ns_ + due_ns};
    }
    Publish(dispatcher, pending_kind_);
    pending_ = false;
    ++done;
  }
  const int64_t elapsed_ns = now_ns - start_ns_;
  if (options_.verbose && elapsed_ns >= next_log_ns_) {
    Log(elapsed_ns);
    next_log_ns_ = elapsed_ns + absl::ToInt64Nanoseconds(options_.log_interval);
  }
  return SourceWork{.done = done, .next_due_ns = now_ns};
}

}  // namespace qlaster::sender
