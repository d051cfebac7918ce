// The relay's bounded replay buffer (docs/relay-protocol.md, "Hello and resume"): every
// UPDATE and GAP message the relay sends, kept encoded, keyed by its class and sequence, so
// that a gateway that reconnects gets what follows its last sequence, or an exact GAP for
// what has left the buffer. The buffer assigns the sequences: each update takes the next
// of its class, a gap of N updates the next N.
//
// Thread-compatible: owned by the relay's one connection thread.
#ifndef QLASTER_RELAY_REPLAY_BUFFER_H_
#define QLASTER_RELAY_REPLAY_BUFFER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "relay/protocol.h"

namespace qlaster::relay {

class ReplayBuffer {
 public:
  // Keeps at most `max_bytes` of encoded messages (the oldest go first, whatever their
  // class); one message larger than that is kept alone until the next is added.
  explicit ReplayBuffer(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the next sequence of `cls` for `frame` and returns the UPDATE message's bytes,
  // which stay in the buffer (the span is valid until the next call of a non-const
  // member). REQUIRES: frame.size() >= kMinFrameSize and within kMaxMessageSize.
  absl::Span<const uint8_t> AddUpdate(StreamClass cls, absl::Span<const uint8_t> frame);
  // Takes the next `count` sequences of `cls` for updates that are missed. REQUIRES:
  // count > 0.
  absl::Span<const uint8_t> AddGap(StreamClass cls, uint64_t count);

  // The sequence the next update of `cls` takes (HELLO's next_sequence).
  uint64_t next_sequence(StreamClass cls) const { return next_[Index(cls)]; }
  // The oldest sequence of `cls` the buffer still holds a message for (== next_sequence
  // when it holds none).
  uint64_t oldest_sequence(StreamClass cls) const;

  // The messages a class stream resumed at `from` (WELCOME's resume_from) carries before
  // the live ones: each held message from `from` on, preceded by a GAP for
  // [from, oldest held) when those sequences have left the buffer; a held GAP that `from`
  // falls into is cut to start at `from`. `from` == 0 means "from now": nothing.
  // A `from` above next_sequence(cls) is kSessionViolation.
  absl::StatusOr<std::vector<std::vector<uint8_t>>> Resume(StreamClass cls,
                                                          uint64_t from) const;

  size_t held_bytes() const { return held_bytes_; }
  size_t held_messages() const { return entries_.size(); }
  // Messages and bytes evicted to stay within max_bytes.
  uint64_t evicted_messages() const { return evicted_messages_; }

 private:
  struct Entry {
    StreamClass cls;
    uint64_t first_sequence;
    uint64_t count;  // 1 for an update
    bool gap;
    std::vector<uint8_t> bytes;
  };
  static size_t Index(StreamClass cls) { return static_cast<size_t>(cls); }
  absl::Span<const uint8_t> Add(Entry entry);

  size_t max_bytes_;
  std::deque<Entry> entries_;
  size_t held_bytes_ = 0;
  uint64_t evicted_messages_ = 0;
  std::array<uint64_t, kClassCount> next_{1, 1, 1};
  // Per class, the first sequence not yet evicted.
  std::array<uint64_t, kClassCount> kept_from_{1, 1, 1};
};

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_REPLAY_BUFFER_H_
