// qlaster-bench: qlaster's speed, measured side by side with the hardware limit and the
// alternatives, in one run.
//
//   qlaster-bench SCENARIO [--size BYTES] [--mode spin|hybrid|sleep] [--consumers N]
//                 [--keys N] [--cpus LIST] [--rate N] [--ring spsc|broadcast] [--json FILE]
//                 [--plot FILE.png]
//   qlaster-bench all [...]          every scenario, about 10 minutes
//   qlaster-bench micro [--benchmark_filter=...]   the Google Benchmark micro-benchmarks
//
// SCENARIO: latency, throughput, fanout, filter, e2e, ingest, replay, commitment, netbaseline,
// relay, grpc (see BENCHMARKS.md).
// Exit codes: 0 done, 1 a scenario failed, 64 a usage error.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/flags.h"
#include "benchmark/benchmark.h"
#include "tools/bench/plot.h"
#include "tools/bench/processes.h"
#include "tools/bench/report.h"
#include "tools/bench/scenario.h"

ABSL_FLAG(std::string, size, "", "one record/update size in bytes (default: the scenario's sweep)");
ABSL_FLAG(std::string, mode, "", "one wait mode: spin, hybrid (spin-then-sleep) or sleep (default: all)");
ABSL_FLAG(int, consumers, 0, "one consumer count (default: the scenario's sweep)");
ABSL_FLAG(int64_t, keys, -1, "one subscribed-key count (default: the scenario's sweep)");
ABSL_FLAG(std::string, cpus, "", "CPUs to pin to, comma-separated: the publisher first, then consumers");
ABSL_FLAG(double, rate, 0, "updates/s for paced scenarios (default: each scenario's own)");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(), "e2e run length (default 10s)");
ABSL_FLAG(std::string, json, "", "also write the results as JSON to this file");
ABSL_FLAG(std::string, plot, "", "also draw the results into this PNG (needs gnuplot)");
ABSL_FLAG(bool, quick, false, "tiny sample counts: checks that everything runs, numbers mean nothing");
ABSL_FLAG(std::string, sender, "",
          "the qlaster-sender binary for e2e (default: the one installed beside qlaster-bench, "
          "else the build tree's)");
ABSL_FLAG(std::string, ring, "spsc",
          "fanout and latency: spsc (per-consumer rings; the default) or broadcast (one broadcast "
          "ring read by every consumer, measured beside SPSC rings in the same run)");
ABSL_FLAG(std::string, certs, "",
          "relay: a directory of test certificates made by tools/make_test_certs.sh (default: "
          "make them in a temporary directory with that script, which needs certtool)");
ABSL_FLAG(std::string, shm_dir, "/dev/shm", "tmpfs directory for rings");
ABSL_FLAG(bool, update_log, true,
          "ingest and replay: the sender keeps its update log (commitment buffering and "
          "from_slot replay) as qlaster-sender does by default; false measures without it");

