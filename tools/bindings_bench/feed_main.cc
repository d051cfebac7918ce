// qlaster_bindings_feed: a real sender that publishes account updates on demand, for the
// bindings benchmark (run.py beside this file).
//
//   qlaster_bindings_feed SOCKET
// Prints "ready" once listening. Each line "N" on stdin makes it publish N account
// updates (pubkey 0x11 * 32, owner 0x22 * 32, 165 bytes of data: an SPL Token account's
// size, lamports counting up) as fast as the dispatcher goes; it prints "published N"
// once all are in the consumers' rings. EOF on stdin stops it.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/status_macros.h"
#include "sender/sender.h"

namespace {

using qlaster::sender::Dispatcher;

class OnDemandSource : public qlaster::sender::Source {
 public:
  std::string name() const override { return "bindings-feed"; }

  absl::StatusOr<qlaster::sender::SourceWork> DoWork(Dispatcher& d, int64_t now_ns) override {
    uint64_t want = requested_.load(std::memory_order_acquire);
    if (want == 0) {
      return qlaster::sender::SourceWork{.done = 0, .next_due_ns = now_ns + 100'000};
    }
    qlaster::AccountUpdate a;
    a.pubkey.fill(0x11);
    a.owner.fill(0x22);
    a.rent_epoch = 361;
    a.data.assign(165, 0x5a);
    int done = 0;
    for (; done < 1024 && published_ < want; ++done) {
      ++published_;
      a.lamports = published_;
      a.slot = 1000 + published_ / 1000;
      a.write_version = published_;
      QLASTER_RETURN_IF_ERROR(d.PublishAccount(a));
    }
    if (published_ == want) {
      const uint64_t n = published_ - round_start_.load(std::memory_order_relaxed);
      round_start_.store(published_, std::memory_order_relaxed);
      requested_.store(0, std::memory_order_release);
      std::printf("published %lu\n", static_cast<unsigned long>(n));
      std::fflush(stdout);
    }
    return qlaster::sender::SourceWork{.done = done, .next_due_ns = now_ns};
  }

  // Called from the stdin thread: publish `n` more (one round at a time).
  // REQUIRES: the previous round was reported published.
  void Request(uint64_t n) {
    requested_.store(round_start_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

 private:
  std::atomic<uint64_t> requested_{0};  // total to have published; 0: idle
  uint64_t published_ = 0;
  std::atomic<uint64_t> round_start_{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: qlaster_bindings_feed SOCKET\n");
    return 2;
  }
  qlaster::sender::SenderOptions options;
  options.control.socket_path = argv[1];
  options.control.verbose = false;
  options.handle_signals = true;
  absl::StatusOr<std::unique_ptr<qlaster::sender::Sender>> sender =
      qlaster::sender::Sender::Create(options);
  if (!sender.ok()) {
    std::fprintf(stderr, "qlaster_bindings_feed: %s\n", sender.status().ToString().c_str());
    return 1;
  }
  OnDemandSource feed;
  std::thread input([&] {
    char line[64];
    while (std::fgets(line, sizeof(line), stdin) != nullptr) {
      feed.Request(std::strtoull(line, nullptr, 10));
    }
    (*sender)->Stop();
  });
  std::printf("ready\n");
  std::fflush(stdout);
  input.detach();  // ends with the process, whether stdin closed or a signal stopped Run
  const absl::Status s = (*sender)->Run(&feed);
  return s.ok() ? 0 : 1;
}
