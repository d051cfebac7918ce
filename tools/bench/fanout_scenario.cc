// Scenario `fanout`: one publisher, N consumer processes, every update to every consumer.
//
// What it measures: for 1, 4, 16 and 64 consumers, each in hybrid (spin-then-sleep) or
// sleep mode, the updates/s one dispatch thread pushes through Dispatcher::PublishAccount
// (each update goes to all N rings and wakes the sleepers), what each consumer receives,
// how many updates were dropped because a consumer's ring was full (drop-and-count: the
// dispatcher never waits for a slow consumer), and the latency from publish to callback.
//
// How: the parent forks N real libqlaster-consumer processes first (consumer_child.h),
// then starts an in-process Sender (control plane on a thread, no source) and publishes
// from its own thread through sender->dispatcher(): after every consumer's subscription
// (the bench owner) is acknowledged, `size`-byte account updates as fast as it can (or
// at --rate) for a fixed time (or a fixed count), then an end marker, a slot update with
// slot kEndSlot (slots reach every consumer), repeated every millisecond until every
// consumer has seen one (a marker may be dropped too while a ring is full). At max speed
// the latency includes the queueing in the rings: it is the latency under saturation.
//
// Each case runs twice: publishing update by update (batch=1: a wake check per update,
// as a source that delivers one update at a time gets) and in Dispatcher batches of
// kBatch updates (a sleeping consumer is woken once per batch, as the ingest and
// synthetic sources do for updates that arrive together).
//
// Baseline `unix_socket`: the same updates written by the parent to N SOCK_SEQPACKET
// socketpairs (non-blocking: a full socket buffer drops the update, counted like
// drop-and-count) and read by N processes blocking in recv(2), one syscall per update on
// each side. Measured once per consumer count, attached to every mode's result.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sender/sender.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr uint64_t kEndSlot = ~uint64_t{0} - 1;
constexpr uint64_t kDefaultSize = 256;

constexpr uint64_t kBatch = 32;

struct FanoutRun {
  int consumers;
  WaitMode mode;
  uint64_t size;
  uint64_t batch;         // updates per Dispatcher batch (1: no batch, a wake check each)
  uint64_t max_updates;   // publishing stops at this count ...
  absl::Duration window;  // ... or after this long
};

Pubkey BenchOwner() {
  Pubkey k{};
  const char tag[] = "qlaster-bench fanout owner";
  std::memcpy(k.data(), tag, sizeof(tag) - 1);
  return k;
}

// 8 MiB (some 27,000 updates of 256 B, so that a consumer descheduled for a few ms, as
// 64 processes on 2 cores are, does not drop at once), or 4 updates of a large size
// (64 consumers x 64 MiB for 10 MiB updates still fit a 24 GiB tmpfs).
uint64_t RingBytes(uint64_t size) {
  return std::max<uint64_t>(8u << 20, std::bit_ceil(size * 4 + 4096));
}

// Incompressible bytes (xorshift), so that large updates are not LZ4-compressed.
std::vector<uint8_t> NoiseBytes(uint64_t size) {
  std::vector<uint8_t> data(size);
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (uint8_t& b : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x >> 32);
  }
  return data;
}

// Waits until `target` (absl::Now() clock): sleeps while far, spins the last 100 us.
void PaceUntil(absl::Time target) {
  for (absl::Time now = absl::Now(); now < target; now = absl::Now()) {
    if (target - now > absl::Microseconds(200)) {
      absl::SleepFor(target - now - absl::Microseconds(100));
    }
  }
}

// What one publishing run did: how many updates, over how long, from when (realtime).
struct Published {
  uint64_t count = 0;
  absl::Duration elapsed;
  uint64_t start_ns = 0;
};

// Calls publish(i) for i = 0, 1, ... as fast as it can (or at --rate) until
// run.max_updates or run.window; stops at the first error.
template <typename Publish>
absl::StatusOr<Published> PublishFor(const Config& config, const FanoutRun& run, Publish&& publish) {
  Published p;
  p.start_ns = RealtimeNs();
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + run.window;
  const absl::Duration interval =
      config.rate ? absl::Seconds(1.0 / *config.rate) : absl::ZeroDuration();
  while (p.count < run.max_updates) {
    if ((config.rate || p.count % 256 == 0) && absl::Now() >= deadline) break;
    if (config.rate) PaceUntil(start + interval * static_cast<double>(p.count));
    QLASTER_RETURN_IF_ERROR(publish(p.count));
    ++p.count;
  }
  p.elapsed = absl::Now() - start;
  return p;
}

