// qlaster-relay: forwards a local sender's stream to gateways on other hosts over QUIC.
// Parses flags, starts relay/relay.h, and runs until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/base58.h"
#include "base/flags.h"
#include "base/log.h"
#include "qlaster/types.hpp"
#include "metrics/http_server.h"
#include "relay/metrics.h"
#include "relay/relay.h"

ABSL_FLAG(std::string, socket, "", "the local qlaster-sender's socket (default: as consumers find it)");
ABSL_FLAG(std::vector<std::string>, to, {},
          "a gateway to forward to, HOST:PORT (UDP; repeat --to for several)");
ABSL_FLAG(std::string, tls_cert, "", "this relay's certificate (PEM); gateways require one");
ABSL_FLAG(std::string, tls_key, "", "its private key (PEM)");
ABSL_FLAG(std::string, tls_ca, "", "the CA the gateways' certificates must chain to (PEM)");
ABSL_FLAG(std::string, server_name, "",
          "the name the gateways' certificates must carry (default: each --to host)");
ABSL_FLAG(std::vector<std::string>, account, {}, "accounts to forward (base58; repeatable)");
ABSL_FLAG(std::vector<std::string>, owner, {}, "forward accounts owned by these programs");
ABSL_FLAG(std::string, transactions, "none", "transactions to forward: none, all or nonvote");
ABSL_FLAG(bool, transaction_status, false, "forward transaction statuses");
ABSL_FLAG(bool, slots, false, "forward slot updates");
ABSL_FLAG(bool, blocks_meta, false, "forward block meta updates");
ABSL_FLAG(bool, entries, false, "forward entry updates");
ABSL_FLAG(int64_t, replay_bytes, 64 << 20,
          "messages kept for a gateway that reconnects (oldest dropped first)");
ABSL_FLAG(int64_t, link_buffer_bytes, 8 << 20,
          "bytes queued per class stream before the relay drops (and reports a gap) rather "
          "than wait for a slow path");
ABSL_FLAG(int64_t, ring_bytes, 0, "ring size to ask the sender for (0: its default)");
ABSL_FLAG(std::string, name, "qlaster-relay", "this relay's name (the sender and gateways show it)");
ABSL_FLAG(absl::Duration, stats_interval, absl::Seconds(10),
          "log the relay's counters this often (0: never)");
ABSL_FLAG(std::string, metrics_address, "",
          "serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any; empty: off)");

namespace {

absl::StatusOr<std::vector<qlaster::Pubkey>> Keys(const char* flag, const std::vector<std::string>& values) {
  std::vector<qlaster::Pubkey> out;
  for (const std::string& v : values) {
    absl::StatusOr<qlaster::Pubkey> key = qlaster::DecodePubkey(v);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": '", v, "' is not a base58 pubkey (", key.status().message(), ")"));
    }
    out.push_back(*key);
  }
  return out;
}

// The subscription the flags ask for: one named filter per kind asked for.
absl::StatusOr<qlaster::Subscription> SubscriptionFromFlags() {
  qlaster::Subscription sub;
  absl::StatusOr<std::vector<qlaster::Pubkey>> accounts = Keys("account", absl::GetFlag(FLAGS_account));
  if (!accounts.ok()) return accounts.status();
  absl::StatusOr<std::vector<qlaster::Pubkey>> owners = Keys("owner", absl::GetFlag(FLAGS_owner));
  if (!owners.ok()) return owners.status();
  if (!accounts->empty() || !owners->empty()) {
    sub.accounts["relay"] = qlaster::AccountFilter{.pubkeys = *accounts, .owners = *owners};
  }
  const std::string tx = absl::GetFlag(FLAGS_transactions);
  if (tx == "all") {
    sub.transactions["relay"] = qlaster::TransactionSelector{};
  } else if (tx == "nonvote") {
    sub.transactions["relay"] = qlaster::TransactionSelector{.vote = false};
  } else if (tx != "none") {
    return absl::InvalidArgumentError(absl::StrCat("--transactions: '", tx, "' is not none, all or nonvote"));
  }
  if (absl::GetFlag(FLAGS_transaction_status)) sub.transaction_statuses["relay"] = {};
  if (absl::GetFlag(FLAGS_slots)) sub.slots["relay"] = qlaster::SlotSelector{};
  if (absl::GetFlag(FLAGS_blocks_meta)) sub.blocks_meta.insert("relay");
  if (absl::GetFlag(FLAGS_entries)) sub.entries.insert("relay");
  if (sub == qlaster::Subscription{}) {
    return absl::InvalidArgumentError(
        "nothing to forward: give --account, --owner, --transactions, --transaction_status, "
        "--slots, --blocks_meta or --entries");
  }
  return sub;
}

