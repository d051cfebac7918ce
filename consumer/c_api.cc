// The C ABI (qlaster/consumer.h) over qlaster::Consumer: argument checks, conversion of
// options and events to plain C structs, and errors turned into -1/NULL plus a
// thread-local message. No exception or C++ type crosses the boundary.
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "qlaster/consumer.h"
#include "qlaster/consumer.hpp"

struct qlaster_consumer {
  explicit qlaster_consumer(qlaster::Consumer c) : consumer(std::move(c)) {}
  qlaster::Consumer consumer;
  std::string reason;  // NUL-terminated copy of a DisconnectedEvent's reason
};

namespace {

thread_local std::string last_error;
thread_local int last_error_code = 0;

void ClearError() {
  last_error.clear();
  last_error_code = 0;
}

int SetError(const absl::Status& status) {
  last_error = std::string(status.message());
  last_error_code = static_cast<int>(status.code());
  return -1;
}

int SetError(absl::StatusCode code, const char* message) {
  return SetError(absl::Status(code, message));
}

// Runs `body`; an exception (std::bad_alloc, in practice) becomes an error, since none
// may cross into C.
template <typename Body>
int Guarded(Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return SetError(absl::StatusCode::kInternal, e.what());
  } catch (...) {
    return SetError(absl::StatusCode::kInternal, "unknown exception");
  }
}

absl::Duration Micros(int64_t us) { return absl::Microseconds(us); }

bool ToFilter(int tx, std::optional<qlaster::TransactionFilter>* out) {
  switch (tx) {
    case QLASTER_TX_UNCHANGED:
      *out = std::nullopt;
      return true;
    case QLASTER_TX_NONE:
      *out = qlaster::TransactionFilter::kNone;
      return true;
    case QLASTER_TX_ALL:
      *out = qlaster::TransactionFilter::kAll;
      return true;
    case QLASTER_TX_NON_VOTE:
      *out = qlaster::TransactionFilter::kNonVote;
      return true;
    default:
      return false;
  }
}

// qlaster::Pubkey is a std::array of 32 bytes: an array of them is the n * 32 bytes the
// caller passes, with no padding.
static_assert(sizeof(qlaster::Pubkey) == 32 && alignof(qlaster::Pubkey) == 1);

std::span<const qlaster::Pubkey> Keys(const uint8_t* bytes, size_t n) {
  if (n == 0 || bytes == nullptr) return {};
  return {reinterpret_cast<const qlaster::Pubkey*>(bytes), n};
}

enum class Op { kAdd, kRemove, kReplace };

int Change(qlaster_consumer* c, Op op, const uint8_t* pubkeys, size_t n_pubkeys,
           const uint8_t* owners, size_t n_owners, int transactions) {
  ClearError();
  if (c == nullptr) return SetError(absl::StatusCode::kInvalidArgument, "null consumer");
  if ((pubkeys == nullptr && n_pubkeys != 0) || (owners == nullptr && n_owners != 0)) {
    return SetError(absl::StatusCode::kInvalidArgument, "null key array with a nonzero count");
  }
  std::optional<qlaster::TransactionFilter> tx;
  if (!ToFilter(transactions, &tx)) {
    return SetError(absl::StatusCode::kInvalidArgument, "unknown transaction filter");
  }
  return Guarded([&] {
    absl::StatusOr<qlaster::SubscribeResult> r;
    switch (op) {
      case Op::kAdd:
        r = c->consumer.Subscribe(Keys(pubkeys, n_pubkeys), Keys(owners, n_owners), tx);
        break;
      case Op::kRemove:
        r = c->consumer.Unsubscribe(Keys(pubkeys, n_pubkeys), Keys(owners, n_owners), tx);
        break;
      case Op::kReplace:
        r = c->consumer.Replace(Keys(pubkeys, n_pubkeys), Keys(owners, n_owners),
                                tx.value_or(qlaster::TransactionFilter::kNone));
        break;
    }
    return r.ok() ? 0 : SetError(r.status());
  });
}

struct PollContext {
  qlaster_consumer* c;
  qlaster_handler handler;
  void* user;
};

