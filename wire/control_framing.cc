// Control-message codec and stream framing. See control_framing.h.
//
// Decoding is strictly ordered: size limits, then the FlatBuffers verifier, then field
// reads (copied out), then ValidateControl. No field of an unverified buffer is ever read.
#include "wire/control_framing.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "flatbuffers/flatbuffers.h"
#include "base/fd_passing.h"
#include "base/status_macros.h"
#include "wire/updates.h"

namespace qlaster {
namespace {

// ControlMessage -> Stats -> [ConsumerStats] -> ConsumerStats is our deepest nesting;
// 8 leaves room without allowing the verifier's default of 64.
constexpr flatbuffers::uoffset_t kVerifierMaxDepth = 8;
// Root + body + one table per ConsumerStats entry, with room to spare. Bounds verifier
// work for a frame made of many tiny tables.
constexpr flatbuffers::uoffset_t kVerifierMaxTables =
    2 * kMaxStatsConsumers + 2 * kMaxStatsSourceCounters + 16;

// FlatBuffers reads scalars in place, so a frame must sit at an address aligned for the
// widest scalar in the schema (uint64) for those reads to be defined behaviour.
constexpr size_t kFrameAlignment = alignof(uint64_t);

constexpr size_t kReadChunkSize = 64 * 1024;
constexpr size_t kReadControlMaxFds = 8;

uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

absl::Status CheckFrameLength(uint64_t length) {
  if (length > kMaxControlFrameSize) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("control frame declares %d bytes, over the limit of %d", length,
                        kMaxControlFrameSize));
  }
  if (length < kMinControlFrameSize) {
    return absl::InvalidArgumentError(
        absl::StrFormat("control frame declares %d bytes, under the minimum of %d", length,
                        kMinControlFrameSize));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- encoding

std::vector<uint8_t> Frame(flatbuffers::FlatBufferBuilder& fbb, fb::ControlBody type,
                           flatbuffers::Offset<void> body) {
  fbb.Finish(fb::CreateControlMessage(fbb, type, body));
  const uint32_t size = fbb.GetSize();
  std::vector<uint8_t> out(kControlFrameHeaderSize + size);
  out[0] = static_cast<uint8_t>(size);
  out[1] = static_cast<uint8_t>(size >> 8);
  out[2] = static_cast<uint8_t>(size >> 16);
  out[3] = static_cast<uint8_t>(size >> 24);
  std::memcpy(out.data() + kControlFrameHeaderSize, fbb.GetBufferPointer(), size);
  return out;
}

flatbuffers::Offset<flatbuffers::Vector<const fb::Pubkey*>> CreateKeys(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<Pubkey>& keys) {
  // fb::Pubkey is 32 bytes with alignment 1, layout-identical to qlaster::Pubkey.
  static_assert(sizeof(fb::Pubkey) == sizeof(Pubkey) && alignof(fb::Pubkey) == 1);
  fb::Pubkey* dest = nullptr;
  auto offset = fbb.CreateUninitializedVectorOfStructs(keys.size(), &dest);
  if (!keys.empty()) {
    std::memcpy(static_cast<void*>(dest), keys.data(), keys.size() * sizeof(Pubkey));
  }
  return offset;
}

// ---------------------------------------------------------------- decoding

std::string CopyString(const flatbuffers::String* s) {
  return s == nullptr ? std::string() : s->str();
}

std::vector<Pubkey> CopyKeys(const flatbuffers::Vector<const fb::Pubkey*>* keys) {
  std::vector<Pubkey> out;
  if (keys == nullptr) return out;
  out.resize(keys->size());
  // Verified: the vector's size() * 32 bytes lie inside the buffer.
  if (!out.empty()) std::memcpy(out.data(), keys->Data(), out.size() * sizeof(Pubkey));
  return out;
}

// The public enums carry the schema's values (checked below), so translating is a cast;
// ValidateControl then rejects values neither defines.
static_assert(static_cast<uint8_t>(OverflowPolicy::kEvict) == static_cast<uint8_t>(fb::OverflowPolicy::Evict));
static_assert(static_cast<uint8_t>(OverflowPolicy::kDropAndCount) ==
              static_cast<uint8_t>(fb::OverflowPolicy::DropAndCount));
static_assert(static_cast<uint8_t>(WaitMode::kSpinThenSleep) == static_cast<uint8_t>(fb::WaitMode::SpinThenSleep));
static_assert(static_cast<uint8_t>(WaitMode::kSpin) == static_cast<uint8_t>(fb::WaitMode::Spin));
static_assert(static_cast<uint8_t>(WaitMode::kSleep) == static_cast<uint8_t>(fb::WaitMode::Sleep));
static_assert(static_cast<uint8_t>(TransactionFilter::kNone) == static_cast<uint8_t>(fb::TransactionFilter::None));
static_assert(static_cast<uint8_t>(TransactionFilter::kAll) == static_cast<uint8_t>(fb::TransactionFilter::All));
static_assert(static_cast<uint8_t>(TransactionFilter::kNonVote) ==
              static_cast<uint8_t>(fb::TransactionFilter::NonVote));

template <typename To, typename From>
To Cast(From v) {
  return static_cast<To>(static_cast<std::underlying_type_t<From>>(v));
}

ControlMsg ToMsg(const fb::Hello& t) {
  return HelloMsg{t.protocol_version(), CopyString(t.consumer_name()), t.ring_bytes(),
                  Cast<OverflowPolicy>(t.overflow()), Cast<WaitMode>(t.wait_mode())};
}
ControlMsg ToMsg(const fb::Ready& t) {
  return ReadyMsg{t.protocol_version(), t.consumer_id(), t.ring_bytes(),
                  CopyString(t.sender_name())};
}
static_assert(static_cast<uint8_t>(Commitment::kProcessed) == static_cast<uint8_t>(fb::Commitment::Processed));
static_assert(static_cast<uint8_t>(Commitment::kConfirmed) == static_cast<uint8_t>(fb::Commitment::Confirmed));
static_assert(static_cast<uint8_t>(Commitment::kFinalized) == static_cast<uint8_t>(fb::Commitment::Finalized));
static_assert(static_cast<uint8_t>(LamportsOp::kEq) == static_cast<uint8_t>(fb::LamportsOp::Eq));
static_assert(static_cast<uint8_t>(LamportsOp::kNe) == static_cast<uint8_t>(fb::LamportsOp::Ne));
static_assert(static_cast<uint8_t>(LamportsOp::kLt) == static_cast<uint8_t>(fb::LamportsOp::Lt));
static_assert(static_cast<uint8_t>(LamportsOp::kGt) == static_cast<uint8_t>(fb::LamportsOp::Gt));

constexpr fb::SubscribeOp kBadEnumOp = static_cast<fb::SubscribeOp>(0xff);

std::optional<bool> FromTri(fb::TriState t) {
  if (t == fb::TriState::True) return true;
  if (t == fb::TriState::False) return false;
  return std::nullopt;
}
fb::TriState ToTri(const std::optional<bool>& b) {
  return !b.has_value() ? fb::TriState::Unset : *b ? fb::TriState::True : fb::TriState::False;
}

std::vector<std::string> CopyStrings(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  out.reserve(v->size());
  for (const flatbuffers::String* s : *v) out.push_back(CopyString(s));
  return out;
}

NamedAccountFilter ToFilter(const fb::AccountFilterEntry& e, bool* bad_enum) {
  NamedAccountFilter n;
  n.name = CopyString(e.name());
  n.append = e.append();
  n.filter.pubkeys = CopyKeys(e.pubkeys());
  n.filter.owners = CopyKeys(e.owners());
  if (e.memcmp() != nullptr) {
    for (const fb::MemcmpFilter* m : *e.memcmp()) {
      Memcmp out{.offset = m->offset()};
      if (m->bytes() != nullptr) out.bytes.assign(m->bytes()->begin(), m->bytes()->end());
      n.filter.memcmp.push_back(std::move(out));
    }
  }
  if (e.has_datasize()) n.filter.datasize = e.datasize();
  if (e.lamports() != nullptr) {
    for (const fb::LamportsFilter* l : *e.lamports()) {
      if (static_cast<uint8_t>(l->op()) > static_cast<uint8_t>(fb::LamportsOp::MAX)) *bad_enum = true;
      n.filter.lamports.push_back({Cast<LamportsOp>(l->op()), l->value()});
    }
  }
  n.filter.token_account_state = e.token_account_state();
  if (static_cast<uint8_t>(e.nonempty_txn_signature()) > static_cast<uint8_t>(fb::TriState::MAX)) {
    *bad_enum = true;
  }
  n.filter.nonempty_txn_signature = FromTri(e.nonempty_txn_signature());
  return n;
}

NamedTransactionSelector ToSelector(const fb::TransactionSelectorEntry& e, bool* bad_enum) {
  NamedTransactionSelector n;
  n.name = CopyString(e.name());
  if (static_cast<uint8_t>(e.vote()) > static_cast<uint8_t>(fb::TriState::MAX) ||
      static_cast<uint8_t>(e.failed()) > static_cast<uint8_t>(fb::TriState::MAX)) {
    *bad_enum = true;
  }
  n.selector.vote = FromTri(e.vote());
  n.selector.failed = FromTri(e.failed());
  if (const fb::Signature* sig = e.signature()) {
    Signature out;
    std::memcpy(out.data(), sig->bytes()->data(), out.size());
    n.selector.signature = out;
  }
  n.selector.account_include = CopyKeys(e.account_include());
  n.selector.account_exclude = CopyKeys(e.account_exclude());
  n.selector.account_required = CopyKeys(e.account_required());
  return n;
}

ControlMsg ToMsg(const fb::Subscribe& t) {
  SubscribeMsg m{t.request_id(),       t.op(),
                 CopyKeys(t.pubkeys()), CopyKeys(t.owners()),
                 Cast<TransactionFilter>(t.transactions()), t.set_transactions()};
  bool bad_enum = false;
  if (t.accounts() != nullptr) {
    for (const fb::AccountFilterEntry* e : *t.accounts()) m.accounts.push_back(ToFilter(*e, &bad_enum));
  }
  if (t.transaction_filters() != nullptr) {
    for (const fb::TransactionSelectorEntry* e : *t.transaction_filters()) {
      m.transaction_filters.push_back(ToSelector(*e, &bad_enum));
    }
  }
  if (t.transaction_status_filters() != nullptr) {
    for (const fb::TransactionSelectorEntry* e : *t.transaction_status_filters()) {
      m.transaction_status_filters.push_back(ToSelector(*e, &bad_enum));
    }
  }
  if (t.slots() != nullptr) {
    for (const fb::SlotSelectorEntry* e : *t.slots()) {
      m.slots.push_back({CopyString(e->name()), {e->filter_by_commitment(), e->interslot_updates()}});
    }
  }
  m.blocks_meta = CopyStrings(t.blocks_meta());
  m.entries = CopyStrings(t.entries());
  if (const fb::SubscribeOptions* o = t.options()) {
    SubscribeOptionsMsg opts;
    if (static_cast<uint8_t>(o->commitment()) > static_cast<uint8_t>(fb::Commitment::MAX)) bad_enum = true;
    opts.commitment = Cast<Commitment>(o->commitment());
    if (o->data_slices() != nullptr) {
      for (const fb::DataSliceEntry* d : *o->data_slices()) {
        opts.data_slices.push_back({d->offset(), d->length()});
      }
    }
    m.options = std::move(opts);
  }
  if (t.has_from_slot()) m.from_slot = t.from_slot();
  if (bad_enum) {
    // An enum value outside its schema is not representable in the plain struct: mark
    // the message so that ValidateControl refuses it (kBadEnumOp says why).
    m.op = kBadEnumOp;
  }
  return m;
}
ControlMsg ToMsg(const fb::SubscribeAck& t) {
  return SubscribeAckMsg{t.request_id(), t.pubkeys(), t.owners(), t.effective_sequence()};
}
ControlMsg ToMsg(const fb::Ping& t) { return PingMsg{t.nonce()}; }
ControlMsg ToMsg(const fb::Pong& t) { return PongMsg{t.nonce()}; }
ControlMsg ToMsg(const fb::Error& t) { return ErrorMsg{t.code(), CopyString(t.message())}; }
ControlMsg ToMsg(const fb::Evicted& t) {
  return EvictedMsg{t.reason(), t.ring_fill(), t.sequence()};
}
ControlMsg ToMsg(const fb::StatsRequest&) { return StatsRequestMsg{}; }
ControlMsg ToMsg(const fb::Stats& t) {
  StatsMsg msg{.published = t.published(),
               .delivered = t.delivered(),
               .dropped = t.dropped(),
               .evicted = t.evicted(),
               .consumers = {},
               .source_counters = {},
               .oldest_replay_slot = std::nullopt};
  if (const flatbuffers::Optional<uint64_t> oldest = t.oldest_replay_slot(); oldest.has_value()) {
    msg.oldest_replay_slot = *oldest;
  }
  if (const auto* consumers = t.consumers(); consumers != nullptr) {
    // A count over the limit is reported by ValidateControl; do not copy a huge vector
    // first (the verifier already bounded it by kVerifierMaxTables).
    msg.consumers.reserve(consumers->size());
    for (const fb::ConsumerStats* c : *consumers) {
      msg.consumers.push_back(ConsumerStatsEntry{
          c->consumer_id(), CopyString(c->name()), c->delivered(), c->dropped(),
          c->ring_bytes(), c->ring_fill(), c->lag_records()});
    }
  }
  if (const auto* counters = t.source_counters(); counters != nullptr) {
    msg.source_counters.reserve(counters->size());
    for (const fb::SourceCounter* c : *counters) {
      msg.source_counters.push_back(
          SourceCounterEntry{CopyString(c->source()), CopyString(c->name()), c->value()});
    }
  }
  return msg;
}

// ---------------------------------------------------------------- validation

absl::Status CheckName(std::string_view field, const std::string& name) {
  if (name.size() > kMaxNameSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s is %d bytes, over the limit of %d", field, name.size(), kMaxNameSize));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s has control character 0x%02x at byte %d", field, c, i));
    }
  }
  return absl::OkStatus();
}

