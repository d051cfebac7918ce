// ControlServer: accept loop, sessions, handshake, subscriptions, acknowledgements,
// evictions, keepalive and shutdown.
#include "sender/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <utility>  // before Boost.Asio in C++20
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/fd_passing.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "sender/metrics.h"

namespace qlaster::sender {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::local::stream_protocol;
using boost::system::error_code;

fb::ErrorCode ErrorCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return fb::ErrorCode::VersionMismatch;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kNotFound:
      return fb::ErrorCode::BadRequest;
    case absl::StatusCode::kResourceExhausted:
      return fb::ErrorCode::LimitExceeded;
    case absl::StatusCode::kPermissionDenied:
      return fb::ErrorCode::NotAllowed;
    case absl::StatusCode::kOutOfRange:
      return fb::ErrorCode::OutOfRange;
    default:
      return fb::ErrorCode::Internal;
  }
}

namespace {

struct OutFrame {
  std::vector<uint8_t> bytes;
  std::vector<int> fds;                     // sent with the first byte (SCM_RIGHTS)
  std::shared_ptr<ConsumerChannel> keeper;  // keeps `fds` open until sent
};

// A subscription change waiting for the dispatcher to route by it: acknowledged once the
// dispatcher has adopted a table of `version` or newer.
struct PendingAck {
  uint64_t version;
  uint64_t consumer_id;
  uint64_t request_id;
  // A replay the change asked for: the update log keeps from_slot pinned until the table
  // that starts it is in use.
  std::optional<uint64_t> from_slot = std::nullopt;
  uint64_t replay_request = 0;
};

// The label a refusal is counted under when the caller names none.
std::string RefusalReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return "version_mismatch";
    case absl::StatusCode::kResourceExhausted:
      return "limit_exceeded";
    case absl::StatusCode::kPermissionDenied:
      return "not_allowed";
    case absl::StatusCode::kDeadlineExceeded:
      return "handshake_timeout";
    case absl::StatusCode::kUnavailable:
      return "shutting_down";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
      return "bad_request";
    default:
      return "internal";
  }
}

}  // namespace

// ------------------------------------------------------------------------------ Impl

struct ControlServer::Impl {
  Impl(asio::io_context& io, Dispatcher& dispatcher, const shm::EventFd& notify,
       ControlOptions options)
      : io(io),
        dispatcher(dispatcher),
        options(std::move(options)),
        registry(this->options.limits),
        acceptor(io),
        notify_watch(io),
        keepalive(io) {
    notify_watch.assign(::dup(notify.fd()));
    // Every reason from the start, at 0: a series that appears only on the first refusal
    // is one that rate() and alerts cannot see rise.
    for (const char* reason :
         {"not_allowed", "pending_per_uid", "pending", "consumers_per_uid", "consumers",
          "handshake_timeout", "bad_request", "version_mismatch", "limit_exceeded",
          "shutting_down", "internal"}) {
      refusals[reason] = 0;
    }
    for (fb::ErrorCode code : fb::EnumValuesErrorCode()) {
      if (code != fb::ErrorCode::Unknown) subscribe_refusals[SnakeCaseLabel(fb::EnumNameErrorCode(code))] = 0;
    }
  }

  // Connection events: at info level (--quiet turns them off), rate-limited, since a
  // client in a reconnect loop would otherwise write a line per attempt.
  void Log(const std::string& line) const {
    if (options.verbose) QLASTER_LOG_RATE_LIMITED(kInfo, "%s", line);
  }

  awaitable<void> AcceptLoop();
  awaitable<void> WatchDispatcher();
  void Settle(const PendingAck& ack);
  awaitable<void> KeepaliveLoop();
  void StartSession(stream_protocol::socket socket);

  void Handle(Session& s, const ControlMsg& msg);
  void OnHello(Session& s, const HelloMsg& hello);
  void OnSubscribe(Session& s, const SubscribeMsg& msg);
  // Sends an Error and closes; counted under `reason` (RefusalReason(status) if empty).
  void Fail(Session& s, const absl::Status& status, std::string reason = {});
  void EndConsumer(Session& s);
  void LeavePending(Session& s);
  void ScheduleRebuild();
  void OnDispatcherEvents();
  void OnEviction(const EvictionEvent& e);
  StatsMsg BuildStats() const;
  std::vector<const Source*> sources;  // their counters go into Stats

