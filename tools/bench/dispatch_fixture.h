// DispatchFixture: the whole dispatch hot path set up for measuring — a real Dispatcher
// adopting a routing table built by a real Registry, with one real ring in /dev/shm (or
// another tmpfs) per consumer, and subscribed pubkeys spread evenly over the consumers.
//
// Shared by the Google Benchmark micro-benchmarks (dispatch_benchmark.cc:
// BM_DispatchReject, BM_DispatchMatchOne) and the `qlaster-bench filter` scenario
// (filter_scenario.cc), so the setup exists once.
//
//   auto f = DispatchFixture::Create(256, 1'000'000);   // 256 rings, 1M keys + 1
//   f->dispatcher().PublishAccount(update);             // update.pubkey == f->matched_key()
//   f->DrainMatched();                                  // reads consumer 0's ring
//
//   auto g = DispatchFixture::CreateWith(subscriptions);  // one consumer per SubscribeMsg
//   g->DrainAll();                                        // reads every ring
#ifndef QLASTER_TOOLS_BENCH_DISPATCH_FIXTURE_H_
#define QLASTER_TOOLS_BENCH_DISPATCH_FIXTURE_H_

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "sender/consumer_channel.h"
#include "sender/dispatcher.h"
#include "sender/registry.h"
#include "shm/event_fd.h"
#include "shm/spsc_ring.h"
#include "base/status_macros.h"
#include "wire/random_key.h"
#include "wire/updates.h"

namespace qlaster::sender {

class DispatchFixture {
 public:
  // Ring data region of every consumer: enough for the 64 updates between two drains.
  static constexpr uint64_t kRingBytes = uint64_t{1} << 20;
  // Most subscribed keys Create accepts (plus matched_key()), all on one consumer if need be.
  static constexpr size_t kMaxKeys = 2'000'000;

  // `consumers` consumers (1..kMaxConsumers), each with its own ring in `shm_dir` and
  // `keys` / `consumers` random pubkeys; consumer 0 also subscribes to matched_key(), which
  // no one else wants. The dispatcher has adopted the resulting table when this returns.
  // Errors: kInvalidArgument for counts out of range; ring, eventfd or subscription
  // failures, saying which consumer.
  static absl::StatusOr<std::unique_ptr<DispatchFixture>> Create(
      int consumers, int64_t keys, const std::string& shm_dir = shm::kDefaultShmDir) {
    if (consumers < 1 || static_cast<size_t>(consumers) > kMaxConsumers) {
      return absl::InvalidArgumentError(
          absl::StrCat("dispatch fixture: consumers must be 1..", kMaxConsumers, ", got ", consumers));
    }
    if (keys < 0 || static_cast<uint64_t>(keys) > kMaxKeys) {
      return absl::InvalidArgumentError(
          absl::StrCat("dispatch fixture: keys must be 0..", kMaxKeys, ", got ", keys));
    }
    absl::StatusOr<shm::EventFd> notify = shm::EventFd::Create();
    if (!notify.ok()) return Annotate(notify.status(), "notify eventfd");
    std::unique_ptr<DispatchFixture> f(new DispatchFixture(*std::move(notify), DispatcherOptions{}));
    std::mt19937_64 rng(42);
    std::vector<SubscribeMsg> subs(static_cast<size_t>(consumers));
    for (int c = 0; c < consumers; ++c) {
      SubscribeMsg& sub = subs[static_cast<size_t>(c)];
      const int64_t mine = keys / consumers;
      sub.pubkeys.reserve(static_cast<size_t>(mine) + 1);
      for (int64_t k = 0; k < mine; ++k) sub.pubkeys.push_back(RandomKey(rng));
      if (c == 0) {
        f->matched_key_ = RandomKey(rng);
        sub.pubkeys.push_back(f->matched_key_);
      }
    }
    QLASTER_RETURN_IF_ERROR(f->Build(subs, shm_dir));
    return f;
  }

  // One consumer per Subscribe in `subscriptions` (1..kMaxConsumers of them, applied as
  // they are: named filters, options), each with its own ring of `ring_bytes` in
  // `shm_dir`, and a dispatcher with `options` that has adopted their routing table.
  // DrainAll() reads every ring. matched_key() is unset. Errors as Create.
  static absl::StatusOr<std::unique_ptr<DispatchFixture>> CreateWith(
      const std::vector<SubscribeMsg>& subscriptions, const std::string& shm_dir = shm::kDefaultShmDir,
      DispatcherOptions options = {}, uint64_t ring_bytes = kRingBytes) {
    if (subscriptions.empty() || subscriptions.size() > kMaxConsumers) {
      return absl::InvalidArgumentError(absl::StrCat("dispatch fixture: consumers must be 1..",
                                                     kMaxConsumers, ", got ", subscriptions.size()));
    }
    absl::StatusOr<shm::EventFd> notify = shm::EventFd::Create();
    if (!notify.ok()) return Annotate(notify.status(), "notify eventfd");
    std::unique_ptr<DispatchFixture> f(new DispatchFixture(*std::move(notify), std::move(options)));
    f->ring_bytes_ = ring_bytes;
    QLASTER_RETURN_IF_ERROR(f->Build(subscriptions, shm_dir));
    return f;
  }

  DispatchFixture(const DispatchFixture&) = delete;
  DispatchFixture& operator=(const DispatchFixture&) = delete;

