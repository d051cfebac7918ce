// Sender: the whole sender engine — dispatcher, control server and a source — as a library,
// so that the daemon (sender/main.cc) is a thin flag parser and tests run the real engine.
//
// Threads: Run() runs the control plane on the calling thread and the source on a
// dispatch thread of its own. Stop() may be called from any thread; SIGINT and SIGTERM
// call it too while Run() is running.
#ifndef QLASTER_SENDER_SENDER_H_
#define QLASTER_SENDER_SENDER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sender/control_server.h"
#include "sender/dispatcher.h"
#include "sender/source.h"
#include "wire/lz4_policy.h"

namespace qlaster::sender {

struct SenderOptions {
  ControlOptions control;
  Lz4Policy lz4;
  bool handle_signals = true;  // SIGINT/SIGTERM stop Run()
  // The CPU the dispatch thread (the sources and the dispatcher) runs on; -1: any.
  int dispatch_cpu = -1;
};

class Sender {
 public:
  // Binds the control socket (see ControlServer::Listen for its errors).
  static absl::StatusOr<std::unique_ptr<Sender>> Create(SenderOptions options);
  ~Sender();

  // For a source fed from another thread (in-process publishing): Publish* and Poll from
  // one thread only, and only when Run() was given no source.
  Dispatcher& dispatcher();

  // Serves consumers and runs `source` (may be null) until Stop() or a signal, then shuts
  // down cleanly: consumers are told, rings released, the socket file removed. Returns the
  // source's error if it failed.
  absl::Status Run(Source* source);

  void Stop();

  // The sender's statistics (thread-safe: computed on the control thread).
  StatsMsg Stats() const;

 private:
  Sender();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SENDER_H_
