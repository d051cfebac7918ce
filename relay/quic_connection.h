// One QUIC connection (RFC 9000) with mutual TLS 1.3, without I/O: ngtcp2 0.12 and its
// GnuTLS crypto layer as Debian 12 ships them, wrapped so that the caller feeds datagrams
// and timestamps in and takes datagrams and the next expiry out (ngtcp2's own design).
// The Asio adapter (quic_endpoint.h) owns the UDP socket and the timer; the relay and the
// gateway (relay_client.h, gateway.h) own what the streams mean.
//
// Stream data is queued here (copied) and kept until the peer acknowledges it, as ngtcp2
// requires; `unsent_bytes` lets the application see a stream the network cannot keep up
// with and drop instead of queueing without bound.
//
// Thread-compatible: one connection is driven by one thread.
#ifndef QLASTER_RELAY_QUIC_CONNECTION_H_
#define QLASTER_RELAY_QUIC_CONNECTION_H_

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "relay/tls.h"

namespace qlaster::relay {

// Both ends of a UDP path.
struct QuicPath {
  sockaddr_storage local{};
  socklen_t local_len = 0;
  sockaddr_storage remote{};
  socklen_t remote_len = 0;
};

struct QuicOptions {
  TlsRole role = TlsRole::kClient;
  const TlsCredentials* credentials = nullptr;  // REQUIRED; outlives the connection
  std::string server_name;                      // client: the name the server's cert has
  absl::Duration idle_timeout = absl::Seconds(5);
  absl::Duration handshake_timeout = absl::Seconds(5);
  // Flow-control windows the peer may fill before it must wait for us to read.
  uint64_t stream_window = 16u << 20;
  uint64_t connection_window = 64u << 20;
  uint64_t max_remote_uni_streams = 3;   // the relay's class streams
  uint64_t max_remote_bidi_streams = 1;  // the control stream
};

// What a connection tells the application. Returning an error from a callback closes the
// connection with ErrorOf(status) as the QUIC application error and the status's message
// as the reason phrase.
class QuicHandler {
 public:
  virtual ~QuicHandler() = default;
  // The TLS handshake is done and the peer's certificate verified.
  virtual absl::Status OnHandshakeCompleted() { return absl::OkStatus(); }
  // The peer opened `stream_id`.
  virtual absl::Status OnStreamOpened(int64_t /*stream_id*/) { return absl::OkStatus(); }
  // The next bytes of a stream, in order. `fin`: the peer ended the stream.
  virtual absl::Status OnStreamData(int64_t stream_id, absl::Span<const uint8_t> data,
                                    bool fin) = 0;
  // The connection can open more streams, or a blocked stream can send again.
  virtual void OnWritable() {}
  // Server: a connection ID the peer may now use for this connection / no longer uses.
  virtual void OnConnectionIdAdded(const ngtcp2_cid& /*cid*/) {}
  virtual void OnConnectionIdRemoved(const ngtcp2_cid& /*cid*/) {}
};

using DatagramSink = std::function<void(absl::Span<const uint8_t>)>;

class QuicConnection {
 public:
  // A client connection to `path.remote`; its first datagrams come from the next Write.
  static absl::StatusOr<std::unique_ptr<QuicConnection>> Connect(const QuicOptions& options,
                                                                 const QuicPath& path,
                                                                 QuicHandler* handler,
                                                                 uint64_t now_ns);
  // A server connection for the client Initial `hd` (from ngtcp2_accept) whose address
  // the endpoint validated with a Retry token: `odcid` is the client's original
  // destination connection ID (recovered from the token), hd.dcid the one Retry gave it.
  static absl::StatusOr<std::unique_ptr<QuicConnection>> Accept(const QuicOptions& options,
                                                                const QuicPath& path,
                                                                const ngtcp2_pkt_hd& hd,
                                                                const ngtcp2_cid& odcid,
                                                                QuicHandler* handler,
                                                                uint64_t now_ns);
  ~QuicConnection();
  QuicConnection(const QuicConnection&) = delete;
  QuicConnection& operator=(const QuicConnection&) = delete;

  // Feeds one received datagram. An error means the connection is over (closed by the
  // peer, failed, or closed by us after a violation: the CONNECTION_CLOSE goes out with
  // the next Write); done() is then true and close_status() says why.
  absl::Status Read(const QuicPath& path, absl::Span<const uint8_t> datagram, uint64_t now_ns);
  // Hands `sink` every datagram that is ready to go (bounded per call: check expiry_ns).
  void Write(uint64_t now_ns, const DatagramSink& sink);
  // CLOCK_MONOTONIC ns of the next timer (retransmission, idle, ack delay, pacing).
  uint64_t expiry_ns() const;
  // The timer fired: handles it; then call Write.
  void HandleExpiry(uint64_t now_ns);

