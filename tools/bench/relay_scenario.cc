// Scenario `relay`: the stream leaving the host. Real processes on loopback, each the
// binary a user runs:
//
//   qlaster-bench (writer) -> ingest ring -> qlaster-sender A -> A's ring -> qlaster-relay
//     -> QUIC, mutual TLS [-> qlaster-udp-impair] -> qlaster-sender B --source=quic:
//     -> B's ring -> qlaster-bench (consumer, libqlaster-consumer)
//
// The bench process is both the outside producer and the remote bot: it writes account
// (and transaction) frames into A's ingest ring, as any producer does (qlaster/ingest.h),
// and reads them back from its own ring on B. Each frame carries its number (an account's
// write_version, the first 8 bytes of a transaction's signature), so every update's
// latency is on one clock (CLOCK_MONOTONIC), from just before its write on A's side to the
// callback on B's: one way, through both senders and the relay, with no clock to share
// between hosts. What each run measures:
//  * latency: one account at a time (--size, 165 B by default), beside a UDP and a TCP
//    ping-pong of the same size (one way = half a round trip), measured in two halves
//    around ours in the same run (netbaseline_scenario.cc).
//  * throughput: accounts of 165 B, 3,762 B and 1 MiB written as fast as A's ingest ring
//    takes them; what B's consumer receives per second (first to last receipt), what was
//    dropped on the way (the gaps B's consumer was told about, with their counts), and the
//    CPU the relay spent per update written and the gateway per update received (/proc,
//    over the run; the bench's own writer and sender A are not counted).
//  * mainnet: 20,000 accounts/s + 3,700 transactions/s (--rate scales the total) for
//    --duration (10 s), paced, on the direct path, through the proxy with no impairment
//    (what the proxy's own hop costs), and through the proxy with 1% loss and 20 ms delay:
//    the latency of every update, and whether each arrived exactly once.
// A run fails if an update arrives twice, or if one neither arrives nor is covered by a
// gap. CPUs are not pinned: six parties share the machine, and the processes have threads
// of their own.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/base58.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "qlaster/consumer.hpp"
#include "qlaster/ingest.h"
#include "shm/mapped_region.h"
#include "tools/bench/pingpong.h"
#include "tools/bench/processes.h"
#include "tools/bench/scenario.h"
#include "wire/frame.h"

namespace qlaster::bench {
namespace {

// Frame numbers at and above this are probes, written until the path is up.
constexpr uint64_t kProbeBase = uint64_t{1} << 62;
// Where a frame's number goes, found in its encoding by this placeholder.
constexpr uint64_t kPlaceholder = 0x4b4d59414c455251ull;  // "QRELAYMK"
constexpr uint64_t kIngestCapacity = 64u << 20;
constexpr double kMainnetAccounts = 20'000;
constexpr double kMainnetTransactions = 3'700;

Pubkey RelayOwner() {
  Pubkey k{};
  const char tag[] = "qlaster-bench relay owner";
  std::memcpy(k.data(), tag, sizeof(tag) - 1);
  return k;
}

void FillIncompressible(std::vector<uint8_t>& bytes, uint64_t seed) {
  uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
  for (uint8_t& b : bytes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x >> 32);
  }
}

// An ingest payload (the frame without its header) with an 8-byte place for each copy's
// number.
struct NumberedFrame {
  uint32_t schema = 0;
  std::vector<uint8_t> payload;
  size_t at = 0;

