// DoorbellQueue: how one thread hands owned values to another that may sleep (a sender
// source's network or gRPC thread to the dispatch thread; the relay's consumer thread to
// its network thread). A bounded SPSC queue of pointers plus an eventfd doorbell: when the
// taker finds the queue empty it declares itself asleep and waits on the doorbell, which
// the producer rings after its next push (once per sleep). The flag is
// exchanged on both sides (a read-modify-write, as the ring's sleeping flag), the queue is
// pushed before it on one side and read after it on the other, so a push racing with the
// declaration is never left waiting for the runner's poll interval.
//
// Thread-safety: Push from one producer thread; Work from one taker thread.
#ifndef QLASTER_SHM_DOORBELL_QUEUE_H_
#define QLASTER_SHM_DOORBELL_QUEUE_H_

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "base/spsc_queue.h"
#include "base/status_macros.h"
#include "shm/event_fd.h"

namespace qlaster::shm {

template <typename T, size_t N>
class DoorbellQueue {
 public:
  static absl::StatusOr<std::unique_ptr<DoorbellQueue>> Create() {
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd doorbell, shm::EventFd::Create());
    return std::unique_ptr<DoorbellQueue>(new DoorbellQueue(std::move(doorbell)));
  }
  // Deletes what was never taken.
  ~DoorbellQueue() {
    while (std::optional<T*> v = queue_.Pop()) delete *v;
  }

  // Producer: queues `value` (ownership passes on success) and wakes the dispatch thread
  // if it said it would sleep. False, and nothing queued, when the queue is full.
  bool Push(std::unique_ptr<T>& value) {
    if (!queue_.Push(value.get())) return false;
    value.release();
    if (asleep_.exchange(false, std::memory_order_seq_cst)) doorbell_.Notify();
    return true;
  }

  // Taker: hands up to `max` queued values to `fn(std::unique_ptr<T>)` and returns how
  // many. When it returns 0 the taker is declared asleep: wait for doorbell_fd() to be
  // readable (or for a timeout) before the next call; the next push rings it.
  template <typename Fn>
  int Work(size_t max, Fn&& fn) {
    if (armed_) {
      uint64_t rings;
      (void)!::read(doorbell_.fd(), &rings, sizeof(rings));  // reset; EAGAIN if not rung
      asleep_.exchange(false, std::memory_order_seq_cst);
      armed_ = false;
    }
    int done = Drain(max, fn);
    if (done == 0) {
      asleep_.exchange(true, std::memory_order_seq_cst);
      done = Drain(max, fn);
      armed_ = true;  // reset at the next call, rung or not
    }
    return done;
  }

  int doorbell_fd() const { return doorbell_.fd(); }

 private:
  explicit DoorbellQueue(shm::EventFd doorbell) : doorbell_(std::move(doorbell)) {}

  template <typename Fn>
  int Drain(size_t max, Fn& fn) {
    int done = 0;
    while (static_cast<size_t>(done) < max) {
      std::optional<T*> next = queue_.Pop();
      if (!next) break;
      fn(std::unique_ptr<T>(*next));
      ++done;
    }
    return done;
  }

  SpscQueue<T*, N> queue_;
  const shm::EventFd doorbell_;
  std::atomic<bool> asleep_{false};  // the dispatch thread found the queue empty
  bool armed_ = false;               // dispatch thread: the doorbell may need a reset
};

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_DOORBELL_QUEUE_H_
