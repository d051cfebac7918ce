// Scenario `e2e`: the real qlaster-sender binary on its synthetic Solana-like feed at a
// fixed rate, with N libqlaster-consumer processes, for a fixed time.
//
// What it measures: the latency from publish (Event::timestamp_ns, CLOCK_REALTIME when the
// sender's dispatcher delivered the update) to each consumer's callback, for every update
// a consumer receives; what each consumer received and whether anything was dropped; and
// the sender's CPU per published update (everything the process spends: generating the
// synthetic feed, matching and copying, the control plane) and in percent of one core.
//
// How: N consumer processes are forked first (consumer_child.h); each subscribes as
// tools/demo.sh does (the Vote and Token program owners, all transactions) with
// drop-and-count. Then qlaster-sender is spawned on a private socket in a temporary
// directory. Once every subscription is acknowledged, the measurement window opens: the
// parent reads the sender's CPU time (/proc/PID/stat, utime + stime, in clock ticks: 10 ms
// resolution, so use a window of seconds) and its `published` counter (a StatsRequest on
// the control socket, as `qlaster-inspect --sender-stats` sends), and tells the consumers
// to count only updates published from then on; after --duration it reads both again and
// closes the window. The consumers then write their reports and exit, and the sender is
// stopped with SIGTERM (it must exit 0). Consumers are pinned as --cpus says (the sender
// is not pinned: it is a separate program with threads of its own).
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/processes.h"
#include "tools/bench/scenario.h"
#include "base/base58.h"

namespace qlaster::bench {
namespace {

constexpr uint64_t kRingBytes = 16u << 20;

struct Snapshot {
  uint64_t cpu_ns;
  uint64_t published;
  absl::Time at;
};

absl::StatusOr<Snapshot> TakeSnapshot(pid_t pid, const std::string& socket_path) {
  QLASTER_ASSIGN_OR_RETURN(uint64_t cpu, ProcessCpuNs(pid));
  QLASTER_ASSIGN_OR_RETURN(StatsMsg stats, QuerySenderStats(socket_path));
  return Snapshot{.cpu_ns = cpu, .published = stats.published, .at = absl::Now()};
}

absl::StatusOr<Pubkey> Key(const char* base58) {
  QLASTER_ASSIGN_OR_RETURN(Pubkey k, DecodePubkey(base58));
  return k;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunE2e(const Config& config) {
  const int n = config.consumers.value_or(config.quick ? 1 : 4);
  const absl::Duration duration = config.duration > absl::ZeroDuration()
                                      ? config.duration
                                      : (config.quick ? absl::Seconds(1) : absl::Seconds(10));
  const WaitMode mode = config.mode.value_or(WaitMode::kSpinThenSleep);
  const double nominal = kSyntheticUpdatesPerSecond;
  const double rate = config.rate.value_or(nominal);
  if (::access(config.sender_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("qlaster-sender not found at ", config.sender_binary,
                     " (build the qlaster-sender target, or pass --sender)"));
  }
  absl::StatusOr<Pubkey> vote = Key("Vote111111111111111111111111111111111111111");
  absl::StatusOr<Pubkey> token = Key("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  if (!vote.ok() || !token.ok()) return absl::InternalError("cannot decode the program ids");

  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  absl::StatusOr<SharedBoard> board = SharedBoard::Create();
  if (!board.ok()) return board.status();
  // Nothing is counted until the window opens.
  (*board)->window_start_ns.store(~uint64_t{0} - 1);
  const std::string socket = dir.path() + "/sender.sock";
  std::vector<std::string> names, paths;
  for (int i = 0; i < n; ++i) {
    names.push_back(absl::StrCat("e2e-", i));
    paths.push_back(absl::StrCat(dir.path(), "/e2e-", i, ".report"));
  }
  ChildSet children;
  QLASTER_RETURN_IF_ERROR(children.Fork(names, paths, [&](size_t i) {
    return RunConsumerChild({.name = names[i],
                             .socket_path = socket,
                             .result_path = paths[i],
                             .cpu = config.Cpu(1 + i),
                             .wait_mode = ToConsumerMode(mode),
                             .ring_bytes = kRingBytes,
                             .owners = {*vote, *token},
                             .transactions = TransactionFilter::kAll,
                             .end_slot = std::nullopt,
                             .max_samples = 2'000'000 / static_cast<size_t>(n) + 1,
                             .connect_deadline = absl::Seconds(30),
                             .run_deadline = duration + absl::Seconds(120),
                             .board = board->get()});
  }));

  std::vector<std::string> argv = {config.sender_binary,
                                   "--socket=" + socket,
                                   "--shm_dir=" + config.shm_dir,
                                   "--quiet",
                                   absl::StrCat("--max_consumers=", std::max(64, n)),
                                   "--synthetic_seed=1",
                                   absl::StrFormat("--rate=%.9g", rate / nominal)};
  QLASTER_ASSIGN_OR_RETURN(Program sender, Program::Start("qlaster-sender", argv, dir.path() + "/sender.log"));
  const pid_t sender_pid = sender.pid();
  auto sender_alive = [&] { return sender.Alive(); };
  QLASTER_RETURN_IF_ERROR(children.WaitReady(*board->get(), absl::Seconds(60), sender_alive));

  // The window.
  QLASTER_ASSIGN_OR_RETURN(Snapshot before, TakeSnapshot(sender_pid, socket));
  (*board)->window_start_ns.store(RealtimeNs());
  const absl::Time end = before.at + duration;
  for (absl::Time now = absl::Now(); now < end; now = absl::Now()) {
    QLASTER_RETURN_IF_ERROR(children.CheckAlive(/*exit_ok=*/false));
    QLASTER_RETURN_IF_ERROR(sender_alive());
    absl::SleepFor(std::min(
        end - now, absl::Milliseconds(50)));  // waiting for a deadline, watching for deaths
  }
  (*board)->window_end_ns.store(RealtimeNs());
  QLASTER_ASSIGN_OR_RETURN(Snapshot after, TakeSnapshot(sender_pid, socket));

  (*board)->stop.store(1);
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> reports, children.Collect(absl::Seconds(30), sender_alive));
  QLASTER_RETURN_IF_ERROR(sender.Stop());

  const double secs = absl::ToDoubleSeconds(after.at - before.at);
  const uint64_t published = after.published - before.published;
  const double cpu_ns = static_cast<double>(after.cpu_ns - before.cpu_ns);
  uint64_t received = 0, dropped = 0, gaps = 0;
  for (const ChildReport& c : reports) {
    received += c.received;
    dropped += c.dropped;
    gaps += c.gaps;
  }
  Result r;
  r.scenario = "e2e";
  r.subject = "qlaster";
  r.Param("consumers", int64_t{n}).Param("mode", ModeName(mode)).Param("rate", rate);
  std::vector<double> samples = MergeSamples(reports);
  r.latency = Latency::FromSamples(samples);
  r.records_per_s = static_cast<double>(published) / secs;
  const double per_consumer = static_cast<double>(received) / n;
  r.Metric("received_per_consumer", per_consumer)
      .Metric("received_per_s_per_consumer", per_consumer / secs)
      .Metric("dropped", static_cast<double>(dropped))
      .Metric("gaps", static_cast<double>(gaps))
      .Metric("sender_cpu_ns_per_update",
              published > 0 ? cpu_ns / static_cast<double>(published) : 0)
      .Metric("sender_cpu_percent", 100.0 * cpu_ns / 1e9 / secs);
  return std::vector<Result>{r};
}

}  // namespace qlaster::bench
