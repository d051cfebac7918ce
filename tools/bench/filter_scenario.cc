// qlaster-bench filter: what the dispatcher pays per account update, with 0 to 1,000,000
// subscribed keys and 1 to 256 consumers, with data filters present — the real
// Dispatcher, Registry, matcher and rings in /dev/shm (DispatchFixture, shared with the
// BM_Dispatch* micro-benchmarks).
//
// Every consumer of the sweep holds its share of the keys (pubkeys) and one named filter
// on the SPL Token program with a memcmp on its own mint at offset 0 and datasize 165 (a
// market bot's subscription), so the data-filter index is always in the path.
//
//   case=reject         an update nobody wants (random pubkey and owner), drawn in order
//                       from 256 Ki pre-generated updates, so the Bloom probes miss the
//                       caches as a live feed's would; dispatcher without the update log
//                       (the routing cost alone). Target: the same cost (within 1.2x) with
//                       1 and 256 consumers — `vs_1_consumer` on each row with more than
//                       one consumer — and under 100 ns with 1,000,000 keys.
//   case=reject_logged  the same updates through a dispatcher with the update log the
//                       sender runs with (replay and commitment levels: every update is
//                       kept, wanted or not), slots advancing every kUpdatesPerSlot
//                       updates with their processed, confirmed and rooted statuses (which
//                       go to every consumer: included in the time).
//   case=reject_token   a Token account (165 B) with a mint nobody watches: it passes the
//                       Bloom filter (the owner is subscribed) and misses the memcmp index.
//   case=deliver        an update (165 B of data) that exactly one consumer subscribed to by
//                       pubkey: lookup, encoding and the copy into its ring; the ring is
//                       drained every 64 updates on the same thread (included in the time).
//
// Then, with 256 consumers (16 with --quick), the memcmp index against owner-only
// filters, every case through the update log with advancing slots as the sender runs:
//   case=mint_deliver   consumer c: owner Token program, memcmp(0, mint c). A Token account
//                       of mint c (c cycling) reaches exactly consumer c.
//   case=mint_reject    the same consumers; a Token account of a mint nobody watches.
//   case=owner_deliver  consumer c: owner c only (256 distinct owners). An account of owner
//                       c (c cycling) reaches exactly consumer c: the same delivered work as
//                       mint_deliver, found by the owner index instead of the memcmp index.
//                       mint_deliver's `vs_owner_only` is the ratio (target: within 2x).
//   case=owner_fanout   every consumer: owner Token program only. Each Token account
//                       reaches all of them (the fan-out, for scale).
// All rings are drained every kDrainAllEvery updates, in the time.
//
// Each number is the median time per call over 21 repetitions of a timed loop (50 ms of
// calls each). The repetitions of every loop for one key count — each consumer count's
// loops and the baseline — are interleaved, so a noisy neighbour slows them alike and the
// ratios hold on a busy machine; the 256-consumer cases are interleaved with each other.
//
// Baseline, measured in the same run for every key count: a lookup of a missing key in an
// absl::flat_hash_set<std::array<uint8_t, 32>> holding that many keys (subject "hash_set",
// lookups=1), the simplest filter anyone would write. (qlaster's reject checks both the
// pubkey and the owner; a hash-set filter on both would make two such lookups.)
//
// Sweep: consumers {1, 16, 64, 256} x keys {0, 1000, 100000, 1000000}, about 2 min;
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
#include "wire/solana/programs.h"
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
// Logged cases: a new slot every this many updates (mainnet: a few thousand account
// writes per 400 ms slot); confirmed one slot later, rooted kRootLag slots later.
constexpr uint64_t kUpdatesPerSlot = 4096;
constexpr uint64_t kRootLag = 32;
// Multi-consumer delivering cases drain every ring after this many updates.
constexpr uint64_t kDrainAllEvery = 1024;
// Token account updates pre-generated per case (65 Ki x 165 B).
constexpr size_t kTokenUpdates = size_t{1} << 16;
constexpr size_t kTokenAccountSize = 165;

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