  asio::io_context& io;
  Dispatcher& dispatcher;
  const ControlOptions options;
  Registry registry;
  stream_protocol::acceptor acceptor;
  asio::posix::stream_descriptor notify_watch;
  asio::steady_timer keepalive;
  bool listening = false;
  bool shutting_down = false;
  std::vector<std::shared_ptr<Session>> sessions;
  // The sessions that completed their handshake, by consumer id.
  absl::flat_hash_map<uint64_t, Session*> by_consumer;

  // Fairness (ControlOptions::max_pending*): connections not past Hello, and consumers,
  // by peer uid.
  absl::flat_hash_map<uid_t, size_t> pending_by_uid;
  absl::flat_hash_map<uid_t, size_t> consumers_by_uid;
  size_t pending_total = 0;
  // For Metrics().
  uint64_t accepted = 0;
  std::map<std::string, uint64_t> refusals;
  std::map<std::string, uint64_t> subscribe_refusals;
  std::array<uint64_t, 4> evictions{};
  // By the evicted consumer's name, kept after it has gone (a bot that is evicted over
  // and over shows up under its name); at most kEvictedNames names, the rest as "(other)".
  std::map<std::string, std::array<uint64_t, 4>> evictions_by_name;
  void CountEviction(fb::EvictReason reason, const std::string& name) {
    const size_t i = static_cast<size_t>(reason);
    if (i >= evictions.size()) return;
    ++evictions[i];
    auto it = evictions_by_name.find(name);
    if (it == evictions_by_name.end()) {
      const bool room = evictions_by_name.size() < ControlMetrics::kEvictedNames;
      it = evictions_by_name.try_emplace(room ? name : ControlMetrics::kOtherEvicted).first;
    }
    ++it->second[i];
  }

  // Subscription changes waiting for their table, in version order.
  std::deque<PendingAck> pending_acks;
  bool rebuild_posted = false;
  uint64_t ping_nonce = 0;
};

// --------------------------------------------------------------------------- Session

