// qlaster-bench scenarios: what each one measures, and the shape of what it reports.
//
// A scenario runs real code paths (real processes, real /dev/shm rings), measures its
// baselines in the same run, and returns Results. main.cc prints them as a table, writes
// them as JSON (--json) and draws them (--plot). Every latency result keeps its samples'
// percentile curve for the plot; every qlaster result carries the baselines it is
// compared with, so a ratio holds on a noisy machine.
//
// Child processes are forked (not exec'd) before the parent starts any thread, so a
// scenario may fork freely at its start; see base/process.h.
#ifndef QLASTER_TOOLS_BENCH_SCENARIO_H_
#define QLASTER_TOOLS_BENCH_SCENARIO_H_

#include <sched.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shm/spsc_ring.h"

namespace qlaster::bench {

// What the command line asked for. Unset optionals mean "the scenario's default sweep".
struct Config {
  std::optional<uint64_t> size;           // --size: one record/update size instead of the sweep
  std::optional<WaitMode> mode;      // --mode: one wait mode instead of all
  std::optional<int> consumers;           // --consumers: one consumer count instead of the sweep
  std::optional<int64_t> keys;            // --keys: one key count instead of the sweep
  std::vector<int> cpus;                  // --cpus: CPUs to pin to, in order (parent first)
  bool quick = false;                     // --quick: tiny counts, for smoke runs (numbers meaningless)
  std::optional<double> rate;             // --rate: updates/s where a scenario paces its publisher
  absl::Duration duration = absl::ZeroDuration();  // --duration: e2e run length (0: default)
  std::string sender_binary;              // the qlaster-sender next to qlaster-bench
  std::string relay_binary;               // qlaster-relay, found the same way
  std::string grpc_binary;                // qlaster-grpc, found the same way
  std::string grpc_client_binary;         // qlaster_grpc_bench_client (tools/grpc_bench)
  std::string upstream_probe_binary;      // qlaster-upstream-probe (tools/bench/upstream_probe.cc)
  std::string udp_impair_binary;          // qlaster-udp-impair (built with the tests)
  std::string test_certs_script;          // tools/make_test_certs.sh
  std::string certs_dir;                  // --certs: certificates already made (empty: make them)
  std::string shm_dir = "/dev/shm";       // --shm_dir: where rings live
  bool update_log = true;                 // --update_log: the in-process sender keeps one
  std::string ring = "spsc";              // --ring: spsc (the default) or broadcast

  // The CPU for participant `i` (0 = the parent), or -1 (do not pin) when --cpus is empty.
  int Cpu(size_t i) const { return cpus.empty() ? -1 : cpus[i % cpus.size()]; }
};

// The synthetic feed's default rate (sender/main.cc): 20,000 accounts plus 3,700
// transactions per second; qlaster-sender --rate scales it.
inline constexpr double kSyntheticUpdatesPerSecond = 20000 + 3700;

// A latency distribution, ns.
struct Latency {
  uint64_t samples = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0, mean = 0;
  // (percentile, ns) at points spaced evenly in "nines" (50, 90, 99, ...) for plotting.
  std::vector<std::pair<double, double>> curve;

  // Summarizes `samples_ns` (sorted in place). Empty input gives samples == 0.
  static Latency FromSamples(std::vector<double>& samples_ns);
};

using ParamValue = std::variant<int64_t, double, std::string>;

struct Result {
  std::string scenario;  // "latency", "throughput", "fanout", "filter", "e2e", "commitment", ...
  // What was measured: "qlaster" for our code, or a baseline's name ("cacheline",
  // "eventfd", "unix_socket", "memcpy").
  std::string subject;
  std::vector<std::pair<std::string, ParamValue>> params;  // size, mode, consumers, ...
  std::optional<Latency> latency;
  std::optional<double> records_per_s;
  std::optional<double> bytes_per_s;
  std::optional<double> ns_per_op;  // a cost per operation (filter), median of repetitions
  // Further measured numbers: "sender_cpu_ns_per_update", "dropped", ...
  std::vector<std::pair<std::string, double>> metrics;
  // Baselines measured in the same run, compared with this result.
  std::vector<Result> baseline;

  Result& Param(std::string key, ParamValue v) {
    params.emplace_back(std::move(key), std::move(v));
    return *this;
  }
  Result& Metric(std::string key, double v) {
    metrics.emplace_back(std::move(key), v);
    return *this;
  }
  // The parameter named `key`, or nullptr.
  const ParamValue* FindParam(const std::string& key) const;
};

// "spin", "hybrid" (spin-then-sleep) or "sleep".
const char* ModeName(WaitMode mode);

// The scenarios. Each returns its results in the order they should be printed, or an
// error that says what failed (a child that died, a ring that could not be created).
absl::StatusOr<std::vector<Result>> RunLatency(const Config& config);
absl::StatusOr<std::vector<Result>> RunThroughput(const Config& config);
absl::StatusOr<std::vector<Result>> RunFanout(const Config& config);
// `fanout --ring broadcast`: one broadcast ring beside per-reader SPSC rings (the rings
// alone, without the sender); tools/bench/ring_fanout_scenario.cc.
absl::StatusOr<std::vector<Result>> RunRingFanout(const Config& config);
absl::StatusOr<std::vector<Result>> RunFilter(const Config& config);
absl::StatusOr<std::vector<Result>> RunE2e(const Config& config);
absl::StatusOr<std::vector<Result>> RunIngest(const Config& config);
absl::StatusOr<std::vector<Result>> RunReplay(const Config& config);
absl::StatusOr<std::vector<Result>> RunCommitment(const Config& config);
// `netbaseline`: UDP and TCP ping-pongs over loopback (pingpong.h), the kernel's own cost,
// for the relay's numbers to be read against; tools/bench/netbaseline_scenario.cc.
absl::StatusOr<std::vector<Result>> RunNetBaseline(const Config& config);
// `relay`: sender A -> qlaster-relay -> QUIC -> gateway sender B, real processes on
// loopback, beside the UDP and TCP ping-pongs; tools/bench/relay_scenario.cc.
absl::StatusOr<std::vector<Result>> RunRelay(const Config& config);
// Yellowstone gRPC clients through qlaster-grpc, beside the shared-memory path (grpc_scenario.cc).
absl::StatusOr<std::vector<Result>> RunGrpc(const Config& config);
// The Yellowstone source's part of `grpc` (yellowstone_source_scenario.cc).
absl::StatusOr<std::vector<Result>> RunYellowstoneSource(const Config& config);

// Pins the calling thread to `cpu` (no-op for -1). Errors name the CPU.
absl::Status PinToCpu(int cpu);

// Restores the calling thread's CPU affinity on destruction (scenarios pin the main
// thread; main.cc puts one around each scenario).
class AffinityGuard {
 public:
  AffinityGuard();
  ~AffinityGuard();
  AffinityGuard(const AffinityGuard&) = delete;
  AffinityGuard& operator=(const AffinityGuard&) = delete;

 private:
  cpu_set_t saved_;
  bool ok_;
};

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_SCENARIO_H_
