// Status helpers shared by every qlaster library. Abseil 20220623 has no status macros,
// so the two we use are defined here, once.
#ifndef QLASTER_BASE_STATUS_MACROS_H_
#define QLASTER_BASE_STATUS_MACROS_H_

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not ok.
#define QLASTER_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    ::absl::Status qlaster_status_ = (expr);          \
    if (!qlaster_status_.ok()) return qlaster_status_; \
  } while (0)

// QLASTER_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); returns
// its status from the enclosing function if not ok, else moves the value into `lhs`,
// which may be a declaration (`auto x`, `const Foo& y` is not allowed) or an lvalue.
#define QLASTER_ASSIGN_OR_RETURN(lhs, expr) \
  QLASTER_ASSIGN_OR_RETURN_IMPL_(QLASTER_STATUS_CONCAT_(qlaster_statusor_, __LINE__), lhs, expr)
#define QLASTER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = *std::move(statusor)
#define QLASTER_STATUS_CONCAT_(a, b) QLASTER_STATUS_CONCAT_IMPL_(a, b)
#define QLASTER_STATUS_CONCAT_IMPL_(a, b) a##b

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

#endif  // QLASTER_BASE_STATUS_MACROS_H_
