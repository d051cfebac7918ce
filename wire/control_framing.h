// Control-plane framing for the sender's Unix stream socket.
//
// Each message is a FlatBuffers `ControlMessage` (proto/qlaster.fbs) preceded by its
// length as a 4-byte little-endian integer:
//
//   +----------------+-------------------------------------------+
//   | length (u32 LE)| ControlMessage flatbuffer, `length` bytes  |
//   +----------------+-------------------------------------------+
//
// The flatbuffer is a standalone buffer (FlatBufferBuilder::Finish, not
// FinishSizePrefixed), so its internal alignment is relative to its own first byte, not to
// the prefix.
//
// Bytes from the socket are untrusted: a frame is checked against the size limits, then by
// the FlatBuffers verifier, and only then are fields read, copied into the plain structs
// below (nothing keeps pointing into the receive buffer), and checked by ValidateControl.
// Code on either side of the socket works with these structs and never with FlatBuffers.
//
// Version rule: kProtocolVersion travels in Hello and Ready; the sender answers a Hello of
// another version with Error{VersionMismatch} (absl kFailedPrecondition). The decoder
// itself does not judge versions, so that the sender can still read and answer the Hello.
#ifndef QLASTER_WIRE_CONTROL_FRAMING_H_
#define QLASTER_WIRE_CONTROL_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/qlaster_generated.h"
#include "base/unique_fd.h"
#include "qlaster/subscription.hpp"
#include "wire/types.h"

