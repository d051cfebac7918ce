// The C ABI (qlaster/consumer.h) over qlaster::Consumer: argument checks, conversion of
// options and events to plain C structs, and errors turned into -1/NULL plus a
// thread-local message. No exception or C++ type crosses the boundary.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "qlaster/consumer.h"
#include "qlaster/consumer.hpp"
#include "qlaster/subscription.hpp"

struct qlaster_consumer {
  explicit qlaster_consumer(qlaster::Consumer c) : consumer(std::move(c)) {}
  qlaster::Consumer consumer;
  std::string reason;  // NUL-terminated copy of a DisconnectedEvent's reason
  std::string filter_name;  // what qlaster_filter_name returned last
};

// The subscription a C caller builds with setters; qlaster_set_subscription sends it.
struct qlaster_subscription {
  qlaster::Subscription sub;
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

// The size of the first qlaster_options: struct_size and the fields of
// qlaster_consumer_options.
constexpr size_t kOptionsV1Size = offsetof(qlaster_options, request_timeout_us) + sizeof(int64_t);
static_assert(sizeof(qlaster_options) == sizeof(size_t) + sizeof(qlaster_consumer_options),
              "qlaster_consumer_options is qlaster_options without struct_size");

// Copies a caller's sized struct of `size` bytes over the defaults in *out: the bytes it
// has that this library knows; the bytes this library does not know must be zero.
template <typename T>
bool ReadSized(const T* in, size_t size, size_t min_size, T* out) {
  if (size < min_size) {
    SetError(absl::InvalidArgumentError("struct_size " + std::to_string(size) +
                                        " is smaller than the first version's " +
                                        std::to_string(min_size) + " (use the *_default macro)"));
    return false;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(in);
  for (size_t i = sizeof(T); i < size; ++i) {
    if (bytes[i] != 0) {
      SetError(absl::InvalidArgumentError(
          "options set a field this library does not know (byte " + std::to_string(i) +
          " of " + std::to_string(size) + "; it knows " + std::to_string(sizeof(T)) + ")"));
      return false;
    }
  }
  std::memcpy(out, in, std::min(size, sizeof(T)));
  return true;
}

qlaster_consumer* Connect(const char* path, const qlaster_options& o) {
  ClearError();
  if (path == nullptr) {
    SetError(absl::StatusCode::kInvalidArgument, "null path");
    return nullptr;
  }
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

// A subscription handle and a filter name, both required.
bool CheckHandle(const qlaster_subscription* s, const char* name) {
  if (s == nullptr || name == nullptr) {
    SetError(absl::StatusCode::kInvalidArgument, "null subscription or filter name");
    return false;
  }
  return true;
}

// Runs `edit` on account filter `name` of `s`, creating it when new.
template <typename Edit>
int WithAccount(qlaster_subscription* s, const char* name, Edit edit) {
  ClearError();
  if (!CheckHandle(s, name)) return -1;
  return Guarded([&] { return edit(s->sub.accounts[name]); });
}

// -1/0/1 as either/false/true.
bool TriState(int v, std::optional<bool>* out) {
  if (v < QLASTER_EITHER || v > 1) {
    SetError(absl::StatusCode::kInvalidArgument, "a tri-state is -1 (either), 0 or 1");
    return false;
  }
  *out = v == QLASTER_EITHER ? std::nullopt : std::optional<bool>(v == 1);
  return true;
}

// Base58 into a Pubkey or Signature (T), copied to `out` only on success.
template <typename T>
int FromBase58(const char* text, uint8_t* out) {
  ClearError();
  if (text == nullptr || out == nullptr) {
    return SetError(absl::StatusCode::kInvalidArgument, "null text or output");
  }
  return Guarded([&] {
    absl::StatusOr<T> v = T::FromBase58(text);
    if (!v.ok()) return SetError(v.status());
    std::memcpy(out, v->data(), v->size());
    return 0;
  });
}

template <typename T>
int ToBase58(const uint8_t* bytes, char* out, size_t out_size) {
  ClearError();
  if (bytes == nullptr || out == nullptr) {
    return SetError(absl::StatusCode::kInvalidArgument, "null key or output");
  }
  return Guarded([&] {
    T v;
    std::memcpy(v.data(), bytes, v.size());
    const std::string text = v.ToBase58();
    if (text.size() + 1 > out_size) {
      return SetError(absl::InvalidArgumentError(
          "output buffer of " + std::to_string(out_size) + " bytes is too small: the spelling takes " +
          std::to_string(text.size() + 1) + " with its NUL"));
    }
    std::memcpy(out, text.c_str(), text.size() + 1);
    return static_cast<int>(text.size());
  });
}

}  // namespace

extern "C" {

void qlaster_options_init(qlaster_consumer_options* options) {
  if (options == nullptr) return;
  qlaster_options o;
  qlaster_options_default(&o);
  std::memset(options, 0, sizeof(*options));
  // The first version's struct is the sized one without struct_size.
  std::memcpy(options, &o.name, sizeof(*options));
}

qlaster_consumer* qlaster_connect(const char* path, const qlaster_consumer_options* options) {
  qlaster_options o;
  qlaster_options_default(&o);
  if (options != nullptr) std::memcpy(&o.name, options, sizeof(*options));
  return Connect(path, o);
}

void qlaster_options_default_sized(qlaster_options* options, size_t struct_size) {
  if (options == nullptr || struct_size < sizeof(size_t)) return;
  const qlaster::ConsumerOptions d;
  qlaster_options o;
  std::memset(&o, 0, sizeof(o));
  o.struct_size = sizeof(o);
  o.name = nullptr;
  o.ring_bytes = d.ring_bytes;
  o.overflow_policy = static_cast<int32_t>(d.overflow);
  o.wait_mode = static_cast<int32_t>(d.wait_mode);
  o.spin_us = absl::ToInt64Microseconds(d.spin);
  o.auto_reconnect = d.auto_reconnect ? 1 : 0;
  o.reconnect_initial_backoff_us = absl::ToInt64Microseconds(d.reconnect_initial_backoff);
  o.reconnect_max_backoff_us = absl::ToInt64Microseconds(d.reconnect_max_backoff);
  o.connect_timeout_us = absl::ToInt64Microseconds(d.connect_timeout);
  o.request_timeout_us = absl::ToInt64Microseconds(d.request_timeout);
  // A caller built with a larger struct gets zeros past what this library knows.
  if (struct_size > sizeof(o)) std::memset(options, 0, struct_size);
  std::memcpy(options, &o, std::min(struct_size, sizeof(o)));
  options->struct_size = struct_size;
}

qlaster_consumer* qlaster_connect_with(const char* path, const qlaster_options* options) {
  ClearError();
  qlaster_options o;
  qlaster_options_default(&o);
  if (options != nullptr && !ReadSized(options, options->struct_size, kOptionsV1Size, &o)) {
    return nullptr;
  }
  return Connect(path, o);
}

int qlaster_get_stats_sized(const qlaster_consumer* c, qlaster_stats* stats, size_t size) {
  qlaster_stats s;
  const int rc = qlaster_get_stats(c, stats != nullptr ? &s : nullptr);
  if (rc == 0) std::memcpy(stats, &s, std::min(size, sizeof(s)));
  return rc;
}

qlaster_subscription* qlaster_subscription_new(void) {
  return new (std::nothrow) qlaster_subscription;
}

void qlaster_subscription_free(qlaster_subscription* s) { delete s; }

int qlaster_subscription_account(qlaster_subscription* s, const char* name,
                                 const uint8_t* pubkeys, size_t n_pubkeys,
                                 const uint8_t* owners, size_t n_owners) {
  if ((pubkeys == nullptr && n_pubkeys != 0) || (owners == nullptr && n_owners != 0)) {
    ClearError();
    return SetError(absl::StatusCode::kInvalidArgument, "null key array with a nonzero count");
  }
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    const auto pk = Keys(pubkeys, n_pubkeys);
    const auto ow = Keys(owners, n_owners);
    f.pubkeys.insert(f.pubkeys.end(), pk.begin(), pk.end());
    f.owners.insert(f.owners.end(), ow.begin(), ow.end());
    return 0;
  });
}

int qlaster_subscription_account_memcmp(qlaster_subscription* s, const char* name,
                                        uint64_t offset, const uint8_t* bytes, size_t len) {
  if (bytes == nullptr && len != 0) {
    ClearError();
    return SetError(absl::StatusCode::kInvalidArgument, "null memcmp bytes");
  }
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    f.memcmp.push_back({.offset = offset, .bytes = std::vector<uint8_t>(bytes, bytes + len)});
    return 0;
  });
}

