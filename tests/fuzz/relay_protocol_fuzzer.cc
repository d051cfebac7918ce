// libFuzzer target for the relay protocol decoder (relay/protocol.h): arbitrary bytes,
// split at a fuzzer-chosen point, go through a RelayStreamDecoder of a fuzzer-chosen role,
// and every message it returns through a ClassStreamChecker and the gateway's
// GatewaySessions. Nothing may crash, leak or
// trip a sanitizer; every decoded message must re-encode into bytes that decode to the
// same message, and every failure must carry a relay error code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "relay/gateway_session.h"
#include "relay/protocol.h"

namespace {

using qlaster::relay::Message;

void CheckReencodes(const Message& msg) {
  const std::vector<uint8_t> bytes = qlaster::relay::EncodeMessage(msg);
  absl::StatusOr<Message> again = qlaster::relay::DecodeMessage(
      absl::MakeConstSpan(bytes).subspan(qlaster::relay::kLengthPrefixSize));
  if (!again.ok() || !(*again == msg)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const absl::Span<const uint8_t> input(data, size);
  const auto role = static_cast<qlaster::relay::StreamRole>(input[0] % 3);
  const absl::Span<const uint8_t> stream = input.subspan(2);
  const size_t split = stream.empty() ? 0 : input[1] % (stream.size() + 1);

  qlaster::relay::RelayStreamDecoder decoder(role);
  qlaster::relay::ClassStreamChecker checker(1);
  qlaster::relay::GatewaySessions sessions;
  qlaster::relay::Hello hello;
  hello.session_id = 1;
  hello.next_sequence = {1, 1, 1};
  sessions.OnHello(hello);
  bool stream_ok = true;
  decoder.Append(stream.first(split));
  for (int round = 0; round < 2; ++round) {
    while (true) {
      absl::StatusOr<std::optional<Message>> next = decoder.Next();
      if (!next.ok()) {
        if (qlaster::relay::ErrorOf(next.status()) == qlaster::relay::RelayError::kNoError) {
          std::abort();
        }
        break;
      }
      if (!next->has_value()) break;
      CheckReencodes(**next);
      if (role == qlaster::relay::StreamRole::kClassAtGateway) {
        absl::Status checked = checker.Check(**next);
        if (!checked.ok() &&
            qlaster::relay::ErrorOf(checked) == qlaster::relay::RelayError::kNoError) {
          std::abort();
        }
        if (checked.ok() && stream_ok) {
          const auto* start = std::get_if<qlaster::relay::StreamStart>(&**next);
          auto action = sessions.OnClassMessage(
              1, start != nullptr ? start->stream_class : checker.stream_class(), **next);
          if (!action.ok()) stream_ok = false;
        }
      }
    }
    if (round == 0) decoder.Append(stream.subspan(split));
  }

  absl::StatusOr<Message> msg = qlaster::relay::DecodeMessage(stream);
  if (msg.ok()) CheckReencodes(*msg);
  return 0;
}
