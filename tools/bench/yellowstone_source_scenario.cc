// The `grpc` scenario's last part: the Yellowstone source's added latency and throughput.
//
//   an upstream in this process (geyser.Geyser/Subscribe, gRPC C++)
//     -> qlaster-sender --source=yellowstone:http://127.0.0.1:PORT
//     -> qlaster-upstream-probe (libqlaster-consumer, tools/bench/upstream_probe.cc)
//
// The upstream sends accounts of one owner, each with the time (CLOCK_REALTIME) at which
// it is handed to gRPC in its lamports. The probe splits each account's latency at the
// sender's publish: upstream (upstream send -> the sender's publish: gRPC, protobuf
// parse, conversion to a frame, the source's queue), local (the publish -> the probe's
// callback, the shared-memory path) and total. Two phases on one sender and stream:
// `paced` sends kPacedRate accounts/s on absolute deadlines; `max` hands gRPC as many as
// it takes (a blocking Write: flow control paces it), and the source's rate is the
// result. The sender's CPU time over each phase is reported beside it.
#include <unistd.h>

#include <fcntl.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "geyser.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/processes.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr double kPacedRate = 2000;  // accounts/s
constexpr size_t kDataBytes = 165;   // a Token account's size
constexpr uint8_t kOwnerByte = 0x5b;  // the owner: 32 bytes of it

// One batch of accounts for the upstream to send: `count` at `rate`/s (0: as fast as
// gRPC takes them), numbered from `first`.
struct Job {
  uint64_t first = 0;
  uint64_t count = 0;
  double rate = 0;
};

// geyser.Geyser/Subscribe for one client at a time: reads its first request, then sends
// the jobs it is given until the call ends.
class Upstream final : public geyser::Geyser::Service {
 public:
  grpc::Status Subscribe(grpc::ServerContext* context,
                         grpc::ServerReaderWriter<geyser::SubscribeUpdate, geyser::SubscribeRequest>* stream) override {
    geyser::SubscribeRequest request;
    if (!stream->Read(&request)) return grpc::Status::OK;
    // The source's later requests (answers to pings) are read, so that they never block it.
    std::thread reader([stream] {
      geyser::SubscribeRequest r;
      while (stream->Read(&r)) {
      }
    });
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++streams_;
    }
    cv_.notify_all();
    grpc::Status status = Serve(context, stream);
    context->TryCancel();  // ends the reader's Read
    reader.join();
    return status;
  }

  // Waits for a stream, runs `job` on it and waits until it has all been handed to gRPC.
  absl::Status Run(const Job& job, absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const absl::Time deadline = absl::Now() + timeout;
    auto wait = [&](auto done, const char* what) -> absl::Status {
      while (!done()) {
        if (absl::Now() >= deadline) return absl::DeadlineExceededError(what);
        cv_.wait_for(lock, std::chrono::milliseconds(50));
      }
      return absl::OkStatus();
    };
    QLASTER_RETURN_IF_ERROR(wait([&] { return streams_ > 0; }, "the sender did not subscribe upstream"));
    job_ = job;
    ++jobs_given_;
    cv_.notify_all();
    return wait([&] { return jobs_done_ == jobs_given_ || !error_.ok(); }, "the upstream's job did not finish");
  }

  absl::Status error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  void Shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

 private:
  grpc::Status Serve(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<geyser::SubscribeUpdate, geyser::SubscribeRequest>* stream) {
    geyser::SubscribeUpdate update;
    geyser::SubscribeUpdateAccountInfo* info = update.mutable_account()->mutable_account();
    info->set_owner(std::string(32, static_cast<char>(kOwnerByte)));
    info->set_data(std::string(kDataBytes, '\0'));
    for (uint64_t done = 0;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        while (jobs_given_ == done && !stopping_ && !context->IsCancelled()) {
          cv_.wait_for(lock, std::chrono::milliseconds(50));
        }
        if (jobs_given_ == done) return grpc::Status::OK;  // stopping, or cancelled
        job = job_;
      }
      const absl::Time start = absl::Now();
      for (uint64_t i = 0; i < job.count; ++i) {
        if (job.rate > 0) {
          const absl::Time due = start + absl::Seconds(static_cast<double>(i) / job.rate);
          if (const absl::Duration left = due - absl::Now(); left > absl::ZeroDuration()) absl::SleepFor(left);
        }
        const uint64_t n = job.first + i;
        std::string key(32, '\0');
        for (int b = 0; b < 8; ++b) key[b] = static_cast<char>(n >> (8 * b));
        info->set_pubkey(key);
        info->set_write_version(n + 1);
        update.mutable_account()->set_slot(1000 + n / 400);
        info->set_lamports(RealtimeNs());
        if (!stream->Write(update)) {
          std::lock_guard<std::mutex> lock(mu_);
          error_ = absl::UnavailableError("the sender's stream ended during a job");
          cv_.notify_all();
          return grpc::Status::CANCELLED;
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      jobs_done_ = ++done;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int streams_ = 0;
  Job job_;
  uint64_t jobs_given_ = 0;
  uint64_t jobs_done_ = 0;
  bool stopping_ = false;
  absl::Status error_;
};

// The owner as the probe takes it: 64 hex digits.
std::string OwnerHex() {
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += absl::StrFormat("%02x", kOwnerByte);
  return hex;
}

// The probe's percentiles of one part ("total_ns", ...), from its JSON line.
absl::StatusOr<Latency> PartOf(const std::string& json, const std::string& part) {
  const size_t at = json.find("\"" + part + "\":{");
  if (at == std::string::npos) return absl::DataLossError(absl::StrCat("the probe's result has no ", part));
  const size_t open = json.find('{', at);
  const std::string body = json.substr(open + 1, json.find('}', open) - open - 1);
  Latency l;
  for (absl::string_view field : absl::StrSplit(body, ',')) {
    const std::vector<std::string> kv = absl::StrSplit(field, ':');
    double v = 0;
    if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &v)) {
      return absl::DataLossError(absl::StrCat("the probe's ", part, ": '", std::string(field), "'"));
    }
    if (kv[0] == "\"p50\"") l.p50 = v;
    if (kv[0] == "\"p90\"") l.p90 = v;
    if (kv[0] == "\"p99\"") l.p99 = v;
    if (kv[0] == "\"p999\"") l.p999 = v;
    if (kv[0] == "\"p9999\"") l.p9999 = v;
    if (kv[0] == "\"max\"") l.max = v;
  }
  return l;
}