  void Number(uint64_t i) { std::memcpy(payload.data() + at, &i, sizeof(i)); }
};

absl::StatusOr<NumberedFrame> Numbered(uint32_t schema, const EncodedUpdate& e) {
  std::vector<uint8_t> frame = e.ToBytes(0, 0);
  NumberedFrame f{.schema = schema,
                  .payload = std::vector<uint8_t>(frame.begin() + kFrameHeaderSize, frame.end())};
  uint8_t mark[sizeof(kPlaceholder)];
  std::memcpy(mark, &kPlaceholder, sizeof(mark));
  auto it = std::search(f.payload.begin(), f.payload.end(), std::begin(mark), std::end(mark));
  if (it == f.payload.end() ||
      std::search(it + 1, f.payload.end(), std::begin(mark), std::end(mark)) != f.payload.end()) {
    return absl::InternalError("the frame number's placeholder is not in the encoding exactly once");
  }
  f.at = static_cast<size_t>(it - f.payload.begin());
  return f;
}

absl::StatusOr<NumberedFrame> AccountFrame(uint64_t size) {
  AccountUpdate a;
  a.owner = RelayOwner();
  a.pubkey = RelayOwner();
  a.pubkey[31] = 9;
  a.lamports = 2'039'280;
  a.slot = 1;
  a.write_version = kPlaceholder;
  a.data.resize(size);
  FillIncompressible(a.data, 1);
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate e, EncodedUpdate::Account(a, Lz4Policy{.threshold = SIZE_MAX}));
  return Numbered(QLASTER_INGEST_SCHEMA_ACCOUNT, e);
}

absl::StatusOr<NumberedFrame> TransactionFrame(uint64_t size) {
  TransactionUpdate t;
  t.slot = 1;
  std::vector<uint8_t> sig(t.signature.size());
  FillIncompressible(sig, 2);
  std::memcpy(sig.data(), &kPlaceholder, sizeof(kPlaceholder));
  std::memcpy(t.signature.data(), sig.data(), sig.size());
  t.data.resize(size);
  FillIncompressible(t.data, 3);
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate e, EncodedUpdate::Transaction(t));
  return Numbered(QLASTER_INGEST_SCHEMA_TRANSACTION, e);
}

enum class Measure { kLatency, kThroughput, kPaced };

struct RelayRun {
  Measure measure;
  uint64_t size = 165;         // account data bytes
  uint64_t count = 0;          // latency: timed frames; throughput: frames
  uint64_t warmup = 0;         // latency: untimed frames first
  double rate = 0;             // paced: frames/s, accounts and transactions
  absl::Duration duration = absl::ZeroDuration();  // paced
  std::vector<std::string> impair = {};            // proxy flags
  bool proxy = false;
};

struct Outcome {
  std::vector<double> samples_ns;
  uint64_t written = 0;
  uint64_t received = 0;
  uint64_t dropped = 0;  // the sum of the gaps' counts
  uint64_t gaps = 0;
  int64_t first_write_ns = 0, last_write_ns = 0;
  int64_t first_receipt_ns = 0, last_receipt_ns = 0;
  uint64_t relay_cpu_ns = 0, gateway_cpu_ns = 0;
};

// The certificates tools/make_test_certs.sh makes, in `dir`.
absl::Status MakeCerts(const Config& config, const std::string& dir) {
  if (::access(config.test_certs_script.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no ", config.test_certs_script,
                                            ": pass --certs DIR made by tools/make_test_certs.sh"));
  }
  QLASTER_ASSIGN_OR_RETURN(ChildProcess script,
                           ChildProcess::Spawn({"/bin/sh", config.test_certs_script, dir}));
  absl::StatusOr<int> st = script.Wait(absl::Seconds(60));
  if (!st.ok()) return absl::DeadlineExceededError("make_test_certs.sh did not finish within 60 s");
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    return absl::InternalError(absl::StrCat("make_test_certs.sh ", DescribeWaitStatus(*st),
                                            " (it needs certtool, from gnutls-bin)"));
  }
  return absl::OkStatus();
}

// The processes of one run, each killed at the end; the ingest ring unlinked.
class Path {
 public:
  static absl::StatusOr<std::unique_ptr<Path>> Open(const Config& config, const std::string& certs,
                                                    const RelayRun& run) {
    auto path = std::unique_ptr<Path>(new Path());
    QLASTER_RETURN_IF_ERROR(path->Start(config, certs, run));
    return path;
  }
  ~Path() {
    if (!ring_.empty()) ::shm_unlink(("/" + ring_).c_str());
  }

