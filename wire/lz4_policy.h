// When to LZ4-compress account data, and the LZ4 block calls the frame codec uses.
//
// Compression costs the sender latency once and every consumer a decompression, and buys
// ring capacity and smaller copies into each ring. It pays only for large payloads that
// actually shrink (Solana's big accounts are often mostly zeros: order books, event
// queues, program buffers; others are hashes and keys that do not shrink at all). So the
// policy compresses data at or above `threshold` bytes, and only when LZ4-compressing a
// small sample taken from a few spread-out places saves at least `min_gain` of it.
//
// Why an LZ4 sample and not the Shannon entropy of a byte histogram: LZ4 has no entropy
// coder; it gains only from repeated sequences of 4 or more bytes. Order-0 entropy
// mispredicts it both ways: base64 text has ~6 bits/byte of entropy yet LZ4 gains little
// on it, while a repeated block of random bytes has 8 bits/byte yet LZ4 shrinks it to
// almost nothing. Compressing the sample predicts exactly the compressor we use. With an
// output capacity of (1 - min_gain) of the sample, LZ4 gives up as soon as the sample
// cannot reach the gain, so incompressible data is rejected even sooner. An 8 KiB sample
// of a >= 512 KiB payload costs under 2% of compressing it.
//
// Thread-safety: every function here is thread-safe (no shared state).
#ifndef QLASTER_WIRE_LZ4_POLICY_H_
#define QLASTER_WIRE_LZ4_POLICY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace qlaster {

struct Lz4Policy {
  // A policy that never compresses: for data that was encoded where it entered.
  static constexpr Lz4Policy Never();

  // Data smaller than this is never compressed. SIZE_MAX disables compression.
  size_t threshold = 512 * 1024;
  // Bytes sampled to predict the gain, taken as 4 equal chunks spread from the start to
  // the end of the data (headers, bodies and tails of account layouts differ). Clamped
  // to kMaxLz4SampleBytes; 0 skips the prediction and lets the full compression decide.
  size_t sample_bytes = 8 * 1024;
  // Fraction of the bytes compression must save, in the sample and then in the real
  // output, or the data is sent raw. A quarter: LZ4 decompression runs at roughly the
  // speed of the copy it saves, so a small gain only adds sender latency and consumer
  // work; mostly-zero accounts save 90% or more and clear this easily. Values <= 0 mean
  // "any saving"; values >= 1 disable compression.
  double min_gain = 0.25;
};

constexpr Lz4Policy Lz4Policy::Never() {
  Lz4Policy p;
  p.threshold = SIZE_MAX;
  return p;
}

// The sample is compressed on the stack; this bounds the stack it takes.
inline constexpr size_t kMaxLz4SampleBytes = 16 * 1024;

// True when `data` is large enough and its sample predicts at least policy.min_gain.
// Cost: one copy and one LZ4 pass over at most kMaxLz4SampleBytes.
bool ShouldCompress(absl::Span<const uint8_t> data, const Lz4Policy& policy);

// Compresses `data` into `*out` when the policy predicts a gain and LZ4 achieves at least
// policy.min_gain (and at least one byte). Returns true with *out holding the LZ4 block;
// returns false with *out empty when the data should be sent raw. *out is allocated once,
// at the largest size that would still be worth sending.
// REQUIRES: out != nullptr.
bool Lz4CompressIfWorthIt(absl::Span<const uint8_t> data, const Lz4Policy& policy,
                          std::vector<uint8_t>* out);

// LZ4_compressBound: the largest block LZ4 emits for `size` input bytes; 0 if `size` is
// beyond what LZ4 accepts. A valid block of `size` bytes is never larger.
size_t Lz4CompressBound(size_t size);

// Decompresses the LZ4 block `in` into `out`, which must be exactly the declared
// decompressed size. `in` is untrusted: a corrupt block, one that decompresses to more
// than out.size(), or to fewer, is kDataLoss naming declared and actual sizes; sizes
// beyond LZ4's int range are kInvalidArgument. On error `out` holds unspecified bytes.
absl::Status Lz4Decompress(absl::Span<const uint8_t> in, absl::Span<uint8_t> out);

}  // namespace qlaster

#endif  // QLASTER_WIRE_LZ4_POLICY_H_