namespace qlaster {

// 2: named filters, options and from_slot in Subscribe (frame version 2 in the ring).
inline constexpr uint32_t kProtocolVersion = 2;

inline constexpr size_t kControlFrameHeaderSize = 4;

// Largest flatbuffer (excluding the 4-byte prefix) a peer may send. Sized for the largest
// legal message, a Subscribe of kMaxSubscribeKeys keys (3.2 MB of keys plus a few hundred
// bytes of tables), with headroom; small enough that a hostile peer pins at most 4 MiB per
// connection, and far below FlatBuffers' 2 GiB verifier limit.
inline constexpr uint32_t kMaxControlFrameSize = 4u << 20;

// Smallest possible flatbuffer: root offset, a 4-byte vtable and a table's vtable offset
// (FLATBUFFERS_MIN_BUFFER_SIZE). Anything shorter is rejected without running the verifier.
inline constexpr uint32_t kMinControlFrameSize = 12;

// Field limits that ValidateControl enforces on decode.
// Names (consumer, sender) are shown in logs, stats and qlaster-inspect: short, no
// control characters. Empty is allowed (the sender then names the consumer itself).
inline constexpr size_t kMaxNameSize = 64;
inline constexpr size_t kMaxErrorMessageSize = 4096;
// Keys (pubkeys + owners) in one Subscribe. Bigger subscriptions are sent as several Add
// messages; the limit keeps one message within kMaxControlFrameSize.
inline constexpr size_t kMaxSubscribeKeys = 100'000;
// ConsumerStats entries in one Stats reply (each is at most ~200 bytes on the wire).
inline constexpr size_t kMaxStatsConsumers = 10'000;
// Source counters in one Stats reply: a source's name (its --source spec, a URL) and the
// counter's name (kMaxNameSize).
inline constexpr size_t kMaxStatsSourceCounters = 256;
inline constexpr size_t kMaxSourceNameSize = 512;
// Named filters: a name is at most this long, printable; a memcmp compares at most
// kMaxMemcmpBytes; a filter has at most kMaxDataPredicates data predicates (memcmp,
// datasize, lamports, token_account_state: Yellowstone's limits); one message names at
// most kMaxFiltersPerKind filters of a kind and kMaxDataSlices slices.
inline constexpr size_t kMaxFilterNameSize = 128;
inline constexpr size_t kMaxMemcmpBytes = 128;
inline constexpr size_t kMaxDataPredicates = 4;
inline constexpr size_t kMaxDataSlices = 64;

static_assert(kMaxSubscribeKeys * kPubkeySize + 4096 <= kMaxControlFrameSize);
static_assert(kMaxStatsConsumers * 256 + kMaxStatsSourceCounters * 640 + 4096 <=
              kMaxControlFrameSize);

// ------------------------------------------------------------------- messages
// One plain struct per ControlBody member; fields as in proto/qlaster.fbs, which documents
// their meaning. Enums are the public vocabulary's (qlaster/types.hpp) where one exists,
// else the schema's own (qlaster::fb::*, scoped).

struct HelloMsg {
  uint32_t protocol_version = kProtocolVersion;
  std::string consumer_name;
  uint64_t ring_bytes = 0;
  OverflowPolicy overflow = OverflowPolicy::kEvict;
  WaitMode wait_mode = WaitMode::kSpinThenSleep;
  friend bool operator==(const HelloMsg&, const HelloMsg&) = default;
};

// Travels with two fds (ring, eventfd) by SCM_RIGHTS; the framing does not carry them.
struct ReadyMsg {
  uint32_t protocol_version = kProtocolVersion;
  uint64_t consumer_id = 0;
  uint64_t ring_bytes = 0;
  std::string sender_name;
  friend bool operator==(const ReadyMsg&, const ReadyMsg&) = default;
};

struct NamedAccountFilter {
  std::string name;
  bool append = false;  // op Add: add filter.pubkeys and filter.owners to the filter `name`
  AccountFilter filter;
  friend bool operator==(const NamedAccountFilter&, const NamedAccountFilter&) = default;
};
struct NamedTransactionSelector {
  std::string name;
  TransactionSelector selector;
  friend bool operator==(const NamedTransactionSelector&, const NamedTransactionSelector&) = default;
};
struct NamedSlotSelector {
  std::string name;
  SlotSelector selector;
  friend bool operator==(const NamedSlotSelector&, const NamedSlotSelector&) = default;
};
struct SubscribeOptionsMsg {
  Commitment commitment = Commitment::kProcessed;
  std::vector<DataSlice> data_slices = {};
  friend bool operator==(const SubscribeOptionsMsg&, const SubscribeOptionsMsg&) = default;
};

struct SubscribeMsg {
  uint64_t request_id = 0;
  fb::SubscribeOp op = fb::SubscribeOp::Add;
  std::vector<Pubkey> pubkeys;
  std::vector<Pubkey> owners;
  TransactionFilter transactions = TransactionFilter::kNone;
  // With op Add/Remove, `transactions` applies only when this is set.
  bool set_transactions = false;
  // Named filters: set (op Add, Replace) or dropped by name (op Remove).
  std::vector<NamedAccountFilter> accounts = {};
  std::vector<NamedTransactionSelector> transaction_filters = {};
  std::vector<NamedTransactionSelector> transaction_status_filters = {};
  std::vector<NamedSlotSelector> slots = {};
  std::vector<std::string> blocks_meta = {};
  std::vector<std::string> entries = {};
  std::optional<SubscribeOptionsMsg> options = std::nullopt;
  std::optional<uint64_t> from_slot = std::nullopt;
  friend bool operator==(const SubscribeMsg&, const SubscribeMsg&) = default;
};

// Keys (pubkeys, owners, transaction account lists) a Subscribe carries in all.
size_t SubscribeKeyCount(const SubscribeMsg& msg);

struct SubscribeAckMsg {
  uint64_t request_id = 0;
  uint64_t pubkeys = 0;
  uint64_t owners = 0;
  uint64_t effective_sequence = 0;
  friend bool operator==(const SubscribeAckMsg&, const SubscribeAckMsg&) = default;
};

struct PingMsg {
  uint64_t nonce = 0;
  friend bool operator==(const PingMsg&, const PingMsg&) = default;
};

struct PongMsg {
  uint64_t nonce = 0;
  friend bool operator==(const PongMsg&, const PongMsg&) = default;
};

struct ErrorMsg {
  fb::ErrorCode code = fb::ErrorCode::Unknown;
  std::string message;
  friend bool operator==(const ErrorMsg&, const ErrorMsg&) = default;
};

struct EvictedMsg {
  fb::EvictReason reason = fb::EvictReason::Slow;
  uint64_t ring_fill = 0;
  uint64_t sequence = 0;
  friend bool operator==(const EvictedMsg&, const EvictedMsg&) = default;
};

struct StatsRequestMsg {
  friend bool operator==(const StatsRequestMsg&, const StatsRequestMsg&) = default;
};

struct ConsumerStatsEntry {
  uint64_t consumer_id = 0;
  std::string name;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t ring_bytes = 0;
  uint64_t ring_fill = 0;
  uint64_t lag_records = 0;
  friend bool operator==(const ConsumerStatsEntry&, const ConsumerStatsEntry&) = default;
};

struct SourceCounterEntry {
  std::string source;  // Source::name()
  std::string name;
  uint64_t value = 0;
  friend bool operator==(const SourceCounterEntry&, const SourceCounterEntry&) = default;
};

struct StatsMsg {
  uint64_t published = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t evicted = 0;
  std::vector<ConsumerStatsEntry> consumers;
  std::vector<SourceCounterEntry> source_counters = {};
  // The oldest slot a from_slot may name now; nullopt without an update log (or before
  // its first update).
  std::optional<uint64_t> oldest_replay_slot = std::nullopt;
  friend bool operator==(const StatsMsg&, const StatsMsg&) = default;
};

// A decoded control message. Alternatives are in ControlBody order.
using ControlMsg = std::variant<HelloMsg, ReadyMsg, SubscribeMsg, SubscribeAckMsg, PingMsg,
                                PongMsg, ErrorMsg, EvictedMsg, StatsRequestMsg, StatsMsg>;

// "Hello", "Ready", ...: for log lines such as "expected Ready, got Ping".
std::string_view ControlMsgName(const ControlMsg& msg);

// Checks the field limits above and that every enum holds a value the schema defines.
// Every decoded message has passed it; call it before encoding a message built from
// outside input. Returns kInvalidArgument, or kResourceExhausted for a count over a limit.
absl::Status ValidateControl(const ControlMsg& msg);

// ------------------------------------------------------------------- encoding
// Each returns one complete frame: the 4-byte length then the flatbuffer, ready to write.
// REQUIRES: ValidateControl(msg).ok() — otherwise the peer will reject the frame (the
//           encoder does not check, so that the sender's hot paths pay nothing for it).
std::vector<uint8_t> EncodeControl(const HelloMsg& msg);
std::vector<uint8_t> EncodeControl(const ReadyMsg& msg);
std::vector<uint8_t> EncodeControl(const SubscribeMsg& msg);
std::vector<uint8_t> EncodeControl(const SubscribeAckMsg& msg);
std::vector<uint8_t> EncodeControl(const PingMsg& msg);
std::vector<uint8_t> EncodeControl(const PongMsg& msg);
std::vector<uint8_t> EncodeControl(const ErrorMsg& msg);
std::vector<uint8_t> EncodeControl(const EvictedMsg& msg);
std::vector<uint8_t> EncodeControl(const StatsRequestMsg& msg);
std::vector<uint8_t> EncodeControl(const StatsMsg& msg);
std::vector<uint8_t> EncodeControl(const ControlMsg& msg);

// ------------------------------------------------------------------- decoding

// Decodes one flatbuffer, the bytes after the 4-byte length. `frame` may have any
// alignment (it is copied to aligned memory when it is not 8-byte aligned) and is not
// referenced after the call. Errors:
//  * kInvalidArgument: shorter than kMinControlFrameSize; "control frame failed
//    verification"; no body or an unknown body type; a field outside its limits
//    (ValidateControl);
//  * kResourceExhausted: longer than kMaxControlFrameSize, or a count over its limit.
absl::StatusOr<ControlMsg> DecodeControlFrame(absl::Span<const uint8_t> frame);

// Splits a byte stream into control messages. Feed it whatever the socket returns, in
// order, then call Next() until it returns nullopt.
//
// Memory: holds at most one partial frame plus the unread part of the last chunk; a
// declared length over kMaxControlFrameSize fails as soon as its 4 bytes are here, before
// any of the body is buffered, and buffers are never sized from a declared length.
//
// Once Next() has returned an error the reader stays failed (every later call returns the
// same error and Append discards its input): the stream cannot be resynchronized, and the
// connection should be closed.
//
// Thread-compatible: one reader per connection, used by one thread at a time.
class ControlFrameReader {
 public:
  ControlFrameReader() = default;
  ControlFrameReader(const ControlFrameReader&) = delete;
  ControlFrameReader& operator=(const ControlFrameReader&) = delete;
  ControlFrameReader(ControlFrameReader&&) = default;
  ControlFrameReader& operator=(ControlFrameReader&&) = default;

