// ControlChannel: connecting, the handshake, requests, and the interpretation of what the
// sender says.
#include "consumer/control_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/fd_passing.h"
#include "base/status_macros.h"

namespace qlaster::consumer {
namespace {

absl::StatusCode CodeFor(fb::ErrorCode code) {
  switch (code) {
    case fb::ErrorCode::VersionMismatch:
      return absl::StatusCode::kFailedPrecondition;
    case fb::ErrorCode::BadRequest:
      return absl::StatusCode::kInvalidArgument;
    case fb::ErrorCode::LimitExceeded:
      return absl::StatusCode::kResourceExhausted;
    case fb::ErrorCode::NotAllowed:
      return absl::StatusCode::kPermissionDenied;
    case fb::ErrorCode::Internal:
      return absl::StatusCode::kInternal;
    case fb::ErrorCode::OutOfRange:
      return absl::StatusCode::kOutOfRange;
    case fb::ErrorCode::Unknown:
      break;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status StatusFromError(const ErrorMsg& error) {
  return absl::Status(CodeFor(error.code), absl::StrCat("qlaster-sender: ", error.message));
}

std::string DescribeEviction(const EvictedMsg& e) {
  const char* why = "unknown reason";
  switch (e.reason) {
    case fb::EvictReason::Slow:
      why = "slow (its ring was full)";
      break;
    case fb::EvictReason::ProtocolViolation:
      why = "protocol violation (impossible ring position)";
      break;
    case fb::EvictReason::Idle:
      why = "idle (no Poll or Wait answered its pings)";
      break;
    case fb::EvictReason::Shutdown:
      why = "the sender is shutting down";
      break;
  }
  return absl::StrFormat("evicted by the sender: %s; %d bytes unread, last sequence %d", why,
                         e.ring_fill, e.sequence);
}

absl::StatusOr<UniqueFd> ConnectSocket(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path '", path, "' is empty or over ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return ErrnoStatus(errno, "socket");
  // A Unix-socket connect completes at once (or fails) unless the listen backlog is full.
  int rc;
  do {
    rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
      return absl::UnavailableError(
          absl::StrCat("no qlaster-sender at ", path, " (", std::strerror(err), ")"));
    }
    return ErrnoStatus(err, absl::StrCat("connecting to qlaster-sender at ", path));
  }
  // Non-blocking, so that Service can look at the socket without ever waiting on it.
  const int flags = ::fcntl(sock.get(), F_GETFL);
  if (flags < 0 || ::fcntl(sock.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }
  return sock;
}

// Milliseconds for poll(2) until `deadline`, rounded up, at least 0.
int PollMillis(absl::Time deadline) {
  const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
}

}  // namespace

absl::StatusOr<ControlChannel::Handshake> ControlChannel::Connect(const std::string& path,
                                                                  const HelloMsg& hello,
                                                                  absl::Time deadline) {
  QLASTER_RETURN_IF_ERROR(ValidateControl(hello));
  QLASTER_ASSIGN_OR_RETURN(UniqueFd sock, ConnectSocket(path));
  // A sender that refuses a connection as it accepts it (a limit, an allow-list) writes
  // its Error and closes without reading the Hello: the write may fail, and the Error,
  // which says why, is still there to read.
  const absl::Status sent = WriteControl(sock.get(), EncodeControl(hello));

  ControlFrameReader reader;
  std::vector<UniqueFd> fds;
  ReadyMsg ready;
  for (;;) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    absl::StatusOr<ControlMsg> msg = ReadControl(sock.get(), reader, left, &fds);
    if (!msg.ok()) {
      if (!sent.ok()) return sent;
      if (absl::IsDeadlineExceeded(msg.status())) {
        return absl::DeadlineExceededError(
            absl::StrCat("qlaster-sender at ", path,
                         " did not complete the handshake in time: ", msg.status().message()));
      }
      if (absl::IsUnavailable(msg.status())) {
        return absl::UnavailableError(absl::StrCat("qlaster-sender at ", path,
                                                   " closed the connection during the handshake"));
      }
      return msg.status();
    }
    if (auto* r = std::get_if<ReadyMsg>(&*msg)) {
      ready = std::move(*r);
      break;
    }
    if (auto* e = std::get_if<ErrorMsg>(&*msg)) return StatusFromError(*e);
    if (auto* p = std::get_if<PingMsg>(&*msg)) {
      QLASTER_RETURN_IF_ERROR(WriteControl(sock.get(), EncodeControl(PongMsg{p->nonce})));
      continue;
    }
    return absl::DataLossError(
        absl::StrCat("handshake: expected Ready, got ", std::string(ControlMsgName(*msg))));
  }
  if (ready.protocol_version != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat("qlaster-sender speaks protocol version ",
                                                      ready.protocol_version,
                                                      ", this library speaks ", kProtocolVersion));
  }
  if (fds.size() != 2) {
    return absl::DataLossError(
        absl::StrCat("Ready came with ", fds.size(), " file descriptors, expected 2"));
  }
  return Handshake{ControlChannel(std::move(sock), std::move(reader)), std::move(ready),
                   std::move(fds[0]), std::move(fds[1])};
}

void ControlChannel::Gone(absl::Status why) {
  if (gone_.ok()) gone_ = std::move(why);
}

void ControlChannel::Send(const std::vector<uint8_t>& frame) {
  if (!open() || eof_ || send_failed_) return;
  absl::Status s = WriteControl(sock_.get(), frame);
  if (s.ok()) return;
  // The sender closed its end (EPIPE): what it said before (an Evicted, an Error) may
  // still wait in the receive buffer, and says more than the failed write.
  send_failed_ = true;
  while (Pump()) {
  }
  Gone(absl::UnavailableError(absl::StrCat("control socket: ", s.message())));
}

void ControlChannel::Handle(const ControlMsg& msg) {
  if (const auto* ping = std::get_if<PingMsg>(&msg)) {
    Send(EncodeControl(PongMsg{ping->nonce}));
  } else if (const auto* evicted = std::get_if<EvictedMsg>(&msg)) {
    Gone(absl::UnavailableError(DescribeEviction(*evicted)));
  } else if (const auto* error = std::get_if<ErrorMsg>(&msg)) {
    // Requests are sent one at a time, so an Error while one waits answers it; any other
    // precedes the sender closing the connection, and says why.
    if (awaited_.has_value() && !answer_.has_value()) {
      answer_ = StatusFromError(*error);
    } else {
      last_sender_error_ = StatusFromError(*error).ToString();
    }
  } else if (const auto* ack = std::get_if<SubscribeAckMsg>(&msg)) {
    if (awaited_.has_value() && ack->request_id == *awaited_) answer_ = *ack;
    // Otherwise the answer to a request that timed out: nothing waits for it.
  }
  // Pong, and anything a sender should not send, are ignored.
}

void ControlChannel::HandleBuffered() {
  while (open()) {
    absl::StatusOr<std::optional<ControlMsg>> next = reader_.Next();
    if (!next.ok()) {
      Gone(absl::DataLossError(
          absl::StrCat("bad control message from the sender: ", next.status().message())));
      return;
    }
    if (!next->has_value()) return;
    Handle(**next);
  }
}

bool ControlChannel::Pump() {
  if (!open() || eof_) return false;
  absl::StatusOr<ReceivedMessage> got =
      ReceiveWithFds(sock_.get(), absl::MakeSpan(chunk_), 8);  // stray fds are closed
  if (!got.ok()) {
    // EOF or a broken socket: what arrived before it is handled first (an Evicted or an
    // Error there says more), then the closed connection is the reason.
    eof_ = true;
    HandleBuffered();
    std::string why = absl::IsUnavailable(got.status())
                          ? "the sender closed the connection"
                          : absl::StrCat("control socket: ", got.status().message());
    if (!last_sender_error_.empty()) absl::StrAppend(&why, " (", last_sender_error_, ")");
    Gone(absl::UnavailableError(why));
    return false;
  }
  if (got->bytes == 0) return false;
  reader_.Append(absl::MakeConstSpan(chunk_.data(), got->bytes));
  HandleBuffered();
  return true;
}

void ControlChannel::Service() {
  while (Pump()) {
  }
}

absl::StatusOr<SubscribeAckMsg> ControlChannel::Request(const SubscribeMsg& msg,
                                                         absl::Time deadline) {
  QLASTER_RETURN_IF_ERROR(ValidateControl(msg));
  if (!open()) return gone_;
  awaited_ = msg.request_id;
  answer_.reset();
  struct Clear {
    ControlChannel* c;
    ~Clear() {
      c->awaited_.reset();
      c->answer_.reset();
    }
  } clear{this};
  Send(EncodeControl(msg));
  for (;;) {
    HandleBuffered();
    // An answer that arrived before the sender left still counts.
    if (answer_.has_value()) return *std::move(answer_);
    if (!open()) return gone_;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no acknowledgement from the sender for request ", msg.request_id));
    }
    pollfd pfd{.fd = sock_.get(), .events = POLLIN, .revents = 0};
    if (::poll(&pfd, 1, PollMillis(deadline)) > 0) Service();
  }
}

}  // namespace qlaster::consumer
