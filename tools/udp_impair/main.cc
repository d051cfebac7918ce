// qlaster-udp-impair: a UDP proxy that loses, delays, duplicates and reorders datagrams at
// set rates, seeded, and cuts the path on demand; for tests over loopback on a kernel
// without netem. This file only parses flags; proxy.h says what the proxy does and prints.
//
//   qlaster-udp-impair --listen 127.0.0.1:0 --to 127.0.0.1:7000 --drop 0.01 --delay 20ms
//   qlaster-udp-impair --to 127.0.0.1:7000 --up drop=0.05 --down delay=20ms,jitter=5ms
//   kill -USR1 PID   (cut both ways)   kill -USR2 PID   (restore)   kill -TERM PID (stats, exit)
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/flags.h"
#include "tools/udp_impair/impairment.h"
#include "tools/udp_impair/proxy.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to receive clients on, HOST:PORT (port 0: any)");
ABSL_FLAG(std::string, to, "", "the upstream to forward to, HOST:PORT (required)");
ABSL_FLAG(double, drop, 0, "probability that a datagram is lost, both directions");
ABSL_FLAG(double, duplicate, 0, "probability that a datagram is sent twice, both directions");
ABSL_FLAG(double, reorder, 0,
          "probability that a datagram is held back behind the next --reorder_distance ones, "
          "both directions");
ABSL_FLAG(int, reorder_distance, 1, "how many later datagrams overtake a held one");
ABSL_FLAG(absl::Duration, reorder_timeout, absl::Milliseconds(100),
          "a held datagram goes anyway after this long");
ABSL_FLAG(absl::Duration, delay, absl::ZeroDuration(), "delay added to every datagram, both directions");
ABSL_FLAG(absl::Duration, jitter, absl::ZeroDuration(),
          "uniform jitter in [-jitter, +jitter] around --delay (floor 0), both directions");
ABSL_FLAG(std::string, up, "",
          "client -> upstream impairments, over the ones above: drop=P,duplicate=P,reorder=P,"
          "delay=D,jitter=D,reorder_distance=N,reorder_timeout=D");
ABSL_FLAG(std::string, down, "", "upstream -> client impairments, as --up");
ABSL_FLAG(uint64_t, seed, 1, "seed of every decision: the same seed, the same datagrams impaired");
ABSL_FLAG(int, max_clients, 64, "client addresses served (each with its own upstream socket)");
ABSL_FLAG(absl::Duration, stats_interval, absl::ZeroDuration(),
          "print the counters this often (0: only on SIGTERM/SIGINT and on request)");
ABSL_FLAG(std::string, control_socket, "",
          "a Unix SOCK_SEQPACKET socket taking 'blackhole [up|down|both]', 'restore [...]', 'stats'");

int main(int argc, char** argv) {
  std::vector<char*> args = qlaster::ParseFlags(
      argc, argv,
      "qlaster-udp-impair --to HOST:PORT [--listen HOST:PORT] [--drop P] [--delay D] [--jitter D] "
      "[--duplicate P] [--reorder P] [--up SPEC] [--down SPEC] [--seed N] [--control_socket PATH]\n"
      "  forwards UDP datagrams to --to and the replies back, impaired; prints 'listening "
      "HOST:PORT' first; SIGUSR1 cuts the path, SIGUSR2 restores it, SIGTERM prints the counters "
      "and exits");
  if (args.size() > 1) return qlaster::UsageError(absl::StrCat("unexpected argument '", args[1], "' (see --help)"));
  namespace ui = qlaster::udp_impair;
  qlaster::udp_impair::ProxyOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.to = absl::GetFlag(FLAGS_to);
  ui::ImpairmentSpec both;
  both.drop = absl::GetFlag(FLAGS_drop);
  both.duplicate = absl::GetFlag(FLAGS_duplicate);
  both.reorder = absl::GetFlag(FLAGS_reorder);
  both.reorder_distance = absl::GetFlag(FLAGS_reorder_distance);
  both.reorder_timeout = absl::GetFlag(FLAGS_reorder_timeout);
  both.delay = absl::GetFlag(FLAGS_delay);
  both.jitter = absl::GetFlag(FLAGS_jitter);
  if (absl::Status s = ui::ValidateSpec(both); !s.ok()) return qlaster::UsageError(absl::StrCat("--", s.message()));
  absl::StatusOr<ui::ImpairmentSpec> up = ui::ParseSpec(absl::GetFlag(FLAGS_up), both);
  if (!up.ok()) return qlaster::UsageError(absl::StrCat("--up: ", up.status().message()));
  absl::StatusOr<ui::ImpairmentSpec> down = ui::ParseSpec(absl::GetFlag(FLAGS_down), both);
  if (!down.ok()) return qlaster::UsageError(absl::StrCat("--down: ", down.status().message()));
  options.up = *up;
  options.down = *down;
  if (options.to.empty()) return qlaster::UsageError("--to HOST:PORT is required");
  options.seed = absl::GetFlag(FLAGS_seed);
  options.max_clients = absl::GetFlag(FLAGS_max_clients);
  options.stats_interval = absl::GetFlag(FLAGS_stats_interval);
  options.control_socket = absl::GetFlag(FLAGS_control_socket);

  absl::StatusOr<std::unique_ptr<ui::Proxy>> proxy = ui::Proxy::Create(options, stdout);
  if (!proxy.ok()) {
    if (absl::IsInvalidArgument(proxy.status())) return qlaster::UsageError(proxy.status().message());
    std::fprintf(stderr, "%s: %s\n", qlaster::ProgramName().c_str(), std::string(proxy.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*proxy)->Run(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", qlaster::ProgramName().c_str(), std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
