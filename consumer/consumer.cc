// Consumer: the client side of the sender's protocol. The handshake and subscriptions
// over the control socket, in-place reading of the ring with sequence checking, and
// recovery (drain, report, reconnect, replay) when the sender goes away.
//
// Connection lifecycle, as Poll sees it:
//
//   connected --(Evicted / Error / EOF on the socket: peer_gone)--> draining the ring
//   draining --(ring empty or closed)--> Disconnected event pending --> disconnected
//   disconnected --(auto_reconnect, attempt due: handshake + replay)--> Reconnected
//                                                          event pending --> connected
//
// A sender that is killed leaves its ring unclosed: the socket's EOF is what tells us,
// so the socket is serviced whenever the ring looks empty. A sender that evicts us closes
// the ring before its Evicted message leaves its control thread, so a closed ring waits
// briefly for that message, which carries the reason.
#include "qlaster/consumer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "shm/event_fd.h"
#include "base/fd_passing.h"
#include "shm/mapped_region.h"
#include "shm/ring_layout.h"
#include "shm/spsc_ring.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"
#include "wire/control_framing.h"
#include "wire/frame.h"

namespace qlaster {

namespace {

constexpr uint32_t kDataRecordType = kFrameRecordType;

// Release ring space at least this often, so a long Poll does not starve the producer.
constexpr int kReleaseEvery = 64;
// How often Poll looks at the control socket: whenever the ring is empty (but not more
// often than kServiceWhenEmptyNs), and every kServiceEveryRecords records when the ring
// never empties (but not more often than kServiceBusyNs).
constexpr int64_t kServiceWhenEmptyNs = 50'000;
constexpr uint32_t kServiceEveryRecords = 256;
constexpr int64_t kServiceBusyNs = 1'000'000;
// A closed ring means the sender is done with us; its reason follows on the socket.
constexpr absl::Duration kGoodbyeWait = absl::Milliseconds(200);

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

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

// Splits a change into messages of at most kMaxSubscribeKeys keys. For Replace, the first
// message replaces and the rest add; the transaction filter rides in the first message.
std::vector<SubscribeMsg> SplitChange(fb::SubscribeOp op, std::span<const Pubkey> pubkeys,
                                      std::span<const Pubkey> owners,
                                      std::optional<TransactionFilter> tx) {
  std::vector<SubscribeMsg> out;
  size_t p = 0, o = 0;
  do {
    SubscribeMsg m;
    m.op = (op == fb::SubscribeOp::Replace && !out.empty()) ? fb::SubscribeOp::Add : op;
    size_t room = kMaxSubscribeKeys;
    const size_t np = std::min(room, pubkeys.size() - p);
    m.pubkeys.assign(pubkeys.begin() + p, pubkeys.begin() + p + np);
    p += np;
    room -= np;
    const size_t no = std::min(room, owners.size() - o);
    m.owners.assign(owners.begin() + o, owners.begin() + o + no);
    o += no;
    if (out.empty() && tx.has_value()) {
      m.transactions = *tx;
      m.set_transactions = true;
    }
    out.push_back(std::move(m));
  } while (p < pubkeys.size() || o < owners.size());
  return out;
}

}  // namespace


// ---------------------------------------------------------------------------- Impl

struct Consumer::Impl {
  enum class State { kConnected, kDisconnected, kClosed };

  // Everything that belongs to one connection.
  struct Connection {
    UniqueFd sock;
    ControlFrameReader reader;
    std::optional<shm::RingConsumer> ring;
    shm::EventFd doorbell;
    uint64_t consumer_id = 0;
    uint64_t ring_bytes = 0;
  };

  std::string path;
  ConsumerOptions options;
  State state = State::kDisconnected;
  Connection conn;

  // The sender is gone (Evicted, Error, EOF); the ring is still drained before it is
  // reported.
  bool peer_gone = false;
  bool eof_seen = false;  // the socket hit EOF: no more writes to it
  absl::Status gone;      // why; kUnavailable or kDataLoss
  std::string last_sender_error;

