// The Asio adapter of the QUIC core (quic_endpoint.h).
#include "relay/quic_endpoint.h"

#include <ngtcp2/ngtcp2_crypto.h>

#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "boost/asio/ip/address.hpp"

namespace qlaster::relay {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// Socket buffers large enough for a burst of a fast stream.
constexpr int kSocketBufferBytes = 8 << 20;
// How long a Retry token stays valid.
constexpr ngtcp2_duration kRetryTokenTimeout = 10 * NGTCP2_SECONDS;

uint64_t Now() { return static_cast<uint64_t>(MonotonicNs()); }

void ToSockaddr(const udp::endpoint& ep, sockaddr_storage* out, socklen_t* len) {
  std::memcpy(out, ep.data(), ep.size());
  *len = static_cast<socklen_t>(ep.size());
}

std::string CidKey(const uint8_t* data, size_t len) {
  return std::string(reinterpret_cast<const char*>(data), len);
}

void SetBuffers(udp::socket& s) {
  boost::system::error_code ec;
  s.set_option(asio::socket_base::receive_buffer_size(kSocketBufferBytes), ec);
  s.set_option(asio::socket_base::send_buffer_size(kSocketBufferBytes), ec);
  s.non_blocking(true, ec);
}

// Arms `timer` for the connection's next expiry, calling `fire` then.
template <typename Fire>
void ArmFor(asio::steady_timer& timer, const QuicConnection& conn, Fire fire) {
  const uint64_t expiry = conn.expiry_ns();
  if (expiry == UINT64_MAX) {
    timer.cancel();
    return;
  }
  const uint64_t now = Now();
  const uint64_t delay = expiry > now ? expiry - now : 0;
  timer.expires_after(std::chrono::nanoseconds(delay));
  timer.async_wait([fire](const boost::system::error_code& ec) {
    if (!ec) fire();
  });
}

}  // namespace