  std::vector<Program*> programs() {
    std::vector<Program*> out;
    for (std::optional<Program>* p : {&gateway_, &proxy_, &sender_, &relay_}) {
      if (*p) out.push_back(&**p);
    }
    return out;
  }
  absl::Status Alive() {
    for (Program* p : programs()) QLASTER_RETURN_IF_ERROR(p->Alive());
    return absl::OkStatus();
  }
  // The tail of every program's log and both senders' counters, for an error.
  std::string Logs() {
    std::string out;
    for (const std::string* sock : {&sock_a_, &sock_b_}) {
      absl::StatusOr<StatsMsg> stats = QuerySenderStats(*sock);
      if (!stats.ok()) continue;
      absl::StrAppend(&out, "\n  ", sock == &sock_a_ ? "sender A" : "gateway B", ": published ",
                      stats->published, ", delivered ", stats->delivered, ", dropped ", stats->dropped);
      for (const SourceCounterEntry& c : stats->source_counters) {
        if (c.value != 0) absl::StrAppend(&out, ", ", c.name, " ", c.value);
      }
    }
    for (Program* p : programs()) absl::StrAppend(&out, "\n  ", p->name(), ": ", LogTail(p->log_path(), 1500));
    return out;
  }
  const std::string& gateway_socket() const { return sock_b_; }
  const std::string& ring() const { return ring_; }
  Program& relay() { return *relay_; }
  Program& gateway() { return *gateway_; }

  // The processes must still run, then exit 0 on SIGTERM.
  absl::Status Stop() {
    for (std::optional<Program>* p : {&relay_, &proxy_, &sender_, &gateway_}) {
      if (*p) QLASTER_RETURN_IF_ERROR((*p)->Stop());
    }
    return absl::OkStatus();
  }

 private:
  Path() = default;

  absl::Status Start(const Config& config, const std::string& certs, const RelayRun& run) {
    QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
    dir_.emplace(std::move(dir));
    const std::string& d = dir_->path();
    sock_a_ = d + "/a.sock";
    const std::string& sock_a = sock_a_;
    sock_b_ = d + "/b.sock";
    // The gateway first, on a port of its own choosing, found in its source's name.
    QLASTER_ASSIGN_OR_RETURN(
        Program gateway,
        Program::Start("gateway (qlaster-sender --source=quic:)",
                       {config.sender_binary, "--source=quic:127.0.0.1:0", "--tls_cert",
                        certs + "/server.pem", "--tls_key", certs + "/server.key", "--tls_ca",
                        certs + "/ca.pem", "--socket=" + sock_b_, "--shm_dir=" + config.shm_dir,
                        "--quiet"},
                       d + "/gateway.log"));
    gateway_.emplace(std::move(gateway));
    int port = 0;
    QLASTER_RETURN_IF_ERROR(WaitFor("the gateway's port", absl::Seconds(30), programs(), [&] {
      absl::StatusOr<StatsMsg> stats = QuerySenderStats(sock_b_);
      if (!stats.ok()) return false;
      for (const SourceCounterEntry& c : stats->source_counters) {
        if (absl::StartsWith(c.source, "quic:") &&
            absl::SimpleAtoi(c.source.substr(c.source.rfind(':') + 1), &port) && port > 0) {
          return true;
        }
      }
      return false;
    }));
    if (run.proxy) {
      if (config.udp_impair_binary.empty()) {
        return absl::NotFoundError("qlaster-udp-impair is built with the tests (QLASTER_BUILD_TESTS)");
      }
      std::vector<std::string> argv = {config.udp_impair_binary, "--listen", "127.0.0.1:0", "--to",
                                       absl::StrCat("127.0.0.1:", port), "--seed", "1"};
      argv.insert(argv.end(), run.impair.begin(), run.impair.end());
      QLASTER_ASSIGN_OR_RETURN(Program proxy, Program::Start("qlaster-udp-impair", argv, d + "/proxy.log"));
      proxy_.emplace(std::move(proxy));
      // Its first line: "listening 127.0.0.1:PORT".
      QLASTER_RETURN_IF_ERROR(WaitFor("the proxy's port", absl::Seconds(30), programs(), [&] {
        std::ifstream in(d + "/proxy.log");
        std::string line;
        if (!std::getline(in, line) || in.eof()) return false;  // not a whole line yet
        return absl::StartsWith(line, "listening 127.0.0.1:") &&
               absl::SimpleAtoi(line.substr(line.rfind(':') + 1), &port) && port > 0;
      }));
    }
    ring_ = absl::StrCat("qlaster_bench_relay_", ::getpid(), "_", ++runs_);
    QLASTER_ASSIGN_OR_RETURN(
        Program sender,
        Program::Start("sender A (qlaster-sender --source=ingest:)",
                       {config.sender_binary, "--source=ingest:" + ring_,
                        absl::StrCat("--ingest_capacity=", kIngestCapacity),
                        // Account data as written: the relay's cost, not LZ4's, is measured.
                        "--lz4_threshold=1099511627776",
                        // Polls that sleep: the default (10 us, spun) keeps one of this
                        // machine's two cores for itself, and measured worse even one
                        // update at a time (p50 285-323 us against 150-180 us).
                        "--ingest_poll=50us", "--socket=" + sock_a,
                        "--shm_dir=" + config.shm_dir, "--quiet"},
                       d + "/sender.log"));
    sender_.emplace(std::move(sender));
    QLASTER_RETURN_IF_ERROR(WaitFor("sender A", absl::Seconds(30), programs(),
                                    [&] { return QuerySenderStats(sock_a).ok(); }));
    const uint64_t ring_bytes = std::max<uint64_t>(64u << 20, 32 * run.size);
    QLASTER_ASSIGN_OR_RETURN(
        Program relay,
        Program::Start("qlaster-relay",
                       {config.relay_binary, "--socket", sock_a, "--to",
                        absl::StrCat("127.0.0.1:", port), "--tls_cert", certs + "/client.pem",
                        "--tls_key", certs + "/client.key", "--tls_ca", certs + "/ca.pem",
                        "--server_name", "localhost", "--owner", Base58Encode(RelayOwner()),
                        "--transactions", "all", "--name", "bench-relay",
                        absl::StrCat("--ring_bytes=", ring_bytes), "--stats_interval=0s"},
                       d + "/relay.log"));
    relay_.emplace(std::move(relay));
    return absl::OkStatus();
  }