// Runs Sender::Run(nullptr) on a thread; stops and joins it on destruction.
class SenderThread {
 public:
  explicit SenderThread(sender::Sender& s)
      : sender_(s), thread_([this] { status_ = sender_.Run(nullptr); }) {}
  ~SenderThread() { Join().IgnoreError(); }
  absl::Status Join() {
    if (thread_.joinable()) {
      sender_.Stop();
      thread_.join();
    }
    return status_;
  }

 private:
  sender::Sender& sender_;
  absl::Status status_;
  std::thread thread_;
};

std::vector<std::string> Names(const char* prefix, int n, const std::string& dir,
                               std::vector<std::string>* paths) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    names.push_back(absl::StrCat(prefix, "-", i));
    paths->push_back(absl::StrCat(dir, "/", prefix, "-", i, ".report"));
  }
  return names;
}

// Fills the counts shared by both subjects from the children's reports.
void Summarize(Result& r, std::vector<ChildReport>& reports, uint64_t published,
               absl::Duration elapsed, uint64_t start_ns) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  const double n = static_cast<double>(reports.size());
  uint64_t received = 0, gaps = 0, cpu_ns = 0;
  std::vector<double> per_consumer;
  for (const ChildReport& c : reports) {
    received += c.received;
    gaps += c.gaps;
    cpu_ns += c.cpu_ns;
    // Its own rate: until its last update arrived (a lagging consumer catches up later).
    const double span = c.last_ns > start_ns ? static_cast<double>(c.last_ns - start_ns) / 1e9 : 0;
    per_consumer.push_back(span > 0 ? static_cast<double>(c.received) / span : 0);
  }
  std::sort(per_consumer.begin(), per_consumer.end());
  const double expected = static_cast<double>(published) * n;
  const double dropped = expected - static_cast<double>(received);
  r.records_per_s = static_cast<double>(published) / secs;
  r.Metric("deliveries_per_s", expected / secs)
      .Metric("consumer_received_per_s_median", per_consumer[per_consumer.size() / 2])
      .Metric("consumer_received_per_s_min", per_consumer.front())
      .Metric("dropped", dropped)
      .Metric("dropped_pct", expected > 0 ? 100.0 * dropped / expected : 0)
      .Metric("gaps", static_cast<double>(gaps))
      .Metric("consumer_cpu_ns_per_update",
              received > 0 ? static_cast<double>(cpu_ns) / static_cast<double>(received) : 0);
  std::vector<double> samples = MergeSamples(reports);
  r.latency = Latency::FromSamples(samples);
}

