// The records of the ring stress test, shared by its producer and consumer processes.
//
// Record `seq` has a size drawn log-uniformly from [8, 64 KiB] by a hash of (seed, seq), so
// both sides know it without talking. Its bytes are: seq (8 B), pseudo-random filler, and —
// for records of at least 16 B — a checksum of everything before it in the last 8 bytes.
#ifndef QLASTER_TESTS_STRESS_RECORDS_H_
#define QLASTER_TESTS_STRESS_RECORDS_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace qlaster::testing {

inline constexpr uint32_t kStressMinSize = 8;
inline constexpr uint32_t kStressMaxSize = 64 * 1024;

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint32_t StressRecordSize(uint64_t seed, uint64_t seq) {
  // Log-uniform: as many records of 8-16 B as of 32-64 KiB.
  const double u = static_cast<double>(Mix64(seed ^ (seq * 0x9e3779b97f4a7c15ULL)) >> 11) * 0x1.0p-53;
  const double lo = std::log2(kStressMinSize), hi = std::log2(kStressMaxSize + 1.0);
  auto size = static_cast<uint32_t>(std::exp2(lo + u * (hi - lo)));
  return size < kStressMinSize ? kStressMinSize : (size > kStressMaxSize ? kStressMaxSize : size);
}

// Four independent lanes keep the checksum near memory speed.
inline uint64_t StressChecksum(const uint8_t* p, size_t n) {
  uint64_t a = 1, b = 2, c = 3, d = 4;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a = (a ^ w[0]) * 0x9e3779b97f4a7c15ULL;
    b = (b ^ w[1]) * 0xc2b2ae3d27d4eb4fULL;
    c = (c ^ w[2]) * 0x165667b19e3779f9ULL;
    d = (d ^ w[3]) * 0x27d4eb2f165667c5ULL;
  }
  for (; i < n; ++i) a = (a ^ p[i]) * 0x100000001b3ULL;
  return Mix64(a ^ Mix64(b ^ Mix64(c ^ Mix64(d ^ n))));
}

// Writes record `seq` of `size` bytes at `p`.
inline void FillStressRecord(uint8_t* p, uint32_t size, uint64_t seq) {
  std::memcpy(p, &seq, 8);
  uint64_t x = Mix64(seq + 1);
  const uint32_t body_end = size >= 16 ? size - 8 : size;
  uint32_t i = 8;
  for (; i + 8 <= body_end; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(p + i, &x, 8);
  }
  for (; i < body_end; ++i) p[i] = static_cast<uint8_t>(x >> (i % 8 * 8));
  if (size >= 16) {
    uint64_t sum = StressChecksum(p, body_end);
    std::memcpy(p + body_end, &sum, 8);
  }
}

// True if the record at `p` is intact for `seq`.
inline bool CheckStressRecord(const uint8_t* p, uint32_t size, uint64_t seq) {
  uint64_t got_seq;
  std::memcpy(&got_seq, p, 8);
  if (got_seq != seq) return false;
  if (size < 16) return true;
  uint64_t sum;
  std::memcpy(&sum, p + size - 8, 8);
  return sum == StressChecksum(p, size - 8);
}

}  // namespace qlaster::testing

#endif  // QLASTER_TESTS_STRESS_RECORDS_H_
