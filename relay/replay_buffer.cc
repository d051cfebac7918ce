// The relay's replay buffer (replay_buffer.h).
#include "relay/replay_buffer.h"

#include <utility>

#include "absl/strings/str_format.h"

namespace qlaster::relay {

absl::Span<const uint8_t> ReplayBuffer::AddUpdate(StreamClass cls,
                                                  absl::Span<const uint8_t> frame) {
  Update update;
  update.sequence = next_[Index(cls)];
  update.frame.assign(frame.begin(), frame.end());
  Entry entry{cls, update.sequence, 1, false, EncodeMessage(update)};
  return Add(std::move(entry));
}

absl::Span<const uint8_t> ReplayBuffer::AddGap(StreamClass cls, uint64_t count) {
  const uint64_t first = next_[Index(cls)];
  Entry entry{cls, first, count, true,
              EncodeMessage(Gap{.first_sequence = first, .count = count})};
  return Add(std::move(entry));
}

absl::Span<const uint8_t> ReplayBuffer::Add(Entry entry) {
  next_[Index(entry.cls)] = entry.first_sequence + entry.count;
  held_bytes_ += entry.bytes.size();
  entries_.push_back(std::move(entry));
  while (held_bytes_ > max_bytes_ && entries_.size() > 1) {
    Entry& oldest = entries_.front();
    kept_from_[Index(oldest.cls)] = oldest.first_sequence + oldest.count;
    held_bytes_ -= oldest.bytes.size();
    entries_.pop_front();
    ++evicted_messages_;
  }
  return entries_.back().bytes;
}

uint64_t ReplayBuffer::oldest_sequence(StreamClass cls) const {
  return kept_from_[Index(cls)];
}

absl::StatusOr<std::vector<std::vector<uint8_t>>> ReplayBuffer::Resume(StreamClass cls,
                                                                      uint64_t from) const {
  std::vector<std::vector<uint8_t>> out;
  const uint64_t next = next_[Index(cls)];
  if (from == 0) return out;
  if (from > next) {
    return RelayErrorStatus(
        RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
        absl::StrFormat("relay protocol: WELCOME resumes class %d at %d, past the relay's "
                        "next sequence %d",
                        static_cast<int>(cls), from, next));
  }
  const uint64_t kept_from = kept_from_[Index(cls)];
  if (from < kept_from) {
    out.push_back(EncodeMessage(Gap{.first_sequence = from, .count = kept_from - from}));
  }
  for (const Entry& entry : entries_) {
    if (entry.cls != cls) continue;
    const uint64_t end = entry.first_sequence + entry.count;
    if (end <= from) continue;
    if (entry.first_sequence < from) {  // only a gap spans more than one sequence
      out.push_back(EncodeMessage(Gap{.first_sequence = from, .count = end - from}));
    } else {
      out.push_back(entry.bytes);
    }
  }
  return out;
}

}  // namespace qlaster::relay