void LogStats(qlaster::relay::Relay& relay) {
  const qlaster::relay::RelayStats s = relay.Stats();
  std::vector<std::string> links;
  for (const auto& [target, c] : s.links) {
    links.push_back(absl::StrCat(target, (c.live ? " up" : " down"), " sent=", c.updates_sent,
                                 " resumed=", c.resumed_messages, " gaps=", c.gaps_sent,
                                 " dropped=", c.dropped, " connects=", c.connects,
                                 " cwnd=", c.cwnd, " in_flight=", c.bytes_in_flight,
                                 " unsent=", c.unsent_bytes, " srtt_us=", c.smoothed_rtt_us));
  }
  QLASTER_LOG(kInfo, "relay: updates=%d local_gaps=%d queue_drops=%d replay_held=%d evicted=%d; %s",
              s.updates, s.local_gaps, s.queue_drops, s.replay_held_bytes, s.replay_evicted,
              absl::StrJoin(links, "; "));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args = qlaster::ParseFlags(
      argc, argv, "forwards a local qlaster-sender's stream to gateways over QUIC");
  if (args.size() > 1) {
    return qlaster::UsageError(absl::StrCat("unexpected argument '", args[1], "' (see --help)"));
  }
  qlaster::relay::RelayOptions o;
  o.socket = absl::GetFlag(FLAGS_socket);
  o.targets = absl::GetFlag(FLAGS_to);
  o.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls_key = absl::GetFlag(FLAGS_tls_key);
  o.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  o.server_name = absl::GetFlag(FLAGS_server_name);
  o.name = absl::GetFlag(FLAGS_name);
  if (absl::GetFlag(FLAGS_replay_bytes) <= 0 || absl::GetFlag(FLAGS_link_buffer_bytes) <= 0 ||
      absl::GetFlag(FLAGS_ring_bytes) < 0) {
    return qlaster::UsageError("--replay_bytes and --link_buffer_bytes must be > 0, --ring_bytes >= 0");
  }
  o.replay_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_replay_bytes));
  o.max_unsent_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_link_buffer_bytes));
  o.ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_ring_bytes));
  if (o.targets.empty()) return qlaster::UsageError("--to: name at least one gateway HOST:PORT");
  if (o.tls_ca.empty()) return qlaster::UsageError("--tls_ca is required (the gateways are verified)");
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return qlaster::UsageError("--tls_cert and --tls_key go together");
  }
  if (o.tls_cert.empty()) {
    QLASTER_LOG(kWarning, "no --tls_cert: this relay presents no certificate, and gateways "
                          "(which require one) will refuse it");
  }
  absl::StatusOr<qlaster::Subscription> sub = SubscriptionFromFlags();
  if (!sub.ok()) return qlaster::UsageError(sub.status().message());
  o.subscription = *std::move(sub);
  const absl::Duration stats_interval = absl::GetFlag(FLAGS_stats_interval);
  const std::string metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!metrics_address.empty()) {
    if (absl::Status st = qlaster::metrics::HttpServer::CheckAddress(metrics_address); !st.ok()) {
      return qlaster::UsageError(absl::StrCat("--metrics_address: ", st.message()));
    }
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<qlaster::relay::Relay>> relay = qlaster::relay::Relay::Start(o);
  if (!relay.ok()) {
    if (relay.status().code() == absl::StatusCode::kInvalidArgument) {
      return qlaster::UsageError(relay.status().message());
    }
    QLASTER_LOG(kError, "%s", relay.status().ToString());
    return 2;
  }
  std::unique_ptr<qlaster::metrics::HttpServer> metrics;
  if (!metrics_address.empty()) {
    qlaster::relay::Relay* r = relay->get();
    absl::StatusOr<std::unique_ptr<qlaster::metrics::HttpServer>> m = qlaster::metrics::HttpServer::Start(
        metrics_address,
        [r, name = o.name]() -> std::optional<std::string> {
          const qlaster::relay::RelayStats s = r->Stats();
          if (s.session_id == 0) return std::nullopt;  // the network thread did not answer
          return qlaster::relay::RenderRelayMetrics(s, name);
        },
        {.server = "qlaster-relay", .unavailable = "qlaster-relay did not answer in time\n"});
    if (!m.ok()) {
      QLASTER_LOG(kError, "--metrics_address %s: %s", metrics_address, m.status().ToString());
      (*relay)->Stop();
      return 2;
    }
    metrics = *std::move(m);
    QLASTER_LOG(kInfo, "metrics at http://%s/metrics", metrics->address());
  }
  for (;;) {
    const absl::Duration wait = stats_interval > absl::ZeroDuration() ? stats_interval : absl::Hours(1);
    const timespec ts = absl::ToTimespec(wait);
    const int sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0) {
      QLASTER_LOG(kInfo, "signal %d, shutting down", sig);
      break;
    }
    if (!(*relay)->consumer_status().ok()) {
      metrics.reset();
      (*relay)->Stop();
      return 1;
    }
    if (stats_interval > absl::ZeroDuration()) LogStats(**relay);
  }
  LogStats(**relay);
  metrics.reset();  // no scrape reads the relay once it stops
  (*relay)->Stop();
  return 0;
}