class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, stream_protocol::socket socket)
      : server_(server), socket_(std::move(socket)), wake_writer_(server.io) {
    last_heard_ = connected_at_ = absl::Now();
  }

  void Start() {
    asio::co_spawn(server_.io, ReadLoop(shared_from_this()), asio::detached);
    asio::co_spawn(server_.io, WriteLoop(shared_from_this()), asio::detached);
  }

  void Send(std::vector<uint8_t> bytes, std::vector<int> fds = {},
            std::shared_ptr<ConsumerChannel> keeper = nullptr) {
    if (closed_ || closing_) return;
    outbox_bytes_ += bytes.size();
    if (outbox_bytes_ > server_.options.max_outbox_bytes) {
      QLASTER_LOG_RATE_LIMITED(kWarning, "connection %s does not read its replies; closing",
                               Describe());
      CloseNow();
      return;
    }
    outbox_.push_back({std::move(bytes), std::move(fds), std::move(keeper)});
    wake_writer_.cancel();
  }

  // Stops reading; the writer flushes what is queued, then closes.
  void CloseAfterFlush() {
    closing_ = true;
    wake_writer_.cancel();
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    error_code ec;
    socket_.shutdown(stream_protocol::socket::shutdown_both, ec);
    socket_.close(ec);
    wake_writer_.cancel();
    server_.EndConsumer(*this);
  }

  std::string Describe() const {
    return consumer_id == 0 ? absl::StrCat("#", serial)
                            : absl::StrFormat("#%d (consumer %#x '%s')", serial, consumer_id, name);
  }

  uint64_t consumer_id = 0;
  std::string name;
  uint64_t serial = 0;
  uid_t uid = 0;  // the peer's (SO_PEERCRED)
  gid_t gid = 0;
  bool pending = false;  // counted in pending_by_uid (not past Hello, not closed)
  bool stats_only = false;
  bool eviction_reported = false;
  absl::Time last_heard_;
  absl::Time connected_at_;
  bool closed() const { return closed_; }
  bool closing() const { return closing_; }
  stream_protocol::socket& socket() { return socket_; }

 private:
  static awaitable<void> ReadLoop(std::shared_ptr<Session> self) {
    std::vector<uint8_t> buf(64 * 1024);
    while (!self->closing_) {
      error_code ec;
      size_t n = co_await self->socket_.async_read_some(asio::buffer(buf),
                                                        asio::redirect_error(use_awaitable, ec));
      if (ec || self->closing_) break;
      self->last_heard_ = absl::Now();
      self->reader_.Append(absl::MakeConstSpan(buf.data(), n));
      while (!self->closing_) {
        absl::StatusOr<std::optional<ControlMsg>> next = self->reader_.Next();
        if (!next.ok()) {
          self->server_.Fail(*self, next.status());
          break;
        }
        if (!next->has_value()) break;
        self->server_.Handle(*self, **next);
      }
    }
    if (!self->closing_) {
      self->server_.Log(absl::StrCat("connection ", self->Describe(), " closed by peer"));
      self->CloseNow();
    }
  }

  static awaitable<void> WriteLoop(std::shared_ptr<Session> self) {
    while (!self->closed_) {
      if (self->outbox_.empty()) {
        if (self->closing_) break;
        error_code ec;
        self->wake_writer_.expires_at(asio::steady_timer::time_point::max());
        co_await self->wake_writer_.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      OutFrame& f = self->outbox_.front();
      error_code ec;
      if (f.fds.empty()) {
        co_await asio::async_write(self->socket_, asio::buffer(f.bytes),
                                   asio::redirect_error(use_awaitable, ec));
      } else {
        // SCM_RIGHTS needs sendmsg: wait until writable, then send on the native handle.
        co_await self->socket_.async_wait(stream_protocol::socket::wait_write,
                                          asio::redirect_error(use_awaitable, ec));
        if (!ec && !self->closed_) {
          absl::Status s = SendWithFds(self->socket_.native_handle(), f.bytes, f.fds);
          if (!s.ok()) ec = asio::error::broken_pipe;
        }
      }
      if (ec || self->closed_) break;
      self->outbox_bytes_ -= f.bytes.size();
      self->outbox_.pop_front();
    }
    self->CloseNow();
  }

  Impl& server_;
  stream_protocol::socket socket_;
  asio::steady_timer wake_writer_;
  ControlFrameReader reader_;
  std::deque<OutFrame> outbox_;
  size_t outbox_bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
};

// ---------------------------------------------------------------------- Impl methods

