// The relay's end of one link to a gateway (relay_link.h).
#include "relay/relay_link.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace qlaster::relay {
namespace asio = boost::asio;

// The QUIC events of the current connection, handed to the link.
class RelayLink::Handler : public QuicHandler {
 public:
  explicit Handler(RelayLink* link) : link_(link) {}

  absl::Status OnHandshakeCompleted() override {
    QuicConnection* conn = link_->endpoint_.connection();
    QLASTER_ASSIGN_OR_RETURN(link_->control_stream_, conn->OpenBidiStream());
    link_->control_decoder_ = std::make_unique<RelayStreamDecoder>(StreamRole::kControlAtRelay);
    Hello hello;
    hello.session_id = link_->options_.session_id;
    for (int c = 0; c < kClassCount; ++c) {
      hello.next_sequence[c] = link_->replay_->next_sequence(static_cast<StreamClass>(c));
      link_->hello_next_[c] = hello.next_sequence[c];
    }
    hello.name = link_->options_.name.substr(0, kMaxRelayNameSize);
    link_->SendControl(hello);
    link_->last_pong_ns_ = MonotonicNs();
    return absl::OkStatus();
  }

  absl::Status OnStreamOpened(int64_t stream_id) override {
    return RelayErrorStatus(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                            absl::StrCat("relay protocol: the gateway opened stream ", stream_id));
  }

  absl::Status OnStreamData(int64_t stream_id, absl::Span<const uint8_t> data, bool) override {
    if (stream_id != link_->control_stream_ || link_->control_decoder_ == nullptr) {
      return RelayErrorStatus(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                              absl::StrCat("relay protocol: data on stream ", stream_id));
    }
    link_->control_decoder_->Append(data);
    for (;;) {
      QLASTER_ASSIGN_OR_RETURN(std::optional<Message> msg, link_->control_decoder_->Next());
      if (!msg) return absl::OkStatus();
      QLASTER_RETURN_IF_ERROR(link_->OnControlMessage(*msg));
    }
  }

  void OnWritable() override {
    // Flushed by the endpoint after the packet that made room is read; a pending GAP goes
    // out with the next Offer or Tick.
  }

 private:
  RelayLink* link_;
};

RelayLink::RelayLink(asio::io_context& io, RelayLinkOptions options, const ReplayBuffer* replay)
    : options_(std::move(options)),
      replay_(replay),
      handler_(std::make_unique<Handler>(this)),
      endpoint_(io),
      reconnect_timer_(io),
      tick_timer_(io),
      backoff_(options_.backoff_initial) {}

RelayLink::~RelayLink() {
  reconnect_timer_.cancel();
  tick_timer_.cancel();
  endpoint_.Reset();
}

void RelayLink::Start() {
  Connect();
  Tick();
}

void RelayLink::Connect() {
  if (stopped_) return;
  control_stream_ = -1;
  control_decoder_.reset();
  class_stream_ = {-1, -1, -1};
  pending_ = {};
  live_ = false;
  counts_.live = false;
  ++counts_.connects;
  absl::Status s = endpoint_.Connect(options_.server, options_.quic, handler_.get(),
                                     [this](const absl::Status& why) { OnDone(why); });
  if (!s.ok()) OnDone(s);
}

void RelayLink::OnDone(const absl::Status& why) {
  last_error_ = why;
  if (live_ || counts_.connects <= 1 || why.code() == absl::StatusCode::kUnauthenticated) {
    QLASTER_LOG_RATE_LIMITED(kWarning, "relay: link to %s closed: %s", options_.target,
                             why.ToString());
  }
  live_ = false;
  counts_.live = false;
  if (stopped_) return;
  reconnect_timer_.expires_after(absl::ToChronoNanoseconds(backoff_));
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Connect();
  });
}

void RelayLink::SendControl(const Message& msg) {
  QuicConnection* conn = endpoint_.connection();
  if (conn == nullptr || control_stream_ < 0) return;
  const std::vector<uint8_t> bytes = EncodeMessage(msg);
  conn->Send(control_stream_, bytes);
}

absl::Status RelayLink::OnControlMessage(const Message& msg) {
  if (const auto* w = std::get_if<Welcome>(&msg)) return OnWelcome(*w);
  if (const auto* p = std::get_if<Ping>(&msg)) {
    SendControl(Pong{.nonce = p->nonce});
    return absl::OkStatus();
  }
  if (std::holds_alternative<Pong>(msg)) {
    ++counts_.pongs;
    last_pong_ns_ = MonotonicNs();
    return absl::OkStatus();
  }
  if (const auto* c = std::get_if<Close>(&msg)) {
    QLASTER_LOG_RATE_LIMITED(kWarning, "relay: gateway %s closes the link: error %d: %s",
                             options_.target, static_cast<int>(c->code), c->reason);
    endpoint_.connection()->Close(static_cast<uint64_t>(RelayError::kNoError), "closing as asked");
    return absl::OkStatus();
  }
  return RelayErrorStatus(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                          "relay protocol: unexpected message on the control stream");
}

