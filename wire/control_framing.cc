// Control-message codec and stream framing. See control_framing.h.
//
// Decoding is strictly ordered: size limits, then the FlatBuffers verifier, then field
// reads (copied out), then ValidateControl. No field of an unverified buffer is ever read.
#include "wire/control_framing.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <type_traits>

#include "absl/strings/str_format.h"
#include "flatbuffers/flatbuffers.h"
#include "base/fd_passing.h"
#include "base/status_macros.h"

namespace qlaster {
namespace {

// ControlMessage -> Stats -> [ConsumerStats] -> ConsumerStats is our deepest nesting;
// 8 leaves room without allowing the verifier's default of 64.
constexpr flatbuffers::uoffset_t kVerifierMaxDepth = 8;
// Root + body + one table per ConsumerStats entry, with room to spare. Bounds verifier
// work for a frame made of many tiny tables.
constexpr flatbuffers::uoffset_t kVerifierMaxTables = 2 * kMaxStatsConsumers + 16;

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
ControlMsg ToMsg(const fb::Subscribe& t) {
  return SubscribeMsg{t.request_id(),       t.op(),
                      CopyKeys(t.pubkeys()), CopyKeys(t.owners()),
                      Cast<TransactionFilter>(t.transactions()), t.set_transactions()};
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
  StatsMsg msg{t.published(), t.delivered(), t.dropped(), t.evicted(), {}};
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
absl::Status Validate(const SubscribeMsg& m) {
  QLASTER_RETURN_IF_ERROR(CheckEnum("Subscribe.op", m.op, fb::SubscribeOp::MAX));
  QLASTER_RETURN_IF_ERROR(
      CheckEnum("Subscribe.transactions", m.transactions, Cast<TransactionFilter>(fb::TransactionFilter::MAX)));
  const size_t keys = m.pubkeys.size() + m.owners.size();
  if (keys > kMaxSubscribeKeys) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "Subscribe has %d keys (pubkeys + owners), over the limit of %d per message", keys,
        kMaxSubscribeKeys));
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
  return absl::OkStatus();
}

}  // namespace

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
  const auto body = fb::CreateSubscribe(fbb, msg.request_id, msg.op, pubkeys, owners,
                                        Cast<fb::TransactionFilter>(msg.transactions),
                                        msg.set_transactions);
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
  const auto body = fb::CreateStats(fbb, msg.published, msg.delivered, msg.dropped,
                                    msg.evicted, fbb.CreateVector(consumers));
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

}  // namespace qlaster
