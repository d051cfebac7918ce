// Sender: the whole sender engine — dispatcher, control server and its sources — as a
// library, so that the daemon (sender/main.cc) is a thin flag parser and tests run the
// real engine.
//
// Threads: Run() runs the control plane on the calling thread and the sources on a
// dispatch thread of its own (one SourceRunner for all of them). Stop() may be called
// from any thread; SIGINT and SIGTERM call it too while Run() is running.
#ifndef QLASTER_SENDER_SENDER_H_
#define QLASTER_SENDER_SENDER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sender/control_server.h"
#include "sender/dispatcher.h"
#include "sender/source.h"
#include "sender/source_runner.h"
#include "wire/lz4_policy.h"

namespace qlaster::sender {

struct SenderOptions {
  ControlOptions control;
  Lz4Policy lz4;
  // The dispatcher's update log (replay from a slot, commitment levels); nullopt: none.
  std::optional<UpdateLogOptions> update_log = UpdateLogOptions{};
  bool handle_signals = true;  // SIGINT/SIGTERM stop Run()
  // The CPU the dispatch thread (the sources and the dispatcher) runs on; -1: any.
  int dispatch_cpu = -1;
  // How the dispatch thread waits when its sources have nothing (see source_runner.h).
  // runner.serve_after_end false: when every source has ended, the sender tells its
  // consumers (Evicted{Shutdown}) and Run() returns OK.
  RunnerOptions runner;
  // "HOST:PORT" of the Prometheus endpoint (metrics/http_server.h); empty: none.
  std::string metrics_address;
};

class Sender {
 public:
  // Binds the control socket (see ControlServer::Listen for its errors).
  static absl::StatusOr<std::unique_ptr<Sender>> Create(SenderOptions options);
  ~Sender();

  // For a source fed from another thread (in-process publishing): Publish* and Poll from
  // one thread only, and only when Run() was given no source.
  Dispatcher& dispatcher();

  // Serves consumers and runs `sources` (none: the dispatcher is the caller's) until
  // Stop() or a signal, or until every source has ended when runner.serve_after_end is
  // false; then shuts down cleanly: consumers are told, rings released, the socket file
  // removed. Returns the first source error, if a source failed. The sources must
  // outlive Run().
  absl::Status Run(std::vector<Source*> sources);
  absl::Status Run(Source* source) {
    return Run(source == nullptr ? std::vector<Source*>{} : std::vector<Source*>{source});
  }

  void Stop();

  // The sender's statistics (thread-safe: computed on the control thread).
  StatsMsg Stats() const;

  // The metrics endpoint's bound address ("127.0.0.1:9464"); empty without one.
  std::string metrics_address() const;

 private:
  Sender();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SENDER_H_
