// Overlay(base, data, size): a valid sample with fuzzed bytes written over it, so that a
// fuzzer without a seed corpus still reaches the checks deep inside a valid structure.
// data[0]'s low bit cuts the result where the overlay ends; data[1] picks the offset; the
// rest replaces bytes from there on and may extend the sample. (data[0] >> 1 is left for
// the caller to pick a sample.)
#ifndef QLASTER_TESTS_FUZZ_OVERLAY_H_
#define QLASTER_TESTS_FUZZ_OVERLAY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

inline std::vector<uint8_t> Overlay(std::vector<uint8_t> base, const uint8_t* data, size_t size) {
  if (size < 2) return base;
  const size_t offset = data[1] * base.size() / 256;
  for (size_t i = 2; i < size; ++i) {
    if (offset + i - 2 < base.size()) {
      base[offset + i - 2] = data[i];
    } else {
      base.push_back(data[i]);
    }
  }
  if ((data[0] & 1) && offset + (size - 2) < base.size()) base.resize(offset + (size - 2));
  return base;
}

#endif  // QLASTER_TESTS_FUZZ_OVERLAY_H_