// Advances the slot of one dispatcher's stream as mainnet does: every kUpdatesPerSlot
// updates a new slot begins (processed), the previous one is confirmed and the one kRootLag
// back is rooted, so the update log releases and evicts as in the sender. One per
// dispatcher, shared by all its loops.
class SlotPacer {
 public:
  explicit SlotPacer(sender::Dispatcher* d) : d_(d) {}
  // Call before each update; returns the slot to stamp it with.
  uint64_t Next(uint64_t* errors) {
    if (calls_++ % kUpdatesPerSlot == 0) {
      ++slot_;
      if (!d_->PublishSlot({.slot = slot_, .parent = slot_ - 1, .status = SlotStatus::kProcessed}).ok()) {
        ++*errors;
      }
      if (slot_ > 1 && !d_->PublishSlot({.slot = slot_ - 1, .status = SlotStatus::kConfirmed}).ok()) {
        ++*errors;
      }
      if (slot_ > kRootLag &&
          !d_->PublishSlot({.slot = slot_ - kRootLag, .status = SlotStatus::kRooted}).ok()) {
        ++*errors;
      }
      statuses_ += 1 + (slot_ > 1) + (slot_ > kRootLag);
    }
    return slot_;
  }
  uint64_t statuses() const { return statuses_; }

 private:
  sender::Dispatcher* d_;
  uint64_t calls_ = 0;
  uint64_t slot_ = 0;
  uint64_t statuses_ = 0;
};

Pubkey MintOf(int consumer) {
  Pubkey mint{};
  mint[0] = 0x6d;
  mint[1] = static_cast<uint8_t>(consumer);
  mint[2] = static_cast<uint8_t>(consumer >> 8);
  mint[31] = 0xa5;
  return mint;
}

// The named filter every consumer of the sweep holds: Token accounts of its mint.
NamedAccountFilter MintFilter(int consumer) {
  const Pubkey mint = MintOf(consumer);
  return NamedAccountFilter{
      .name = "mint",
      .filter = {.owners = {solana::kTokenProgram},
                 .memcmp = {{.offset = 0, .bytes = std::vector<uint8_t>(mint.begin(), mint.end())}},
                 .datasize = kTokenAccountSize}};
}

// `n` Token accounts (165 B, random pubkeys, owner Token program) whose mint is
// mint_for(i); random_owner: a random owner instead (owner_for(i) when given).
std::vector<AccountUpdate> TokenUpdates(size_t n, uint64_t seed, const std::function<Pubkey(size_t)>& mint_for,
                                        const std::function<Pubkey(size_t)>& owner_for = nullptr) {
  std::mt19937_64 rng(seed);
  std::vector<AccountUpdate> updates(n);
  for (size_t i = 0; i < n; ++i) {
    AccountUpdate& u = updates[i];
    u.pubkey = RandomKey(rng);
    u.owner = owner_for ? owner_for(i) : solana::kTokenProgram;
    u.lamports = 2'039'280;
    u.data.assign(kTokenAccountSize, 0);
    const Pubkey mint = mint_for(i);
    std::copy(mint.begin(), mint.end(), u.data.begin());
    const Pubkey holder = RandomKey(rng);
    std::copy(holder.begin(), holder.end(), u.data.begin() + 32);
    u.data[108] = 1;  // initialized
  }
  return updates;
}

std::string Where(const char* what, int consumers, int64_t keys) {
  return absl::StrCat("filter ", what, " consumers=", consumers, " keys=", keys);
}

// Everything measured for one (consumers, keys) point.
struct Point {
  int consumers = 0;
  std::unique_ptr<DispatchFixture> fixture;         // no update log: routing alone
  std::unique_ptr<DispatchFixture> logged;          // the sender's update log
  std::optional<SlotPacer> pacer;                   // logged's slots
  std::optional<TimedLoop> reject;         // the whole dispatcher on unwanted updates
  std::optional<TimedLoop> reject_logged;  // ... with the update log
  std::optional<TimedLoop> reject_token;   // a Token account of a mint nobody watches
  std::optional<TimedLoop> deliver;  // the whole dispatcher on consumer 0's key, drains included
  AccountUpdate matched;             // the update `deliver` publishes
  uint64_t published0 = 0, rejected0 = 0;
  uint64_t errors = 0;  // publishes that returned an error
};

absl::Status Failed(const std::string& where, const std::string& what) {
  return absl::InternalError(absl::StrCat(where, ": ", what));
}

