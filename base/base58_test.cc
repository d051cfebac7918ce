// Tests for base58: known Solana vectors, canonical round trips, and each kind of bad
// input.
#include "base/base58.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Vectors checked against an independent big-integer decoder (Python int) when written.
constexpr char kSystemProgram[] = "11111111111111111111111111111111";
constexpr char kTokenProgram[] = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
constexpr Pubkey kTokenProgramBytes = {0x06, 0xdd, 0xf6, 0xe1, 0xd7, 0x65, 0xa1, 0x93,
                                       0xd9, 0xcb, 0xe1, 0x46, 0xce, 0xeb, 0x79, 0xac,
                                       0x1c, 0xb4, 0x85, 0xed, 0x5f, 0x5b, 0x37, 0x91,
                                       0x3a, 0x8c, 0xf5, 0x85, 0x7e, 0xff, 0x00, 0xa9};
constexpr char kVoteProgram[] = "Vote111111111111111111111111111111111111111";
constexpr Pubkey kVoteProgramBytes = {0x07, 0x61, 0x48, 0x1d, 0x35, 0x74, 0x74, 0xbb,
                                      0x7c, 0x4d, 0x76, 0x24, 0xeb, 0xd3, 0xbd, 0xb3,
                                      0xd8, 0x35, 0x5e, 0x73, 0xd1, 0x10, 0x43, 0xfc,
                                      0x0d, 0xa3, 0x53, 0x80, 0x00, 0x00, 0x00, 0x00};

class Base58Test : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{0x5eed};  // fixed seed: failures reproduce

  std::vector<uint8_t> RandomBytes(size_t n, int leading_zeros) {
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng_());
    for (int i = 0; i < leading_zeros && static_cast<size_t>(i) < n; ++i) out[i] = 0;
    return out;
  }
};

TEST_F(Base58Test, DecodesSystemProgramToZeroBytes) {
  absl::StatusOr<Pubkey> key = DecodePubkey(kSystemProgram);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, Pubkey{});
  EXPECT_EQ(Base58Encode(Pubkey{}), kSystemProgram);
}

TEST_F(Base58Test, DecodesTokenProgram) {
  absl::StatusOr<Pubkey> key = DecodePubkey(kTokenProgram);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, kTokenProgramBytes);
  EXPECT_EQ(Base58Encode(kTokenProgramBytes), kTokenProgram);
}

TEST_F(Base58Test, DecodesVoteProgramWithTrailingZeroBytes) {
  absl::StatusOr<Pubkey> key = DecodePubkey(kVoteProgram);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, kVoteProgramBytes);
  EXPECT_EQ(Base58Encode(kVoteProgramBytes), kVoteProgram);
}

TEST_F(Base58Test, SmallKnownValues) {
  EXPECT_EQ(Base58Encode(std::vector<uint8_t>{0x00}), "1");
  EXPECT_EQ(Base58Encode(std::vector<uint8_t>{0x39}), "z");   // 57
  EXPECT_EQ(Base58Encode(std::vector<uint8_t>{0x3a}), "21");  // 58
  EXPECT_EQ(Base58Encode(std::vector<uint8_t>{0x00, 0x00, 0x3a}), "1121");
  // The classic "Hello World!" vector used by the Bitcoin implementations.
  const std::string hello = "Hello World!";
  EXPECT_EQ(Base58Encode(absl::Span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(hello.data()), hello.size())),
            "2NEpo7TZRRrLZSi2U");
}

TEST_F(Base58Test, EmptyRoundTrips) {
  EXPECT_EQ(Base58Encode({}), "");
  absl::StatusOr<std::vector<uint8_t>> bytes = Base58Decode("");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(bytes->empty());
}

TEST_F(Base58Test, RandomArraysRoundTrip) {
  for (int iter = 0; iter < 2000; ++iter) {
    const size_t n = rng_() % 100;
    const std::vector<uint8_t> bytes = RandomBytes(n, static_cast<int>(rng_() % 4));
    const std::string text = Base58Encode(bytes);
    absl::StatusOr<std::vector<uint8_t>> decoded = Base58Decode(text);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_THAT(*decoded, ElementsAreArray(bytes)) << text;
  }
}

