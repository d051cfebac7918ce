// Consumer processes for the fanout and e2e scenarios: see consumer_child.h.
#include "tools/bench/consumer_child.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/wall_clock.h"
#include "base/status_macros.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr uint64_t kReportMagic = 0x31544e4f50455251ull;  // "QREPONT1"
constexpr int kPollBatch = 256;

absl::StatusOr<Consumer> ConnectWithRetry(const ConsumerChildSpec& spec,
                                          const ConsumerOptions& options) {
  const absl::Time deadline = absl::Now() + spec.connect_deadline;
  absl::Duration backoff = absl::Milliseconds(1);
  for (;;) {
    absl::StatusOr<Consumer> c = Consumer::Connect(spec.socket_path, options);
    if (c.ok()) return c;
    // kUnavailable: the sender is not listening yet. Anything else will not get better.
    if (!absl::IsUnavailable(c.status()) || absl::Now() + backoff > deadline) {
      return absl::Status(c.status().code(), absl::StrCat("connect: ", c.status().message()));
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(50));
  }
}

absl::Status ConsumeAndReport(const ConsumerChildSpec& spec) {
  QLASTER_RETURN_IF_ERROR(PinToCpu(spec.cpu));
  ConsumerOptions options;
  options.name = spec.name;
  options.ring_bytes = spec.ring_bytes;
  options.overflow = OverflowPolicy::kDropAndCount;
  options.wait_mode = spec.wait_mode;
  options.auto_reconnect = false;
  options.connect_timeout = absl::Seconds(10);  // 64 processes may handshake at once
  options.request_timeout = absl::Seconds(30);
  QLASTER_ASSIGN_OR_RETURN(Consumer consumer, ConnectWithRetry(spec, options));
  absl::StatusOr<SubscribeResult> sub = consumer.Subscribe({}, spec.owners, spec.transactions);
  if (!sub.ok()) {
    return absl::Status(sub.status().code(), absl::StrCat("subscribe: ", sub.status().message()));
  }
  ChildBoard& board = *spec.board;
  board.ready.fetch_add(1);

  ChildReport report;
  Reservoir reservoir(spec.max_samples);
  bool end = false;
  std::string disconnected;
  auto handler = [&](const Event& e) {
    const uint64_t start = board.window_start_ns.load(std::memory_order_relaxed);
    const uint64_t stop = board.window_end_ns.load(std::memory_order_relaxed);
    switch (e.kind) {
      case EventKind::kSlot:
        if (spec.end_slot && e.slot()->slot == *spec.end_slot) {
          end = true;
          return;
        }
        [[fallthrough]];
      case EventKind::kAccount:
      case EventKind::kTransaction: {
        if (e.timestamp_ns < start || e.timestamp_ns >= stop) return;
        const uint64_t now = RealtimeNs();
        ++report.received;
        if (e.kind == EventKind::kAccount) ++report.accounts;
        if (e.kind == EventKind::kTransaction) ++report.transactions;
        if (e.kind == EventKind::kSlot) ++report.slots;
        if (report.first_ns == 0) report.first_ns = now;
        report.last_ns = now;
        uint64_t since = e.timestamp_ns;
        if (spec.latency_from_data) {
          const AccountEvent* a = e.account();
          if (a == nullptr || a->data.size() < sizeof(since)) return;
          std::memcpy(&since, a->data.data(), sizeof(since));
        }
        reservoir.Add(now > since ? static_cast<double>(now - since) : 0.0);
        return;
      }
      case EventKind::kGap:
        if (e.timestamp_ns != 0 && (e.timestamp_ns < start || e.timestamp_ns >= stop)) return;
        ++report.gaps;
        report.dropped += e.gap()->dropped;
        return;
      case EventKind::kDisconnected:
        disconnected = std::string(e.disconnected()->reason);
        return;
      case EventKind::kReconnected:
        return;  // auto_reconnect is off
      case EventKind::kBlockMeta:
      case EventKind::kEntry:
      case EventKind::kTransactionStatus:
        return;  // not subscribed by the scenarios
    }
  };
  // Reads what is in the ring now; stops early at the end slot or a disconnection.
  auto drain = [&](int max_polls) -> absl::Status {
    for (int i = 0; i < max_polls && !end && disconnected.empty(); ++i) {
      absl::StatusOr<int> n = consumer.Poll(handler, kPollBatch);
      if (!n.ok()) {
        return absl::Status(n.status().code(), absl::StrCat("poll: ", n.status().message()));
      }
      if (*n < kPollBatch) break;  // the ring was emptied: back to Wait
    }
    return absl::OkStatus();
  };
  const absl::Time deadline = absl::Now() + spec.run_deadline;
  while (!end) {
    absl::Status w = consumer.Wait(absl::Milliseconds(20));
    if (!w.ok() && !absl::IsDeadlineExceeded(w)) {
      return absl::Status(w.code(), absl::StrCat("wait: ", w.message()));
    }
    QLASTER_RETURN_IF_ERROR(drain(64));
    if (!disconnected.empty()) {
      return absl::UnavailableError(absl::StrCat("disconnected: ", disconnected));
    }
    if (board.stop.load()) {
      QLASTER_RETURN_IF_ERROR(drain(1 << 20));
      break;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no end after ",
                                                      absl::FormatDuration(spec.run_deadline),
                                                      " (received ", report.received, ")"));
    }
  }
  consumer.Close();
  report.cpu_ns = SelfCpuNs();
  report.samples_ns = std::move(reservoir.samples());
  return WriteChildReport(spec.result_path, report);
}

}  // namespace

