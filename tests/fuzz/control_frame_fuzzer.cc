// libFuzzer target for the control-plane decoder: arbitrary bytes go through the one-shot
// DecodeControlFrame and, split at a fuzzer-chosen point, through ControlFrameReader.
// Neither may crash, leak or trip a sanitizer; every decoded message must re-encode into
// a frame that decodes to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "wire/control_framing.h"

namespace {

void CheckReencodes(const qlaster::ControlMsg& msg) {
  const std::vector<uint8_t> frame = qlaster::EncodeControl(msg);
  absl::StatusOr<qlaster::ControlMsg> again = qlaster::DecodeControlFrame(
      absl::MakeConstSpan(frame).subspan(qlaster::kControlFrameHeaderSize));
  if (!again.ok() || !(*again == msg)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);

  // The first byte picks where the stream is split, the rest is the stream.
  if (!input.empty()) {
    const absl::Span<const uint8_t> stream = input.subspan(1);
    const size_t split = stream.empty() ? 0 : input[0] % (stream.size() + 1);
    qlaster::ControlFrameReader reader;
    reader.Append(stream.first(split));
    for (int round = 0; round < 2; ++round) {
      while (true) {
        absl::StatusOr<std::optional<qlaster::ControlMsg>> next = reader.Next();
        if (!next.ok() || !next->has_value()) break;
        CheckReencodes(**next);
      }
      if (round == 0) reader.Append(stream.subspan(split));
    }
  }

  absl::StatusOr<qlaster::ControlMsg> msg = qlaster::DecodeControlFrame(input);
  if (msg.ok()) CheckReencodes(*msg);
  return 0;
}
