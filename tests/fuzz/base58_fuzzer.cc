// libFuzzer target for base58 decoding. Base58 as Solana uses it is canonical (leading
// '1's are exactly the leading zero bytes, the rest has no leading zero digit), so any
// string that decodes must re-encode to itself; the fixed-size decoders must agree with
// the generic one.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/base58.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<uint8_t>> bytes = qlaster::Base58Decode(text);
  if (bytes.ok() && qlaster::Base58Encode(*bytes) != text) std::abort();

  absl::StatusOr<qlaster::Pubkey> key = qlaster::DecodePubkey(text);
  if (key.ok() != (bytes.ok() && bytes->size() == qlaster::kPubkeySize)) std::abort();
  if (key.ok() && !std::equal(key->begin(), key->end(), bytes->begin())) std::abort();
  absl::StatusOr<qlaster::Signature> sig = qlaster::DecodeSignature(text);
  if (sig.ok() != (bytes.ok() && bytes->size() == qlaster::kSignatureSize)) std::abort();
  return 0;
}
