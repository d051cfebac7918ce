// qlaster-udp-impair's proxy: one UDP address in front of an upstream one, forwarding each
// client's datagrams through an impaired path (impairment.h) and the upstream's replies
// back through another. One thread, epoll, a timerfd for the timer queue.
//
//   client A ──▶ listen socket ──[up path A]──▶ A's upstream socket ──▶ --to
//   client A ◀── listen socket ◀─[down path A]── A's upstream socket ◀──
//
// Clients are told apart by source address; each gets its own upstream socket (so the
// upstream sees one address per client, as it would without the proxy) and its own two
// paths, seeded from the proxy's seed and the client's ordinal (0 for the first client to
// send, 1 for the next...). A client is kept until the proxy exits; --max_clients bounds
// them. Send errors (a full buffer, an upstream that is not listening yet) lose the
// datagram and are counted, as a network would lose it: the proxy never stops for them.
//
// Control: the path can be cut ("blackhole") and restored per direction, by signal
// (SIGUSR1 cuts both directions, SIGUSR2 restores both) or through a control socket
// (Unix SOCK_SEQPACKET, one command per message: "blackhole [up|down|both]", "restore
// [up|down|both]", "stats"; each answered with one message: "ok ..." or "error ...",
// "stats" with the stats lines). Every change is also printed ("blackhole up" / "restore
// both"), after it applies: a datagram sent after that line is seen is under the new state.
//
// Output (the `out` stream, line by line, flushed): first "listening HOST:PORT" (the port
// actually bound, so callers can ask for port 0), then one "impair up|down SPEC" line each,
// then state changes, and stats lines on SIGTERM/SIGINT (then Run returns), on
// stats_interval and on request:
//   stats up received=N forwarded=N dropped=N duplicated=N reordered=N reorder_expired=N
//            delayed=N blackholed=N          (and the same for "stats down")
//   stats proxy clients=N refused_clients=N oversize=N send_errors=N receive_errors=N
#ifndef QLASTER_TOOLS_UDP_IMPAIR_PROXY_H_
#define QLASTER_TOOLS_UDP_IMPAIR_PROXY_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/udp_impair/impairment.h"

namespace qlaster::udp_impair {

enum class Direction { kUp, kDown, kBoth };

struct ProxyOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT or [V6]:PORT; port 0 picks one
  std::string to;                      // the upstream, HOST:PORT
  ImpairmentSpec up;                   // client -> upstream
  ImpairmentSpec down;                 // upstream -> client
  uint64_t seed = 1;
  int max_clients = 64;
  absl::Duration stats_interval = absl::ZeroDuration();  // 0: only on exit and request
  std::string control_socket;          // empty: none
  // Block SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 and take them through a signalfd.
  // REQUIRES (when true): no other thread of the process exists yet.
  bool handle_signals = true;
};

class Proxy {
 public:
  // Resolves and binds everything, so that a bad address fails here (kInvalidArgument),
  // before anything is printed. `out` must outlive the proxy.
  static absl::StatusOr<std::unique_ptr<Proxy>> Create(const ProxyOptions& options, FILE* out);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // The address bound, as printed: "127.0.0.1:40123" or "[::1]:40123".
  const std::string& listen_address() const;

  // Prints the startup lines and serves until SIGTERM or SIGINT (with handle_signals),
  // then prints the stats and returns OK. An error of the proxy's own (epoll, timerfd)
  // returns it.
  absl::Status Run();

 private:
  struct Impl;
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "up", "down", "both" (kInvalidArgument otherwise).
absl::StatusOr<Direction> ParseDirection(absl::string_view text);

}  // namespace qlaster::udp_impair

#endif  // QLASTER_TOOLS_UDP_IMPAIR_PROXY_H_
