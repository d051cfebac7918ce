// EventFd.
#include "shm/event_fd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "base/status_macros.h"

namespace qlaster::shm {

absl::StatusOr<EventFd> EventFd::Create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return ErrnoStatus(errno, "eventfd");
  return EventFd(UniqueFd(fd));
}

void EventFd::Notify() const {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: the reader will wake anyway.
  while (::write(fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

absl::StatusOr<bool> EventFd::WaitFor(absl::Duration timeout, int also_fd) const {
  // Straight to ppoll: a doorbell rung already makes it return at once, and the common
  // case (nothing yet) saves the read(2) that would only say EAGAIN.
  uint64_t value = 0;
  pollfd pfds[2] = {{fd_.get(), POLLIN, 0}, {also_fd, POLLIN, 0}};
  pollfd& pfd = pfds[0];
  // ppoll, not poll: sub-millisecond timeouts must not round to a busy 0 ms.
  timespec ts = absl::ToTimespec(timeout < absl::ZeroDuration() ? absl::ZeroDuration() : timeout);
  int rc = ::ppoll(pfds, also_fd >= 0 ? 2 : 1,
                   timeout == absl::InfiniteDuration() ? nullptr : &ts, nullptr);
  if (rc < 0) {
    if (errno == EINTR) return false;
    return ErrnoStatus(errno, "poll on eventfd");
  }
  if (rc == 0) return false;
  if (pfd.revents & (POLLERR | POLLNVAL)) return absl::InternalError("eventfd poll error");
  if (::read(fd_.get(), &value, sizeof(value)) == sizeof(value)) return true;
  if (errno != EAGAIN && errno != EINTR) return ErrnoStatus(errno, "eventfd read");
  return false;
}

}  // namespace qlaster::shm
