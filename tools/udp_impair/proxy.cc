// The epoll loop of qlaster-udp-impair. See proxy.h.
#include "tools/udp_impair/proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"

namespace qlaster::udp_impair {
namespace {

// What an epoll event is about: the kind in the high 32 bits, an index in the low.
enum Kind : uint64_t { kListen = 1, kUpstream, kSignal, kTimer, kControlListen, kControlConn };
uint64_t Tag(Kind kind, uint32_t index = 0) { return (static_cast<uint64_t>(kind) << 32) | index; }

// Datagrams taken from one socket per readiness event before the others get a turn.
constexpr int kReceiveBudget = 256;
constexpr size_t kMaxControlConnections = 16;
constexpr size_t kMaxControlMessage = 256;

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  // The bytes that identify a client: family, address and port only.
  std::string Key() const {
    if (storage.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      return absl::StrCat("4", std::string(reinterpret_cast<const char*>(&in->sin_addr), 4),
                          std::string(reinterpret_cast<const char*>(&in->sin_port), 2));
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    return absl::StrCat("6", std::string(reinterpret_cast<const char*>(&in6->sin6_addr), 16),
                        std::string(reinterpret_cast<const char*>(&in6->sin6_port), 2));
  }
  std::string ToString() const {
    char host[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
      return absl::StrCat(host, ":", ntohs(in->sin_port));
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(in6->sin6_port));
  }
};

// "HOST:PORT" or "[V6]:PORT"; HOST may be a name.
absl::StatusOr<SocketAddress> Resolve(absl::string_view flag, absl::string_view text) {
  std::string host;
  std::string port;
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": expected HOST:PORT, got '", std::string(text), "'"));
  }
  host = std::string(text.substr(0, colon));
  port = std::string(text.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port_number;
  if (host.empty() || !absl::SimpleAtoi(port, &port_number) || port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": expected HOST:PORT, got '", std::string(text), "'"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot resolve '", host, "': ", ::gai_strerror(rc)));
  }
  SocketAddress a;
  std::memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  a.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return a;
}

absl::StatusOr<UniqueFd> UdpSocket(int family) {
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  // Room for bursts: a delayed path releases many datagrams at once.
  const int bytes = 4 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  return fd;
}

const char* DirectionName(Direction d) {
  return d == Direction::kUp ? "up" : d == Direction::kDown ? "down" : "both";
}

std::string CountersText(const Counters& c) {
  return absl::StrCat("received=", c.received, " forwarded=", c.forwarded, " dropped=", c.dropped,
                      " duplicated=", c.duplicated, " reordered=", c.reordered,
                      " reorder_expired=", c.reorder_expired, " delayed=", c.delayed,
                      " blackholed=", c.blackholed);
}

}  // namespace

absl::StatusOr<Direction> ParseDirection(absl::string_view text) {
  if (text == "up") return Direction::kUp;
  if (text == "down") return Direction::kDown;
  if (text == "both" || text.empty()) return Direction::kBoth;
  return absl::InvalidArgumentError(absl::StrCat("expected up, down or both, got '", std::string(text), "'"));
}

struct Proxy::Impl {
  struct Client {
    SocketAddress address;
    UniqueFd upstream;  // connected to the upstream address
    ImpairedPath up;
    ImpairedPath down;
  };

  ProxyOptions options;
  FILE* out = nullptr;
  SocketAddress upstream_address;
  std::string listen_text;
  UniqueFd listen_fd;
  UniqueFd epoll_fd;
  UniqueFd timer_fd;
  UniqueFd signal_fd;
  UniqueFd control_listen_fd;
  std::vector<UniqueFd> control_conns;  // a closed one leaves a free slot (its index is its tag)
  std::vector<std::unique_ptr<Client>> clients;
  absl::flat_hash_map<std::string, uint32_t> client_index;
  bool blackhole_up = false;
  bool blackhole_down = false;
  int64_t next_stats_ns = -1;
  int64_t armed_ns = -2;  // what timer_fd is set to (-1: disarmed)
  bool stopping = false;
  // Counts of the proxy itself.
  uint64_t refused_clients = 0;
  uint64_t oversize = 0;
  uint64_t send_errors = 0;
  uint64_t receive_errors = 0;
  std::vector<uint8_t> buffer = std::vector<uint8_t>(kMaxDatagram + 1);
  std::vector<std::vector<uint8_t>> due;

