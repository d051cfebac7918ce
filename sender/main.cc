// qlaster-sender: the daemon. Parses flags, opens the source, and runs the sender library.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "base/flags.h"
#include "base/log.h"
#include "base/paths.h"
#include "base/status_macros.h"
#include "sender/ingest_source.h"
#include "metrics/http_server.h"
#include "sender/quic_source.h"
#include "sender/replay_source.h"
#include "sender/sender.h"
#include "sender/synthetic_source.h"
#include "sender/yellowstone_source.h"
#include "base/base58.h"
#include "wire/yellowstone/grpc_log.h"

ABSL_FLAG(std::string, socket, "",
          "control socket path (default: $QLASTER_SOCKET, $XDG_RUNTIME_DIR/qlaster/sender.sock, "
          "or /run/qlaster/sender.sock)");
ABSL_FLAG(std::string, socket_mode, "0660", "socket file mode, octal");
ABSL_FLAG(std::vector<std::string>, source, {"synthetic"},
          "where updates come from, one or more (comma-separated): synthetic (a deterministic "
          "Solana-like feed, for demos and benchmarks), ingest:NAME (a shared-memory ring other "
          "processes write), replay:FILE (a qlaster-inspect --record file) or "
          "yellowstone:http://HOST:PORT (a Yellowstone gRPC upstream; https:// for TLS) or "
          "quic:ADDR:PORT (a relay gateway: qlaster-relay connects to it over QUIC with mutual "
          "TLS; needs --tls_cert, --tls_key, --tls_ca); repeat --source for several");
ABSL_FLAG(bool, exit_when_source_ends, false,
          "when every source has ended (a replay without --replay_loop, a "
          "--synthetic_duration), tell the consumers and exit 0; otherwise keep serving");
ABSL_FLAG(std::string, name, "qlaster-sender", "the sender's name, sent to consumers");
ABSL_FLAG(int, max_consumers, 64, "most consumers served at once (up to 1024)");
ABSL_FLAG(int64_t, max_keys_per_consumer, 100000,
          "most keys one consumer may hold: pubkeys and owners, named or not, and the account "
          "lists of transaction filters");
ABSL_FLAG(int64_t, max_total_keys, 2000000, "most keys of all consumers (as counted above)");
ABSL_FLAG(int, max_filters_per_kind, 16,
          "most named filters of one kind (accounts, transactions, ...) a consumer may hold "
          "(up to 16: each is a bit of an update's filter mask)");
ABSL_FLAG(int64_t, max_keys_per_filter, 100000,
          "most pubkeys + owners of one named account filter, and most keys of each account "
          "list of a transaction filter");
ABSL_FLAG(int, max_data_slices, 16, "most data slices a consumer may ask for (up to 64)");
ABSL_FLAG(int64_t, replay_slots, 150,
          "keep the updates of the newest this many slots (about a minute), for consumers that "
          "subscribe from a past slot (from_slot)");
ABSL_FLAG(int64_t, replay_bytes, int64_t{1} << 30,
          "at most this many bytes of updates kept for replay (the oldest go first)");
ABSL_FLAG(int64_t, commitment_buffer_bytes, int64_t{512} << 20,
          "beyond --replay_bytes, at most this many bytes of updates of slots not yet "
          "finalized, which confirmed and finalized consumers wait for; past it the oldest "
          "go, and those consumers get a gap with their count instead");
ABSL_FLAG(int64_t, ring_bytes, 64 << 20, "ring size for a consumer that asks for none");
ABSL_FLAG(int64_t, max_ring_bytes, 1 << 30, "largest ring a consumer may get");
ABSL_FLAG(std::string, shm_dir, "/dev/shm", "tmpfs directory for consumer rings");
ABSL_FLAG(absl::Duration, ping_interval, absl::Seconds(5), "keepalive ping interval");
ABSL_FLAG(absl::Duration, handshake_timeout, absl::Seconds(5),
          "close a connection that has not said Hello (or asked for statistics) by then");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(30),
          "evict a consumer silent for this long");
ABSL_FLAG(std::vector<std::string>, allow_uid, {}, "uids allowed to connect (default: any)");
ABSL_FLAG(std::vector<std::string>, allow_gid, {}, "gids allowed to connect (default: any)");
ABSL_FLAG(int64_t, ingest_capacity, QLASTER_INGEST_DEFAULT_CAPACITY,
          "ingest ring bytes, when the sender creates it");