template <typename Enum>
absl::Status CheckEnum(std::string_view field, Enum value, Enum max) {
  using U = std::underlying_type_t<Enum>;
  if (static_cast<U>(value) > static_cast<U>(max)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s has unknown value %d (largest known %d)", field,
        static_cast<int>(static_cast<U>(value)), static_cast<int>(static_cast<U>(max))));
  }
  return absl::OkStatus();
}

absl::Status Validate(const HelloMsg& m) {
  QLASTER_RETURN_IF_ERROR(CheckName("Hello.consumer_name", m.consumer_name));
  QLASTER_RETURN_IF_ERROR(
      CheckEnum("Hello.overflow", m.overflow, Cast<OverflowPolicy>(fb::OverflowPolicy::MAX)));
  return CheckEnum("Hello.wait_mode", m.wait_mode, Cast<WaitMode>(fb::WaitMode::MAX));
}
absl::Status Validate(const ReadyMsg& m) {
  return CheckName("Ready.sender_name", m.sender_name);
}
absl::Status CheckFilterName(std::string_view field, const std::string& name) {
  if (name.empty() || name.size() > kMaxFilterNameSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s '%s' must be 1 to %d bytes", field, name.substr(0, 32), kMaxFilterNameSize));
  }
  return CheckName(field, name.size() <= kMaxNameSize ? name : name.substr(0, kMaxNameSize));
}

