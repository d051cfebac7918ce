// SectionRange: forward iteration over a run of variable-size elements that a validating
// decoder (transaction.h, transaction_status.h) has already checked, so each step decodes
// one element in place with no allocation and no check left to fail. Each element type
// declares its specialization of Decode next to the view it fills.
#ifndef QLASTER_WIRE_SOLANA_SECTION_RANGE_H_
#define QLASTER_WIRE_SOLANA_SECTION_RANGE_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>

namespace qlaster::solana {

// Every multi-byte field of these formats is little-endian, read with memcpy.
static_assert(std::endian::native == std::endian::little, "qlaster assumes a little-endian host");

template <typename T>
inline T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename View>
class SectionRange {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = View;
    using difference_type = std::ptrdiff_t;
    using pointer = const View*;
    using reference = View;

    iterator() = default;
    View operator*() const { return current_; }
    iterator& operator++() {
      --remaining_;
      if (remaining_ > 0) next_ = Decode(next_, &current_);
      return *this;
    }
    // Iterators of one range compare by how many elements are left.
    bool operator==(const iterator& o) const { return remaining_ == o.remaining_; }

   private:
    friend class SectionRange;
    iterator(const uint8_t* first, size_t count) : remaining_(count) {
      if (count > 0) next_ = Decode(first, &current_);
    }
    const uint8_t* next_ = nullptr;
    size_t remaining_ = 0;
    View current_{};
  };

  SectionRange() = default;
  SectionRange(const uint8_t* first, size_t count) : first_(first), count_(count) {}
  iterator begin() const { return iterator(first_, count_); }
  iterator end() const { return iterator(); }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

  // Decodes the element at `p` into `*out` and returns where the next one starts.
  // REQUIRES: `p` is a validated element. Specialized for each View.
  static const uint8_t* Decode(const uint8_t* p, View* out);

 private:
  const uint8_t* first_ = nullptr;
  size_t count_ = 0;
};

}  // namespace qlaster::solana

#endif  // QLASTER_WIRE_SOLANA_SECTION_RANGE_H_
