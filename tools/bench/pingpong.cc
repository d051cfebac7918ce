// Round trips between two processes over qlaster and over the baselines. See pingpong.h.
#include "tools/bench/pingpong.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "qlaster/consumer.hpp"
#include "sender/sender.h"
#include "shm/broadcast_ring.h"
#include "shm/event_fd.h"
#include "base/status_macros.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "tools/bench/tsc_clock.h"

namespace qlaster::bench {
namespace {


// A side that sees nothing from the other for this long reports a stalled peer.
constexpr absl::Duration kStall = absl::Seconds(5);
constexpr uint32_t kRecordType = shm::kFirstUserRecordType;

// Exit codes of the echo processes, so that a failure says what went wrong there.
constexpr int kChildOk = 0;
constexpr int kChildStalled = 3;
constexpr int kChildBroken = 4;

// The echo process dies with the parent, whatever the parent dies of.
void ChildSetup(int cpu) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  (void)PinToCpu(cpu);
}

int TotalRoundTrips(const PingPongOptions& o) { return o.warmup + o.iterations; }

// Checks the echo process after the parent saw nothing for a while, or after the run.
absl::Status ChildStatus(ChildProcess& child, bool expect_exit) {
  absl::StatusOr<int> status = child.Wait(expect_exit ? kStall : absl::ZeroDuration());
  if (!status.ok()) {
    return expect_exit ? absl::DeadlineExceededError("the echo process did not finish")
                       : absl::OkStatus();
  }
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == kChildOk && expect_exit) return absl::OkStatus();
  const char* why = WIFEXITED(*status) && WEXITSTATUS(*status) == kChildStalled
                        ? " (it waited 5 s for the parent)"
                        : "";
  return absl::InternalError(absl::StrCat("the echo process ", DescribeWaitStatus(*status), why));
}

// Times warmup + iterations calls of round_trip(i), i = 1, 2, ...; one-way = half of each.
template <typename RoundTrip>
absl::StatusOr<Samples> TimeRoundTrips(const PingPongOptions& o, ChildProcess& child,
                                       RoundTrip&& round_trip) {
  QLASTER_RETURN_IF_ERROR(PinToCpu(o.parent_cpu));
  std::vector<double> samples;
  samples.reserve(o.iterations);
  const double ns_per_tick = TscClock::NsPerTick();
  const uint64_t period = o.rate > 0 ? static_cast<uint64_t>(1e9 / o.rate / ns_per_tick) : 0;
  uint64_t next = TscClock::Now();
  const uint64_t total = TotalRoundTrips(o);
  for (uint64_t i = 1; i <= total; ++i) {
    if (period != 0) {
      // A steady rate: start each round trip on its own deadline (never in a burst to
      // catch up after a slow one).
      uint64_t now;
      while ((now = TscClock::Now()) < next) _mm_pause();
      next = std::max(next + period, now);
    }
    const uint64_t t0 = TscClock::Now();
    absl::Status s = round_trip(i);
    const uint64_t t1 = TscClock::Now();
    if (!s.ok()) {
      QLASTER_RETURN_IF_ERROR(ChildStatus(child, false));
      return s;
    }
    if (i > static_cast<uint64_t>(o.warmup)) {
      samples.push_back(static_cast<double>(t1 - t0) * ns_per_tick / 2);
    }
  }
  QLASTER_RETURN_IF_ERROR(ChildStatus(child, true));
  return samples;
}

// Spins (no pause: the raw limit) until pred() or kStall; false on a stall.
template <typename Pred>
bool SpinUntil(Pred&& pred) {
  uint64_t start = 0;
  for (;;) {
    for (int k = 0; k < 1 << 16; ++k) {
      if (pred()) return true;
    }
    const uint64_t now = TscClock::Now();
    if (start == 0) start = now;
    if (TscClock::ToNs(now - start) > absl::ToDoubleNanoseconds(kStall)) return pred();
  }
}

// Shared memory for the cache-line ping-pong: the two lines on separate 128-byte blocks
// (adjacent-line prefetch pairs lines).
struct alignas(128) PaddedCounter {
  std::atomic<uint64_t> value{0};
};
struct Lines {
  PaddedCounter ping;
  PaddedCounter pong;
};