template <typename Named>
absl::Status CheckNames(std::string_view kind, const std::vector<Named>& named,
                        const std::string& (*name_of)(const Named&), bool allow_repeats) {
  if (named.size() > kMaxFiltersPerKind) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Subscribe names %d %s filters; at most %d per kind (each is a bit of the filter mask)",
        named.size(), kind, kMaxFiltersPerKind));
  }
  std::set<std::string> seen;
  for (const Named& n : named) {
    QLASTER_RETURN_IF_ERROR(CheckFilterName(std::string(kind) + " filter name", name_of(n)));
    if (!seen.insert(name_of(n)).second && !allow_repeats) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s filter '%s' appears twice", kind, name_of(n)));
    }
  }
  return absl::OkStatus();
}

const std::string& NameOf(const NamedAccountFilter& n) { return n.name; }
const std::string& NameOf(const NamedTransactionSelector& n) { return n.name; }
const std::string& NameOf(const NamedSlotSelector& n) { return n.name; }
const std::string& NameOf(const std::string& n) { return n; }

absl::Status Validate(const SubscribeMsg& m) {
  if (m.op == kBadEnumOp) {
    return absl::InvalidArgumentError(
        "Subscribe has a tri-state, commitment or lamports comparison outside its enum");
  }
  QLASTER_RETURN_IF_ERROR(CheckEnum("Subscribe.op", m.op, fb::SubscribeOp::MAX));
  QLASTER_RETURN_IF_ERROR(
      CheckEnum("Subscribe.transactions", m.transactions, Cast<TransactionFilter>(fb::TransactionFilter::MAX)));
  const size_t keys = SubscribeKeyCount(m);
  if (keys > kMaxSubscribeKeys) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "Subscribe has %d keys (pubkeys, owners and transaction accounts), over the limit of "
        "%d per message",
        keys, kMaxSubscribeKeys));
  }
  // An account filter may appear twice (a set, then appends to it).
  QLASTER_RETURN_IF_ERROR(CheckNames<NamedAccountFilter>("account", m.accounts, NameOf, true));
  QLASTER_RETURN_IF_ERROR(
      CheckNames<NamedTransactionSelector>("transaction", m.transaction_filters, NameOf, false));
  QLASTER_RETURN_IF_ERROR(CheckNames<NamedTransactionSelector>(
      "transaction status", m.transaction_status_filters, NameOf, false));
  QLASTER_RETURN_IF_ERROR(CheckNames<NamedSlotSelector>("slot", m.slots, NameOf, false));
  QLASTER_RETURN_IF_ERROR(CheckNames<std::string>("block meta", m.blocks_meta, NameOf, false));
  QLASTER_RETURN_IF_ERROR(CheckNames<std::string>("entry", m.entries, NameOf, false));
  for (const NamedAccountFilter& n : m.accounts) {
    const AccountFilter& f = n.filter;
    const size_t predicates = f.memcmp.size() + (f.datasize.has_value() ? 1 : 0) +
                              f.lamports.size() + (f.token_account_state ? 1 : 0);
    if (predicates > kMaxDataPredicates) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "account filter '%s' has %d data predicates (memcmp, datasize, lamports, "
          "token_account_state); at most %d",
          n.name, predicates, kMaxDataPredicates));
    }
    for (const LamportsFilter& l : f.lamports) {
      QLASTER_RETURN_IF_ERROR(CheckEnum(absl::StrFormat("account filter '%s': lamports comparison", n.name),
                                        l.op, Cast<LamportsOp>(fb::LamportsOp::MAX)));
    }
    for (const Memcmp& c : f.memcmp) {
      if (c.bytes.empty() || c.bytes.size() > kMaxMemcmpBytes) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "account filter '%s': a memcmp compares 1 to %d bytes, not %d", n.name,
            kMaxMemcmpBytes, c.bytes.size()));
      }
      if (c.offset > kMaxAccountDataSize) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "account filter '%s': memcmp offset %d is past the largest account (%d bytes)",
            n.name, c.offset, kMaxAccountDataSize));
      }
    }
  }
  if (m.options.has_value()) {
    const SubscribeOptionsMsg& o = *m.options;
    QLASTER_RETURN_IF_ERROR(
        CheckEnum("Subscribe.commitment", o.commitment, Cast<Commitment>(fb::Commitment::MAX)));
    if (o.data_slices.size() > kMaxDataSlices) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Subscribe has %d data slices, at most %d", o.data_slices.size(), kMaxDataSlices));
    }
    for (size_t i = 0; i < o.data_slices.size(); ++i) {
      const DataSlice& d = o.data_slices[i];
      if (d.length == 0 || d.offset > kMaxAccountDataSize || d.length > kMaxAccountDataSize) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "data slice %d (offset %d, length %d) is empty or past the largest account", i,
            d.offset, d.length));
      }
      if (i > 0 && d.offset < o.data_slices[i - 1].offset + o.data_slices[i - 1].length) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "data slices must be sorted and not overlap: slice %d starts at %d, before the "
            "end of slice %d",
            i, d.offset, i - 1));
      }
    }
  }
  return absl::OkStatus();
}
absl::Status Validate(const SubscribeAckMsg&) { return absl::OkStatus(); }
absl::Status Validate(const PingMsg&) { return absl::OkStatus(); }
absl::Status Validate(const PongMsg&) { return absl::OkStatus(); }
absl::Status Validate(const ErrorMsg& m) {
  QLASTER_RETURN_IF_ERROR(CheckEnum("Error.code", m.code, fb::ErrorCode::MAX));
  if (m.message.size() > kMaxErrorMessageSize) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Error.message is %d bytes, over the limit of %d", m.message.size(),
                        kMaxErrorMessageSize));
  }
  return absl::OkStatus();
}
absl::Status Validate(const EvictedMsg& m) {
  return CheckEnum("Evicted.reason", m.reason, fb::EvictReason::MAX);
}
absl::Status Validate(const StatsRequestMsg&) { return absl::OkStatus(); }
absl::Status Validate(const StatsMsg& m) {
  if (m.consumers.size() > kMaxStatsConsumers) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("Stats has %d consumers, over the limit of %d", m.consumers.size(),
                        kMaxStatsConsumers));
  }
  for (const ConsumerStatsEntry& c : m.consumers) {
    QLASTER_RETURN_IF_ERROR(CheckName("ConsumerStats.name", c.name));
  }
  if (m.source_counters.size() > kMaxStatsSourceCounters) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("Stats has %d source counters, over the limit of %d",
                        m.source_counters.size(), kMaxStatsSourceCounters));
  }
  for (const SourceCounterEntry& c : m.source_counters) {
    if (c.source.size() > kMaxSourceNameSize) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "SourceCounter.source is %d bytes, over %d", c.source.size(), kMaxSourceNameSize));
    }
    QLASTER_RETURN_IF_ERROR(CheckName("SourceCounter.name", c.name));
  }
  return absl::OkStatus();
}

}  // namespace