  // Streams this end opens. kResourceExhausted when the peer allows no more yet.
  absl::StatusOr<int64_t> OpenBidiStream();
  absl::StatusOr<int64_t> OpenUniStream();
  // Queues `bytes` (copied) at the end of `stream_id`; the next Write sends them.
  void Send(int64_t stream_id, absl::Span<const uint8_t> bytes);
  // Bytes queued on `stream_id` that ngtcp2 has not taken yet (flow control or congestion).
  size_t unsent_bytes(int64_t stream_id) const;
  // Bytes given to the network and not yet acknowledged, all streams.
  size_t unacked_bytes() const;

  // The path as ngtcp2's recovery and congestion control see it.
  struct PathStats {
    uint64_t cwnd = 0;             // congestion window, bytes
    uint64_t bytes_in_flight = 0;
    uint64_t smoothed_rtt_ns = 0;
    uint64_t pto_count = 0;        // probe timeouts in a row
  };
  PathStats path_stats() const;

  // Closes with application error `code` and `reason` (once; the CONNECTION_CLOSE goes
  // out with the next Write).
  void Close(uint64_t code, const std::string& reason);

  bool handshake_completed() const;
  // The connection is over: nothing more to send but its CONNECTION_CLOSE.
  bool done() const { return done_; }
  // OK while it runs; then why it ended: kAborted for a peer's CONNECTION_CLOSE (with its
  // code and reason), kDeadlineExceeded for an idle or handshake timeout,
  // kUnauthenticated for a TLS failure (with the alert and, when our check of the peer's
  // certificate failed, what was wrong with it), kInternal otherwise.
  const absl::Status& close_status() const { return close_status_; }
  // The peer's application error code when it closed with one, else -1.
  int64_t peer_app_error() const { return peer_app_error_; }

 private:
  struct SendStream {
    std::deque<std::vector<uint8_t>> chunks;  // unacknowledged bytes, oldest first
    uint64_t base = 0;                        // offset of chunks.front()[0]
    uint64_t queued_end = 0;                  // offset after the last queued byte
    uint64_t sent = 0;                        // offset after the last byte ngtcp2 took
    // The chunk holding offset `sent` (the last chunk when everything is sent, since it
    // may grow) and the offset of its first byte: where Gather starts, so that a write
    // costs the same however much is in flight.
    size_t cursor = 0;
    uint64_t cursor_base = 0;
    bool blocked = false;                     // flow control said no in this Write
  };

  QuicConnection(const QuicOptions& options, QuicHandler* handler);
  absl::Status Init(const QuicPath& path, const ngtcp2_cid& dcid, const ngtcp2_cid& scid,
                    const ngtcp2_pkt_hd* hd, const ngtcp2_cid* odcid, uint64_t now_ns);
  void SetPath(const QuicPath& path);
  void Fail(int liberr, const std::string& where);
  void FailWithStatus(absl::Status status);  // an application callback's error
  void WriteClose(uint64_t now_ns, const DatagramSink& sink);
  // Gathers up to `max` vectors of `s`'s unsent bytes.
  size_t Gather(const SendStream& s, ngtcp2_vec* vec, size_t max) const;
  void Consume(SendStream& s, size_t n);
  void Acked(int64_t stream_id, uint64_t offset, uint64_t len);
  std::string TlsReason() const;

  static ngtcp2_conn* GetConn(ngtcp2_crypto_conn_ref* ref);
  static void Rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx* ctx);
  static int OnGetNewConnectionId(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token,
                                  size_t cidlen, void* user);
  static int OnRemoveConnectionId(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
  static int OnHandshakeCompletedCb(ngtcp2_conn*, void* user);
  static int OnRecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t stream_id,
                              uint64_t offset, const uint8_t* data, size_t len, void* user,
                              void* stream_user);
  static int OnStreamOpen(ngtcp2_conn*, int64_t stream_id, void* user);
  static int OnAckedStreamData(ngtcp2_conn*, int64_t stream_id, uint64_t offset,
                               uint64_t len, void* user, void* stream_user);
  static int OnExtendMaxStreams(ngtcp2_conn*, uint64_t max_streams, void* user);
  static int OnExtendMaxStreamData(ngtcp2_conn*, int64_t stream_id, uint64_t max_data,
                                   void* user, void* stream_user);

  QuicOptions options_;
  QuicHandler* handler_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t tls_ = nullptr;
  ngtcp2_crypto_conn_ref conn_ref_{};
  QuicPath path_;
  std::map<int64_t, SendStream> streams_;  // streams this end sends on
  size_t next_stream_ = 0;  // round-robin start for Write

  bool done_ = false;
  bool close_pending_ = false;  // a CONNECTION_CLOSE to write
  bool close_written_ = false;
  ngtcp2_connection_close_error ccerr_{};
  std::string ccerr_reason_;
  absl::Status close_status_;
  int64_t peer_app_error_ = -1;
};

// Random bytes from GnuTLS's generator (connection IDs, tokens, session ids).
void QuicRandom(uint8_t* dest, size_t len);
// `cid` as hex, for logs.
std::string CidHex(const ngtcp2_cid& cid);

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_QUIC_CONNECTION_H_
