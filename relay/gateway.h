// The gateway's end of the relay protocol over QUIC (docs/relay-protocol.md): it accepts
// relays on a QuicServerEndpoint, answers HELLO with WELCOME (where each class resumes),
// holds every stream to the protocol's rules, and hands each relayed update and gap to a
// sink (the sender's QUIC source publishes them). A relay that breaks a rule is closed
// with the rule's error code and a logged reason; the others go on.
//
// Thread-compatible: runs on the gateway's network thread (the io_context's).
#ifndef QLASTER_RELAY_GATEWAY_H_
#define QLASTER_RELAY_GATEWAY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/udp.hpp"
#include "relay/gateway_session.h"
#include "relay/quic_endpoint.h"

namespace qlaster::relay {

// Where relayed updates go.
class GatewaySink {
 public:
  virtual ~GatewaySink() = default;
  // One relayed update of relay session `session_id`, sequence `sequence` of `cls`:
  // `frame` is one wire frame as the relay read it, untrusted. An error (a frame that fails
  // validation) closes that relay's connection with MALFORMED_FRAME.
  virtual absl::Status Publish(uint64_t session_id, StreamClass cls, uint64_t sequence,
                               std::vector<uint8_t> frame) = 0;
  // `count` updates of that session are missed.
  virtual void Gap(uint64_t session_id, StreamClass cls, uint64_t count) = 0;
};

struct GatewayCounts {
  uint64_t connections = 0;      // QUIC connections accepted (after Retry)
  uint64_t handshakes = 0;       // connections whose TLS handshake completed
  uint64_t tls_refused = 0;      // connections closed for TLS (certificates)
  uint64_t protocol_errors = 0;  // connections closed for breaking the relay protocol
  uint64_t closed = 0;           // connections over, for any reason
};

// One relay session as the gateway sees it, for statistics.
struct GatewaySessionInfo {
  uint64_t session_id = 0;
  std::string name;
  bool connected = false;
  SessionCounts counts;
};

class Gateway {
 public:
  // Listens on `listen` (UDP; port 0 picks one). `sink` outlives the gateway.
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(boost::asio::io_context& io,
                                                        const boost::asio::ip::udp::endpoint& listen,
                                                        QuicOptions quic, GatewaySink* sink);
  ~Gateway();

  uint16_t port() const { return endpoint_->port(); }
  const GatewayCounts& counts() const { return counts_; }
  const QuicEndpointCounts& endpoint_counts() const { return endpoint_->counts(); }
  std::vector<GatewaySessionInfo> Sessions() const;
  // Sends what connections queued outside their callbacks.
  void Flush() { endpoint_->FlushAll(); }
  void CloseAll(const std::string& reason);

 private:
  class Connection;
  explicit Gateway(GatewaySink* sink) : sink_(sink) {}

  GatewaySink* sink_;
  std::unique_ptr<QuicServerEndpoint> endpoint_;
  GatewaySessions sessions_;
  // The connection that currently speaks for each session, and each session's name.
  absl::flat_hash_map<uint64_t, Connection*> active_;
  absl::flat_hash_map<uint64_t, std::string> names_;
  GatewayCounts counts_;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_GATEWAY_H_
