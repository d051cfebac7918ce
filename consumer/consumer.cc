// Consumer: the public API over three parts — the control channel (control_channel.h),
// the subscription book (subscription_book.h) and the ring reader (ring_reader.h) — and
// the one state machine that ties them together.
//
// States, and every transition (Impl::Enter is the only place the state changes):
//
//   kConnected    reading the ring; the socket is serviced when the ring is empty, every
//                 256 records when it never empties, and while waiting.
//     -> kDraining      the sender is gone (Evicted, Error, EOF, a malformed message),
//                       or it closed the ring (then its goodbye is awaited briefly: the
//                       Evicted that says why follows on the socket)
//     -> kDisconnected  the ring or a record is corrupt (kDataLoss)
//   kDraining     the sender is gone: what it published before is still delivered
//     -> kDisconnected  the ring is empty or closed (or corrupt)
//   kDisconnected a DisconnectedEvent is queued on entry; with auto_reconnect, attempts
//                 are made from Poll and Wait (the first at once, then with backoff)
//     -> kConnected     an attempt succeeded: handshake + the whole subscription replayed
//                       (a ReconnectedEvent is queued)
//   any -> kClosed      Close()
//
// A sender that is killed leaves its ring unclosed: the socket's EOF is what tells, so the
// socket is serviced whenever the ring looks empty. Lifecycle events (Disconnected,
// Reconnected) wait in a queue until Poll delivers them, in order.
#include "qlaster/consumer.hpp"

#include <poll.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "base/status_macros.h"
#include "consumer/control_channel.h"
#include "consumer/ring_reader.h"
#include "consumer/subscription_book.h"
#include "shm/event_fd.h"
#include "shm/spsc_ring.h"

namespace qlaster {

using consumer::ControlChannel;
using consumer::ReadCounts;
using consumer::RingReader;
using consumer::SubscriptionBook;

namespace {

// How often the socket is looked at: whenever the ring is empty (but not more often than
// kServiceWhenEmptyNs), and every kServiceEveryRecords records when the ring never
// empties (but not more often than kServiceBusyNs).
constexpr int64_t kServiceWhenEmptyNs = 50'000;
constexpr int kServiceEveryRecords = 256;
constexpr int64_t kServiceBusyNs = 1'000'000;
// A closed ring means the sender is done with us; its reason follows on the socket.
constexpr absl::Duration kGoodbyeWait = absl::Milliseconds(200);

}  // namespace

// ---------------------------------------------------------------------------- Impl

struct Consumer::Impl {
  enum class State { kConnected, kDraining, kDisconnected, kClosed };

  // Everything that belongs to one connection.
  struct Connection {
    ControlChannel control;
    std::optional<RingReader> reader;
    shm::EventFd doorbell;
    uint64_t consumer_id = 0;
    uint64_t ring_bytes = 0;
  };

  // An event of the connection's life, waiting for Poll.
  struct Lifecycle {
    EventKind kind;
    std::string reason;  // Disconnected
    ReconnectedEvent reconnected;
  };

  std::string path;
  ConsumerOptions options;
  State state = State::kDisconnected;
  Connection conn;
  absl::Status why;  // kDraining/kDisconnected: why the connection ended
  std::deque<Lifecycle> lifecycle;

  absl::Time next_attempt = absl::InfinitePast();
  absl::Duration backoff;

  SubscriptionBook book;
  uint64_t next_request_id = 1;
  static constexpr size_t kNamedKinds = 6;  // accounts, transactions, statuses, slots, block meta, entries

  ReadCounts counts;
  ConsumerStats stats;
  int64_t last_service_ns = 0;
  int records_since_service = 0;
  bool in_poll = false;

  // ---- the state machine

  // `report` false: a reconnection attempt that failed part way goes back to
  // kDisconnected without a second DisconnectedEvent.
  void Enter(State to, absl::Status reason = absl::OkStatus(), bool report = true);

  // ---- connection

  absl::Status Establish(absl::Time deadline);
  // One reconnection attempt: handshake and replay. True on success.
  bool TryReconnect();

  // ---- control socket

  // Services the socket if `min_interval_ns` has passed since the last time, and moves
  // to kDraining if the sender turns out to be gone.
  void MaybeService(int64_t min_interval_ns);
  void NoteControl() {
    if (state == State::kConnected && !conn.control.open()) Enter(State::kDraining, conn.control.gone());
  }
  // After the ring was closed: waits briefly for the sender's last words.
  void AwaitGoodbye();
  absl::StatusOr<SubscribeAckMsg> Request(SubscribeMsg& msg);

