// qlaster-bench filter: what the dispatcher pays per account update, with 0 to 1,000,000
// subscribed keys and 1 to 256 consumers — the real Dispatcher, Registry and rings in
// /dev/shm (DispatchFixture, shared with the BM_Dispatch* micro-benchmarks).
//
//   case=reject   an update nobody wants (random pubkey and owner), drawn in order from
//                 256 Ki pre-generated updates, so the Bloom probes miss the caches as a
//                 live feed's would. Target: the same cost (within 1.2x) with 1 and 256
//                 consumers — the `vs_1_consumer` metric on each reject row with more
//                 than one consumer — and under 100 ns with 1,000,000 keys.
//   case=deliver  an update (165 B of data) that exactly one consumer subscribed to by
//                 pubkey: lookup, encoding and the copy into its ring; the ring is drained
//                 every 64 updates on the same thread (included in the time).
//
// Each number is the median time per call over 21 repetitions of a timed loop (50 ms of
// calls each). The repetitions of every loop for one key count — each consumer count's
// reject and deliver loops and the baseline — are interleaved, so a noisy neighbour slows
// them alike and the 1-vs-256-consumer ratio holds on a busy machine.
//
// Baseline, measured in the same run for every key count: a lookup of a missing key in an
// absl::flat_hash_set<std::array<uint8_t, 32>> holding that many keys (subject "hash_set",
// lookups=1), the simplest filter anyone would write. (qlaster's reject checks both the
// pubkey and the owner; a hash-set filter on both would make two such lookups.)
//
// Sweep: consumers {1, 16, 64, 256} x keys {0, 1000, 100000, 1000000}, about 45 s;
// --consumers / --keys pick one value; --quick: {1, 16} x {0, 1000}, short loops.
#include <sched.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tools/bench/dispatch_fixture.h"
#include "tools/bench/scenario.h"
#include "wire/random_key.h"

namespace qlaster::bench {
namespace {

using sender::DispatchFixture;

// Pre-generated reject updates: 256 Ki x ~200 B, far beyond the last-level cache, read in
// order (the prefetcher hides the update itself; the Bloom probes stay random).
constexpr size_t kRejectUpdates = size_t{1} << 18;
// The deliver loop drains consumer 0's ring after this many updates.
constexpr uint64_t kDrainEvery = 64;
// Calls between two clock reads.
constexpr uint64_t kBatch = 256;

struct Timing {
  std::chrono::nanoseconds per_rep;  // each repetition runs at least this long
  int reps;                          // repetitions; the median is reported
  std::chrono::nanoseconds warmup;   // one uncounted run first
};

// One measured loop: Run(length) calls op(i) for i = 0, 1, 2, ... (continuing across runs)
// for at least `length` and returns the time per call, ns. Each repetition is kept.
class TimedLoop {
 public:
  template <typename Op>
  explicit TimedLoop(Op op)
      : run_([op = std::move(op), i = uint64_t{0}](std::chrono::nanoseconds length) mutable {
          using Clock = std::chrono::steady_clock;
          const Clock::time_point start = Clock::now();
          const Clock::time_point deadline = start + length;
          uint64_t calls = 0;
          Clock::time_point now;
          do {
            for (uint64_t b = 0; b < kBatch; ++b) op(i++);
            calls += kBatch;
            now = Clock::now();
          } while (now < deadline);
          return std::chrono::duration<double, std::nano>(now - start).count() /
                 static_cast<double>(calls);
        }) {}

  void Warmup(std::chrono::nanoseconds length) { run_(length); }
  void Rep(std::chrono::nanoseconds length) { reps_.push_back(run_(length)); }
  double Median() const {
    std::vector<double> sorted = reps_;
    std::sort(sorted.begin(), sorted.end());
    return sorted.empty() ? 0 : sorted[sorted.size() / 2];
  }