  Dispatcher& dispatcher() { return dispatcher_; }
  const Registry& registry() const { return registry_; }
  // The pubkey only consumer 0 subscribed to.
  const Pubkey& matched_key() const { return matched_key_; }

  // Reads and releases every record in consumer 0's ring (what its consumer would do).
  void DrainMatched() { Drain(readers_[0]); }
  // The same for every consumer's ring; returns the records read.
  uint64_t DrainAll() {
    uint64_t n = 0;
    for (shm::RingConsumer& r : readers_) n += Drain(r);
    return n;
  }
  // Updates consumer 0 missed because its ring was full (0 when drained often enough).
  uint64_t MatchedDropped() const { return registry_.Entries()[0]->channel->dropped(); }
  // Updates any consumer missed because its ring was full.
  uint64_t Dropped() const {
    uint64_t n = 0;
    for (const ConsumerEntry* e : registry_.Entries()) n += e->channel->dropped();
    return n;
  }
  // Records delivered to all consumers.
  uint64_t Delivered() const {
    uint64_t n = 0;
    for (const ConsumerEntry* e : registry_.Entries()) n += e->channel->delivered();
    return n;
  }

  // `n` account updates with random pubkeys and owners that nobody subscribed to (a seed
  // distinct from the subscriptions'), no data: what the dispatcher rejects.
  static std::vector<AccountUpdate> RejectUpdates(size_t n, uint64_t seed = 7) {
    std::mt19937_64 rng(seed);
    std::vector<AccountUpdate> updates(n);
    for (AccountUpdate& u : updates) {
      u.pubkey = RandomKey(rng);
      u.owner = RandomKey(rng);
    }
    return updates;
  }

  // The update BM_DispatchMatchOne and the filter scenario deliver: 165 bytes of data (a
  // token account) under matched_key(). Callers bump write_version per publish.
  AccountUpdate MatchedUpdate() const {
    AccountUpdate update;
    update.pubkey = matched_key_;
    update.data.assign(165, 7);
    return update;
  }

 private:
  DispatchFixture(shm::EventFd notify, DispatcherOptions options)
      : notify_(std::move(notify)), dispatcher_(&notify_, std::move(options)) {}

  static absl::Status Annotate(const absl::Status& s, const std::string& what) {
    return absl::Status(s.code(), absl::StrCat("dispatch fixture: ", what, ": ", std::string(s.message())));
  }

  static uint64_t Drain(shm::RingConsumer& reader) {
    uint64_t n = 0;
    shm::RingRecord r;
    while (reader.TryRead(&r) == shm::ReadResult::kOk) ++n;
    reader.Release();
    return n;
  }

  absl::Status Build(const std::vector<SubscribeMsg>& subscriptions, const std::string& shm_dir) {
    const size_t consumers = subscriptions.size();
    readers_.reserve(consumers);
    for (size_t c = 0; c < consumers; ++c) {
      const std::string who = absl::StrCat("consumer ", c, " of ", consumers);
      absl::StatusOr<uint64_t> id = registry_.Reserve();
      if (!id.ok()) return Annotate(id.status(), who);
      absl::StatusOr<shm::RingProducer> ring =
          shm::RingProducer::Create({.dir = shm_dir, .capacity = ring_bytes_});
      if (!ring.ok()) return Annotate(ring.status(), absl::StrCat(who, ": ring in ", shm_dir));
      absl::StatusOr<shm::EventFd> doorbell = shm::EventFd::Create();
      if (!doorbell.ok()) return Annotate(doorbell.status(), absl::StrCat(who, ": doorbell"));
      const int fd = ::dup(ring->fd());
      if (fd < 0) return Annotate(ErrnoStatus(errno, "dup"), who);
      absl::StatusOr<shm::RingConsumer> reader = shm::RingConsumer::Attach(UniqueFd(fd));
      if (!reader.ok()) return Annotate(reader.status(), absl::StrCat(who, ": attach"));
      readers_.push_back(*std::move(reader));
      registry_.Find(*id)->channel = std::make_shared<ConsumerChannel>(
          *id, "bench", *std::move(ring), *std::move(doorbell), OverflowPolicy::kDropAndCount);
      if (absl::Status s = registry_.ApplySubscribe(*id, subscriptions[c]); !s.ok()) {
        return Annotate(s, absl::StrCat(who, ": subscribe"));
      }
    }
    absl::StatusOr<std::unique_ptr<sender::RoutingTable>> table = registry_.BuildTable();
    if (!table.ok()) return table.status();
    dispatcher_.Install(*std::move(table));
    dispatcher_.Poll();
    if (dispatcher_.adopted() == nullptr) {
      return absl::InternalError("dispatch fixture: the dispatcher did not adopt the table");
    }
    return absl::OkStatus();
  }

  shm::EventFd notify_;  // outlives dispatcher_ (declared first)
  Dispatcher dispatcher_;
  Registry registry_{RegistryLimits{.max_consumers = kMaxConsumers,
                                    .max_keys_per_consumer = kMaxKeys + 1,
                                    .max_total_keys = kMaxKeys + 1,
                                    .max_keys_per_filter = kMaxKeys + 1}};
  uint64_t ring_bytes_ = kRingBytes;
  std::vector<shm::RingConsumer> readers_;  // each consumer's side of its ring, in order
  Pubkey matched_key_{};
};

}  // namespace qlaster::sender

#endif  // QLASTER_TOOLS_BENCH_DISPATCH_FIXTURE_H_