  // Copies `bytes` (which need not outlive the call) to the end of the stream.
  void Append(absl::Span<const uint8_t> bytes);

  // The next complete message; nullopt when more bytes are needed; or the first error
  // (see DecodeControlFrame, plus: a declared length of 0 or under kMinControlFrameSize
  // is kInvalidArgument, over kMaxControlFrameSize is kResourceExhausted).
  absl::StatusOr<std::optional<ControlMsg>> Next();

  // Bytes received and not yet returned as a message (0 after a failure).
  size_t buffered_bytes() const { return buffer_.size() - start_; }
  bool failed() const { return !error_.ok(); }

 private:
  // Checks the length prefix at start_ if it is complete; records and returns a failure.
  absl::Status CheckPendingHeader();
  absl::Status Fail(absl::Status status);

  std::vector<uint8_t> buffer_;
  size_t start_ = 0;  // first unconsumed byte of buffer_
  absl::Status error_;
};

// ------------------------------------------------------------------- blocking helpers
// For simple clients and tests; the sender itself is asynchronous and does not use these.

// Writes all of `frame` to the stream socket `fd` (SendWithFds with no fds: retries short
// writes and EINTR, waits on EAGAIN, MSG_NOSIGNAL so a closed peer is kUnavailable).
absl::Status WriteControl(int fd, absl::Span<const uint8_t> frame);

// Returns the next message from `reader`, reading from the stream socket `fd` as needed,
// waiting at most `timeout` (absl::InfiniteDuration() to wait forever) in total.
// Errors: kDeadlineExceeded on timeout; kUnavailable if the peer closed the connection
// (EOF); the reader's errors; fd-passing errors.
// `fds`: descriptors that arrive (SCM_RIGHTS) are appended here in arrival order, at most
// 8 per read; when null, any arriving descriptor is an error (kDataLoss) and closed.
// A Ready's fds are therefore in *fds by the time the Ready is returned.
// REQUIRES: `reader` is used with this fd only.
absl::StatusOr<ControlMsg> ReadControl(int fd, ControlFrameReader& reader,
                                       absl::Duration timeout,
                                       std::vector<UniqueFd>* fds = nullptr);

// Asks the qlaster-sender listening at `socket_path` for its statistics as a viewer (a
// StatsRequest on a fresh connection, no Hello: it takes no consumer slot), waiting at most
// `timeout` for the answer. Errors: kInvalidArgument for a path too long for a Unix socket;
// kUnavailable when nothing listens there or the sender closed without answering;
// kDeadlineExceeded; kFailedPrecondition when the sender refused (its Error's message).
absl::StatusOr<StatsMsg> QuerySenderStats(const std::string& socket_path,
                                          absl::Duration timeout = absl::Seconds(5));

}  // namespace qlaster

#endif  // QLASTER_WIRE_CONTROL_FRAMING_H_
