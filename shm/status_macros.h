// Status helpers shared by every qlaster library. Abseil 20220623 has no status macros,
// so the one we use is defined here, once.
#ifndef QLASTER_SHM_STATUS_MACROS_H_
#define QLASTER_SHM_STATUS_MACROS_H_

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not ok.
#define QLASTER_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::absl::Status qlaster_status_ = (expr);          \
    if (!qlaster_status_.ok()) return qlaster_status_; \
  } while (0)

namespace qlaster {

// Maps an errno value to the absl code a caller can act on, with `what` and strerror.
inline absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EAGAIN:
      return absl::UnavailableError(message);
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace qlaster

#endif  // QLASTER_SHM_STATUS_MACROS_H_
