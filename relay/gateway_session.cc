// The gateway's side of the relay protocol (gateway_session.h).
#include "relay/gateway_session.h"

#include "absl/strings/str_format.h"

namespace qlaster::relay {

Welcome GatewaySessions::OnHello(const Hello& hello) {
  auto [it, inserted] = sessions_.try_emplace(hello.session_id);
  Session& session = it->second;
  session.name = hello.name;
  ++session.counts.connections;
  Welcome welcome;
  welcome.session_id = hello.session_id;
  for (int c = 0; c < kClassCount; ++c) {
    // A class of a known session that never published resumes like a new one.
    welcome.resume_from[c] = session.next[c];
    session.expected_start[c] =
        session.next[c] != 0 ? session.next[c] : hello.next_sequence[c];
  }
  return welcome;
}

absl::StatusOr<GatewaySessions::Action> GatewaySessions::OnClassMessage(uint64_t session_id,
                                                                       StreamClass cls,
                                                                       const Message& msg) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return RelayErrorStatus(RelayError::kSessionViolation, absl::StatusCode::kInvalidArgument,
                            absl::StrFormat("relay protocol: class stream of session %d "
                                            "before its HELLO",
                                            session_id));
  }
  Session& session = it->second;
  Action action;
  if (const auto* start = std::get_if<StreamStart>(&msg)) {
    const size_t c = static_cast<size_t>(start->stream_class);
    if (start->first_sequence != session.expected_start[c]) {
      return RelayErrorStatus(
          RelayError::kSequenceViolation, absl::StatusCode::kInvalidArgument,
          absl::StrFormat("relay protocol: class %d stream starts at %d, the WELCOME "
                          "asked for %d",
                          c, start->first_sequence, session.expected_start[c]));
    }
    return action;
  }
  const size_t c = static_cast<size_t>(cls);
  if (const auto* update = std::get_if<Update>(&msg)) {
    session.next[c] = update->sequence + 1;
    ++session.counts.updates;
    session.counts.frame_bytes += update->frame.size();
    action.kind = Action::Kind::kPublish;
    action.frame = update->frame;
  } else if (const auto* gap = std::get_if<Gap>(&msg)) {
    session.next[c] = gap->first_sequence + gap->count;
    session.counts.gap_updates += gap->count;
    action.kind = Action::Kind::kGap;
    action.gap_count = gap->count;
  } else {
    return RelayErrorStatus(RelayError::kStreamViolation, absl::StatusCode::kInvalidArgument,
                            "relay protocol: a control message on a class stream");
  }
  return action;
}

const SessionCounts* GatewaySessions::counts(uint64_t session_id) const {
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? nullptr : &it->second.counts;
}

}  // namespace qlaster::relay
