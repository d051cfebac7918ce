// Scenarios `ingest` and `replay`: the paths by which data that already exists as bytes
// enters the sender.
//
// `ingest`: a process that is both an outside producer and a consumer writes account
// frames into the sender's ingest ring (the C header's inline writer, qlaster/ingest.h, as
// any producer does) and reads them back through libqlaster-consumer from its own ring;
// an in-process sender with the ingest source sits between. The real code on every step,
// and only two busy parties, so that two cores measure the path, not the scheduler.
//  * latency: one frame at a time, from just before its write to the callback that
//    delivers it, on one TSC: writer -> ingest ring -> sender -> consumer ring ->
//    callback. Two cross-core hops, so the baseline is a cache-line round trip (two
//    transfers) between the same two CPUs, in the same run. With the ingest poll spinning
//    and at its default (10 us).
//  * throughput: frames written as fast as the ring takes them (165 B and 3,762 B
//    accounts), the consumer drained whenever the ingest ring is full: frames/s through
//    the sender to one consumer.
// `replay`: a record file of accounts (165 B, and 1 MiB compressible) replayed at maximum
// speed (replay_speed 0) to one consumer: the source's publish rate, and the consumer's.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "base/temp_dir.h"
#include "qlaster/ingest.h"
#include "sender/ingest_source.h"
#include "sender/replay_source.h"
#include "sender/sender.h"
#include "shm/mapped_region.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/pingpong.h"
#include "tools/bench/scenario.h"
#include "tools/bench/tsc_clock.h"
#include "wire/frame.h"
#include "wire/record_file.h"

