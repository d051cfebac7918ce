// Logging: formatting, the one write per line, rate limits. See log.h.
#include "base/log.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/clock.h"

namespace qlaster::log {
namespace {

// Written once by Configure (before other threads), then only read.
Options& Config() {
  static Options* options = new Options();
  return *options;
}

char LevelLetter(Level level) { return absl::ascii_toupper(LevelName(level)[0]); }

// 2026-12-01T20:13:55.123456Z
std::string Timestamp() {
  const uint64_t ns = RealtimeNs();
  const time_t seconds = static_cast<time_t>(ns / 1'000'000'000);
  tm utc;
  ::gmtime_r(&seconds, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return absl::StrFormat("%s.%06dZ", absl::string_view(buf, n), (ns % 1'000'000'000) / 1000);
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void WriteAll(int fd, std::string_view line) {
  while (!line.empty()) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n > 0) {
      line.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // nowhere to report a failing log; never block or crash for it
    }
  }
}

}  // namespace

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

void Configure(Options options) { Config() = std::move(options); }

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warning" || name == "warn") return Level::kWarning;
  if (name == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("log level '", std::string(name), "' is not debug, info, warning or error"));
}

absl::StatusOr<Format> ParseFormat(std::string_view name) {
  if (name == "human") return Format::kHuman;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("log format '", std::string(name), "' is not human or json"));
}

bool Enabled(Level level) { return level >= Config().min_level; }

void Write(Level level, std::string_view message, uint64_t suppressed) {
  const Options& o = Config();
  if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  std::string line;
  line.reserve(message.size() + 96);
  if (o.format == Format::kJson) {
    line.append("{\"time\":");
    AppendJsonString(&line, Timestamp());
    line.append(",\"level\":");
    AppendJsonString(&line, LevelName(level));
    line.append(",\"program\":");
    AppendJsonString(&line, o.program);
    line.append(",\"message\":");
    AppendJsonString(&line, message);
    if (suppressed > 0) absl::StrAppend(&line, ",\"suppressed\":", suppressed);
    line.append("}\n");
  } else {
    absl::StrAppend(&line, Timestamp(), " ", std::string(1, LevelLetter(level)), " ", o.program,
                    ": ");
    line.append(message);
    if (suppressed > 0) absl::StrAppend(&line, " [", suppressed, " similar lines suppressed]");
    line.push_back('\n');
  }
  WriteAll(o.fd, line);
}

bool RateLimiter::Allow(uint64_t* suppressed) {
  // A token bucket kept as one number: the time at which it would be full again. An
  // event costs interval_ns_; the bucket holds burst_ events.
  const int64_t now = MonotonicNs();
  const int64_t capacity_ns = interval_ns_ * burst_;
  int64_t full_at = full_at_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t start = full_at < now ? now : full_at;
    const int64_t next = start + interval_ns_;
    if (next - now > capacity_ns) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (full_at_.compare_exchange_weak(full_at, next, std::memory_order_relaxed)) break;
  }
  *suppressed = refused_.exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace qlaster::log
