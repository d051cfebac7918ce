// qlaster-grpc: a Yellowstone-compatible gRPC endpoint over a local qlaster-sender. Parses
// flags and runs grpc/server.h until SIGINT or SIGTERM.
#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/flags.h"
#include "base/log.h"
#include "grpc_server/server.h"
#include "qlaster/consumer.hpp"

ABSL_FLAG(std::string, socket, "", "the qlaster-sender's socket (default: as consumers find it)");
ABSL_FLAG(std::vector<std::string>, listen, {"127.0.0.1:10000"},
          "addresses to serve on: HOST:PORT (port 0: any) or unix:PATH; repeat or comma-separate");
ABSL_FLAG(std::string, x_token, "", "require this x-token metadata on every call");
ABSL_FLAG(std::string, x_token_file, "",
          "read the x-token from this file (its first line; keeps it out of ps and flag files)");
ABSL_FLAG(std::string, overflow, "evict",
          "a stream that does not keep up: evict (the stream ends, RESOURCE_EXHAUSTED) or drop "
          "(updates are dropped for it and counted)");
ABSL_FLAG(absl::Duration, slow_client_timeout, absl::Seconds(10),
          "end a stream whose client has not read an update for this long");
ABSL_FLAG(int64_t, ring_bytes, 0, "ring per stream (0: the sender's default)");
ABSL_FLAG(int, max_streams, 256, "most Subscribe streams served at once");
ABSL_FLAG(int, max_request_bytes, 4 << 20, "largest request message accepted");
ABSL_FLAG(absl::Duration, server_ping_interval, absl::Seconds(10), "Subscribe ping interval");

int main(int argc, char** argv) {
  // --listen may be repeated (Abseil keeps only the last occurrence of a flag): join them.
  std::vector<char*> args;
  std::vector<std::string> listens;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--listen" || a == "-listen") && i + 1 < argc) {
      listens.push_back(argv[++i]);
    } else if (a.rfind("--listen=", 0) == 0 || a.rfind("-listen=", 0) == 0) {
      listens.push_back(a.substr(a.find('=') + 1));
    } else {
      args.push_back(argv[i]);
    }
  }
  std::string joined = absl::StrCat("--listen=", absl::StrJoin(listens, ","));
  if (!listens.empty()) args.push_back(joined.data());
  args.push_back(nullptr);
  std::vector<char*> positional = qlaster::ParseFlags(
      static_cast<int>(args.size()) - 1, args.data(), "serves a local qlaster-sender's updates as Yellowstone gRPC (geyser.Geyser)");
  if (positional.size() > 1) {
    return qlaster::UsageError(absl::StrCat("unexpected argument '", positional[1], "'"));
  }
  qlaster::grpc_endpoint::ServerOptions o;
  o.sender_socket = absl::GetFlag(FLAGS_socket);
  if (o.sender_socket.empty()) o.sender_socket = qlaster::DefaultSocketPath();
  o.listen = absl::GetFlag(FLAGS_listen);
  o.x_token = absl::GetFlag(FLAGS_x_token);
  if (const std::string path = absl::GetFlag(FLAGS_x_token_file); !path.empty()) {
    if (!o.x_token.empty()) return qlaster::UsageError("--x_token and --x_token_file: give one");
    std::ifstream in(path);
    if (!in || !std::getline(in, o.x_token)) {
      return qlaster::UsageError(absl::StrCat("--x_token_file: cannot read a line from ", path));
    }
    while (!o.x_token.empty() && (o.x_token.back() == '\r' || o.x_token.back() == ' ')) o.x_token.pop_back();
    if (o.x_token.empty()) return qlaster::UsageError(absl::StrCat("--x_token_file: ", path, " is empty"));
  }
  const std::string overflow = absl::GetFlag(FLAGS_overflow);
  if (overflow == "evict") {
    o.overflow = qlaster::OverflowPolicy::kEvict;
  } else if (overflow == "drop") {
    o.overflow = qlaster::OverflowPolicy::kDropAndCount;
  } else {
    return qlaster::UsageError(absl::StrCat("--overflow: '", overflow, "' is not evict or drop"));
  }
  o.slow_client_timeout = absl::GetFlag(FLAGS_slow_client_timeout);
  o.ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_ring_bytes));
  o.max_streams = absl::GetFlag(FLAGS_max_streams);
  o.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  o.server_ping_interval = absl::GetFlag(FLAGS_server_ping_interval);
  o.version = QLASTER_VERSION;

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<qlaster::grpc_endpoint::Server>> server =
      qlaster::grpc_endpoint::Server::Start(o);
  if (!server.ok()) {
    QLASTER_LOG(kError, "%s", server.status().ToString());
    return 1;
  }
  std::vector<std::string> where;
  std::vector<int> ports = (*server)->ports();
  size_t tcp = 0;
  for (const std::string& l : o.listen) {
    if (l.rfind("unix:", 0) == 0) {
      where.push_back(l);
    } else {
      where.push_back(absl::StrCat(l.substr(0, l.rfind(':')), ":", ports[tcp++]));
    }
  }
  QLASTER_LOG(kInfo, "serving on %s (sender %s)", absl::StrJoin(where, ", "),
              o.sender_socket);
  int sig = 0;
  sigwait(&signals, &sig);
  QLASTER_LOG(kInfo, "signal %d, shutting down", sig);
  (*server)->Shutdown();
  return 0;
}