namespace qlaster::bench {
namespace {

constexpr uint64_t kEndSlot = ~uint64_t{0} - 1;

Pubkey BenchOwner() {
  Pubkey k{};
  const char tag[] = "qlaster-bench ingest owner";
  std::memcpy(k.data(), tag, sizeof(tag) - 1);
  return k;
}

// An account of `size` data bytes under the bench owner, data incompressible unless
// `compressible`.
AccountUpdate BenchAccount(uint64_t size, bool compressible) {
  AccountUpdate a;
  a.owner = BenchOwner();
  a.pubkey = BenchOwner();
  a.pubkey[31] = 7;
  a.lamports = 2'039'280;
  a.slot = 1;
  a.data.resize(size);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < a.data.size(); ++i) {
    if (compressible) {
      a.data[i] = static_cast<uint8_t>((i / 64) % 7);
    } else {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      a.data[i] = static_cast<uint8_t>(x >> 32);
    }
  }
  return a;
}

// The ingest payload of an account: the frame without its 24-byte FrameHeader.
std::vector<uint8_t> IngestPayload(const AccountUpdate& a) {
  absl::StatusOr<EncodedUpdate> e = EncodedUpdate::Account(a, Lz4Policy{.threshold = SIZE_MAX});
  std::vector<uint8_t> frame = e->ToBytes(0, 0);
  return std::vector<uint8_t>(frame.begin() + kFrameHeaderSize, frame.end());
}


struct IngestRun {
  uint64_t size;
  uint64_t count;                // timed frames (latency) or frames (throughput)
  uint64_t warmup;               // untimed frames before (latency)
  absl::Duration poll_interval;  // the sender's ingest poll
  bool latency;
};

// The writer and the consumer in one process, on one thread: it writes account frames
// into the ingest ring by name, as an outside producer does (the inline writer of
// qlaster/ingest.h), and reads them back from its own consumer ring through
// libqlaster-consumer. Latency: one frame at a time, from just before the write to the
// callback that delivers it, on one TSC. Throughput: frames written as fast as the ring
// takes them, the consumer drained whenever the ring is full, until every frame has
// arrived (or been reported dropped). The sender is the only other party, so two cores
// suffice and nothing waits for the scheduler.
struct ClientSpec {
  std::string ring_name;
  std::string socket_path;
  std::string result_path;
  int cpu = -1;
  IngestRun run;
};

absl::Status RunClient(const ClientSpec& spec) {
  QLASTER_RETURN_IF_ERROR(PinToCpu(spec.cpu));
  ConsumerOptions options;
  options.name = "qlaster-bench-ingest";
  options.ring_bytes = 64u << 20;
  options.overflow = OverflowPolicy::kDropAndCount;
  options.wait_mode = WaitMode::kSpin;
  options.auto_reconnect = false;
  absl::StatusOr<Consumer> consumer = absl::UnavailableError("not connected");
  const absl::Time connect_deadline = absl::Now() + absl::Seconds(30);
  while (!(consumer = Consumer::Connect(spec.socket_path, options)).ok()) {
    if (!absl::IsUnavailable(consumer.status()) || absl::Now() > connect_deadline) {
      return consumer.status();
    }
    absl::SleepFor(absl::Milliseconds(1));  // polling for the socket, bounded by the deadline
  }
  const Pubkey owners[] = {BenchOwner()};
  QLASTER_RETURN_IF_ERROR(consumer->Subscribe({}, owners).status());

  UniqueFd fd(::shm_open(("/" + spec.ring_name).c_str(), O_RDWR | O_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("shm_open ", spec.ring_name));
  QLASTER_ASSIGN_OR_RETURN(const size_t size, shm::FileSize(fd.get()));
  QLASTER_ASSIGN_OR_RETURN(shm::MappedRegion region, shm::MappedRegion::Map(fd.get(), size));
  auto* header = reinterpret_cast<qlaster_ingest_header*>(region.data());
  if (qlaster_ingest_check(header, size) != QLASTER_INGEST_OK) {
    return absl::DataLossError(absl::StrCat(spec.ring_name, " is not an ingest ring"));
  }
  qlaster_ingest_writer writer{header, header->write_pos.load()};
  std::vector<uint8_t> payload = IngestPayload(BenchAccount(spec.run.size, false));
  constexpr size_t kWriteVersionOffset = 88;  // in the AccountHeader

  ChildReport report;
  uint64_t last_seen = 0;
  uint64_t callback_tsc = 0;
  std::string broken;
  auto handler = [&](const Event& e) {
    if (const AccountEvent* a = e.account()) {
      callback_tsc = TscClock::Now();
      last_seen = a->write_version;
      ++report.accounts;
      report.last_ns = RealtimeNs();
    } else if (const GapEvent* g = e.gap()) {
      ++report.gaps;
      report.dropped += g->dropped;
    } else if (e.kind == EventKind::kDisconnected) {
      broken = std::string(e.disconnected()->reason);
    }
  };
  auto poll = [&]() -> absl::Status {
    QLASTER_RETURN_IF_ERROR(consumer->Poll(handler, 256).status());
    if (!broken.empty()) return absl::UnavailableError(absl::StrCat("disconnected: ", broken));
    return absl::OkStatus();
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(240);
  auto write = [&](uint64_t i) -> absl::Status {
    std::memcpy(payload.data() + kWriteVersionOffset, &i, sizeof(i));
    for (;;) {
      const int rc = qlaster_ingest_write(&writer, QLASTER_INGEST_SCHEMA_ACCOUNT, payload.data(),
                                          static_cast<uint32_t>(payload.size()));
      if (rc == QLASTER_INGEST_OK) return absl::OkStatus();
      if (rc != QLASTER_INGEST_FULL) return absl::InvalidArgumentError("frame too large for the ingest ring");
      if (absl::Now() > deadline) return absl::DeadlineExceededError("the ingest ring stayed full");
      QLASTER_RETURN_IF_ERROR(poll());  // while the sender catches up, read what it sent
    }
  };

  const double ns_per_tick = TscClock::NsPerTick();
  if (spec.run.latency) {
    report.samples_ns.reserve(spec.run.count);
    for (uint64_t i = 1; i <= spec.run.warmup + spec.run.count; ++i) {
      const uint64_t t0 = TscClock::Now();
      QLASTER_RETURN_IF_ERROR(write(i));
      while (last_seen < i) {
        QLASTER_RETURN_IF_ERROR(poll());
        if (report.dropped > 0) return absl::DataLossError("a frame was dropped");
        if ((i & 1023) == 0 && absl::Now() > deadline) return absl::DeadlineExceededError("no frame back");
      }
      if (i > spec.run.warmup) {
        report.samples_ns.push_back(static_cast<double>(callback_tsc - t0) * ns_per_tick);
      }
    }
  } else {
    // From the first write to the last receipt.
    report.first_ns = RealtimeNs();
    for (uint64_t i = 1; i <= spec.run.count; ++i) QLASTER_RETURN_IF_ERROR(write(i));
    while (report.accounts + report.dropped < spec.run.count) {
      QLASTER_RETURN_IF_ERROR(poll());
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("received ", report.accounts, " of ", spec.run.count));
      }
    }
  }
  report.received = report.accounts;
  report.cpu_ns = SelfCpuNs();
  consumer->Close();
  return WriteChildReport(spec.result_path, report);
}

struct Outcome {
  ChildReport client;
  uint64_t sender_frames = 0;
};

// Runs Sender::Run(source) on a thread; stops and joins it on destruction.
class SenderThread {
 public:
  SenderThread(sender::Sender& s, sender::Source* source)
      : sender_(s), thread_([this, source] { status_ = sender_.Run(source); }) {}
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

// `poll`: how the dispatch thread waits for input (0: it spins).
absl::StatusOr<std::unique_ptr<sender::Sender>> MakeSender(const Config& config,
                                                           const std::string& socket,
                                                           absl::Duration poll) {
  sender::SenderOptions options;
  options.runner.idle = poll == absl::ZeroDuration()
                            ? sender::IdleStrategy{.kind = sender::IdleKind::kSpin}
                            : sender::IdleStrategy{.kind = sender::IdleKind::kSleep, .sleep = poll};
  options.control.socket_path = socket;
  options.control.shm_dir = config.shm_dir;
  options.control.verbose = false;
  options.handle_signals = false;
  options.dispatch_cpu = config.Cpu(0);
  if (!config.update_log) options.update_log.reset();
  return sender::Sender::Create(std::move(options));
}

absl::StatusOr<Outcome> RunIngestOnce(const Config& config, const IngestRun& run) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  sender::IngestOptions ingest;
  ingest.name = absl::StrCat("qlaster_bench_ingest_", ::getpid());
  ingest.mode = 0600;
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::IngestSource> source, sender::IngestSource::Open(ingest));
  struct Unlink {
    std::string name;
    ~Unlink() { ::shm_unlink(("/" + name).c_str()); }
  } unlink{ingest.name};