ABSL_FLAG(int64_t, ingest_frame_size, QLASTER_INGEST_DEFAULT_FRAME_SIZE,
          "ingest slot bytes, when the sender creates it");
ABSL_FLAG(absl::Duration, ingest_poll, absl::Microseconds(10),
          "pause between polls when a source waits for input, such as an empty ingest ring; "
          "a pause under 20us is spun, not slept (the lowest latency, a core kept busy, as "
          "0 does); a longer one sleeps and leaves the core to others");
ABSL_FLAG(int64_t, lz4_threshold, 512 * 1024,
          "compress account data of at least this many bytes when it pays");
ABSL_FLAG(bool, quiet, false, "no per-connection log lines");
ABSL_FLAG(std::string, metrics_address, "",
          "serve Prometheus metrics at http://HOST:PORT/metrics (such as 127.0.0.1:9464; "
          "port 0 picks one and logs it); empty: no metrics endpoint");
ABSL_FLAG(int64_t, max_pending_per_uid, 32,
          "most connections of one peer uid that have not said Hello (more are refused with "
          "a reason); they never count against consumers");
ABSL_FLAG(int64_t, max_pending, 256, "most connections of all uids that have not said Hello");
ABSL_FLAG(absl::Duration, min_wake_interval, absl::Microseconds(100),
          "ring a sleeping consumer's doorbell at most once per this interval unless it "
          "read all it was last woken for (0: at every update it sleeps through); bounds "
          "what a consumer that keeps its sleeping flag set costs the dispatcher");
ABSL_FLAG(int64_t, max_consumers_per_uid, 0,
          "most consumers of one peer uid (0: only --max_consumers)");

// --source synthetic. Defaults are mainnet's (sender/synthetic_feed.h).
ABSL_FLAG(uint64_t, synthetic_seed, 1, "synthetic feed seed: the same seed gives the same feed");
ABSL_FLAG(absl::Duration, slot_interval, absl::Milliseconds(400),
          "synthetic slot interval (at least 200ms)");
ABSL_FLAG(double, rate, 1.0,
          "multiplies every synthetic rate (accounts, transactions, large accounts), not the "
          "slot interval");
ABSL_FLAG(bool, max_speed, false,
          "publish the synthetic feed as fast as possible, ignoring its timing (benchmarks)");
ABSL_FLAG(double, accounts_per_second, 20000, "synthetic account updates per second");
ABSL_FLAG(double, transactions_per_second, 3700, "synthetic transactions per second");
ABSL_FLAG(double, vote_fraction, 2.0 / 3.0, "share of synthetic transactions that are votes");
ABSL_FLAG(double, dead_slot_probability, 0.005, "probability that a synthetic slot is dead");
ABSL_FLAG(uint32_t, hot_accounts, 16, "synthetic hot accounts (AMM pools)");
ABSL_FLAG(double, hot_share, 0.30, "share of synthetic account updates that hit the hot set");
ABSL_FLAG(double, large_accounts_per_second, 0.1,
          "synthetic large (1-10 MiB) account updates per second, on top of the rest");
ABSL_FLAG(double, burstiness, 0.8,
          "0: synthetic updates spread evenly over each slot; 1: each burst at one instant");
ABSL_FLAG(absl::Duration, synthetic_duration, absl::InfiniteDuration(),
          "stop the synthetic source after this much feed time (benchmarks)");
ABSL_FLAG(bool, synthetic_stats, false, "print a synthetic feed summary every 10s");

// --source replay:FILE.
ABSL_FLAG(double, replay_speed, 1.0,
          "replay pace: 1 = as recorded, 2 = twice as fast, 0 = as fast as possible");
ABSL_FLAG(bool, replay_loop, false, "start the replay again at the end of the file");
ABSL_FLAG(int, replay_wait_for_consumers, 1,
          "start the replay once this many consumers are connected and something is "
          "subscribed (0: at once)");

// --source yellowstone:URL.
ABSL_FLAG(std::string, yellowstone_x_token, "",
          "x-token header sent to a yellowstone: upstream (empty: none)");
ABSL_FLAG(std::string, yellowstone_tls_ca, "",
          "PEM file of the CA a yellowstone:https:// upstream's certificate must chain to "
          "(empty: the system's roots)");
ABSL_FLAG(absl::Duration, yellowstone_max_backoff, absl::Seconds(5),
          "longest wait between reconnects to a yellowstone: upstream");
ABSL_FLAG(absl::Duration, yellowstone_idle_timeout, absl::Seconds(30),
          "reconnect to a yellowstone: upstream that sends nothing, not even a ping, this long");

