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
#include "sender/dispatcher.h"
#include "sender/source.h"

namespace qlaster::testing {

class QueueSource : public sender::Source {
 public:
  using Job = std::function<void(sender::Dispatcher&)>;

  // Runs `job` on the dispatch thread and waits for it. False if the source stopped first.
  bool Do(Job job) {
    std::unique_lock lock(mu_);
    if (stopped_) return false;
    const uint64_t ticket = ++queued_;
    jobs_.push_back(std::move(job));
    cv_.notify_all();
    cv_.wait(lock, [&] { return done_ >= ticket || stopped_; });
    return done_ >= ticket;
  }

  absl::Status Run(sender::Dispatcher& dispatcher, const std::atomic<bool>& stop) override {
    std::unique_lock lock(mu_);
    while (!stop.load()) {
      // The Source contract: poll the dispatcher at least every millisecond when idle.
      cv_.wait_for(lock, std::chrono::microseconds(250), [&] { return !jobs_.empty(); });
      while (!jobs_.empty()) {
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job(dispatcher);
        lock.lock();
        ++done_;
        cv_.notify_all();
      }
      lock.unlock();
      dispatcher.Poll();
      lock.lock();
    }
    stopped_ = true;
    cv_.notify_all();
    return absl::OkStatus();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  uint64_t queued_ = 0;
  uint64_t done_ = 0;
  bool stopped_ = false;
};

}  // namespace qlaster::testing

#endif  // QLASTER_CONSUMER_TESTING_QUEUE_SOURCE_H_
