// The Asio adapter of the QUIC core (quic_connection.h): it owns the UDP sockets and the
// timers, feeds received datagrams and expiries to connections, and sends what they
// write. QuicClientEndpoint holds one connection to one server at a time (the relay makes a
// new one after each close); QuicServerEndpoint accepts many, routes datagrams by
// connection ID, and validates each client's address with a Retry token before it keeps
// any state for it.
//
// Thread-compatible: everything runs on the thread that runs the io_context.
#ifndef QLASTER_RELAY_QUIC_ENDPOINT_H_
#define QLASTER_RELAY_QUIC_ENDPOINT_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/udp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "relay/quic_connection.h"

namespace qlaster::relay {

// "HOST:PORT" or "[V6]:PORT" resolved to one UDP endpoint (numeric or a name).
absl::StatusOr<boost::asio::ip::udp::endpoint> ResolveUdp(const std::string& host_port);

// Counters of what an endpoint refused before a connection existed, and of its sockets.
struct QuicEndpointCounts {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t send_drops = 0;          // the socket buffer was full: QUIC retransmits
  uint64_t sends = 0;               // send calls: fewer than datagrams_out with GSO
  uint64_t retries_sent = 0;        // server: Retry packets (address validation)
  uint64_t bad_tokens = 0;          // server: Initials with a token that did not verify
  uint64_t unroutable = 0;          // server: datagrams for no known connection
  uint64_t connections_accepted = 0;
};

class QuicClientEndpoint {
 public:
  explicit QuicClientEndpoint(boost::asio::io_context& io) : io_(io), timer_(io) {}
  ~QuicClientEndpoint();
  QuicClientEndpoint(const QuicClientEndpoint&) = delete;
  QuicClientEndpoint& operator=(const QuicClientEndpoint&) = delete;

  // Opens a socket to `server` and starts a connection on it, replacing any previous
  // one. `on_done` runs (on the io thread, once) when the connection is over, with why.
  absl::Status Connect(const boost::asio::ip::udp::endpoint& server, const QuicOptions& options,
                       QuicHandler* handler, std::function<void(const absl::Status&)> on_done);
  // The current connection, or nullptr.
  QuicConnection* connection() { return conn_.get(); }
  // Sends what the connection has ready and re-arms its timer: call after Send.
  void Flush();
  // Drops the connection and its socket without a word (for a restart).
  void Reset();

  const QuicEndpointCounts& counts() const { return counts_; }

 private:
  void Receive();
  void ArmTimer();
  void CheckDone();

  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::ip::udp::socket> socket_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<QuicConnection> conn_;
  QuicPath path_;
  std::function<void(const absl::Status&)> on_done_;
  std::array<uint8_t, 65536> buf_{};
  uint64_t generation_ = 0;  // callbacks of an older socket are ignored
  QuicEndpointCounts counts_;
  // Datagrams of one Write, sent together by UDP generic segmentation offload (one
  // sendmsg for up to kGsoSegments datagrams of one size, the last maybe shorter), or one
  // by one where the kernel refuses it.
  static constexpr size_t kGsoSegments = 64;
  void Queue(absl::Span<const uint8_t> datagram);
  void SendQueued();
  std::vector<uint8_t> batch_;
  size_t batch_segment_ = 0;  // the size of each segment but the last
  size_t batch_count_ = 0;
  bool batch_closed_ = false;  // a shorter segment came: it must be the last
  bool gso_ = true;
};

// One accepted connection's application: made by the server's factory, told its
// connection once it exists, and told when it is over.
class QuicServerSession : public QuicHandler {
 public:
  void set_connection(QuicConnection* conn) { conn_ = conn; }
  QuicConnection* connection() const { return conn_; }
  // The connection is over (closed by either side, timed out, or failed).
  virtual void OnDone(const absl::Status& /*why*/) {}

 protected:
  QuicConnection* conn_ = nullptr;
};

class QuicServerEndpoint {
 public:
  using SessionFactory =
      std::function<std::unique_ptr<QuicServerSession>(const boost::asio::ip::udp::endpoint&)>;

  // Binds `listen` (port 0 picks one) and serves connections with sessions from
  // `factory`. `options.role` is set to kServer.
  static absl::StatusOr<std::unique_ptr<QuicServerEndpoint>> Listen(
      boost::asio::io_context& io, const boost::asio::ip::udp::endpoint& listen,
      QuicOptions options, SessionFactory factory);
  ~QuicServerEndpoint();

  uint16_t port() const { return port_; }
  // Sends what every connection has ready (after sessions queued data outside a
  // callback of theirs).
  void FlushAll();
  size_t connection_count() const { return conns_.size(); }
  const QuicEndpointCounts& counts() const { return counts_; }
  // Closes every connection with `code` and `reason` (shutdown).
  void CloseAll(uint64_t code, const std::string& reason);
  // Handles `data` as a datagram from `from` that the socket received (for the fuzzer:
  // the same path every received datagram takes).
  void Inject(const boost::asio::ip::udp::endpoint& from, absl::Span<const uint8_t> data) {
    ++counts_.datagrams_in;
    OnDatagram(from, data);
    ServiceRead();
  }

  // Datagrams read from the socket in one go before the connections they were for write
  // (their ACKs among it): one write per batch, not one per datagram.
  static constexpr int kReadBatch = 64;

 private:
  struct Entry;
  QuicServerEndpoint(boost::asio::io_context& io, QuicOptions options, SessionFactory factory);
  void Receive();
  void OnDatagram(const boost::asio::ip::udp::endpoint& from, absl::Span<const uint8_t> data);
  void Accept(const boost::asio::ip::udp::endpoint& from, absl::Span<const uint8_t> data);
  void Service(Entry* entry);  // write, re-arm the timer, retire when done
  void ServiceRead();           // Service every connection a datagram was read for
  void SendTo(const boost::asio::ip::udp::endpoint& to, absl::Span<const uint8_t> data);
  QuicPath PathTo(const boost::asio::ip::udp::endpoint& remote) const;

  boost::asio::io_context& io_;
  boost::asio::ip::udp::socket socket_;
  QuicOptions options_;
  SessionFactory factory_;
  uint16_t port_ = 0;
  std::array<uint8_t, 65536> buf_{};
  boost::asio::ip::udp::endpoint from_;
  std::array<uint8_t, 32> token_secret_{};
  // Connections by id; every connection ID a connection answers to maps to its entry.
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Entry>> conns_;
  absl::flat_hash_map<std::string, uint64_t> by_cid_;
  std::vector<uint64_t> read_for_;  // connections with datagrams read and not yet serviced
  QuicEndpointCounts counts_;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_QUIC_ENDPOINT_H_
