// qlaster-grpc: a Yellowstone-compatible gRPC endpoint over a local qlaster-sender. Parses
// flags and runs grpc/server.h until SIGINT or SIGTERM.
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/base58.h"
#include "base/flags.h"
#include "base/log.h"
#include "grpc_server/server.h"
#include "metrics/http_server.h"
#include "qlaster/consumer.hpp"
#include "wire/yellowstone/grpc_log.h"

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
ABSL_FLAG(std::string, metrics_address, "",
          "serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any; empty: off)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve TLS on the TCP addresses (with --tls_key; the Unix "
          "socket stays plaintext)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, compression, "none",
          "Subscribe responses: none, or gzip (for clients whose grpc-accept-encoding lists "
          "gzip; gRPC-core clients list it by default); compressed requests are accepted "
          "either way");

// Yellowstone's filter limits (its config's grpc.filters), with its meanings. -1: no limit.
ABSL_FLAG(int64_t, limit_accounts_max, -1, "most named accounts filters in a request");
ABSL_FLAG(bool, limit_accounts_any, true,
          "allow an accounts filter that lists no account and no owner (every account)");
ABSL_FLAG(int64_t, limit_accounts_account_max, -1, "most `account` keys in one accounts filter");
ABSL_FLAG(std::vector<std::string>, limit_accounts_account_reject, {},
          "accounts no accounts filter may list in `account` (comma-separated base58)");
ABSL_FLAG(int64_t, limit_accounts_owner_max, -1, "most `owner` keys in one accounts filter");
ABSL_FLAG(std::vector<std::string>, limit_accounts_owner_reject, {},
          "owners no accounts filter may list in `owner` (comma-separated base58)");
ABSL_FLAG(int64_t, limit_accounts_data_slice_max, -1, "most accounts_data_slice entries");
ABSL_FLAG(int64_t, limit_slots_max, -1, "most named slots filters");
ABSL_FLAG(int64_t, limit_transactions_max, -1, "most named transactions filters");
ABSL_FLAG(bool, limit_transactions_any, true,
          "allow a transactions filter with no account_include, _exclude or _required keys");
ABSL_FLAG(int64_t, limit_transactions_account_include_max, -1,
          "most account_include keys in one transactions filter");
ABSL_FLAG(std::vector<std::string>, limit_transactions_account_include_reject, {},
          "accounts no transactions filter may list in account_include (comma-separated base58)");
ABSL_FLAG(int64_t, limit_transactions_account_exclude_max, -1,
          "most account_exclude keys in one transactions filter");
ABSL_FLAG(int64_t, limit_transactions_account_required_max, -1,
          "most account_required keys in one transactions filter");
ABSL_FLAG(int64_t, limit_transactions_status_max, -1, "most named transactions_status filters");
ABSL_FLAG(bool, limit_transactions_status_any, true,
          "allow a transactions_status filter with no account_include, _exclude or _required keys");
ABSL_FLAG(int64_t, limit_transactions_status_account_include_max, -1,
          "most account_include keys in one transactions_status filter");
ABSL_FLAG(std::vector<std::string>, limit_transactions_status_account_include_reject, {},
          "accounts no transactions_status filter may list in account_include (comma-separated base58)");
ABSL_FLAG(int64_t, limit_transactions_status_account_exclude_max, -1,
          "most account_exclude keys in one transactions_status filter");
ABSL_FLAG(int64_t, limit_transactions_status_account_required_max, -1,
          "most account_required keys in one transactions_status filter");
ABSL_FLAG(int64_t, limit_blocks_meta_max, -1, "most named blocks_meta filters");
ABSL_FLAG(int64_t, limit_entry_max, -1, "most named entry filters");

namespace {

// A --limit_*_max flag: -1 is no limit; below that is a usage error (*ok = false).
uint64_t Limit(const absl::Flag<int64_t>& flag, const char* name, bool* ok) {
  const int64_t v = absl::GetFlag(flag);
  if (v < -1) {
    qlaster::UsageError(absl::StrCat("--", name, " must be -1 (no limit) or >= 0"));
    *ok = false;
  }
  return v < 0 ? qlaster::grpc_endpoint::kNoLimit : static_cast<uint64_t>(v);
}

bool Keys(const absl::Flag<std::vector<std::string>>& flag, const char* name,
          std::vector<qlaster::Pubkey>* out) {
  for (const std::string& text : absl::GetFlag(flag)) {
    absl::StatusOr<qlaster::Pubkey> key = qlaster::DecodePubkey(text);
    if (!key.ok()) {
      qlaster::UsageError(absl::StrCat("--", name, ": '", text, "' is not a base58 public key"));
      return false;
    }
    out->push_back(*key);
  }
  return true;
}

bool ReadFile(const std::string& path, const char* flag, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().find("-----BEGIN ") == std::string::npos) {
    qlaster::UsageError(absl::StrCat("--", flag, ": cannot read a PEM file from ", path));
    return false;
  }
  *out = text.str();
  return true;
}

