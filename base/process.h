// ChildProcess: a process this one started, always cleaned up.
//
// Tests, qlaster-bench and the soak tools start their peers with posix_spawn (or fork, for
// a function of the same binary), hand them fds at fixed numbers, wait for them with a
// deadline (never a fixed sleep), and kill them if they end early: the destructor sends
// SIGKILL and reaps.
#ifndef QLASTER_BASE_PROCESS_H_
#define QLASTER_BASE_PROCESS_H_

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern char** environ;

namespace qlaster {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`. Each (from, to) in `fds` makes the child's fd `to` a copy
  // of the parent's `from` (close-on-exec cleared); stdout/stderr are inherited.
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                            const std::vector<std::pair<int, int>>& fds = {}) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    for (auto [from, to] : fds) posix_spawn_file_actions_adddup2(&actions, from, to);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return absl::InternalError(absl::StrCat("posix_spawn ", argv[0], ": ", rc));
    return ChildProcess(pid);
  }

  // Forks a child that runs `body` and exits with its return value (never returning into
  // the caller's code). Fork only while the caller has no other thread: the child gets a
  // copy of this one thread alone. MAP_SHARED mappings and fds are shared with the child.
  static absl::StatusOr<ChildProcess> Fork(const std::function<int()>& body) {
    std::fflush(nullptr);  // no buffered output is written twice
    pid_t pid = ::fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      int rc = body();
      std::fflush(nullptr);
      ::_exit(rc);
    }
    return ChildProcess(pid);
  }

  ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept {
    if (this != &o) {
      Kill();
      pid_ = std::exchange(o.pid_, -1);
    }
    return *this;
  }
  ~ChildProcess() { Kill(); }

  pid_t pid() const { return pid_; }

  // Waits until the child exits or `timeout` passes. Returns the raw wait status, or
  // kDeadlineExceeded (the child is then still running; the destructor kills it).
  absl::StatusOr<int> Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::Duration backoff = absl::Microseconds(50);
    for (;;) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (r < 0) return absl::InternalError("waitpid failed");
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat("child ", pid_, " still running"));
      }
      absl::SleepFor(backoff);  // polling a condition with a deadline, not a fixed delay
      backoff = std::min(backoff * 2, absl::Milliseconds(20));
    }
  }

  // SIGKILL and reap. No-op once the child has been waited for.
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// "exited 0", "exited 3", "killed by signal 9".
inline std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

}  // namespace qlaster

#endif  // QLASTER_BASE_PROCESS_H_