uint64_t RealtimeNs() { return WallClock::RealtimeNs(); }

uint64_t SelfCpuNs() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u +
           static_cast<uint64_t>(t.tv_usec) * 1000u;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

WaitMode ToConsumerMode(WaitMode mode) {
  switch (mode) {
    case WaitMode::kSpin:
      return WaitMode::kSpin;
    case WaitMode::kSleep:
      return WaitMode::kSleep;
    case WaitMode::kSpinThenSleep:
      break;
  }
  return WaitMode::kSpinThenSleep;
}

absl::StatusOr<SharedBoard> SharedBoard::Create() {
  void* p = ::mmap(nullptr, sizeof(ChildBoard), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap of the shared child board");
  return SharedBoard(new (p) ChildBoard());
}

SharedBoard::SharedBoard(SharedBoard&& o) noexcept : board_(std::exchange(o.board_, nullptr)) {}

SharedBoard::~SharedBoard() {
  if (board_ != nullptr) ::munmap(board_, sizeof(ChildBoard));
}


void Reservoir::Add(double v) {
  ++seen_;
  if (samples_.size() < cap_) {
    samples_.push_back(v);
    return;
  }
  rng_ ^= rng_ << 13;  // xorshift64: cheap, and uniform enough for choosing samples
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const uint64_t j = rng_ % seen_;
  if (j < cap_) samples_[j] = v;
}

absl::Status WriteChildReport(const std::string& path, const ChildReport& r) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return ErrnoStatus(errno, absl::StrCat("open ", path));
  const uint64_t head[] = {kReportMagic, r.received, r.accounts,         r.transactions,
                           r.slots,      r.gaps,     r.dropped,          r.first_ns,
                           r.last_ns,    r.cpu_ns,   r.samples_ns.size()};
  bool ok = std::fwrite(head, sizeof(head), 1, f) == 1;
  if (ok && !r.samples_ns.empty()) {
    ok = std::fwrite(r.samples_ns.data(), sizeof(double), r.samples_ns.size(), f) ==
         r.samples_ns.size();
  }
  ok = std::fclose(f) == 0 && ok;
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("writing ", path, " failed"));
}

absl::StatusOr<ChildReport> ReadChildReport(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoStatus(errno, absl::StrCat("open ", path));
  uint64_t head[11];
  ChildReport r;
  bool ok = std::fread(head, sizeof(head), 1, f) == 1 && head[0] == kReportMagic &&
            head[10] < (1ull << 32);
  if (ok) {
    r.received = head[1], r.accounts = head[2], r.transactions = head[3], r.slots = head[4];
    r.gaps = head[5], r.dropped = head[6], r.first_ns = head[7], r.last_ns = head[8],
    r.cpu_ns = head[9];
    r.samples_ns.resize(head[10]);
    ok = r.samples_ns.empty() || std::fread(r.samples_ns.data(), sizeof(double),
                                            r.samples_ns.size(), f) == r.samples_ns.size();
  }
  std::fclose(f);
  if (!ok) return absl::DataLossError(absl::StrCat(path, ": truncated or not a consumer report"));
  return r;
}