bool ParseLimits(qlaster::grpc_endpoint::FilterLimits* l) {
  bool ok = true;
#define QLASTER_LIMIT(field, name) l->field = Limit(FLAGS_##name, #name, &ok)
  QLASTER_LIMIT(accounts.max, limit_accounts_max);
  QLASTER_LIMIT(accounts.account_max, limit_accounts_account_max);
  QLASTER_LIMIT(accounts.owner_max, limit_accounts_owner_max);
  QLASTER_LIMIT(accounts.data_slice_max, limit_accounts_data_slice_max);
  QLASTER_LIMIT(slots_max, limit_slots_max);
  QLASTER_LIMIT(transactions.max, limit_transactions_max);
  QLASTER_LIMIT(transactions.account_include_max, limit_transactions_account_include_max);
  QLASTER_LIMIT(transactions.account_exclude_max, limit_transactions_account_exclude_max);
  QLASTER_LIMIT(transactions.account_required_max, limit_transactions_account_required_max);
  QLASTER_LIMIT(transactions_status.max, limit_transactions_status_max);
  QLASTER_LIMIT(transactions_status.account_include_max, limit_transactions_status_account_include_max);
  QLASTER_LIMIT(transactions_status.account_exclude_max, limit_transactions_status_account_exclude_max);
  QLASTER_LIMIT(transactions_status.account_required_max, limit_transactions_status_account_required_max);
  QLASTER_LIMIT(blocks_meta_max, limit_blocks_meta_max);
  QLASTER_LIMIT(entry_max, limit_entry_max);
#undef QLASTER_LIMIT
  l->accounts.any = absl::GetFlag(FLAGS_limit_accounts_any);
  l->transactions.any = absl::GetFlag(FLAGS_limit_transactions_any);
  l->transactions_status.any = absl::GetFlag(FLAGS_limit_transactions_status_any);
  return ok &&
         Keys(FLAGS_limit_accounts_account_reject, "limit_accounts_account_reject",
              &l->accounts.account_reject) &&
         Keys(FLAGS_limit_accounts_owner_reject, "limit_accounts_owner_reject",
              &l->accounts.owner_reject) &&
         Keys(FLAGS_limit_transactions_account_include_reject,
              "limit_transactions_account_include_reject",
              &l->transactions.account_include_reject) &&
         Keys(FLAGS_limit_transactions_status_account_include_reject,
              "limit_transactions_status_account_include_reject",
              &l->transactions_status.account_include_reject);
}

}  // namespace

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
  qlaster::yellowstone::RouteGrpcLogs();
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
  if (!ParseLimits(&o.limits)) return qlaster::kExitUsage;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) return qlaster::UsageError("--tls_cert and --tls_key: give both or neither");
  if (!cert.empty() && (!ReadFile(cert, "tls_cert", &o.tls_cert_pem) || !ReadFile(key, "tls_key", &o.tls_key_pem))) {
    return qlaster::kExitUsage;
  }
  const std::string compression = absl::GetFlag(FLAGS_compression);
  if (compression != "gzip" && compression != "none") {
    return qlaster::UsageError(absl::StrCat("--compression: '", compression, "' is not gzip or none"));
  }
  o.gzip = compression == "gzip";
  o.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!o.metrics_address.empty()) {
    if (absl::Status s = qlaster::metrics::HttpServer::CheckAddress(o.metrics_address); !s.ok()) {
      return qlaster::UsageError(s.message());
    }
  }

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
  if (const std::string m = (*server)->metrics_address(); !m.empty()) {
    QLASTER_LOG(kInfo, "metrics at http://%s/metrics", m);
  }
  int sig = 0;
  sigwait(&signals, &sig);
  QLASTER_LOG(kInfo, "signal %d, shutting down", sig);
  (*server)->Shutdown();
  return 0;
}