  static inline int runs_ = 0;
  std::optional<TempDir> dir_;
  std::string sock_a_, sock_b_;
  std::string ring_;
  std::optional<Program> gateway_, proxy_, sender_, relay_;
};

// The bench's two ends: the ingest writer on A and the consumer on B, on this thread.
class Ends {
 public:
  static absl::StatusOr<std::unique_ptr<Ends>> Open(Path& path, const RelayRun& run) {
    auto ends = std::unique_ptr<Ends>(new Ends());
    QLASTER_RETURN_IF_ERROR(ends->Connect(path, run));
    return ends;
  }

  // Writes frame `i` of `frame`; while A's ingest ring is full, reads B.
  absl::Status Write(NumberedFrame& frame, uint64_t i, absl::Time deadline) {
    frame.Number(i);
    for (;;) {
      const int rc = qlaster_ingest_write(&writer_, frame.schema, frame.payload.data(),
                                          static_cast<uint32_t>(frame.payload.size()));
      if (rc == QLASTER_INGEST_OK) return absl::OkStatus();
      if (rc != QLASTER_INGEST_FULL) return absl::InvalidArgumentError("frame too large for the ingest ring");
      if (absl::Now() > deadline) return absl::DeadlineExceededError("A's ingest ring stayed full");
      QLASTER_ASSIGN_OR_RETURN(int n, Read());
      if (n == 0) absl::SleepFor(absl::Microseconds(20));  // sender A catching up: leave it the CPU
    }
  }

  // Delivers what B's ring holds to `on_update(number, receipt_ns)`; returns how many
  // events it read.
  absl::StatusOr<int> Read() {
    QLASTER_ASSIGN_OR_RETURN(int n, consumer_->Poll(handler_, 256));
    if (!broken_.empty()) return absl::UnavailableError(absl::StrCat("B disconnected the bench: ", broken_));
    return n;
  }
  // Until B's ring has something, or `timeout` (not an error).
  absl::Status Wait(absl::Duration timeout) {
    absl::Status s = consumer_->Wait(timeout);
    return absl::IsDeadlineExceeded(s) ? absl::OkStatus() : s;
  }

  // Every update numbered below kProbeBase; the gaps B's consumer was told about.
  std::function<void(uint64_t, int64_t)> on_update;
  uint64_t dropped = 0;
  uint64_t gaps = 0;
  uint64_t probes_seen = 0;

 private:
  Ends() = default;

