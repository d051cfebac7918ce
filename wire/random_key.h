// Random pubkeys from a seeded generator, for tests and benchmarks that need many distinct
// keys reproducibly.
#ifndef QLASTER_WIRE_RANDOM_KEY_H_
#define QLASTER_WIRE_RANDOM_KEY_H_

#include <cstring>
#include <random>

#include "wire/types.h"

namespace qlaster {

inline Pubkey RandomKey(std::mt19937_64& rng) {
  Pubkey key;
  for (size_t i = 0; i < key.size(); i += 8) {
    const uint64_t word = rng();
    std::memcpy(key.data() + i, &word, 8);  // little-endian: same bytes as a shift loop
  }
  return key;
}

}  // namespace qlaster

#endif  // QLASTER_WIRE_RANDOM_KEY_H_