size_t SubscribeKeyCount(const SubscribeMsg& msg) {
  size_t n = msg.pubkeys.size() + msg.owners.size();
  for (const NamedAccountFilter& a : msg.accounts) n += a.filter.pubkeys.size() + a.filter.owners.size();
  for (const auto* list : {&msg.transaction_filters, &msg.transaction_status_filters}) {
    for (const NamedTransactionSelector& t : *list) {
      n += t.selector.account_include.size() + t.selector.account_exclude.size() +
           t.selector.account_required.size();
    }
  }
  return n;
}

std::string_view ControlMsgName(const ControlMsg& msg) {
  static constexpr std::string_view kNames[] = {
      "Hello", "Ready", "Subscribe", "SubscribeAck", "Ping",
      "Pong",  "Error", "Evicted",   "StatsRequest", "Stats"};
  static_assert(std::size(kNames) == std::variant_size_v<ControlMsg>);
  return kNames[msg.index()];
}

absl::Status ValidateControl(const ControlMsg& msg) {
  return std::visit([](const auto& m) { return Validate(m); }, msg);
}

// ---------------------------------------------------------------- encoders

std::vector<uint8_t> EncodeControl(const HelloMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128 + msg.consumer_name.size());
  const auto body =
      fb::CreateHello(fbb, msg.protocol_version, fbb.CreateString(msg.consumer_name),
                      msg.ring_bytes, Cast<fb::OverflowPolicy>(msg.overflow),
                      Cast<fb::WaitMode>(msg.wait_mode));
  return Frame(fbb, fb::ControlBody::Hello, body.Union());
}

