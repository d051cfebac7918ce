// qlaster-inspect: the watch loop (connect, subscribe, poll, print, record, live stats)
// and the --sender-stats query.
#include "tools/inspect/inspect.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/inspect/live_stats.h"
#include "wire/control_framing.h"
#include "wire/record_file.h"

namespace qlaster::inspect {
namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

void InstallSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking wait returns early
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout (`| head`) shows up as a write error, and ends the run cleanly with
  // the record file flushed, instead of killing the process.
  std::signal(SIGPIPE, SIG_IGN);
}

int64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "qlaster-inspect: %s\n", message.c_str());
  return code;
}

const char* FilterName(TransactionFilter f) {
  switch (f) {
    case TransactionFilter::kNone:
      return "none";
    case TransactionFilter::kAll:
      return "all";
    case TransactionFilter::kNonVote:
      return "nonvote";
  }
  return "?";
}

// Writes `text` and a newline to stdout; false once stdout is gone.
bool WriteLine(const std::string& text) {
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
         std::fputc('\n', stdout) != EOF;
}

}  // namespace

int RunWatch(const InspectOptions& o) {
  InstallSignals();
  ConsumerOptions co;
  co.name = o.name;
  co.ring_bytes = o.ring_bytes;
  co.overflow = o.policy;
  co.auto_reconnect = true;  // shown as disconnected / reconnected lines
  absl::StatusOr<Consumer> consumer = Consumer::Connect(o.socket_path, co);
  if (!consumer.ok()) {
    if (consumer.status().code() == absl::StatusCode::kUnavailable) {
      return Fail(kExitNoSender, std::string(consumer.status().message()));
    }
    return Fail(kExitNoSender, absl::StrCat("cannot connect to qlaster-sender at ", o.socket_path,
                                            ": ", consumer.status().ToString()));
  }

  std::optional<RecordWriter> recording;
  if (!o.record_path.empty()) {
    absl::StatusOr<RecordWriter> writer =
        RecordWriter::Open(o.record_path, {.overwrite = o.overwrite});
    if (!writer.ok()) return Fail(kExitFailure, absl::StrCat("--record: ", writer.status().message()));
    recording.emplace(*std::move(writer));
  }

  if (o.subscription.has_value()) {
    absl::StatusOr<SubscribeResult> sub = consumer->SetSubscription(*o.subscription);
    if (!sub.ok()) return Fail(kExitFailure, absl::StrCat("subscribe: ", sub.status().ToString()));
  } else if (!o.accounts.empty() || !o.owners.empty() || o.transactions != TransactionFilter::kNone) {
    absl::StatusOr<SubscribeResult> sub = consumer->Subscribe(o.accounts, o.owners, o.transactions);
    if (!sub.ok()) return Fail(kExitFailure, absl::StrCat("subscribe: ", sub.status().ToString()));
  }
  // Tests and scripts wait for this line: from here on, every update is filtered by the
  // subscription.
  std::fprintf(stderr,
               "qlaster-inspect: connected to %s as consumer %llu (ring %llu bytes); subscribed: "
               "%zu accounts, %zu owners, transactions %s; slots %s\n",
               o.socket_path.c_str(), static_cast<unsigned long long>(consumer->consumer_id()),
               static_cast<unsigned long long>(consumer->ring_bytes()), o.accounts.size(),
               o.owners.size(), FilterName(o.transactions), o.show_slots ? "shown" : "hidden");

  const int64_t start = MonotonicNs();
  const int64_t deadline =
      o.duration > 0 ? start + static_cast<int64_t>(o.duration * 1e9) : INT64_MAX;
  constexpr int64_t kStatsInterval = 1'000'000'000;
  int64_t next_stats = start + kStatsInterval;
  int64_t last_stats = start;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  LiveStats live;
  StatsScreen screen;
  const bool print_lines = !o.stats && !o.quiet;

  uint64_t shown = 0;
  bool done = false;
  bool stdout_gone = false;
  absl::Status failure;
  auto handle = [&](const Event& e) {
    if (done) return;
    const int64_t now = RealtimeNs();
    // The frame exactly as the sender wrote it (events that are not frames have none: a
    // disconnection, a gap the library inferred).
    if (recording && !e.frame.empty()) {
      const absl::Status s = recording->Append(absl::MakeConstSpan(e.frame.data(), e.frame.size()));
      if (!s.ok()) {
        failure = absl::Status(s.code(), absl::StrCat("--record ", o.record_path, ": ", s.message()));
        done = true;
        return;
      }
    }
    if (o.stats) live.Add(e, now);
    const bool counted = e.account() != nullptr || e.transaction() != nullptr ||
                         e.transaction_status() != nullptr || e.block_meta() != nullptr ||
                         e.entry() != nullptr || (e.slot() != nullptr && o.show_slots);
    // Gaps, disconnections and reconnections are always shown, never counted.
    const bool visible = e.slot() == nullptr || o.show_slots;
    if (print_lines && visible && !stdout_gone) {
      PrintOptions print = o.print;
      if (e.filters != 0) print.filter_names = consumer->FilterNames(e);
      if (!WriteLine(o.json ? FormatJson(e, now, print) : FormatHuman(e, now, print))) {
        stdout_gone = true;
      }
    }
    if (counted && o.count != 0 && ++shown >= o.count) done = true;
  };

  while (!done && !g_stop && !stdout_gone) {
    int64_t now = MonotonicNs();
    if (now >= deadline) break;
    int64_t wait = std::min<int64_t>(100'000'000, deadline - now);
    if (o.stats) wait = std::min(wait, std::max<int64_t>(0, next_stats - now));
    absl::Status waited = consumer->Wait(absl::Nanoseconds(wait));
    if (!waited.ok() && waited.code() != absl::StatusCode::kDeadlineExceeded) {
      failure = waited;
      break;
    }
    // Drain what is there; the loop checks the stop conditions between batches.
    for (int batch = 0; batch < 64 && !done; ++batch) {
      absl::StatusOr<int> polled = consumer->Poll(handle, 256);
      if (!polled.ok()) {
        failure = polled.status();
        done = true;
        break;
      }
      if (*polled == 0) break;
    }
    if (std::fflush(stdout) != 0) stdout_gone = true;
    if (recording) {
      if (absl::Status s = recording->Flush(); !s.ok() && failure.ok()) {
        failure = absl::Status(s.code(), absl::StrCat("--record ", o.record_path, ": ", s.message()));
        break;
      }
    }
    now = MonotonicNs();
    if (o.stats && now >= next_stats) {
      const ConsumerStats cs = consumer->Stats();
      const StatsSnapshot snap =
          live.TakeInterval(static_cast<double>(now - last_stats) / 1e9,
                            static_cast<double>(now - start) / 1e9, cs.lag_bytes,
                            consumer->ring_bytes());
      last_stats = now;
      next_stats = std::max(next_stats + kStatsInterval, now + 1);
      std::string text = o.json   ? FormatStatsJson(snap) + "\n"
                         : tty    ? screen.Frame(FormatStatsBlock(snap))
                                  : FormatStatsLine(snap) + "\n";
      if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
          std::fflush(stdout) != 0) {
        stdout_gone = true;
      }
    }
  }

  if (recording) {
    absl::Status closed = recording->Close();
    if (!closed.ok() && failure.ok()) {
      failure = absl::Status(closed.code(),
                             absl::StrCat("--record ", o.record_path, ": ", closed.message()));
    }
    std::fprintf(stderr, "qlaster-inspect: recorded %llu frames to %s\n",
                 static_cast<unsigned long long>(recording->records()), o.record_path.c_str());
  }
  consumer->Close();
  if (!failure.ok()) return Fail(kExitFailure, failure.ToString());
  return kExitOk;
}

int RunSenderStats(const InspectOptions& o) {
  absl::StatusOr<StatsMsg> stats = QuerySenderStats(o.socket_path, absl::Seconds(5));
  if (!stats.ok()) {
    const absl::Status& s = stats.status();
    if (absl::IsInvalidArgument(s)) return Fail(kExitUsage, absl::StrCat("--socket: ", s.message()));
    return Fail(absl::IsFailedPrecondition(s) ? kExitFailure : kExitNoSender, Printable(std::string(s.message())));
  }
  const std::string text = o.json ? FormatSenderStatsJson(*stats) + "\n" : FormatSenderStatsTable(*stats);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace qlaster::inspect

