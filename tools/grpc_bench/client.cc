// qlaster_grpc_bench_client: one Yellowstone Subscribe stream in C++ (gRPC's sync API), for
// `qlaster-bench grpc` and tools/grpc_bench/run.py --client=cpp: counts the updates it
// receives for a while and measures their latency from `created_at` (the sender's publish
// time) to receipt. Prints one JSON line: {"n", "rate", "p50_us", "p99_us", "ended"}.
// With OUT_PREFIX it also creates OUT_PREFIX.ready at its first update and writes, for
// every update, its receipt time and its latency (CLOCK_REALTIME ns, two native int64s) to
// OUT_PREFIX.samples, for its reader to keep those of a window of its own.
// SIGTERM ends it as SECONDS running out does (exit 0, results written).
//
// Usage: qlaster_grpc_bench_client TARGET SECONDS OWNER[,OWNER...] [OUT_PREFIX]
#include <signal.h>
#include <time.h>

#include <fstream>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "geyser.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace {

volatile sig_atomic_t stop_requested = 0;

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s TARGET SECONDS OWNERS [OUT_PREFIX]\n", argv[0]);
    return 64;
  }
  const std::string out_prefix = argc == 5 ? argv[4] : "";
  const double seconds = std::atof(argv[2]);
  struct sigaction sa{};
  sa.sa_handler = [](int) { stop_requested = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  auto stub = geyser::Geyser::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Subscribe(&ctx);
  geyser::SubscribeRequest r;
  for (absl::string_view owner : absl::StrSplit(argv[3], ',')) {
    (*r.mutable_accounts())["a"].add_owner(std::string(owner));
  }
  (*r.mutable_transactions())["t"];
  (*r.mutable_slots())["s"];
  stream->Write(r);
  geyser::SubscribeUpdate u;
  std::vector<int64_t> lat;
  lat.reserve(1 << 20);
  std::vector<int64_t> received_at;  // beside lat, with OUT_PREFIX
  if (!out_prefix.empty()) received_at.reserve(lat.capacity());
  int64_t n = 0, start = 0, now = 0;
  bool done = false;  // measured for `seconds`; otherwise the server ended the stream
  while (stream->Read(&u)) {
    now = NowNs();
    if (start == 0) {
      start = now;
      if (!out_prefix.empty()) std::ofstream(out_prefix + ".ready").put('1');
      continue;
    }
    ++n;
    if (u.has_created_at() && lat.size() < lat.capacity()) {
      lat.push_back(now - (u.created_at().seconds() * 1'000'000'000 + u.created_at().nanos()));
      if (!out_prefix.empty()) received_at.push_back(now);
    }
    if (stop_requested || now - start > static_cast<int64_t>(seconds * 1e9)) {
      done = true;
      break;
    }
  }
  if (done) ctx.TryCancel();
  grpc::Status status = stream->Finish();
  const double elapsed = static_cast<double>(now - start) / 1e9;
  if (!out_prefix.empty()) {
    std::ofstream out(out_prefix + ".samples", std::ios::binary | std::ios::trunc);
    for (size_t i = 0; i < lat.size(); ++i) {
      const int64_t pair[2] = {received_at[i], lat[i]};
      out.write(reinterpret_cast<const char*>(pair), sizeof(pair));
    }
    if (!out) {
      std::fprintf(stderr, "cannot write %s.samples\n", out_prefix.c_str());
      return 1;
    }
  }
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) {
    return lat.empty() ? 0.0 : static_cast<double>(lat[static_cast<size_t>(q * (lat.size() - 1))]) / 1e3;
  };
  std::string ended;
  if (!done) {
    ended = std::to_string(status.error_code()) + ": ";
    for (char c : status.error_message()) ended += (c == '"' || c == '\\') ? '\'' : c;
  }
  std::printf("{\"n\": %lld, \"rate\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"ended\": \"%s\"}\n",
              static_cast<long long>(n), elapsed > 0 ? n / elapsed : 0.0, at(0.5), at(0.99),
              ended.c_str());
  return 0;
}
