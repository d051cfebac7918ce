// Recognizable keys and signatures for tests: every byte is the tag.
#ifndef QLASTER_WIRE_SOLANA_TESTING_KEYS_H_
#define QLASTER_WIRE_SOLANA_TESTING_KEYS_H_

#include <cstddef>
#include <cstdint>

#include "wire/types.h"

namespace qlaster::solana::testing {

inline Pubkey TestKey(uint8_t tag) {
  Pubkey k{};
  k.fill(tag);
  return k;
}

inline Signature TestSignature(uint8_t tag) {
  Signature s{};
  s.fill(tag);
  return s;
}

}  // namespace qlaster::solana::testing

#endif  // QLASTER_WIRE_SOLANA_TESTING_KEYS_H_