void ControlServer::Impl::StartSession(stream_protocol::socket socket) {
  static uint64_t next_serial = 1;
  auto session = std::make_shared<Session>(*this, std::move(socket));
  session->serial = next_serial++;
  ++accepted;
  // Who is calling: SO_PEERCRED is the kernel's word, not the client's.
  ucred cred{};
  socklen_t len = sizeof(cred);
  const bool known =
      ::getsockopt(session->socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
  session->uid = cred.uid;
  session->gid = cred.gid;
  sessions.push_back(session);
  session->Start();
  // A refused connection still gets its reason (an Error) before the close: a client
  // tells "refused, and why" from a sender that died.
  if (!options.allowed_uids.empty() || !options.allowed_gids.empty()) {
    bool allowed = false;
    if (known) {
      for (uid_t u : options.allowed_uids) allowed |= (u == cred.uid);
      for (gid_t g : options.allowed_gids) allowed |= (g == cred.gid);
    }
    if (!allowed) {
      return Fail(*session, absl::PermissionDeniedError(absl::StrCat(
                                "uid ", cred.uid, " gid ", cred.gid, " may not use this sender")));
    }
  }
  size_t& of_uid = pending_by_uid[cred.uid];
  if (of_uid >= options.max_pending_per_uid) {
    return Fail(*session,
                absl::ResourceExhaustedError(absl::StrCat(
                    "uid ", cred.uid, " already has ", of_uid,
                    " connections that have not said Hello (--max_pending_per_uid=",
                    options.max_pending_per_uid, ")")),
                "pending_per_uid");
  }
  if (pending_total >= options.max_pending) {
    return Fail(*session,
                absl::ResourceExhaustedError(absl::StrCat(
                    pending_total, " connections have not said Hello (--max_pending=",
                    options.max_pending, ")")),
                "pending");
  }
  ++of_uid;
  ++pending_total;
  session->pending = true;
}

void ControlServer::Impl::LeavePending(Session& s) {
  if (!s.pending) return;
  s.pending = false;
  --pending_total;
  if (auto it = pending_by_uid.find(s.uid); it != pending_by_uid.end() && --it->second == 0) {
    pending_by_uid.erase(it);
  }
}

awaitable<void> ControlServer::Impl::AcceptLoop() {
  while (!shutting_down) {
    error_code ec;
    stream_protocol::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (shutting_down) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      QLASTER_LOG_RATE_LIMITED(kWarning, "accept: %s", ec.message());
      // EMFILE and friends: back off rather than spin.
      asio::steady_timer pause(io, std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    StartSession(std::move(socket));
  }
}

void ControlServer::Impl::Handle(Session& s, const ControlMsg& msg) {
  if (const auto* hello = std::get_if<HelloMsg>(&msg)) return OnHello(s, *hello);
  if (const auto* sub = std::get_if<SubscribeMsg>(&msg)) return OnSubscribe(s, *sub);
  if (const auto* ping = std::get_if<PingMsg>(&msg)) return s.Send(EncodeControl(PongMsg{ping->nonce}));
  if (std::holds_alternative<PongMsg>(msg)) return;  // last_heard_ is already updated
  if (std::holds_alternative<StatsRequestMsg>(msg)) {
    if (s.consumer_id == 0) s.stats_only = true;
    return s.Send(EncodeControl(BuildStats()));
  }
  Fail(s, absl::InvalidArgumentError(absl::StrCat(
              "a client may not send ", std::string(ControlMsgName(msg)), " to the sender")));
}

void ControlServer::Impl::OnHello(Session& s, const HelloMsg& hello) {
  if (s.consumer_id != 0) return Fail(s, absl::InvalidArgumentError("Hello sent twice"));
  if (hello.protocol_version != kProtocolVersion) {
    return Fail(s, absl::FailedPreconditionError(
                       absl::StrCat("client speaks protocol version ", hello.protocol_version,
                                    ", this sender speaks ", kProtocolVersion)));
  }
  if (shutting_down) return Fail(s, absl::UnavailableError("the sender is shutting down"));
  if (options.max_consumers_per_uid != 0) {
    if (auto it = consumers_by_uid.find(s.uid);
        it != consumers_by_uid.end() && it->second >= options.max_consumers_per_uid) {
      return Fail(s,
                  absl::ResourceExhaustedError(absl::StrCat(
                      "uid ", s.uid, " already has ", it->second,
                      " consumers (--max_consumers_per_uid=", options.max_consumers_per_uid, ")")),
                  "consumers_per_uid");
    }
  }
  absl::StatusOr<uint64_t> id = registry.Reserve();
  if (!id.ok()) return Fail(s, id.status(), "consumers");
  uint64_t ring_bytes = hello.ring_bytes == 0 ? options.default_ring_bytes : hello.ring_bytes;
  ring_bytes = std::min(ring_bytes, options.max_ring_bytes);
  absl::StatusOr<shm::RingProducer> ring =
      shm::RingProducer::Create({.dir = options.shm_dir, .capacity = ring_bytes});
  absl::StatusOr<shm::EventFd> doorbell =
      ring.ok() ? shm::EventFd::Create() : absl::StatusOr<shm::EventFd>(ring.status());
  if (!doorbell.ok()) {
    registry.Remove(*id);
    return Fail(s, doorbell.status());
  }
  LeavePending(s);
  ++consumers_by_uid[s.uid];
  s.consumer_id = *id;
  s.name = hello.consumer_name.empty() ? absl::StrCat("consumer-", s.serial) : hello.consumer_name;
  auto channel = std::make_shared<ConsumerChannel>(
      *id, s.name, *std::move(ring), *std::move(doorbell), hello.overflow,
      absl::ToInt64Nanoseconds(options.min_wake_interval));
  registry.Find(*id)->channel = channel;
  by_consumer[*id] = &s;
  ReadyMsg ready{.protocol_version = kProtocolVersion,
                 .consumer_id = *id,
                 .ring_bytes = channel->ring_bytes(),
                 .sender_name = options.sender_name};
  s.Send(EncodeControl(ready), {channel->ring_fd(), channel->doorbell_fd()}, channel);
  ScheduleRebuild();
  Log(absl::StrFormat("connection %s: ring %d bytes, %s", s.Describe(), channel->ring_bytes(),
                      hello.overflow == OverflowPolicy::kEvict ? "evict when slow"
                                                                  : "drop and count when slow"));
}

void ControlServer::Impl::OnSubscribe(Session& s, const SubscribeMsg& msg) {
  if (s.consumer_id == 0) return Fail(s, absl::InvalidArgumentError("Subscribe before Hello"));
  auto refuse = [&](const absl::Status& why) {
    // The request is refused, the connection stays: the consumer may retry with less.
    ++subscribe_refusals[SnakeCaseLabel(fb::EnumNameErrorCode(ErrorCodeFor(why)))];
    QLASTER_LOG_RATE_LIMITED(kWarning, "subscription of %s refused: %s", s.Describe(),
                             why.ToString());
    s.Send(EncodeControl(ErrorMsg{ErrorCodeFor(why), std::string(why.message())}));
  };
  if (msg.from_slot.has_value()) {
    // Checked, and the slot kept, before anything changes.
    UpdateLog* log = dispatcher.update_log();
    if (log == nullptr) {
      return refuse(absl::OutOfRangeError(
          absl::StrCat("from_slot ", *msg.from_slot,
                       ": this sender keeps no update log (--replay_slots=0 and "
                       "--commitment_buffer_bytes=0)")));
    }
    if (absl::Status pinned = log->Pin(*msg.from_slot); !pinned.ok()) return refuse(pinned);
  }
  absl::Status applied = registry.ApplySubscribe(s.consumer_id, msg);
  if (!applied.ok()) {
    if (msg.from_slot.has_value()) dispatcher.update_log()->Unpin(*msg.from_slot);
    return refuse(applied);
  }
  // The next table installed includes this change (a rebuild is posted, or already is).
  pending_acks.push_back({.version = dispatcher.next_version(),
                          .consumer_id = s.consumer_id,
                          .request_id = msg.request_id,
                          .from_slot = msg.from_slot,
                          .replay_request = registry.Find(s.consumer_id)->filter.replay_request});
  ScheduleRebuild();
}

void ControlServer::Impl::Settle(const PendingAck& ack) {
  if (!ack.from_slot.has_value()) return;
  // The table that starts the replay is in use (or the change failed): the replay no
  // longer needs the slot pinned, and later tables need not name it.
  dispatcher.update_log()->Unpin(*ack.from_slot);
  registry.ClearReplayRequest(ack.consumer_id, ack.replay_request);
}

void ControlServer::Impl::Fail(Session& s, const absl::Status& status, std::string reason) {
  if (reason.empty()) reason = RefusalReason(status);
  // Every refusal is logged with its reason (rate-limited), even when --quiet.
  QLASTER_LOG_RATE_LIMITED(kWarning, "connection %s (uid %d) refused [%s]: %s", s.Describe(),
                           s.uid, reason, status.ToString());
  ++refusals[reason];
  std::string message(status.message().substr(0, kMaxErrorMessageSize));
  s.Send(EncodeControl(ErrorMsg{ErrorCodeFor(status), std::move(message)}));
  s.CloseAfterFlush();
  EndConsumer(s);
}

void ControlServer::Impl::EndConsumer(Session& s) {
  LeavePending(s);
  if (s.consumer_id != 0) {
    if (auto it = consumers_by_uid.find(s.uid); it != consumers_by_uid.end() && --it->second == 0) {
      consumers_by_uid.erase(it);
    }
    registry.Remove(s.consumer_id);
    by_consumer.erase(s.consumer_id);
    s.consumer_id = 0;  // its pending acknowledgements find no consumer and are dropped
    ScheduleRebuild();
  }
  if (s.closed()) {
    std::erase_if(sessions, [&](const std::shared_ptr<Session>& p) { return p.get() == &s; });
  }
}

void ControlServer::Impl::ScheduleRebuild() {
  if (rebuild_posted) return;
  rebuild_posted = true;
  // Posted, so that a burst of changes (many Subscribes in one read) costs one build.
  asio::post(io, [this] {
    rebuild_posted = false;
    absl::StatusOr<std::unique_ptr<RoutingTable>> table = registry.BuildTable();
    if (!table.ok()) {
      // An inconsistency of our own: the old table stays, and the requests waiting for
      // this one are refused rather than acknowledged.
      QLASTER_LOG(kError, "%s", table.status().ToString());
      const uint64_t version = dispatcher.next_version();
      while (!pending_acks.empty() && pending_acks.back().version == version) {
        const PendingAck ack = pending_acks.back();
        pending_acks.pop_back();
        Settle(ack);
        if (auto it = by_consumer.find(ack.consumer_id); it != by_consumer.end()) {
          it->second->Send(EncodeControl(ErrorMsg{fb::ErrorCode::Internal,
                                                  std::string(table.status().message())}));
        }
      }
      return;
    }
    dispatcher.Install(*std::move(table));
  });
}

void ControlServer::Impl::OnDispatcherEvents() {
  // 1. Acknowledge the subscriptions the dispatcher now routes by.
  if (const RoutingTable* adopted = dispatcher.adopted()) {
    while (!pending_acks.empty() && pending_acks.front().version <= adopted->version) {
      const PendingAck ack = pending_acks.front();
      pending_acks.pop_front();
      Settle(ack);
      const auto it = by_consumer.find(ack.consumer_id);
      const ConsumerEntry* e = registry.Find(ack.consumer_id);
      if (it == by_consumer.end() || e == nullptr) continue;  // it left meanwhile
      it->second->Send(EncodeControl(SubscribeAckMsg{
          .request_id = ack.request_id,
          .pubkeys = e->filter.pubkeys.size(),
          .owners = e->filter.owners.size(),
          .effective_sequence = adopted->adopted_after_sequence[e->index]}));
    }
  }
  dispatcher.CollectGarbage();

  // 2. Tell evicted consumers why, and let them go.
  while (std::optional<EvictionEvent> e = dispatcher.NextEvent()) OnEviction(*e);
  if (dispatcher.OverflowedEvents()) {
    // More evictions than the queue holds: the channels themselves say which.
    for (const ConsumerEntry* e : registry.Entries()) {
      if (e->channel != nullptr && e->channel->evicted()) {
        const ConsumerChannel& ch = *e->channel;
        OnEviction({.consumer_id = e->id,
                    .reason = ch.evict_reason(),
                    .ring_fill = ch.evict_fill(),
                    .last_sequence = ch.last_sequence()});
      }
    }
  }
}

void ControlServer::Impl::OnEviction(const EvictionEvent& e) {
  const auto it = by_consumer.find(e.consumer_id);
  if (it == by_consumer.end()) return;  // it left before the news arrived
  Session& s = *it->second;
  if (s.eviction_reported) return;
  s.eviction_reported = true;
  CountEviction(e.reason, s.name);
  QLASTER_LOG_RATE_LIMITED(kWarning, "evicting %s: %s, %d bytes unread at sequence %d",
                           s.Describe(), fb::EnumNameEvictReason(e.reason), e.ring_fill,
                           e.last_sequence);
  s.Send(EncodeControl(EvictedMsg{e.reason, e.ring_fill, e.last_sequence}));
  s.CloseAfterFlush();
  EndConsumer(s);
}

awaitable<void> ControlServer::Impl::WatchDispatcher() {
  for (;;) {
    error_code ec;
    co_await notify_watch.async_wait(asio::posix::stream_descriptor::wait_read,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    uint64_t value;
    (void)::read(notify_watch.native_handle(), &value, sizeof(value));
    OnDispatcherEvents();
  }
}

awaitable<void> ControlServer::Impl::KeepaliveLoop() {
  const absl::Duration tick = std::min(options.ping_interval, options.handshake_timeout);
  for (;;) {
    error_code ec;
    keepalive.expires_after(absl::ToChronoMilliseconds(tick));
    co_await keepalive.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec || shutting_down) break;
    const absl::Time now = absl::Now();
    for (const auto& s : std::vector<std::shared_ptr<Session>>(sessions)) {
      if (s->closing()) continue;
      if (s->consumer_id == 0) {
        if (!s->stats_only && now - s->connected_at_ > options.handshake_timeout) {
          Fail(*s, absl::DeadlineExceededError("no Hello within the handshake timeout"));
        }
        continue;
      }
      if (now - s->last_heard_ > options.idle_timeout) {
        const ConsumerEntry* e = registry.Find(s->consumer_id);
        QLASTER_LOG_RATE_LIMITED(kWarning, "evicting %s: idle for %s", s->Describe(),
                                 absl::FormatDuration(now - s->last_heard_));
        s->Send(EncodeControl(EvictedMsg{fb::EvictReason::Idle,
                                         e && e->channel ? e->channel->ring_fill() : 0,
                                         e && e->channel ? e->channel->last_sequence() : 0}));
        s->eviction_reported = true;
        CountEviction(fb::EvictReason::Idle, s->name);
        s->CloseAfterFlush();
        EndConsumer(*s);
        continue;
      }
      s->Send(EncodeControl(PingMsg{++ping_nonce}));
    }
  }
}

StatsMsg ControlServer::Impl::BuildStats() const {
  StatsMsg stats;
  const DispatcherCounters& c = dispatcher.counters();
  stats.published = c.published.load(std::memory_order_relaxed);
  stats.evicted = c.evicted.load(std::memory_order_relaxed);
  for (const ConsumerEntry* e : registry.Entries()) {
    if (e->channel == nullptr) continue;
    const ConsumerChannel& ch = *e->channel;
    ConsumerStatsEntry entry{.consumer_id = e->id,
                             .name = ch.name(),
                             .delivered = ch.delivered(),
                             .dropped = ch.dropped(),
                             .ring_bytes = ch.ring_bytes(),
                             .ring_fill = ch.ring_fill(),
                             .lag_records = ch.LagRecords()};
    stats.delivered += entry.delivered;
    stats.dropped += entry.dropped;
    if (stats.consumers.size() < kMaxStatsConsumers) stats.consumers.push_back(std::move(entry));
  }
  if (const UpdateLog* log = dispatcher.update_log(); log != nullptr) {
    stats.oldest_replay_slot = log->OldestSlot();
  }
  for (const Source* source : sources) source->AppendCounters(&stats.source_counters);
  if (stats.source_counters.size() > kMaxStatsSourceCounters) {
    stats.source_counters.resize(kMaxStatsSourceCounters);
  }
  return stats;
}

// ---------------------------------------------------------------------- ControlServer

ControlServer::ControlServer(asio::io_context& io, Dispatcher& dispatcher,
                             const shm::EventFd& notify, ControlOptions options)
    : impl_(std::make_unique<Impl>(io, dispatcher, notify, std::move(options))) {}

ControlServer::~ControlServer() = default;

absl::Status ControlServer::Listen() {
  const std::string& path = impl_->options.socket_path;
  if (path.empty()) return absl::InvalidArgumentError("no socket path");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path is ", path.size(),
                                                   " bytes; the limit is ",
                                                   sizeof(sockaddr_un::sun_path) - 1));
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a socket"));
    }
    // Is a sender alive on it? Only a refused connection proves the file stale.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("another qlaster-sender is serving ", path, "; stop it or use --socket"));
    }
    if (errno != ECONNREFUSED) return ErrnoStatus(errno, absl::StrCat("probing ", path));
    ::unlink(path.c_str());
  }
  std::error_code fs_ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), fs_ec);

  error_code ec;
  auto& acceptor = impl_->acceptor;
  acceptor.open(stream_protocol(), ec);
  if (!ec) acceptor.bind(stream_protocol::endpoint(path), ec);
  if (ec) {
    if (ec == asio::error::address_in_use) {
      return absl::AlreadyExistsError(absl::StrCat("another sender bound ", path, " just now"));
    }
    return absl::UnavailableError(absl::StrCat("binding ", path, ": ", ec.message()));
  }
  if (::chmod(path.c_str(), impl_->options.socket_mode) != 0) {
    return ErrnoStatus(errno, absl::StrCat("chmod ", path));
  }
  acceptor.listen(128, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("listen on ", path, ": ", ec.message()));
  impl_->listening = true;
  return absl::OkStatus();
}