// After the loops ran: every unwanted update rejected, no publish failed, nothing dropped.
absl::Status Check(Point& p, int64_t keys) {
  const sender::DispatcherCounters& c = p.fixture->dispatcher().counters();
  p.fixture->DrainMatched();
  if (p.errors != 0) {
    return Failed(Where("", p.consumers, keys), absl::StrCat(p.errors, " publishes failed"));
  }
  // The deliver loop's publishes are counted as published but not rejected.
  const uint64_t rejected = c.rejected.load() - p.rejected0;
  const uint64_t delivered = p.fixture->registry().Entries()[0]->channel->delivered();
  const uint64_t published = c.published.load() - p.published0;
  if (rejected + delivered != published) {
    return Failed(Where("reject", p.consumers, keys),
                  absl::StrCat(published, " published, ", rejected, " rejected, ", delivered, " delivered"));
  }
  if (p.fixture->MatchedDropped() != 0) {
    return Failed(Where("deliver", p.consumers, keys),
                  absl::StrCat(p.fixture->MatchedDropped(), " updates were dropped (ring full between drains)"));
  }
  // The logged dispatcher delivered nothing but slot statuses, each to every consumer.
  const uint64_t logged = p.logged->Delivered();
  if (logged != p.pacer->statuses() * static_cast<uint64_t>(p.consumers) || p.logged->Dropped() != 0) {
    return Failed(Where("reject_logged", p.consumers, keys),
                  absl::StrCat(logged, " records delivered, ", p.logged->Dropped(), " dropped, for ",
                               p.pacer->statuses(), " slot statuses to each consumer"));
  }
  return absl::OkStatus();
}

Result FilterResult(std::string subject, double ns_per_op) {
  return Result{.scenario = "filter", .subject = std::move(subject), .params = {}, .latency = std::nullopt,
                .records_per_s = std::nullopt, .bytes_per_s = std::nullopt, .ns_per_op = ns_per_op,
                .metrics = {}, .baseline = {}};
}

absl::StatusOr<std::unique_ptr<DispatchFixture>> Fixture(const std::vector<SubscribeMsg>& subs,
                                                         const std::string& shm_dir, bool with_log,
                                                         const std::string& where) {
  sender::DispatcherOptions options;
  if (!with_log) options.log = std::nullopt;
  absl::StatusOr<std::unique_ptr<DispatchFixture>> f = DispatchFixture::CreateWith(subs, shm_dir, options);
  if (!f.ok()) {
    return absl::Status(f.status().code(), absl::StrCat(where, ": ", std::string(f.status().message())));
  }
  return f;
}

