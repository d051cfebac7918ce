// qlaster_test_publisher: a real sender with a fixed, known feed, for tests that run in
// another process or language (the C and Python tests, kill -9 tests).
//
//   qlaster_test_publisher --socket PATH
//       Serves PATH, prints "ready" on stdout once listening, publishes until SIGINT or
//       SIGTERM (or SIGKILL, which is the point of some tests).
//   qlaster_test_publisher --exec PROGRAM [ARGS...]
//       Serves a socket in a fresh temporary directory, runs PROGRAM with QLASTER_SOCKET
//       set to it, stops when PROGRAM exits and exits with its status.
//
// Every 2 ms it publishes one batch for slot N = 1000, 1001, ...: the slot (parent N-1,
// confirmed), account A (pubkey 0x11 * 32, owner 0x22 * 32, lamports 1'000'000 + N,
// rent_epoch 361, slot N, write_version N, txn signature 0x33 * 64, data "qlaster test
// account"), a non-vote transaction (slot N, index 7, signature 0x44 * 64, data DE AD BE
// EF) and a vote transaction (slot N, index 0, signature 0x55 * 64, data 01).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "sender/sender.h"

extern char** environ;

namespace {

using qlaster::sender::Dispatcher;

class FeedSource : public qlaster::sender::Source {
 public:
  std::string name() const override { return "test-feed"; }

  // One round (a slot, an account, a transaction, a vote) every 2 ms.
  absl::StatusOr<qlaster::sender::SourceWork> DoWork(Dispatcher& d, int64_t now_ns) override {
    if (now_ns < next_ns_) return qlaster::sender::SourceWork{.done = 0, .next_due_ns = next_ns_};
    next_ns_ = now_ns + 2'000'000;
    const uint64_t n = n_++;
    const std::string text = "qlaster test account";
    QLASTER_RETURN_IF_ERROR(
        d.PublishSlot({.slot = n, .parent = n - 1, .status = qlaster::SlotStatus::kConfirmed}));
    qlaster::AccountUpdate a;
    a.pubkey.fill(0x11);
    a.owner.fill(0x22);
    a.lamports = 1'000'000 + n;
    a.rent_epoch = 361;
    a.slot = n;
    a.write_version = n;
    a.txn_signature.emplace();
    a.txn_signature->fill(0x33);
    a.data.assign(text.begin(), text.end());
    QLASTER_RETURN_IF_ERROR(d.PublishAccount(a));
    qlaster::TransactionUpdate t;
    t.slot = n;
    t.index = 7;
    t.signature.fill(0x44);
    t.data = {0xde, 0xad, 0xbe, 0xef};
    QLASTER_RETURN_IF_ERROR(d.PublishTransaction(t));
    qlaster::TransactionUpdate v;
    v.slot = n;
    v.index = 0;
    v.signature.fill(0x55);
    v.is_vote = true;
    v.data = {0x01};
    QLASTER_RETURN_IF_ERROR(d.PublishTransaction(v));
    return qlaster::sender::SourceWork{.done = 4, .next_due_ns = next_ns_};
  }

 private:
  uint64_t n_ = 1000;
  int64_t next_ns_ = 0;
};

int Usage() {
  std::fprintf(stderr,
               "usage: qlaster_test_publisher --socket PATH\n"
               "       qlaster_test_publisher --exec PROGRAM [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string mode = argv[1];
  std::string dir;
  std::string path;
  if (mode == "--socket") {
    path = argv[2];
  } else if (mode == "--exec") {
    char tmpl[] = "/tmp/qlaster-publisher-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    path = dir + "/sender.sock";
  } else {
    return Usage();
  }

  qlaster::sender::SenderOptions options;
  options.control.socket_path = path;
  options.control.verbose = false;
  options.handle_signals = mode == "--socket";
  absl::StatusOr<std::unique_ptr<qlaster::sender::Sender>> sender =
      qlaster::sender::Sender::Create(options);
  if (!sender.ok()) {
    std::fprintf(stderr, "qlaster_test_publisher: %s\n", sender.status().ToString().c_str());
    return 1;
  }
  FeedSource feed;

  if (mode == "--socket") {
    std::printf("ready\n");
    std::fflush(stdout);
    absl::Status s = (*sender)->Run(&feed);
    return s.ok() ? 0 : 1;
  }

  std::thread runner([&] { (void)(*sender)->Run(&feed); });
  ::setenv("QLASTER_SOCKET", path.c_str(), 1);
  std::vector<char*> args(argv + 2, argv + argc);
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  int status = 0;
  if (rc != 0) {
    std::fprintf(stderr, "qlaster_test_publisher: cannot run %s: %s\n", args[0], std::strerror(rc));
  } else {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  (*sender)->Stop();
  runner.join();
  sender->reset();
  ::rmdir(dir.c_str());
  if (rc != 0) return 1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  std::fprintf(stderr, "qlaster_test_publisher: %s died of signal %d\n", args[0],
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return 1;
}
