// SpscQueue: a bounded single-producer single-consumer queue between two threads of one
// process, for small values (events, not data). Push and Pop never block and never
// allocate; Push fails when the queue is full.
//
// Thread-safety: Push from one thread, Pop from one other thread. A release store
// publishes each slot's value with its position; the reader's acquire load sees it.
#ifndef QLASTER_BASE_SPSC_QUEUE_H_
#define QLASTER_BASE_SPSC_QUEUE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace qlaster {

template <typename T, size_t N>
class SpscQueue {
  static_assert(N > 0 && (N & (N - 1)) == 0, "N must be a power of two");

 public:
  // Producer: false (and nothing queued) when the queue holds N values.
  bool Push(const T& value) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == N) return false;
    slots_[tail & (N - 1)] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer: the oldest value, or nullopt when empty.
  std::optional<T> Pop() {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
    T value = slots_[head & (N - 1)];
    head_.store(head + 1, std::memory_order_release);
    return value;
  }

 private:
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  std::array<T, N> slots_{};
};

}  // namespace qlaster

#endif  // QLASTER_BASE_SPSC_QUEUE_H_
