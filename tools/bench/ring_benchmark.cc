// Ring benchmarks: write+read pairs per second and bytes per second through the SPSC ring,
// for 64 B, 256 B, 4 KiB and 1 MiB records, with memcpy of the same sizes as the baseline
// measured in the same run (compare ratios, not absolute numbers, on a shared machine).
//
//   BM_RingSameThread   one thread writes a record then reads it: the ring's own cost.
//   BM_RingCrossThread  a producer thread and a consumer thread on two cores, the consumer
//                       spinning: the cost including cache-line transfer between cores.
//   BM_Memcpy           memcpy of the record size between two buffers (the copy floor).
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "shm/spsc_ring.h"

namespace qlaster::shm {
namespace {

uint64_t RingBytesFor(int64_t record) {
  return RoundRingCapacity(std::max<uint64_t>(uint64_t{4} << 20, 4 * RecordSpan(record)));
}

void BM_RingSameThread(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  auto producer = RingProducer::Create({.capacity = RingBytesFor(size)});
  if (!producer.ok()) return state.SkipWithError(producer.status().ToString().c_str());
  auto consumer = RingConsumer::Attach(UniqueFd(::dup(producer->fd())));
  if (!consumer.ok()) return state.SkipWithError(consumer.status().ToString().c_str());
  std::vector<uint8_t> src(size, 0x5a), dst(size);
  for (auto _ : state) {
    if (producer->TryWrite(1, src) != WriteResult::kOk) return state.SkipWithError("write failed");
    RingRecord r;
    if (consumer->TryRead(&r) != ReadResult::kOk) return state.SkipWithError("read failed");
    std::memcpy(dst.data(), r.payload.data(), r.payload.size());
    consumer->Release();
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * size);
}

void BM_RingCrossThread(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  auto producer = RingProducer::Create({.capacity = RingBytesFor(size)});
  if (!producer.ok()) return state.SkipWithError(producer.status().ToString().c_str());
  auto consumer = RingConsumer::Attach(UniqueFd(::dup(producer->fd())));
  if (!consumer.ok()) return state.SkipWithError(consumer.status().ToString().c_str());
  std::vector<uint8_t> src(size, 0x5a);
  std::atomic<bool> failed{false};
  // The consumer copies every record out, as a bot that keeps the data would.
  std::thread reader([&] {
    std::vector<uint8_t> dst(size);
    uint32_t unreleased = 0;
    for (;;) {
      RingRecord r;
      ReadResult rr = consumer->TryRead(&r);
      if (rr == ReadResult::kOk) {
        std::memcpy(dst.data(), r.payload.data(), r.payload.size());
        benchmark::DoNotOptimize(dst.data());
        if (++unreleased == 16) {
          consumer->Release();
          unreleased = 0;
        }
      } else if (rr == ReadResult::kEmpty) {
        consumer->Release();
        unreleased = 0;
      } else {
        failed = rr != ReadResult::kClosed;
        return;
      }
    }
  });
  for (auto _ : state) {
    while (producer->TryWrite(1, src) == WriteResult::kFull) {
    }
  }
  producer->Close(nullptr);
  reader.join();
  if (failed) state.SkipWithError("reader saw a corrupt ring");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * size);
}

void BM_Memcpy(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(size, 0x5a), dst(size);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), size);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * size);
}

#define QLASTER_RECORD_SIZES Arg(64)->Arg(256)->Arg(4096)->Arg(1 << 20)
BENCHMARK(BM_Memcpy)->QLASTER_RECORD_SIZES;
BENCHMARK(BM_RingSameThread)->QLASTER_RECORD_SIZES;
BENCHMARK(BM_RingCrossThread)->QLASTER_RECORD_SIZES->UseRealTime();

}  // namespace
}  // namespace qlaster::shm
