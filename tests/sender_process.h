// SenderProcess: the real qlaster-sender binary, started by a test in a private temporary
// directory, with its control socket and ingest ring named for that test, and always
// cleaned up (killed and reaped; the ingest ring unlinked).
#ifndef QLASTER_TESTS_SENDER_PROCESS_H_
#define QLASTER_TESTS_SENDER_PROCESS_H_

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "base/process.h"
#include "base/temp_dir.h"

namespace qlaster::testing {

// Connects a Unix stream socket to `path`; an invalid fd if nobody listens.
inline UniqueFd ConnectUnix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return UniqueFd();
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  return fd;
}

class SenderProcess {
 public:
  // Starts qlaster-sender with `extra_args` and waits (up to 10 s) until its socket accepts.
  // A test may start a second sender on the same `dir` (same socket and ingest ring) by
  // passing `same_as`.
  static absl::StatusOr<std::unique_ptr<SenderProcess>> Start(
      const std::string& binary, const std::string& dir, std::vector<std::string> extra_args = {},
      const SenderProcess* same_as = nullptr) {
    static int counter = 0;
    auto owner = std::unique_ptr<SenderProcess>(new SenderProcess());
    SenderProcess& p = *owner;
    p.socket_path_ = dir + "/sender.sock";
    p.ingest_name_ = same_as != nullptr ? same_as->ingest_name_
                                        : absl::StrCat("qlaster_test_", ::getpid(), "_", counter++);
    p.owns_ingest_ = same_as == nullptr;
    std::vector<std::string> argv = {binary,
                                     "--socket=" + p.socket_path_,
                                     "--source=ingest:" + p.ingest_name_,
                                     "--ingest_capacity=" + std::to_string(64 << 20),
                                     "--ingest_frame_size=1024",
                                     };
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(argv);
    if (!child.ok()) return child.status();
    p.child_.emplace(*std::move(child));
    absl::Status up = p.WaitUntilServing(absl::Seconds(10));
    if (!up.ok()) return up;
    return owner;
  }

  SenderProcess(const SenderProcess&) = delete;
  SenderProcess& operator=(const SenderProcess&) = delete;
  ~SenderProcess() {
    if (child_) child_->Kill();
    if (owns_ingest_) ::shm_unlink(("/" + ingest_name_).c_str());
  }

  absl::Status WaitUntilServing(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (ConnectUnix(socket_path_).valid()) return absl::OkStatus();
      int status;
      if (::waitpid(child_->pid(), &status, WNOHANG) == child_->pid()) {
        child_.reset();
        return absl::InternalError(absl::StrCat("qlaster-sender ", DescribeWaitStatus(status)));
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    return absl::DeadlineExceededError("qlaster-sender did not start serving");
  }

  const std::string& socket_path() const { return socket_path_; }
  const std::string& ingest_name() const { return ingest_name_; }
  ChildProcess& child() { return *child_; }

  // SIGTERM and wait for a clean exit; returns the wait status.
  absl::StatusOr<int> Terminate(absl::Duration timeout = absl::Seconds(10)) {
    ::kill(child_->pid(), SIGTERM);
    return child_->Wait(timeout);
  }

  // SIGKILL: the sender dies without cleaning up (its socket file stays behind).
  void KillHard() { child_->Kill(); }

 private:
  SenderProcess() = default;
  std::string socket_path_;
  std::string ingest_name_;
  bool owns_ingest_ = false;
  std::optional<ChildProcess> child_;
};

}  // namespace qlaster::testing

#endif  // QLASTER_TESTS_SENDER_PROCESS_H_