int qlaster_subscription_account_datasize(qlaster_subscription* s, const char* name,
                                          uint64_t size) {
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    f.datasize = size;
    return 0;
  });
}

int qlaster_subscription_account_lamports(qlaster_subscription* s, const char* name, int op,
                                          uint64_t value) {
  if (op < QLASTER_LAMPORTS_EQ || op > QLASTER_LAMPORTS_GT) {
    ClearError();
    return SetError(absl::StatusCode::kInvalidArgument, "unknown lamports comparison");
  }
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    f.lamports.push_back({.op = static_cast<qlaster::LamportsOp>(op), .value = value});
    return 0;
  });
}

int qlaster_subscription_account_token_account_state(qlaster_subscription* s,
                                                     const char* name) {
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    f.token_account_state = true;
    return 0;
  });
}

int qlaster_subscription_account_nonempty_txn_signature(qlaster_subscription* s,
                                                        const char* name, int value) {
  std::optional<bool> v;
  if (!TriState(value, &v)) return -1;
  return WithAccount(s, name, [&](qlaster::AccountFilter& f) {
    f.nonempty_txn_signature = v;
    return 0;
  });
}

int qlaster_subscription_transaction(qlaster_subscription* s, int kind, const char* name,
                                     int vote, int failed, const uint8_t* signature,
                                     const uint8_t* include, size_t n_include,
                                     const uint8_t* exclude, size_t n_exclude,
                                     const uint8_t* required, size_t n_required) {
  ClearError();
  if (!CheckHandle(s, name)) return -1;
  if (kind != QLASTER_FILTER_TRANSACTIONS && kind != QLASTER_FILTER_TRANSACTION_STATUSES) {
    return SetError(absl::StatusCode::kInvalidArgument, "unknown transaction filter kind");
  }
  if ((include == nullptr && n_include != 0) || (exclude == nullptr && n_exclude != 0) ||
      (required == nullptr && n_required != 0)) {
    return SetError(absl::StatusCode::kInvalidArgument, "null key array with a nonzero count");
  }
  qlaster::TransactionSelector t;
  if (!TriState(vote, &t.vote) || !TriState(failed, &t.failed)) return -1;
  if (signature != nullptr) {
    t.signature.emplace();
    std::memcpy(t.signature->data(), signature, t.signature->size());
  }
  const auto in = Keys(include, n_include);
  const auto ex = Keys(exclude, n_exclude);
  const auto re = Keys(required, n_required);
  return Guarded([&] {
    t.account_include.assign(in.begin(), in.end());
    t.account_exclude.assign(ex.begin(), ex.end());
    t.account_required.assign(re.begin(), re.end());
    auto& map = kind == QLASTER_FILTER_TRANSACTIONS ? s->sub.transactions
                                                    : s->sub.transaction_statuses;
    map[name] = std::move(t);
    return 0;
  });
}

