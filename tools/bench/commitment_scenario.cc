// qlaster-bench commitment: what commitment buffering costs the sender at mainnet's rate
// and shape — CPU per update and memory — with 16 confirmed consumers against 16
// processed consumers, in the same run.
//
// Two child processes run at the same time (forked at the start, so each has its own
// address space and its memory can be told apart), each a real Dispatcher with the update
// log the sender runs with (default replay and commitment limits) and 16 consumers with
// real rings, every consumer holding one named filter on the SPL Token program: one child's
// consumers are processed, the other's confirmed. Both publish the same feed, paced in
// real time: a slot every 400 ms, its account writes in 20 bursts 20 ms apart (--rate
// writes/s, default 10,000: 4,000 per slot), 165-byte Token accounts drawn from 20,000
// accounts with a fifth of the writes going to 100 hot ones (pools and markets written many
// times per slot), so many accounts are written more than once in a slot. At each slot's
// start: processed(S), confirmed(S - 2), rooted(S - 32), as mainnet's commitment lags.
//
// Measured in each child: the dispatch thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over
// every publish — the writes and the slot statuses, which for the confirmed consumers
// release the slots' latest writes — divided by the writes (`ns_per_op`, metric
// cpu_ns_per_update); the rings are drained between bursts, outside the time. Memory: the
// update log's bytes and heap (UpdateLog::bytes, memory_bytes) and slots at the end, and
// the process's anonymous resident memory (RssAnon, the sender's own memory without the
// rings; the highest of the samples taken each slot). The confirmed row's `vs_processed`
// is its CPU per update over the processed row's.
//
// The pair runs twice: replay=on, the sender's default update log (150 slots kept for
// from_slot, whatever commitment the consumers ask for), then replay=off
// (--replay_slots 0: the log keeps only slots not yet finalized, which is what commitment
// buffering itself needs).
//
// --duration (default 30 s per pair; --quick 2 s at a 40 ms slot) and --rate set the run.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/process.h"
#include "base/status_macros.h"
#include "tools/bench/dispatch_fixture.h"
#include "tools/bench/scenario.h"
#include "wire/random_key.h"
#include "wire/solana/programs.h"

namespace qlaster::bench {
namespace {

using sender::DispatchFixture;

constexpr int kConsumers = 16;
constexpr int kBurstsPerSlot = 20;
constexpr uint64_t kConfirmLag = 2;
constexpr uint64_t kRootLag = 32;
constexpr size_t kAccounts = 20'000;
constexpr size_t kHotAccounts = 100;
constexpr double kHotShare = 0.2;
constexpr size_t kTokenAccountSize = 165;
// A confirmed consumer gets a slot's distinct accounts at once (~3,000 x ~370 B).
constexpr uint64_t kRingBytes = uint64_t{8} << 20;

// What a child reports (in a shared anonymous mapping).
struct ChildReport {
  bool done = false;
  char error[256] = {};
  uint64_t writes = 0;
  uint64_t statuses = 0;
  uint64_t cpu_ns = 0;
  uint64_t wall_ns = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t log_bytes = 0;
  uint64_t log_memory = 0;
  uint64_t log_slots = 0;
  uint64_t rss_anon_max = 0;
  uint64_t rss_anon_start = 0;
};

uint64_t ThreadCpuNs() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

// RssAnon of this process, bytes (0 if /proc cannot be read).
uint64_t RssAnonBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

struct Run {
  Commitment level;
  absl::Duration slot_time;
  absl::Duration duration;
  double rate;  // writes per second
  std::string shm_dir;
  bool replay = true;  // the default replay window; false: --replay_slots 0 (pending slots only)
};

absl::Status RunChild(const Run& run, ChildReport* out) {
  std::vector<SubscribeMsg> subs(kConsumers);
  for (SubscribeMsg& s : subs) {
    s.accounts = {{.name = "token", .filter = {.owners = {solana::kTokenProgram}}}};
    s.options = SubscribeOptionsMsg{.commitment = run.level};
  }
  sender::DispatcherOptions options;
  if (!run.replay) options.log = sender::UpdateLogOptions{.replay_slots = 0, .replay_bytes = 0};
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<DispatchFixture> f,
                           DispatchFixture::CreateWith(subs, run.shm_dir, options, kRingBytes));
  sender::Dispatcher& d = f->dispatcher();

