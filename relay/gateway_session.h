// The gateway's side of the relay protocol, without I/O: the sessions it has seen and
// where each class of each stands (so a reconnecting relay is told where to resume), and
// what a class stream's messages mean for the dispatcher: an update to publish as it is, or
// a gap of an exact count. The QUIC source feeds it decoded messages and acts on the result.
//
// Thread-compatible: owned by the gateway's one network thread.
#ifndef QLASTER_RELAY_GATEWAY_SESSION_H_
#define QLASTER_RELAY_GATEWAY_SESSION_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "relay/protocol.h"

namespace qlaster::relay {

// Per relay session, what the gateway published.
struct SessionCounts {
  uint64_t connections = 0;   // HELLOs accepted
  uint64_t updates = 0;       // UPDATEs published
  uint64_t gap_updates = 0;   // updates reported missed by GAPs
  uint64_t frame_bytes = 0;   // bytes of the frames published
};

class GatewaySessions {
 public:
  // The WELCOME for `hello`: for a session seen before, where each class left off; for a
  // new one, 0 (from now). Records the HELLO's next_sequence as where a new session's
  // class streams must start.
  Welcome OnHello(const Hello& hello);

  // What a class-stream message asks of the dispatcher.
  struct Action {
    enum class Kind { kNone, kPublish, kGap } kind = Kind::kNone;
    absl::Span<const uint8_t> frame;  // kPublish: borrowed from the message
    uint64_t gap_count = 0;           // kGap
  };
  // `msg` from a kClassAtGateway decoder of a connection of session `session_id` (which
  // OnHello has seen), already held to the sequence rules by that stream's
  // ClassStreamChecker, whose stream_class() is `cls` (for a STREAM_START, its own class).
  // A STREAM_START that does not start where the WELCOME said is kSequenceViolation.
  // An UPDATE or GAP moves the class's resume position past it.
  absl::StatusOr<Action> OnClassMessage(uint64_t session_id, StreamClass cls,
                                        const Message& msg);

  const SessionCounts* counts(uint64_t session_id) const;
  size_t session_count() const { return sessions_.size(); }

 private:
  struct Session {
    std::string name;
    // Per class, the sequence after the last one published (0: nothing yet).
    std::array<uint64_t, kClassCount> next{};
    // Per class, where the current connection's stream must start.
    std::array<uint64_t, kClassCount> expected_start{};
    SessionCounts counts;
  };
  absl::flat_hash_map<uint64_t, Session> sessions_;
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_GATEWAY_SESSION_H_
