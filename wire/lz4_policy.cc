// The LZ4 policy: sample-based compression decision and the LZ4 block calls. See
// lz4_policy.h for why the decision compresses a sample instead of measuring entropy.
#include "wire/lz4_policy.h"

#include <lz4.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace qlaster {
namespace {

// Spread-out chunks catch data whose head (discriminator, header) differs from its body
// and tail; four is enough to see a mostly-zero body without paying for many LZ4 calls.
constexpr size_t kSampleChunks = 4;

// The largest compressed size of `size` bytes that still saves `min_gain` of them (and at
// least one byte); 0 when no output could be worth sending.
size_t MaxWorthwhileSize(size_t size, double min_gain) {
  if (size == 0 || size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
  // Written so that NaN also means "any saving".
  if (!(min_gain > 0.0)) min_gain = 0.0;
  if (min_gain >= 1.0) return 0;
  const size_t saved = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(static_cast<double>(size) * min_gain)));
  return saved >= size ? 0 : size - saved;
}

}  // namespace

bool ShouldCompress(absl::Span<const uint8_t> data, const Lz4Policy& policy) {
  const size_t size = data.size();
  if (size < policy.threshold) return false;
  if (MaxWorthwhileSize(size, policy.min_gain) == 0) return false;

  const size_t sample = std::min(policy.sample_bytes, kMaxLz4SampleBytes);
  const size_t chunk = sample / kSampleChunks;
  // Too small a sample to mean anything: let the full compression decide.
  if (chunk == 0) return true;

  uint8_t sample_buf[kMaxLz4SampleBytes];
  const uint8_t* src;
  size_t len;
  if (size <= chunk * kSampleChunks) {
    src = data.data();
    len = size;
  } else {
    // Chunk i starts at i/(k-1) of the way through, so the first covers the head and the
    // last ends exactly at the tail.
    for (size_t i = 0; i < kSampleChunks; ++i) {
      const size_t offset = i * (size - chunk) / (kSampleChunks - 1);
      std::memcpy(sample_buf + i * chunk, data.data() + offset, chunk);
    }
    src = sample_buf;
    len = chunk * kSampleChunks;
  }
  const size_t capacity = MaxWorthwhileSize(len, policy.min_gain);
  if (capacity == 0) return true;
  uint8_t out_buf[kMaxLz4SampleBytes];
  // A capacity below LZ4_compressBound makes LZ4 return 0 as soon as the output would
  // exceed it, which is exactly "the sample does not reach min_gain".
  const int written =
      LZ4_compress_default(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(out_buf),
                           static_cast<int>(len), static_cast<int>(capacity));
  return written > 0;
}

bool Lz4CompressIfWorthIt(absl::Span<const uint8_t> data, const Lz4Policy& policy,
                          std::vector<uint8_t>* out) {
  out->clear();
  if (!ShouldCompress(data, policy)) return false;
  const size_t capacity = MaxWorthwhileSize(data.size(), policy.min_gain);
  if (capacity == 0) return false;
  // Allocated once at the most we would send; LZ4 stops (returns 0) rather than exceed it,
  // so a sample that mispredicted costs at most one pass and no second buffer.
  out->resize(capacity);
  const int written = LZ4_compress_default(
      reinterpret_cast<const char*>(data.data()), reinterpret_cast<char*>(out->data()),
      static_cast<int>(data.size()), static_cast<int>(capacity));
  if (written <= 0) {
    out->clear();
    return false;
  }
  out->resize(static_cast<size_t>(written));
  return true;
}

size_t Lz4CompressBound(size_t size) {
  if (size > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
  return static_cast<size_t>(LZ4_compressBound(static_cast<int>(size)));
}

absl::Status Lz4Decompress(absl::Span<const uint8_t> in, absl::Span<uint8_t> out) {
  if (in.size() > static_cast<size_t>(INT_MAX) || out.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lz4: block of ", in.size(), " bytes into ", out.size(),
                     " bytes exceeds LZ4's size limit of ", INT_MAX));
  }
  const int result = LZ4_decompress_safe(
      reinterpret_cast<const char*>(in.data()), reinterpret_cast<char*>(out.data()),
      static_cast<int>(in.size()), static_cast<int>(out.size()));
  if (result < 0) {
    // LZ4 reports a block that would overrun the output the same way as a malformed one.
    return absl::DataLossError(
        absl::StrCat("lz4: block of ", in.size(), " bytes is corrupt or decompresses to more "
                     "than the declared ", out.size(), " bytes (LZ4 error ", result, ")"));
  }
  if (static_cast<size_t>(result) != out.size()) {
    return absl::DataLossError(absl::StrCat("lz4: block of ", in.size(),
                                            " bytes decompressed to ", result,
                                            " bytes, declared ", out.size()));
  }
  return absl::OkStatus();
}

}  // namespace qlaster