  absl::Status Connect(Path& path, const RelayRun& run) {
    ConsumerOptions options;
    options.name = "qlaster-bench-relay";
    options.ring_bytes = std::max<uint64_t>(64u << 20, 32 * run.size);
    options.overflow = OverflowPolicy::kDropAndCount;
    options.wait_mode = WaitMode::kSpinThenSleep;
    options.auto_reconnect = false;
    absl::StatusOr<Consumer> consumer = absl::UnavailableError("not connected");
    QLASTER_RETURN_IF_ERROR(WaitFor("the bench's subscription on B", absl::Seconds(30), path.programs(), [&] {
      consumer = Consumer::Connect(path.gateway_socket(), options);
      return consumer.ok();
    }));
    consumer_.emplace(*std::move(consumer));
    const Pubkey owners[] = {RelayOwner()};
    QLASTER_RETURN_IF_ERROR(consumer_->Subscribe({}, owners, TransactionFilter::kAll).status());
    handler_ = [this](const Event& e) {
      uint64_t number = 0;
      if (const AccountEvent* a = e.account()) {
        number = a->write_version;
      } else if (const TransactionEvent* t = e.transaction()) {
        std::memcpy(&number, t->signature.data(), sizeof(number));
      } else if (const GapEvent* g = e.gap()) {
        ++gaps;
        dropped += g->dropped;
        return;
      } else {
        if (e.kind == EventKind::kDisconnected) broken_ = std::string(e.disconnected()->reason);
        return;
      }
      if (number >= kProbeBase) {
        ++probes_seen;
      } else if (on_update) {
        on_update(number, MonotonicNs());
      }
    };

    // A's ingest ring, once A has made it.
    UniqueFd fd;
    QLASTER_RETURN_IF_ERROR(WaitFor("A's ingest ring", absl::Seconds(30), path.programs(), [&] {
      fd = UniqueFd(::shm_open(("/" + path.ring()).c_str(), O_RDWR | O_CLOEXEC, 0));
      return fd.valid();
    }));
    QLASTER_ASSIGN_OR_RETURN(const size_t size, shm::FileSize(fd.get()));
    QLASTER_ASSIGN_OR_RETURN(shm::MappedRegion region, shm::MappedRegion::Map(fd.get(), size));
    region_.emplace(std::move(region));
    auto* header = reinterpret_cast<qlaster_ingest_header*>(region_->data());
    if (qlaster_ingest_check(header, size) != QLASTER_INGEST_OK) {
      return absl::DataLossError(absl::StrCat(path.ring(), " is not an ingest ring"));
    }
    writer_ = qlaster_ingest_writer{header, header->write_pos.load()};

    // Probes until one comes back: the relay is subscribed and its link up.
    QLASTER_ASSIGN_OR_RETURN(NumberedFrame probe, AccountFrame(8));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    for (uint64_t k = 0; probes_seen == 0; ++k) {
      QLASTER_RETURN_IF_ERROR(path.Alive());
      if (absl::Now() > deadline) return absl::DeadlineExceededError("no probe came back through the relay within 60s");
      QLASTER_RETURN_IF_ERROR(Write(probe, kProbeBase + k, deadline));
      QLASTER_RETURN_IF_ERROR(Wait(absl::Milliseconds(10)));
      QLASTER_RETURN_IF_ERROR(Read().status());
    }
    return absl::OkStatus();
  }

  std::optional<Consumer> consumer_;
  std::optional<shm::MappedRegion> region_;
  qlaster_ingest_writer writer_{};
  std::function<void(const Event&)> handler_;
  std::string broken_;
};

struct Cpu {
  uint64_t relay, gateway;
};
absl::StatusOr<Cpu> ReadCpu(Path& path) {
  QLASTER_ASSIGN_OR_RETURN(uint64_t relay, ProcessCpuNs(path.relay().pid()));
  QLASTER_ASSIGN_OR_RETURN(uint64_t gateway, ProcessCpuNs(path.gateway().pid()));
  return Cpu{relay, gateway};
}

absl::StatusOr<Outcome> MeasureOn(Path* path, const RelayRun& run);