namespace qlaster::bench {
namespace {

using ::qlaster::kExitUsage;
using ::qlaster::UsageError;

struct ScenarioEntry {
  const char* name;
  absl::StatusOr<std::vector<Result>> (*run)(const Config&);
};

constexpr ScenarioEntry kScenarios[] = {
    {"latency", RunLatency}, {"throughput", RunThroughput}, {"fanout", RunFanout},
    {"filter", RunFilter},   {"e2e", RunE2e},         {"ingest", RunIngest},
    {"replay", RunReplay},   {"commitment", RunCommitment}, {"netbaseline", RunNetBaseline},
    {"relay", RunRelay},     {"grpc", RunGrpc},
};

// "latency, throughput, ..., grpc".
std::string ScenarioNames() {
  std::string out;
  for (const ScenarioEntry& s : kScenarios) absl::StrAppend(&out, out.empty() ? "" : ", ", s.name);
  return out;
}

absl::StatusOr<Config> ConfigFromFlags() {
  Config c;
  if (std::string s = absl::GetFlag(FLAGS_size); !s.empty()) {
    uint64_t v;
    if (!absl::SimpleAtoi(s, &v) || v == 0) return absl::InvalidArgumentError(absl::StrCat("--size: not a positive byte count: ", s));
    c.size = v;
  }
  if (std::string m = absl::GetFlag(FLAGS_mode); !m.empty()) {
    if (m == "spin") c.mode = WaitMode::kSpin;
    else if (m == "hybrid" || m == "spin-then-sleep") c.mode = WaitMode::kSpinThenSleep;
    else if (m == "sleep") c.mode = WaitMode::kSleep;
    else return absl::InvalidArgumentError(absl::StrCat("--mode: expected spin, hybrid or sleep, got ", m));
  }
  if (int n = absl::GetFlag(FLAGS_consumers); n != 0) {
    if (n < 0 || n > 1024) return absl::InvalidArgumentError("--consumers: expected 1..1024");
    c.consumers = n;
  }
  if (int64_t k = absl::GetFlag(FLAGS_keys); k != -1) {
    if (k < 0 || k > 2'000'000) return absl::InvalidArgumentError("--keys: expected 0..2000000");
    c.keys = k;
  }
  const long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (std::string list = absl::GetFlag(FLAGS_cpus); !list.empty()) {
    for (absl::string_view part : absl::StrSplit(list, ',')) {
      int cpu;
      if (!absl::SimpleAtoi(part, &cpu) || cpu < 0 || cpu >= ncpu) {
        return absl::InvalidArgumentError(absl::StrCat("--cpus: '", std::string(part), "' is not a CPU of this machine (0..", ncpu - 1, ")"));
      }
      c.cpus.push_back(cpu);
    }
  }
  if (double r = absl::GetFlag(FLAGS_rate); r != 0) {
    if (r < 0 || r > 1e9) return absl::InvalidArgumentError("--rate: expected a positive rate up to 1e9");
    c.rate = r;
  }
  c.duration = absl::GetFlag(FLAGS_duration);
  if (c.duration < absl::ZeroDuration()) return absl::InvalidArgumentError("--duration: negative");
  c.quick = absl::GetFlag(FLAGS_quick);
  c.sender_binary = absl::GetFlag(FLAGS_sender);
  // An installed qlaster-bench runs the binaries installed beside it.
  if (c.sender_binary.empty()) c.sender_binary = BinaryBeside("qlaster-sender", QLASTER_SENDER_BINARY);
  c.relay_binary = BinaryBeside("qlaster-relay", QLASTER_RELAY_BINARY);
  c.grpc_binary = BinaryBeside("qlaster-grpc", QLASTER_GRPC_BINARY);
  c.grpc_client_binary = BinaryBeside("qlaster_grpc_bench_client", QLASTER_GRPC_BENCH_CLIENT_BINARY);
  c.upstream_probe_binary = BinaryBeside("qlaster-upstream-probe", QLASTER_UPSTREAM_PROBE_BINARY);
  c.udp_impair_binary = BinaryBeside("qlaster-udp-impair", QLASTER_UDP_IMPAIR_BINARY);
  c.test_certs_script = QLASTER_TEST_CERTS_SCRIPT;
  c.certs_dir = absl::GetFlag(FLAGS_certs);
  c.shm_dir = absl::GetFlag(FLAGS_shm_dir);
  c.update_log = absl::GetFlag(FLAGS_update_log);
  c.ring = absl::GetFlag(FLAGS_ring);
  if (c.ring != "spsc" && c.ring != "broadcast") {
    return absl::InvalidArgumentError(absl::StrCat("--ring: expected spsc or broadcast, got ", c.ring));
  }
  return c;
}

int RunMicro(int argc, char** argv) {
  // argv[1] is "micro": Google Benchmark sees the program name and what follows.
  std::vector<char*> args{argv[0]};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return kExitUsage;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "micro") return RunMicro(argc, argv);
  const std::string usage = absl::StrCat(
      "qlaster-bench SCENARIO|all|micro [flags]\n  SCENARIO: ", ScenarioNames(),
      "\n  micro [--benchmark_filter=...]: the Google Benchmark micro-benchmarks");
  std::vector<char*> positional = qlaster::ParseFlags(argc, argv, usage.c_str());
  if (positional.size() != 2) {
    return UsageError(absl::StrCat("expected one scenario (", ScenarioNames(), ", all, micro)"));
  }
  const std::string which = positional[1];
  std::vector<const ScenarioEntry*> chosen;
  for (const ScenarioEntry& s : kScenarios) {
    if (which == "all" || which == s.name) chosen.push_back(&s);
  }
  if (chosen.empty()) {
    return UsageError(absl::StrCat("unknown scenario '", which, "' (", ScenarioNames(), ", all, micro)"));
  }
  absl::StatusOr<Config> config = ConfigFromFlags();
  if (!config.ok()) return UsageError(config.status().message());
  std::vector<Result> all;
  int rc = 0;
  for (const ScenarioEntry* s : chosen) {
    std::fprintf(stderr, "qlaster-bench: running %s\n", s->name);
    absl::StatusOr<std::vector<Result>> results;
    {
      AffinityGuard affinity;  // a scenario's pinning ends with it
      results = s->run(*config);
    }
    if (!results.ok()) {
      std::fprintf(stderr, "qlaster-bench: %s failed: %s\n", s->name, results.status().ToString().c_str());
      rc = 1;
      continue;
    }
    std::fputs(FormatTable(*results).c_str(), stdout);
    std::fflush(stdout);
    all.insert(all.end(), results->begin(), results->end());
  }
  if (std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    if (absl::Status s = WriteFile(path, FormatJson(all)); !s.ok()) {
      std::fprintf(stderr, "qlaster-bench: %s\n", std::string(s.message()).c_str());
      rc = 1;
    }
  }
  if (std::string path = absl::GetFlag(FLAGS_plot); !path.empty()) {
    if (absl::Status s = WritePlot(all, path); !s.ok()) {
      std::fprintf(stderr, "qlaster-bench: --plot: %s\n", std::string(s.message()).c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace
}  // namespace qlaster::bench

int main(int argc, char** argv) { return qlaster::bench::Main(argc, argv); }