size_t SampleCap(int consumers) {
  return std::max<size_t>(20'000, 2'000'000 / static_cast<size_t>(consumers));
}

absl::StatusOr<Result> RunQlaster(const Config& config, const FanoutRun& run) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  absl::StatusOr<SharedBoard> board = SharedBoard::Create();
  if (!board.ok()) return board.status();
  const std::string socket = dir.path() + "/sender.sock";
  std::vector<std::string> paths;
  std::vector<std::string> names = Names("fanout", run.consumers, dir.path(), &paths);
  ChildSet children;
  QLASTER_RETURN_IF_ERROR(children.Fork(names, paths, [&](size_t i) {
    return RunConsumerChild({.name = names[i],
                             .socket_path = socket,
                             .result_path = paths[i],
                             .cpu = config.Cpu(1 + i),
                             .wait_mode = ToConsumerMode(run.mode),
                             .ring_bytes = RingBytes(run.size),
                             .owners = {BenchOwner()},
                             .transactions = TransactionFilter::kNone,
                             .end_slot = kEndSlot,
                             .max_samples = SampleCap(run.consumers),
                             .connect_deadline = absl::Seconds(30),
                             .run_deadline = absl::Seconds(120),
                             .board = board->get()});
  }));

  // Threads from here on.
  AffinityGuard affinity;
  QLASTER_RETURN_IF_ERROR(PinToCpu(config.Cpu(0)));
  sender::SenderOptions options;
  options.control.socket_path = socket;
  options.control.shm_dir = config.shm_dir;
  options.control.limits.max_consumers = static_cast<size_t>(std::max(64, run.consumers));
  options.control.verbose = false;
  options.handle_signals = false;
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::Sender> sender, sender::Sender::Create(std::move(options)));
  SenderThread sender_thread(*sender);
  sender::Dispatcher& dispatcher = (sender)->dispatcher();
  auto poll = [&dispatcher] {
    dispatcher.Poll();
    return absl::OkStatus();
  };
  QLASTER_RETURN_IF_ERROR(children.WaitReady(*board->get(), absl::Seconds(60), poll));

  AccountUpdate update;
  update.owner = BenchOwner();
  update.pubkey = BenchOwner();
  update.pubkey[31] = 1;
  update.lamports = 1;
  update.slot = 1;
  update.data = NoiseBytes(run.size);
  // In batches of run.batch (when > 1); a batch the window cuts short is closed after.
  bool in_batch = false;
  absl::StatusOr<Published> published = PublishFor(config, run, [&](uint64_t i) {
    update.write_version = i;
    if (run.batch > 1 && !in_batch) {
      dispatcher.BeginBatch();
      in_batch = true;
    }
    const absl::Status s = dispatcher.PublishAccount(update);
    if (in_batch && (i + 1) % run.batch == 0) {
      dispatcher.EndBatch();
      in_batch = false;
    }
    return s;
  });
  if (in_batch) dispatcher.EndBatch();
  if (!published.ok()) return published.status();

  const SlotUpdate end{.slot = kEndSlot, .parent = kEndSlot - 1, .status = SlotStatus::kProcessed};
  QLASTER_RETURN_IF_ERROR(dispatcher.PublishSlot(end));
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> reports, children.Collect(absl::Seconds(60), [&] { return dispatcher.PublishSlot(end); }));
  QLASTER_RETURN_IF_ERROR(sender_thread.Join());

  Result r;
  r.scenario = "fanout";
  r.subject = "qlaster";
  r.Param("ring", "spsc")
      .Param("consumers", int64_t{run.consumers})
      .Param("mode", ModeName(run.mode))
      .Param("batch", static_cast<int64_t>(run.batch))
      .Param("size", static_cast<int64_t>(run.size));
  Summarize(r, reports, published->count, published->elapsed, published->start_ns);
  return r;
}

// The unix_socket baseline's record: this header, then size - 16 bytes (at least 16 in all).
struct SocketRecord {
  uint64_t sequence;  // ~0: the end marker
  uint64_t timestamp_ns;
};

int SocketReader(int fd, int cpu, size_t cap, const std::string& path, ChildBoard* board) {
  absl::Status s = [&]() -> absl::Status {
    QLASTER_RETURN_IF_ERROR(PinToCpu(cpu));
    board->ready.fetch_add(1);
    ChildReport report;
    Reservoir reservoir(cap);
    std::vector<uint8_t> buf(1 << 20);
    for (;;) {
      const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, "recv");
      if (n < static_cast<ssize_t>(sizeof(SocketRecord))) {
        return absl::DataLossError("short record or EOF");
      }
      SocketRecord rec;
      std::memcpy(&rec, buf.data(), sizeof(rec));
      if (rec.sequence == ~uint64_t{0}) break;
      const uint64_t now = RealtimeNs();
      ++report.received;
      if (report.first_ns == 0) report.first_ns = now;
      report.last_ns = now;
      reservoir.Add(now > rec.timestamp_ns ? static_cast<double>(now - rec.timestamp_ns) : 0.0);
    }
    report.cpu_ns = SelfCpuNs();
    report.samples_ns = std::move(reservoir.samples());
    return WriteChildReport(path, report);
  }();
  if (s.ok()) return 0;
  if (std::FILE* f = std::fopen((path + ".err").c_str(), "w")) {
    std::fputs(s.ToString().c_str(), f);
    std::fclose(f);
  }
  return 1;
}

