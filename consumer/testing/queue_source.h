// QueueSource: a sender::Source that runs jobs handed to it by another thread (a test) on
// the sender's dispatch thread, and otherwise keeps the dispatcher polled so that
// subscription changes are adopted (and acknowledged) while nothing is published.
//
// Tests publish through Do(), which waits until the job has run: by the time it returns
// the updates are in the rings, so a test can reason about sequence numbers without
// sleeping. Thread-safe.
#ifndef QLASTER_CONSUMER_TESTING_QUEUE_SOURCE_H_
#define QLASTER_CONSUMER_TESTING_QUEUE_SOURCE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sender/dispatcher.h"
#include "sender/source.h"

namespace qlaster::testing {

class QueueSource : public sender::Source {
 public:
  using Job = std::function<void(sender::Dispatcher&)>;

  // Runs `job` on the dispatch thread and waits for it. False if it did not run within
  // `timeout` (the sender is not running its sources).
  bool Do(Job job, absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock lock(mu_);
    const uint64_t ticket = ++queued_;
    jobs_.push_back(std::move(job));
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return done_ >= ticket; });
  }

  std::string name() const override { return "test-queue"; }

  // Runs the queued jobs; asks to be called again within 250 us (the dispatcher is polled
  // by the runner in between).
  absl::StatusOr<sender::SourceWork> DoWork(sender::Dispatcher& dispatcher, int64_t now_ns) override {
    std::unique_lock lock(mu_);
    int done = 0;
    while (!jobs_.empty()) {
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job(dispatcher);
      lock.lock();
      ++done_;
      ++done;
      cv_.notify_all();
    }
    return sender::SourceWork{.done = done, .next_due_ns = now_ns + 250'000};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  uint64_t queued_ = 0;
  uint64_t done_ = 0;
};

}  // namespace qlaster::testing

#endif  // QLASTER_CONSUMER_TESTING_QUEUE_SOURCE_H_
