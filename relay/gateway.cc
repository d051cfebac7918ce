// The gateway's end of the relay protocol over QUIC (gateway.h).
#include "relay/gateway.h"

#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace qlaster::relay {
namespace asio = boost::asio;

namespace {

absl::Status Violation(RelayError code, std::string message) {
  return RelayErrorStatus(code, absl::StatusCode::kInvalidArgument, std::move(message));
}

}  // namespace

// One relay's connection.
class Gateway::Connection : public QuicServerSession {
 public:
  Connection(Gateway* gateway, std::string peer) : gateway_(gateway), peer_(std::move(peer)) {}

  absl::Status OnHandshakeCompleted() override {
    ++gateway_->counts_.handshakes;
    return absl::OkStatus();
  }

  absl::Status OnStreamOpened(int64_t stream_id) override {
    if ((stream_id & 0x1) != 0) {
      return Violation(RelayError::kStreamViolation,
                       absl::StrCat("relay protocol: stream ", stream_id, " is not the relay's"));
    }
    Stream s;
    if ((stream_id & 0x2) == 0) {
      if (control_ >= 0) {
        return Violation(RelayError::kStreamViolation, "relay protocol: a second bidirectional stream");
      }
      control_ = stream_id;
      s.decoder = std::make_unique<RelayStreamDecoder>(StreamRole::kControlAtGateway);
    } else {
      if (++class_streams_ > kClassCount) {
        return Violation(RelayError::kStreamViolation, "relay protocol: a fourth unidirectional stream");
      }
      if (session_id_ == 0) {
        return Violation(RelayError::kStreamViolation, "relay protocol: a class stream before HELLO");
      }
      s.decoder = std::make_unique<RelayStreamDecoder>(StreamRole::kClassAtGateway);
      s.checker.emplace(session_id_);
    }
    streams_.emplace(stream_id, std::move(s));
    return absl::OkStatus();
  }

