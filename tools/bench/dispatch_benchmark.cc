// Dispatch benchmarks: the whole hot path of Dispatcher::PublishAccount — routing-table
// lookup, Bloom filter, inverted index, encoding, and the copy into each matching ring —
// with real rings in /dev/shm.
//
//   BM_DispatchReject    an account update nobody wants (random pubkey and owner).
//   BM_DispatchMatchOne  an update (165 B of data, a token account) that exactly one
//                        consumer subscribed to by pubkey; that consumer's ring is drained
//                        by the benchmark thread every 64 updates (included in the time).
//
// Arguments: consumers (1, 16, 64, 256) and total subscribed keys (0 to 1,000,000, spread
// evenly over the consumers). The goal: rejecting costs the same whatever the consumer
// count.
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "sender/dispatcher.h"
#include "sender/registry.h"
#include "wire/random_key.h"

namespace qlaster::sender {
namespace {

struct Fixture {
  shm::EventFd notify = *shm::EventFd::Create();
  Dispatcher dispatcher{&notify};
  Registry registry{RegistryLimits{.max_consumers = kMaxConsumerSlots,
                                   .max_keys_per_consumer = 2'000'000,
                                   .max_total_keys = 2'000'000}};
  std::vector<shm::RingConsumer> readers;
  Pubkey matched_key{};

  bool Build(int consumers, int64_t keys, benchmark::State& state) {
    std::mt19937_64 rng(42);
    for (int c = 0; c < consumers; ++c) {
      auto id = registry.Reserve();
      auto ring = shm::RingProducer::Create({.capacity = 1 << 20});
      auto doorbell = shm::EventFd::Create();
      if (!id.ok() || !ring.ok() || !doorbell.ok()) {
        state.SkipWithError("setup failed");
        return false;
      }
      readers.push_back(*shm::RingConsumer::Attach(UniqueFd(::dup(ring->fd()))));
      registry.Find(*id)->channel = std::make_shared<ConsumerChannel>(
          *id, "bench", *std::move(ring), *std::move(doorbell), fb::OverflowPolicy::DropAndCount);
      SubscribeMsg sub;
      const int64_t mine = keys / consumers;
      for (int64_t k = 0; k < mine; ++k) sub.pubkeys.push_back(RandomKey(rng));
      if (c == 0) {
        matched_key = RandomKey(rng);
        sub.pubkeys.push_back(matched_key);
      }
      if (!registry.ApplySubscribe(*id, sub).ok()) {
        state.SkipWithError("subscribe failed");
        return false;
      }
    }
    dispatcher.Install(registry.BuildTable());
    dispatcher.Poll();
    return true;
  }
};

void BM_DispatchReject(benchmark::State& state) {
  Fixture f;
  if (!f.Build(static_cast<int>(state.range(0)), state.range(1), state)) return;
  std::mt19937_64 rng(7);
  std::vector<AccountUpdate> updates(1 << 16);
  for (auto& u : updates) {
    u.pubkey = RandomKey(rng);
    u.owner = RandomKey(rng);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.dispatcher.PublishAccount(updates[i++ & (updates.size() - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DispatchMatchOne(benchmark::State& state) {
  Fixture f;
  if (!f.Build(static_cast<int>(state.range(0)), state.range(1), state)) return;
  AccountUpdate update;
  update.pubkey = f.matched_key;
  update.data.assign(165, 7);
  shm::RingConsumer& reader = f.readers[0];
  uint64_t n = 0;
  for (auto _ : state) {
    update.write_version = ++n;
    benchmark::DoNotOptimize(f.dispatcher.PublishAccount(update));
    if ((n & 63) == 0) {
      shm::RingRecord r;
      while (reader.TryRead(&r) == shm::ReadResult::kOk) {
      }
      reader.Release();
    }
  }
  if (f.registry.Entries()[0]->channel->dropped() != 0) state.SkipWithError("updates were dropped");
  state.SetItemsProcessed(state.iterations());
}

void DispatchArgs(benchmark::internal::Benchmark* b) {
  for (int consumers : {1, 16, 64, 256}) {
    for (int64_t keys : {0, 1000, 100000, 1000000}) b->Args({consumers, keys});
  }
}

BENCHMARK(BM_DispatchReject)->Apply(DispatchArgs);
BENCHMARK(BM_DispatchMatchOne)->Apply(DispatchArgs);

}  // namespace
}  // namespace qlaster::sender
