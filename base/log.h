// Logging: one line per event, with a time, a level and the program's name, human by
// default or JSON lines by option; and rate limits, so that a misbehaving peer (a writer
// that laps the ingest ring a million times, a client in a reconnect loop) costs a few
// lines per second, never a flood, and says how much it held back.
//
//   QLASTER_LOG(kInfo, "serving %s", path);
//   QLASTER_LOG_RATE_LIMITED(kWarning, "ingest frame at %d rejected: %s", pos, why);
//
// Human:  2026-12-01T20:13:55.123456Z W qlaster-sender: ingest frame at 7 rejected: ...
// JSON:   {"time":"2026-12-01T20:13:55.123456Z","level":"warning","program":"qlaster-sender",
//          "message":"ingest frame at 7 rejected: ...","suppressed":12}
//
// "suppressed" (human: "[12 similar lines suppressed]") counts the lines the same call
// site held back since the last line it let through.
//
// Thread-safety: Configure() once at start-up, before other threads log. Everything else
// may be called from any thread; each line is written with one write(2), so lines from
// different threads never interleave.
#ifndef QLASTER_BASE_LOG_H_
#define QLASTER_BASE_LOG_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace qlaster::log {

enum class Level : uint8_t { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format : uint8_t { kHuman, kJson };

struct Options {
  std::string program = "qlaster";
  Level min_level = Level::kInfo;
  Format format = Format::kHuman;
  int fd = 2;  // stderr; not closed
};

void Configure(Options options);

// "debug", "info", "warning" (or "warn"), "error"; kInvalidArgument otherwise.
absl::StatusOr<Level> ParseLevel(std::string_view name);
// "debug", "info", "warning", "error": what ParseLevel reads back.
const char* LevelName(Level level);
// "human" or "json"; kInvalidArgument otherwise.
absl::StatusOr<Format> ParseFormat(std::string_view name);

bool Enabled(Level level);

// Writes one line (a trailing newline in `message` is dropped; others are escaped in
// JSON and kept in human form).
void Write(Level level, std::string_view message, uint64_t suppressed = 0);

// Lets `burst` events through, then one per `interval_ns`, refilling at that rate; the
// events it refuses are counted and reported with the next one it lets through.
// Lock-free; constexpr so that a function-local static needs no guard.
class RateLimiter {
 public:
  constexpr RateLimiter(uint32_t burst, int64_t interval_ns)
      : burst_(burst), interval_ns_(interval_ns) {}

  // True if this event may be logged; then *suppressed is how many were refused since
  // the last allowed one.
  bool Allow(uint64_t* suppressed);

 private:
  const uint32_t burst_;
  const int64_t interval_ns_;
  // The time (CLOCK_MONOTONIC ns) at which the bucket is full again; 0: full.
  std::atomic<int64_t> full_at_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace qlaster::log

// Logs a printf-style message (absl::StrFormat) at `level` (kDebug, kInfo, kWarning,
// kError). The arguments are not evaluated when the level is disabled.
#define QLASTER_LOG(level, ...)                                                          \
  do {                                                                                   \
    if (::qlaster::log::Enabled(::qlaster::log::Level::level)) {                         \
      ::qlaster::log::Write(::qlaster::log::Level::level, ::absl::StrFormat(__VA_ARGS__)); \
    }                                                                                    \
  } while (0)

// As QLASTER_LOG, at most 20 lines at once and then one per second from this call site.
#define QLASTER_LOG_RATE_LIMITED(level, ...)                                                \
  do {                                                                                      \
    static ::qlaster::log::RateLimiter qlaster_log_limiter_(20, 1'000'000'000);             \
    uint64_t qlaster_log_suppressed_ = 0;                                                   \
    if (::qlaster::log::Enabled(::qlaster::log::Level::level) &&                            \
        qlaster_log_limiter_.Allow(&qlaster_log_suppressed_)) {                             \
      ::qlaster::log::Write(::qlaster::log::Level::level, ::absl::StrFormat(__VA_ARGS__),   \
                            qlaster_log_suppressed_);                                       \
    }                                                                                       \
  } while (0)

#endif  // QLASTER_BASE_LOG_H_