// SIGCHLD interrupts the parent's blocking read(2) on an eventfd (no SA_RESTART), so a
// dead echo process is an error rather than a hang.
class InterruptOnChildExit {
 public:
  InterruptOnChildExit() {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGCHLD, &sa, &old_);
  }
  ~InterruptOnChildExit() { ::sigaction(SIGCHLD, &old_, nullptr); }

 private:
  struct sigaction old_;
};

// Waits for a record on `ring` in `mode`, with kStall as the bound.
absl::Status WaitRecord(shm::RingConsumer& ring, const shm::EventFd& doorbell, WaitMode mode,
                        shm::RingRecord* record) {
  for (;;) {
    shm::ReadResult r = ring.TryRead(record);
    if (r == shm::ReadResult::kOk) return absl::OkStatus();
    if (r != shm::ReadResult::kEmpty) return absl::DataLossError(absl::StrCat("ring: ", ring.error().ToString()));
    if (ring.Wait(doorbell, mode, kStall) != shm::WaitResult::kReady) {
      return absl::DeadlineExceededError("no record from the other process for 5 s");
    }
  }
}

// Claims, fills from `src` (size bytes, the first 8 replaced by `seq`), publishes, wakes.
bool WriteRecord(shm::RingProducer& ring, const shm::EventFd& doorbell, const uint8_t* src,
                 uint64_t size, uint64_t seq) {
  uint8_t* at = nullptr;
  const absl::Time deadline = absl::Now() + kStall;
  while (ring.TryClaim(kRecordType, static_cast<uint32_t>(size), &at) != shm::WriteResult::kOk) {
    if (absl::Now() > deadline) return false;
  }
  std::memcpy(at, src, size);
  std::memcpy(at, &seq, sizeof(seq));
  ring.Publish();
  ring.WakeIfSleeping(doorbell);
  return true;
}

uint64_t FirstWord(absl::Span<const uint8_t> payload) {
  uint64_t v = 0;
  std::memcpy(&v, payload.data(), std::min(payload.size(), sizeof(v)));
  return v;
}

// The two rings and doorbells of a qlaster round trip, created before the fork.
struct RingPair {
  shm::RingProducer out;  // parent -> child
  shm::RingConsumer out_reader;
  shm::EventFd out_bell;
  shm::RingProducer back;  // child -> parent
  shm::RingConsumer back_reader;
  shm::EventFd back_bell;

  static absl::StatusOr<RingPair> Create(const std::string& dir, uint64_t capacity) {
    QLASTER_ASSIGN_OR_RETURN(shm::RingProducer out, shm::RingProducer::Create({.dir = dir, .capacity = capacity}));
    QLASTER_ASSIGN_OR_RETURN(shm::RingProducer back, shm::RingProducer::Create({.dir = dir, .capacity = capacity}));
    QLASTER_ASSIGN_OR_RETURN(shm::RingConsumer out_reader, shm::RingConsumer::Attach(UniqueFd(::dup(out.fd()))));
    QLASTER_ASSIGN_OR_RETURN(shm::RingConsumer back_reader, shm::RingConsumer::Attach(UniqueFd(::dup(back.fd()))));
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd out_bell, shm::EventFd::Create());
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd back_bell, shm::EventFd::Create());
    return RingPair{std::move(out), std::move(out_reader), std::move(out_bell),
                    std::move(back), std::move(back_reader), std::move(back_bell)};
  }
};

// How the timing side waits for the echo. In spin-then-sleep mode it spins: a closed
// loop whose two sides both spin-then-sleep falls into a stable state where each side
// sleeps while the other wakes up (a round trip longer than the spin makes the next one
// find the other side asleep), which a consumer of a steady feed never sees. Spinning
// here keeps the feed the consumer sees steady, so the hybrid numbers describe a
// spin-then-sleep consumer under a steady rate, as the scenario intends.
WaitMode EchoWaitMode(WaitMode mode) {
  return mode == WaitMode::kSpinThenSleep ? WaitMode::kSpin : mode;
}

