// The relay protocol codec (protocol.h, docs/relay-protocol.md).
#include "relay/protocol.h"

#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qlaster::relay {
namespace {

constexpr char kErrorPayload[] = "qlaster.relay/error";

absl::Status Error(RelayError code, absl::StatusCode status_code, std::string message) {
  return RelayErrorStatus(code, status_code, std::move(message));
}
absl::Status Malformed(std::string message) {
  return Error(RelayError::kMalformed, absl::StatusCode::kInvalidArgument,
               "relay protocol: " + message);
}

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Bytes(absl::Span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>& out_;
};

// Reads a body; every read is checked against what is left.
class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> in) : in_(in) {}
  bool U8(uint8_t& v) {
    uint64_t x;
    if (!Le(x, 1)) return false;
    v = static_cast<uint8_t>(x);
    return true;
  }
  bool U16(uint16_t& v) {
    uint64_t x;
    if (!Le(x, 2)) return false;
    v = static_cast<uint16_t>(x);
    return true;
  }
  bool U32(uint32_t& v) {
    uint64_t x;
    if (!Le(x, 4)) return false;
    v = static_cast<uint32_t>(x);
    return true;
  }
  bool U64(uint64_t& v) { return Le(v, 8); }
  bool Bytes(size_t n, absl::Span<const uint8_t>& out) {
    if (in_.size() < n) return false;
    out = in_.first(n);
    in_.remove_prefix(n);
    return true;
  }
  size_t left() const { return in_.size(); }

 private:
  bool Le(uint64_t& v, int n) {
    if (in_.size() < static_cast<size_t>(n)) return false;
    v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_[i]) << (8 * i);
    in_.remove_prefix(n);
    return true;
  }
  absl::Span<const uint8_t> in_;
};

std::string AsString(absl::Span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
absl::Span<const uint8_t> AsBytes(const std::string& s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

const char* TypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello: return "HELLO";
    case MessageType::kWelcome: return "WELCOME";
    case MessageType::kStreamStart: return "STREAM_START";
    case MessageType::kUpdate: return "UPDATE";
    case MessageType::kGap: return "GAP";
    case MessageType::kPing: return "PING";
    case MessageType::kPong: return "PONG";
    case MessageType::kClose: return "CLOSE";
  }
  return "?";
}

MessageType TypeOf(const Message& msg) {
  return static_cast<MessageType>(msg.index() + 1);
}

void EncodeBody(const Message& msg, Writer& w) {
  if (const auto* m = std::get_if<Hello>(&msg)) {
    w.U16(kProtocolVersion);
    w.U16(0);
    w.U32(0);
    w.U64(m->session_id);
    for (uint64_t s : m->next_sequence) w.U64(s);
    w.U8(static_cast<uint8_t>(m->name.size()));
    w.Bytes(AsBytes(m->name));
  } else if (const auto* m = std::get_if<Welcome>(&msg)) {
    w.U64(m->session_id);
    for (uint64_t s : m->resume_from) w.U64(s);
  } else if (const auto* m = std::get_if<StreamStart>(&msg)) {
    w.U8(static_cast<uint8_t>(m->stream_class));
    for (int i = 0; i < 7; ++i) w.U8(0);
    w.U64(m->session_id);
    w.U64(m->first_sequence);
  } else if (const auto* m = std::get_if<Update>(&msg)) {
    w.U64(m->sequence);
    w.Bytes(m->frame);
  } else if (const auto* m = std::get_if<Gap>(&msg)) {
    w.U64(m->first_sequence);
    w.U64(m->count);
  } else if (const auto* m = std::get_if<Ping>(&msg)) {
    w.U64(m->nonce);
  } else if (const auto* m = std::get_if<Pong>(&msg)) {
    w.U64(m->nonce);
  } else if (const auto* m = std::get_if<Close>(&msg)) {
    w.U32(static_cast<uint32_t>(m->code));
    w.U16(static_cast<uint16_t>(m->reason.size()));
    w.Bytes(AsBytes(m->reason));
  }
}

}  // namespace

absl::Status RelayErrorStatus(RelayError code, absl::StatusCode status_code,
                              std::string message) {
  absl::Status status(status_code, message);
  status.SetPayload(kErrorPayload, absl::Cord(absl::StrCat(static_cast<uint32_t>(code))));
  return status;
}

RelayError ErrorOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorPayload);
  uint32_t code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) {
    return status.ok() ? RelayError::kNoError : RelayError::kInternal;
  }
  return static_cast<RelayError>(code);
}