void ToC(const qlaster::Event& e, qlaster_consumer* c, qlaster_event* out) {
  std::memset(out, 0, sizeof(*out));
  out->sequence = e.sequence;
  out->timestamp_ns = e.timestamp_ns;
  out->filters = e.filters;
  switch (e.kind) {
    case qlaster::EventKind::kAccount: {
      const qlaster::AccountEvent& a = *e.account();
      out->kind = QLASTER_EVENT_ACCOUNT;
      out->slot = a.slot;
      out->pubkey = a.pubkey.data();
      out->owner = a.owner.data();
      out->lamports = a.lamports;
      out->rent_epoch = a.rent_epoch;
      out->write_version = a.write_version;
      out->txn_signature = a.has_txn_signature ? a.txn_signature.data() : nullptr;
      out->executable = a.executable;
      out->was_compressed = a.was_compressed;
      out->data = a.data.data();
      out->data_len = a.data.size();
      out->account_data_len = a.account_data_len;
      out->sliced = a.sliced;
      break;
    }
    case qlaster::EventKind::kTransaction: {
      const qlaster::TransactionEvent& t = *e.transaction();
      out->kind = QLASTER_EVENT_TRANSACTION;
      out->slot = t.slot;
      out->signature = t.signature.data();
      out->tx_index = t.index;
      out->is_vote = t.is_vote;
      out->failed = t.failed;
      out->data = t.data.data();
      out->data_len = t.data.size();
      out->status = t.status.data();
      out->status_len = t.status.size();
      break;
    }
    case qlaster::EventKind::kBlockMeta: {
      const qlaster::BlockMetaEvent& b = *e.block_meta();
      out->kind = QLASTER_EVENT_BLOCK_META;
      out->slot = b.slot;
      out->parent = b.parent_slot;
      out->blockhash = b.blockhash.data();
      out->parent_blockhash = b.parent_blockhash.data();
      out->block_height = b.block_height;
      out->has_block_height = b.has_block_height;
      out->block_time = b.block_time;
      out->has_block_time = b.has_block_time;
      out->executed_transaction_count = b.executed_transaction_count;
      out->entries_count = b.entries_count;
      out->rewards = b.rewards.data();
      out->reward_count = b.reward_count();
      break;
    }
    case qlaster::EventKind::kEntry: {
      const qlaster::EntryEvent& en = *e.entry();
      out->kind = QLASTER_EVENT_ENTRY;
      out->slot = en.slot;
      out->entry_index = en.index;
      out->num_hashes = en.num_hashes;
      out->blockhash = en.hash.data();
      out->executed_transaction_count = en.executed_transaction_count;
      out->starting_transaction_index = en.starting_transaction_index;
      break;
    }
    case qlaster::EventKind::kTransactionStatus: {
      const qlaster::TransactionStatusEvent& st = *e.transaction_status();
      out->kind = QLASTER_EVENT_TRANSACTION_STATUS;
      out->slot = st.slot;
      out->signature = st.signature.data();
      out->tx_index = st.index;
      out->is_vote = st.is_vote;
      out->failed = st.failed;
      out->status = st.error.data();
      out->status_len = st.error.size();
      break;
    }
    case qlaster::EventKind::kSlot: {
      const qlaster::SlotEvent& s = *e.slot();
      out->kind = QLASTER_EVENT_SLOT;
      out->slot = s.slot;
      out->parent = s.parent;
      out->slot_status = static_cast<int32_t>(s.state);
      break;
    }
    case qlaster::EventKind::kGap: {
      const qlaster::GapEvent& g = *e.gap();
      out->kind = QLASTER_EVENT_GAP;
      out->dropped = g.dropped;
      out->first_missing = g.first_missing;
      out->last_missing = g.last_missing;
      out->reported_by_sender = g.reported_by_sender;
      break;
    }
    case qlaster::EventKind::kDisconnected: {
      const qlaster::DisconnectedEvent& d = *e.disconnected();
      out->kind = QLASTER_EVENT_DISCONNECTED;
      c->reason.assign(d.reason.data(), d.reason.size());  // NUL-terminated for C
      out->reason = c->reason.c_str();
      out->will_reconnect = d.will_reconnect;
      break;
    }
    case qlaster::EventKind::kReconnected: {
      const qlaster::ReconnectedEvent& r = *e.reconnected();
      out->kind = QLASTER_EVENT_RECONNECTED;
      out->consumer_id = r.consumer_id;
      out->effective_sequence = r.effective_sequence;
      break;
    }
  }
}

}  // namespace