std::vector<uint8_t> EncodeControl(const ReadyMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128 + msg.sender_name.size());
  const auto body = fb::CreateReady(fbb, msg.protocol_version, msg.consumer_id,
                                    msg.ring_bytes, fbb.CreateString(msg.sender_name));
  return Frame(fbb, fb::ControlBody::Ready, body.Union());
}

std::vector<uint8_t> EncodeControl(const SubscribeMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128 + (msg.pubkeys.size() + msg.owners.size()) *
                                               sizeof(Pubkey));
  const auto pubkeys = CreateKeys(fbb, msg.pubkeys);
  const auto owners = CreateKeys(fbb, msg.owners);
  std::vector<flatbuffers::Offset<fb::AccountFilterEntry>> accounts;
  for (const NamedAccountFilter& n : msg.accounts) {
    const AccountFilter& f = n.filter;
    std::vector<flatbuffers::Offset<fb::MemcmpFilter>> memcmp;
    for (const Memcmp& c : f.memcmp) {
      memcmp.push_back(fb::CreateMemcmpFilter(fbb, c.offset, fbb.CreateVector(c.bytes)));
    }
    std::vector<flatbuffers::Offset<fb::LamportsFilter>> lamports;
    for (const LamportsFilter& l : f.lamports) {
      lamports.push_back(fb::CreateLamportsFilter(fbb, Cast<fb::LamportsOp>(l.op), l.value));
    }
    const auto name = fbb.CreateString(n.name);
    const auto pks = CreateKeys(fbb, f.pubkeys);
    const auto ows = CreateKeys(fbb, f.owners);
    const auto mc = fbb.CreateVector(memcmp);
    const auto lp = fbb.CreateVector(lamports);
    accounts.push_back(fb::CreateAccountFilterEntry(
        fbb, name, n.append, pks, ows, mc, f.datasize.has_value(), f.datasize.value_or(0), lp,
        f.token_account_state, ToTri(f.nonempty_txn_signature)));
  }
  auto selectors = [&fbb](const std::vector<NamedTransactionSelector>& in) {
    std::vector<flatbuffers::Offset<fb::TransactionSelectorEntry>> out;
    for (const NamedTransactionSelector& n : in) {
      const TransactionSelector& t = n.selector;
      const auto name = fbb.CreateString(n.name);
      const auto inc = CreateKeys(fbb, t.account_include);
      const auto exc = CreateKeys(fbb, t.account_exclude);
      const auto req = CreateKeys(fbb, t.account_required);
      const fb::Signature sig =
          t.signature.has_value() ? fb::Signature(flatbuffers::make_span(*t.signature)) : fb::Signature();
      out.push_back(fb::CreateTransactionSelectorEntry(fbb, name, ToTri(t.vote), ToTri(t.failed),
                                                       t.signature.has_value() ? &sig : nullptr,
                                                       inc, exc, req));
    }
    return fbb.CreateVector(out);
  };
  const auto tx_filters = selectors(msg.transaction_filters);
  const auto status_filters = selectors(msg.transaction_status_filters);
  std::vector<flatbuffers::Offset<fb::SlotSelectorEntry>> slots;
  for (const NamedSlotSelector& n : msg.slots) {
    const auto name = fbb.CreateString(n.name);
    slots.push_back(fb::CreateSlotSelectorEntry(fbb, name, n.selector.filter_by_commitment,
                                                n.selector.interslot_updates));
  }
  const auto slots_v = fbb.CreateVector(slots);
  const auto blocks_meta = fbb.CreateVectorOfStrings(msg.blocks_meta);
  const auto entries = fbb.CreateVectorOfStrings(msg.entries);
  flatbuffers::Offset<fb::SubscribeOptions> options = 0;
  if (msg.options.has_value()) {
    std::vector<fb::DataSliceEntry> slices;
    for (const DataSlice& d : msg.options->data_slices) slices.emplace_back(d.offset, d.length);
    const auto sv = fbb.CreateVectorOfStructs(slices);
    options = fb::CreateSubscribeOptions(fbb, Cast<fb::Commitment>(msg.options->commitment), sv);
  }
  const auto accounts_v = fbb.CreateVector(accounts);
  const auto body = fb::CreateSubscribe(
      fbb, msg.request_id, msg.op, pubkeys, owners, Cast<fb::TransactionFilter>(msg.transactions),
      msg.set_transactions, accounts_v, tx_filters, status_filters, slots_v, blocks_meta, entries,
      options, msg.from_slot.has_value(), msg.from_slot.value_or(0));
  return Frame(fbb, fb::ControlBody::Subscribe, body.Union());
}

