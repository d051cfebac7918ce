// The Prometheus text format, and the process metrics from /proc/self.
#include "metrics/prometheus.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace qlaster::metrics {

namespace {

// A label value with \, " and newline escaped, as the format requires.
std::string Escape(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Reads a whole small file (a /proc entry); empty on failure.
std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void PrometheusWriter::Family(absl::string_view name, absl::string_view type,
                              absl::string_view help) {
  name_ = std::string(name);
  absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void PrometheusWriter::Sample(std::initializer_list<absl::string_view> labels, double value) {
  out_ += name_;
  if (labels.size() > 0) {
    out_ += '{';
    bool first = true;
    for (auto it = labels.begin(); it != labels.end(); it += 2) {
      if (!first) out_ += ',';
      first = false;
      absl::StrAppend(&out_, *it, "=\"", Escape(*(it + 1)), "\"");
    }
    out_ += '}';
  }
  // %.15g: integers up to 10^15 exactly (absl::StrCat keeps only six digits).
  absl::StrAppend(&out_, " ", absl::StrFormat("%.15g", value), "\n");
}

void PrometheusWriter::One(absl::string_view name, absl::string_view type,
                           absl::string_view help, double value) {
  Family(name, type, help);
  Sample(value);
}

std::string SnakeCaseLabel(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

ProcessMetrics ReadProcessMetrics() {
  ProcessMetrics p;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const long page = ::sysconf(_SC_PAGESIZE);
  // /proc/self/stat: "pid (comm) state ppid ...": fields after the comm's closing paren.
  const std::string stat = ReadSmallFile("/proc/self/stat");
  if (const size_t paren = stat.rfind(')'); paren != std::string::npos && ticks > 0) {
    std::vector<absl::string_view> f = absl::StrSplit(
        absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
    // f[0] is field 3 (state): field N is f[N - 3].
    auto field = [&](size_t n) -> uint64_t {
      uint64_t v = 0;
      if (n - 3 < f.size()) (void)absl::SimpleAtoi(f[n - 3], &v);
      return v;
    };
    p.cpu_seconds = static_cast<double>(field(14) + field(15)) / ticks;
    p.threads = field(20);
    p.virtual_bytes = field(23);
    p.resident_bytes = field(24) * static_cast<uint64_t>(page);
    uint64_t boot = 0;
    for (absl::string_view line : absl::StrSplit(ReadSmallFile("/proc/stat"), '\n')) {
      if (absl::ConsumePrefix(&line, "btime ")) (void)absl::SimpleAtoi(line, &boot);
    }
    p.start_time_seconds = static_cast<double>(boot) + static_cast<double>(field(22)) / ticks;
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++p.open_fds;
    }
    ::closedir(dir);
    if (p.open_fds > 0) --p.open_fds;  // the directory's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  return p;
}

void WriteProcessMetrics(const ProcessMetrics& p, PrometheusWriter& w) {
  w.One("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
        p.cpu_seconds);
  w.One("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        static_cast<double>(p.resident_bytes));
  w.One("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        static_cast<double>(p.virtual_bytes));
  w.One("process_open_fds", "gauge", "Open file descriptors.", static_cast<double>(p.open_fds));
  w.One("process_max_fds", "gauge", "The limit of open file descriptors.",
        static_cast<double>(p.max_fds));
  w.One("process_start_time_seconds", "gauge", "Start time since the Unix epoch, in seconds.",
        p.start_time_seconds);
  w.One("process_threads", "gauge", "Threads of the process.", static_cast<double>(p.threads));
}

}  // namespace qlaster::metrics
