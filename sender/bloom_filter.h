// BloomFilter: a blocked Bloom filter over 64-bit key hashes, the first test the dispatcher
// puts every account update through, so that an update nobody subscribed to is rejected
// after one cache-line read.
//
// Layout: an array of 64-byte blocks, each one cache line of eight 64-bit words. A key
// lives in exactly one block: the high 32 bits of its hash choose the block (multiply-shift
// range reduction, no division), and the low 32 bits, multiplied by eight odd constants, set
// one bit in each of the block's eight words (the "split block" scheme of Impala, Kudu and
// Parquet, here with 512-bit blocks). A look-up therefore reads one cache line and never
// branches per bit.
//
// Sizing and accuracy: the filter gets ceil(keys * bits_per_key / 512) blocks. At the
// default 12 bits per key the expected false-positive rate is 0.42% (Poisson block load,
// eight 64-bit sectors, one bit each) and the tests hold it under 0.6%; 10 bits per key
// would give 1.05%. 1,000,000 keys take 1.5 MB. No false negatives, ever.
//
// The filter stores no keys, only bits, so it needs a hash that is well mixed in all 64 bits
// (PubkeyHash in pubkey_hash.h is).
//
// Built with AVX2 (-mavx2 or -march=x86-64-v3 and later) a look-up computes the eight masks
// in two vector registers; otherwise it runs the same arithmetic in scalar code, with the
// same bits, so filters and results do not depend on the build.
//
// Thread-safety: Insert() is for building; once built, MayContain() is safe from any number
// of threads as long as nobody inserts.
#ifndef QLASTER_SENDER_BLOOM_FILTER_H_
#define QLASTER_SENDER_BLOOM_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace qlaster::sender {

namespace bloom_internal {

// kBit.bit[i] == 1 << i. Without BMI2 a variable 64-bit shift costs three micro-ops on Intel
// cores; a load from this 512-byte, always-cached table costs one.
struct BitTable {
  uint64_t bit[64];
  constexpr BitTable() : bit() {
    for (int i = 0; i < 64; ++i) bit[i] = uint64_t{1} << i;
  }
};
inline constexpr BitTable kBit{};

}  // namespace bloom_internal

class BloomFilter {
 public:
  static constexpr double kDefaultBitsPerKey = 12.0;
  static constexpr size_t kBlockBytes = 64;

  // An empty filter: holds no blocks and rejects everything without touching memory.
  BloomFilter() = default;

  // A filter sized for `expected_keys` distinct keys; 0 keys gives the empty filter.
  // Inserting more keys than expected is correct but raises the false-positive rate.
  // REQUIRES: bits_per_key > 0.
  explicit BloomFilter(size_t expected_keys, double bits_per_key = kDefaultBitsPerKey);

  BloomFilter(BloomFilter&&) = default;
  BloomFilter& operator=(BloomFilter&&) = default;
  BloomFilter(const BloomFilter&) = delete;
  BloomFilter& operator=(const BloomFilter&) = delete;

  // Adds the key whose hash is `hash`. Idempotent.
  // REQUIRES: the filter is not empty (it was sized for at least one key).
  void Insert(uint64_t hash);

  // False if the key with this hash was certainly never inserted; true if it probably was.
  bool MayContain(uint64_t hash) const {
    // The empty filter answers from the header alone (no block array to index).
    if (num_blocks_ == 0) return false;
    const Block& block = blocks_[BlockIndex(hash)];
    const auto low = static_cast<uint32_t>(hash);
#if defined(__AVX2__)
    // Eight 32-bit products at once, widened to eight 64-bit masks in two registers.
    const __m256i products = _mm256_mullo_epi32(
        _mm256_set1_epi32(static_cast<int>(low)),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kSalts)));
    const __m256i bits = _mm256_srli_epi32(products, 26);
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i mask_lo = _mm256_sllv_epi64(one, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(bits)));
    const __m256i mask_hi = _mm256_sllv_epi64(one, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(bits, 1)));
    const __m256i words_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(block.words));
    const __m256i words_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(block.words + 4));
    const __m256i missing = _mm256_or_si256(_mm256_andnot_si256(words_lo, mask_lo),
                                            _mm256_andnot_si256(words_hi, mask_hi));
    return _mm256_testz_si256(missing, missing) != 0;
#else
    // OR together every required bit that is missing; one test at the end keeps the eight
    // word checks independent (no early exit, no per-word branch to mispredict).
    uint64_t missing = 0;
#pragma GCC unroll 8
    for (int i = 0; i < kWordsPerBlock; ++i) missing |= WordMask(low, i) & ~block.words[i];
    return missing == 0;
#endif
  }

  size_t block_count() const { return num_blocks_; }
  // Bytes of the block array (the heap memory this filter owns).
  size_t memory_bytes() const { return num_blocks_ * kBlockBytes; }

 private:
  static constexpr int kWordsPerBlock = 8;
  struct alignas(kBlockBytes) Block {
    uint64_t words[kWordsPerBlock];
  };
  static_assert(sizeof(Block) == kBlockBytes);

  // The salts of the Parquet split-block Bloom filter specification: odd 32-bit constants
  // whose products with the key spread its low 32 bits into independent-looking bit indices.
  static constexpr uint32_t kSalts[kWordsPerBlock] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU,
                                                      0xa2b7289dU, 0x705495c7U, 0x2df1424bU,
                                                      0x9efc4947U, 0x5c6bfb31U};

  static uint64_t WordMask(uint32_t low, int i) {
    // The top 6 bits of the product select one of the word's 64 bits.
    return bloom_internal::kBit.bit[(low * kSalts[i]) >> 26];
  }
  size_t BlockIndex(uint64_t hash) const {
    return static_cast<size_t>(((hash >> 32) * num_blocks_) >> 32);
  }

  // num_blocks_ < 2^32 so that BlockIndex() cannot overflow 64 bits.
  uint64_t num_blocks_ = 0;
  std::vector<Block> blocks_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_BLOOM_FILTER_H_