std::vector<uint8_t> EncodeMessage(const Message& msg) {
  std::vector<uint8_t> out;
  out.reserve(64);
  Writer w(out);
  w.U32(0);  // the length, patched below
  w.U8(static_cast<uint8_t>(TypeOf(msg)));
  EncodeBody(msg, w);
  const uint32_t length = static_cast<uint32_t>(out.size() - kLengthPrefixSize);
  for (size_t i = 0; i < kLengthPrefixSize; ++i) out[i] = static_cast<uint8_t>(length >> (8 * i));
  return out;
}

absl::StatusOr<Message> DecodeMessage(absl::Span<const uint8_t> type_and_body) {
  if (type_and_body.empty()) {
    return Error(RelayError::kMessageTooLarge, absl::StatusCode::kInvalidArgument,
                 "relay protocol: empty message (length 0)");
  }
  const uint8_t type = type_and_body[0];
  Reader r(type_and_body.subspan(1));
  const auto truncated = [&](const char* name) {
    return Malformed(absl::StrFormat("%s body of %d bytes is truncated", name,
                                     type_and_body.size() - 1));
  };
  const auto finish = [&](const char* name, Message msg) -> absl::StatusOr<Message> {
    if (r.left() != 0) {
      return Malformed(absl::StrFormat("%s body has %d trailing bytes", name, r.left()));
    }
    return msg;
  };
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello: {
      Hello m;
      uint16_t version, reserved16;
      uint32_t reserved32;
      uint8_t name_len;
      if (!r.U16(version) || !r.U16(reserved16) || !r.U32(reserved32) || !r.U64(m.session_id)) {
        return truncated("HELLO");
      }
      if (version != kProtocolVersion) {
        return Error(RelayError::kVersion, absl::StatusCode::kFailedPrecondition,
                     absl::StrFormat("relay protocol: HELLO version %d, this side speaks %d",
                                     version, kProtocolVersion));
      }
      for (uint64_t& s : m.next_sequence) {
        if (!r.U64(s)) return truncated("HELLO");
      }
      absl::Span<const uint8_t> name;
      if (!r.U8(name_len)) return truncated("HELLO");
      if (name_len > kMaxRelayNameSize) {
        return Malformed(absl::StrFormat("HELLO name of %d bytes is over the limit of %d",
                                         name_len, kMaxRelayNameSize));
      }
      if (!r.Bytes(name_len, name)) return truncated("HELLO");
      m.name = AsString(name);
      if (m.session_id == 0) {
        return Error(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                     "relay protocol: HELLO session_id is 0");
      }
      return finish("HELLO", std::move(m));
    }
    case MessageType::kWelcome: {
      Welcome m;
      if (!r.U64(m.session_id)) return truncated("WELCOME");
      for (uint64_t& s : m.resume_from) {
        if (!r.U64(s)) return truncated("WELCOME");
      }
      return finish("WELCOME", std::move(m));
    }
    case MessageType::kStreamStart: {
      StreamStart m;
      uint8_t cls;
      absl::Span<const uint8_t> reserved;
      if (!r.U8(cls) || !r.Bytes(7, reserved) || !r.U64(m.session_id) ||
          !r.U64(m.first_sequence)) {
        return truncated("STREAM_START");
      }
      if (cls >= kClassCount) {
        return Malformed(absl::StrFormat("STREAM_START class %d is not 0, 1 or 2", cls));
      }
      m.stream_class = static_cast<StreamClass>(cls);
      if (m.first_sequence == 0) return Malformed("STREAM_START first_sequence is 0");
      return finish("STREAM_START", std::move(m));
    }
    case MessageType::kUpdate: {
      Update m;
      if (!r.U64(m.sequence)) return truncated("UPDATE");
      if (r.left() < kMinFrameSize) {
        return Malformed(absl::StrFormat("UPDATE frame of %d bytes is under the %d of a FrameHeader",
                                         r.left(), kMinFrameSize));
      }
      absl::Span<const uint8_t> frame;
      r.Bytes(r.left(), frame);
      m.frame.assign(frame.begin(), frame.end());
      return m;
    }
    case MessageType::kGap: {
      Gap m;
      if (!r.U64(m.first_sequence) || !r.U64(m.count)) return truncated("GAP");
      if (m.count == 0) return Malformed("GAP count is 0");
      if (m.first_sequence + m.count < m.first_sequence) {
        return Malformed(absl::StrFormat("GAP [%d, +%d) overflows the sequence space",
                                         m.first_sequence, m.count));
      }
      return finish("GAP", std::move(m));
    }
    case MessageType::kPing: {
      Ping m;
      if (!r.U64(m.nonce)) return truncated("PING");
      return finish("PING", std::move(m));
    }
    case MessageType::kPong: {
      Pong m;
      if (!r.U64(m.nonce)) return truncated("PONG");
      return finish("PONG", std::move(m));
    }
    case MessageType::kClose: {
      Close m;
      uint32_t code;
      uint16_t reason_len;
      absl::Span<const uint8_t> reason;
      if (!r.U32(code) || !r.U16(reason_len)) return truncated("CLOSE");
      if (reason_len > kMaxReasonSize) {
        return Malformed(absl::StrFormat("CLOSE reason of %d bytes is over the limit of %d",
                                         reason_len, kMaxReasonSize));
      }
      if (!r.Bytes(reason_len, reason)) return truncated("CLOSE");
      m.code = static_cast<RelayError>(code);
      m.reason = AsString(reason);
      return finish("CLOSE", std::move(m));
    }
  }
  return Error(RelayError::kUnknownType, absl::StatusCode::kInvalidArgument,
               absl::StrFormat("relay protocol: unknown message type 0x%02x", type));
}