// A ring large enough for a few records of `size` bytes.
uint64_t RingCapacityFor(uint64_t size) { return std::max<uint64_t>(1 << 20, 8 * (size + 64)); }

}  // namespace

namespace {

// Repeats read(2) or write(2) until n bytes moved; false on EOF or an error.
template <typename Buffer, typename Io>
bool MoveFull(Buffer* buf, size_t n, Io io) {
  auto* p = reinterpret_cast<std::conditional_t<std::is_const_v<Buffer>, const uint8_t, uint8_t>*>(buf);
  while (n > 0) {
    ssize_t r = io(p, n);
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ReadFull(int fd, void* buf, size_t n) {
  return MoveFull(buf, n, [fd](uint8_t* p, size_t k) { return ::read(fd, p, k); });
}

bool WriteFull(int fd, const void* buf, size_t n) {
  return MoveFull(buf, n, [fd](const uint8_t* p, size_t k) { return ::write(fd, p, k); });
}

absl::StatusOr<Samples> CachelinePingPong(const PingPongOptions& o) {
  void* mem = ::mmap(nullptr, sizeof(Lines), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return absl::InternalError(absl::StrCat("mmap: ", std::strerror(errno)));
  std::unique_ptr<void, void (*)(void*)> unmap(mem, [](void* p) { ::munmap(p, sizeof(Lines)); });
  Lines* lines = new (mem) Lines;
  const uint64_t total = TotalRoundTrips(o);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    for (uint64_t i = 1; i <= total; ++i) {
      if (!SpinUntil([&] { return lines->ping.value.load(std::memory_order_acquire) == i; })) return kChildStalled;
      lines->pong.value.store(i, std::memory_order_release);
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  return TimeRoundTrips(o, *child, [&](uint64_t i) {
    lines->ping.value.store(i, std::memory_order_release);
    if (!SpinUntil([&] { return lines->pong.value.load(std::memory_order_acquire) == i; })) {
      return absl::DeadlineExceededError("cache-line ping-pong: no answer for 5 s");
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<Samples> EventfdPingPong(const PingPongOptions& o) {
  UniqueFd ping(::eventfd(0, EFD_CLOEXEC));
  UniqueFd pong(::eventfd(0, EFD_CLOEXEC));
  if (!ping.valid() || !pong.valid()) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  const uint64_t total = TotalRoundTrips(o);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    uint64_t v = 1;
    for (uint64_t i = 1; i <= total; ++i) {
      if (!ReadFull(ping.get(), &v, sizeof(v))) return kChildBroken;
      v = 1;
      if (!WriteFull(pong.get(), &v, sizeof(v))) return kChildBroken;
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  InterruptOnChildExit interrupt;
  return TimeRoundTrips(o, *child, [&](uint64_t) {
    uint64_t v = 1;
    if (::write(ping.get(), &v, sizeof(v)) != sizeof(v)) return absl::InternalError("eventfd write failed");
    for (;;) {
      if (::read(pong.get(), &v, sizeof(v)) == sizeof(v)) return absl::OkStatus();
      if (errno != EINTR) return absl::InternalError(absl::StrCat("eventfd read: ", std::strerror(errno)));
      // SIGCHLD (or another signal): go on only while the echo process lives.
      int status;
      if (::waitpid(child->pid(), &status, WNOHANG) != 0) return absl::InternalError("eventfd ping-pong: the echo process ended");
    }
  });
}

absl::StatusOr<Samples> UnixSocketPingPong(const PingPongOptions& o) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  UniqueFd parent_end(fds[0]);
  UniqueFd child_end(fds[1]);
  const uint64_t total = TotalRoundTrips(o);
  const uint32_t size = static_cast<uint32_t>(o.size);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    parent_end.Reset();
    std::vector<uint8_t> buf(sizeof(uint32_t) + size);
    for (uint64_t i = 1; i <= total; ++i) {
      // As a bot reads a framed feed: the length, then the message, then answers.
      uint32_t len;
      if (!ReadFull(child_end.get(), &len, sizeof(len)) || len != size) return kChildBroken;
      if (!ReadFull(child_end.get(), buf.data() + sizeof(len), len)) return kChildBroken;
      std::memcpy(buf.data(), &len, sizeof(len));
      if (!WriteFull(child_end.get(), buf.data(), buf.size())) return kChildBroken;
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  child_end.Reset();
  std::vector<uint8_t> out(sizeof(uint32_t) + size, 0x5a);
  std::memcpy(out.data(), &size, sizeof(size));
  std::vector<uint8_t> in(out.size());
  return TimeRoundTrips(o, *child, [&](uint64_t) {
    if (!WriteFull(parent_end.get(), out.data(), out.size()) ||
        !ReadFull(parent_end.get(), in.data(), sizeof(uint32_t)) ||
        !ReadFull(parent_end.get(), in.data() + sizeof(uint32_t), size)) {
      return absl::InternalError("unix socket ping-pong: the echo process closed the socket");
    }
    return absl::OkStatus();
  });
}

namespace {

// The largest UDP payload over IPv4.
constexpr uint64_t kMaxUdpPayload = 65'507;

// Two sockets on 127.0.0.1 connected to each other: the parent's end and the child's.
struct LoopbackPair {
  UniqueFd parent;
  UniqueFd child;
};

sockaddr_in Loopback() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A blocking receive on `fd` returns EAGAIN after kStall instead of waiting forever.
absl::Status SetStallTimeout(int fd) {
  const timeval tv{.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(kStall)), .tv_usec = 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) return ErrnoStatus(errno, "SO_RCVTIMEO");
  return absl::OkStatus();
}

absl::StatusOr<sockaddr_in> BoundLoopback(int fd) {
  sockaddr_in a = Loopback();
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return ErrnoStatus(errno, "bind 127.0.0.1");
  socklen_t len = sizeof(a);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return ErrnoStatus(errno, "getsockname");
  return a;
}

absl::StatusOr<LoopbackPair> UdpPair() {
  LoopbackPair p{UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
                 UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0))};
  if (!p.parent.valid() || !p.child.valid()) return ErrnoStatus(errno, "socket(UDP)");
  QLASTER_ASSIGN_OR_RETURN(const sockaddr_in a, BoundLoopback(p.parent.get()));
  QLASTER_ASSIGN_OR_RETURN(const sockaddr_in b, BoundLoopback(p.child.get()));
  if (::connect(p.parent.get(), reinterpret_cast<const sockaddr*>(&b), sizeof(b)) != 0 ||
      ::connect(p.child.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    return ErrnoStatus(errno, "connect(UDP)");
  }
  return p;
}

absl::StatusOr<LoopbackPair> TcpPair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return ErrnoStatus(errno, "socket(TCP)");
  QLASTER_ASSIGN_OR_RETURN(const sockaddr_in a, BoundLoopback(listener.get()));
  if (::listen(listener.get(), 1) != 0) return ErrnoStatus(errno, "listen");
  LoopbackPair p;
  p.parent.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!p.parent.valid()) return ErrnoStatus(errno, "socket(TCP)");
  if (::connect(p.parent.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    return ErrnoStatus(errno, "connect(TCP)");
  }
  p.child.Reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!p.child.valid()) return ErrnoStatus(errno, "accept");
  const int one = 1;
  for (int fd : {p.parent.get(), p.child.get()}) {
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) return ErrnoStatus(errno, "TCP_NODELAY");
  }
  return p;
}

// Receives one datagram of exactly `size` bytes starting with `seq` (through EINTR).
bool ReceiveDatagram(int fd, uint8_t* buf, uint64_t size, uint64_t seq) {
  for (;;) {
    const ssize_t r = ::recv(fd, buf, size + 1, 0);  // one byte more: a longer one is wrong
    if (r < 0 && errno == EINTR) continue;
    return r == static_cast<ssize_t>(size) && FirstWord({buf, size}) == seq;
  }
}

// The loop both socket ping-pongs share: the echo child answers each message with the
// same bytes; the parent times `send` then `receive` of its own, numbered message.
template <typename Send, typename Receive>
absl::StatusOr<Samples> SocketPingPong(const PingPongOptions& o, const char* name, LoopbackPair pair, Send send,
                                       Receive receive) {
  QLASTER_RETURN_IF_ERROR(SetStallTimeout(pair.parent.get()));
  QLASTER_RETURN_IF_ERROR(SetStallTimeout(pair.child.get()));
  const uint64_t total = TotalRoundTrips(o);
  std::vector<uint8_t> child_buf(o.size + 1);  // allocated before the fork
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    pair.parent.Reset();
    for (uint64_t i = 1; i <= total; ++i) {
      if (!receive(pair.child.get(), child_buf.data(), i)) return errno == EAGAIN ? kChildStalled : kChildBroken;
      if (!send(pair.child.get(), child_buf.data())) return kChildBroken;
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  pair.child.Reset();
  std::vector<uint8_t> out(o.size, 0x5a);
  std::vector<uint8_t> in(o.size + 1);
  return TimeRoundTrips(o, *child, [&](uint64_t i) -> absl::Status {
    std::memcpy(out.data(), &i, sizeof(i));
    if (!send(pair.parent.get(), out.data()) || !receive(pair.parent.get(), in.data(), i)) {
      return absl::InternalError(absl::StrCat(name, " ping-pong: no echo of message ", i, " (",
                                              errno == EAGAIN ? "5 s of silence" : std::strerror(errno), ")"));
    }
    return absl::OkStatus();
  });
}

}  // namespace

absl::StatusOr<Samples> UdpPingPong(const PingPongOptions& o) {
  if (o.size < sizeof(uint64_t) || o.size > kMaxUdpPayload) {
    return absl::InvalidArgumentError("UDP ping-pong: size must be 8 .. 65507 bytes");
  }
  QLASTER_ASSIGN_OR_RETURN(LoopbackPair pair, UdpPair());
  const uint64_t size = o.size;
  return SocketPingPong(
      o, "UDP", std::move(pair),
      [size](int fd, const uint8_t* buf) { return ::send(fd, buf, size, 0) == static_cast<ssize_t>(size); },
      [size](int fd, uint8_t* buf, uint64_t seq) { return ReceiveDatagram(fd, buf, size, seq); });
}

absl::StatusOr<Samples> TcpPingPong(const PingPongOptions& o) {
  if (o.size < sizeof(uint64_t)) return absl::InvalidArgumentError("TCP ping-pong: size below 8 bytes");
  QLASTER_ASSIGN_OR_RETURN(LoopbackPair pair, TcpPair());
  const uint64_t size = o.size;
  return SocketPingPong(
      o, "TCP", std::move(pair), [size](int fd, const uint8_t* buf) { return WriteFull(fd, buf, size); },
      [size](int fd, uint8_t* buf, uint64_t seq) {
        return ReadFull(fd, buf, size) && FirstWord({buf, size}) == seq;
      });
}

absl::StatusOr<Samples> RingPingPong(const PingPongOptions& o) {
  if (o.size < sizeof(uint64_t)) return absl::InvalidArgumentError("ring ping-pong: size below 8 bytes");
  QLASTER_ASSIGN_OR_RETURN(RingPair rings, RingPair::Create(o.shm_dir, RingCapacityFor(o.size)));
  RingPair& r = rings;
  const uint64_t total = TotalRoundTrips(o);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    for (uint64_t i = 1; i <= total; ++i) {
      shm::RingRecord rec;
      if (!WaitRecord(r.out_reader, r.out_bell, o.mode, &rec).ok()) return kChildStalled;
      if (FirstWord(rec.payload) != i) return kChildBroken;
      // Echo the whole payload: the consumer reads every byte, as a socket reader does.
      if (!WriteRecord(r.back, r.back_bell, rec.payload.data(), rec.payload.size(), i)) return kChildStalled;
      r.out_reader.Release();
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  std::vector<uint8_t> payload(o.size, 0x5a);
  return TimeRoundTrips(o, *child, [&](uint64_t i) -> absl::Status {
    if (!WriteRecord(r.out, r.out_bell, payload.data(), payload.size(), i)) {
      return absl::DeadlineExceededError("ring ping-pong: the ring stayed full for 5 s");
    }
    shm::RingRecord rec;
    QLASTER_RETURN_IF_ERROR(WaitRecord(r.back_reader, r.back_bell, EchoWaitMode(o.mode), &rec));
    if (FirstWord(rec.payload) != i) return absl::DataLossError("ring ping-pong: wrong echo");
    r.back_reader.Release();
    return absl::OkStatus();
  });
}

absl::StatusOr<Samples> BroadcastPingPong(const PingPongOptions& o) {
  if (o.size < sizeof(uint64_t)) return absl::InvalidArgumentError("broadcast ping-pong: size below 8 bytes");
  const uint32_t slot_bytes =
      std::max<uint32_t>(shm::kMinBroadcastSlotBytes, std::bit_ceil(static_cast<uint32_t>(o.size + 16)));
  if (slot_bytes > shm::kMaxBroadcastSlotBytes) {
    return absl::InvalidArgumentError("broadcast ping-pong: size beyond a broadcast slot");
  }
  const shm::BroadcastOptions options{.dir = o.shm_dir, .slot_bytes = slot_bytes, .slot_count = 1024};
  QLASTER_ASSIGN_OR_RETURN(shm::BroadcastWriter out, shm::BroadcastWriter::Create(options));
  QLASTER_ASSIGN_OR_RETURN(shm::BroadcastWriter back, shm::BroadcastWriter::Create(options));
  QLASTER_ASSIGN_OR_RETURN(UniqueFd out_ro, out.ReadOnlyFd());
  QLASTER_ASSIGN_OR_RETURN(UniqueFd back_ro, back.ReadOnlyFd());
  QLASTER_ASSIGN_OR_RETURN(shm::BroadcastReader out_reader,
                           shm::BroadcastReader::Attach(std::move(out_ro), UniqueFd(::dup(out.waiters_fd()))));
  QLASTER_ASSIGN_OR_RETURN(shm::BroadcastReader back_reader,
                           shm::BroadcastReader::Attach(std::move(back_ro), UniqueFd(::dup(back.waiters_fd()))));
  // Both sides wait for the one record in flight: a gap cannot happen, and is an error.
  auto wait = [](shm::BroadcastReader& reader, WaitMode mode, shm::BroadcastRecord* rec) -> absl::Status {
    for (;;) {
      const shm::BroadcastReadResult r = reader.TryRead(rec);
      if (r == shm::BroadcastReadResult::kOk) return absl::OkStatus();
      if (r != shm::BroadcastReadResult::kEmpty) return absl::DataLossError("broadcast ping-pong: gap or corrupt ring");
      if (reader.Wait(mode, kStall) != shm::WaitResult::kReady) {
        return absl::DeadlineExceededError("no record from the other process for 5 s");
      }
    }
  };
  const uint64_t total = TotalRoundTrips(o);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    for (uint64_t i = 1; i <= total; ++i) {
      shm::BroadcastRecord rec;
      if (!wait(out_reader, o.mode, &rec).ok()) return kChildStalled;
      if (FirstWord(rec.payload) != i) return kChildBroken;
      back.Write(kRecordType, rec.payload);  // the whole payload back, as the SPSC echo does
      back.WakeSleepers();
    }
    return kChildOk;
  });
  if (!child.ok()) return child.status();
  std::vector<uint8_t> payload(o.size, 0x5a);
  return TimeRoundTrips(o, *child, [&](uint64_t i) -> absl::Status {
    std::memcpy(payload.data(), &i, sizeof(i));
    out.Write(kRecordType, payload);
    out.WakeSleepers();
    shm::BroadcastRecord rec;
    QLASTER_RETURN_IF_ERROR(wait(back_reader, EchoWaitMode(o.mode), &rec));
    if (FirstWord(rec.payload) != i) return absl::DataLossError("broadcast ping-pong: wrong echo");
    return absl::OkStatus();
  });
}

absl::StatusOr<Samples> SenderToCallbackPingPong(const PingPongOptions& o) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string socket_path = dir.path() + "/sender.sock";
  QLASTER_ASSIGN_OR_RETURN(RingPair rings, RingPair::Create(o.shm_dir, 1 << 20));
  RingPair& r = rings;
  Pubkey key;
  key.fill(0xb5);
  const uint64_t total = TotalRoundTrips(o);

  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ChildSetup(o.child_cpu);
    ConsumerOptions options;
    options.name = "qlaster-bench";
    options.ring_bytes = RingCapacityFor(o.size + 512);
    options.wait_mode = o.mode == WaitMode::kSpin    ? WaitMode::kSpin
                        : o.mode == WaitMode::kSleep ? WaitMode::kSleep
                                                          : WaitMode::kSpinThenSleep;
    options.auto_reconnect = false;
    absl::StatusOr<Consumer> consumer = absl::UnavailableError("not connected");
    const absl::Time deadline = absl::Now() + kStall;
    while (!(consumer = Consumer::Connect(socket_path, options)).ok()) {
      if (absl::Now() > deadline) return kChildStalled;
      absl::SleepFor(absl::Milliseconds(1));  // polling for the socket, bounded by the deadline
    }
    const Pubkey keys[] = {key};
    if (!consumer->Subscribe(keys).ok()) return kChildBroken;
    const uint64_t ready = 0;
    if (!WriteRecord(r.back, r.back_bell, reinterpret_cast<const uint8_t*>(&ready), sizeof(ready), 0)) {
      return kChildStalled;
    }
    uint64_t echoed = 0;
    bool broken = false;
    while (echoed < total && !broken) {
      if (!consumer->Wait(kStall).ok()) return kChildStalled;
      absl::StatusOr<int> n = consumer->Poll([&](const Event& e) {
        if (const AccountEvent* a = e.account()) {
          const uint64_t v = a->write_version;
          if (!WriteRecord(r.back, r.back_bell, reinterpret_cast<const uint8_t*>(&v), sizeof(v), v)) broken = true;
          echoed = a->write_version;
        } else if (e.kind == EventKind::kGap || e.kind == EventKind::kDisconnected) {
          broken = true;
        }
      });
      if (!n.ok()) return kChildBroken;
    }
    return broken ? kChildBroken : kChildOk;
  });
  if (!child.ok()) return child.status();

  // The parent's threads start only now, after the fork.
  sender::SenderOptions options;
  options.control.socket_path = socket_path;
  options.control.shm_dir = o.shm_dir;
  options.control.verbose = false;
  options.handle_signals = false;
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<sender::Sender> sender, sender::Sender::Create(options));
  absl::Status run_status;
  std::thread control([&] { run_status = (sender)->Run(nullptr); });
  struct Stopper {
    sender::Sender* s;
    std::thread* t;
    ~Stopper() {
      s->Stop();
      t->join();
    }
  } stopper{sender.get(), &control};
  sender::Dispatcher& dispatcher = (sender)->dispatcher();

  // Until the consumer says it is subscribed, adopt the tables the control thread builds.
  const absl::Time deadline = absl::Now() + kStall;
  shm::RingRecord rec;
  for (;;) {
    dispatcher.Poll();
    shm::ReadResult rr = r.back_reader.TryRead(&rec);
    if (rr == shm::ReadResult::kOk) break;
    if (rr != shm::ReadResult::kEmpty || absl::Now() > deadline) {
      QLASTER_RETURN_IF_ERROR(ChildStatus(*child, false));
      return absl::DeadlineExceededError("the consumer did not subscribe within 5 s");
    }
    std::this_thread::yield();
  }
  r.back_reader.Release();

  AccountUpdate update;
  update.pubkey = key;
  update.owner.fill(0x0b);
  update.lamports = 1;
  update.data.assign(o.size, 0x5a);
  return TimeRoundTrips(o, *child, [&](uint64_t i) -> absl::Status {
    update.write_version = i;
    QLASTER_RETURN_IF_ERROR(dispatcher.PublishAccount(update));
    QLASTER_RETURN_IF_ERROR(WaitRecord(r.back_reader, r.back_bell, EchoWaitMode(o.mode), &rec));
    if (FirstWord(rec.payload) != i) return absl::DataLossError("sender.callback: wrong echo");
    r.back_reader.Release();
    return absl::OkStatus();
  });
}

}  // namespace qlaster::bench