int RunConsumerChild(const ConsumerChildSpec& spec) {
  absl::Status s = ConsumeAndReport(spec);
  if (s.ok()) return 0;
  const std::string message = s.ToString();
  if (std::FILE* f = std::fopen((spec.result_path + ".err").c_str(), "w")) {
    std::fputs(message.c_str(), f);
    std::fclose(f);
  }
  return 1;
}

absl::Status ChildSet::Fork(std::vector<std::string> names, std::vector<std::string> result_paths,
                            const std::function<int(size_t)>& body) {
  names_ = std::move(names);
  paths_ = std::move(result_paths);
  for (size_t i = 0; i < names_.size(); ++i) {
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Fork([&body, i] { return body(i); });
    if (!child.ok()) {
      return absl::Status(child.status().code(),
                          absl::StrCat("fork of ", names_[i], ": ", child.status().message()));
    }
    pids_.push_back(child->pid());
    procs_.push_back(*std::move(child));
    status_.emplace_back();
  }
  return absl::OkStatus();
}

std::string ChildSet::Describe(size_t i, int status) const {
  std::string what =
      absl::StrCat(names_[i], " (pid ", pids_[i], ") ", DescribeWaitStatus(status));
  if (std::FILE* f = std::fopen((paths_[i] + ".err").c_str(), "r")) {
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    absl::StrAppend(&what, ": ", std::string(buf, n));
  }
  return what;
}

absl::Status ChildSet::CheckAlive(bool exit_ok) {
  for (size_t i = 0; i < procs_.size(); ++i) {
    if (!status_[i]) {
      absl::StatusOr<int> st = procs_[i].Wait(absl::ZeroDuration());
      if (absl::IsDeadlineExceeded(st.status())) continue;  // still running
      if (!st.ok()) return st.status();
      status_[i] = *st;
    }
    const bool clean = WIFEXITED(*status_[i]) && WEXITSTATUS(*status_[i]) == 0;
    if (!exit_ok || !clean) return absl::InternalError(Describe(i, *status_[i]));
  }
  return absl::OkStatus();
}

absl::Status ChildSet::WaitReady(const ChildBoard& board, absl::Duration timeout,
                                 const std::function<absl::Status()>& idle) {
  const absl::Time deadline = absl::Now() + timeout;
  while (board.ready.load() < procs_.size()) {
    QLASTER_RETURN_IF_ERROR(CheckAlive(/*exit_ok=*/false));
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("only ", board.ready.load(), " of ", procs_.size(),
                       " consumers subscribed within ", absl::FormatDuration(timeout)));
    }
    QLASTER_RETURN_IF_ERROR(idle());
    absl::SleepFor(absl::Microseconds(200));  // polling a condition with a deadline
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ChildReport>> ChildSet::Collect(
    absl::Duration timeout, const std::function<absl::Status()>& idle) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    QLASTER_RETURN_IF_ERROR(CheckAlive(/*exit_ok=*/true));
    std::vector<std::string> running;
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (!status_[i]) running.push_back(names_[i]);
    }
    if (running.empty()) break;
    if (absl::Now() > deadline) {
      if (running.size() > 8) running.resize(8), running.push_back("...");
      return absl::DeadlineExceededError(absl::StrCat("consumers still running after ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      absl::StrJoin(running, ", ")));
    }
    QLASTER_RETURN_IF_ERROR(idle());
    absl::SleepFor(absl::Milliseconds(1));  // polling a condition with a deadline
  }
  std::vector<ChildReport> reports;
  for (const std::string& path : paths_) {
    QLASTER_ASSIGN_OR_RETURN(ChildReport r, ReadChildReport(path));
    reports.push_back(std::move(r));
  }
  return reports;
}

std::vector<double> MergeSamples(std::vector<ChildReport>& reports) {
  std::vector<double> all;
  size_t n = 0;
  for (const ChildReport& r : reports) n += r.samples_ns.size();
  all.reserve(n);
  for (ChildReport& r : reports) {
    all.insert(all.end(), r.samples_ns.begin(), r.samples_ns.end());
    r.samples_ns = {};
  }
  return all;
}

}  // namespace qlaster::bench