  absl::Status OnStreamData(int64_t stream_id, absl::Span<const uint8_t> data, bool) override {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) {
      return Violation(RelayError::kStreamViolation, absl::StrCat("relay protocol: data on unknown stream ", stream_id));
    }
    Stream& s = it->second;
    s.decoder->Append(data);
    for (;;) {
      QLASTER_ASSIGN_OR_RETURN(std::optional<Message> msg, s.decoder->Next());
      if (!msg) return absl::OkStatus();
      if (stream_id == control_) {
        QLASTER_RETURN_IF_ERROR(OnControl(*msg));
      } else {
        QLASTER_RETURN_IF_ERROR(OnClass(s, *std::move(msg)));
      }
    }
  }

  void OnDone(const absl::Status& why) override {
    Gateway* g = gateway_;
    ++g->counts_.closed;
    if (why.code() == absl::StatusCode::kUnauthenticated) {
      ++g->counts_.tls_refused;
    } else if (why.code() == absl::StatusCode::kInvalidArgument) {
      ++g->counts_.protocol_errors;
    }
    QLASTER_LOG_RATE_LIMITED(kWarning, "relay gateway: connection from %s%s closed: %s", peer_,
                             session_id_ == 0 ? "" : absl::StrCat(" (", g->names_[session_id_], ")"),
                             why.ToString());
    auto a = g->active_.find(session_id_);
    if (a != g->active_.end() && a->second == this) g->active_.erase(a);
  }

  void Replace() {
    if (conn_ != nullptr && !conn_->done()) {
      conn_->Close(static_cast<uint64_t>(RelayError::kNoError),
                   "replaced by a newer connection of the same session");
    }
  }

 private:
  struct Stream {
    std::unique_ptr<RelayStreamDecoder> decoder;
    std::optional<ClassStreamChecker> checker;
  };

  void Send(const Message& msg) { conn_->Send(control_, EncodeMessage(msg)); }

  absl::Status OnControl(const Message& msg) {
    Gateway* g = gateway_;
    if (const auto* h = std::get_if<Hello>(&msg)) {
      if (session_id_ != 0) return Violation(RelayError::kSessionViolation, "relay protocol: a second HELLO");
      if (h->session_id == 0) return Violation(RelayError::kSessionViolation, "relay protocol: HELLO with session 0");
      session_id_ = h->session_id;
      auto [it, inserted] = g->active_.try_emplace(session_id_, this);
      if (!inserted && it->second != this) {
        it->second->Replace();
        it->second = this;
      }
      g->names_[session_id_] = h->name;
      Send(g->sessions_.OnHello(*h));
      QLASTER_LOG(kInfo, "relay gateway: relay '%s' (session %d) from %s", h->name, session_id_, peer_);
      return absl::OkStatus();
    }
    if (const auto* p = std::get_if<Ping>(&msg)) {
      Send(Pong{.nonce = p->nonce});
      return absl::OkStatus();
    }
    if (std::holds_alternative<Pong>(msg)) return absl::OkStatus();
    if (const auto* c = std::get_if<Close>(&msg)) {
      conn_->Close(static_cast<uint64_t>(RelayError::kNoError),
                   absl::StrCat("the relay closes: ", c->reason));
      return absl::OkStatus();
    }
    return Violation(RelayError::kStreamViolation, "relay protocol: unexpected message on the control stream");
  }

  absl::Status OnClass(Stream& s, Message msg) {
    Gateway* g = gateway_;
    QLASTER_RETURN_IF_ERROR(s.checker->Check(msg));
    if (g->active_.find(session_id_) == g->active_.end() || g->active_[session_id_] != this) {
      return absl::OkStatus();  // replaced: what this connection still delivers is the newer one's
    }
    const StreamClass cls = s.checker->stream_class();
    QLASTER_ASSIGN_OR_RETURN(GatewaySessions::Action action,
                             g->sessions_.OnClassMessage(session_id_, cls, msg));
    switch (action.kind) {
      case GatewaySessions::Action::Kind::kNone:
        return absl::OkStatus();
      case GatewaySessions::Action::Kind::kGap:
        g->sink_->Gap(session_id_, cls, action.gap_count);
        return absl::OkStatus();
      case GatewaySessions::Action::Kind::kPublish: {
        Update& u = std::get<Update>(msg);
        absl::Status st = g->sink_->Publish(session_id_, cls, u.sequence, std::move(u.frame));
        if (!st.ok()) {
          return RelayErrorStatus(RelayError::kMalformedFrame, absl::StatusCode::kInvalidArgument,
                                  absl::StrCat("relay protocol: UPDATE ", u.sequence,
                                               " of class ", static_cast<int>(cls),
                                               ": ", st.message()));
        }
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

  Gateway* gateway_;
  std::string peer_;
  int64_t control_ = -1;
  int class_streams_ = 0;
  uint64_t session_id_ = 0;
  std::map<int64_t, Stream> streams_;
};

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(asio::io_context& io,
                                                        const asio::ip::udp::endpoint& listen,
                                                        QuicOptions quic, GatewaySink* sink) {
  std::unique_ptr<Gateway> g(new Gateway(sink));
  Gateway* raw = g.get();
  QLASTER_ASSIGN_OR_RETURN(
      g->endpoint_,
      QuicServerEndpoint::Listen(io, listen, std::move(quic),
                                 [raw](const asio::ip::udp::endpoint& from) {
                                   ++raw->counts_.connections;
                                   return std::make_unique<Connection>(
                                       raw, absl::StrCat(from.address().to_string(), ":", from.port()));
                                 }));
  return g;
}

Gateway::~Gateway() { endpoint_.reset(); }

std::vector<GatewaySessionInfo> Gateway::Sessions() const {
  std::vector<GatewaySessionInfo> out;
  for (const auto& [id, name] : names_) {
    GatewaySessionInfo info;
    info.session_id = id;
    info.name = name;
    info.connected = active_.contains(id);
    if (const SessionCounts* c = sessions_.counts(id)) info.counts = *c;
    out.push_back(std::move(info));
  }
  return out;
}

void Gateway::CloseAll(const std::string& reason) {
  endpoint_->CloseAll(static_cast<uint64_t>(RelayError::kNoError), reason);
}

}  // namespace qlaster::relay
