// Dispatch benchmarks: the whole hot path of Dispatcher::PublishAccount — routing-table
// lookup, Bloom filter, inverted index, encoding, and the copy into each matching ring —
// with real rings in /dev/shm (the setup is DispatchFixture, shared with the `filter`
// scenario of qlaster-bench).
//
//   BM_DispatchReject    an account update nobody wants (random pubkey and owner).
//   BM_DispatchMatchOne  an update (165 B of data, a token account) that exactly one
//                        consumer subscribed to by pubkey; that consumer's ring is drained
//                        by the benchmark thread every 64 updates (included in the time).
//
// Arguments: consumers (1, 16, 64, 256) and total subscribed keys (0 to 1,000,000, spread
// evenly over the consumers). The goal: rejecting costs the same whatever the consumer
// count.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/bench/dispatch_fixture.h"

namespace qlaster::sender {
namespace {

// The fixture for the benchmark's arguments, or null after SkipWithError.
std::unique_ptr<DispatchFixture> MakeFixture(benchmark::State& state) {
  auto f = DispatchFixture::Create(static_cast<int>(state.range(0)), state.range(1));
  if (!f.ok()) {
    state.SkipWithError(f.status().ToString().c_str());
    return nullptr;
  }
  return *std::move(f);
}

void BM_DispatchReject(benchmark::State& state) {
  std::unique_ptr<DispatchFixture> f = MakeFixture(state);
  if (f == nullptr) return;
  const std::vector<AccountUpdate> updates = DispatchFixture::RejectUpdates(1 << 16);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f->dispatcher().PublishAccount(updates[i++ & (updates.size() - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DispatchMatchOne(benchmark::State& state) {
  std::unique_ptr<DispatchFixture> f = MakeFixture(state);
  if (f == nullptr) return;
  AccountUpdate update = f->MatchedUpdate();
  uint64_t n = 0;
  for (auto _ : state) {
    update.write_version = ++n;
    benchmark::DoNotOptimize(f->dispatcher().PublishAccount(update));
    if ((n & 63) == 0) f->DrainMatched();
  }
  if (f->MatchedDropped() != 0) state.SkipWithError("updates were dropped");
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