absl::Status RelayLink::OnWelcome(const Welcome& w) {
  if (live_) {
    return RelayErrorStatus(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                            "relay protocol: a second WELCOME");
  }
  if (w.session_id != options_.session_id) {
    return RelayErrorStatus(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                            absl::StrCat("relay protocol: WELCOME for session ", w.session_id,
                                         ", ours is ", options_.session_id));
  }
  QuicConnection* conn = endpoint_.connection();
  for (int c = 0; c < kClassCount; ++c) {
    const StreamClass cls = static_cast<StreamClass>(c);
    if (w.resume_from[c] > hello_next_[c]) {
      return RelayErrorStatus(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                              absl::StrCat("relay protocol: WELCOME resumes class ", c, " at ",
                                           w.resume_from[c], ", past the HELLO's ",
                                           hello_next_[c]));
    }
    // 0 ("from now") means from the HELLO's next_sequence: what was numbered while the
    // WELCOME was on its way is in the replay buffer, and goes first.
    const uint64_t from = w.resume_from[c] != 0 ? w.resume_from[c] : hello_next_[c];
    QLASTER_ASSIGN_OR_RETURN(std::vector<std::vector<uint8_t>> resume, replay_->Resume(cls, from));
    QLASTER_ASSIGN_OR_RETURN(class_stream_[c], conn->OpenUniStream());
    StreamStart start{.stream_class = cls, .session_id = options_.session_id, .first_sequence = from};
    conn->Send(class_stream_[c], EncodeMessage(start));
    for (const std::vector<uint8_t>& m : resume) conn->Send(class_stream_[c], m);
    counts_.resumed_messages += resume.size();
  }
  live_ = true;
  counts_.live = true;
  ++counts_.welcomes;
  backoff_ = options_.backoff_initial;
  QLASTER_LOG(kInfo, "relay: link to %s is up (session %d, resumed from %d/%d/%d)",
              options_.target, options_.session_id, w.resume_from[0], w.resume_from[1],
              w.resume_from[2]);
  return absl::OkStatus();
}

bool RelayLink::SendPendingGap(size_t c) {
  PendingGap& p = pending_[c];
  if (p.count == 0) return true;
  QuicConnection* conn = endpoint_.connection();
  if (conn->unsent_bytes(class_stream_[c]) > options_.max_unsent_bytes) return false;
  conn->Send(class_stream_[c], EncodeMessage(Gap{.first_sequence = p.first, .count = p.count}));
  ++counts_.gaps_sent;
  p = {};
  return true;
}

void RelayLink::Offer(StreamClass cls, uint64_t first, uint64_t count, bool is_gap,
                      absl::Span<const uint8_t> bytes) {
  if (!live_) return;  // the replay buffer holds it for the resume
  QuicConnection* conn = endpoint_.connection();
  if (conn == nullptr || conn->done()) return;
  const size_t c = static_cast<size_t>(cls);
  if (SendPendingGap(c) && conn->unsent_bytes(class_stream_[c]) <= options_.max_unsent_bytes) {
    conn->Send(class_stream_[c], bytes);
    if (is_gap) {
      ++counts_.gaps_sent;
    } else {
      ++counts_.updates_sent;
    }
    return;
  }
  PendingGap& p = pending_[c];
  if (p.count == 0) p.first = first;
  p.count += count;
  if (!is_gap) counts_.dropped += count;
}

void RelayLink::Flush() {
  if (live_ && endpoint_.connection() != nullptr && !endpoint_.connection()->done()) {
    for (size_t c = 0; c < kClassCount; ++c) SendPendingGap(c);
  }
  endpoint_.Flush();
}

void RelayLink::Stop(const std::string& reason) {
  stopped_ = true;
  reconnect_timer_.cancel();
  tick_timer_.cancel();
  if (QuicConnection* conn = endpoint_.connection(); conn != nullptr && !conn->done()) {
    if (control_stream_ >= 0) SendControl(Close{.code = RelayError::kNoError, .reason = reason});
    conn->Close(static_cast<uint64_t>(RelayError::kNoError), reason);
    endpoint_.Flush();
  }
}

void RelayLink::Tick() {
  if (stopped_) return;
  if (live_) {
    QuicConnection* conn = endpoint_.connection();
    if (conn != nullptr && !conn->done()) {
      const int64_t now = MonotonicNs();
      if (now - last_pong_ns_ > absl::ToInt64Nanoseconds(options_.pong_timeout)) {
        conn->Close(static_cast<uint64_t>(RelayError::kNoError),
                    absl::StrCat("no PONG for ", absl::FormatDuration(options_.pong_timeout)));
      } else if (now - last_ping_ns_ >= absl::ToInt64Nanoseconds(options_.ping_interval)) {
        SendControl(Ping{.nonce = next_nonce_++});
        ++counts_.pings;
        last_ping_ns_ = now;
      }
      for (size_t c = 0; c < kClassCount; ++c) SendPendingGap(c);
      endpoint_.Flush();
      const QuicConnection::PathStats path = conn->path_stats();
      counts_.cwnd = path.cwnd;
      counts_.bytes_in_flight = path.bytes_in_flight;
      counts_.smoothed_rtt_us = path.smoothed_rtt_ns / 1000;
      counts_.unsent_bytes = 0;
      for (int64_t id : class_stream_) counts_.unsent_bytes += conn->unsent_bytes(id);
    }
  }
  tick_timer_.expires_after(absl::ToChronoNanoseconds(options_.ping_interval / 4));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

}  // namespace qlaster::relay