absl::StatusOr<Result> RunUnixSocket(const Config& config, const FanoutRun& run) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  QLASTER_ASSIGN_OR_RETURN(SharedBoard board, SharedBoard::Create());
  std::vector<UniqueFd> ours, theirs;
  for (int i = 0; i < run.consumers; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoStatus(errno, "socketpair");
    }
    ours.emplace_back(sv[0]);
    theirs.emplace_back(sv[1]);
    // As much buffering as the ring has, if the kernel allows (it caps at wmem_max).
    const int bytes = static_cast<int>(std::min<uint64_t>(RingBytes(run.size), 1u << 30));
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  }
  std::vector<std::string> paths;
  std::vector<std::string> names = Names("unix-socket", run.consumers, dir.path(), &paths);
  ChildSet children;
  QLASTER_RETURN_IF_ERROR(children.Fork(names, paths, [&](size_t i) {
    return SocketReader(theirs[i].get(), config.Cpu(1 + i), SampleCap(run.consumers), paths[i],
                        board.get());
  }));
  theirs.clear();
  AffinityGuard affinity;
  QLASTER_RETURN_IF_ERROR(PinToCpu(config.Cpu(0)));
  QLASTER_RETURN_IF_ERROR(
      children.WaitReady(*board.get(), absl::Seconds(60), [] { return absl::OkStatus(); }));

  std::vector<uint8_t> record = NoiseBytes(std::max<uint64_t>(run.size, sizeof(SocketRecord)));
  absl::StatusOr<Published> published = PublishFor(config, run, [&](uint64_t i) {
    const SocketRecord head{.sequence = i, .timestamp_ns = RealtimeNs()};
    std::memcpy(record.data(), &head, sizeof(head));
    for (const UniqueFd& fd : ours) {
      const ssize_t n = ::send(fd.get(), record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) return ErrnoStatus(errno, "send to a unix_socket reader");
      // EAGAIN: the reader's buffer is full; the update is dropped for it (and counted).
    }
    return absl::OkStatus();
  });
  if (!published.ok()) return published.status();

  const SocketRecord end{.sequence = ~uint64_t{0}, .timestamp_ns = 0};
  std::memcpy(record.data(), &end, sizeof(end));
  std::vector<bool> sent(ours.size(), false);
  absl::StatusOr<std::vector<ChildReport>> reports = children.Collect(absl::Seconds(60), [&] {
    for (size_t i = 0; i < ours.size(); ++i) {
      if (sent[i]) continue;
      const ssize_t n =
          ::send(ours[i].get(), record.data(), record.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) {
        return ErrnoStatus(errno, absl::StrCat("end marker to ", names[i]));
      }
      sent[i] = n > 0;
    }
    return absl::OkStatus();
  });
  if (!reports.ok()) return reports.status();

  Result r;
  r.scenario = "fanout";
  r.subject = "unix_socket";
  r.Param("consumers", int64_t{run.consumers})
      .Param("mode", "blocking")
      .Param("size", static_cast<int64_t>(run.size));
  Summarize(r, *reports, published->count, published->elapsed, published->start_ns);
  return r;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunFanout(const Config& config) {
  if (config.ring == "broadcast") return RunRingFanout(config);
  const uint64_t size = config.size.value_or(kDefaultSize);
  std::vector<int> counts = config.quick ? std::vector<int>{1, 4} : std::vector<int>{1, 4, 16, 64};
  if (config.consumers) counts = {*config.consumers};
  std::vector<WaitMode> modes = {WaitMode::kSpinThenSleep, WaitMode::kSleep};
  if (config.mode) modes = {*config.mode};
  std::vector<Result> results;
  for (int n : counts) {
    const FanoutRun run{.consumers = n,
                        .mode = WaitMode::kSleep,
                        .size = size,
                        .batch = 1,
                        .max_updates = config.quick ? 4'000u : 20'000'000u,
                        .window = config.quick ? absl::Seconds(1) : absl::Seconds(2.5)};
    absl::StatusOr<Result> baseline = RunUnixSocket(config, run);
    if (!baseline.ok()) {
      return absl::Status(
          baseline.status().code(),
          absl::StrCat("unix_socket baseline, consumers=", n, ": ", baseline.status().message()));
    }
    for (WaitMode mode : modes) {
      for (uint64_t batch : {uint64_t{1}, kBatch}) {
        FanoutRun m = run;
        m.mode = mode;
        m.batch = batch;
        absl::StatusOr<Result> r = RunQlaster(config, m);
        if (!r.ok()) {
          return absl::Status(r.status().code(),
                              absl::StrCat("consumers=", n, " mode=", ModeName(mode), " batch=", batch,
                                           ": ", r.status().message()));
        }
        r->baseline.push_back(*baseline);
        results.push_back(*std::move(r));
      }
    }
  }
  return results;
}

}  // namespace qlaster::bench