// The 256-consumer comparison of the memcmp index with owner-only filters (see the top).
absl::StatusOr<std::vector<Result>> RunMemcmpCases(const Config& config, const Timing& timing) {
  const int n = config.quick ? 16 : 256;
  std::mt19937_64 rng(0x0e1);
  std::vector<Pubkey> owners(static_cast<size_t>(n));
  for (Pubkey& o : owners) o = RandomKey(rng);
  std::vector<SubscribeMsg> mint_subs(static_cast<size_t>(n)), owner_subs(static_cast<size_t>(n)),
      fanout_subs(static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) {
    NamedAccountFilter mint = MintFilter(c);
    mint.filter.datasize.reset();
    mint_subs[static_cast<size_t>(c)].accounts = {mint};
    owner_subs[static_cast<size_t>(c)].accounts = {
        {.name = "owner", .filter = {.owners = {owners[static_cast<size_t>(c)]}}}};
    fanout_subs[static_cast<size_t>(c)].accounts = {
        {.name = "token", .filter = {.owners = {solana::kTokenProgram}}}};
  }
  const std::string where = absl::StrCat("filter memcmp consumers=", n);
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<DispatchFixture> mint, Fixture(mint_subs, config.shm_dir, true, where));
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<DispatchFixture> owner, Fixture(owner_subs, config.shm_dir, true, where));
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<DispatchFixture> fanout,
                           Fixture(fanout_subs, config.shm_dir, true, where));

  const auto cycling = [n](size_t i) { return MintOf(static_cast<int>(i % static_cast<size_t>(n))); };
  std::vector<AccountUpdate> to_mint = TokenUpdates(kTokenUpdates, 11, cycling);
  std::vector<AccountUpdate> unwatched = TokenUpdates(kTokenUpdates, 12, [](size_t) { return MintOf(0xffff); });
  std::vector<AccountUpdate> to_owner = TokenUpdates(
      kTokenUpdates, 13, cycling, [&owners, n](size_t i) { return owners[i % static_cast<size_t>(n)]; });
  const size_t mask = kTokenUpdates - 1;

  uint64_t errors = 0;
  SlotPacer mint_pacer(&mint->dispatcher()), owner_pacer(&owner->dispatcher()),
      fanout_pacer(&fanout->dispatcher());
  // Publishes updates[i] through `f` at the pacer's slot, draining every ring now and then.
  const auto loop = [&errors](DispatchFixture* f, SlotPacer* pacer, std::vector<AccountUpdate>* updates,
                              size_t mask, uint64_t drain_every) {
    return TimedLoop([&errors, f, pacer, updates, mask, drain_every](uint64_t i) {
      AccountUpdate& u = (*updates)[i & mask];
      u.slot = pacer->Next(&errors);
      u.write_version = i + 1;
      if (!f->dispatcher().PublishAccount(u).ok()) ++errors;
      if (i % drain_every == drain_every - 1) f->DrainAll();
    });
  };
  TimedLoop mint_deliver = loop(mint.get(), &mint_pacer, &to_mint, mask, kDrainAllEvery);
  TimedLoop mint_reject = loop(mint.get(), &mint_pacer, &unwatched, mask, kDrainAllEvery);
  TimedLoop owner_deliver = loop(owner.get(), &owner_pacer, &to_owner, mask, kDrainAllEvery);
  // Every update reaches all n rings: drain often enough that none fills (1 MiB holds
  // ~2,800 Token account records).
  TimedLoop owner_fanout = loop(fanout.get(), &fanout_pacer, &to_mint, mask, 256);
  RunInterleaved({&mint_deliver, &mint_reject, &owner_deliver, &owner_fanout}, timing);

  if (errors != 0) return Failed(where, absl::StrCat(errors, " publishes failed"));
  for (DispatchFixture* f : {mint.get(), owner.get(), fanout.get()}) {
    f->DrainAll();
    if (f->Dropped() != 0) return Failed(where, absl::StrCat(f->Dropped(), " records dropped (ring full)"));
  }
  // Each delivering publish reached exactly its one consumer (the fan-out: all of them),
  // each slot status every consumer; the unwatched mint nobody.
  const auto expect = [&](DispatchFixture* f, const SlotPacer& pacer, uint64_t per_update, const char* what) {
    const uint64_t updates = f->dispatcher().counters().published.load() - pacer.statuses();
    const uint64_t rejected = f->dispatcher().counters().rejected.load();
    const uint64_t want = (updates - rejected) * per_update + pacer.statuses() * static_cast<uint64_t>(n);
    if (f->Delivered() != want) {
      return Failed(where, absl::StrCat(what, ": ", f->Delivered(), " records delivered, expected ", want));
    }
    return absl::OkStatus();
  };
  QLASTER_RETURN_IF_ERROR(expect(mint.get(), mint_pacer, 1, "mint"));
  QLASTER_RETURN_IF_ERROR(expect(owner.get(), owner_pacer, 1, "owner"));
  QLASTER_RETURN_IF_ERROR(expect(fanout.get(), fanout_pacer, static_cast<uint64_t>(n), "fanout"));

  std::vector<Result> results;
  const auto add = [&](const char* name, const TimedLoop& l) -> Result& {
    Result r = FilterResult("qlaster", l.Median());
    r.Param("case", std::string(name)).Param("consumers", int64_t{n});
    results.push_back(std::move(r));
    return results.back();
  };
  Result owner_only = FilterResult("qlaster", owner_deliver.Median());
  owner_only.Param("case", std::string("owner_deliver")).Param("consumers", int64_t{n});
  Result& m = add("mint_deliver", mint_deliver);
  if (owner_deliver.Median() > 0) m.Metric("vs_owner_only", mint_deliver.Median() / owner_deliver.Median());
  m.baseline.push_back(owner_only);
  Result& r = add("mint_reject", mint_reject);
  if (owner_deliver.Median() > 0) r.Metric("vs_owner_only", mint_reject.Median() / owner_deliver.Median());
  add("owner_deliver", owner_deliver);
  add("owner_fanout", owner_fanout);
  return results;
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

  std::vector<AccountUpdate> updates = DispatchFixture::RejectUpdates(kRejectUpdates);
  const size_t mask = updates.size() - 1;
  std::vector<AccountUpdate> unwatched =
      TokenUpdates(kTokenUpdates, 21, [](size_t) { return MintOf(0xffff); });
  const size_t token_mask = kTokenUpdates - 1;

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
      if (p.consumers < 1 || static_cast<size_t>(p.consumers) > sender::kMaxConsumers) {
        return absl::InvalidArgumentError(absl::StrCat("filter: consumers must be 1..", sender::kMaxConsumers));
      }
      if (keys < 0 || static_cast<uint64_t>(keys) > DispatchFixture::kMaxKeys) {
        return absl::InvalidArgumentError(absl::StrCat("filter: keys must be 0..", DispatchFixture::kMaxKeys));
      }
      // Keys spread over the consumers (consumer 0 also holds the matched key), plus each
      // consumer's Token mint filter.
      std::mt19937_64 key_rng(42);
      std::vector<SubscribeMsg> subs(static_cast<size_t>(p.consumers));
      for (int c = 0; c < p.consumers; ++c) {
        SubscribeMsg& sub = subs[static_cast<size_t>(c)];
        const int64_t mine = keys / p.consumers;
        sub.pubkeys.reserve(static_cast<size_t>(mine) + 1);
        for (int64_t k = 0; k < mine; ++k) sub.pubkeys.push_back(RandomKey(key_rng));
        sub.accounts = {MintFilter(c)};
      }
      p.matched = DispatchFixture::RejectUpdates(1, 0x3a7c)[0];
      p.matched.data.assign(kTokenAccountSize, 7);
      subs[0].pubkeys.push_back(p.matched.pubkey);
      QLASTER_ASSIGN_OR_RETURN(p.fixture, Fixture(subs, config.shm_dir, false, Where("setup", p.consumers, keys)));
      QLASTER_ASSIGN_OR_RETURN(p.logged, Fixture(subs, config.shm_dir, true, Where("setup", p.consumers, keys)));
      p.pacer.emplace(&p.logged->dispatcher());
      p.published0 = p.fixture->dispatcher().counters().published.load();
      p.rejected0 = p.fixture->dispatcher().counters().rejected.load();
      sender::Dispatcher* d = &p.fixture->dispatcher();
      sender::Dispatcher* logged = &p.logged->dispatcher();
      p.reject.emplace([&p, d, &updates, mask](uint64_t i) {
        if (!d->PublishAccount(updates[i & mask]).ok()) ++p.errors;
      });
      p.reject_logged.emplace([&p, logged, &updates, mask](uint64_t i) {
        AccountUpdate& u = updates[i & mask];
        u.slot = p.pacer->Next(&p.errors);
        if (!logged->PublishAccount(u).ok()) ++p.errors;
      });
      p.reject_token.emplace([&p, d, &unwatched, token_mask](uint64_t i) {
        if (!d->PublishAccount(unwatched[i & token_mask]).ok()) ++p.errors;
      });
      p.deliver.emplace([&p, d](uint64_t i) {
        p.matched.write_version = i + 1;
        if (!d->PublishAccount(p.matched).ok()) ++p.errors;
        if (i % kDrainEvery == kDrainEvery - 1) p.fixture->DrainMatched();
      });
      loops.push_back(&*p.reject);
      loops.push_back(&*p.reject_logged);
      loops.push_back(&*p.reject_token);
      loops.push_back(&*p.deliver);
    }
    RunInterleaved(loops, timing);
    for (AccountUpdate& u : updates) u.slot = 0;
    volatile uint64_t sink = found;
    (void)sink;

    Result hash_set = FilterResult("hash_set", hash_loop.Median());
    hash_set.Param("case", std::string("reject")).Param("keys", keys).Param("lookups", int64_t{1});
    // Each case's cost with 1 consumer, this key count.
    std::optional<double> one_reject, one_logged, one_token;
    for (Point& p : points) {
      if (p.consumers != 1) continue;
      one_reject = p.reject->Median();
      one_logged = p.reject_logged->Median();
      one_token = p.reject_token->Median();
    }
    for (Point& p : points) {
      QLASTER_RETURN_IF_ERROR(Check(p, keys));
      const auto row = [&](const char* name, const TimedLoop& l, const std::optional<double>& one) {
        Result r = FilterResult("qlaster", l.Median());
        r.Param("case", std::string(name)).Param("consumers", int64_t{p.consumers}).Param("keys", keys);
        if (p.consumers != 1 && one && *one > 0) r.Metric("vs_1_consumer", l.Median() / *one);
        r.baseline.push_back(hash_set);
        rejects.push_back(std::move(r));
      };
      row("reject", *p.reject, one_reject);
      row("reject_logged", *p.reject_logged, one_logged);
      row("reject_token", *p.reject_token, one_token);

      Result d = FilterResult("qlaster", p.deliver->Median());
      d.Param("case", std::string("deliver")).Param("consumers", int64_t{p.consumers}).Param("keys", keys);
      delivers.push_back(std::move(d));
    }
  }
  std::vector<Result> results = std::move(rejects);
  for (Result& d : delivers) results.push_back(std::move(d));
  if (!config.consumers && !config.keys) {
    QLASTER_ASSIGN_OR_RETURN(std::vector<Result> memcmp, RunMemcmpCases(config, timing));
    for (Result& r : memcmp) results.push_back(std::move(r));
  }
  return results;
}

}  // namespace qlaster::bench
