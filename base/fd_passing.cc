// sendmsg/recvmsg with SCM_RIGHTS, written so that no received descriptor can leak on any
// path. See fd_passing.h.
#include "base/fd_passing.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace qlaster {
namespace {

// Control buffer big enough for kMaxFdsPerMessage descriptors, aligned as a cmsghdr must
// be.
union ControlBuffer {
  char bytes[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  cmsghdr align;
};

absl::Status WaitWritable(int sock) {
  pollfd pfd{.fd = sock, .events = POLLOUT, .revents = 0};
  while (true) {
    const int rc = ::poll(&pfd, 1, -1);
    if (rc >= 0) return absl::OkStatus();  // POLLERR/POLLHUP: the next send reports it
    if (errno != EINTR) return ErrnoStatus(errno, "poll for writability");
  }
}

}  // namespace

absl::Status SendWithFds(int sock, absl::Span<const uint8_t> bytes,
                         absl::Span<const int> fds) {
  if (!fds.empty() && bytes.empty()) {
    return absl::InvalidArgumentError(
        "SendWithFds: fds need at least one byte to ride with on a stream socket");
  }
  if (fds.size() > kMaxFdsPerMessage) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SendWithFds: %d fds, the kernel accepts at most %d", fds.size(),
                        kMaxFdsPerMessage));
  }

  ControlBuffer control;
  size_t sent = 0;
  bool fds_sent = fds.empty();
  while (sent < bytes.size()) {
    iovec iov{.iov_base = const_cast<uint8_t*>(bytes.data() + sent),
              .iov_len = bytes.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds_sent) {
      const size_t fd_bytes = sizeof(int) * fds.size();
      std::memset(control.bytes, 0, CMSG_SPACE(fd_bytes));
      msg.msg_control = control.bytes;
      msg.msg_controllen = CMSG_SPACE(fd_bytes);
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(fd_bytes);
      std::memcpy(CMSG_DATA(cmsg), fds.data(), fd_bytes);
    }
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        QLASTER_RETURN_IF_ERROR(WaitWritable(sock));
        continue;
      }
      return ErrnoStatus(errno, "sendmsg");
    }
    if (n == 0) {
      // Not expected for a non-empty stream send; refuse to spin on it.
      return absl::UnavailableError("sendmsg sent nothing");
    }
    // The kernel attaches the fds to the first chunk it accepts, however short.
    fds_sent = true;
    sent += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<ReceivedMessage> ReceiveWithFds(int sock, absl::Span<uint8_t> buf,
                                               size_t max_fds) {
  if (buf.empty()) {
    return absl::InvalidArgumentError("ReceiveWithFds: empty buffer");
  }
  if (max_fds > kMaxFdsPerMessage) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ReceiveWithFds: max_fds %d exceeds %d", max_fds, kMaxFdsPerMessage));
  }

  ControlBuffer control;
  iovec iov{.iov_base = buf.data(), .iov_len = buf.size()};
  msghdr msg{};
  ssize_t n;
  while (true) {
    msg = msghdr{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (max_fds > 0) {
      // CMSG_SPACE rounds up, so the kernel may deliver a few more than max_fds; those are
      // caught below rather than silently accepted.
      msg.msg_control = control.bytes;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
    }
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReceivedMessage{};
    return ErrnoStatus(errno, "recvmsg");
  }

  // Take ownership of every descriptor first, so each error return below closes them all.
  ReceivedMessage out;
  out.bytes = static_cast<size_t>(n);
  bool unexpected_cmsg = false;
  int bad_level = 0;
  int bad_type = 0;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr;
       cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const unsigned char* data = CMSG_DATA(cmsg);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, data + i * sizeof(int), sizeof(int));
        out.fds.emplace_back(fd);
      }
    } else if (!unexpected_cmsg) {
      unexpected_cmsg = true;
      bad_level = cmsg->cmsg_level;
      bad_type = cmsg->cmsg_type;
    }
  }

  if (msg.msg_flags & MSG_CTRUNC) {
    return absl::DataLossError(absl::StrFormat(
        "control data truncated: the peer sent more descriptors than fit (room for %d, "
        "%d arrived and were closed)",
        max_fds, out.fds.size()));
  }
  if (unexpected_cmsg) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unexpected control message level %d type %d (only SCM_RIGHTS is accepted); "
        "%d received fds closed",
        bad_level, bad_type, out.fds.size()));
  }
  if (out.fds.size() > max_fds) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "received %d fds, at most %d expected; all closed", out.fds.size(), max_fds));
  }
  if (n == 0 && out.fds.empty()) {
    return absl::UnavailableError("peer closed the connection");
  }
  return out;
}

}  // namespace qlaster
