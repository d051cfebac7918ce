// One QUIC connection over ngtcp2 0.12 + GnuTLS (quic_connection.h).
#include "relay/quic_connection.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "relay/protocol.h"

namespace qlaster::relay {
namespace {

constexpr size_t kCidLength = 16;
constexpr int kMaxPacketsPerWrite = 64;
// A queued chunk grows by appends until this size (fewer allocations for small messages).
constexpr size_t kChunkBytes = 64 << 10;

ngtcp2_path MakePath(const QuicPath& p) {
  ngtcp2_path out{};
  out.local.addr = const_cast<ngtcp2_sockaddr*>(reinterpret_cast<const ngtcp2_sockaddr*>(&p.local));
  out.local.addrlen = p.local_len;
  out.remote.addr =
      const_cast<ngtcp2_sockaddr*>(reinterpret_cast<const ngtcp2_sockaddr*>(&p.remote));
  out.remote.addrlen = p.remote_len;
  return out;
}

ngtcp2_cid RandomCid() {
  ngtcp2_cid cid;
  uint8_t bytes[kCidLength];
  QuicRandom(bytes, sizeof(bytes));
  ngtcp2_cid_init(&cid, bytes, sizeof(bytes));
  return cid;
}

std::string AlertName(uint64_t alert) {
  const char* name = gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(alert));
  return name != nullptr ? std::string(name) : absl::StrCat("alert ", alert);
}

// A peer's CONNECTION_CLOSE as words.
std::string DescribeClose(const ngtcp2_connection_close_error& e) {
  std::string reason(reinterpret_cast<const char*>(e.reason), e.reason == nullptr ? 0 : e.reasonlen);
  std::string out;
  switch (e.type) {
    case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION:
      out = absl::StrCat("application error ", e.error_code);
      break;
    case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT:
      if (e.error_code >= NGTCP2_CRYPTO_ERROR && e.error_code < NGTCP2_CRYPTO_ERROR + 0x100) {
        out = absl::StrCat("TLS refused by the peer: ", AlertName(e.error_code - NGTCP2_CRYPTO_ERROR));
      } else {
        out = absl::StrCat("transport error 0x", absl::Hex(e.error_code));
      }
      break;
    default:
      out = absl::StrCat("close type ", static_cast<int>(e.type), " code ", e.error_code);
  }
  if (!reason.empty()) absl::StrAppend(&out, ": ", reason);
  return out;
}

}  // namespace

void QuicRandom(uint8_t* dest, size_t len) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, dest, len) != 0) {
    // GnuTLS's generator does not fail once the library is initialised; never leave the
    // bytes unset all the same.
    for (size_t i = 0; i < len; ++i) dest[i] = static_cast<uint8_t>(i * 131 + 7);
  }
}

std::string CidHex(const ngtcp2_cid& cid) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(cid.data), cid.datalen));
}

QuicConnection::QuicConnection(const QuicOptions& options, QuicHandler* handler)
    : options_(options), handler_(handler) {
  ngtcp2_connection_close_error_default(&ccerr_);
}

QuicConnection::~QuicConnection() {
  if (conn_ != nullptr) ngtcp2_conn_del(conn_);
  if (tls_ != nullptr) gnutls_deinit(tls_);
}

absl::StatusOr<std::unique_ptr<QuicConnection>> QuicConnection::Connect(
    const QuicOptions& options, const QuicPath& path, QuicHandler* handler, uint64_t now_ns) {
  std::unique_ptr<QuicConnection> c(new QuicConnection(options, handler));
  const ngtcp2_cid dcid = RandomCid();
  const ngtcp2_cid scid = RandomCid();
  QLASTER_RETURN_IF_ERROR(c->Init(path, dcid, scid, nullptr, nullptr, now_ns));
  return c;
}