  // The accounts, each a Token account with its own mint and holder.
  std::mt19937_64 rng(0xc0111);
  std::vector<AccountUpdate> accounts(kAccounts);
  for (AccountUpdate& a : accounts) {
    a.pubkey = RandomKey(rng);
    a.owner = solana::kTokenProgram;
    a.lamports = 2'039'280;
    a.data.assign(kTokenAccountSize, 0);
    const Pubkey mint = RandomKey(rng), holder = RandomKey(rng);
    std::memcpy(a.data.data(), mint.data(), mint.size());
    std::memcpy(a.data.data() + 32, holder.data(), holder.size());
    a.data[108] = 1;
  }
  std::uniform_real_distribution<double> share(0, 1);
  std::uniform_int_distribution<size_t> hot(0, kHotAccounts - 1), any(0, kAccounts - 1);

  const double slot_s = absl::ToDoubleSeconds(run.slot_time);
  const uint64_t per_burst =
      std::max<uint64_t>(1, static_cast<uint64_t>(run.rate * slot_s / kBurstsPerSlot + 0.5));
  const uint64_t slots = std::max<uint64_t>(
      kRootLag + 2, static_cast<uint64_t>(absl::ToDoubleSeconds(run.duration) / slot_s + 0.5));
  out->rss_anon_start = RssAnonBytes();

  using Clock = std::chrono::steady_clock;
  const auto burst_time = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(run.slot_time) / kBurstsPerSlot);
  const Clock::time_point start = Clock::now();
  Clock::time_point next = start;
  uint64_t write_version = 0;
  for (uint64_t slot = 1; slot <= slots; ++slot) {
    for (int b = 0; b < kBurstsPerSlot; ++b) {
      std::this_thread::sleep_until(next);
      next += burst_time;
      const uint64_t t0 = ThreadCpuNs();
      if (b == 0) {
        std::vector<SlotUpdate> statuses{{.slot = slot, .parent = slot - 1, .status = SlotStatus::kProcessed}};
        if (slot > kConfirmLag) statuses.push_back({.slot = slot - kConfirmLag, .status = SlotStatus::kConfirmed});
        if (slot > kRootLag) statuses.push_back({.slot = slot - kRootLag, .status = SlotStatus::kRooted});
        for (const SlotUpdate& s : statuses) {
          QLASTER_RETURN_IF_ERROR(d.PublishSlot(s));
          ++out->statuses;
        }
      }
      {
        sender::Dispatcher::Batch batch(d);
        for (uint64_t w = 0; w < per_burst; ++w) {
          AccountUpdate& a = accounts[share(rng) < kHotShare ? hot(rng) : any(rng)];
          a.slot = slot;
          a.write_version = ++write_version;
          a.lamports += 1;
          QLASTER_RETURN_IF_ERROR(d.PublishAccount(a));
          ++out->writes;
        }
      }
      out->cpu_ns += ThreadCpuNs() - t0;
      f->DrainAll();
    }
    out->rss_anon_max = std::max(out->rss_anon_max, RssAnonBytes());
  }
  out->wall_ns = static_cast<uint64_t>(std::chrono::nanoseconds(Clock::now() - start).count());
  f->DrainAll();
  out->delivered = f->Delivered();
  out->dropped = f->Dropped();
  const sender::UpdateLog* log = d.update_log();
  if (log == nullptr) return absl::InternalError("the dispatcher has no update log");
  out->log_bytes = log->bytes();
  out->log_memory = log->memory_bytes();
  out->log_slots = log->slot_count();
  return absl::OkStatus();
}

const char* LevelName(Commitment c) {
  switch (c) {
    case Commitment::kProcessed:
      return "processed";
    case Commitment::kConfirmed:
      return "confirmed";
    case Commitment::kFinalized:
      return "finalized";
  }
  return "?";
}


