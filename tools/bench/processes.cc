#include "tools/bench/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/unique_fd.h"

namespace qlaster::bench {

std::string BinaryBeside(const std::string& name, const std::string& build_tree_path) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path beside = self.parent_path() / name;
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return build_tree_path;
}

absl::StatusOr<uint64_t> ProcessCpuNs(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "PID (comm) state ppid ...": comm may hold spaces and parentheses; fields follow the last ')'.
  const size_t close = text.rfind(')');
  if (!in.good() && text.empty()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  if (close == std::string::npos) {
    return absl::DataLossError(absl::StrCat(path, ": unexpected format"));
  }
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (!fields) return absl::DataLossError(absl::StrCat(path, ": too few fields"));
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return (utime + stime) * (1'000'000'000u / static_cast<uint64_t>(ticks > 0 ? ticks : 100));
}

std::string LogTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text.empty() ? "(empty)" : text;
}

absl::StatusOr<Program> Program::Start(std::string name, std::vector<std::string> argv,
                                       std::string log_path,
                                       const std::vector<std::pair<int, int>>& fds) {
  if (argv.empty() || ::access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(name, ": no program at ", argv.empty() ? "" : argv[0],
                                            " (build it, or install it beside qlaster-bench)"));
  }
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) return ErrnoStatus(errno, absl::StrCat("open ", log_path));
  std::vector<std::pair<int, int>> all = fds;
  all.emplace_back(log.get(), 1);
  all.emplace_back(log.get(), 2);
  QLASTER_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::Spawn(argv, all));
  return Program(std::move(name), std::move(log_path), std::move(child));
}

absl::Status Program::Failed(const std::string& how) const {
  return absl::InternalError(absl::StrCat(name_, " ", how, "; its log: ", LogTail(log_path_)));
}

absl::Status Program::Alive() {
  if (!process_) return Failed("was stopped");
  absl::StatusOr<int> st = process_->Wait(absl::ZeroDuration());
  if (absl::IsDeadlineExceeded(st.status())) return absl::OkStatus();
  if (!st.ok()) return st.status();
  process_.reset();
  ended_ = *st;
  return Failed(DescribeWaitStatus(*st));
}

absl::StatusOr<bool> Program::StopIfRunning(absl::Duration timeout) {
  if (process_ && Alive().ok()) {
    QLASTER_RETURN_IF_ERROR(Stop(timeout));
    return true;
  }
  if (!ended_) return Failed("was stopped");
  if (!WIFEXITED(*ended_) || WEXITSTATUS(*ended_) != 0) return Failed(DescribeWaitStatus(*ended_));
  return false;
}

absl::Status Program::Stop(absl::Duration timeout) {
  QLASTER_RETURN_IF_ERROR(Alive());
  ::kill(process_->pid(), SIGTERM);
  absl::StatusOr<int> st = process_->Wait(timeout);
  if (!st.ok()) return Failed(absl::StrCat("did not exit within ", absl::FormatDuration(timeout), " of SIGTERM"));
  process_.reset();
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    return Failed(absl::StrCat(DescribeWaitStatus(*st), " on SIGTERM"));
  }
  return absl::OkStatus();
}

absl::Status WaitFor(const std::string& what, absl::Duration timeout,
                     const std::vector<Program*>& programs, const std::function<bool()>& ready) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Microseconds(100);
  for (;;) {
    if (ready()) return absl::OkStatus();
    for (Program* p : programs) QLASTER_RETURN_IF_ERROR(p->Alive());
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(what, ": not within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(backoff);  // polling a condition, bounded by the deadline
    backoff = std::min(backoff * 2, absl::Milliseconds(20));
  }
}

}  // namespace qlaster::bench