extern "C" {

void qlaster_options_init(qlaster_consumer_options* options) {
  if (options == nullptr) return;
  const qlaster::ConsumerOptions d;
  std::memset(options, 0, sizeof(*options));
  options->name = nullptr;
  options->ring_bytes = d.ring_bytes;
  options->overflow_policy = static_cast<int32_t>(d.overflow);
  options->wait_mode = static_cast<int32_t>(d.wait_mode);
  options->spin_us = absl::ToInt64Microseconds(d.spin);
  options->auto_reconnect = d.auto_reconnect ? 1 : 0;
  options->reconnect_initial_backoff_us = absl::ToInt64Microseconds(d.reconnect_initial_backoff);
  options->reconnect_max_backoff_us = absl::ToInt64Microseconds(d.reconnect_max_backoff);
  options->connect_timeout_us = absl::ToInt64Microseconds(d.connect_timeout);
  options->request_timeout_us = absl::ToInt64Microseconds(d.request_timeout);
}

qlaster_consumer* qlaster_connect(const char* path, const qlaster_consumer_options* options) {
  ClearError();
  if (path == nullptr) {
    SetError(absl::StatusCode::kInvalidArgument, "null path");
    return nullptr;
  }
  qlaster_consumer_options o;
  qlaster_options_init(&o);
  if (options != nullptr) o = *options;
  qlaster::ConsumerOptions cpp;
  if (o.name != nullptr) cpp.name = o.name;
  cpp.ring_bytes = o.ring_bytes;
  switch (o.overflow_policy) {
    case QLASTER_OVERFLOW_EVICT:
      cpp.overflow = qlaster::OverflowPolicy::kEvict;
      break;
    case QLASTER_OVERFLOW_DROP_AND_COUNT:
      cpp.overflow = qlaster::OverflowPolicy::kDropAndCount;
      break;
    default:
      SetError(absl::StatusCode::kInvalidArgument, "unknown overflow policy");
      return nullptr;
  }
  switch (o.wait_mode) {
    case QLASTER_WAIT_SPIN_THEN_SLEEP:
      cpp.wait_mode = qlaster::WaitMode::kSpinThenSleep;
      break;
    case QLASTER_WAIT_SPIN:
      cpp.wait_mode = qlaster::WaitMode::kSpin;
      break;
    case QLASTER_WAIT_SLEEP:
      cpp.wait_mode = qlaster::WaitMode::kSleep;
      break;
    default:
      SetError(absl::StatusCode::kInvalidArgument, "unknown wait mode");
      return nullptr;
  }
  cpp.spin = Micros(o.spin_us);
  cpp.auto_reconnect = o.auto_reconnect != 0;
  cpp.reconnect_initial_backoff = Micros(o.reconnect_initial_backoff_us);
  cpp.reconnect_max_backoff = Micros(o.reconnect_max_backoff_us);
  cpp.connect_timeout = Micros(o.connect_timeout_us);
  cpp.request_timeout = Micros(o.request_timeout_us);

  qlaster_consumer* out = nullptr;
  Guarded([&] {
    absl::StatusOr<qlaster::Consumer> c = qlaster::Consumer::Connect(path, std::move(cpp));
    if (!c.ok()) return SetError(c.status());
    out = new qlaster_consumer(*std::move(c));
    return 0;
  });
  return out;
}

int qlaster_subscribe(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                      const uint8_t* owners, size_t n_owners, int transactions) {
  return Change(c, Op::kAdd, pubkeys, n_pubkeys, owners, n_owners, transactions);
}

int qlaster_unsubscribe(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                        const uint8_t* owners, size_t n_owners, int transactions) {
  return Change(c, Op::kRemove, pubkeys, n_pubkeys, owners, n_owners, transactions);
}

int qlaster_replace(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                    const uint8_t* owners, size_t n_owners, int transactions) {
  return Change(c, Op::kReplace, pubkeys, n_pubkeys, owners, n_owners, transactions);
}

int qlaster_set_transactions(qlaster_consumer* c, int transactions) {
  if (transactions == QLASTER_TX_UNCHANGED) {
    ClearError();
    return c != nullptr ? 0 : SetError(absl::StatusCode::kInvalidArgument, "null consumer");
  }
  return Change(c, Op::kAdd, nullptr, 0, nullptr, 0, transactions);
}

int qlaster_poll(qlaster_consumer* c, qlaster_handler handler, void* user, int max) {
  ClearError();
  if (c == nullptr || handler == nullptr) {
    return SetError(absl::StatusCode::kInvalidArgument, "null consumer or handler");
  }
  PollContext ctx{c, handler, user};
  return Guarded([&] {
    absl::StatusOr<int> n = c->consumer.Poll(
        [&ctx](const qlaster::Event& e) {
          qlaster_event out;
          ToC(e, ctx.c, &out);
          ctx.handler(&out, ctx.user);
        },
        max);
    return n.ok() ? *n : SetError(n.status());
  });
}

int qlaster_wait(qlaster_consumer* c, int64_t timeout_us) {
  ClearError();
  if (c == nullptr) return SetError(absl::StatusCode::kInvalidArgument, "null consumer");
  return Guarded([&] {
    absl::Status s =
        c->consumer.Wait(timeout_us < 0 ? absl::InfiniteDuration() : Micros(timeout_us));
    if (s.ok()) return 1;
    if (absl::IsDeadlineExceeded(s)) return 0;
    return SetError(s);
  });
}

int qlaster_get_stats(const qlaster_consumer* c, qlaster_stats* stats) {
  ClearError();
  if (c == nullptr || stats == nullptr) {
    return SetError(absl::StatusCode::kInvalidArgument, "null consumer or stats");
  }
  const qlaster::ConsumerStats s = c->consumer.Stats();
  std::memset(stats, 0, sizeof(*stats));
  stats->received = s.received;
  stats->gaps = s.gaps;
  stats->dropped = s.dropped;
  stats->lag_bytes = s.lag_bytes;
  stats->reconnects = s.reconnects;
  stats->disconnects = s.disconnects;
  stats->last_sequence = s.last_sequence;
  stats->connected = s.connected;
  return 0;
}

uint64_t qlaster_consumer_id(const qlaster_consumer* c) {
  return c != nullptr ? c->consumer.consumer_id() : 0;
}

uint64_t qlaster_ring_bytes(const qlaster_consumer* c) {
  return c != nullptr ? c->consumer.ring_bytes() : 0;
}

void qlaster_close(qlaster_consumer* c) { delete c; }

const char* qlaster_last_error(void) { return last_error.c_str(); }

int qlaster_last_error_code(void) { return last_error_code; }

}  // extern "C"
