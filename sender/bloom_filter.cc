// BloomFilter: sizing and insertion (the build side; look-ups are inline in the header).
#include "sender/bloom_filter.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qlaster::sender {

BloomFilter::BloomFilter(size_t expected_keys, double bits_per_key) {
  assert(bits_per_key > 0);
  if (expected_keys == 0) return;
  constexpr double kBitsPerBlock = kBlockBytes * 8;
  const double blocks = std::ceil(static_cast<double>(expected_keys) * bits_per_key / kBitsPerBlock);
  // Keep the block count below 2^32 (256 GiB of filter) so that BlockIndex() is exact.
  num_blocks_ = static_cast<uint64_t>(std::clamp(blocks, 1.0, 4294967295.0));
  blocks_.assign(num_blocks_, Block{});
}

void BloomFilter::Insert(uint64_t hash) {
  assert(num_blocks_ != 0);
  Block& block = blocks_[BlockIndex(hash)];
  const auto low = static_cast<uint32_t>(hash);
  for (int i = 0; i < kWordsPerBlock; ++i) block.words[i] |= WordMask(low, i);
}

}  // namespace qlaster::sender
