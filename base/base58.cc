// Base58 (Bitcoin alphabet) encode and decode: schoolbook base conversion between base 256
// and base 58, with the leading-zero rule handled separately. See base58.h.
#include "base/base58.h"

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace qlaster {
namespace {

constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static_assert(sizeof(kAlphabet) == 59);

// Digit value of each byte, or -1 for bytes outside the alphabet.
constexpr std::array<int8_t, 256> MakeDigitTable() {
  std::array<int8_t, 256> table{};
  for (size_t i = 0; i < table.size(); ++i) table[i] = -1;
  for (int8_t d = 0; d < 58; ++d) {
    table[static_cast<uint8_t>(kAlphabet[d])] = d;
  }
  return table;
}
constexpr std::array<int8_t, 256> kDigit = MakeDigitTable();

// Renders a rejected byte readably: 'O', or 0x00 for unprintable bytes.
std::string DescribeChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return absl::StrFormat("'%c'", c);
  return absl::StrFormat("0x%02x", u);
}

template <typename T>
absl::StatusOr<T> DecodeFixed(std::string_view text, size_t max_length, std::string_view what) {
  constexpr size_t N = sizeof(T);  // Pubkey and Signature are their bytes (types.hpp)
  if (text.size() > max_length) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "base58 %s: %d characters is too long (a %d-byte value takes at most %d)", what,
        text.size(), N, max_length));
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = Base58Decode(text);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != N) {
    return absl::InvalidArgumentError(
        absl::StrFormat("base58 %s: expected %d bytes, got %d", what, N, bytes->size()));
  }
  T out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

std::string Base58Encode(absl::Span<const uint8_t> bytes) {
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;

  // Base-58 digits of the non-zero tail, least significant first. log(256)/log(58) < 1.37,
  // so 138/100 digits per byte always suffice.
  std::vector<uint8_t> digits;
  digits.reserve((bytes.size() - zeros) * 138 / 100 + 1);
  for (size_t i = zeros; i < bytes.size(); ++i) {
    uint32_t carry = bytes[i];
    for (uint8_t& d : digits) {
      carry += static_cast<uint32_t>(d) << 8;
      d = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<uint8_t>(carry % 58));
      carry /= 58;
    }
  }

  std::string out(zeros, '1');
  out.reserve(zeros + digits.size());
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(kAlphabet[*it]);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Base58Decode(std::string_view text) {
  if (text.size() > kMaxBase58DecodeLength) {
    return absl::InvalidArgumentError(
        absl::StrFormat("base58: %d characters is longer than the limit of %d", text.size(),
                        kMaxBase58DecodeLength));
  }
  // Validate every character first, so the error names the first bad one regardless of
  // where the arithmetic would be.
  for (size_t i = 0; i < text.size(); ++i) {
    if (kDigit[static_cast<uint8_t>(text[i])] < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "base58: invalid character %s at position %d", DescribeChar(text[i]), i));
    }
  }

  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;

  // Base-256 digits of the value, least significant first. log(58)/log(256) < 0.733.
  std::vector<uint8_t> bytes;
  bytes.reserve((text.size() - ones) * 733 / 1000 + 1);
  for (size_t i = ones; i < text.size(); ++i) {
    uint32_t carry = static_cast<uint32_t>(kDigit[static_cast<uint8_t>(text[i])]);
    for (uint8_t& b : bytes) {
      carry += static_cast<uint32_t>(b) * 58;
      b = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }

  std::vector<uint8_t> out(ones, 0);
  out.reserve(ones + bytes.size());
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

absl::StatusOr<Pubkey> DecodePubkey(std::string_view text) {
  return DecodeFixed<Pubkey>(text, kMaxPubkeyBase58Length, "pubkey");
}

absl::StatusOr<Signature> DecodeSignature(std::string_view text) {
  return DecodeFixed<Signature>(text, kMaxSignatureBase58Length, "signature");
}

}  // namespace qlaster
