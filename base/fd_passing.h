// Passing file descriptors over a Unix stream socket with SCM_RIGHTS. The sender hands
// each consumer its ring (a /dev/shm file, already unlinked) and its eventfd this way,
// alongside the Ready control message.
//
// Stream-socket semantics that callers must know:
//  * The fds ride with the first byte of the bytes passed to SendWithFds. On the
//    receiving side one recvmsg never returns data from beyond a message that carries fds,
//    but it may return bytes sent *before* that message together with it. So a receiver
//    should read every chunk with ReceiveWithFds, keep any fds it gets in arrival order,
//    and hand them to the control message they belong to (Ready) once that is parsed.
//  * Any error from either function leaves the stream in an unknown state (bytes may
//    have been lost); the caller must close the connection.
//
// Both functions are thread-compatible: do not call them concurrently on the same socket
// in the same direction. Depends on libc and Abseil only.
#ifndef QLASTER_BASE_FD_PASSING_H_
#define QLASTER_BASE_FD_PASSING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/unique_fd.h"

namespace qlaster {

// The kernel refuses more than SCM_MAX_FD (253) descriptors in one message.
inline constexpr size_t kMaxFdsPerMessage = 253;

// Sends all of `bytes` on the connected stream socket `sock`, attaching `fds` (which stay
// owned by the caller; the receiver gets duplicates) to the first byte. Retries on EINTR
// and short sends (the rest goes without fds); on EAGAIN waits with poll() until the
// socket is writable, so it blocks even on a nonblocking socket. Uses MSG_NOSIGNAL: a
// closed peer is kUnavailable, never SIGPIPE.
// REQUIRES: bytes is non-empty if fds is non-empty (a stream socket cannot carry fds
//           without data; this is checked and reported as kInvalidArgument), and
//           fds.size() <= kMaxFdsPerMessage.
absl::Status SendWithFds(int sock, absl::Span<const uint8_t> bytes,
                         absl::Span<const int> fds);

// What one ReceiveWithFds call got. The fds are owned by this struct, close-on-exec, in
// the order the peer sent them.
struct ReceivedMessage {
  size_t bytes = 0;  // bytes written to the front of the caller's buffer
  std::vector<UniqueFd> fds;
};

// One recvmsg() on `sock` into `buf`, accepting up to `max_fds` descriptors (received
// with MSG_CMSG_CLOEXEC). Retries on EINTR. Returns:
//  * ok with bytes > 0: data (and maybe fds) arrived;
//  * ok with bytes == 0 and no fds: the socket is nonblocking and nothing is ready
//    (EAGAIN); wait for readability and call again. EOF is never reported this way;
//  * kUnavailable: the peer closed the connection (EOF) or reset it;
//  * kDataLoss: the kernel truncated the control data (MSG_CTRUNC, e.g. the peer sent
//    more fds than fit): fds that did arrive are closed;
//  * kInvalidArgument: more than `max_fds` fds, or a control message other than
//    SCM_RIGHTS (e.g. SCM_CREDENTIALS when SO_PASSCRED is on): every received fd is
//    closed. The control buffer has room for `max_fds` descriptors and no more, so a
//    foreign control message that does not fit beside them shows up as kDataLoss.
// No fd is ever leaked: on any error return, every received descriptor has been closed.
// REQUIRES: buf is non-empty; max_fds <= kMaxFdsPerMessage.
absl::StatusOr<ReceivedMessage> ReceiveWithFds(int sock, absl::Span<uint8_t> buf,
                                               size_t max_fds);

}  // namespace qlaster

#endif  // QLASTER_BASE_FD_PASSING_H_
