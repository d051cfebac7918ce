// ConsumerSet: the consumers one update goes to, as slot numbers in ascending order.
//
// The dispatcher owns one set per dispatch thread and reuses it for every update: the
// subscription index clears and refills it, the dispatcher iterates it. It is a sorted array
// with room for every possible slot inline (kMaxConsumerSlots x 2 bytes = 2 KiB), chosen over
// absl::InlinedVector because (1) it never allocates, whatever the number of matches, so the
// hot path has no allocation and no capacity check in its merge loop; (2) clear() is one
// store; (3) only the first size() slots are ever touched, so the unused tail costs address
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

// A consumer's index in the sender's registry; the registry hands out slots below
// kMaxConsumerSlots and reuses them after a consumer leaves.
using ConsumerSlot = uint16_t;
inline constexpr size_t kMaxConsumerSlots = 1024;

class ConsumerSet {
 public:
  using value_type = ConsumerSlot;
  using iterator = const ConsumerSlot*;
  using const_iterator = const ConsumerSlot*;

  // The slot array is left uninitialized on purpose: only [0, size()) is ever read.
  ConsumerSet() {}  // NOLINT(modernize-use-equals-default): keeps slots_ uninitialized.
  ConsumerSet(const ConsumerSet& other) { Assign(other.span()); }
  ConsumerSet& operator=(const ConsumerSet& other) {
    if (this != &other) Assign(other.span());
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const ConsumerSlot* begin() const { return slots_; }
  const ConsumerSlot* end() const { return slots_ + size_; }
  // REQUIRES: i < size().
  ConsumerSlot operator[](size_t i) const { return slots_[i]; }
  absl::Span<const ConsumerSlot> span() const { return {slots_, size_}; }

  bool contains(ConsumerSlot slot) const { return std::binary_search(begin(), end(), slot); }

  void clear() { size_ = 0; }

  // Replaces the contents with `sorted`.
  // REQUIRES: `sorted` is strictly ascending (no duplicates) and every slot is below
  // kMaxConsumerSlots, so it fits.
  void Assign(absl::Span<const ConsumerSlot> sorted) {
    // std::copy, not memcpy: an empty span may have a null data(), which memcpy forbids.
    std::copy(sorted.begin(), sorted.end(), slots_);
    size_ = sorted.size();
  }

  // Replaces the contents with the union of `a` and `b`; a slot in both appears once.
  // REQUIRES: `a` and `b` are each strictly ascending with every slot below
  // kMaxConsumerSlots (so the union fits). Either may alias this set's own storage only if
  // the other is empty.
  void AssignUnion(absl::Span<const ConsumerSlot> a, absl::Span<const ConsumerSlot> b) {
    if (a.empty()) return Assign(b);
    if (b.empty()) return Assign(a);
    const ConsumerSlot* i = a.data();
    const ConsumerSlot* const i_end = i + a.size();
    const ConsumerSlot* j = b.data();
    const ConsumerSlot* const j_end = j + b.size();
    size_t n = 0;
    // Branch-free step: emit the smaller head and advance whichever side(s) held it, so a
    // slot present in both is emitted once.
    while (i != i_end && j != j_end) {
      const ConsumerSlot x = *i;
      const ConsumerSlot y = *j;
      slots_[n++] = x < y ? x : y;
      i += (x <= y);
      j += (y <= x);
    }
    while (i != i_end) slots_[n++] = *i++;
    while (j != j_end) slots_[n++] = *j++;
    size_ = n;
  }

  // Adds `slot`, keeping the order; no-op if it is already present. O(size()); meant for
  // building sets off the hot path.
  // REQUIRES: slot < kMaxConsumerSlots.
  void Insert(ConsumerSlot slot) {
    ConsumerSlot* pos = std::lower_bound(slots_, slots_ + size_, slot);
    if (pos != slots_ + size_ && *pos == slot) return;
    std::copy_backward(pos, slots_ + size_, slots_ + size_ + 1);
    *pos = slot;
    ++size_;
  }

  friend bool operator==(const ConsumerSet& a, const ConsumerSet& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  size_t size_ = 0;
  ConsumerSlot slots_[kMaxConsumerSlots];
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_CONSUMER_SET_H_