  // ---- subscriptions

  // Sends `msgs` (one change, split), each acknowledged in turn.
  absl::StatusOr<SubscribeResult> Change(std::vector<SubscribeMsg> msgs);
  absl::StatusOr<uint64_t> Replay();

  // ---- filter names (FilterNames)

  // The names of the named filters of each kind (the order of Event::filters' bits) in
  // force for updates after sequence number `after`.
  struct NameEpoch {
    uint64_t after = 0;
    std::array<std::vector<std::string>, kNamedKinds> names;
  };
  std::deque<NameEpoch> epochs;  // oldest first
  // Records the book's names as in force after `effective` (if they changed), and forgets
  // epochs no update still in the ring can refer to.
  void NoteNames(uint64_t effective);

  // ---- reading

  // Reads at most `max_records` records; returns the events delivered and adds the
  // records read to *records.
  int ReadRing(consumer::EventFn fn, void* ctx, int max_records, int* records);
  // Delivers one queued lifecycle event.
  void DeliverLifecycle(consumer::EventFn fn, void* ctx);
};

void Consumer::Impl::Enter(State to, absl::Status reason, bool report) {
  switch (to) {
    case State::kConnected:
      why = absl::OkStatus();
      break;
    case State::kDraining:
      why = std::move(reason);
      break;
    case State::kDisconnected:
      if (conn.reader) conn.reader->ring().Release();
      conn = Connection();
      if (report && (state == State::kConnected || state == State::kDraining)) {
        if (!reason.ok()) why = std::move(reason);
        lifecycle.push_back({.kind = EventKind::kDisconnected,
                             .reason = std::string(why.message()),
                             .reconnected = {}});
        // The first attempt is immediate: an evicted consumer can usually come straight
        // back.
        next_attempt = absl::InfinitePast();
        backoff = options.reconnect_initial_backoff;
      }
      break;
    case State::kClosed:
      if (conn.reader) conn.reader->ring().Release();
      conn = Connection();
      lifecycle.clear();
      break;
  }
  state = to;
}

absl::Status Consumer::Impl::Establish(absl::Time deadline) {
  const HelloMsg hello{.protocol_version = kProtocolVersion,
                       .consumer_name = options.name,
                       .ring_bytes = options.ring_bytes,
                       .overflow = options.overflow,
                       .wait_mode = options.wait_mode};
  QLASTER_ASSIGN_OR_RETURN(ControlChannel::Handshake h, ControlChannel::Connect(path, hello, deadline));
  absl::StatusOr<shm::RingConsumer> ring = shm::RingConsumer::Attach(std::move(h.ring));
  if (!ring.ok()) {
    return absl::Status(ring.status().code(),
                        absl::StrCat("the sender's ring: ", ring.status().message()));
  }
  conn = Connection();
  conn.control = std::move(h.channel);
  conn.reader.emplace(*std::move(ring));
  conn.doorbell = shm::EventFd(std::move(h.doorbell));
  conn.consumer_id = h.ready.consumer_id;
  conn.ring_bytes = conn.reader->ring().capacity();
  Enter(State::kConnected);
  return absl::OkStatus();
}

bool Consumer::Impl::TryReconnect() {
  absl::Status s = Establish(absl::Now() + options.connect_timeout);
  absl::StatusOr<uint64_t> effective = s.ok() ? Replay() : absl::StatusOr<uint64_t>(s);
  if (!effective.ok() || state != State::kConnected) {
    Enter(State::kDisconnected, absl::OkStatus(), /*report=*/false);
    next_attempt = absl::Now() + backoff;
    backoff = std::min(backoff * 2, options.reconnect_max_backoff);
    return false;
  }
  backoff = options.reconnect_initial_backoff;
  lifecycle.push_back({.kind = EventKind::kReconnected,
                       .reason = {},
                       .reconnected = ReconnectedEvent{.consumer_id = conn.consumer_id,
                                                       .effective_sequence = *effective}});
  ++stats.reconnects;
  return true;
}

void Consumer::Impl::MaybeService(int64_t min_interval_ns) {
  if (state != State::kConnected) return;
  const int64_t now = MonotonicNs();
  if (now - last_service_ns < min_interval_ns) return;
  last_service_ns = now;
  conn.control.Service();
  NoteControl();
}

void Consumer::Impl::AwaitGoodbye() {
  const absl::Time deadline = absl::Now() + kGoodbyeWait;
  while (conn.control.open()) {
    conn.control.Service();
    if (!conn.control.open()) break;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd pfd{.fd = conn.control.fd(), .events = POLLIN, .revents = 0};
    ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
  Enter(State::kDraining, conn.control.open() ? absl::UnavailableError("the sender closed the ring")
                                              : conn.control.gone());
}

absl::StatusOr<SubscribeAckMsg> Consumer::Impl::Request(SubscribeMsg& msg) {
  msg.request_id = next_request_id++;
  absl::StatusOr<SubscribeAckMsg> ack =
      conn.control.Request(msg, absl::Now() + options.request_timeout);
  NoteControl();
  if (absl::IsDeadlineExceeded(ack.status())) {
    return absl::DeadlineExceededError(absl::StrCat(
        "no acknowledgement from the sender within ",
        absl::FormatDuration(options.request_timeout), " for request ", msg.request_id));
  }
  return ack;
}

// ------------------------------------------------------------------- subscriptions

absl::StatusOr<SubscribeResult> Consumer::Impl::Change(std::vector<SubscribeMsg> msgs) {
  if (state == State::kClosed) return absl::FailedPreconditionError("the consumer is closed");
  // Not connected (or the sender left part way): with auto_reconnect the rest of the
  // change is recorded and replayed on the next connection.
  auto offline = [&](size_t from) -> absl::Status {
    const absl::Status reason = why.ok() ? absl::UnavailableError("not connected") : why;
    if (!options.auto_reconnect) return reason;
    for (size_t i = from; i < msgs.size(); ++i) {
      msgs[i].from_slot.reset();  // a replay on reconnection asks for the live stream
      book.Apply(msgs[i]);
    }
    return absl::UnavailableError(
        absl::StrCat("not connected to the sender (", reason.message(),
                     "); the change is recorded and will be replayed on reconnection"));
  };
  if (state != State::kConnected) return offline(0);

  SubscribeResult result;
  for (size_t i = 0; i < msgs.size(); ++i) {
    absl::StatusOr<SubscribeAckMsg> ack = Request(msgs[i]);
    if (!ack.ok()) {
      if (state != State::kConnected) return offline(i);
      return ack.status();
    }
    book.Apply(msgs[i]);
    NoteNames(ack->effective_sequence);
    result.effective_sequence = ack->effective_sequence;
    result.pubkeys = ack->pubkeys;
    result.owners = ack->owners;
    ++result.messages;
  }
  return result;
}

absl::StatusOr<uint64_t> Consumer::Impl::Replay() {
  uint64_t effective = 0;
  epochs.clear();  // sequence numbers start again on this connection
  for (SubscribeMsg& m : book.Replay()) {
    QLASTER_ASSIGN_OR_RETURN(const SubscribeAckMsg ack, Request(m));
    effective = ack.effective_sequence;
  }
  // Nothing before the replay's end matched a named filter (the connection had none).
  NoteNames(0);
  return effective;
}

void Consumer::Impl::NoteNames(uint64_t effective) {
  const Subscription& s = book.named();
  NameEpoch epoch{.after = effective, .names = {}};
  auto keys = [](const auto& map, std::vector<std::string>& out) {
    for (const auto& [name, value] : map) out.push_back(name);
  };
  keys(s.accounts, epoch.names[0]);
  keys(s.transactions, epoch.names[1]);
  keys(s.transaction_statuses, epoch.names[2]);
  keys(s.slots, epoch.names[3]);
  epoch.names[4].assign(s.blocks_meta.begin(), s.blocks_meta.end());
  epoch.names[5].assign(s.entries.begin(), s.entries.end());
  if (!epochs.empty() && epochs.back().names == epoch.names) return;
  epochs.push_back(std::move(epoch));
  // An epoch is needed while updates it covers may still be unread.
  const uint64_t read = conn.reader ? conn.reader->last_sequence() : 0;
  while (epochs.size() > 1 && (epochs[1].after <= read || epochs.size() > 64)) epochs.pop_front();
}

// ------------------------------------------------------------------------- reading

void Consumer::Impl::DeliverLifecycle(consumer::EventFn fn, void* ctx) {
  const Lifecycle l = std::move(lifecycle.front());
  lifecycle.pop_front();
  Event e;
  e.kind = l.kind;
  if (l.kind == EventKind::kDisconnected) {
    ++stats.disconnects;
    e.body = DisconnectedEvent{.reason = l.reason, .will_reconnect = options.auto_reconnect};
  } else {
    e.body = l.reconnected;
  }
  fn(ctx, e);
}

int Consumer::Impl::ReadRing(consumer::EventFn fn, void* ctx, int max_records, int* records) {
  int delivered = 0;
  while (*records < max_records && (state == State::kConnected || state == State::kDraining)) {
    // Between chunks the socket is looked at, so a ring that never empties still gets its
    // pings answered and its goodbyes heard.
    const int chunk = std::min(max_records - *records, kServiceEveryRecords - records_since_service);
    const RingReader::Result r = conn.reader->Read(fn, ctx, chunk, counts);
    *records += r.records;
    delivered += r.events;
    records_since_service += r.records;
    if (records_since_service >= kServiceEveryRecords) {
      records_since_service = 0;
      MaybeService(kServiceBusyNs);
    }
    switch (r.outcome) {
      case RingReader::Outcome::kLimit:
        continue;
      case RingReader::Outcome::kCorrupt:
        Enter(State::kDisconnected, conn.reader->error());
        return delivered;
      case RingReader::Outcome::kClosed:
        if (state == State::kConnected) AwaitGoodbye();
        Enter(State::kDisconnected);
        return delivered;
      case RingReader::Outcome::kEmpty:
        if (state == State::kDraining) {
          Enter(State::kDisconnected);  // drained: now report
          return delivered;
        }
        MaybeService(kServiceWhenEmptyNs);
        if (state == State::kConnected) return delivered;
        continue;  // the sender left: drain what it published, then report
    }
  }
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
  return impl_->Change(SubscriptionBook::Split(fb::SubscribeOp::Add, pubkeys, owners, tx));
}

absl::StatusOr<SubscribeResult> Consumer::Unsubscribe(std::span<const Pubkey> pubkeys,
                                                      std::span<const Pubkey> owners,
                                                      std::optional<TransactionFilter> tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(SubscriptionBook::Split(fb::SubscribeOp::Remove, pubkeys, owners, tx));
}

absl::StatusOr<SubscribeResult> Consumer::Replace(std::span<const Pubkey> pubkeys,
                                                  std::span<const Pubkey> owners,
                                                  TransactionFilter tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  QLASTER_ASSIGN_OR_RETURN(std::vector<SubscribeMsg> msgs,
                           SubscriptionBook::SplitReplace(pubkeys, owners, tx, Subscription{}));
  return impl_->Change(std::move(msgs));
}

absl::StatusOr<SubscribeResult> Consumer::SetTransactions(TransactionFilter tx) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  return impl_->Change(SubscriptionBook::Split(fb::SubscribeOp::Add, {}, {}, tx));
}

absl::StatusOr<SubscribeResult> Consumer::SetSubscription(const Subscription& subscription) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  QLASTER_ASSIGN_OR_RETURN(std::vector<SubscribeMsg> msgs,
                           SubscriptionBook::SplitReplace({}, {}, TransactionFilter::kNone, subscription));
  // The protocol's own checks (names, enum ranges, predicates, slices), before anything is
  // sent: a refused subscription leaves the previous one in force.
  for (const SubscribeMsg& m : msgs) QLASTER_RETURN_IF_ERROR(ValidateControl(ControlMsg(m)));
  return impl_->Change(std::move(msgs));
}

