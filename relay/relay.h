// Relay: the engine of qlaster-relay. A consumer of the local sender (libqlaster-consumer,
// drop-and-count, so the sender never evicts it) whose updates are forwarded, frame by
// frame as the sender wrote them, to one or more gateways over QUIC
// (docs/relay-protocol.md).
//
// Two threads. The consumer thread waits on the ring, copies each record's frame and hands
// it to the network thread through a DoorbellQueue (full: the update is dropped, counted,
// and sent on as a gap of its class). The network thread numbers every update in the
// session's replay buffer (`replay_bytes`, the oldest dropped first) and offers it to each
// link (relay_link.h), which sends it, or a GAP when its path cannot keep up; each link
// reconnects and resumes on its own. Nothing the network does can make the consumer
// thread wait.
//
// Thread-safety: Start and Stop from one thread; Stats from any thread (the metrics
// endpoint's among them) until Stop.
#ifndef QLASTER_RELAY_RELAY_H_
#define QLASTER_RELAY_RELAY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qlaster/consumer.hpp"
#include "qlaster/subscription.hpp"
#include "relay/relay_link.h"

namespace qlaster::relay {

struct RelayOptions {
  std::string socket;  // the local sender's socket (empty: the default)
  Subscription subscription;
  std::vector<std::string> targets;  // HOST:PORT of each gateway
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // The name the gateways' certificates must carry (empty: each target's host).
  std::string server_name;
  std::string name = "qlaster-relay";
  size_t replay_bytes = 64u << 20;
  size_t max_unsent_bytes = 8u << 20;
  uint64_t ring_bytes = 0;
  WaitMode wait_mode = WaitMode::kSpinThenSleep;
};

struct RelayStats {
  uint64_t session_id = 0;
  uint64_t updates = 0;          // updates the consumer read and numbered
  uint64_t local_gaps = 0;       // updates the local sender reported missed
  uint64_t queue_drops = 0;      // updates dropped because the network thread was behind
  uint64_t replay_held_bytes = 0;
  uint64_t replay_evicted = 0;
  std::vector<std::pair<std::string, RelayLinkCounts>> links;  // by target
};

class Relay {
 public:
  // Connects to the sender, subscribes, and starts both threads and every link.
  static absl::StatusOr<std::unique_ptr<Relay>> Start(RelayOptions options);
  ~Relay();  // Stop()

  // Tells each gateway NO_ERROR and stops both threads.
  void Stop();
  // A snapshot (taken on the network thread).
  // The counters, read on the network thread; a RelayStats with session_id 0 when it did
  // not answer within 5 s.
  RelayStats Stats();
  // The consumer thread's error, if it stopped on one (the sender is gone for good).
  absl::Status consumer_status();

 private:
  class Impl;
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_RELAY_H_