absl::StatusOr<std::unique_ptr<QuicConnection>> QuicConnection::Accept(
    const QuicOptions& options, const QuicPath& path, const ngtcp2_pkt_hd& hd,
    const ngtcp2_cid& odcid, QuicHandler* handler, uint64_t now_ns) {
  std::unique_ptr<QuicConnection> c(new QuicConnection(options, handler));
  const ngtcp2_cid scid = RandomCid();
  QLASTER_RETURN_IF_ERROR(c->Init(path, hd.scid, scid, &hd, &odcid, now_ns));
  return c;
}

absl::Status QuicConnection::Init(const QuicPath& path, const ngtcp2_cid& dcid,
                                  const ngtcp2_cid& scid, const ngtcp2_pkt_hd* hd,
                                  const ngtcp2_cid* odcid, uint64_t now_ns) {
  if (options_.credentials == nullptr) return absl::InvalidArgumentError("QUIC: no TLS credentials");
  const bool client = options_.role == TlsRole::kClient;
  path_ = path;

  ngtcp2_callbacks cb{};
  if (client) {
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
  } else {
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  }
  cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb.encrypt = ngtcp2_crypto_encrypt_cb;
  cb.decrypt = ngtcp2_crypto_decrypt_cb;
  cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb.update_key = ngtcp2_crypto_update_key_cb;
  cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb.rand = &QuicConnection::Rand;
  cb.get_new_connection_id = &QuicConnection::OnGetNewConnectionId;
  cb.remove_connection_id = &QuicConnection::OnRemoveConnectionId;
  cb.handshake_completed = &QuicConnection::OnHandshakeCompletedCb;
  cb.recv_stream_data = &QuicConnection::OnRecvStreamData;
  cb.stream_open = &QuicConnection::OnStreamOpen;
  cb.acked_stream_data_offset = &QuicConnection::OnAckedStreamData;
  cb.extend_max_local_streams_bidi = &QuicConnection::OnExtendMaxStreams;
  cb.extend_max_local_streams_uni = &QuicConnection::OnExtendMaxStreams;
  cb.extend_max_stream_data = &QuicConnection::OnExtendMaxStreamData;

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now_ns;
  settings.handshake_timeout = static_cast<ngtcp2_duration>(absl::ToInt64Nanoseconds(options_.handshake_timeout));
  settings.max_window = options_.connection_window;
  settings.max_stream_window = options_.stream_window;
  // BBR, not ngtcp2's default Cubic: a loss-based control reads random loss as congestion,
  // and over 1% loss and a 40 ms round trip Cubic carried about a fifth of mainnet's rate
  // (the rest dropped as gaps, seconds of latency); BBR carried all of it (BENCHMARKS.md,
  // "qlaster-relay"). BBR v2 did no better there and worse on a clean path.
  settings.cc_algo = NGTCP2_CC_ALGO_BBR;
  if (!client && hd != nullptr) {
    settings.token = hd->token;  // the Retry token the endpoint validated
  }

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = options_.stream_window;
  params.initial_max_stream_data_bidi_remote = options_.stream_window;
  params.initial_max_stream_data_uni = options_.stream_window;
  params.initial_max_data = options_.connection_window;
  params.initial_max_streams_bidi = options_.max_remote_bidi_streams;
  params.initial_max_streams_uni = options_.max_remote_uni_streams;
  params.max_idle_timeout = static_cast<ngtcp2_duration>(absl::ToInt64Nanoseconds(options_.idle_timeout));
  params.active_connection_id_limit = 4;
  if (!client) {
    params.original_dcid = *odcid;
    params.retry_scid = hd->dcid;
    params.retry_scid_present = 1;
  }

  const ngtcp2_path p = MakePath(path_);
  int rv = client ? ngtcp2_conn_client_new(&conn_, &dcid, &scid, &p, NGTCP2_PROTO_VER_V1, &cb,
                                           &settings, &params, nullptr, this)
                  : ngtcp2_conn_server_new(&conn_, &dcid, &scid, &p, hd->version, &cb,
                                           &settings, &params, nullptr, this);
  if (rv != 0) return absl::InternalError(absl::StrCat("QUIC: creating the connection: ", ngtcp2_strerror(rv)));

  rv = gnutls_init(&tls_, client ? GNUTLS_CLIENT : GNUTLS_SERVER);
  if (rv < 0) return absl::InternalError(absl::StrCat("TLS: gnutls_init: ", gnutls_strerror(rv)));
  rv = client ? ngtcp2_crypto_gnutls_configure_client_session(tls_)
              : ngtcp2_crypto_gnutls_configure_server_session(tls_);
  if (rv != 0) return absl::InternalError("TLS: configuring the session for QUIC failed");
  QLASTER_RETURN_IF_ERROR(ConfigureTlsSession(tls_, options_.role, *options_.credentials,
                                              options_.server_name));
  conn_ref_.get_conn = &QuicConnection::GetConn;
  conn_ref_.user_data = this;
  gnutls_session_set_ptr(tls_, &conn_ref_);
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  if (!client) {
    // The connection IDs the client may address us by: the one we chose now.
    handler_->OnConnectionIdAdded(scid);
  }
  return absl::OkStatus();
}