Subscription Consumer::subscription() const {
  return impl_ ? impl_->book.named() : Subscription{};
}

std::vector<std::string> Consumer::FilterNames(const Event& event) const {
  std::vector<std::string> out;
  if (!impl_ || event.filters == 0 || impl_->epochs.empty()) return out;
  size_t kind = 0;
  switch (event.kind) {
    case EventKind::kAccount: kind = 0; break;
    case EventKind::kTransaction: kind = 1; break;
    case EventKind::kTransactionStatus: kind = 2; break;
    case EventKind::kSlot: kind = 3; break;
    case EventKind::kBlockMeta: kind = 4; break;
    case EventKind::kEntry: kind = 5; break;
    default: return out;
  }
  // The newest epoch in force at the event's sequence number.
  const auto& epochs = impl_->epochs;
  const Impl::NameEpoch* epoch = &epochs.front();
  for (const Impl::NameEpoch& e : epochs) {
    if (e.after < event.sequence) epoch = &e;
  }
  const std::vector<std::string>& names = epoch->names[kind];
  for (size_t bit = 0; bit < names.size() && bit < 16; ++bit) {
    if (event.filters & (1u << bit)) out.push_back(names[bit]);
  }
  return out;
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
  if (s.state == Impl::State::kClosed) return absl::FailedPreconditionError("the consumer is closed");
  if (max <= 0) return absl::InvalidArgumentError("Poll: max must be positive");
  s.in_poll = true;
  struct Reset {
    bool* flag;
    ~Reset() { *flag = false; }
  } reset{&s.in_poll};

  int delivered = 0;
  int records = 0;
  bool attempted = false;
  while (delivered < max) {
    if (!s.lifecycle.empty()) {
      s.DeliverLifecycle(fn, ctx);
      ++delivered;
      continue;
    }
    if (s.state == Impl::State::kDisconnected) {
      if (!s.options.auto_reconnect) {
        if (delivered > 0) break;
        return s.why.ok() ? absl::UnavailableError("not connected") : s.why;
      }
      // One attempt per call at most: Poll must come back quickly.
      if (attempted || absl::Now() < s.next_attempt) break;
      attempted = true;
      if (!s.TryReconnect()) break;
      continue;  // deliver the Reconnected event
    }
    const int budget = std::min(max - records, max - delivered);
    if (budget <= 0) break;
    delivered += s.ReadRing(fn, ctx, records + budget, &records);
    // Reading ended the connection: the loop delivers the news. Otherwise the ring is
    // empty or the limit is reached.
    if (s.lifecycle.empty()) break;
  }
  return delivered;
}

