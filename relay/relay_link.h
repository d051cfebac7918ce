// The relay's end of one QUIC link to one gateway (docs/relay-protocol.md): it connects,
// says HELLO, resumes each class stream where the gateway's WELCOME asks (from the shared
// replay buffer), forwards each new message as the relay offers it, keeps the link alive
// with PINGs, and reconnects on its own with backoff after any close.
//
// Nothing here waits on the network: a class stream whose unsent bytes pass
// `max_unsent_bytes` takes no more updates; what it misses becomes one GAP message once it
// drains, so the gateway's consumers see an exact gap and the relay never blocks its ring.
//
// Thread-compatible: runs on the relay's network thread (the io_context's).
#ifndef QLASTER_RELAY_RELAY_LINK_H_
#define QLASTER_RELAY_RELAY_LINK_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/udp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "relay/protocol.h"
#include "relay/quic_endpoint.h"
#include "relay/replay_buffer.h"

namespace qlaster::relay {

struct RelayLinkOptions {
  std::string target;  // HOST:PORT, for logs
  boost::asio::ip::udp::endpoint server;
  QuicOptions quic;    // credentials and server name
  std::string name;    // the relay's name in HELLO
  uint64_t session_id = 0;
  size_t max_unsent_bytes = 8u << 20;
  absl::Duration ping_interval = absl::Seconds(1);
  // No PONG for this long: the path is dead; close and reconnect.
  absl::Duration pong_timeout = absl::Seconds(5);
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
};

struct RelayLinkCounts {
  uint64_t connects = 0;         // connection attempts
  uint64_t welcomes = 0;         // links that reached WELCOME
  uint64_t updates_sent = 0;     // UPDATE messages queued on a class stream (live)
  uint64_t resumed_messages = 0; // messages re-sent from the replay buffer on resume
  uint64_t gaps_sent = 0;        // GAP messages
  uint64_t dropped = 0;          // updates the link could not keep up with (sent as GAP)
  uint64_t pings = 0;
  uint64_t pongs = 0;
  bool live = false;
  // The live connection's path, as of the last tick (a quarter of the ping interval).
  uint64_t cwnd = 0;
  uint64_t bytes_in_flight = 0;
  uint64_t smoothed_rtt_us = 0;
  uint64_t unsent_bytes = 0;  // queued on the class streams, not yet given to QUIC
};

class RelayLink {
 public:
  RelayLink(boost::asio::io_context& io, RelayLinkOptions options, const ReplayBuffer* replay);
  ~RelayLink();
  RelayLink(const RelayLink&) = delete;
  RelayLink& operator=(const RelayLink&) = delete;

  // Starts connecting (and keeps reconnecting until destroyed).
  void Start();
  // The replay buffer just took a message: UPDATE or GAP `bytes` covering sequences
  // [first, first + count) of `cls`. Sent at once if the link is live and the stream has
  // room; else it becomes part of a GAP (or, while not connected, part of the resume).
  void Offer(StreamClass cls, uint64_t first, uint64_t count, bool is_gap,
             absl::Span<const uint8_t> bytes);
  // Sends what Offer queued. Call after a batch of offers.
  void Flush();
  // Closes the link with NO_ERROR (shutdown): no reconnect after it.
  void Stop(const std::string& reason);

  const RelayLinkCounts& counts() const { return counts_; }
  // Why the last connection ended (OK before any did).
  const absl::Status& last_error() const { return last_error_; }

 private:
  class Handler;
  struct PendingGap {
    uint64_t first = 0;
    uint64_t count = 0;
  };
  void Connect();
  void OnDone(const absl::Status& why);
  absl::Status OnControlMessage(const Message& msg);
  absl::Status OnWelcome(const Welcome& welcome);
  void SendControl(const Message& msg);
  bool SendPendingGap(size_t c);
  void Tick();

  RelayLinkOptions options_;
  const ReplayBuffer* replay_;
  std::unique_ptr<Handler> handler_;
  QuicClientEndpoint endpoint_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer tick_timer_;
  absl::Duration backoff_;
  bool stopped_ = false;

  // Per connection.
  int64_t control_stream_ = -1;
  std::unique_ptr<RelayStreamDecoder> control_decoder_;
  std::array<int64_t, kClassCount> class_stream_{-1, -1, -1};
  // The next_sequence per class the HELLO announced: where a new session's streams start.
  std::array<uint64_t, kClassCount> hello_next_{1, 1, 1};
  std::array<PendingGap, kClassCount> pending_{};
  bool live_ = false;
  int64_t last_pong_ns_ = 0;
  int64_t last_ping_ns_ = 0;
  uint64_t next_nonce_ = 1;

  RelayLinkCounts counts_;
  absl::Status last_error_;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_RELAY_LINK_H_