  // Events waiting for a Poll.
  bool disconnect_pending = false;
  std::string disconnect_reason;
  absl::Status final_status;  // what Poll returns after the DisconnectedEvent (no reconnect)
  bool reconnect_pending = false;
  ReconnectedEvent reconnected;

  absl::Time next_attempt = absl::InfinitePast();
  absl::Duration backoff;

  // The library's copy of the subscription, replayed on reconnection.
  absl::flat_hash_set<Pubkey> pubkeys;
  absl::flat_hash_set<Pubkey> owners;
  TransactionFilter transactions = TransactionFilter::kNone;
  uint64_t next_request_id = 1;

  uint64_t last_sequence = 0;
  ConsumerStats stats;
  std::unique_ptr<uint8_t[]> inflate;  // decompression buffer, grown, never shrunk
  size_t inflate_size = 0;
  int64_t last_service_ns = 0;
  uint32_t records_since_service = 0;
  bool in_poll = false;
  std::vector<uint8_t> chunk = std::vector<uint8_t>(64 * 1024);

  // ---- connection

  absl::Status Establish(absl::Time deadline);
  void Teardown() { conn = Connection(); }
  void MarkGone(absl::Status why) {
    if (!peer_gone) {
      peer_gone = true;
      gone = std::move(why);
    }
  }
  void Disconnect(absl::Status why);
  bool TryReconnect();

  // ---- control socket

  void Send(const std::vector<uint8_t>& frame) {
    absl::Status s = WriteControl(conn.sock.get(), frame);
    if (!s.ok()) MarkGone(absl::UnavailableError(absl::StrCat("control socket: ", s.message())));
  }
  // Reads what the socket has without blocking, and handles it.
  void ServiceControl();
  // Handles every complete message the reader holds.
  void DrainReader();
  void MaybeService(int64_t min_interval_ns) {
    const int64_t now = MonotonicNs();
    if (now - last_service_ns >= min_interval_ns) {
      last_service_ns = now;
      ServiceControl();
    }
  }
  // Reads once from the socket into the reader; false on EOF/error (peer marked gone).
  bool ReceiveChunk(bool* got_bytes);
  void HandleControl(const ControlMsg& msg);
  void WaitForGoodbye();
  absl::StatusOr<SubscribeAckMsg> AwaitAck(uint64_t request_id, absl::Time deadline);
  absl::StatusOr<SubscribeAckMsg> Request(SubscribeMsg& msg);

  // ---- subscriptions

  void ApplyLocal(const SubscribeMsg& msg, std::optional<TransactionFilter> tx);
  absl::StatusOr<SubscribeResult> Change(fb::SubscribeOp op, std::span<const Pubkey> pks,
                                         std::span<const Pubkey> ows,
                                         std::optional<TransactionFilter> tx);
  absl::StatusOr<uint64_t> Replay();

  // ---- reading