void ControlServer::Adopt(int connected_fd) {
  stream_protocol::socket socket(impl_->io);
  error_code ec;
  socket.assign(stream_protocol(), connected_fd, ec);
  if (ec) {
    ::close(connected_fd);
    return;
  }
  impl_->StartSession(std::move(socket));
}

void ControlServer::Start() {
  if (impl_->listening) asio::co_spawn(impl_->io, impl_->AcceptLoop(), asio::detached);
  asio::co_spawn(impl_->io, impl_->WatchDispatcher(), asio::detached);
  asio::co_spawn(impl_->io, impl_->KeepaliveLoop(), asio::detached);
}

void ControlServer::Shutdown() {
  Impl& s = *impl_;
  if (s.shutting_down) return;
  s.shutting_down = true;
  error_code ec;
  s.acceptor.close(ec);
  if (s.listening) ::unlink(s.options.socket_path.c_str());
  s.keepalive.cancel();
  s.notify_watch.close(ec);
  for (const auto& session : std::vector<std::shared_ptr<Session>>(s.sessions)) {
    if (session->consumer_id != 0) {
      if (const ConsumerEntry* e = s.registry.Find(session->consumer_id); e && e->channel) {
        e->channel->CloseRing();
        session->Send(EncodeControl(EvictedMsg{fb::EvictReason::Shutdown,
                                               e->channel->ring_fill(),
                                               e->channel->last_sequence()}));
      }
    }
    session->CloseAfterFlush();
  }
  QLASTER_LOG(kInfo, "shutting down");
}

