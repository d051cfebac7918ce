// Round trips between two processes, timed on one side only, and the transports they run
// over: qlaster's rings (and the whole sender -> consumer-library path) and the baselines
// (a raw cache line, a raw eventfd, a Unix-domain socket). One-way latency is half a round
// trip, so no clock is compared across processes.
//
// Every measurement forks its echo process first (the caller must have no other thread
// then), pins both sides, warms up, then times `iterations` round trips with the TSC.
#ifndef QLASTER_TOOLS_BENCH_PINGPONG_H_
#define QLASTER_TOOLS_BENCH_PINGPONG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "shm/spsc_ring.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {

// One-way latencies in ns, one per timed round trip (half of it), in the order measured.
using Samples = std::vector<double>;

struct PingPongOptions {
  uint64_t size = 256;       // payload bytes carried each way
  int warmup = 10'000;       // round trips not timed
  int iterations = 100'000;  // round trips timed
  double rate = 0;           // round trips started per second; 0: back to back
  int parent_cpu = -1;
  int child_cpu = -1;
  // The echo process's wait, for the qlaster transports; the timing side waits the same
  // way, except that it spins in spin-then-sleep mode (see EchoWaitMode in pingpong.cc).
  WaitMode mode = WaitMode::kSpin;
  std::string shm_dir = "/dev/shm";
};

// One cache line written by one side and spun on by the other (no pause instruction):
// the cost of moving a line between the two cores and back. Ignores size and mode.
absl::StatusOr<Samples> CachelinePingPong(const PingPongOptions& o);

// Two eventfds, each side blocking in read(2): the cost of a wake-up. Ignores size, mode.
absl::StatusOr<Samples> EventfdPingPong(const PingPongOptions& o);

// A Unix stream socketpair carrying a 4-byte length and `size` bytes each way, each side
// blocking in read(2): what a bot gets from a home-made socket feed.
absl::StatusOr<Samples> UnixSocketPingPong(const PingPongOptions& o);

// Two qlaster rings (one each way) carrying `size`-byte records, each side waiting in
// `mode` and ringing the other's doorbell when it sleeps: the transport alone.
absl::StatusOr<Samples> RingPingPong(const PingPongOptions& o);

// Two broadcast rings (shm/broadcast_ring.h), one each way, one reader each, waiting in
// `mode` on the ring's futex word: the broadcast ring's transport alone.
absl::StatusOr<Samples> BroadcastPingPong(const PingPongOptions& o);

// The whole path: an in-process sender's Dispatcher::PublishAccount (an account update
// with `size` bytes of data) -> the consumer's ring -> libqlaster-consumer's Wait/Poll ->
// the callback in the other process, which echoes the write_version through a qlaster
// ring back (8 bytes, the same wait mode). Half the round trip.
absl::StatusOr<Samples> SenderToCallbackPingPong(const PingPongOptions& o);

// Network baselines over loopback, for the relay's latency to be read against: what two
// processes on one host get from the kernel's UDP and TCP stacks alone, `size` payload
// bytes each way per round trip (no framing added), each side blocking in recv(2) (they
// ignore mode and shm_dir). Both sockets are made and connected before the fork, and the
// echo process only calls recv/send on them, so a caller may also use these after it has
// started threads of its own (the echo child takes no lock and allocates nothing).
// A datagram lost on loopback, or a peer silent for 5 s, ends the run with an error.
//
// UDP: two connected sockets on 127.0.0.1. REQUIRES: 8 <= size <= 65,507.
absl::StatusOr<Samples> UdpPingPong(const PingPongOptions& o);
// TCP: a connection on 127.0.0.1 with TCP_NODELAY on both ends (each message leaves at
// once, as the relay's frames do). REQUIRES: size >= 8.
absl::StatusOr<Samples> TcpPingPong(const PingPongOptions& o);

// Repeats read(2) / write(2) (through EINTR and short counts) until `n` bytes moved;
// false on EOF or an error.
bool ReadFull(int fd, void* buf, size_t n);
bool WriteFull(int fd, const void* buf, size_t n);

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_PINGPONG_H_