int qlaster_subscription_slots(qlaster_subscription* s, const char* name,
                               int filter_by_commitment, int interslot_updates) {
  ClearError();
  if (!CheckHandle(s, name)) return -1;
  return Guarded([&] {
    s->sub.slots[name] = {.filter_by_commitment = filter_by_commitment != 0,
                          .interslot_updates = interslot_updates != 0};
    return 0;
  });
}

int qlaster_subscription_blocks_meta(qlaster_subscription* s, const char* name) {
  ClearError();
  if (!CheckHandle(s, name)) return -1;
  return Guarded([&] {
    s->sub.blocks_meta.insert(name);
    return 0;
  });
}

int qlaster_subscription_entries(qlaster_subscription* s, const char* name) {
  ClearError();
  if (!CheckHandle(s, name)) return -1;
  return Guarded([&] {
    s->sub.entries.insert(name);
    return 0;
  });
}

int qlaster_subscription_data_slice(qlaster_subscription* s, uint64_t offset, uint64_t length) {
  ClearError();
  if (!CheckHandle(s, "")) return -1;
  return Guarded([&] {
    s->sub.data_slices.push_back({.offset = offset, .length = length});
    return 0;
  });
}

int qlaster_subscription_commitment(qlaster_subscription* s, int commitment) {
  ClearError();
  if (!CheckHandle(s, "")) return -1;
  if (commitment < QLASTER_COMMITMENT_PROCESSED || commitment > QLASTER_COMMITMENT_FINALIZED) {
    return SetError(absl::StatusCode::kInvalidArgument, "unknown commitment level");
  }
  s->sub.commitment = static_cast<qlaster::Commitment>(commitment);
  return 0;
}

