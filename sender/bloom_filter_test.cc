// Tests for BloomFilter: no false negatives, the stated false-positive bound, the empty
// filter, and keys that are far from random (all zero bytes, or differing in one byte).
#include "sender/bloom_filter.h"

#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "sender/subscription_index.h"
#include "wire/random_key.h"
#include "wire/types.h"

namespace qlaster::sender {
namespace {

TEST(BloomFilterTest, EmptyFilterRejectsEverything) {
  const BloomFilter default_constructed;
  const BloomFilter sized_for_nothing(0);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const uint64_t hash = rng();
    EXPECT_FALSE(default_constructed.MayContain(hash));
    EXPECT_FALSE(sized_for_nothing.MayContain(hash));
  }
  EXPECT_FALSE(default_constructed.MayContain(0));
  EXPECT_EQ(default_constructed.block_count(), 0u);
  EXPECT_EQ(sized_for_nothing.memory_bytes(), 0u);
}

TEST(BloomFilterTest, SizesToTwelveBitsPerKeyInWholeCacheLines) {
  EXPECT_EQ(BloomFilter(1).block_count(), 1u);
  EXPECT_EQ(BloomFilter(1'000'000).block_count(), 23'438u);  // ceil(12e6 / 512)
  EXPECT_EQ(BloomFilter(1'000'000).memory_bytes(), 23'438u * 64);
  EXPECT_EQ(BloomFilter(1'000, 10.0).block_count(), 20u);  // ceil(10e3 / 512)
}

TEST(BloomFilterTest, NeverForgetsAnInsertedKeyAndStaysUnderSixPerMilleFalsePositives) {
  constexpr size_t kKeys = 1'000'000;
  const PubkeyHash hash;
  std::mt19937_64 rng(42);
  BloomFilter filter(kKeys);
  std::vector<Pubkey> present(kKeys);
  for (Pubkey& key : present) {
    key = RandomKey(rng);
    filter.Insert(hash(key));
  }
  size_t false_negatives = 0;
  for (const Pubkey& key : present) false_negatives += !filter.MayContain(hash(key));
  EXPECT_EQ(false_negatives, 0u);

  // Fresh random keys: a collision with `present` has probability ~2^-200, so each is absent.
  size_t false_positives = 0;
  for (size_t i = 0; i < kKeys; ++i) false_positives += filter.MayContain(hash(RandomKey(rng)));
  const double rate = static_cast<double>(false_positives) / kKeys;
  std::cout << "false-positive rate at 12 bits/key: " << rate * 100 << "%\n";
  EXPECT_LT(rate, 0.006);  // expected 0.42%; see bloom_filter.h
}

TEST(BloomFilterTest, FindsTheAllZeroKey) {
  const PubkeyHash hash;
  const Pubkey zero{};
  BloomFilter filter(1);
  EXPECT_FALSE(filter.MayContain(hash(zero)));
  filter.Insert(hash(zero));
  EXPECT_TRUE(filter.MayContain(hash(zero)));
}

TEST(BloomFilterTest, SeparatesKeysThatDifferOnlyInTheirLastByte) {
  const PubkeyHash hash;
  // Sized generously so that, at a true 0.42% rate, a false positive among the 128 absent
  // keys is unlikely; the hash must not collapse keys that share 31 bytes.
  constexpr size_t kPresent = 128;
  BloomFilter filter(kPresent);
  Pubkey key{};
  for (size_t last = 0; last < kPresent; ++last) {
    key[31] = static_cast<uint8_t>(last);
    filter.Insert(hash(key));
  }
  size_t false_positives = 0;
  for (size_t last = 0; last < 256; ++last) {
    key[31] = static_cast<uint8_t>(last);
    if (last < kPresent) {
      EXPECT_TRUE(filter.MayContain(hash(key))) << last;
    } else {
      false_positives += filter.MayContain(hash(key));
    }
  }
  EXPECT_LE(false_positives, 3u);
}

TEST(BloomFilterTest, InsertIsIdempotent) {
  BloomFilter once(1000);
  BloomFilter twice(1000);
  std::mt19937_64 rng(7);
  std::vector<uint64_t> hashes(1000);
  for (uint64_t& h : hashes) h = rng();
  for (uint64_t h : hashes) {
    once.Insert(h);
    twice.Insert(h);
    twice.Insert(h);
  }
  for (int i = 0; i < 100'000; ++i) {
    const uint64_t probe = rng();
    EXPECT_EQ(once.MayContain(probe), twice.MayContain(probe));
  }
}

}  // namespace
}  // namespace qlaster::sender
