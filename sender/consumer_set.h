// ConsumerSet: the consumers one update goes to, as registry indexes in ascending order.
//
// The dispatcher owns one set per dispatch thread and reuses it for every update: the
// subscription index clears and refills it, the dispatcher iterates it. It is a sorted array
// with room for every possible consumer inline (kMaxConsumers x 2 bytes = 2 KiB), chosen over
// absl::InlinedVector because (1) it never allocates, whatever the number of matches, so the
// hot path has no allocation and no capacity check in its merge loop; (2) clear() is one
// store; (3) only the first size() entries are ever touched, so the unused tail costs address
// space, not cache. The price, 2 KiB per set, is paid once per dispatch thread. Ascending
// order makes the union of two matches a linear merge and gives consumers a deterministic
// delivery order.
//
// Thread-safety: none; a set belongs to one thread at a time.
#ifndef QLASTER_SENDER_CONSUMER_SET_H_
#define QLASTER_SENDER_CONSUMER_SET_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace qlaster::sender {

// A consumer's index in the sender's registry (its seat): below kMaxConsumers, reused
// after the consumer leaves.
using ConsumerIndex = uint16_t;
inline constexpr size_t kMaxConsumers = 1024;

class ConsumerSet {
 public:
  using value_type = ConsumerIndex;
  using iterator = const ConsumerIndex*;
  using const_iterator = const ConsumerIndex*;

  // The array is left uninitialized on purpose: only [0, size()) is ever read.
  ConsumerSet() {}  // NOLINT(modernize-use-equals-default): keeps indexes_ uninitialized.
  ConsumerSet(const ConsumerSet& other) { Assign(other.span()); }
  ConsumerSet& operator=(const ConsumerSet& other) {
    if (this != &other) Assign(other.span());
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const ConsumerIndex* begin() const { return indexes_; }
  const ConsumerIndex* end() const { return indexes_ + size_; }
  // REQUIRES: i < size().
  ConsumerIndex operator[](size_t i) const { return indexes_[i]; }
  absl::Span<const ConsumerIndex> span() const { return {indexes_, size_}; }

  void clear() { size_ = 0; }

  // Replaces the contents with `sorted`.
  // REQUIRES: `sorted` is strictly ascending (no duplicates) and every index is below
  // kMaxConsumers, so it fits.
  void Assign(absl::Span<const ConsumerIndex> sorted) {
    // std::copy, not memcpy: an empty span may have a null data(), which memcpy forbids.
    std::copy(sorted.begin(), sorted.end(), indexes_);
    size_ = sorted.size();
  }

  // Replaces the contents with the union of `a` and `b`; an index in both appears once.
  // REQUIRES: `a` and `b` are each strictly ascending with every index below
  // kMaxConsumers (so the union fits). Either may alias this set's own storage only if
  // the other is empty.
  void AssignUnion(absl::Span<const ConsumerIndex> a, absl::Span<const ConsumerIndex> b) {
    if (a.empty()) return Assign(b);
    if (b.empty()) return Assign(a);
    const ConsumerIndex* i = a.data();
    const ConsumerIndex* const i_end = i + a.size();
    const ConsumerIndex* j = b.data();
    const ConsumerIndex* const j_end = j + b.size();
    size_t n = 0;
    // Branch-free step: emit the smaller head and advance whichever side(s) held it, so a
    // index present in both is emitted once.
    while (i != i_end && j != j_end) {
      const ConsumerIndex x = *i;
      const ConsumerIndex y = *j;
      indexes_[n++] = x < y ? x : y;
      i += (x <= y);
      j += (y <= x);
    }
    while (i != i_end) indexes_[n++] = *i++;
    while (j != j_end) indexes_[n++] = *j++;
    size_ = n;
  }

  friend bool operator==(const ConsumerSet& a, const ConsumerSet& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  size_t size_ = 0;
  ConsumerIndex indexes_[kMaxConsumers];
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_CONSUMER_SET_H_
