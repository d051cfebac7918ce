// Tests for the LZ4 policy: what the sample predicts, that a mispredicted sample still
// falls back to raw, and that decompression checks declared sizes.
#include "wire/lz4_policy.h"

#include <lz4.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMiB = 1024 * 1024;

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, std::min<size_t>(8, n - i));
  }
  return bytes;
}

Lz4Policy AlwaysConsider() {
  Lz4Policy policy;
  policy.threshold = 0;
  return policy;
}

TEST(Lz4PolicyTest, BelowThresholdIsNeverCompressed) {
  const Lz4Policy policy;
  EXPECT_FALSE(ShouldCompress(std::vector<uint8_t>(policy.threshold - 1, 0), policy));
  EXPECT_TRUE(ShouldCompress(std::vector<uint8_t>(policy.threshold, 0), policy));
}

TEST(Lz4PolicyTest, MaxThresholdDisablesCompression) {
  Lz4Policy policy;
  policy.threshold = SIZE_MAX;
  const std::vector<uint8_t> zeros(4 * kMiB, 0);
  EXPECT_FALSE(ShouldCompress(zeros, policy));
  std::vector<uint8_t> out{1, 2, 3};
  EXPECT_FALSE(Lz4CompressIfWorthIt(zeros, policy, &out));
  EXPECT_TRUE(out.empty());
}

TEST(Lz4PolicyTest, EmptyDataIsNeverCompressed) {
  std::vector<uint8_t> out;
  EXPECT_FALSE(ShouldCompress({}, AlwaysConsider()));
  EXPECT_FALSE(Lz4CompressIfWorthIt({}, AlwaysConsider(), &out));
}

TEST(Lz4PolicyTest, RandomBytesAreSentRaw) {
  const std::vector<uint8_t> data = RandomBytes(2 * kMiB, 1);
  EXPECT_FALSE(ShouldCompress(data, Lz4Policy{}));
  std::vector<uint8_t> out;
  EXPECT_FALSE(Lz4CompressIfWorthIt(data, Lz4Policy{}, &out));
  EXPECT_TRUE(out.empty());
}

TEST(Lz4PolicyTest, MostlyZeroAccountIsCompressed) {
  // An order-book-like account: a random header, then mostly zeros.
  std::vector<uint8_t> data(2 * kMiB, 0);
  const std::vector<uint8_t> head = RandomBytes(4096, 2);
  std::copy(head.begin(), head.end(), data.begin());
  EXPECT_TRUE(ShouldCompress(data, Lz4Policy{}));
  std::vector<uint8_t> out;
  ASSERT_TRUE(Lz4CompressIfWorthIt(data, Lz4Policy{}, &out));
  EXPECT_LT(out.size(), data.size() / 50);
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(Lz4Decompress(out, absl::MakeSpan(back)).ok());
  EXPECT_EQ(back, data);
}

TEST(Lz4PolicyTest, RepeatedRandomBlockIsCompressedDespiteHighEntropy) {
  // Byte entropy is ~8 bits here, yet LZ4 finds the repeats: the reason the policy
  // samples with LZ4 rather than measuring entropy.
  const std::vector<uint8_t> block = RandomBytes(1024, 3);
  std::vector<uint8_t> data;
  while (data.size() < kMiB) data.insert(data.end(), block.begin(), block.end());
  EXPECT_TRUE(ShouldCompress(data, Lz4Policy{}));
}

TEST(Lz4PolicyTest, SampleSeesTheTailOfTheData) {
  // Random for the first three quarters, zeros at the end: only the last sample chunk is
  // compressible, so with min_gain 0.2 the sample (one quarter zeros) is predicted to gain
  // about a quarter. A head-only sample would predict nothing.
  std::vector<uint8_t> data = RandomBytes(kMiB, 4);
  std::fill(data.end() - 4096, data.end(), 0);
  Lz4Policy policy;
  policy.min_gain = 0.2;
  EXPECT_TRUE(ShouldCompress(data, policy));
  policy.min_gain = 0.3;
  EXPECT_FALSE(ShouldCompress(data, policy));
}

