// Scenario `grpc`: Yellowstone gRPC clients through qlaster-grpc, beside the shared-memory
// path of the same run.
//
// What it measures, for 1, 8 and 32 Subscribe streams (--consumers: one count), at the
// mainnet rate of the synthetic feed and at its maximum rate (qlaster-sender --max_speed):
// the updates/s every stream receives and their sum; the latency from publish in the sender
// (SubscribeUpdate.created_at, the sender's CLOCK_REALTIME publish time) to the client's
// receipt of the decoded message, over every update of every stream; qlaster-grpc's
// resident memory per stream (its VmRSS at the busiest moment of the run minus before the
// streams opened, over the streams) and its CPU per update sent; and, as the baseline of
// the same run, a libqlaster-consumer process with the same subscription reading its
// shared-memory ring (latency from publish to its callback, updates/s).
//
// How: a fresh sender, qlaster-grpc and consumer for every round. The consumer is forked
// first (consumer_child.h); then qlaster-sender (synthetic, seed 1) on a private socket,
// qlaster-grpc on 127.0.0.1 port 0 with --overflow=drop (at the maximum rate the clients
// cannot keep up: their streams drop and count instead of ending, and the drops are
// reported), and N clients (tools/grpc_bench/client.cc, gRPC C++, one process each). Every
// stream and the consumer subscribe to the same updates: accounts owned by the Vote and
// Token programs, every transaction, slots. The window opens when every client has its
// first update and lasts --duration (10 s; 1 s with --quick); then the clients are stopped
// and each keeps the updates it received in the window.
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/base58.h"
#include "base/status_macros.h"
#include "base/temp_dir.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/processes.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr char kVote[] = "Vote111111111111111111111111111111111111111";
constexpr char kToken[] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
constexpr uint64_t kRingBytes = 16u << 20;

// The resident set of `pid`, bytes (VmRSS of /proc/PID/status).
absl::StatusOr<uint64_t> ResidentBytes(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    uint64_t kib = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    if (!absl::SimpleAtoi(digits, &kib)) break;
    return kib * 1024;
  }
  return absl::NotFoundError(absl::StrCat(path, ": no VmRSS line"));
}

struct ClientResult {
  uint64_t updates = 0;  // received in the window
  bool ended = false;    // the server ended the stream before the client was stopped
  std::string ended_with;  // then: "CODE: message", as the client printed it
  std::vector<double> samples_ns;  // the latency of each of them
};

// What client `client` (stopped) received in [window_start_ns, window_end_ns).
absl::StatusOr<ClientResult> ReadClient(const Program& client, const std::string& prefix,
                                        int64_t window_start_ns, int64_t window_end_ns) {
  std::ifstream log(client.log_path());
  std::string line, json;
  while (std::getline(log, line)) {
    if (absl::StartsWith(line, "{\"n\": ")) json = line;
  }
  if (json.empty()) return client.Failed("printed no result line");
  ClientResult r;
  r.ended = !absl::StrContains(json, "\"ended\": \"\"");
  if (r.ended) {
    const size_t at = json.find("\"ended\": \"") + std::string("\"ended\": \"").size();
    r.ended_with = json.substr(at, json.rfind('"') - at);
  }
  std::ifstream in(prefix + ".samples", std::ios::binary);
  for (int64_t pair[2]; in.read(reinterpret_cast<char*>(pair), sizeof(pair));) {
    if (pair[0] < window_start_ns || pair[0] >= window_end_ns) continue;
    ++r.updates;
    r.samples_ns.push_back(static_cast<double>(pair[1]));
  }
  return r;
}

struct Round {
  int streams = 0;
  bool max_speed = false;
  double rate_multiplier = 1.0;
};