int qlaster_subscription_from_slot(qlaster_subscription* s, uint64_t slot) {
  ClearError();
  if (!CheckHandle(s, "")) return -1;
  s->sub.from_slot = slot;
  return 0;
}

int qlaster_set_subscription(qlaster_consumer* c, const qlaster_subscription* s,
                             uint64_t* effective_sequence) {
  ClearError();
  if (c == nullptr || s == nullptr) {
    return SetError(absl::StatusCode::kInvalidArgument, "null consumer or subscription");
  }
  return Guarded([&] {
    absl::StatusOr<qlaster::SubscribeResult> r = c->consumer.SetSubscription(s->sub);
    if (!r.ok()) return SetError(r.status());
    if (effective_sequence != nullptr) *effective_sequence = r->effective_sequence;
    return 0;
  });
}

const char* qlaster_filter_name(qlaster_consumer* c, const qlaster_event* e, int bit) {
  ClearError();
  if (c == nullptr || e == nullptr) {
    SetError(absl::StatusCode::kInvalidArgument, "null consumer or event");
    return nullptr;
  }
  if (bit < 0 || bit >= 32 || (e->filters & (1u << bit)) == 0) {
    SetError(absl::StatusCode::kInvalidArgument, "that bit is not set in the event's filters");
    return nullptr;
  }
  qlaster::Event event;
  switch (e->kind) {
    case QLASTER_EVENT_ACCOUNT: event.kind = qlaster::EventKind::kAccount; break;
    case QLASTER_EVENT_TRANSACTION: event.kind = qlaster::EventKind::kTransaction; break;
    case QLASTER_EVENT_TRANSACTION_STATUS: event.kind = qlaster::EventKind::kTransactionStatus; break;
    case QLASTER_EVENT_SLOT: event.kind = qlaster::EventKind::kSlot; break;
    case QLASTER_EVENT_BLOCK_META: event.kind = qlaster::EventKind::kBlockMeta; break;
    case QLASTER_EVENT_ENTRY: event.kind = qlaster::EventKind::kEntry; break;
    default:
      SetError(absl::StatusCode::kInvalidArgument, "events of this kind have no named filters");
      return nullptr;
  }
  event.sequence = e->sequence;
  event.filters = static_cast<uint16_t>(1u << bit);
  try {
    std::vector<std::string> names = c->consumer.FilterNames(event);
    if (names.empty()) {
      SetError(absl::StatusCode::kNotFound, "no named filter has that bit");
      return nullptr;
    }
    c->filter_name = std::move(names.front());
    return c->filter_name.c_str();
  } catch (const std::exception& ex) {
    SetError(absl::StatusCode::kInternal, ex.what());
    return nullptr;
  }
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

int qlaster_pubkey_from_base58(const char* text, uint8_t out[32]) {
  return FromBase58<qlaster::Pubkey>(text, out);
}

int qlaster_signature_from_base58(const char* text, uint8_t out[64]) {
  return FromBase58<qlaster::Signature>(text, out);
}

int qlaster_pubkey_to_base58(const uint8_t key[32], char* out, size_t out_size) {
  return ToBase58<qlaster::Pubkey>(key, out, out_size);
}

int qlaster_signature_to_base58(const uint8_t sig[64], char* out, size_t out_size) {
  return ToBase58<qlaster::Signature>(sig, out, out_size);
}

}  // extern "C"
