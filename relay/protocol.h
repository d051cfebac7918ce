// The relay protocol's messages (docs/relay-protocol.md) and their codec, without I/O:
// EncodeMessage turns a message into the bytes of a QUIC stream, RelayStreamDecoder reads a
// stream's bytes back, message by message, and ClassStreamChecker holds a class stream to
// its sequence rules. Bytes come from the network, so nothing here trusts them: every
// length, type and field is checked, and each violation is an absl::Status whose message
// names it, with the RelayError code the connection is closed with.
#ifndef QLASTER_RELAY_PROTOCOL_H_
#define QLASTER_RELAY_PROTOCOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace qlaster::relay {

inline constexpr char kAlpn[] = "qlaster-relay/1";
inline constexpr uint16_t kProtocolVersion = 1;

// Length prefix, then the type byte.
inline constexpr size_t kLengthPrefixSize = 4;
// Largest value of the length prefix (type byte and body).
inline constexpr uint32_t kMaxMessageSize = (16u << 20) + 64;
inline constexpr size_t kMaxRelayNameSize = 64;
inline constexpr size_t kMaxReasonSize = 4096;
// A qlaster wire frame is at least its FrameHeader (wire/frame.h).
inline constexpr size_t kMinFrameSize = 24;

inline constexpr int kClassCount = 3;
enum class StreamClass : uint8_t { kSlots = 0, kAccounts = 1, kTransactions = 2 };

// QUIC application error codes (CONNECTION_CLOSE 0x1d).
enum class RelayError : uint32_t {
  kNoError = 0,
  kMalformed = 1,
  kUnknownType = 2,
  kMessageTooLarge = 3,
  kStreamViolation = 4,
  kSequenceViolation = 5,
  kSessionViolation = 6,
  kMalformedFrame = 7,
  kInternal = 8,
  kVersion = 9,
};

// The RelayError a failed decode or check closes the connection with (read from the
// status's payload; kInternal when it has none).
RelayError ErrorOf(const absl::Status& status);
// A status of `status_code` and `message` that carries `code` for ErrorOf.
absl::Status RelayErrorStatus(RelayError code, absl::StatusCode status_code,
                              std::string message);

enum class MessageType : uint8_t {
  kHello = 0x01,
  kWelcome = 0x02,
  kStreamStart = 0x03,
  kUpdate = 0x04,
  kGap = 0x05,
  kPing = 0x06,
  kPong = 0x07,
  kClose = 0x08,
};

struct Hello {
  uint64_t session_id = 0;
  std::array<uint64_t, kClassCount> next_sequence{};
  std::string name;
  bool operator==(const Hello&) const = default;
};
struct Welcome {
  uint64_t session_id = 0;
  std::array<uint64_t, kClassCount> resume_from{};
  bool operator==(const Welcome&) const = default;
};
struct StreamStart {
  StreamClass stream_class = StreamClass::kSlots;
  uint64_t session_id = 0;
  uint64_t first_sequence = 0;
  bool operator==(const StreamStart&) const = default;
};
// `frame` is one wire frame as the relay's consumer read it; not validated here (the
// gateway validates it with EncodedUpdate::FromFrame).
struct Update {
  uint64_t sequence = 0;
  std::vector<uint8_t> frame;
  bool operator==(const Update&) const = default;
};
struct Gap {
  uint64_t first_sequence = 0;
  uint64_t count = 0;
  bool operator==(const Gap&) const = default;
};
struct Ping {
  uint64_t nonce = 0;
  bool operator==(const Ping&) const = default;
};
struct Pong {
  uint64_t nonce = 0;
  bool operator==(const Pong&) const = default;
};
struct Close {
  RelayError code = RelayError::kNoError;
  std::string reason;
  bool operator==(const Close&) const = default;
};

using Message = std::variant<Hello, Welcome, StreamStart, Update, Gap, Ping, Pong, Close>;

// The bytes of `msg` on a stream: length prefix, type, body. REQUIRES: the message is
// within the limits above (name and reason sizes, frame size); DecodeMessage accepts what
// this returns.
std::vector<uint8_t> EncodeMessage(const Message& msg);

// One message from its type byte and body (the length prefix removed).
absl::StatusOr<Message> DecodeMessage(absl::Span<const uint8_t> type_and_body);

// Which end of which stream a decoder reads: what it accepts depends on it.
enum class StreamRole {
  kControlAtGateway,  // the control stream, read by the gateway (relay -> gateway)
  kControlAtRelay,    // the control stream, read by the relay (gateway -> relay)
  kClassAtGateway,    // a class stream, read by the gateway
};

// Reads one stream's messages incrementally: bytes are appended as QUIC delivers them, in
// pieces of any size, and complete messages are taken out one by one. After the first error
// every call returns it again: the connection is to be closed with ErrorOf(error).
//
// Thread-compatible: one decoder per stream, used by one thread at a time.
class RelayStreamDecoder {
 public:
  explicit RelayStreamDecoder(StreamRole role) : role_(role) {}
  RelayStreamDecoder(const RelayStreamDecoder&) = delete;
  RelayStreamDecoder& operator=(const RelayStreamDecoder&) = delete;
  RelayStreamDecoder(RelayStreamDecoder&&) = default;
  RelayStreamDecoder& operator=(RelayStreamDecoder&&) = default;

  // Copies `bytes` (which need not outlive the call) to the end of the stream.
  void Append(absl::Span<const uint8_t> bytes);

  // The next complete message; nullopt when more bytes are needed; or the first error
  // (a length prefix of 0 or over kMaxMessageSize is rejected as soon as its four bytes
  // are here, before the body is waited for).
  absl::StatusOr<std::optional<Message>> Next();

  // Bytes received and not yet returned as a message.
  size_t buffered_bytes() const { return buffer_.size() - start_; }
  bool failed() const { return !error_.ok(); }

 private:
  absl::Status Fail(absl::Status status);
  absl::Status CheckRole(const Message& msg);

  StreamRole role_;
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;
  absl::Status error_;
};

// Holds the messages of one class stream, as the gateway reads them, to the sequence
// rules: STREAM_START first and once, for this session; then each UPDATE or GAP starting
// where the previous one ended.
class ClassStreamChecker {
 public:
  explicit ClassStreamChecker(uint64_t session_id) : session_id_(session_id) {}

  // REQUIRES: `msg` came from a kClassAtGateway decoder.
  absl::Status Check(const Message& msg);

  bool started() const { return started_; }
  StreamClass stream_class() const { return class_; }
  // The sequence the next UPDATE or GAP must start at.
  uint64_t next_sequence() const { return next_; }

 private:
  uint64_t session_id_;
  bool started_ = false;
  StreamClass class_ = StreamClass::kSlots;
  uint64_t next_ = 0;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_PROTOCOL_H_