 private:
  std::function<double(std::chrono::nanoseconds)> run_;
  std::vector<double> reps_;
};

// Runs the loops' repetitions interleaved (rep 1 of each, then rep 2 of each, ...), so
// that a noisy neighbour slows all of them alike and their ratios hold.
void RunInterleaved(const std::vector<TimedLoop*>& loops, const Timing& t) {
  for (TimedLoop* loop : loops) loop->Warmup(t.warmup);
  for (int r = 0; r < t.reps; ++r) {
    for (TimedLoop* loop : loops) loop->Rep(t.per_rep);
  }
}

std::string Where(const char* what, int consumers, int64_t keys) {
  return absl::StrCat("filter ", what, " consumers=", consumers, " keys=", keys);
}

// Everything measured for one (consumers, keys) point.
struct Point {
  int consumers = 0;
  std::unique_ptr<DispatchFixture> fixture;
  std::optional<TimedLoop> reject;   // the whole dispatcher on unwanted updates
  std::optional<TimedLoop> deliver;  // the whole dispatcher on consumer 0's key, drains included
  AccountUpdate matched;             // the update `deliver` publishes
  uint64_t published0 = 0, rejected0 = 0;
  uint64_t errors = 0;  // publishes that returned an error
};

// After the loops ran: every unwanted update rejected, no publish failed, nothing dropped.
absl::Status Check(Point& p, int64_t keys) {
  const sender::DispatcherCounters& c = p.fixture->dispatcher().counters();
  p.fixture->DrainMatched();
  if (p.errors != 0) {
    return absl::InternalError(absl::StrCat(Where("", p.consumers, keys), ": ", p.errors, " publishes failed"));
  }
  // The deliver loop's publishes are counted as published but not rejected.
  const uint64_t rejected = c.rejected.load() - p.rejected0;
  const uint64_t delivered = p.fixture->registry().Entries()[0]->channel->delivered();
  const uint64_t published = c.published.load() - p.published0;
  if (rejected + delivered != published) {
    return absl::InternalError(absl::StrCat(Where("reject", p.consumers, keys), ": ", published, " published, ",
                                            rejected, " rejected, ", delivered, " delivered"));
  }
  if (p.fixture->MatchedDropped() != 0) {
    return absl::InternalError(absl::StrCat(Where("deliver", p.consumers, keys), ": ",
                                            p.fixture->MatchedDropped(),
                                            " updates were dropped (ring full between drains)"));
  }
  return absl::OkStatus();
}

Result FilterResult(std::string subject, double ns_per_op) {
  return Result{.scenario = "filter", .subject = std::move(subject), .params = {}, .latency = std::nullopt,
                .records_per_s = std::nullopt, .bytes_per_s = std::nullopt, .ns_per_op = ns_per_op,
                .metrics = {}, .baseline = {}};
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunFilter(const Config& config) {
  std::vector<int> consumer_counts = config.quick ? std::vector<int>{1, 16} : std::vector<int>{1, 16, 64, 256};
  std::vector<int64_t> key_counts =
      config.quick ? std::vector<int64_t>{0, 1000} : std::vector<int64_t>{0, 1000, 100000, 1000000};
  if (config.consumers) consumer_counts = {*config.consumers};
  if (config.keys) key_counts = {*config.keys};
  const Timing timing = config.quick
                            ? Timing{.per_rep = std::chrono::milliseconds(10), .reps = 3,
                                     .warmup = std::chrono::milliseconds(2)}
                            : Timing{.per_rep = std::chrono::milliseconds(50), .reps = 21,
                                     .warmup = std::chrono::milliseconds(20)};

  AffinityGuard affinity;
  if (absl::Status s = PinToCpu(config.Cpu(0)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("filter: ", std::string(s.message())));
  }

  const std::vector<AccountUpdate> updates = DispatchFixture::RejectUpdates(kRejectUpdates);
  const size_t mask = updates.size() - 1;

  std::vector<Result> rejects, delivers;
  for (int64_t keys : key_counts) {
    // The baseline: a missing-key lookup in a flat_hash_set of as many random keys.
    absl::flat_hash_set<std::array<uint8_t, 32>> set;
    set.reserve(static_cast<size_t>(keys));
    std::mt19937_64 rng(0xba5e + static_cast<uint64_t>(keys));
    for (int64_t k = 0; k < keys; ++k) set.insert(RandomKey(rng));
    uint64_t found = 0;  // used after the loop, so the lookups cannot be optimized away
    TimedLoop hash_loop([&](uint64_t i) { found += set.contains(updates[i & mask].pubkey); });

    // Every consumer count for this key count, measured interleaved with the baseline.
    std::vector<Point> points(consumer_counts.size());
    std::vector<TimedLoop*> loops{&hash_loop};
    for (size_t n = 0; n < consumer_counts.size(); ++n) {
      Point& p = points[n];
      p.consumers = consumer_counts[n];
      absl::StatusOr<std::unique_ptr<DispatchFixture>> f =
          DispatchFixture::Create(p.consumers, keys, config.shm_dir);
      if (!f.ok()) {
        return absl::Status(f.status().code(), absl::StrCat(Where("setup", p.consumers, keys), ": ",
                                                            std::string(f.status().message())));
      }
      p.fixture = *std::move(f);
      p.matched = p.fixture->MatchedUpdate();
      p.published0 = p.fixture->dispatcher().counters().published.load();
      p.rejected0 = p.fixture->dispatcher().counters().rejected.load();
      sender::Dispatcher* d = &p.fixture->dispatcher();
      p.reject.emplace([&p, d, &updates, mask](uint64_t i) {
        if (!d->PublishAccount(updates[i & mask]).ok()) ++p.errors;
      });
      p.deliver.emplace([&p, d](uint64_t i) {
        p.matched.write_version = i + 1;
        if (!d->PublishAccount(p.matched).ok()) ++p.errors;
        if (i % kDrainEvery == kDrainEvery - 1) p.fixture->DrainMatched();
      });
      loops.push_back(&*p.reject);
      loops.push_back(&*p.deliver);
    }
    RunInterleaved(loops, timing);
    volatile uint64_t sink = found;
    (void)sink;

    Result hash_set = FilterResult("hash_set", hash_loop.Median());
    hash_set.Param("case", std::string("reject")).Param("keys", keys).Param("lookups", int64_t{1});
    std::optional<double> one_consumer;  // reject cost with 1 consumer, this key count
    for (Point& p : points) {
      if (p.consumers == 1) one_consumer = p.reject->Median();
    }
    for (Point& p : points) {
      QLASTER_RETURN_IF_ERROR(Check(p, keys));
      Result r = FilterResult("qlaster", p.reject->Median());
      r.Param("case", std::string("reject")).Param("consumers", int64_t{p.consumers}).Param("keys", keys);
      if (p.consumers != 1 && one_consumer && *one_consumer > 0) {
        r.Metric("vs_1_consumer", p.reject->Median() / *one_consumer);
      }
      r.baseline.push_back(hash_set);
      rejects.push_back(std::move(r));

      Result d = FilterResult("qlaster", p.deliver->Median());
      d.Param("case", std::string("deliver")).Param("consumers", int64_t{p.consumers}).Param("keys", keys);
      delivers.push_back(std::move(d));
    }
  }
  std::vector<Result> results = std::move(rejects);
  for (Result& d : delivers) results.push_back(std::move(d));
  return results;
}

}  // namespace qlaster::bench
