// Source: where the updates a sender fans out come from (ingest ring, synthetic feed,
// replay). A source runs on the dispatch thread and publishes straight into the
// Dispatcher.
#ifndef QLASTER_SENDER_SOURCE_H_
#define QLASTER_SENDER_SOURCE_H_

#include <atomic>

#include "absl/status/status.h"
#include "sender/dispatcher.h"

namespace qlaster::sender {

class Source {
 public:
  virtual ~Source() = default;

  // Publishes into `dispatcher` until `stop` becomes true (then returns OK) or the source
  // ends (OK) or fails (its error). While it has nothing to publish it must call
  // dispatcher.Poll() at least every millisecond.
  virtual absl::Status Run(Dispatcher& dispatcher, const std::atomic<bool>& stop) = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SOURCE_H_