// One run on a path of its own; an error quotes the programs' logs.
absl::StatusOr<Outcome> RunOnce(const Config& config, const std::string& certs, const RelayRun& run) {
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<Path> path, Path::Open(config, certs, run));
  absl::StatusOr<Outcome> out = MeasureOn(path.get(), run);
  if (!out.ok()) return absl::Status(out.status().code(), absl::StrCat(out.status().message(), path->Logs()));
  QLASTER_RETURN_IF_ERROR(path->Stop());
  return out;
}

absl::StatusOr<Outcome> MeasureOn(Path* path, const RelayRun& run) {
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<Ends> ends, Ends::Open(*path, run));
  QLASTER_ASSIGN_OR_RETURN(NumberedFrame account, AccountFrame(run.size));
  QLASTER_ASSIGN_OR_RETURN(NumberedFrame transaction, TransactionFrame(512));

  Outcome out;
  uint64_t total = 0;
  switch (run.measure) {
    case Measure::kLatency: total = run.warmup + run.count; break;
    case Measure::kThroughput: total = run.count; break;
    case Measure::kPaced:
      total = std::max<uint64_t>(1, static_cast<uint64_t>(run.rate * absl::ToDoubleSeconds(run.duration)));
      break;
  }
  std::vector<int64_t> written_ns(total + 1, 0);
  std::vector<bool> seen(total + 1, false);
  uint64_t duplicates = 0, strays = 0, last_seen = 0;
  out.samples_ns.reserve(run.measure == Measure::kLatency ? run.count : total);
  ends->on_update = [&](uint64_t i, int64_t now) {
    if (i == 0 || i > total) {
      ++strays;
      return;
    }
    if (seen[i]) {
      ++duplicates;
      return;
    }
    seen[i] = true;
    last_seen = std::max(last_seen, i);
    ++out.received;
    if (out.first_receipt_ns == 0) out.first_receipt_ns = now;
    out.last_receipt_ns = now;
    if (run.measure != Measure::kLatency || i > run.warmup) {
      out.samples_ns.push_back(static_cast<double>(now - written_ns[i]));
    }
  };
  // Accounts and transactions in the mainnet proportion when paced; accounts otherwise.
  const double tx_share = kMainnetTransactions / (kMainnetAccounts + kMainnetTransactions);
  auto frame_of = [&](uint64_t i) -> NumberedFrame& {
    if (run.measure != Measure::kPaced) return account;
    const auto tx_before = [&](uint64_t n) { return static_cast<uint64_t>(static_cast<double>(n) * tx_share); };
    return tx_before(i) > tx_before(i - 1) ? transaction : account;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(300) + run.duration;
  auto write = [&](uint64_t i) -> absl::Status {
    written_ns[i] = MonotonicNs();
    QLASTER_RETURN_IF_ERROR(ends->Write(frame_of(i), i, deadline));
    if (out.first_write_ns == 0) out.first_write_ns = written_ns[i];
    out.last_write_ns = MonotonicNs();
    ++out.written;
    return absl::OkStatus();
  };
  auto done = [&] { return out.received + ends->dropped >= out.written; };

  QLASTER_ASSIGN_OR_RETURN(Cpu before, ReadCpu(*path));
  if (run.measure == Measure::kLatency) {
    for (uint64_t i = 1; i <= total; ++i) {
      const uint64_t dropped_before = ends->dropped;
      QLASTER_RETURN_IF_ERROR(write(i));
      while (last_seen < i && ends->dropped == dropped_before) {
        if (absl::Now() > deadline) return absl::DeadlineExceededError(absl::StrCat("frame ", i, " never came back"));
        QLASTER_RETURN_IF_ERROR(ends->Wait(absl::Milliseconds(100)));
        QLASTER_RETURN_IF_ERROR(ends->Read().status());
        if ((i & 255) == 0) QLASTER_RETURN_IF_ERROR(path->Alive());
      }
    }
  } else if (run.measure == Measure::kThroughput) {
    for (uint64_t i = 1; i <= total; ++i) {
      QLASTER_RETURN_IF_ERROR(write(i));
      if ((i & 4095) == 0) QLASTER_RETURN_IF_ERROR(path->Alive());
    }
  } else {
    const double period_ns = 1e9 / run.rate;
    const int64_t start = MonotonicNs();
    uint64_t next = 1;
    while (next <= total) {
      const int64_t due = start + static_cast<int64_t>(static_cast<double>(next - 1) * period_ns);
      const int64_t now = MonotonicNs();
      if (now >= due) {
        QLASTER_RETURN_IF_ERROR(write(next++));
        continue;
      }
      QLASTER_ASSIGN_OR_RETURN(int n, ends->Read());
      if (n == 0) QLASTER_RETURN_IF_ERROR(ends->Wait(absl::Nanoseconds(std::min<int64_t>(due - now, 1'000'000))));
      if ((next & 4095) == 0) QLASTER_RETURN_IF_ERROR(path->Alive());
    }
  }
  // Everything written arrives, or is covered by a gap.
  // A slow path (loss and delay) may hold a backlog of up to --link_buffer_bytes per class.
  const absl::Time drain = std::min(deadline, absl::Now() + absl::Seconds(120));
  while (!done()) {
    QLASTER_RETURN_IF_ERROR(path->Alive());
    if (absl::Now() > drain) {
      return absl::DataLossError(absl::StrCat("of ", out.written, " updates written, B's consumer received ",
                                              out.received, " and was told of ", ends->dropped,
                                              " missed within 120 s of the last write"));
    }
    QLASTER_RETURN_IF_ERROR(ends->Wait(absl::Milliseconds(100)));
    QLASTER_RETURN_IF_ERROR(ends->Read().status());
  }
  QLASTER_ASSIGN_OR_RETURN(Cpu after, ReadCpu(*path));
  if (duplicates > 0 || strays > 0) {
    return absl::DataLossError(absl::StrCat("B's consumer received ", duplicates,
                                            " updates twice and ", strays, " never written"));
  }
  out.dropped = ends->dropped;
  out.gaps = ends->gaps;
  out.relay_cpu_ns = after.relay - before.relay;
  out.gateway_cpu_ns = after.gateway - before.gateway;
  return out;
}