  ~Impl() {
    if (!options.control_socket.empty() && control_listen_fd.valid()) ::unlink(options.control_socket.c_str());
  }

  void Print(const std::string& line) {
    std::fprintf(out, "%s\n", line.c_str());
    std::fflush(out);
  }

  absl::Status Watch(int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoStatus(errno, "epoll_ctl");
    return absl::OkStatus();
  }

  absl::Status Setup() {
    QLASTER_ASSIGN_OR_RETURN(upstream_address, Resolve("--to", options.to));
    QLASTER_ASSIGN_OR_RETURN(SocketAddress listen, Resolve("--listen", options.listen));
    QLASTER_ASSIGN_OR_RETURN(listen_fd, UdpSocket(listen.storage.ss_family));
    if (::bind(listen_fd.get(), listen.get(), listen.length) != 0) {
      return ErrnoStatus(errno, absl::StrCat("--listen: bind ", listen.ToString()));
    }
    SocketAddress bound;
    bound.length = sizeof(bound.storage);
    if (::getsockname(listen_fd.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
      return ErrnoStatus(errno, "getsockname");
    }
    listen_text = bound.ToString();
    epoll_fd.Reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd.valid()) return ErrnoStatus(errno, "epoll_create1");
    timer_fd.Reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer_fd.valid()) return ErrnoStatus(errno, "timerfd_create");
    QLASTER_RETURN_IF_ERROR(Watch(listen_fd.get(), Tag(kListen)));
    QLASTER_RETURN_IF_ERROR(Watch(timer_fd.get(), Tag(kTimer)));
    if (options.handle_signals) {
      sigset_t set;
      sigemptyset(&set);
      for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
      if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return ErrnoStatus(errno, "sigprocmask");
      signal_fd.Reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
      if (!signal_fd.valid()) return ErrnoStatus(errno, "signalfd");
      QLASTER_RETURN_IF_ERROR(Watch(signal_fd.get(), Tag(kSignal)));
    }
    if (!options.control_socket.empty()) {
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      if (options.control_socket.size() >= sizeof(un.sun_path)) {
        return absl::InvalidArgumentError("--control_socket: path too long");
      }
      std::memcpy(un.sun_path, options.control_socket.data(), options.control_socket.size());
      control_listen_fd.Reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!control_listen_fd.valid()) return ErrnoStatus(errno, "socket(AF_UNIX)");
      if (::bind(control_listen_fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0) {
        const int err = errno;
        control_listen_fd.Reset();  // not ours to unlink
        return ErrnoStatus(err, absl::StrCat("--control_socket: bind ", options.control_socket));
      }
      if (::listen(control_listen_fd.get(), 8) != 0) return ErrnoStatus(errno, "listen");
      QLASTER_RETURN_IF_ERROR(Watch(control_listen_fd.get(), Tag(kControlListen)));
    }
    return absl::OkStatus();
  }

  Client* FindOrAddClient(const SocketAddress& from) {
    const std::string key = from.Key();
    if (auto it = client_index.find(key); it != client_index.end()) return clients[it->second].get();
    if (clients.size() >= static_cast<size_t>(options.max_clients)) {
      ++refused_clients;
      return nullptr;
    }
    absl::StatusOr<UniqueFd> fd = UdpSocket(upstream_address.storage.ss_family);
    if (!fd.ok() || ::connect(fd->get(), upstream_address.get(), upstream_address.length) != 0) {
      ++refused_clients;
      return nullptr;
    }
    const uint32_t index = static_cast<uint32_t>(clients.size());
    if (!Watch(fd->get(), Tag(kUpstream, index)).ok()) {
      ++refused_clients;
      return nullptr;
    }
    // Streams 2i and 2i + 1: each direction of each client decides on its own.
    auto client = std::make_unique<Client>(Client{from, std::move(*fd),
                                                  ImpairedPath(options.up, options.seed, 2 * uint64_t{index}),
                                                  ImpairedPath(options.down, options.seed, 2 * uint64_t{index} + 1)});
    client->up.set_blackhole(blackhole_up);
    client->down.set_blackhole(blackhole_down);
    clients.push_back(std::move(client));
    client_index.emplace(key, index);
    return clients.back().get();
  }

  void SendDue(Client& c, int64_t now_ns) {
    due.clear();
    c.up.TakeDue(now_ns, &due);
    for (const std::vector<uint8_t>& d : due) {
      if (::send(c.upstream.get(), d.data(), d.size(), 0) < 0) ++send_errors;
    }
    due.clear();
    c.down.TakeDue(now_ns, &due);
    for (const std::vector<uint8_t>& d : due) {
      if (::sendto(listen_fd.get(), d.data(), d.size(), 0, c.address.get(), c.address.length) < 0) ++send_errors;
    }
  }

  // Reads what is waiting on `fd` (the listen socket, or a client's upstream socket).
  void Receive(int fd, Client* upstream_of) {
    for (int n = 0; n < kReceiveBudget; ++n) {
      SocketAddress from;
      from.length = sizeof(from.storage);
      const ssize_t r = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from.storage), &from.length);
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        // ECONNREFUSED and the like: an ICMP error for an earlier datagram (an upstream
        // not listening yet, a client gone). The socket stays usable.
        ++receive_errors;
        continue;
      }
      if (static_cast<size_t>(r) > kMaxDatagram) {
        ++oversize;
        continue;
      }
      const int64_t now = MonotonicNs();
      const absl::Span<const uint8_t> datagram(buffer.data(), static_cast<size_t>(r));
      Client* c = upstream_of;
      if (c != nullptr) {
        c->down.Submit(now, datagram);
      } else {
        c = FindOrAddClient(from);
        if (c == nullptr) continue;
        c->up.Submit(now, datagram);
      }
      SendDue(*c, now);
    }
  }

  void SetBlackhole(Direction d, bool on) {
    if (d != Direction::kDown) blackhole_up = on;
    if (d != Direction::kUp) blackhole_down = on;
    for (auto& c : clients) {
      c->up.set_blackhole(blackhole_up);
      c->down.set_blackhole(blackhole_down);
    }
    Print(absl::StrCat(on ? "blackhole " : "restore ", DirectionName(d)));
  }

  std::vector<std::string> StatsLines() const {
    Counters up, down;
    for (const auto& c : clients) {
      up += c->up.counters();
      down += c->down.counters();
    }
    return {absl::StrCat("stats up ", CountersText(up)), absl::StrCat("stats down ", CountersText(down)),
            absl::StrCat("stats proxy clients=", clients.size(), " refused_clients=", refused_clients,
                         " oversize=", oversize, " send_errors=", send_errors,
                         " receive_errors=", receive_errors)};
  }

  void PrintStats() {
    for (const std::string& line : StatsLines()) Print(line);
  }

  void OnSignals() {
    signalfd_siginfo info;
    while (::read(signal_fd.get(), &info, sizeof(info)) == sizeof(info)) {
      switch (info.ssi_signo) {
        case SIGUSR1:
          SetBlackhole(Direction::kBoth, true);
          break;
        case SIGUSR2:
          SetBlackhole(Direction::kBoth, false);
          break;
        default:  // SIGTERM, SIGINT
          stopping = true;
      }
    }
  }

  std::string Command(absl::string_view text) {
    std::vector<absl::string_view> words = absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
    if (words.empty() || words.size() > 2) return "error expected 'blackhole|restore [up|down|both]' or 'stats'";
    if (words[0] == "stats" && words.size() == 1) return absl::StrJoin(StatsLines(), "\n");
    if (words[0] != "blackhole" && words[0] != "restore") {
      return absl::StrCat("error unknown command '", std::string(words[0]), "'");
    }
    absl::StatusOr<Direction> d = ParseDirection(words.size() == 2 ? words[1] : "both");
    if (!d.ok()) return absl::StrCat("error ", d.status().message());
    SetBlackhole(*d, words[0] == "blackhole");
    return absl::StrCat("ok ", words[0], " ", DirectionName(*d));
  }

  void OnControlAccept() {
    for (;;) {
      UniqueFd conn(::accept4(control_listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!conn.valid()) return;
      // The first free slot (a closed connection's), or a new one up to the limit.
      size_t index = 0;
      while (index < control_conns.size() && control_conns[index].valid()) ++index;
      if (index >= kMaxControlConnections) continue;  // closed at once
      if (!Watch(conn.get(), Tag(kControlConn, static_cast<uint32_t>(index))).ok()) continue;
      if (index == control_conns.size()) control_conns.emplace_back();
      control_conns[index] = std::move(conn);
    }
  }

  void OnControlMessage(uint32_t index) {
    if (index >= control_conns.size() || !control_conns[index].valid()) return;
    UniqueFd& conn = control_conns[index];
    char message[kMaxControlMessage];
    const ssize_t r = ::recv(conn.get(), message, sizeof(message), MSG_TRUNC);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
      conn.Reset();  // closing removes it from the epoll set
      return;
    }
    const std::string reply = static_cast<size_t>(r) > sizeof(message)
                                  ? "error command too long"
                                  : Command(absl::string_view(message, static_cast<size_t>(r)));
    if (::send(conn.get(), reply.data(), reply.size(), MSG_NOSIGNAL) < 0) conn.Reset();
  }

  // Sends whatever is due and arms the timer for the next expiry.
  absl::Status Tick() {
    const int64_t now = MonotonicNs();
    int64_t next = -1;
    for (auto& c : clients) {
      SendDue(*c, now);
      for (int64_t e : {c->up.NextExpiry(), c->down.NextExpiry()}) {
        if (e >= 0 && (next < 0 || e < next)) next = e;
      }
    }
    if (next_stats_ns >= 0 && now >= next_stats_ns) {
      PrintStats();
      next_stats_ns = now + absl::ToInt64Nanoseconds(options.stats_interval);
    }
    if (next_stats_ns >= 0 && (next < 0 || next_stats_ns < next)) next = next_stats_ns;
    if (next == armed_ns) return absl::OkStatus();
    itimerspec spec{};  // all zero disarms
    if (next >= 0) {
      const int64_t at = std::max<int64_t>(next, 1);
      spec.it_value = {.tv_sec = static_cast<time_t>(at / 1'000'000'000), .tv_nsec = static_cast<long>(at % 1'000'000'000)};
    }
    if (::timerfd_settime(timer_fd.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
      return ErrnoStatus(errno, "timerfd_settime");
    }
    armed_ns = next;
    return absl::OkStatus();
  }

  absl::Status Run() {
    Print(absl::StrCat("listening ", listen_text));
    Print(absl::StrCat("impair up ", FormatSpec(options.up)));
    Print(absl::StrCat("impair down ", FormatSpec(options.down)));
    if (options.stats_interval > absl::ZeroDuration()) {
      next_stats_ns = MonotonicNs() + absl::ToInt64Nanoseconds(options.stats_interval);
    }
    epoll_event events[64];
    while (!stopping) {
      QLASTER_RETURN_IF_ERROR(Tick());
      const int n = ::epoll_wait(epoll_fd.get(), events, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "epoll_wait");
      }
      // Signals and control first: a state change applies to every datagram read after it.
      for (int i = 0; i < n; ++i) {
        const Kind kind = static_cast<Kind>(events[i].data.u64 >> 32);
        if (kind == kSignal) OnSignals();
      }
      for (int i = 0; i < n; ++i) {
        const Kind kind = static_cast<Kind>(events[i].data.u64 >> 32);
        const uint32_t index = static_cast<uint32_t>(events[i].data.u64);
        switch (kind) {
          case kListen:
            Receive(listen_fd.get(), nullptr);
            break;
          case kUpstream:
            if (index < clients.size()) Receive(clients[index]->upstream.get(), clients[index].get());
            break;
          case kTimer: {
            uint64_t expirations;
            (void)!::read(timer_fd.get(), &expirations, sizeof(expirations));
            armed_ns = -2;  // fired: set it again whatever the next expiry is
            break;
          }
          case kControlListen:
            OnControlAccept();
            break;
          case kControlConn:
            OnControlMessage(index);
            break;
          case kSignal:
            break;
        }
      }
    }
    PrintStats();
    return absl::OkStatus();
  }
};

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Proxy::~Proxy() = default;

absl::StatusOr<std::unique_ptr<Proxy>> Proxy::Create(const ProxyOptions& options, FILE* out) {
  QLASTER_RETURN_IF_ERROR(ValidateSpec(options.up));
  QLASTER_RETURN_IF_ERROR(ValidateSpec(options.down));
  if (options.max_clients < 1 || options.max_clients > 65536) {
    return absl::InvalidArgumentError("--max_clients must be in [1, 65536]");
  }
  if (options.stats_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--stats_interval must not be negative");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->out = out;
  QLASTER_RETURN_IF_ERROR(impl->Setup());
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

const std::string& Proxy::listen_address() const { return impl_->listen_text; }

absl::Status Proxy::Run() { return impl_->Run(); }

}  // namespace qlaster::udp_impair