  // Reads at most max_records records (adding the count to *records) and returns the
  // events delivered.
  int ReadRing(void (*fn)(void*, const Event&), void* ctx, int max_records, int* records);
  // Decodes one frame and delivers its event(s); returns events delivered, or an error
  // for a corrupt record.
  absl::StatusOr<int> Deliver(absl::Span<const uint8_t> payload, void (*fn)(void*, const Event&),
                              void* ctx);
  void DeliverGap(uint64_t first, uint64_t last, bool reported, uint64_t timestamp_ns,
                  void (*fn)(void*, const Event&), void* ctx);
};

absl::Status Consumer::Impl::Establish(absl::Time deadline) {
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
  // Non-blocking, so that Poll can look at the socket without ever waiting on it.
  const int flags = ::fcntl(sock.get(), F_GETFL);
  if (flags < 0 || ::fcntl(sock.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }

  HelloMsg hello{.protocol_version = kProtocolVersion,
                 .consumer_name = options.name,
                 .ring_bytes = options.ring_bytes,
                 .overflow = options.overflow,
                 .wait_mode = options.wait_mode};
  QLASTER_RETURN_IF_ERROR(ValidateControl(hello));
  QLASTER_RETURN_IF_ERROR(WriteControl(sock.get(), EncodeControl(hello)));

  ControlFrameReader reader;
  std::vector<UniqueFd> fds;
  ReadyMsg ready;
  for (;;) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    absl::StatusOr<ControlMsg> msg = ReadControl(sock.get(), reader, left, &fds);
    if (!msg.ok()) {
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
  absl::StatusOr<shm::RingConsumer> ring = shm::RingConsumer::Attach(std::move(fds[0]));
  if (!ring.ok()) {
    return absl::Status(ring.status().code(),
                        absl::StrCat("the sender's ring: ", ring.status().message()));
  }

  conn = Connection();
  conn.sock = std::move(sock);
  conn.reader = std::move(reader);
  conn.ring.emplace(*std::move(ring));
  conn.doorbell = shm::EventFd(std::move(fds[1]));
  conn.consumer_id = ready.consumer_id;
  conn.ring_bytes = conn.ring->capacity();
  state = State::kConnected;
  peer_gone = false;
  gone = absl::OkStatus();
  last_sender_error.clear();
  eof_seen = false;
  last_sequence = 0;
  return absl::OkStatus();
}

void Consumer::Impl::Disconnect(absl::Status why) {
  if (conn.ring) conn.ring->Release();
  Teardown();
  state = State::kDisconnected;
  disconnect_pending = true;
  disconnect_reason = std::string(why.message());
  final_status = std::move(why);
  reconnect_pending = false;
  // The first attempt is immediate: an evicted consumer can usually come straight back.
  next_attempt = absl::InfinitePast();
  backoff = options.reconnect_initial_backoff;
  peer_gone = false;
}

bool Consumer::Impl::TryReconnect() {
  const absl::Time start = absl::Now();
  absl::Status s = Establish(start + options.connect_timeout);
  absl::StatusOr<uint64_t> effective = s.ok() ? Replay() : absl::StatusOr<uint64_t>(s);
  if (!effective.ok() || peer_gone) {
    Teardown();
    state = State::kDisconnected;
    peer_gone = false;
    next_attempt = absl::Now() + backoff;
    backoff = std::min(backoff * 2, options.reconnect_max_backoff);
    return false;
  }
  backoff = options.reconnect_initial_backoff;
  reconnect_pending = true;
  reconnected = ReconnectedEvent{.consumer_id = conn.consumer_id, .effective_sequence = *effective};
  ++stats.reconnects;
  return true;
}

// ------------------------------------------------------------------ control socket

bool Consumer::Impl::ReceiveChunk(bool* got_bytes) {
  *got_bytes = false;
  absl::StatusOr<ReceivedMessage> got =
      ReceiveWithFds(conn.sock.get(), absl::MakeSpan(chunk), 8);  // stray fds are closed
  if (!got.ok()) {
    std::string why = absl::IsUnavailable(got.status())
                          ? "the sender closed the connection"
                          : absl::StrCat("control socket: ", got.status().message());
    if (!last_sender_error.empty()) absl::StrAppend(&why, " (", last_sender_error, ")");
    MarkGone(absl::UnavailableError(why));
    return false;
  }
  if (got->bytes > 0) {
    conn.reader.Append(absl::MakeConstSpan(chunk.data(), got->bytes));
    *got_bytes = true;
  }
  return true;
}

void Consumer::Impl::ServiceControl() {
  if (!conn.sock.valid() || peer_gone) return;
  bool open = true;
  for (;;) {
    bool got = false;
    open = ReceiveChunk(&got);
    if (!open || !got) break;
  }
  // Messages that arrived before an EOF (Evicted, above all) say more than the EOF, and
  // MarkGone keeps the first reason: handle them first, then record the EOF.
  absl::Status eof;
  if (!open) {
    eof = std::exchange(gone, absl::OkStatus());
    peer_gone = false;
    eof_seen = true;
  }
  DrainReader();
  if (!open) MarkGone(eof);
}

void Consumer::Impl::DrainReader() {
  for (;;) {
    absl::StatusOr<std::optional<ControlMsg>> next = conn.reader.Next();
    if (!next.ok()) {
      MarkGone(absl::DataLossError(
          absl::StrCat("bad control message from the sender: ", next.status().message())));
      return;
    }
    if (!next->has_value()) return;
    HandleControl(**next);
  }
}

void Consumer::Impl::HandleControl(const ControlMsg& msg) {
  if (const auto* ping = std::get_if<PingMsg>(&msg)) {
    if (!peer_gone && !eof_seen) Send(EncodeControl(PongMsg{ping->nonce}));
  } else if (const auto* evicted = std::get_if<EvictedMsg>(&msg)) {
    MarkGone(absl::UnavailableError(DescribeEviction(*evicted)));
  } else if (const auto* error = std::get_if<ErrorMsg>(&msg)) {
    // An error outside a request precedes the sender closing the connection.
    last_sender_error = StatusFromError(*error).ToString();
  }
  // A late SubscribeAck (its request timed out) and anything a sender should not send
  // are ignored.
}

void Consumer::Impl::WaitForGoodbye() {
  const absl::Time deadline = absl::Now() + kGoodbyeWait;
  while (!peer_gone) {
    ServiceControl();
    if (peer_gone) break;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd pfd{.fd = conn.sock.get(), .events = POLLIN, .revents = 0};
    ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
  MarkGone(absl::UnavailableError("the sender closed the ring"));
}

absl::StatusOr<SubscribeAckMsg> Consumer::Impl::AwaitAck(uint64_t request_id, absl::Time deadline) {
  for (;;) {
    absl::StatusOr<std::optional<ControlMsg>> next = conn.reader.Next();
    if (!next.ok()) {
      MarkGone(absl::DataLossError(
          absl::StrCat("bad control message from the sender: ", next.status().message())));
      return gone;
    }
    if (next->has_value()) {
      const ControlMsg& msg = **next;
      if (const auto* ack = std::get_if<SubscribeAckMsg>(&msg)) {
        if (ack->request_id == request_id) return *ack;
        continue;  // the answer to a request that timed out
      }
      // Requests are sent one at a time, so an Error now answers this one.
      if (const auto* error = std::get_if<ErrorMsg>(&msg)) return StatusFromError(*error);
      HandleControl(msg);
      if (peer_gone) return gone;
      continue;
    }
    if (peer_gone) return gone;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat("no acknowledgement from the sender within ",
                                                      absl::FormatDuration(options.request_timeout),
                                                      " for request ", request_id));
    }
    pollfd pfd{.fd = conn.sock.get(), .events = POLLIN, .revents = 0};
    const int ms = static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
    if (::poll(&pfd, 1, ms) <= 0) continue;
    bool got = false;
    if (!ReceiveChunk(&got)) {
      // EOF: an Error or Evicted already buffered says more than the EOF does.
      absl::Status eof = std::exchange(gone, absl::OkStatus());
      peer_gone = false;
      eof_seen = true;
      for (;;) {
        absl::StatusOr<std::optional<ControlMsg>> m = conn.reader.Next();
        if (!m.ok() || !m->has_value()) break;
        if (const auto* ack = std::get_if<SubscribeAckMsg>(&**m);
            ack != nullptr && ack->request_id == request_id) {
          MarkGone(eof);
          return *ack;
        }
        if (const auto* error = std::get_if<ErrorMsg>(&**m)) {
          MarkGone(eof);
          return StatusFromError(*error);
        }
        HandleControl(**m);
      }
      MarkGone(eof);
      return gone;
    }
  }
}

absl::StatusOr<SubscribeAckMsg> Consumer::Impl::Request(SubscribeMsg& msg) {
  msg.request_id = next_request_id++;
  QLASTER_RETURN_IF_ERROR(ValidateControl(msg));
  Send(EncodeControl(msg));
  if (peer_gone) return gone;
  return AwaitAck(msg.request_id, absl::Now() + options.request_timeout);
}

// ------------------------------------------------------------------- subscriptions

void Consumer::Impl::ApplyLocal(const SubscribeMsg& msg, std::optional<TransactionFilter> tx) {
  if (msg.op == fb::SubscribeOp::Replace) {
    pubkeys.clear();
    owners.clear();
  }
  if (msg.op == fb::SubscribeOp::Remove) {
    for (const Pubkey& k : msg.pubkeys) pubkeys.erase(k);
    for (const Pubkey& k : msg.owners) owners.erase(k);
  } else {
    pubkeys.insert(msg.pubkeys.begin(), msg.pubkeys.end());
    owners.insert(msg.owners.begin(), msg.owners.end());
  }
  if (msg.set_transactions && tx.has_value()) transactions = *tx;
}

absl::StatusOr<SubscribeResult> Consumer::Impl::Change(fb::SubscribeOp op,
                                                       std::span<const Pubkey> pks,
                                                       std::span<const Pubkey> ows,
                                                       std::optional<TransactionFilter> tx) {
  if (state == State::kClosed) return absl::FailedPreconditionError("the consumer is closed");
  std::vector<SubscribeMsg> msgs = SplitChange(op, pks, ows, tx);
  if (op == fb::SubscribeOp::Replace) msgs.front().set_transactions = true;
  // Replace carries its filter in the message itself; ApplyLocal needs it either way.
  auto offline = [&](size_t from) -> absl::Status {
    const absl::Status why =
        state == State::kConnected && peer_gone
            ? gone
            : (final_status.ok() ? absl::UnavailableError("not connected") : final_status);
    if (!options.auto_reconnect) return why;
    for (size_t i = from; i < msgs.size(); ++i) ApplyLocal(msgs[i], tx);
    return absl::UnavailableError(
        absl::StrCat("not connected to the sender (", why.message(),
                     "); the change is recorded and will be replayed on reconnection"));
  };
  if (state != State::kConnected || peer_gone) return offline(0);

  SubscribeResult result;
  for (size_t i = 0; i < msgs.size(); ++i) {
    absl::StatusOr<SubscribeAckMsg> ack = Request(msgs[i]);
    if (!ack.ok()) {
      if (peer_gone) return offline(i);
      return ack.status();
    }
    ApplyLocal(msgs[i], tx);
    result.effective_sequence = ack->effective_sequence;
    result.pubkeys = ack->pubkeys;
    result.owners = ack->owners;
    ++result.messages;
  }
  return result;
}

absl::StatusOr<uint64_t> Consumer::Impl::Replay() {
  std::vector<Pubkey> pks(pubkeys.begin(), pubkeys.end());
  std::vector<Pubkey> ows(owners.begin(), owners.end());
  std::vector<SubscribeMsg> msgs = SplitChange(fb::SubscribeOp::Replace, pks, ows, transactions);
  uint64_t effective = 0;
  for (SubscribeMsg& m : msgs) {
    absl::StatusOr<SubscribeAckMsg> ack = Request(m);
    if (!ack.ok()) return ack.status();
    effective = ack->effective_sequence;
  }
  return effective;
}

// ------------------------------------------------------------------------- reading

void Consumer::Impl::DeliverGap(uint64_t first, uint64_t last, bool reported, uint64_t timestamp_ns,
                                void (*fn)(void*, const Event&), void* ctx) {
  const uint64_t dropped = last - first + 1;
  ++stats.gaps;
  stats.dropped += dropped;
  Event e{.kind = EventKind::kGap,
          .sequence = last,
          .timestamp_ns = timestamp_ns,
          .body = GapEvent{.dropped = dropped,
                           .first_missing = first,
                           .last_missing = last,
                           .reported_by_sender = reported}};
  fn(ctx, e);
}

absl::StatusOr<int> Consumer::Impl::Deliver(absl::Span<const uint8_t> payload,
                                            void (*fn)(void*, const Event&), void* ctx) {
  absl::StatusOr<FrameView> frame = DecodeFrame(payload);
  if (!frame.ok()) return frame.status();
  const uint64_t seq = frame->sequence;
  const uint64_t expected = last_sequence + 1;

  if (const GapView* gap = frame->gap()) {
    // The gap record covers (seq - dropped, seq]; anything missing before that is a
    // jump nobody explained, reported in the same event.
    if (gap->dropped == 0 || gap->dropped > seq || seq < expected) {
      return absl::DataLossError(absl::StrFormat(
          "gap record of %d at sequence %d after sequence %d", gap->dropped, seq, last_sequence));
    }
    const bool explained = seq - gap->dropped + 1 == expected;
    DeliverGap(expected, seq, explained, frame->timestamp_ns, fn, ctx);
    last_sequence = seq;
    return 1;
  }

  if (seq < expected) {
    return absl::DataLossError(
        absl::StrFormat("sequence went backwards: %d after %d", seq, last_sequence));
  }
  int delivered = 0;
  if (seq > expected) {
    DeliverGap(expected, seq - 1, false, frame->timestamp_ns, fn, ctx);
    ++delivered;
  }
  last_sequence = seq;

  Event e;
  e.sequence = seq;
  e.timestamp_ns = frame->timestamp_ns;
  if (const AccountView* a = frame->account()) {
    AccountEvent ev{.pubkey = a->pubkey,
                    .owner = a->owner,
                    .lamports = a->lamports,
                    .executable = a->executable,
                    .rent_epoch = a->rent_epoch,
                    .slot = a->slot,
                    .write_version = a->write_version,
                    .has_txn_signature = a->txn_signature.has_value(),
                    .txn_signature = a->txn_signature.value_or(Signature{}),
                    .data = {},
                    .was_compressed = a->is_compressed};
    if (a->is_compressed) {
      if (inflate_size < a->data_len) {
        // Not value-initialized: every byte is about to be overwritten.
        inflate.reset(new uint8_t[a->data_len]);
        inflate_size = a->data_len;
      }
      QLASTER_RETURN_IF_ERROR(a->DecompressInto(absl::MakeSpan(inflate.get(), a->data_len)));
      ev.data = std::span<const uint8_t>(inflate.get(), a->data_len);
    } else {
      ev.data = std::span<const uint8_t>(a->wire_data.data(), a->wire_data.size());
    }
    e.kind = EventKind::kAccount;
    e.body = ev;
  } else if (const TransactionView* t = frame->transaction()) {
    e.kind = EventKind::kTransaction;
    e.body = TransactionEvent{.slot = t->slot,
                              .index = t->index,
                              .signature = t->signature,
                              .is_vote = t->is_vote,
                              .failed = t->failed,
                              .data = std::span<const uint8_t>(t->data.data(), t->data.size())};
  } else if (const SlotView* s = frame->slot()) {
    e.kind = EventKind::kSlot;
    e.body =
        SlotEvent{.slot = s->slot, .parent = s->parent, .state = static_cast<SlotStatus>(s->status)};
  } else {
    return absl::DataLossError("record of no known kind");
  }
  ++stats.received;
  fn(ctx, e);
  return delivered + 1;
}

int Consumer::Impl::ReadRing(void (*fn)(void*, const Event&), void* ctx, int max_records,
                             int* records_read) {
  int delivered = 0;
  int& records = *records_read;
  max_records += records;
  int unreleased = 0;
  shm::RingConsumer& ring = *conn.ring;
  while (records < max_records) {
    shm::RingRecord record;
    const shm::ReadResult r = ring.TryRead(&record);
    if (r == shm::ReadResult::kOk) {
      ++records;
      if (record.type == kDataRecordType) {
        absl::StatusOr<int> n = Deliver(record.payload, fn, ctx);
        if (!n.ok()) {
          Disconnect(absl::DataLossError(
              absl::StrCat("corrupt record from the sender: ", n.status().message())));
          return delivered;
        }
        delivered += *n;
      }
      if (++unreleased >= kReleaseEvery) {
        ring.Release();
        unreleased = 0;
      }
      if (++records_since_service >= kServiceEveryRecords) {
        records_since_service = 0;
        MaybeService(kServiceBusyNs);
      }
      continue;
    }
    if (r == shm::ReadResult::kEmpty) {
      if (!peer_gone) {
        MaybeService(kServiceWhenEmptyNs);
        if (!peer_gone) break;
        continue;  // the sender left: drain what it published, then report
      }
      Disconnect(gone);
      return delivered;
    }
    if (r == shm::ReadResult::kClosed) {
      WaitForGoodbye();
      Disconnect(gone);
      return delivered;
    }
    Disconnect(absl::DataLossError(absl::StrCat("corrupt ring: ", ring.error().message())));
    return delivered;
  }
  ring.Release();
  return delivered;
}

// ------------------------------------------------------------------------ Consumer

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::Consumer(Consumer&& other) noexcept = default;
Consumer& Consumer::operator=(Consumer&& other) noexcept {
  if (this != &other) {
    Close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Consumer::~Consumer() { Close(); }

absl::StatusOr<Consumer> Consumer::Connect(std::string path, ConsumerOptions options) {
  if (options.reconnect_initial_backoff <= absl::ZeroDuration() ||
      options.reconnect_max_backoff < options.reconnect_initial_backoff) {
    return absl::InvalidArgumentError(
        "reconnect backoff: need 0 < reconnect_initial_backoff <= reconnect_max_backoff");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect_timeout and request_timeout must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(path);
  impl->options = std::move(options);
  impl->backoff = impl->options.reconnect_initial_backoff;
  QLASTER_RETURN_IF_ERROR(impl->Establish(absl::Now() + impl->options.connect_timeout));
  return Consumer(std::move(impl));
}

absl::StatusOr<SubscribeResult> Consumer::Subscribe(std::span<const Pubkey> pubkeys,
                                                    std::span<const Pubkey> owners,
                                                    std::optional<TransactionFilter> tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(fb::SubscribeOp::Add, pubkeys, owners, tx);
}

absl::StatusOr<SubscribeResult> Consumer::Unsubscribe(std::span<const Pubkey> pubkeys,
                                                      std::span<const Pubkey> owners,
                                                      std::optional<TransactionFilter> tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(fb::SubscribeOp::Remove, pubkeys, owners, tx);
}

absl::StatusOr<SubscribeResult> Consumer::Replace(std::span<const Pubkey> pubkeys,
                                                  std::span<const Pubkey> owners,
                                                  TransactionFilter tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(fb::SubscribeOp::Replace, pubkeys, owners, tx);
}

absl::StatusOr<SubscribeResult> Consumer::SetTransactions(TransactionFilter tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(fb::SubscribeOp::Add, {}, {}, tx);
}

absl::StatusOr<int> Consumer::Poll(const std::function<void(const Event&)>& handler, int max) {
  return PollWith(
      [](void* h, const Event& e) {
        (*static_cast<const std::function<void(const Event&)>*>(h))(e);
      },
      const_cast<void*>(static_cast<const void*>(&handler)), max);
}

absl::StatusOr<int> Consumer::PollWith(void (*fn)(void*, const Event&), void* ctx, int max) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  Impl& s = *impl_;
  if (s.in_poll) return absl::FailedPreconditionError("Poll called from a Poll callback");
  if (s.state == Impl::State::kClosed)
    return absl::FailedPreconditionError("the consumer is closed");
  if (max <= 0) return absl::InvalidArgumentError("Poll: max must be positive");
  s.in_poll = true;
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&s.in_poll};

  int delivered = 0;
  int records_left = max;
  bool attempted = false;
  while (delivered < max) {
    if (s.disconnect_pending) {
      s.disconnect_pending = false;
      ++s.stats.disconnects;
      Event e{.kind = EventKind::kDisconnected,
              .sequence = 0,
              .timestamp_ns = 0,
              .body = DisconnectedEvent{.reason = s.disconnect_reason,
                                        .will_reconnect = s.options.auto_reconnect}};
      fn(ctx, e);
      ++delivered;
      continue;
    }
    if (s.state == Impl::State::kDisconnected) {
      if (!s.options.auto_reconnect) {
        if (delivered > 0) break;
        return s.final_status.ok() ? absl::UnavailableError("not connected") : s.final_status;
      }
      // One attempt per call at most: Poll must come back quickly.
      if (attempted || absl::Now() < s.next_attempt || !s.TryReconnect()) break;
      attempted = true;
    }
    if (s.reconnect_pending) {
      s.reconnect_pending = false;
      Event e{
          .kind = EventKind::kReconnected, .sequence = 0, .timestamp_ns = 0, .body = s.reconnected};
      fn(ctx, e);
      ++delivered;
      continue;
    }
    if (records_left <= 0) break;
    // ReadRing may end the connection, and then the loop delivers the news.
    int records = 0;
    delivered += s.ReadRing(fn, ctx, std::min(records_left, max - delivered), &records);
    records_left -= records;
    if (!s.disconnect_pending) break;
  }
  return delivered;
}

absl::Status Consumer::Wait(absl::Duration timeout) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  Impl& s = *impl_;
  if (s.in_poll) return absl::FailedPreconditionError("Wait called from a Poll callback");
  if (s.state == Impl::State::kClosed)
    return absl::FailedPreconditionError("the consumer is closed");
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  const WaitMode mode = s.options.wait_mode == WaitMode::kSpin ? WaitMode::kSpin
                             : s.options.wait_mode == WaitMode::kSleep
                                 ? WaitMode::kSleep
                                 : WaitMode::kSpinThenSleep;
  // Whether the last ring wait ended without data (the socket became readable, or the
  // slice ran out): then the socket is read at once. Otherwise it is looked at no more
  // often than Poll looks at it, so a Wait per update does not cost a recvmsg per update.
  bool look_at_socket = false;
  for (;;) {
    if (s.disconnect_pending || s.reconnect_pending) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (s.state == Impl::State::kDisconnected) {
      if (!s.options.auto_reconnect) {
        return s.final_status.ok() ? absl::UnavailableError("not connected") : s.final_status;
      }
      if (now >= s.next_attempt) {
        if (s.TryReconnect()) return absl::OkStatus();
        continue;
      }
      if (now >= deadline) return absl::DeadlineExceededError("Wait timed out (disconnected)");
      absl::SleepFor(std::min(s.next_attempt, deadline) - now);
      continue;
    }
    if (s.peer_gone) return absl::OkStatus();  // Poll drains, then reports
    if (look_at_socket) {
      s.MaybeService(0);
    } else {
      s.MaybeService(kServiceWhenEmptyNs);
    }
    look_at_socket = false;
    if (s.peer_gone || s.conn.ring->HasData()) return absl::OkStatus();
    const absl::Duration left = deadline - now;
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("Wait timed out");
    // A spinning wait does not watch the socket: come up for air to answer pings.
    const absl::Duration slice =
        std::min(left, mode == WaitMode::kSpin ? absl::Milliseconds(10) : absl::Seconds(1));
    const shm::WaitResult r =
        s.conn.ring->Wait(s.conn.doorbell, mode, slice, s.options.spin, s.conn.sock.get());
    if (r != shm::WaitResult::kTimeout) return absl::OkStatus();
    // Timed out, or the socket woke us: the loop services it.
    look_at_socket = true;
  }
}

ConsumerStats Consumer::Stats() const {
  if (!impl_) return {};
  const Impl& s = *impl_;
  ConsumerStats stats = s.stats;
  stats.last_sequence = s.last_sequence;
  stats.connected = s.state == Impl::State::kConnected && !s.peer_gone;
  if (s.state == Impl::State::kConnected && s.conn.ring) {
    stats.lag_bytes = s.conn.ring->unread_bytes();
  }
  return stats;
}

uint64_t Consumer::consumer_id() const {
  return impl_ && impl_->state == Impl::State::kConnected ? impl_->conn.consumer_id : 0;
}

uint64_t Consumer::ring_bytes() const { return impl_ ? impl_->conn.ring_bytes : 0; }

bool Consumer::connected() const {
  return impl_ && impl_->state == Impl::State::kConnected && !impl_->peer_gone;
}

void Consumer::Close() {
  if (!impl_ || impl_->state == Impl::State::kClosed) return;
  Impl& s = *impl_;
  if (s.conn.ring) s.conn.ring->Release();
  s.Teardown();
  s.state = Impl::State::kClosed;
  s.disconnect_pending = false;
  s.reconnect_pending = false;
}

}  // namespace qlaster