ngtcp2_conn* QuicConnection::GetConn(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<QuicConnection*>(ref->user_data)->conn_;
}

void QuicConnection::Rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  QuicRandom(dest, len);
}

int QuicConnection::OnGetNewConnectionId(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token,
                                         size_t cidlen, void* user) {
  uint8_t bytes[NGTCP2_MAX_CIDLEN];
  QuicRandom(bytes, cidlen);
  ngtcp2_cid_init(cid, bytes, cidlen);
  QuicRandom(token, NGTCP2_STATELESS_RESET_TOKENLEN);
  static_cast<QuicConnection*>(user)->handler_->OnConnectionIdAdded(*cid);
  return 0;
}

int QuicConnection::OnRemoveConnectionId(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
  static_cast<QuicConnection*>(user)->handler_->OnConnectionIdRemoved(*cid);
  return 0;
}

int QuicConnection::OnHandshakeCompletedCb(ngtcp2_conn*, void* user) {
  auto* self = static_cast<QuicConnection*>(user);
  absl::Status s = self->handler_->OnHandshakeCompleted();
  if (!s.ok()) {
    self->FailWithStatus(std::move(s));
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int QuicConnection::OnRecvStreamData(ngtcp2_conn* conn, uint32_t flags, int64_t stream_id,
                                     uint64_t /*offset*/, const uint8_t* data, size_t len,
                                     void* user, void*) {
  auto* self = static_cast<QuicConnection*>(user);
  absl::Status s = self->handler_->OnStreamData(stream_id, absl::MakeConstSpan(data, len),
                                                (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  if (!s.ok()) {
    self->FailWithStatus(std::move(s));
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  // Everything is consumed at once: give the window back.
  ngtcp2_conn_extend_max_stream_offset(conn, stream_id, len);
  ngtcp2_conn_extend_max_offset(conn, len);
  return 0;
}

int QuicConnection::OnStreamOpen(ngtcp2_conn*, int64_t stream_id, void* user) {
  auto* self = static_cast<QuicConnection*>(user);
  absl::Status s = self->handler_->OnStreamOpened(stream_id);
  if (!s.ok()) {
    self->FailWithStatus(std::move(s));
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int QuicConnection::OnAckedStreamData(ngtcp2_conn*, int64_t stream_id, uint64_t offset,
                                      uint64_t len, void* user, void*) {
  static_cast<QuicConnection*>(user)->Acked(stream_id, offset, len);
  return 0;
}

int QuicConnection::OnExtendMaxStreams(ngtcp2_conn*, uint64_t, void* user) {
  static_cast<QuicConnection*>(user)->handler_->OnWritable();
  return 0;
}

int QuicConnection::OnExtendMaxStreamData(ngtcp2_conn*, int64_t stream_id, uint64_t, void* user,
                                          void*) {
  auto* self = static_cast<QuicConnection*>(user);
  auto it = self->streams_.find(stream_id);
  if (it != self->streams_.end()) it->second.blocked = false;
  self->handler_->OnWritable();
  return 0;
}

void QuicConnection::SetPath(const QuicPath& path) { path_ = path; }

std::string QuicConnection::TlsReason() const {
  std::string out;
  const unsigned status = gnutls_session_get_verify_cert_status(tls_);
  if (status != 0) {
    gnutls_datum_t text;
    if (gnutls_certificate_verification_status_print(status, gnutls_certificate_type_get(tls_),
                                                     &text, 0) == 0) {
      out = absl::StrCat("the peer's certificate was refused: ",
                         reinterpret_cast<const char*>(text.data));
      gnutls_free(text.data);
    }
  }
  const uint8_t alert = ngtcp2_conn_get_tls_alert(conn_);
  if (out.empty()) {
    out = alert != 0 ? absl::StrCat("TLS handshake failed: ", AlertName(alert))
                     : std::string("TLS handshake failed");
  } else if (alert != 0) {
    absl::StrAppend(&out, " (alert ", AlertName(alert), ")");
  }
  return out;
}

void QuicConnection::Fail(int liberr, const std::string& where) {
  if (done_) return;
  done_ = true;
  if (liberr == NGTCP2_ERR_DRAINING) {
    ngtcp2_connection_close_error peer;
    ngtcp2_conn_get_connection_close_error(conn_, &peer);
    if (peer.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
      peer_app_error_ = static_cast<int64_t>(peer.error_code);
    }
    close_status_ = absl::AbortedError(absl::StrCat("closed by the peer: ", DescribeClose(peer)));
    return;  // draining: nothing more is sent
  }
  if (liberr == NGTCP2_ERR_IDLE_CLOSE) {
    close_status_ = absl::DeadlineExceededError(absl::StrCat(
        "idle timeout: nothing from the peer for ", absl::FormatDuration(options_.idle_timeout)));
    return;  // an idle close is silent
  }
  if (liberr == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
    close_status_ = absl::DeadlineExceededError(absl::StrCat(
        "handshake timeout: no answer within ", absl::FormatDuration(options_.handshake_timeout)));
    return;
  }
  if (liberr == NGTCP2_ERR_DROP_CONN) {
    close_status_ = absl::AbortedError("QUIC: the connection was dropped");
    return;
  }
  if (liberr == NGTCP2_ERR_CRYPTO) {
    close_status_ = absl::UnauthenticatedError(TlsReason());
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &ccerr_, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
  } else {
    close_status_ = absl::InternalError(absl::StrCat("QUIC ", where, ": ", ngtcp2_strerror(liberr)));
    ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr_, liberr, nullptr, 0);
  }
  close_pending_ = true;
}

void QuicConnection::FailWithStatus(absl::Status status) {
  if (done_) return;
  done_ = true;
  ccerr_reason_ = std::string(status.message().substr(0, 1000));
  ngtcp2_connection_close_error_set_application_error(
      &ccerr_, static_cast<uint64_t>(ErrorOf(status)),
      reinterpret_cast<const uint8_t*>(ccerr_reason_.data()), ccerr_reason_.size());
  close_status_ = std::move(status);
  close_pending_ = true;
}

void QuicConnection::Close(uint64_t code, const std::string& reason) {
  if (done_) return;
  done_ = true;
  ccerr_reason_ = reason.substr(0, 1000);
  ngtcp2_connection_close_error_set_application_error(
      &ccerr_, code, reinterpret_cast<const uint8_t*>(ccerr_reason_.data()),
      ccerr_reason_.size());
  close_status_ = absl::CancelledError(absl::StrCat("closed here: ", reason));
  close_pending_ = true;
}

absl::Status QuicConnection::Read(const QuicPath& path, absl::Span<const uint8_t> datagram,
                                  uint64_t now_ns) {
  if (done_) return close_status_;
  if (datagram.empty()) return absl::OkStatus();  // legal in UDP, meaningless in QUIC
  SetPath(path);
  const ngtcp2_path p = MakePath(path_);
  ngtcp2_pkt_info pi{};
  const int rv = ngtcp2_conn_read_pkt(conn_, &p, &pi, datagram.data(), datagram.size(), now_ns);
  if (rv == 0) return absl::OkStatus();
  if (rv == NGTCP2_ERR_CALLBACK_FAILURE && done_) return close_status_;  // our handler's error
  Fail(rv, "reading a packet");
  return close_status_;
}

size_t QuicConnection::Gather(const SendStream& s, ngtcp2_vec* vec, size_t max) const {
  uint64_t skip = s.sent - s.cursor_base;
  size_t n = 0;
  for (size_t i = s.cursor; i < s.chunks.size() && n < max; ++i) {
    const std::vector<uint8_t>& chunk = s.chunks[i];
    if (skip >= chunk.size()) {
      skip -= chunk.size();
      continue;
    }
    vec[n].base = const_cast<uint8_t*>(chunk.data()) + skip;
    vec[n].len = chunk.size() - skip;
    skip = 0;
    ++n;
  }
  return n;
}

void QuicConnection::Consume(SendStream& s, size_t n) {
  s.sent += n;
  while (s.cursor + 1 < s.chunks.size() && s.sent >= s.cursor_base + s.chunks[s.cursor].size()) {
    s.cursor_base += s.chunks[s.cursor].size();
    ++s.cursor;
  }
}

void QuicConnection::Acked(int64_t stream_id, uint64_t offset, uint64_t len) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  SendStream& s = it->second;
  const uint64_t end = std::min(offset + len, s.sent);
  size_t popped = 0;
  while (!s.chunks.empty() && s.base + s.chunks.front().size() <= end) {
    s.base += s.chunks.front().size();
    s.chunks.pop_front();
    ++popped;
  }
  if (s.cursor >= popped) {
    s.cursor -= popped;
  } else {  // the cursor's chunk was the last, and it is acknowledged whole
    s.cursor = 0;
    s.cursor_base = s.base;
  }
}

void QuicConnection::WriteClose(uint64_t now_ns, const DatagramSink& sink) {
  if (!close_pending_ || close_written_) return;
  close_written_ = true;
  uint8_t buf[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const ngtcp2_ssize n =
      ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buf, sizeof(buf), &ccerr_, now_ns);
  if (n > 0) sink(absl::MakeConstSpan(buf, static_cast<size_t>(n)));
}

void QuicConnection::Write(uint64_t now_ns, const DatagramSink& sink) {
  if (done_) {
    WriteClose(now_ns, sink);
    return;
  }
  uint8_t buf[65536];
  const size_t max = std::min(sizeof(buf), ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_));
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  for (auto& [id, s] : streams_) s.blocked = false;
  int packets = 0;
  while (packets < kMaxPacketsPerWrite) {
    // The next stream with something to send, round robin.
    SendStream* stream = nullptr;
    int64_t stream_id = -1;
    if (!streams_.empty()) {
      auto it = streams_.begin();
      std::advance(it, next_stream_ % streams_.size());
      for (size_t i = 0; i < streams_.size(); ++i) {
        if (it == streams_.end()) it = streams_.begin();
        if (!it->second.blocked && it->second.sent < it->second.queued_end) {
          stream = &it->second;
          stream_id = it->first;
          break;
        }
        ++it;
      }
    }
    ngtcp2_vec vec[16];
    const size_t nvec = stream != nullptr ? Gather(*stream, vec, 16) : 0;
    ngtcp2_ssize ndatalen = -1;
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize nwrite = ngtcp2_conn_writev_stream(
        conn_, &ps.path, &pi, buf, max, &ndatalen, NGTCP2_WRITE_STREAM_FLAG_MORE, stream_id,
        nvec > 0 ? vec : nullptr, nvec, now_ns);
    if (nwrite < 0) {
      if (nwrite == NGTCP2_ERR_STREAM_DATA_BLOCKED || nwrite == NGTCP2_ERR_STREAM_SHUT_WR ||
          nwrite == NGTCP2_ERR_STREAM_NOT_FOUND) {
        if (stream != nullptr) stream->blocked = true;
        continue;
      }
      if (nwrite == NGTCP2_ERR_WRITE_MORE) {
        if (stream != nullptr && ndatalen > 0) Consume(*stream, static_cast<size_t>(ndatalen));
        ++next_stream_;
        continue;
      }
      Fail(static_cast<int>(nwrite), "writing a packet");
      WriteClose(now_ns, sink);
      return;
    }
    if (stream != nullptr && ndatalen > 0) {
      Consume(*stream, static_cast<size_t>(ndatalen));
      ++next_stream_;
    }
    if (nwrite == 0) break;
    sink(absl::MakeConstSpan(buf, static_cast<size_t>(nwrite)));
    ++packets;
  }
  ngtcp2_conn_update_pkt_tx_time(conn_, now_ns);
}

uint64_t QuicConnection::expiry_ns() const {
  if (done_) return UINT64_MAX;
  return ngtcp2_conn_get_expiry(conn_);
}

void QuicConnection::HandleExpiry(uint64_t now_ns) {
  if (done_) return;
  const int rv = ngtcp2_conn_handle_expiry(conn_, now_ns);
  if (rv != 0) Fail(rv, "handling a timer");
}

absl::StatusOr<int64_t> QuicConnection::OpenBidiStream() {
  int64_t id = -1;
  const int rv = ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    return absl::ResourceExhaustedError("QUIC: the peer allows no more bidirectional streams");
  }
  if (rv != 0) return absl::InternalError(absl::StrCat("QUIC: opening a stream: ", ngtcp2_strerror(rv)));
  streams_[id];
  return id;
}

absl::StatusOr<int64_t> QuicConnection::OpenUniStream() {
  int64_t id = -1;
  const int rv = ngtcp2_conn_open_uni_stream(conn_, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    return absl::ResourceExhaustedError("QUIC: the peer allows no more unidirectional streams");
  }
  if (rv != 0) return absl::InternalError(absl::StrCat("QUIC: opening a stream: ", ngtcp2_strerror(rv)));
  streams_[id];
  return id;
}

void QuicConnection::Send(int64_t stream_id, absl::Span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  SendStream& s = streams_[stream_id];
  // Append to the last chunk while its capacity holds the bytes: within its capacity a
  // vector never moves, so the pointers ngtcp2 keeps into what it sent (to retransmit)
  // stay valid. Otherwise a new chunk, of kChunkBytes at least.
  if (!s.chunks.empty() && s.chunks.back().capacity() - s.chunks.back().size() >= bytes.size()) {
    s.chunks.back().insert(s.chunks.back().end(), bytes.begin(), bytes.end());
  } else {
    if (s.chunks.empty()) {
      s.cursor = 0;
      s.cursor_base = s.queued_end;
    }
    std::vector<uint8_t> chunk;
    chunk.reserve(std::max(bytes.size(), kChunkBytes));
    chunk.insert(chunk.end(), bytes.begin(), bytes.end());
    s.chunks.push_back(std::move(chunk));
    // The cursor's chunk was full and sent whole: the new one is where sending resumes.
    Consume(s, 0);
  }
  s.queued_end += bytes.size();
}

size_t QuicConnection::unsent_bytes(int64_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? 0 : static_cast<size_t>(it->second.queued_end - it->second.sent);
}

size_t QuicConnection::unacked_bytes() const {
  uint64_t n = 0;
  for (const auto& [id, s] : streams_) n += s.sent - s.base;
  return static_cast<size_t>(n);
}

QuicConnection::PathStats QuicConnection::path_stats() const {
  if (conn_ == nullptr) return {};
  ngtcp2_conn_stat st;
  ngtcp2_conn_get_conn_stat(conn_, &st);
  return PathStats{.cwnd = st.cwnd,
                   .bytes_in_flight = st.bytes_in_flight,
                   .smoothed_rtt_ns = st.smoothed_rtt,
                   .pto_count = st.pto_count};
}

bool QuicConnection::handshake_completed() const {
  return conn_ != nullptr && ngtcp2_conn_get_handshake_completed(conn_) != 0;
}

}  // namespace qlaster::relay