// Runs the processed and the confirmed child of `base` at the same time; their results.
absl::StatusOr<std::vector<Result>> RunPair(const Config& config, const Run& base) {
  constexpr Commitment kLevels[] = {Commitment::kProcessed, Commitment::kConfirmed};
  void* shared = ::mmap(nullptr, sizeof(ChildReport) * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return ErrnoStatus(errno, "commitment: mmap");
  ChildReport* reports = new (shared) ChildReport[2];
  std::vector<ChildProcess> children;
  for (int i = 0; i < 2; ++i) {
    Run run = base;
    run.level = kLevels[i];
    ChildReport* out = &reports[i];
    absl::StatusOr<ChildProcess> child = ChildProcess::Fork([run, out, &config, i] {
      if (!PinToCpu(config.Cpu(static_cast<size_t>(i))).ok()) return 2;
      absl::Status s = RunChild(run, out);
      if (!s.ok()) std::snprintf(out->error, sizeof(out->error), "%s", s.ToString().c_str());
      out->done = s.ok();
      return s.ok() ? 0 : 1;
    });
    if (!child.ok()) {
      ::munmap(shared, sizeof(ChildReport) * 2);
      return child.status();
    }
    children.push_back(*std::move(child));
  }
  absl::Status failed;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<int> status = children[static_cast<size_t>(i)].Wait(base.duration * 3 + absl::Seconds(60));
    if (!status.ok() && failed.ok()) failed = status.status();
    if (status.ok() && !reports[i].done && failed.ok()) {
      failed = absl::InternalError(absl::StrCat("commitment: the ", LevelName(kLevels[i]), " child failed (",
                                                DescribeWaitStatus(*status), "): ", reports[i].error));
    }
  }
  std::vector<Result> results;
  if (failed.ok()) {
    for (int i = 0; i < 2; ++i) {
      const ChildReport& r = reports[i];
      if (r.dropped != 0) {
        failed = absl::InternalError(absl::StrCat("commitment: ", r.dropped, " records dropped (ring full)"));
        break;
      }
      const double writes = static_cast<double>(r.writes);
      Result out{.scenario = "commitment", .subject = "qlaster", .params = {}, .latency = std::nullopt,
                 .records_per_s = writes / (static_cast<double>(r.wall_ns) * 1e-9), .bytes_per_s = std::nullopt,
                 .ns_per_op = static_cast<double>(r.cpu_ns) / writes, .metrics = {}, .baseline = {}};
      out.Param("case", std::string(LevelName(kLevels[i])))
          .Param("replay", std::string(base.replay ? "on" : "off"))
          .Param("consumers", int64_t{kConsumers});
      out.Metric("cpu_ns_per_update", static_cast<double>(r.cpu_ns) / writes)
          .Metric("writes", writes)
          .Metric("slot_statuses", static_cast<double>(r.statuses))
          .Metric("delivered_per_consumer", static_cast<double>(r.delivered) / kConsumers)
          .Metric("log_bytes", static_cast<double>(r.log_bytes))
          .Metric("log_memory_bytes", static_cast<double>(r.log_memory))
          .Metric("log_slots", static_cast<double>(r.log_slots))
          .Metric("rss_anon_bytes", static_cast<double>(r.rss_anon_max))
          .Metric("rss_anon_start_bytes", static_cast<double>(r.rss_anon_start));
      if (i == 1 && reports[0].cpu_ns > 0) {
        const double processed = static_cast<double>(reports[0].cpu_ns) / static_cast<double>(reports[0].writes);
        out.Metric("vs_processed", (static_cast<double>(r.cpu_ns) / writes) / processed);
      }
      results.push_back(std::move(out));
    }
  }
  ::munmap(shared, sizeof(ChildReport) * 2);
  if (!failed.ok()) return failed;
  return results;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunCommitment(const Config& config) {
  Run base{.level = Commitment::kProcessed,
           .slot_time = config.quick ? absl::Milliseconds(40) : absl::Milliseconds(400),
           .duration = config.duration > absl::ZeroDuration() ? config.duration
                                                              : (config.quick ? absl::Seconds(2) : absl::Seconds(30)),
           .rate = config.rate.value_or(10'000),
           .shm_dir = config.shm_dir};
  if (!(base.rate > 0) || base.rate > 1e7) {
    return absl::InvalidArgumentError("commitment: --rate must be in (0, 10,000,000] writes/s");
  }
  std::vector<Result> results;
  for (bool replay : {true, false}) {
    base.replay = replay;
    QLASTER_ASSIGN_OR_RETURN(std::vector<Result> pair, RunPair(config, base));
    for (Result& r : pair) results.push_back(std::move(r));
  }
  return results;
}

}  // namespace qlaster::bench