std::vector<uint8_t> EncodeControl(const SubscribeAckMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128);
  const auto body = fb::CreateSubscribeAck(fbb, msg.request_id, msg.pubkeys, msg.owners,
                                           msg.effective_sequence);
  return Frame(fbb, fb::ControlBody::SubscribeAck, body.Union());
}

std::vector<uint8_t> EncodeControl(const PingMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto body = fb::CreatePing(fbb, msg.nonce);
  return Frame(fbb, fb::ControlBody::Ping, body.Union());
}

std::vector<uint8_t> EncodeControl(const PongMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto body = fb::CreatePong(fbb, msg.nonce);
  return Frame(fbb, fb::ControlBody::Pong, body.Union());
}

std::vector<uint8_t> EncodeControl(const ErrorMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128 + msg.message.size());
  const auto body = fb::CreateError(fbb, msg.code, fbb.CreateString(msg.message));
  return Frame(fbb, fb::ControlBody::Error, body.Union());
}

std::vector<uint8_t> EncodeControl(const EvictedMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto body = fb::CreateEvicted(fbb, msg.reason, msg.ring_fill, msg.sequence);
  return Frame(fbb, fb::ControlBody::Evicted, body.Union());
}

std::vector<uint8_t> EncodeControl(const StatsRequestMsg&) {
  flatbuffers::FlatBufferBuilder fbb(64);
  const auto body = fb::CreateStatsRequest(fbb);
  return Frame(fbb, fb::ControlBody::StatsRequest, body.Union());
}