Result Make(std::string measure, std::string subject, uint64_t size) {
  Result r;
  r.scenario = "relay";
  r.subject = std::move(subject);
  r.Param("measure", std::move(measure)).Param("size", static_cast<int64_t>(size));
  return r;
}

// The relay's CPU per update written (it reads every one from its ring, whatever the link
// then drops), the gateway's per update received.
void CpuMetrics(Result& r, const Outcome& o) {
  r.Metric("relay_cpu_ns_per_update",
           static_cast<double>(o.relay_cpu_ns) / static_cast<double>(std::max<uint64_t>(o.written, 1)))
      .Metric("gateway_cpu_ns_per_update",
              static_cast<double>(o.gateway_cpu_ns) / static_cast<double>(std::max<uint64_t>(o.received, 1)));
}

absl::Status Context(absl::Status s, const std::string& what) {
  return absl::Status(s.code(), absl::StrCat("relay ", what, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunRelay(const Config& config) {
  // The paced writer sleeps in short waits: no 50 us timer slack on them.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  QLASTER_ASSIGN_OR_RETURN(TempDir cert_dir, TempDir::Create());
  std::string certs = config.certs_dir;
  if (certs.empty()) {
    certs = cert_dir.path();
    QLASTER_RETURN_IF_ERROR(MakeCerts(config, certs));
  }
  std::vector<Result> results;

  // Latency, between the two halves of its baselines.
  const uint64_t size = config.size.value_or(165);
  if (size < 8 || size > (64u << 20)) return absl::InvalidArgumentError("relay: --size must be 8 B .. 64 MiB");
  // The baselines are one UDP datagram: latency for sizes that fit one.
  if (size <= 65'507) {
    PingPongOptions o;
    o.size = size;
    o.warmup = config.quick ? 50 : 1'000;
    o.iterations = config.quick ? 500 : 10'000;
    Samples udp, tcp;
    auto baselines = [&]() -> absl::Status {
      QLASTER_ASSIGN_OR_RETURN(Samples u, UdpPingPong(o));
      QLASTER_ASSIGN_OR_RETURN(Samples t, TcpPingPong(o));
      udp.insert(udp.end(), u.begin(), u.end());
      tcp.insert(tcp.end(), t.begin(), t.end());
      return absl::OkStatus();
    };
    QLASTER_RETURN_IF_ERROR(baselines());
    absl::StatusOr<Outcome> lat = RunOnce(config, certs,
                                          {.measure = Measure::kLatency,
                                           .size = size,
                                           .count = config.quick ? 500u : 20'000u,
                                           .warmup = config.quick ? 50u : 2'000u});
    if (!lat.ok()) return Context(lat.status(), "latency");
    QLASTER_RETURN_IF_ERROR(baselines());
    Result r = Make("latency", "qlaster", size);
    r.latency = Latency::FromSamples(lat->samples_ns);
    for (auto& [subject, samples] : {std::pair<const char*, Samples*>{"udp", &udp}, {"tcp", &tcp}}) {
      Result b = Make("latency", subject, size);
      b.latency = Latency::FromSamples(*samples);
      r.baseline.push_back(std::move(b));
    }
    results.push_back(std::move(r));
  }

  // Throughput.
  std::vector<std::pair<uint64_t, uint64_t>> sizes = {
      {165, config.quick ? 2'000 : 300'000},
      {3762, config.quick ? 1'000 : 100'000},
      {1u << 20, config.quick ? 10 : 500}};
  if (config.size) sizes = {{*config.size, config.quick ? 2'000 : (*config.size >= (1u << 20) ? 500 : 100'000)}};
  for (auto [bytes, count] : sizes) {
    absl::StatusOr<Outcome> t =
        RunOnce(config, certs, {.measure = Measure::kThroughput, .size = bytes, .count = count});
    if (!t.ok()) return Context(t.status(), absl::StrCat("throughput ", bytes, " B"));
    Result tr = Make("throughput", "qlaster", bytes);
    const double span = static_cast<double>(t->last_receipt_ns - t->first_receipt_ns) / 1e9;
    tr.records_per_s = span > 0 ? static_cast<double>(t->received) / span : 0;
    tr.bytes_per_s = *tr.records_per_s * static_cast<double>(bytes);
    tr.Metric("written", static_cast<double>(t->written))
        .Metric("received", static_cast<double>(t->received))
        .Metric("dropped", static_cast<double>(t->dropped))
        .Metric("gaps", static_cast<double>(t->gaps));
    CpuMetrics(tr, *t);
    results.push_back(std::move(tr));
  }

  // The mainnet rate: direct, through the proxy, through the proxy with loss and delay.
  // (A quick run paces slower: at the full rate the lossy path takes tens of seconds to
  // drain its backlog.)
  const double rate = config.rate.value_or(config.quick ? 2'000 : kMainnetAccounts + kMainnetTransactions);
  const absl::Duration duration = config.duration > absl::ZeroDuration()
                                      ? config.duration
                                      : (config.quick ? absl::Seconds(1) : absl::Seconds(10));
  struct PathKind {
    const char* name;
    bool proxy;
    std::vector<std::string> impair;
  };
  const PathKind paths[] = {{"direct", false, {}},
                            {"proxy", true, {}},
                            {"proxy, 1% loss, 20 ms delay", true, {"--drop", "0.01", "--delay", "20ms"}}};
  for (const PathKind& p : paths) {
    absl::StatusOr<Outcome> m = RunOnce(config, certs,
                                        {.measure = Measure::kPaced,
                                         .size = 165,
                                         .rate = rate,
                                         .duration = duration,
                                         .impair = p.impair,
                                         .proxy = p.proxy});
    if (!m.ok()) return Context(m.status(), absl::StrCat("mainnet rate, ", p.name));
    Result mr = Make("mainnet", "qlaster", 165);
    mr.Param("path", p.name).Param("rate", rate);
    mr.latency = Latency::FromSamples(m->samples_ns);
    const double span = static_cast<double>(m->last_write_ns - m->first_write_ns) / 1e9;
    mr.records_per_s = span > 0 ? static_cast<double>(m->written) / span : 0;
    mr.Metric("written", static_cast<double>(m->written))
        .Metric("received", static_cast<double>(m->received))
        .Metric("dropped", static_cast<double>(m->dropped));
    CpuMetrics(mr, *m);
    results.push_back(std::move(mr));
  }
  return results;
}

}  // namespace qlaster::bench