TEST_F(Base58Test, RandomPubkeysAndSignaturesRoundTrip) {
  for (int iter = 0; iter < 500; ++iter) {
    Pubkey key;
    Signature sig;
    for (auto& b : key) b = static_cast<uint8_t>(rng_());
    for (auto& b : sig) b = static_cast<uint8_t>(rng_());
    if (iter % 5 == 0) key[0] = 0;  // exercise a leading '1'
    absl::StatusOr<Pubkey> key2 = DecodePubkey(Base58Encode(key));
    absl::StatusOr<Signature> sig2 = DecodeSignature(Base58Encode(sig));
    ASSERT_TRUE(key2.ok()) << key2.status();
    ASSERT_TRUE(sig2.ok()) << sig2.status();
    EXPECT_EQ(*key2, key);
    EXPECT_EQ(*sig2, sig);
  }
}

TEST_F(Base58Test, MaxLengthsAreTheLongestSpellings) {
  Pubkey max_key;
  max_key.fill(0xff);
  Signature max_sig;
  max_sig.fill(0xff);
  EXPECT_EQ(Base58Encode(max_key).size(), kMaxPubkeyBase58Length);
  EXPECT_EQ(Base58Encode(max_sig).size(), kMaxSignatureBase58Length);
  EXPECT_EQ(Base58Encode(Signature{}).size(), 64u);
}

TEST_F(Base58Test, RejectsCharactersOutsideTheAlphabet) {
  for (char bad : {'0', 'O', 'I', 'l', '+', '/', ' '}) {
    std::string text = kTokenProgram;
    text[7] = bad;
    absl::StatusOr<std::vector<uint8_t>> bytes = Base58Decode(text);
    ASSERT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(bytes.status().message(), HasSubstr("position 7"));
    EXPECT_EQ(DecodePubkey(text).status().code(), absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = Base58Decode("abc0");
  EXPECT_THAT(bytes.status().message(), HasSubstr("'0' at position 3"));
}

TEST_F(Base58Test, RejectsNulAndHighBytesByValue) {
  absl::StatusOr<std::vector<uint8_t>> nul = Base58Decode(std::string("ab\0c", 4));
  ASSERT_EQ(nul.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nul.status().message(), HasSubstr("0x00 at position 2"));
  absl::StatusOr<std::vector<uint8_t>> high = Base58Decode("\xff");
  ASSERT_EQ(high.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(high.status().message(), HasSubstr("0xff at position 0"));
}

TEST_F(Base58Test, RejectsWrongDecodedLength) {
  // 31 zero bytes and 33 zero bytes.
  absl::StatusOr<Pubkey> short_key = DecodePubkey(std::string(31, '1'));
  ASSERT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_key.status().message(), HasSubstr("expected 32 bytes, got 31"));
  absl::StatusOr<Pubkey> long_key = DecodePubkey(std::string(33, '1'));
  ASSERT_EQ(long_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(long_key.status().message(), HasSubstr("expected 32 bytes, got 33"));
  // A valid 32-byte key is not a signature.
  absl::StatusOr<Signature> sig = DecodeSignature(kTokenProgram);
  ASSERT_EQ(sig.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sig.status().message(), HasSubstr("expected 64 bytes, got 32"));
  EXPECT_EQ(DecodePubkey("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(Base58Test, RejectsOverlongInputBeforeDecoding) {
  // 45 characters cannot spell 32 bytes, so the input is refused on its length alone,
  // before its (here invalid) characters are looked at.
  absl::StatusOr<Pubkey> key = DecodePubkey(std::string(kMaxPubkeyBase58Length + 1, '0'));
  ASSERT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key.status().message(), HasSubstr("too long"));
  EXPECT_EQ(
      DecodeSignature(std::string(kMaxSignatureBase58Length + 1, 'z')).status().code(),
      absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<uint8_t>> big =
      Base58Decode(std::string(kMaxBase58DecodeLength + 1, 'z'));
  ASSERT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("limit"));
  EXPECT_TRUE(Base58Decode(std::string(kMaxBase58DecodeLength, 'z')).ok());
}

}  // namespace
}  // namespace qlaster