// --source quic:ADDR:PORT (the relay gateway).
ABSL_FLAG(std::string, tls_cert, "", "quic: source: the gateway's certificate (PEM)");
ABSL_FLAG(std::string, tls_key, "", "quic: source: its private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "quic: source: the CA relays' certificates must chain to (PEM)");
ABSL_FLAG(bool, relay_dedup, true,
          "quic: source: publish an update that two relays deliver once (redundant paths)");

namespace {

template <typename T>
bool ParseIds(const std::vector<std::string>& in, std::vector<T>* out) {
  for (const std::string& s : in) {
    uint32_t v;
    if (!absl::SimpleAtoi(s, &v)) return false;
    out->push_back(static_cast<T>(v));
  }
  return true;
}

// Opens one --source.
absl::StatusOr<std::unique_ptr<qlaster::sender::Source>> OpenSource(const std::string& spec,
                                                                     const qlaster::Lz4Policy& lz4) {
  using namespace qlaster::sender;
  if (absl::StartsWith(spec, "ingest:")) {
    IngestOptions ingest;
    ingest.name = spec.substr(7);
    ingest.capacity = static_cast<uint64_t>(absl::GetFlag(FLAGS_ingest_capacity));
    ingest.frame_size = static_cast<uint64_t>(absl::GetFlag(FLAGS_ingest_frame_size));
    ingest.lz4 = lz4;
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<IngestSource> source, IngestSource::Open(ingest));
    return source;
  }
  if (spec == "synthetic") {
    SyntheticSourceOptions synthetic;
    SyntheticOptions& feed = synthetic.feed;
    feed.seed = absl::GetFlag(FLAGS_synthetic_seed);
    feed.slot_interval = absl::GetFlag(FLAGS_slot_interval);
    feed.rate = absl::GetFlag(FLAGS_rate);
    feed.accounts_per_second = absl::GetFlag(FLAGS_accounts_per_second);
    feed.transactions_per_second = absl::GetFlag(FLAGS_transactions_per_second);
    feed.vote_fraction = absl::GetFlag(FLAGS_vote_fraction);
    feed.dead_slot_probability = absl::GetFlag(FLAGS_dead_slot_probability);
    feed.hot_accounts = absl::GetFlag(FLAGS_hot_accounts);
    feed.hot_share = absl::GetFlag(FLAGS_hot_share);
    feed.large_accounts_per_second = absl::GetFlag(FLAGS_large_accounts_per_second);
    feed.burstiness = absl::GetFlag(FLAGS_burstiness);
    synthetic.max_speed = absl::GetFlag(FLAGS_max_speed);
    synthetic.duration = absl::GetFlag(FLAGS_synthetic_duration);
    synthetic.verbose = absl::GetFlag(FLAGS_synthetic_stats);
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<SyntheticSource> source,
                             SyntheticSource::Create(synthetic));
    // Something to subscribe to: the busiest accounts, and the owners of the rest.
    const std::vector<qlaster::Pubkey> hot = SyntheticFeed::HotAccounts(feed);
    if (!hot.empty()) {
      QLASTER_LOG(kInfo, "synthetic hot accounts include %s; owners %s (votes), %s (tokens)",
                  hot[0].ToBase58(), VoteProgramId().ToBase58(), TokenProgramId().ToBase58());
    }
    return source;
  }
  if (absl::StartsWith(spec, "replay:")) {
    ReplayOptions replay;
    replay.path = spec.substr(7);
    replay.speed = absl::GetFlag(FLAGS_replay_speed);
    replay.loop = absl::GetFlag(FLAGS_replay_loop);
    replay.wait_for_consumers =
        static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_replay_wait_for_consumers)));
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<ReplaySource> source, ReplaySource::Open(replay));
    return source;
  }
  if (absl::StartsWith(spec, "yellowstone:")) {
    YellowstoneOptions yellowstone;
    yellowstone.url = spec.substr(12);
    yellowstone.x_token = absl::GetFlag(FLAGS_yellowstone_x_token);
    if (const std::string ca = absl::GetFlag(FLAGS_yellowstone_tls_ca); !ca.empty()) {
      std::ifstream in(ca, std::ios::binary);
      std::ostringstream text;
      if (in) text << in.rdbuf();
      if (!in || text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("--yellowstone_tls_ca: cannot read a PEM certificate from ", ca));
      }
      yellowstone.tls_ca_pem = text.str();
    }
    yellowstone.max_backoff = absl::GetFlag(FLAGS_yellowstone_max_backoff);
    yellowstone.idle_timeout = absl::GetFlag(FLAGS_yellowstone_idle_timeout);
    yellowstone.min_backoff = std::min(yellowstone.min_backoff, yellowstone.max_backoff);
    yellowstone.lz4 = lz4;
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<YellowstoneSource> source,
                             YellowstoneSource::Open(yellowstone));
    return source;
  }
  if (absl::StartsWith(spec, "quic:")) {
    QuicSourceOptions quic;
    quic.listen = spec.substr(5);
    quic.tls_cert = absl::GetFlag(FLAGS_tls_cert);
    quic.tls_key = absl::GetFlag(FLAGS_tls_key);
    quic.tls_ca = absl::GetFlag(FLAGS_tls_ca);
    quic.dedup = absl::GetFlag(FLAGS_relay_dedup);
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<QuicSource> source, QuicSource::Open(quic));
    return source;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--source: '", spec,
      "' is not synthetic, ingest:NAME, replay:FILE, yellowstone:URL or quic:ADDR:PORT"));
}