TEST(Lz4PolicyTest, MispredictedSampleFallsBackToRaw) {
  // Zeros exactly where the sample looks, random everywhere else: the sample predicts a
  // gain, the real compression cannot reach min_gain, so the data goes raw.
  const size_t size = kMiB;
  std::vector<uint8_t> data = RandomBytes(size, 5);
  const Lz4Policy policy;
  const size_t chunk = policy.sample_bytes / 4;
  for (size_t i = 0; i < 4; ++i) {
    const size_t offset = i * (size - chunk) / 3;
    std::fill(data.begin() + offset, data.begin() + offset + chunk, 0);
  }
  EXPECT_TRUE(ShouldCompress(data, policy));
  std::vector<uint8_t> out;
  EXPECT_FALSE(Lz4CompressIfWorthIt(data, policy, &out));
  EXPECT_TRUE(out.empty());
}

TEST(Lz4PolicyTest, MinGainAtOrAboveOneDisablesCompression) {
  Lz4Policy policy = AlwaysConsider();
  policy.min_gain = 1.0;
  const std::vector<uint8_t> zeros(kMiB, 0);
  EXPECT_FALSE(ShouldCompress(zeros, policy));
}

TEST(Lz4PolicyTest, NonPositiveMinGainAcceptsAnySaving) {
  for (double gain : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    Lz4Policy policy = AlwaysConsider();
    policy.min_gain = gain;
    std::vector<uint8_t> out;
    EXPECT_TRUE(Lz4CompressIfWorthIt(std::vector<uint8_t>(1000, 9), policy, &out)) << gain;
    EXPECT_FALSE(Lz4CompressIfWorthIt(RandomBytes(1000, 6), policy, &out)) << gain;
  }
}

TEST(Lz4PolicyTest, ZeroSampleLetsTheFullCompressionDecide) {
  Lz4Policy policy;
  policy.sample_bytes = 0;
  EXPECT_TRUE(ShouldCompress(RandomBytes(policy.threshold, 7), policy));
  std::vector<uint8_t> out;
  EXPECT_FALSE(Lz4CompressIfWorthIt(RandomBytes(policy.threshold, 7), policy, &out));
}

TEST(Lz4PolicyTest, DataSmallerThanSampleIsSampledWhole) {
  Lz4Policy policy = AlwaysConsider();
  EXPECT_TRUE(ShouldCompress(std::vector<uint8_t>(100, 0), policy));
  EXPECT_FALSE(ShouldCompress(RandomBytes(100, 8), policy));
}

TEST(Lz4PolicyTest, CompressBoundMatchesLz4) {
  EXPECT_EQ(Lz4CompressBound(0), static_cast<size_t>(LZ4_compressBound(0)));
  EXPECT_EQ(Lz4CompressBound(10 * kMiB), static_cast<size_t>(LZ4_compressBound(10 * kMiB)));
  EXPECT_EQ(Lz4CompressBound(static_cast<size_t>(LZ4_MAX_INPUT_SIZE) + 1), 0u);
}

TEST(Lz4DecompressTest, RejectsCorruptBlock) {
  const std::vector<uint8_t> garbage(64, 0xFF);
  std::vector<uint8_t> out(1000);
  const absl::Status status = Lz4Decompress(garbage, absl::MakeSpan(out));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("corrupt"));
}

TEST(Lz4DecompressTest, RejectsEmptyBlock) {
  std::vector<uint8_t> out(10);
  EXPECT_EQ(Lz4Decompress({}, absl::MakeSpan(out)).code(), absl::StatusCode::kDataLoss);
}

TEST(Lz4DecompressTest, RejectsBlockShorterThanDeclared) {
  std::vector<uint8_t> compressed;
  ASSERT_TRUE(Lz4CompressIfWorthIt(std::vector<uint8_t>(5000, 1), AlwaysConsider(), &compressed));
  std::vector<uint8_t> out(5001);
  const absl::Status status = Lz4Decompress(compressed, absl::MakeSpan(out));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("decompressed to 5000 bytes, declared 5001"));
}

TEST(Lz4DecompressTest, RejectsBlockLongerThanDeclared) {
  std::vector<uint8_t> compressed;
  ASSERT_TRUE(Lz4CompressIfWorthIt(std::vector<uint8_t>(5000, 1), AlwaysConsider(), &compressed));
  std::vector<uint8_t> out(4999);
  const absl::Status status = Lz4Decompress(compressed, absl::MakeSpan(out));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("more than the declared 4999"));
}

TEST(Lz4DecompressTest, EmptyDataRoundTrips) {
  // LZ4's block for zero bytes is a single zero token.
  const uint8_t empty_block[] = {0};
  EXPECT_TRUE(Lz4Decompress(empty_block, absl::Span<uint8_t>()).ok());
}

}  // namespace
}  // namespace qlaster
