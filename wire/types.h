// Fixed-size Solana identifiers as plain byte arrays.
#ifndef QLASTER_WIRE_TYPES_H_
#define QLASTER_WIRE_TYPES_H_

#include <array>
#include <cstdint>

namespace qlaster {

inline constexpr size_t kPubkeySize = 32;
inline constexpr size_t kSignatureSize = 64;

using Pubkey = std::array<uint8_t, kPubkeySize>;
using Signature = std::array<uint8_t, kSignatureSize>;

}  // namespace qlaster

#endif  // QLASTER_WIRE_TYPES_H_
