// SourceRunner: the duty cycle and the idle strategies.
#include "sender/source_runner.h"

#include <immintrin.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"

namespace qlaster::sender {

SourceRunner::SourceRunner(Dispatcher& dispatcher, std::vector<Source*> sources,
                           RunnerOptions options)
    : dispatcher_(dispatcher), options_(options) {
  for (Source* s : sources) sources_.push_back({s});
  ended_.store(sources_.empty(), std::memory_order_release);
}

absl::StatusOr<CycleResult> SourceRunner::Cycle(int64_t now_ns) {
  counters_.cycles.store(counters_.cycles.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
  CycleResult total;
  {
    // What one call publishes arrived together: sleeping consumers are woken once for
    // it, when the batch closes (spinning consumers see each update as it is written).
    Dispatcher::Batch batch(dispatcher_);
    for (Entry& e : sources_) {
      if (e.ended) continue;
      absl::StatusOr<SourceWork> w = e.source->DoWork(dispatcher_, now_ns);
      if (!w.ok()) {
        return absl::Status(w.status().code(),
                            absl::StrCat(e.source->name(), ": ", w.status().message()));
      }
      total.done += w->done;
      // What it published: the runner's record of the source's lag.
      if (const uint64_t slot = dispatcher_.TakeHighestSlot(); w->done > 0 || slot != 0) {
        SourceProgress& p = e.source->progress();
        p.last_update_ns.store(now_ns, std::memory_order_relaxed);
        if (slot > p.highest_slot.load(std::memory_order_relaxed)) {
          p.highest_slot.store(slot, std::memory_order_relaxed);
        }
      }
      if (w->next_due_ns == SourceWork::kEnded) {
        e.ended = true;
        QLASTER_LOG(kInfo, "source %s ended", e.source->name());
        continue;
      }
      if (w->next_due_ns == SourceWork::kWhenever) {
        if (w->doorbell_fd >= 0 && options_.idle.kind == IdleKind::kSleep &&
            total.doorbell_count < CycleResult::kMaxDoorbells) {
          total.doorbells[total.doorbell_count++] = w->doorbell_fd;
        } else {
          total.awaiting_input = true;
        }
      } else {
        total.next_due_ns = std::min(total.next_due_ns, w->next_due_ns);
      }
    }
  }
  dispatcher_.Poll();
  ended_.store(std::all_of(sources_.begin(), sources_.end(), [](const Entry& e) { return e.ended; }),
               std::memory_order_release);
  return total;
}

IdlePlan PlanIdle(const RunnerOptions& options, int64_t now_ns, const CycleResult& cycle) {
  int64_t until = std::min(now_ns + absl::ToInt64Nanoseconds(options.poll_interval),
                           cycle.next_due_ns);
  if (cycle.awaiting_input) {
    // Input nobody announces: the idle strategy decides.
    switch (options.idle.kind) {
      case IdleKind::kSpin:
        return {IdlePlan::Kind::kPause, now_ns};
      case IdleKind::kYield:
        return {IdlePlan::Kind::kYield, now_ns};
      case IdleKind::kSleep:
        until = std::min(until, now_ns + absl::ToInt64Nanoseconds(options.idle.sleep));
        break;
    }
  }
  // Too close to sleep for: spin until it is due.
  if (until - now_ns <= absl::ToInt64Nanoseconds(options.spin_ahead)) {
    return {IdlePlan::Kind::kSpinUntil, until};
  }
  return {IdlePlan::Kind::kSleepUntil, until};
}

namespace {

// Until `until_ns` (CLOCK_MONOTONIC) or one of the cycle's doorbells is readable. EINTR
// returns early: the next cycle looks again.
void WaitForDoorbells(const CycleResult& cycle, int64_t until_ns) {
  std::array<pollfd, CycleResult::kMaxDoorbells> fds;
  for (int i = 0; i < cycle.doorbell_count; ++i) fds[i] = {cycle.doorbells[i], POLLIN, 0};
  const int64_t left = std::max<int64_t>(0, until_ns - MonotonicNs());
  const timespec timeout{.tv_sec = left / 1'000'000'000, .tv_nsec = left % 1'000'000'000};
  ::ppoll(fds.data(), static_cast<nfds_t>(cycle.doorbell_count), &timeout, nullptr);
}

}  // namespace

void SourceRunner::Idle(int64_t now_ns, const CycleResult& cycle) {
  counters_.idle_waits.store(counters_.idle_waits.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
  const IdlePlan plan = PlanIdle(options_, now_ns, cycle);
  switch (plan.kind) {
    case IdlePlan::Kind::kPause:
      _mm_pause();
      return;
    case IdlePlan::Kind::kYield:
      ::sched_yield();
      return;
    case IdlePlan::Kind::kSpinUntil:
      while (MonotonicNs() < plan.until_ns) _mm_pause();
      return;
    case IdlePlan::Kind::kSleepUntil:
      if (cycle.doorbell_count > 0 && !cycle.awaiting_input) {
        WaitForDoorbells(cycle, plan.until_ns);
      } else {
        SleepUntilMonotonicNs(plan.until_ns);
      }
      return;
  }
}

absl::Status SourceRunner::Run(const std::atomic<bool>& stop) {
  // Short sleeps must be short: the default 50 us timer slack would dwarf a 10 us pause.
  ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  while (!stop.load(std::memory_order_relaxed)) {
    const int64_t now = MonotonicNs();
    absl::StatusOr<CycleResult> cycle = Cycle(now);
    if (!cycle.ok()) return cycle.status();
    if (ended() && !options_.serve_after_end) return absl::OkStatus();
    if (cycle->done == 0) Idle(now, *cycle);
  }
  return absl::OkStatus();
}

}  // namespace qlaster::sender