StatsMsg ControlServer::Stats() const { return impl_->BuildStats(); }

void ControlServer::SetSources(std::vector<const Source*> sources) {
  impl_->sources = std::move(sources);
}

ControlMetrics ControlServer::Metrics() const {
  const Impl& s = *impl_;
  ControlMetrics m;
  std::vector<std::pair<uint64_t, uid_t>> uids;
  for (const auto& [id, session] : s.by_consumer) uids.emplace_back(id, session->uid);
  const absl::flat_hash_map<uint64_t, uid_t> uid_of(uids.begin(), uids.end());
  for (const ConsumerEntry* e : s.registry.Entries()) {
    m.keys += KeyCount(e->filter);
    if (e->channel == nullptr) continue;
    const ConsumerChannel& ch = *e->channel;
    const auto uid = uid_of.find(e->id);
    m.consumers.push_back({.consumer_id = e->id,
                           .name = ch.name(),
                           .uid = uid == uid_of.end() ? 0 : static_cast<uint32_t>(uid->second),
                           .delivered = ch.delivered(),
                           .dropped = ch.dropped(),
                           .gaps = ch.gaps(),
                           .wakes = ch.wakes(),
                           .wakes_deferred = ch.wakes_deferred(),
                           .ring_bytes = ch.ring_bytes(),
                           .ring_fill = ch.ring_fill(),
                           .lag_records = ch.LagRecords(),
                           .keys = KeyCount(e->filter)});
  }
  m.connections_accepted = s.accepted;
  m.connections_pending = s.pending_total;
  m.refusals = s.refusals;
  m.subscribe_refusals = s.subscribe_refusals;
  m.evictions = s.evictions;
  m.evictions_by_name = s.evictions_by_name;
  m.table_version_installed = s.dispatcher.next_version() - 1;
  if (const RoutingTable* t = s.dispatcher.adopted()) {
    m.table_version_adopted = t->version;
    m.table_consumers = t->all.size();
  }
  return m;
}

size_t ControlServer::session_count() const { return impl_->sessions.size(); }

}  // namespace qlaster::sender