absl::Status Consumer::Wait(absl::Duration timeout) {
  if (!impl_) return absl::FailedPreconditionError("moved-from Consumer");
  Impl& s = *impl_;
  if (s.in_poll) return absl::FailedPreconditionError("Wait called from a Poll callback");
  if (s.state == Impl::State::kClosed) return absl::FailedPreconditionError("the consumer is closed");
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  // Whether the last ring wait ended without data (the socket became readable, or the
  // slice ran out): then the socket is read at once. Otherwise it is looked at no more
  // often than Poll looks at it, so a Wait per update does not cost a recvmsg per update.
  bool look_at_socket = false;
  for (;;) {
    if (!s.lifecycle.empty()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    switch (s.state) {
      case Impl::State::kClosed:
        return absl::FailedPreconditionError("the consumer is closed");
      case Impl::State::kDraining:
        return absl::OkStatus();  // Poll drains, then reports
      case Impl::State::kDisconnected:
        if (!s.options.auto_reconnect) {
          return s.why.ok() ? absl::UnavailableError("not connected") : s.why;
        }
        if (now >= s.next_attempt) {
          if (s.TryReconnect()) return absl::OkStatus();
          continue;
        }
        if (now >= deadline) return absl::DeadlineExceededError("Wait timed out (disconnected)");
        absl::SleepFor(std::min(s.next_attempt, deadline) - now);
        continue;
      case Impl::State::kConnected:
        break;
    }
    s.MaybeService(look_at_socket ? 0 : kServiceWhenEmptyNs);
    look_at_socket = false;
    if (s.state != Impl::State::kConnected || s.conn.reader->ring().HasData()) return absl::OkStatus();
    const absl::Duration left = deadline - now;
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("Wait timed out");
    // A spinning wait does not watch the socket: come up for air to answer pings.
    const absl::Duration slice = std::min(
        left, s.options.wait_mode == WaitMode::kSpin ? absl::Milliseconds(10) : absl::Seconds(1));
    const shm::WaitResult r = s.conn.reader->ring().Wait(s.conn.doorbell, s.options.wait_mode, slice,
                                                         s.options.spin, s.conn.control.fd());
    if (r != shm::WaitResult::kTimeout) return absl::OkStatus();
    // Timed out, or the socket woke us: the loop services it.
    look_at_socket = true;
  }
}

ConsumerStats Consumer::Stats() const {
  if (!impl_) return {};
  const Impl& s = *impl_;
  ConsumerStats stats = s.stats;
  stats.received = s.counts.received;
  stats.gaps = s.counts.gaps;
  stats.dropped = s.counts.dropped;
  stats.connected = s.state == Impl::State::kConnected;
  if (s.conn.reader) {
    stats.last_sequence = s.conn.reader->last_sequence();
    if (s.state == Impl::State::kConnected) stats.lag_bytes = s.conn.reader->ring().unread_bytes();
  }
  return stats;
}

uint64_t Consumer::consumer_id() const {
  return impl_ && impl_->state == Impl::State::kConnected ? impl_->conn.consumer_id : 0;
}

uint64_t Consumer::ring_bytes() const { return impl_ ? impl_->conn.ring_bytes : 0; }

bool Consumer::connected() const { return impl_ && impl_->state == Impl::State::kConnected; }

void Consumer::Close() {
  if (!impl_ || impl_->state == Impl::State::kClosed) return;
  impl_->Enter(Impl::State::kClosed);
}

}  // namespace qlaster