// A failure to start or to keep running (exit 2), logged in the --log_format chosen.
int Fail(const std::string& message) {
  QLASTER_LOG(kError, "%s", message);
  return 2;
}

// Setting up from the flags: options the sender or a source rejects as invalid are a
// usage error (exit 64); anything else (a ring that cannot be created, a missing replay
// file, a live sender on the socket) is a failure to start (exit 2).
int FailSetup(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return qlaster::UsageError(status.message());
  }
  return Fail(status.ToString());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = qlaster::ParseFlags(
      argc, argv, "fans Solana updates out to local consumers over shared memory");
  if (args.size() > 1) {
    return qlaster::UsageError(absl::StrCat("unexpected argument '", args[1], "' (see --help)"));
  }
  qlaster::yellowstone::RouteGrpcLogs();  // for --source=yellowstone:
  using namespace qlaster::sender;

  SenderOptions options;
  ControlOptions& c = options.control;
  c.socket_path = absl::GetFlag(FLAGS_socket).empty() ? qlaster::DefaultSocketPath() : absl::GetFlag(FLAGS_socket);
  unsigned mode = 0;
  if (std::sscanf(absl::GetFlag(FLAGS_socket_mode).c_str(), "%o", &mode) != 1 || mode > 0777) {
    return qlaster::UsageError("--socket_mode must be an octal mode such as 0660");
  }
  c.socket_mode = static_cast<mode_t>(mode);
  c.sender_name = absl::GetFlag(FLAGS_name);
  c.shm_dir = absl::GetFlag(FLAGS_shm_dir);
  const int max_consumers = absl::GetFlag(FLAGS_max_consumers);
  if (max_consumers < 1 || max_consumers > static_cast<int>(kMaxConsumers)) {
    return qlaster::UsageError("--max_consumers must be in [1, 1024]");
  }
  c.limits.max_consumers = static_cast<size_t>(max_consumers);
  c.limits.max_keys_per_consumer = static_cast<size_t>(absl::GetFlag(FLAGS_max_keys_per_consumer));
  c.limits.max_total_keys = static_cast<size_t>(absl::GetFlag(FLAGS_max_total_keys));
  const int max_filters = absl::GetFlag(FLAGS_max_filters_per_kind);
  if (max_filters < 0 || max_filters > static_cast<int>(qlaster::kMaxFiltersPerKind)) {
    return qlaster::UsageError("--max_filters_per_kind must be in [0, 16]");
  }
  c.limits.max_filters_per_kind = static_cast<size_t>(max_filters);
  if (absl::GetFlag(FLAGS_max_keys_per_filter) < 0) {
    return qlaster::UsageError("--max_keys_per_filter must be >= 0");
  }
  c.limits.max_keys_per_filter = static_cast<size_t>(absl::GetFlag(FLAGS_max_keys_per_filter));
  const int max_slices = absl::GetFlag(FLAGS_max_data_slices);
  if (max_slices < 0 || max_slices > static_cast<int>(qlaster::kMaxDataSlices)) {
    return qlaster::UsageError("--max_data_slices must be in [0, 64]");
  }
  c.limits.max_data_slices = static_cast<size_t>(max_slices);
  const int64_t replay_slots = absl::GetFlag(FLAGS_replay_slots);
  const int64_t replay_bytes = absl::GetFlag(FLAGS_replay_bytes);
  const int64_t commitment_bytes = absl::GetFlag(FLAGS_commitment_buffer_bytes);
  if (replay_slots < 0 || replay_bytes < 0 || commitment_bytes < 0) {
    return qlaster::UsageError(
        "--replay_slots, --replay_bytes and --commitment_buffer_bytes must be >= 0");
  }
  if ((replay_slots == 0 || replay_bytes == 0) && commitment_bytes == 0) {
    options.update_log.reset();  // no replay, no commitment levels
  } else {
    options.update_log = UpdateLogOptions{.replay_slots = static_cast<size_t>(replay_slots),
                                          .replay_bytes = static_cast<size_t>(replay_bytes),
                                          .commitment_bytes = static_cast<size_t>(commitment_bytes)};
  }
  c.default_ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_ring_bytes));
  c.max_ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_max_ring_bytes));
  c.ping_interval = absl::GetFlag(FLAGS_ping_interval);
  c.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  c.handshake_timeout = absl::GetFlag(FLAGS_handshake_timeout);
  if (c.handshake_timeout <= absl::ZeroDuration() || c.idle_timeout <= absl::ZeroDuration() ||
      c.ping_interval <= absl::ZeroDuration()) {
    return qlaster::UsageError("--ping_interval, --idle_timeout and --handshake_timeout must be > 0");
  }
  c.verbose = !absl::GetFlag(FLAGS_quiet);
  if (!ParseIds(absl::GetFlag(FLAGS_allow_uid), &c.allowed_uids) ||
      !ParseIds(absl::GetFlag(FLAGS_allow_gid), &c.allowed_gids)) {
    return qlaster::UsageError("--allow_uid and --allow_gid take comma-separated numbers");
  }
  options.lz4.threshold = static_cast<size_t>(absl::GetFlag(FLAGS_lz4_threshold));
  const int64_t pending_per_uid = absl::GetFlag(FLAGS_max_pending_per_uid);
  const int64_t pending = absl::GetFlag(FLAGS_max_pending);
  const int64_t consumers_per_uid = absl::GetFlag(FLAGS_max_consumers_per_uid);
  if (pending_per_uid < 1 || pending < 1) {
    return qlaster::UsageError("--max_pending_per_uid and --max_pending must be >= 1");
  }
  if (consumers_per_uid < 0) return qlaster::UsageError("--max_consumers_per_uid must be >= 0");
  c.max_pending_per_uid = static_cast<size_t>(pending_per_uid);
  c.max_pending = static_cast<size_t>(pending);
  c.max_consumers_per_uid = static_cast<size_t>(consumers_per_uid);
  c.min_wake_interval = absl::GetFlag(FLAGS_min_wake_interval);
  if (c.min_wake_interval < absl::ZeroDuration()) {
    return qlaster::UsageError("--min_wake_interval must be >= 0");
  }
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!options.metrics_address.empty()) {
    if (absl::Status s = qlaster::metrics::HttpServer::CheckAddress(options.metrics_address); !s.ok()) {
      return qlaster::UsageError(s.message());
    }
  }

  const absl::Duration poll = absl::GetFlag(FLAGS_ingest_poll);
  if (poll < absl::ZeroDuration()) return qlaster::UsageError("--ingest_poll must be >= 0");
  options.runner.idle = poll == absl::ZeroDuration()
                            ? IdleStrategy{.kind = IdleKind::kSpin}
                            : IdleStrategy{.kind = IdleKind::kSleep, .sleep = poll};
  options.runner.serve_after_end = !absl::GetFlag(FLAGS_exit_when_source_ends);

  std::vector<std::unique_ptr<Source>> sources;
  const std::vector<std::string> specs = absl::GetFlag(FLAGS_source);
  if (specs.empty()) return qlaster::UsageError("--source: name at least one source");
  for (const std::string& spec : specs) {
    absl::StatusOr<std::unique_ptr<Source>> source = OpenSource(spec, options.lz4);
    if (!source.ok()) return FailSetup(source.status());
    sources.push_back(*std::move(source));
  }

  const std::string socket_path = c.socket_path;
  auto sender = Sender::Create(std::move(options));
  if (!sender.ok()) return FailSetup(sender.status());
  QLASTER_LOG(kInfo, "serving %s, sources %s", socket_path, absl::StrJoin(specs, ", "));
  std::vector<Source*> running;
  for (const auto& s : sources) running.push_back(s.get());
  absl::Status status = (*sender)->Run(running);
  if (!status.ok()) return Fail(status.ToString());
  return 0;
}
