// Base58 with the Bitcoin alphabet, the text form Solana uses for pubkeys and signatures
// (what explorers, RPC and the CLI print). Used at the human edges only: qlaster-inspect
// flags and output, configuration files, log lines. Nothing on the data path touches it.
//
// The encoding is canonical: leading zero bytes map one to one to leading '1's and the
// rest is the big-endian number in base 58 with no leading zero digit, so Decode followed
// by Encode returns the input exactly, and every byte string has one spelling.
//
// Cost is quadratic in the length (schoolbook base conversion), so every decoder bounds
// its input before doing any work: a hostile string costs at most a fixed amount.
//
// All functions are pure and thread-safe.
#ifndef QLASTER_BASE_BASE58_H_
#define QLASTER_BASE_BASE58_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "qlaster/types.hpp"

namespace qlaster {

// Longest base58 string Base58Decode accepts. 1024 characters decode to at most 1024 bytes
// (all '1's) and cost ~1024 x 750 byte operations: far above any Solana identifier, far
// below anything that could stall a caller.
inline constexpr size_t kMaxBase58DecodeLength = 1024;

// Longest base58 spellings of a pubkey and a signature: ceil(n * log(256) / log(58)).
// A longer string cannot decode to n bytes, so the fixed-size decoders reject it unread.
inline constexpr size_t kMaxPubkeyBase58Length = 44;
inline constexpr size_t kMaxSignatureBase58Length = 88;

// Returns the base58 spelling of `bytes` ("" for no bytes).
// Quadratic in bytes.size(); meant for keys, signatures and hashes, not bulk data.
std::string Base58Encode(absl::Span<const uint8_t> bytes);

// Decodes `text`. Errors (all kInvalidArgument): a character outside the alphabet (the
// message names it and its 0-based position; note 0, O, I and l are not in the alphabet),
// or text longer than kMaxBase58DecodeLength. "" decodes to no bytes.
absl::StatusOr<std::vector<uint8_t>> Base58Decode(std::string_view text);

// Decode exactly 32 (64) bytes. Besides Base58Decode's errors, kInvalidArgument when the
// decoded length differs ("expected 32 bytes, got N") or the text is longer than the
// longest possible spelling.
absl::StatusOr<Pubkey> DecodePubkey(std::string_view text);
absl::StatusOr<Signature> DecodeSignature(std::string_view text);

}  // namespace qlaster

#endif  // QLASTER_BASE_BASE58_H_