void RelayStreamDecoder::Append(absl::Span<const uint8_t> bytes) {
  if (failed()) return;
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > (1u << 20) && start_ * 2 > buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

absl::Status RelayStreamDecoder::Fail(absl::Status status) {
  error_ = status;
  buffer_.clear();
  start_ = 0;
  return status;
}

absl::Status RelayStreamDecoder::CheckRole(const Message& msg) {
  const MessageType type = TypeOf(msg);
  bool allowed = false;
  switch (role_) {
    case StreamRole::kControlAtGateway:
      allowed = type == MessageType::kHello || type == MessageType::kPing ||
                type == MessageType::kPong || type == MessageType::kClose;
      break;
    case StreamRole::kControlAtRelay:
      allowed = type == MessageType::kWelcome || type == MessageType::kPing ||
                type == MessageType::kPong || type == MessageType::kClose;
      break;
    case StreamRole::kClassAtGateway:
      allowed = type == MessageType::kStreamStart || type == MessageType::kUpdate ||
                type == MessageType::kGap;
      break;
  }
  if (allowed) return absl::OkStatus();
  return Error(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
               absl::StrFormat("relay protocol: %s does not belong on a %s stream",
                               TypeName(type),
                               role_ == StreamRole::kClassAtGateway ? "class" : "control"));
}

absl::StatusOr<std::optional<Message>> RelayStreamDecoder::Next() {
  if (failed()) return error_;
  const size_t available = buffer_.size() - start_;
  if (available < kLengthPrefixSize) return std::optional<Message>();
  uint32_t length = 0;
  for (size_t i = 0; i < kLengthPrefixSize; ++i) {
    length |= static_cast<uint32_t>(buffer_[start_ + i]) << (8 * i);
  }
  if (length == 0 || length > kMaxMessageSize) {
    return Fail(Error(RelayError::kMessageTooLarge, absl::StatusCode::kResourceExhausted,
                      absl::StrFormat("relay protocol: message length %d is outside 1..%d",
                                      length, kMaxMessageSize)));
  }
  if (available - kLengthPrefixSize < length) return std::optional<Message>();
  absl::StatusOr<Message> msg = DecodeMessage(
      absl::MakeConstSpan(buffer_).subspan(start_ + kLengthPrefixSize, length));
  if (!msg.ok()) return Fail(msg.status());
  if (absl::Status role = CheckRole(*msg); !role.ok()) return Fail(role);
  start_ += kLengthPrefixSize + length;
  return std::optional<Message>(std::move(*msg));
}

absl::Status ClassStreamChecker::Check(const Message& msg) {
  if (const auto* start = std::get_if<StreamStart>(&msg)) {
    if (started_) {
      return Error(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                   "relay protocol: a second STREAM_START on a class stream");
    }
    if (start->session_id != session_id_) {
      return Error(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                   absl::StrFormat("relay protocol: STREAM_START of session %d on a "
                                   "connection of session %d",
                                   start->session_id, session_id_));
    }
    started_ = true;
    class_ = start->stream_class;
    next_ = start->first_sequence;
    return absl::OkStatus();
  }
  if (!started_) {
    return Error(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                 "relay protocol: a class stream does not open with STREAM_START");
  }
  uint64_t first = 0, count = 1;
  if (const auto* update = std::get_if<Update>(&msg)) {
    first = update->sequence;
  } else if (const auto* gap = std::get_if<Gap>(&msg)) {
    first = gap->first_sequence;
    count = gap->count;
  } else {
    return Error(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                 "relay protocol: a control message on a class stream");
  }
  if (first != next_) {
    return Error(RelayError::kSequenceViolation, absl::StatusCode::kInvalidArgument,
                 absl::StrFormat("relay protocol: class %d sequence %d where %d was next",
                                 static_cast<int>(class_), first, next_));
  }
  if (first + count < first) {
    return Error(RelayError::kSequenceViolation, absl::StatusCode::kInvalidArgument,
                 "relay protocol: sequence space exhausted");
  }
  next_ = first + count;
  return absl::OkStatus();
}

}  // namespace qlaster::relay