absl::StatusOr<udp::endpoint> ResolveUdp(const std::string& host_port) {
  std::string host;
  std::string port;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("'", host_port, "' is not [V6ADDR]:PORT"));
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", host_port, "' is not HOST:PORT"));
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  uint32_t port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", host_port, "': '", port, "' is not a port"));
  }
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return udp::endpoint(address, static_cast<uint16_t>(port_number));
  asio::io_context io;
  udp::resolver resolver(io);
  auto results = resolver.resolve(udp::v4(), host, port, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", host_port, "': cannot resolve '", host,
                                                   "': ", ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

// ------------------------------------------------------------------------------- client

QuicClientEndpoint::~QuicClientEndpoint() { Reset(); }

void QuicClientEndpoint::Reset() {
  ++generation_;
  timer_.cancel();
  if (socket_ != nullptr) {
    boost::system::error_code ec;
    socket_->close(ec);
  }
  socket_.reset();
  conn_.reset();
  on_done_ = nullptr;
}

absl::Status QuicClientEndpoint::Connect(const udp::endpoint& server, const QuicOptions& options,
                                         QuicHandler* handler,
                                         std::function<void(const absl::Status&)> on_done) {
  Reset();
  boost::system::error_code ec;
  auto socket = std::make_unique<udp::socket>(io_);
  socket->open(server.protocol(), ec);
  if (!ec) socket->connect(server, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("UDP socket to ", server.address().to_string(), ":", server.port(), ": ", ec.message()));
  SetBuffers(*socket);
  const udp::endpoint local = socket->local_endpoint(ec);
  if (ec) return absl::UnavailableError(absl::StrCat("UDP socket: ", ec.message()));
  ToSockaddr(local, &path_.local, &path_.local_len);
  ToSockaddr(server, &path_.remote, &path_.remote_len);
  QuicOptions o = options;
  o.role = TlsRole::kClient;
  QLASTER_ASSIGN_OR_RETURN(conn_, QuicConnection::Connect(o, path_, handler, Now()));
  socket_ = std::move(socket);
  on_done_ = std::move(on_done);
  Receive();
  Flush();
  return absl::OkStatus();
}

void QuicClientEndpoint::Receive() {
  if (socket_ == nullptr) return;
  const uint64_t gen = generation_;
  socket_->async_receive(asio::buffer(buf_), [this, gen](const boost::system::error_code& ec,
                                                         size_t n) {
    if (gen != generation_ || conn_ == nullptr) return;
    if (ec == asio::error::operation_aborted) return;
    if (!ec && n > 0) {
      ++counts_.datagrams_in;
      (void)conn_->Read(path_, absl::MakeConstSpan(buf_.data(), n), Now());
      // What else is queued (the socket is non-blocking), then one write for the batch.
      for (int i = 1; i < QuicServerEndpoint::kReadBatch && socket_ != nullptr; ++i) {
        boost::system::error_code more;
        const size_t m = socket_->receive(asio::buffer(buf_), 0, more);
        if (more) break;  // would_block: drained
        if (m == 0) continue;
        ++counts_.datagrams_in;
        (void)conn_->Read(path_, absl::MakeConstSpan(buf_.data(), m), Now());
      }
    }
    // ICMP port unreachable (ec connection_refused) is not a reason to stop: the QUIC
    // handshake or idle timeout decides.
    Flush();
    if (gen == generation_ && socket_ != nullptr) Receive();
  });
}

void QuicClientEndpoint::Queue(absl::Span<const uint8_t> d) {
  if (batch_count_ > 0 && (batch_closed_ || d.size() > batch_segment_ || batch_count_ == kGsoSegments ||
                           batch_.size() + d.size() > 65'000)) {
    SendQueued();
  }
  if (batch_count_ == 0) {
    batch_segment_ = d.size();
  } else if (d.size() < batch_segment_) {
    batch_closed_ = true;
  }
  batch_.insert(batch_.end(), d.begin(), d.end());
  ++batch_count_;
}

void QuicClientEndpoint::SendQueued() {
  if (batch_count_ == 0 || socket_ == nullptr) return;
  auto plain = [this](absl::Span<const uint8_t> d) {
    boost::system::error_code ec;
    socket_->send(asio::buffer(d.data(), d.size()), 0, ec);
    ++counts_.sends;
    if (ec) {
      ++counts_.send_drops;
    } else {
      ++counts_.datagrams_out;
    }
  };
  bool sent = false;
  if (gso_ && batch_count_ > 1) {
    iovec iov{.iov_base = batch_.data(), .iov_len = batch_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const uint16_t segment = static_cast<uint16_t>(batch_segment_);
    std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
    ++counts_.sends;
    if (::sendmsg(socket_->native_handle(), &msg, 0) >= 0) {
      counts_.datagrams_out += batch_count_;
      sent = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      counts_.send_drops += batch_count_;  // as a full buffer drops one: QUIC retransmits
      sent = true;
    } else {
      // EINVAL, EIO, ENOPROTOOPT: no segmentation offload here; one by one from now on.
      QLASTER_LOG(kInfo, "relay: UDP segmentation offload unavailable (%s); sending datagrams one by one",
                  std::strerror(errno));
      gso_ = false;
    }
  }
  if (!sent) {
    for (size_t off = 0; off < batch_.size(); off += batch_segment_) {
      plain(absl::MakeConstSpan(batch_.data() + off, std::min(batch_segment_, batch_.size() - off)));
    }
  }
  batch_.clear();
  batch_count_ = 0;
  batch_closed_ = false;
}

void QuicClientEndpoint::Flush() {
  if (conn_ == nullptr || socket_ == nullptr) return;
  conn_->Write(Now(), [this](absl::Span<const uint8_t> d) { Queue(d); });
  SendQueued();
  ArmTimer();
  CheckDone();
}

void QuicClientEndpoint::ArmTimer() {
  if (conn_ == nullptr) return;
  const uint64_t gen = generation_;
  ArmFor(timer_, *conn_, [this, gen] {
    if (gen != generation_ || conn_ == nullptr) return;
    conn_->HandleExpiry(Now());
    Flush();
  });
}

void QuicClientEndpoint::CheckDone() {
  if (conn_ == nullptr || !conn_->done() || !on_done_) return;
  auto done = std::move(on_done_);
  on_done_ = nullptr;
  const absl::Status why = conn_->close_status();
  // The callback may Connect again, which replaces conn_: post it, so that this frame's
  // connection outlives the call it is in.
  asio::post(io_, [done = std::move(done), why] { done(why); });
}

// ------------------------------------------------------------------------------- server

struct QuicServerEndpoint::Entry : QuicHandler {
  Entry(QuicServerEndpoint* ep, uint64_t id, std::unique_ptr<QuicServerSession> s)
      : endpoint(ep), id(id), session(std::move(s)), timer(ep->io_) {}

  absl::Status OnHandshakeCompleted() override { return session->OnHandshakeCompleted(); }
  absl::Status OnStreamOpened(int64_t stream_id) override {
    return session->OnStreamOpened(stream_id);
  }
  absl::Status OnStreamData(int64_t stream_id, absl::Span<const uint8_t> data, bool fin) override {
    return session->OnStreamData(stream_id, data, fin);
  }
  void OnWritable() override { session->OnWritable(); }
  void OnConnectionIdAdded(const ngtcp2_cid& cid) override {
    std::string key = CidKey(cid.data, cid.datalen);
    endpoint->by_cid_[key] = id;
    cids.push_back(std::move(key));
  }
  void OnConnectionIdRemoved(const ngtcp2_cid& cid) override {
    endpoint->by_cid_.erase(CidKey(cid.data, cid.datalen));
  }

  QuicServerEndpoint* endpoint;
  uint64_t id;
  std::unique_ptr<QuicServerSession> session;
  std::unique_ptr<QuicConnection> conn;
  asio::steady_timer timer;
  udp::endpoint remote;
  std::vector<std::string> cids;
  bool retired = false;
  bool read = false;  // in read_for_
};

QuicServerEndpoint::QuicServerEndpoint(asio::io_context& io, QuicOptions options,
                                       SessionFactory factory)
    : io_(io), socket_(io), options_(std::move(options)), factory_(std::move(factory)) {
  options_.role = TlsRole::kServer;
  QuicRandom(token_secret_.data(), token_secret_.size());
}

QuicServerEndpoint::~QuicServerEndpoint() {
  for (auto& [id, e] : conns_) e->timer.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
}

absl::StatusOr<std::unique_ptr<QuicServerEndpoint>> QuicServerEndpoint::Listen(
    asio::io_context& io, const udp::endpoint& listen, QuicOptions options,
    SessionFactory factory) {
  std::unique_ptr<QuicServerEndpoint> ep(
      new QuicServerEndpoint(io, std::move(options), std::move(factory)));
  boost::system::error_code ec;
  ep->socket_.open(listen.protocol(), ec);
  if (!ec) ep->socket_.bind(listen, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("binding UDP ", listen.address().to_string(), ":",
                                               listen.port(), ": ", ec.message()));
  }
  SetBuffers(ep->socket_);
  ep->port_ = ep->socket_.local_endpoint(ec).port();
  ep->Receive();
  return ep;
}

QuicPath QuicServerEndpoint::PathTo(const udp::endpoint& remote) const {
  QuicPath p;
  boost::system::error_code ec;
  ToSockaddr(socket_.local_endpoint(ec), &p.local, &p.local_len);
  ToSockaddr(remote, &p.remote, &p.remote_len);
  return p;
}

void QuicServerEndpoint::Receive() {
  socket_.async_receive_from(asio::buffer(buf_), from_,
                             [this](const boost::system::error_code& ec, size_t n) {
                               if (ec == asio::error::operation_aborted) return;
                               if (!ec) {
                                 ++counts_.datagrams_in;
                                 OnDatagram(from_, absl::MakeConstSpan(buf_.data(), n));
                               }
                               // What else is queued, without a trip through the reactor
                               // (the socket is non-blocking).
                               for (int i = 1; i < kReadBatch; ++i) {
                                 boost::system::error_code more;
                                 const size_t m = socket_.receive_from(asio::buffer(buf_), from_, 0, more);
                                 if (more) break;  // would_block: drained
                                 ++counts_.datagrams_in;
                                 OnDatagram(from_, absl::MakeConstSpan(buf_.data(), m));
                               }
                               ServiceRead();
                               Receive();
                             });
}

void QuicServerEndpoint::ServiceRead() {
  for (uint64_t id : read_for_) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    it->second->read = false;
    Service(it->second.get());
  }
  read_for_.clear();
}

void QuicServerEndpoint::SendTo(const udp::endpoint& to, absl::Span<const uint8_t> data) {
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(data.data(), data.size()), to, 0, ec);
  if (ec) {
    ++counts_.send_drops;
  } else {
    ++counts_.datagrams_out;
  }
}