std::vector<uint8_t> EncodeControl(const StatsMsg& msg) {
  flatbuffers::FlatBufferBuilder fbb(128 + msg.consumers.size() * 160);
  std::vector<flatbuffers::Offset<fb::ConsumerStats>> consumers;
  consumers.reserve(msg.consumers.size());
  for (const ConsumerStatsEntry& c : msg.consumers) {
    consumers.push_back(
        fb::CreateConsumerStats(fbb, c.consumer_id, fbb.CreateString(c.name), c.delivered,
                                c.dropped, c.ring_bytes, c.ring_fill, c.lag_records));
  }
  std::vector<flatbuffers::Offset<fb::SourceCounter>> counters;
  counters.reserve(msg.source_counters.size());
  for (const SourceCounterEntry& c : msg.source_counters) {
    counters.push_back(fb::CreateSourceCounter(fbb, fbb.CreateString(c.source),
                                               fbb.CreateString(c.name), c.value));
  }
  flatbuffers::Optional<uint64_t> oldest = flatbuffers::nullopt;
  if (msg.oldest_replay_slot.has_value()) oldest = *msg.oldest_replay_slot;
  const auto body = fb::CreateStats(fbb, msg.published, msg.delivered, msg.dropped,
                                    msg.evicted, fbb.CreateVector(consumers),
                                    fbb.CreateVector(counters), oldest);
  return Frame(fbb, fb::ControlBody::Stats, body.Union());
}

std::vector<uint8_t> EncodeControl(const ControlMsg& msg) {
  return std::visit([](const auto& m) { return EncodeControl(m); }, msg);
}

// ---------------------------------------------------------------- decoder

absl::StatusOr<ControlMsg> DecodeControlFrame(absl::Span<const uint8_t> frame) {
  QLASTER_RETURN_IF_ERROR(CheckFrameLength(frame.size()));

  const uint8_t* data = frame.data();
  std::unique_ptr<uint64_t[]> aligned;
  if (reinterpret_cast<uintptr_t>(data) % kFrameAlignment != 0) {
    aligned.reset(new uint64_t[(frame.size() + 7) / 8]);
    std::memcpy(aligned.get(), frame.data(), frame.size());
    data = reinterpret_cast<const uint8_t*>(aligned.get());
  }

  flatbuffers::Verifier::Options options;
  options.max_depth = kVerifierMaxDepth;
  options.max_tables = kVerifierMaxTables;
  options.check_alignment = true;
  flatbuffers::Verifier verifier(data, frame.size(), options);
  if (!fb::VerifyControlMessageBuffer(verifier)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("control frame failed verification (%d bytes)", frame.size()));
  }

  const fb::ControlMessage* root = fb::GetControlMessage(data);
  const fb::ControlBody type = root->body_type();
  if (type == fb::ControlBody::NONE) {
    return absl::InvalidArgumentError("control frame has no body");
  }
  if (static_cast<uint8_t>(type) > static_cast<uint8_t>(fb::ControlBody::MAX)) {
    // The generated verifier accepts unknown union types (forward compatibility); we
    // cannot act on one, so it is an error here.
    return absl::InvalidArgumentError(
        absl::StrFormat("control frame has unknown body type %d", static_cast<int>(type)));
  }
  if (root->body() == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "control frame body type %s has no table", fb::EnumNameControlBody(type)));
  }

  ControlMsg msg;
  switch (type) {
    case fb::ControlBody::Hello:
      msg = ToMsg(*root->body_as_Hello());
      break;
    case fb::ControlBody::Ready:
      msg = ToMsg(*root->body_as_Ready());
      break;
    case fb::ControlBody::Subscribe:
      msg = ToMsg(*root->body_as_Subscribe());
      break;
    case fb::ControlBody::SubscribeAck:
      msg = ToMsg(*root->body_as_SubscribeAck());
      break;
    case fb::ControlBody::Ping:
      msg = ToMsg(*root->body_as_Ping());
      break;
    case fb::ControlBody::Pong:
      msg = ToMsg(*root->body_as_Pong());
      break;
    case fb::ControlBody::Error:
      msg = ToMsg(*root->body_as_Error());
      break;
    case fb::ControlBody::Evicted:
      msg = ToMsg(*root->body_as_Evicted());
      break;
    case fb::ControlBody::StatsRequest:
      msg = ToMsg(*root->body_as_StatsRequest());
      break;
    case fb::ControlBody::Stats:
      msg = ToMsg(*root->body_as_Stats());
      break;
    case fb::ControlBody::NONE:
      break;  // handled above
  }
  QLASTER_RETURN_IF_ERROR(ValidateControl(msg));
  return msg;
}

// ---------------------------------------------------------------- reader

absl::Status ControlFrameReader::Fail(absl::Status status) {
  error_ = std::move(status);
  // Drop what a hostile peer sent; nothing more will be read from it.
  std::vector<uint8_t>().swap(buffer_);
  start_ = 0;
  return error_;
}

