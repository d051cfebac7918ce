// EventFd: the doorbell a producer rings to wake a sleeping consumer.
//
// The ring protocol (shm/spsc_ring.h) makes the producer ring it only when the consumer has
// declared that it is going to sleep, so an awake consumer costs no syscall per message.
#ifndef QLASTER_SHM_EVENT_FD_H_
#define QLASTER_SHM_EVENT_FD_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"

namespace qlaster::shm {

// Thread-safe: Notify() and WaitFor() may be called from different threads or processes
// (each holding its own fd for the same eventfd).
class EventFd {
 public:
  EventFd() = default;
  // Takes ownership of an eventfd received from another process.
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}

  // A new non-blocking, close-on-exec eventfd.
  static absl::StatusOr<EventFd> Create();

  // Adds one to the counter. Never blocks; a saturated counter already means "wake up".
  void Notify() const;

  // Blocks until the counter is non-zero or `timeout` passes, then resets the counter.
  // Returns true if it was notified. EINTR counts as a (spurious) return of false.
  // If `also_fd` >= 0, also returns (false) as soon as that fd is readable or hung up: a
  // consumer waits on its doorbell and its control socket at once.
  absl::StatusOr<bool> WaitFor(absl::Duration timeout, int also_fd = -1) const;

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

 private:
  UniqueFd fd_;
};

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_EVENT_FD_H_