absl::StatusOr<Result> RunRound(const Config& config, const Round& round, absl::Duration duration) {
  QLASTER_ASSIGN_OR_RETURN(Pubkey vote, DecodePubkey(kVote));
  QLASTER_ASSIGN_OR_RETURN(Pubkey token, DecodePubkey(kToken));
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string d = dir.path();
  const std::string socket = d + "/sender.sock";
  absl::StatusOr<SharedBoard> board = SharedBoard::Create();
  if (!board.ok()) return board.status();
  (*board)->window_start_ns.store(~uint64_t{0} - 1);  // nothing counts before the window

  // The shared-memory consumer, forked before any thread or program starts.
  ChildSet shm;
  const std::string shm_report = d + "/shm.report";
  QLASTER_RETURN_IF_ERROR(shm.Fork({"grpc-shm"}, {shm_report}, [&](size_t) {
    return RunConsumerChild({.name = "grpc-shm",
                             .socket_path = socket,
                             .result_path = shm_report,
                             .cpu = config.Cpu(1),
                             .wait_mode = WaitMode::kSpinThenSleep,
                             .ring_bytes = kRingBytes,
                             .owners = {vote, token},
                             .transactions = TransactionFilter::kAll,
                             .end_slot = std::nullopt,
                             .max_samples = 2'000'000,
                             .connect_deadline = absl::Seconds(30),
                             .run_deadline = duration + absl::Seconds(180),
                             .board = board->get()});
  }));

  std::vector<std::string> sender_argv = {config.sender_binary, "--socket=" + socket,
                                          "--shm_dir=" + config.shm_dir, "--quiet",
                                          absl::StrCat("--max_consumers=", std::max(64, round.streams + 8)),
                                          "--synthetic_seed=1"};
  if (round.max_speed) {
    sender_argv.push_back("--max_speed");
  } else {
    sender_argv.push_back(absl::StrFormat("--rate=%.9g", round.rate_multiplier));
  }
  QLASTER_ASSIGN_OR_RETURN(Program sender, Program::Start("qlaster-sender", sender_argv, d + "/sender.log"));
  QLASTER_RETURN_IF_ERROR(shm.WaitReady(*board->get(), absl::Seconds(60), [&] { return sender.Alive(); }));

  QLASTER_ASSIGN_OR_RETURN(
      Program grpc, Program::Start("qlaster-grpc",
                                   {config.grpc_binary, "--socket=" + socket, "--listen=127.0.0.1:0",
                                    "--overflow=drop", absl::StrCat("--max_streams=", round.streams + 8)},
                                   d + "/grpc.log"));
  // "serving on 127.0.0.1:PORT (sender ...)".
  int port = 0;
  QLASTER_RETURN_IF_ERROR(WaitFor("qlaster-grpc's port", absl::Seconds(30), {&sender, &grpc}, [&] {
    std::ifstream in(grpc.log_path());
    for (std::string line; std::getline(in, line);) {
      const size_t at = line.find("serving on 127.0.0.1:");
      if (at == std::string::npos) continue;
      const size_t from = at + std::string("serving on 127.0.0.1:").size();
      return absl::SimpleAtoi(line.substr(from, line.find(' ', from) - from), &port) && port > 0;
    }
    return false;
  }));
  QLASTER_ASSIGN_OR_RETURN(uint64_t rss_before, ResidentBytes(grpc.pid()));

  const std::string target = absl::StrCat("127.0.0.1:", port);
  // The clients run until they are stopped after the window (or, failing that, give up).
  const std::string client_seconds = absl::StrFormat("%.3f", absl::ToDoubleSeconds(duration) + 180);
  std::vector<Program> clients;
  std::vector<std::string> prefixes;
  for (int i = 0; i < round.streams; ++i) {
    prefixes.push_back(absl::StrCat(d, "/client-", i));
    QLASTER_ASSIGN_OR_RETURN(
        Program c, Program::Start(absl::StrCat("gRPC client ", i),
                                  {config.grpc_client_binary, target, client_seconds,
                                   absl::StrCat(kVote, ",", kToken), prefixes.back()},
                                  prefixes.back() + ".log"));
    clients.push_back(std::move(c));
  }
  // A stream the endpoint ends (a client that exits 0 early) is a result, counted below.
  QLASTER_RETURN_IF_ERROR(WaitFor("every stream's first update", absl::Seconds(60), {&sender, &grpc}, [&] {
    for (size_t i = 0; i < clients.size(); ++i) {
      if (::access((prefixes[i] + ".ready").c_str(), F_OK) != 0 && clients[i].Alive().ok()) return false;
    }
    return true;
  }));

  // The window.
  QLASTER_ASSIGN_OR_RETURN(StatsMsg stats_before, QuerySenderStats(socket));
  QLASTER_ASSIGN_OR_RETURN(uint64_t grpc_cpu_before, ProcessCpuNs(grpc.pid()));
  QLASTER_ASSIGN_OR_RETURN(uint64_t sender_cpu_before, ProcessCpuNs(sender.pid()));
  const absl::Time start = absl::Now();
  const uint64_t window_start_ns = RealtimeNs();
  (*board)->window_start_ns.store(window_start_ns);
  uint64_t rss_peak = rss_before;
  for (absl::Time now = start; now < start + duration; now = absl::Now()) {
    QLASTER_RETURN_IF_ERROR(sender.Alive());
    QLASTER_RETURN_IF_ERROR(grpc.Alive());
    QLASTER_RETURN_IF_ERROR(shm.CheckAlive(/*exit_ok=*/false));
    QLASTER_ASSIGN_OR_RETURN(uint64_t rss, ResidentBytes(grpc.pid()));
    rss_peak = std::max(rss_peak, rss);
    absl::SleepFor(std::min(start + duration - now, absl::Milliseconds(50)));  // a deadline, watching
  }
  const uint64_t window_end_ns = RealtimeNs();
  (*board)->window_end_ns.store(window_end_ns);
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  QLASTER_ASSIGN_OR_RETURN(StatsMsg stats_after, QuerySenderStats(socket));
  QLASTER_ASSIGN_OR_RETURN(uint64_t grpc_cpu_after, ProcessCpuNs(grpc.pid()));
  QLASTER_ASSIGN_OR_RETURN(uint64_t sender_cpu_after, ProcessCpuNs(sender.pid()));

  std::vector<ClientResult> results;
  for (int i = 0; i < round.streams; ++i) {
    QLASTER_RETURN_IF_ERROR(clients[i].StopIfRunning(absl::Seconds(30)).status());
    QLASTER_ASSIGN_OR_RETURN(ClientResult r,
                             ReadClient(clients[i], prefixes[i], static_cast<int64_t>(window_start_ns),
                                        static_cast<int64_t>(window_end_ns)));
    results.push_back(std::move(r));
  }
  (*board)->stop.store(1);
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> shm_reports,
                           shm.Collect(absl::Seconds(30), [&] { return sender.Alive(); }));
  QLASTER_RETURN_IF_ERROR(grpc.Stop());
  QLASTER_RETURN_IF_ERROR(sender.Stop());

  Result r;
  r.scenario = "grpc";
  r.subject = "qlaster-grpc";
  r.Param("streams", int64_t{round.streams})
      .Param("rate", round.max_speed ? std::string("max") : absl::StrFormat("%gx mainnet", round.rate_multiplier));
  std::vector<double> samples;
  std::vector<double> rates;
  uint64_t delivered = 0, ended = 0;
  std::string ended_with;  // the statuses of the streams the server ended, for the report
  for (ClientResult& c : results) {
    samples.insert(samples.end(), c.samples_ns.begin(), c.samples_ns.end());
    rates.push_back(static_cast<double>(c.updates) / secs);
    delivered += c.updates;
    ended += c.ended;
    if (c.ended) absl::StrAppend(&ended_with, ended_with.empty() ? "" : "; ", c.ended_with);
  }
  std::sort(rates.begin(), rates.end());
  const double total_rate = static_cast<double>(delivered) / secs;
  if (!ended_with.empty()) r.Param("ended_with", ended_with);  // why, when a stream was ended
  r.latency = Latency::FromSamples(samples);
  r.records_per_s = total_rate;
  const double published = static_cast<double>(stats_after.published - stats_before.published);
  r.Metric("per_stream_updates_per_s_median", rates[rates.size() / 2])
      .Metric("per_stream_updates_per_s_min", rates.front())
      .Metric("updates_received", static_cast<double>(delivered))
      .Metric("streams_ended", static_cast<double>(ended))
      .Metric("sender_published_per_s", published / secs)
      .Metric("sender_dropped", static_cast<double>(stats_after.dropped - stats_before.dropped))
      .Metric("grpc_rss_mib_per_stream",
              static_cast<double>(rss_peak - rss_before) / round.streams / (1 << 20))
      .Metric("grpc_rss_mib_idle", static_cast<double>(rss_before) / (1 << 20))
      .Metric("grpc_cpu_percent", 100.0 * static_cast<double>(grpc_cpu_after - grpc_cpu_before) / 1e9 / secs)
      .Metric("grpc_cpu_ns_per_update",
              static_cast<double>(grpc_cpu_after - grpc_cpu_before) /
                  std::max(1.0, total_rate * secs))
      .Metric("sender_cpu_percent",
              100.0 * static_cast<double>(sender_cpu_after - sender_cpu_before) / 1e9 / secs);

  Result base;
  base.scenario = "grpc";
  base.subject = "shared_memory";
  base.params = r.params;
  std::vector<double> shm_samples = MergeSamples(shm_reports);
  base.latency = Latency::FromSamples(shm_samples);
  const ChildReport& c = shm_reports.front();
  base.records_per_s = static_cast<double>(c.received) / secs;
  base.Metric("dropped", static_cast<double>(c.dropped)).Metric("gaps", static_cast<double>(c.gaps));
  r.baseline.push_back(std::move(base));
  return r;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunGrpc(const Config& config) {
  for (const std::string* binary : {&config.sender_binary, &config.grpc_binary, &config.grpc_client_binary}) {
    if (::access(binary->c_str(), X_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("no program at ", *binary,
                                              " (build qlaster-sender, qlaster-grpc and "
                                              "qlaster_grpc_bench_client)"));
    }
  }
  const absl::Duration duration = config.duration > absl::ZeroDuration()
                                      ? config.duration
                                      : (config.quick ? absl::Seconds(1) : absl::Seconds(10));
  std::vector<int> counts = {1, 8, 32};
  if (config.consumers) counts = {*config.consumers};
  else if (config.quick) counts = {1, 2};
  // --rate: one paced round at that many updates/s (the feed's nominal rate, scaled).
  std::vector<Round> rounds;
  for (int n : counts) {
    if (config.rate) {
      rounds.push_back({.streams = n, .max_speed = false, .rate_multiplier = *config.rate / kSyntheticUpdatesPerSecond});
    } else {
      rounds.push_back({.streams = n, .max_speed = false, .rate_multiplier = 1.0});
      rounds.push_back({.streams = n, .max_speed = true, .rate_multiplier = 1.0});
    }
  }
  std::vector<Result> out;
  for (const Round& round : rounds) {
    absl::StatusOr<Result> r = RunRound(config, round, duration);
    if (!r.ok()) {
      return absl::Status(r.status().code(),
                          absl::StrCat("grpc, ", round.streams, " stream(s)",
                                       round.max_speed ? " at the maximum rate" : "", ": ",
                                       r.status().message()));
    }
    out.push_back(*std::move(r));
  }
  absl::StatusOr<std::vector<Result>> source = RunYellowstoneSource(config);
  if (!source.ok()) {
    return absl::Status(source.status().code(),
                        absl::StrCat("grpc, the Yellowstone source: ", source.status().message()));
  }
  out.insert(out.end(), source->begin(), source->end());
  return out;
}

}  // namespace qlaster::bench
