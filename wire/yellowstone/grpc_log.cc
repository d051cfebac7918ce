#include "wire/yellowstone/grpc_log.h"

#include <grpc/support/log.h>

#include <cstring>
#include <string_view>

#include "base/log.h"

namespace qlaster::yellowstone {
namespace {

void Route(gpr_log_func_args* args) {
  // gRPC's info lines are its internals (subchannel states, epoll fds): debug here.
  const log::Level level =
      args->severity == GPR_LOG_SEVERITY_ERROR ? log::Level::kWarning : log::Level::kDebug;
  if (!log::Enabled(level)) return;
  // One limiter for all of gRPC's lines: a peer in a reconnect loop makes the same few
  // lines over and over.
  static log::RateLimiter limiter(20, 1'000'000'000);
  uint64_t suppressed = 0;
  if (!limiter.Allow(&suppressed)) return;
  const char* file = args->file != nullptr ? args->file : "?";
  if (const char* slash = std::strrchr(file, '/')) file = slash + 1;
  log::Write(level,
             absl::StrFormat("grpc: %s:%d: %s", file, args->line,
                             args->message != nullptr ? args->message : ""),
             suppressed);
}

}  // namespace

void RouteGrpcLogs() {
  // gRPC filters by its own verbosity (GRPC_VERBOSITY, default error) before it formats a
  // line: set it from --log_level, so that lines nobody asked for cost nothing.
  gpr_set_log_verbosity(log::Enabled(log::Level::kDebug) ? GPR_LOG_SEVERITY_DEBUG
                                                         : GPR_LOG_SEVERITY_ERROR);
  gpr_set_log_function(&Route);
}

}  // namespace qlaster::yellowstone
