// Solana and Yellowstone codec benchmarks: what the sender and qlaster-grpc will pay per
// transaction, on generated mainnet-shaped transactions (wire/solana/transaction_generator.h).
//
//   BM_ParseTransaction/kind        ParseTransaction (full validation) of a vote (0) or a
//                                   v0 swap (3).
//   BM_TransactionKeys/kind         ParseTransaction, PeekTransactionStatus and a pass over
//                                   every static and loaded key: what a transaction filter
//                                   needs before its index look-ups.
//   BM_DecodeTransactionStatus/kind DecodeTransactionStatus (full validation).
//   BM_GenerateTransaction/kind     TransactionGenerator::Generate (the synthetic feed's cost).
//   BM_ToYellowstone/kind           FillUpdateTransaction + SerializeToString: one update
//                                   as qlaster-grpc would send it.
//   BM_FromYellowstone/kind         ParseFromString + FromUpdateTransaction: one upstream
//                                   update as the Yellowstone source would take it in.
// Each iteration walks 256 different transactions of the kind, so branch predictors and
// caches see a feed, not one message.
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_generator.h"
#include "wire/solana/transaction_status.h"
#include "wire/yellowstone/transaction_convert.h"

namespace qlaster::solana {
namespace {

constexpr size_t kSamples = 256;

const std::vector<GeneratedTransaction>& Samples(int kind) {
  static std::vector<GeneratedTransaction> samples[4];
  std::vector<GeneratedTransaction>& s = samples[kind];
  if (s.empty()) {
    const TransactionGenerator gen;
    for (uint32_t i = 0; i < kSamples; ++i) {
      s.push_back(gen.Generate(350'000'000, i, static_cast<TransactionKind>(kind)));
    }
  }
  return s;
}

void BM_ParseTransaction(benchmark::State& state) {
  const auto& samples = Samples(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<TransactionView> view = ParseTransaction(samples[i++ % kSamples].transaction);
    benchmark::DoNotOptimize(view);
  }
}
BENCHMARK(BM_ParseTransaction)->Arg(0)->Arg(3);

void BM_TransactionKeys(benchmark::State& state) {
  const auto& samples = Samples(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    const GeneratedTransaction& g = samples[i++ % kSamples];
    absl::StatusOr<TransactionView> view = ParseTransaction(g.transaction);
    absl::StatusOr<TransactionStatusSummary> status = PeekTransactionStatus(g.status);
    uint64_t x = 0;
    for (size_t k = 0; k < view->static_key_count(); ++k) x ^= view->static_key(k)[0];
    for (size_t k = 0; k < status->loaded_writable.size(); k += 32) x ^= status->loaded_writable[k];
    for (size_t k = 0; k < status->loaded_readonly.size(); k += 32) x ^= status->loaded_readonly[k];
    benchmark::DoNotOptimize(x);
  }
}
BENCHMARK(BM_TransactionKeys)->Arg(0)->Arg(3);

void BM_DecodeTransactionStatus(benchmark::State& state) {
  const auto& samples = Samples(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<TransactionStatusView> view = DecodeTransactionStatus(samples[i++ % kSamples].status);
    benchmark::DoNotOptimize(view);
  }
}
BENCHMARK(BM_DecodeTransactionStatus)->Arg(0)->Arg(3);

void BM_GenerateTransaction(benchmark::State& state) {
  const TransactionGenerator gen;
  const auto kind = static_cast<TransactionKind>(state.range(0));
  uint32_t i = 0;
  for (auto _ : state) {
    GeneratedTransaction g = gen.Generate(350'000'000, i++, kind);
    benchmark::DoNotOptimize(g);
  }
}
BENCHMARK(BM_GenerateTransaction)->Arg(0)->Arg(3);

void BM_ToYellowstone(benchmark::State& state) {
  const auto& samples = Samples(static_cast<int>(state.range(0)));
  size_t i = 0;
  geyser::SubscribeUpdateTransaction update;
  std::string out;
  for (auto _ : state) {
    const GeneratedTransaction& g = samples[i++ % kSamples];
    (void)yellowstone::FillUpdateTransaction(g.transaction, g.status, 350'000'000, i, &update);
    update.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_ToYellowstone)->Arg(0)->Arg(3);

void BM_FromYellowstone(benchmark::State& state) {
  const auto& samples = Samples(static_cast<int>(state.range(0)));
  std::vector<std::string> wire;
  for (const GeneratedTransaction& g : samples) {
    geyser::SubscribeUpdateTransaction update;
    (void)yellowstone::FillUpdateTransaction(g.transaction, g.status, 350'000'000, 0, &update);
    wire.push_back(update.SerializeAsString());
  }
  size_t i = 0;
  geyser::SubscribeUpdateTransaction update;
  for (auto _ : state) {
    update.ParseFromString(wire[i++ % kSamples]);
    absl::StatusOr<yellowstone::SlotTransactionRecord> record = yellowstone::FromUpdateTransaction(update);
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_FromYellowstone)->Arg(0)->Arg(3);

}  // namespace
}  // namespace qlaster::solana