absl::Status ControlFrameReader::CheckPendingHeader() {
  if (buffered_bytes() < kControlFrameHeaderSize) return absl::OkStatus();
  const absl::Status status = CheckFrameLength(LoadLe32(buffer_.data() + start_));
  if (!status.ok()) return Fail(status);
  return absl::OkStatus();
}

void ControlFrameReader::Append(absl::Span<const uint8_t> bytes) {
  if (!error_.ok() || bytes.empty()) return;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  // Judge a header as soon as its 4th byte lands, before a hostile body is buffered
  // by further Appends. The failure is recorded; Next() reports it.
  (void)CheckPendingHeader();
}

absl::StatusOr<std::optional<ControlMsg>> ControlFrameReader::Next() {
  if (!error_.ok()) return error_;
  if (buffered_bytes() < kControlFrameHeaderSize) return std::nullopt;
  QLASTER_RETURN_IF_ERROR(CheckPendingHeader());
  const uint32_t length = LoadLe32(buffer_.data() + start_);
  if (buffered_bytes() - kControlFrameHeaderSize < length) return std::nullopt;

  absl::StatusOr<ControlMsg> msg = DecodeControlFrame(
      absl::Span<const uint8_t>(buffer_.data() + start_ + kControlFrameHeaderSize, length));
  if (!msg.ok()) return Fail(msg.status());

  start_ += kControlFrameHeaderSize + length;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
    // Do not let one large Subscribe pin megabytes for the life of an idle connection.
    if (buffer_.capacity() > kReadChunkSize) std::vector<uint8_t>().swap(buffer_);
  } else if (start_ >= buffer_.size() / 2) {
    // Amortized: each byte is moved at most once per halving.
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(start_));
    start_ = 0;
  }
  return std::optional<ControlMsg>(std::move(*msg));
}

// ---------------------------------------------------------------- blocking helpers

absl::Status WriteControl(int fd, absl::Span<const uint8_t> frame) {
  return SendWithFds(fd, frame, {});
}

absl::StatusOr<ControlMsg> ReadControl(int fd, ControlFrameReader& reader,
                                       absl::Duration timeout, std::vector<UniqueFd>* fds) {
  const absl::Time deadline =
      timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : absl::Now() + timeout;
  std::vector<uint8_t> chunk(kReadChunkSize);
  while (true) {
    QLASTER_ASSIGN_OR_RETURN(std::optional<ControlMsg> next, reader.Next());
    if (next.has_value()) return std::move(*next);

    int wait_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(
            absl::StrFormat("no complete control message within %s (%d bytes buffered)",
                            absl::FormatDuration(timeout), reader.buffered_bytes()));
      }
      wait_ms = static_cast<int>(std::min<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
    }
    pollfd pfd{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&pfd, 1, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "poll for a control message");
    }
    if (ready == 0) continue;  // the deadline check above reports it

    absl::StatusOr<ReceivedMessage> got =
        ReceiveWithFds(fd, absl::MakeSpan(chunk), fds != nullptr ? kReadControlMaxFds : 0);
    if (!got.ok()) {
      if (absl::IsUnavailable(got.status()) && reader.buffered_bytes() > 0) {
        return absl::UnavailableError(absl::StrFormat(
            "peer closed the connection in the middle of a frame (%d bytes buffered): %s",
            reader.buffered_bytes(), got.status().message()));
      }
      return got.status();
    }
    if (fds != nullptr) {
      for (UniqueFd& received : got->fds) fds->push_back(std::move(received));
    }
    reader.Append(absl::MakeConstSpan(chunk.data(), got->bytes));
  }
}

absl::StatusOr<StatsMsg> QuerySenderStats(const std::string& socket_path, absl::Duration timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", socket_path));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus(errno, "socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(
        absl::StrCat("no qlaster-sender at ", socket_path, " (", std::strerror(errno), ")"));
  }
  // A sender that refuses the connection as it accepts it (a limit, an allow-list) may
  // close before reading the request: its Error, which says why, is still there to read.
  const absl::Status sent = WriteControl(fd.get(), EncodeControl(StatsRequestMsg{}));
  ControlFrameReader reader;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<ControlMsg> msg =
        ReadControl(fd.get(), reader, std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!msg.ok()) {
      const absl::Status& why = sent.ok() ? msg.status() : sent;
      return absl::Status(absl::IsDeadlineExceeded(why) ? why.code() : absl::StatusCode::kUnavailable,
                          absl::StrCat("qlaster-sender at ", socket_path, ": ", why.ToString()));
    }
    if (auto* stats = std::get_if<StatsMsg>(&*msg)) return std::move(*stats);
    if (const auto* error = std::get_if<ErrorMsg>(&*msg)) {
      return absl::FailedPreconditionError(absl::StrCat("qlaster-sender refused: ", error->message));
    }
    // Anything else (a Ping) is not the answer: keep reading.
  }
}

}  // namespace qlaster