  const ClientSpec spec{.ring_name = ingest.name,
                        .socket_path = dir.path() + "/sender.sock",
                        .result_path = dir.path() + "/client.report",
                        .cpu = config.Cpu(1),
                        .run = run};
  ChildSet clients;
  QLASTER_RETURN_IF_ERROR(clients.Fork({"ingest-client"}, {spec.result_path}, [&](size_t) {
    absl::Status s = RunClient(spec);
    if (s.ok()) return 0;
    if (std::FILE* f = std::fopen((spec.result_path + ".err").c_str(), "w")) {
      std::fputs(s.ToString().c_str(), f);
      std::fclose(f);
    }
    return 1;
  }));

  // Threads from here on.
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::Sender> sender, MakeSender(config, spec.socket_path, run.poll_interval));
  SenderThread sender_thread(*sender, source.get());
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> reports, clients.Collect(absl::Seconds(300), [] { return absl::OkStatus(); }));
  QLASTER_RETURN_IF_ERROR(sender_thread.Join());
  Outcome out;
  out.client = std::move((reports)[0]);
  out.sender_frames = (source)->counters().frames.load();
  return out;
}

Result Make(const std::string& scenario, const std::string& subject, uint64_t size) {
  Result r;
  r.scenario = scenario;
  r.subject = subject;
  r.Param("size", static_cast<int64_t>(size));
  return r;
}

// ------------------------------------------------------------------------ replay