absl::StatusOr<double> NumberOf(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  double v = 0;
  if (at == std::string::npos) return absl::DataLossError(absl::StrCat("the probe's result has no ", key));
  const size_t from = at + key.size() + 3;
  if (!absl::SimpleAtod(json.substr(from, json.find_first_of(",}", from) - from), &v)) {
    return absl::DataLossError(absl::StrCat("the probe's ", key, " is not a number"));
  }
  return v;
}

// One phase: a probe subscribes, the upstream sends `job`, the probe reports.
absl::StatusOr<std::vector<Result>> RunPhase(const Config& config, const std::string& phase, Upstream& upstream,
                                             Program& sender, const std::string& socket,
                                             const std::string& dir, const Job& job) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  UniqueFd probe_stdin(pipe_fds[0]), keep_open(pipe_fds[1]);  // closing it makes the probe report
  const std::string log = absl::StrCat(dir, "/probe-", phase, ".log");
  QLASTER_ASSIGN_OR_RETURN(
      Program probe, Program::Start("qlaster-upstream-probe",
                                    {config.upstream_probe_binary, socket, OwnerHex(), absl::StrCat(job.count)},
                                    log, {{probe_stdin.get(), 0}}));
  probe_stdin.Reset();
  QLASTER_RETURN_IF_ERROR(WaitFor("the probe's subscription", absl::Seconds(30), {&sender, &probe}, [&] {
    std::ifstream in(log);
    std::string line;
    return std::getline(in, line) && line == "READY";
  }));
  QLASTER_ASSIGN_OR_RETURN(uint64_t cpu_before, ProcessCpuNs(sender.pid()));
  const absl::Time start = absl::Now();
  QLASTER_RETURN_IF_ERROR(upstream.Run(job, absl::Seconds(300)));
  // Every account handed to gRPC reaches the probe unless one is lost on the way (then
  // it reports what it has when its stdin closes).
  absl::Status received = WaitFor("the probe's last account", absl::Seconds(60), {&sender}, [&] {
    return !probe.Alive().ok();
  });
  QLASTER_ASSIGN_OR_RETURN(uint64_t cpu_after, ProcessCpuNs(sender.pid()));
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  if (!received.ok()) {
    keep_open.Reset();
    QLASTER_RETURN_IF_ERROR(WaitFor("the probe's report", absl::Seconds(10), {&sender}, [&] {
      return !probe.Alive().ok();
    }));
  }
  std::ifstream in(log);
  std::string json;
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, "{\"received\":")) json = line;
  }
  if (json.empty()) return probe.Failed("printed no result");
  QLASTER_ASSIGN_OR_RETURN(double got, NumberOf(json, "received"));
  QLASTER_ASSIGN_OR_RETURN(double gaps, NumberOf(json, "gaps"));
  QLASTER_ASSIGN_OR_RETURN(double first_ns, NumberOf(json, "first_ns"));
  QLASTER_ASSIGN_OR_RETURN(double last_ns, NumberOf(json, "last_ns"));
  const double span = (last_ns - first_ns) / 1e9;

  std::vector<Result> out;
  for (const char* part : {"total_ns", "upstream_ns", "local_ns"}) {
    Result r;
    r.scenario = "grpc";
    r.subject = "yellowstone_source";
    r.Param("phase", phase)
        .Param("rate", job.rate > 0 ? absl::StrCat(job.rate, "/s") : std::string("max"))
        .Param("part", std::string(part, std::strlen(part) - 3));
    QLASTER_ASSIGN_OR_RETURN(Latency l, PartOf(json, part));
    l.samples = static_cast<uint64_t>(got);
    r.latency = l;
    if (span > 0 && got > 1) r.records_per_s = (got - 1) / span;
    r.Metric("accounts_sent", static_cast<double>(job.count))
        .Metric("accounts_received", got)
        .Metric("gaps", gaps)
        .Metric("sender_cpu_ns_per_account", static_cast<double>(cpu_after - cpu_before) / std::max(1.0, got))
        .Metric("wall_s", wall);
    out.push_back(std::move(r));
  }
  if (got != static_cast<double>(job.count)) {
    return absl::DataLossError(absl::StrCat("yellowstone source, ", phase, ": the probe received ", got,
                                            " of ", job.count, " accounts (", gaps, " reported as gaps)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunYellowstoneSource(const Config& config) {
  if (::access(config.upstream_probe_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("no program at ", config.upstream_probe_binary,
                                            " (build qlaster-upstream-probe)"));
  }
  Upstream upstream;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&upstream);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::UnavailableError("the upstream could not listen on 127.0.0.1");
  struct Down {
    Upstream& u;
    grpc::Server& s;
    ~Down() {
      u.Shutdown();
      s.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    }
  } down{upstream, *server};

  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string socket = dir.path() + "/sender.sock";
  QLASTER_ASSIGN_OR_RETURN(
      Program sender,
      Program::Start("qlaster-sender",
                     {config.sender_binary, "--socket=" + socket, "--shm_dir=" + config.shm_dir, "--quiet",
                      absl::StrCat("--source=yellowstone:http://127.0.0.1:", port)},
                     dir.path() + "/sender.log"));
  QLASTER_RETURN_IF_ERROR(WaitFor("the sender's socket", absl::Seconds(30), {&sender},
                                  [&] { return ::access(socket.c_str(), F_OK) == 0; }));
  const uint64_t paced = config.quick ? 200 : 10'000;
  const uint64_t max_count = config.quick ? 2'000 : 100'000;
  std::vector<Result> out;
  QLASTER_ASSIGN_OR_RETURN(std::vector<Result> a,
                           RunPhase(config, "paced", upstream, sender, socket, dir.path(),
                                    {.first = 0, .count = paced, .rate = kPacedRate}));
  QLASTER_ASSIGN_OR_RETURN(std::vector<Result> b,
                           RunPhase(config, "max", upstream, sender, socket, dir.path(),
                                    {.first = paced, .count = max_count, .rate = 0}));
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  QLASTER_RETURN_IF_ERROR(upstream.error());
  upstream.Shutdown();
  QLASTER_RETURN_IF_ERROR(sender.Stop());
  return out;
}

}  // namespace qlaster::bench
