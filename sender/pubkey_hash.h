// PubkeyHash: the hash of the sender's key tables.
#ifndef QLASTER_SENDER_PUBKEY_HASH_H_
#define QLASTER_SENDER_PUBKEY_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>

#include "wire/types.h"

namespace qlaster::sender {

// Hashes a Pubkey by mixing all four of its 64-bit words with 64x64->128-bit multiplies
// (the wyhash mixer). Keys are chosen by local clients and real ones are far from random
// (the System Program is 32 zero bytes; vanity keys share prefixes), so no byte may be
// skipped. The result is well mixed in every bit, as both absl's Swiss tables (low 7 bits
// and high bits) and BloomFilter (high and low halves) require.
//
// `seed` lets each SubscriptionIndex pick a secret per build, so that a client cannot choose
// keys that collide in the sender's tables; the default seed is for ordinary sets.
struct PubkeyHash {
  uint64_t seed = 0;

  size_t operator()(const Pubkey& key) const {
    uint64_t w[4];
    std::memcpy(w, key.data(), sizeof(w));
    const uint64_t a = Mix(w[0] ^ seed ^ 0xa0761d6478bd642fULL, w[1] ^ 0xe7037ed1a0b428dbULL);
    const uint64_t b = Mix(w[2] ^ seed ^ 0x8ebc6af09c88c6e3ULL, w[3] ^ 0x589965cc75374cc3ULL);
    return static_cast<size_t>(Mix(a ^ 0x1d8e4e27c47d124fULL, b ^ seed ^ 0xe7037ed1a0b428dbULL));
  }

  static uint64_t Mix(uint64_t a, uint64_t b) {
    const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
  }
};
static_assert(sizeof(size_t) == sizeof(uint64_t), "PubkeyHash feeds 64-bit hashes to BloomFilter");

// A fresh secret seed from the system's random source.
inline uint64_t RandomHashSeed() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ uint64_t{device()};
}

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_PUBKEY_HASH_H_