void QuicServerEndpoint::OnDatagram(const udp::endpoint& from, absl::Span<const uint8_t> data) {
  if (data.empty()) {
    // A zero-length UDP datagram is legal; ngtcp2 asserts on one (found by the fuzzer).
    ++counts_.unroutable;
    return;
  }
  ngtcp2_version_cid vc;
  const int rv = ngtcp2_pkt_decode_version_cid(&vc, data.data(), data.size(), 16);
  if (rv != 0) {
    // Not QUIC v1 we can parse (or a version to negotiate, which the relay never needs).
    ++counts_.unroutable;
    return;
  }
  auto it = by_cid_.find(CidKey(vc.dcid, vc.dcidlen));
  if (it != by_cid_.end()) {
    auto c = conns_.find(it->second);
    if (c != conns_.end() && !c->second->retired) {
      Entry* e = c->second.get();
      e->remote = from;
      (void)e->conn->Read(PathTo(from), data, Now());
      if (!e->read) {  // written once the batch is read (ServiceRead)
        e->read = true;
        read_for_.push_back(e->id);
      }
      return;
    }
  }
  Accept(from, data);
}

void QuicServerEndpoint::Accept(const udp::endpoint& from, absl::Span<const uint8_t> data) {
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, data.data(), data.size()) != 0) {
    ++counts_.unroutable;  // not a client Initial: a stray or a late packet
    return;
  }
  sockaddr_storage remote;
  socklen_t remote_len;
  ToSockaddr(from, &remote, &remote_len);
  const uint64_t now = Now();
  if (hd.token.len == 0) {
    // Address validation first: no state until the client echoes a token we made for its
    // address.
    ngtcp2_cid retry_scid;
    uint8_t cid_bytes[16];
    QuicRandom(cid_bytes, sizeof(cid_bytes));
    ngtcp2_cid_init(&retry_scid, cid_bytes, sizeof(cid_bytes));
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    const ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token(
        token, token_secret_.data(), token_secret_.size(), hd.version,
        reinterpret_cast<const ngtcp2_sockaddr*>(&remote), remote_len, &retry_scid, &hd.dcid, now);
    if (tokenlen < 0) return;
    uint8_t out[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
    const ngtcp2_ssize n = ngtcp2_crypto_write_retry(out, sizeof(out), hd.version, &hd.scid,
                                                      &retry_scid, &hd.dcid, token,
                                                      static_cast<size_t>(tokenlen));
    if (n > 0) {
      SendTo(from, absl::MakeConstSpan(out, static_cast<size_t>(n)));
      ++counts_.retries_sent;
    }
    return;
  }
  ngtcp2_cid odcid;
  if (hd.token.len == 0 || hd.token.base[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY ||
      ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, token_secret_.data(),
                                       token_secret_.size(), hd.version,
                                       reinterpret_cast<const ngtcp2_sockaddr*>(&remote),
                                       remote_len, &hd.dcid, kRetryTokenTimeout, now) != 0) {
    ++counts_.bad_tokens;
    uint8_t out[NGTCP2_MAX_UDP_PAYLOAD_SIZE];
    const ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(
        out, sizeof(out), hd.version, &hd.scid, &hd.dcid, NGTCP2_INVALID_TOKEN, nullptr, 0);
    if (n > 0) SendTo(from, absl::MakeConstSpan(out, static_cast<size_t>(n)));
    return;
  }
  std::unique_ptr<QuicServerSession> session = factory_(from);
  if (session == nullptr) return;
  const uint64_t id = next_id_++;
  auto entry = std::make_unique<Entry>(this, id, std::move(session));
  Entry* e = entry.get();
  e->remote = from;
  conns_[id] = std::move(entry);
  // The client keeps addressing us by the Retry's connection ID until it sees ours.
  e->OnConnectionIdAdded(hd.dcid);
  absl::StatusOr<std::unique_ptr<QuicConnection>> conn =
      QuicConnection::Accept(options_, PathTo(from), hd, odcid, e, now);
  if (!conn.ok()) {
    QLASTER_LOG_RATE_LIMITED(kWarning, "relay gateway: cannot accept a connection from %s: %s",
                             from.address().to_string(), conn.status().ToString());
    for (const std::string& k : e->cids) by_cid_.erase(k);
    conns_.erase(id);
    return;
  }
  e->conn = *std::move(conn);
  e->session->set_connection(e->conn.get());
  ++counts_.connections_accepted;
  (void)e->conn->Read(PathTo(from), data, now);
  Service(e);
}

