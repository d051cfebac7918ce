// What scenarios that run qlaster's own binaries as child processes share: finding the
// binaries, starting one with its output in a log (quoted when it fails), and reading a
// process's CPU time (a running sender's counters: QuerySenderStats, wire/control_framing.h).
#ifndef QLASTER_TOOLS_BENCH_PROCESSES_H_
#define QLASTER_TOOLS_BENCH_PROCESSES_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/process.h"
#include "wire/control_framing.h"

namespace qlaster::bench {

// `name` installed beside the running qlaster-bench, else `build_tree_path` (in the build
// tree each binary lives in its own folder).
std::string BinaryBeside(const std::string& name, const std::string& build_tree_path);

// utime + stime of every thread of `pid`, ns (clock ticks: 10 ms resolution, so measure
// over seconds).
absl::StatusOr<uint64_t> ProcessCpuNs(pid_t pid);

// The last `max_bytes` of a log file, on one line ("(empty)" for none).
std::string LogTail(const std::string& path, size_t max_bytes = 600);

// A program running as a child, its stdout and stderr in `log_path`. Killed (SIGKILL) on
// destruction unless stopped.
class Program {
 public:
  // `fds`: more (parent fd, child fd) pairs, as ChildProcess::Spawn takes them (a pipe
  // for its stdin, say).
  static absl::StatusOr<Program> Start(std::string name, std::vector<std::string> argv,
                                       std::string log_path,
                                       const std::vector<std::pair<int, int>>& fds = {});

  pid_t pid() const { return process_->pid(); }
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }

  // OK while it runs; otherwise how it ended, with the tail of its log.
  absl::Status Alive();
  // As Stop, for a program that may also have ended by itself (with 0) already: true when
  // it was stopped, false when it had ended.
  absl::StatusOr<bool> StopIfRunning(absl::Duration timeout = absl::Seconds(10));
  // SIGTERM; it must exit 0 within `timeout`.
  absl::Status Stop(absl::Duration timeout = absl::Seconds(10));
  // An error about this program, with the tail of its log.
  absl::Status Failed(const std::string& how) const;

 private:
  Program(std::string name, std::string log_path, ChildProcess process)
      : name_(std::move(name)), log_path_(std::move(log_path)), process_(std::move(process)) {}
  std::string name_;
  std::string log_path_;
  std::optional<ChildProcess> process_;
  std::optional<int> ended_;  // its wait status, once Alive found it ended by itself
};

// Waits until `ready` returns true, failing early when any of `programs` ends, or with
// kDeadlineExceeded (and `what`) after `timeout`.
absl::Status WaitFor(const std::string& what, absl::Duration timeout,
                     const std::vector<Program*>& programs,
                     const std::function<bool()>& ready);

}  // namespace qlaster::bench

#endif  // QLASTER_TOOLS_BENCH_PROCESSES_H_
