// Turning the consumer library's events back into the frames they came from, for
// `qlaster-inspect --record`.
//
// The library hands out decoded events, not ring records, so the recorder re-encodes each
// one with the same codec the sender used (wire/frame.h EncodedUpdate), stamped with the
// event's own sequence number and timestamp. That reproduces the received frame byte for
// byte: every field of every frame kind is in the event, reserved bytes are zero on the
// wire, and compression is redone only where the sender compressed (LZ4 is deterministic,
// and the sender kept its output only when it fitted a smaller bound, which the recorder
// relaxes). inspect's tests and printer_test check this identity.
//
// What is not a frame is not recorded: Disconnected and Reconnected events, and a gap the
// library inferred from a jump in sequence numbers (no gap record arrived). Gap records
// the sender wrote are recorded (replay skips them).
#ifndef QLASTER_TOOLS_INSPECT_RECORDER_H_
#define QLASTER_TOOLS_INSPECT_RECORDER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "qlaster/consumer.hpp"

namespace qlaster::inspect {

// The frame `event` was decoded from, or nullopt for an event that was not a frame.
// kInvalidArgument for an update the codec refuses (data over the limits; the library
// never delivers one). Pure and thread-safe; allocates.
absl::StatusOr<std::optional<std::vector<uint8_t>>> FrameOf(const Event& event);

}  // namespace qlaster::inspect

#endif  // QLASTER_TOOLS_INSPECT_RECORDER_H_