void QuicServerEndpoint::Service(Entry* e) {
  if (e->retired) return;
  e->conn->Write(Now(), [this, e](absl::Span<const uint8_t> d) { SendTo(e->remote, d); });
  if (e->conn->done()) {
    // Over: tell the session and forget the connection (its CONNECTION_CLOSE is out).
    e->retired = true;
    e->timer.cancel();
    const uint64_t id = e->id;
    e->session->OnDone(e->conn->close_status());
    asio::post(io_, [this, id] {
      auto it = conns_.find(id);
      if (it == conns_.end()) return;
      for (const std::string& k : it->second->cids) {
        auto c = by_cid_.find(k);
        if (c != by_cid_.end() && c->second == id) by_cid_.erase(c);
      }
      conns_.erase(it);
    });
    return;
  }
  const uint64_t id = e->id;
  ArmFor(e->timer, *e->conn, [this, id] {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->retired) return;
    it->second->conn->HandleExpiry(Now());
    Service(it->second.get());
  });
}

void QuicServerEndpoint::FlushAll() {
  std::vector<Entry*> entries;
  entries.reserve(conns_.size());
  for (auto& [id, e] : conns_) entries.push_back(e.get());
  for (Entry* e : entries) Service(e);
}

void QuicServerEndpoint::CloseAll(uint64_t code, const std::string& reason) {
  for (auto& [id, e] : conns_) {
    if (e->conn != nullptr && !e->retired) e->conn->Close(code, reason);
  }
  FlushAll();
}

}  // namespace qlaster::relay