absl::StatusOr<Result> RunReplayOnce(const Config& config, uint64_t size, uint64_t count) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  absl::StatusOr<SharedBoard> board = SharedBoard::Create();
  if (!board.ok()) return board.status();
  const std::string socket = dir.path() + "/sender.sock";
  const std::string file = dir.path() + "/replay.qlrec";
  {
    // What a recording holds: the frames as the sender wrote them (large compressible
    // accounts LZ4-compressed, as the default policy does).
    const bool compressible = size >= (512u << 10);
    AccountUpdate a = BenchAccount(size, compressible);
    QLASTER_ASSIGN_OR_RETURN(RecordWriter w, RecordWriter::Open(file));
    for (uint64_t i = 1; i <= count; ++i) {
      a.write_version = i;
      QLASTER_ASSIGN_OR_RETURN(EncodedUpdate e, EncodedUpdate::Account(a));
      QLASTER_RETURN_IF_ERROR(w.Append(e.ToBytes(i, RealtimeNs())));
    }
    absl::StatusOr<EncodedUpdate> end =
        EncodedUpdate::Slot({.slot = kEndSlot, .parent = kEndSlot - 1, .status = SlotStatus::kProcessed});
    for (int i = 0; i < 16; ++i) QLASTER_RETURN_IF_ERROR(w.Append(end->ToBytes(count + 1 + i, RealtimeNs())));
    QLASTER_RETURN_IF_ERROR(w.Close());
  }
  sender::ReplayOptions ro;
  ro.path = file;
  ro.speed = 0;
  ro.wait_for_consumers = 1;
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::ReplaySource> source, sender::ReplaySource::Open(ro));

  ChildSet consumers;
  const ConsumerChildSpec spec{.name = "replay-consumer",
                               .socket_path = socket,
                               .result_path = dir.path() + "/consumer.report",
                               .cpu = config.Cpu(1),
                               .wait_mode = WaitMode::kSpinThenSleep,
                               .ring_bytes = std::max<uint64_t>(64u << 20, 16 * size),
                               .owners = {BenchOwner()},
                               .transactions = TransactionFilter::kNone,
                               .end_slot = kEndSlot,
                               .connect_deadline = absl::Seconds(30),
                               .run_deadline = absl::Seconds(300),
                               .board = board->get()};
  QLASTER_RETURN_IF_ERROR(consumers.Fork({"replay-consumer"}, {spec.result_path},
                                         [&](size_t) { return RunConsumerChild(spec); }));
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::Sender> sender, MakeSender(config, socket, absl::Microseconds(10)));
  SenderThread sender_thread(*sender, source.get());
  auto idle = [] { return absl::OkStatus(); };
  QLASTER_RETURN_IF_ERROR(consumers.WaitReady(*board->get(), absl::Seconds(60), idle));
  // The replay starts once the consumer is subscribed; time it until the last record.
  int64_t started = 0, finished = 0;
  absl::StatusOr<std::vector<ChildReport>> reports = consumers.Collect(absl::Seconds(300), [&] {
    const uint64_t published = (source)->counters().published.load();
    if (started == 0 && published > 0) started = MonotonicNs();
    if (finished == 0 && (source)->counters().finished.load()) finished = MonotonicNs();
    return absl::OkStatus();
  });
  if (!reports.ok()) return reports.status();
  QLASTER_RETURN_IF_ERROR(sender_thread.Join());
  const ChildReport& c = (*reports)[0];
  Result r = Make("replay", "qlaster", size);
  const double seconds = finished > started ? static_cast<double>(finished - started) / 1e9 : 0;
  const uint64_t published = (source)->counters().published.load();
  r.records_per_s = seconds > 0 ? static_cast<double>(published) / seconds : 0;
  r.bytes_per_s = *r.records_per_s * static_cast<double>(size);
  const double span = c.last_ns > c.first_ns ? static_cast<double>(c.last_ns - c.first_ns) / 1e9 : 0;
  r.Metric("published", static_cast<double>(published))
      .Metric("consumer_received", static_cast<double>(c.accounts))
      .Metric("consumer_received_per_s", span > 0 ? static_cast<double>(c.accounts) / span : 0)
      .Metric("dropped", static_cast<double>(c.dropped));
  return r;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunIngest(const Config& config) {
  std::vector<Result> results;
  const uint64_t latency_size = config.size.value_or(165);
  if (latency_size < 8 || latency_size > (1u << 20)) {
    return absl::InvalidArgumentError("ingest: --size must be 8 bytes .. 1 MiB");
  }
  const uint64_t count = config.quick ? 1'000 : 100'000;
  const uint64_t warmup = config.quick ? 100 : 10'000;

  // Baseline: a cache-line round trip (two cross-core transfers, as writer -> sender ->
  // consumer is), in two halves around ours, pooled (see latency_scenario.cc).
  Samples base;
  auto baseline = [&]() -> absl::Status {
    PingPongOptions o;
    o.warmup = static_cast<int>(warmup / 2);
    o.iterations = static_cast<int>(count / 2);
    o.parent_cpu = config.Cpu(1);
    o.child_cpu = config.Cpu(0);
    QLASTER_ASSIGN_OR_RETURN(Samples s, CachelinePingPong(o));
    for (double half : s) base.push_back(2 * half);
    return absl::OkStatus();
  };
  QLASTER_RETURN_IF_ERROR(baseline());
  const size_t first = results.size();
  for (absl::Duration poll : {absl::ZeroDuration(), absl::Microseconds(10)}) {
    absl::StatusOr<Outcome> o = RunIngestOnce(
        config, {.size = latency_size, .count = count, .warmup = warmup, .poll_interval = poll, .latency = true});
    if (!o.ok()) {
      return absl::Status(o.status().code(), absl::StrCat("ingest latency: ", o.status().message()));
    }
    Result r = Make("ingest", "qlaster", latency_size);
    r.Param("measure", "latency").Param("ingest_poll", poll == absl::ZeroDuration() ? "spin" : "10us");
    r.latency = Latency::FromSamples(o->client.samples_ns);
    results.push_back(std::move(r));
  }
  QLASTER_RETURN_IF_ERROR(baseline());
  Result cacheline = Make("ingest", "cacheline_round_trip", latency_size);
  cacheline.latency = Latency::FromSamples(base);
  for (size_t i = first; i < results.size(); ++i) results[i].baseline = {cacheline};

  std::vector<uint64_t> sizes = {165, 3762};
  if (config.size) sizes = {*config.size};
  for (uint64_t size : sizes) {
    const uint64_t frames = config.quick ? 5'000 : 2'000'000;
    absl::StatusOr<Outcome> o = RunIngestOnce(
        config, {.size = size, .count = frames, .warmup = 0, .poll_interval = absl::ZeroDuration(), .latency = false});
    if (!o.ok()) {
      return absl::Status(o.status().code(), absl::StrCat("ingest throughput: ", o.status().message()));
    }
    const ChildReport& c = o->client;
    Result r = Make("ingest", "qlaster", size);
    r.Param("measure", "throughput").Param("ingest_poll", "spin");
    const double span = c.last_ns > c.first_ns ? static_cast<double>(c.last_ns - c.first_ns) / 1e9 : 0;
    r.records_per_s = span > 0 ? static_cast<double>(c.accounts) / span : 0;
    r.bytes_per_s = *r.records_per_s * static_cast<double>(size);
    r.Metric("received", static_cast<double>(c.accounts))
        .Metric("dropped", static_cast<double>(c.dropped))
        .Metric("client_cpu_ns_per_update",
                c.accounts > 0 ? static_cast<double>(c.cpu_ns) / static_cast<double>(c.accounts) : 0);
    results.push_back(std::move(r));
  }
  return results;
}

absl::StatusOr<std::vector<Result>> RunReplay(const Config& config) {
  std::vector<Result> results;
  std::vector<uint64_t> sizes = {165, 1u << 20};
  if (config.size) sizes = {*config.size};
  for (uint64_t size : sizes) {
    const uint64_t count = config.quick ? 200 : (size >= (1u << 20) ? 2'000 : 1'000'000);
    absl::StatusOr<Result> r = RunReplayOnce(config, size, count);
    if (!r.ok()) return absl::Status(r.status().code(), absl::StrCat("replay: ", r.status().message()));
    results.push_back(*std::move(r));
  }
  return results;
}

}  // namespace qlaster::bench
