// RunSource: a test's way to run one source the way the sender does, on a SourceRunner.
#ifndef QLASTER_SENDER_TESTING_RUN_SOURCE_H_
#define QLASTER_SENDER_TESTING_RUN_SOURCE_H_

#include <atomic>

#include "absl/status/status.h"
#include "sender/source_runner.h"

namespace qlaster::sender::testing {

// Runs `source` until `stop`, or (serve_after_end false) until it ends.
inline absl::Status RunSource(Source& source, Dispatcher& dispatcher,
                              const std::atomic<bool>& stop, bool serve_after_end = false) {
  RunnerOptions options;
  options.serve_after_end = serve_after_end;
  SourceRunner runner(dispatcher, {&source}, options);
  return runner.Run(stop);
}

}  // namespace qlaster::sender::testing

#endif  // QLASTER_SENDER_TESTING_RUN_SOURCE_H_
