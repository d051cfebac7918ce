// qlaster-grpc's engine: a Yellowstone-compatible gRPC endpoint (geyser.Geyser of
// proto/yellowstone/geyser.proto) in front of a local qlaster-sender, so that a bot written
// for Yellowstone connects to qlaster by changing only its endpoint URL.
//
// Each Subscribe stream is one qlaster Consumer, on its own thread, with the stream's
// filters, commitment and from_slot (filtering stays in the sender). Its updates are
// converted to SubscribeUpdate messages and written by gRPC's callback API through a
// bounded queue: a client that does not keep up fills the queue, its consumer stops
// reading its ring, and the sender evicts that consumer (or drops for it, by option)
// without slowing anyone else; an evicted stream ends with RESOURCE_EXHAUSTED saying so.
//
// The unary RPCs (GetSlot, GetBlockHeight, GetLatestBlockhash, IsBlockhashValid) answer
// from one more consumer that follows slots and block meta.
//
// Thread-safety: Start, Wait and Shutdown may be called from any thread.
#ifndef QLASTER_GRPC_SERVER_SERVER_H_
#define QLASTER_GRPC_SERVER_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc_server/filter_limits.h"
#include "qlaster/types.hpp"

namespace qlaster::grpc_endpoint {

struct ServerOptions {
  std::string sender_socket;
  // "HOST:PORT" (port 0: any free port) or "unix:PATH".
  std::vector<std::string> listen;
  // Required as the x-token metadata of every call when not empty.
  std::string x_token;
  absl::Duration server_ping_interval = absl::Seconds(10);
  // A stream whose oldest unsent update waited this long (the client stopped reading)
  // is ended with RESOURCE_EXHAUSTED.
  absl::Duration slow_client_timeout = absl::Seconds(10);
  // Bytes of converted updates a stream may hold for a client that is slower than the
  // feed before its consumer stops reading the ring.
  uint64_t stream_queue_bytes = 16 << 20;
  OverflowPolicy overflow = OverflowPolicy::kEvict;
  uint64_t ring_bytes = 0;  // per stream; 0: the sender's default
  int max_streams = 256;
  int max_request_bytes = 4 << 20;
  std::string version = "0.0.0";
  // "HOST:PORT" of the Prometheus endpoint (grpc_server/endpoint_metrics.h); empty: none.
  std::string metrics_address;
  // Yellowstone's filter limits (grpc_server/filter_limits.h).
  FilterLimits limits;
  // PEM certificate chain and private key: TLS on the TCP addresses when both are set
  // (the Unix socket stays plaintext: it is local, and its file mode decides who connects).
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Subscribe responses gzip-compressed for clients whose grpc-accept-encoding lists gzip.
  bool gzip = true;
};

class Server {
 public:
  // Listens as `options` says and serves until Shutdown. kUnavailable when a listen
  // address cannot be bound; kInvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);
  virtual ~Server() = default;

  // The TCP ports bound, in the order of the TCP listen addresses.
  virtual std::vector<int> ports() const = 0;
  // The metrics endpoint's bound "HOST:PORT"; empty without one.
  virtual std::string metrics_address() const = 0;
  // Ends every stream (UNAVAILABLE) and stops serving. Idempotent.
  virtual void Shutdown() = 0;
  // Blocks until Shutdown.
  virtual void Wait() = 0;
};

}  // namespace qlaster::grpc_endpoint

#endif  // QLASTER_GRPC_SERVER_SERVER_H_
