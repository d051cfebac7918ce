// The consumer process of the ring stress test (tests/ring_stress_test.cc): attaches the
// ring passed as fd 3 with its doorbell as fd 4, and checks that records 1..N arrive in
// order, each with the size and checksum tests/stress_records.h says, until the producer
// closes the ring. Exits 0 when all is well; any other exit code names the failure.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "shm/spsc_ring.h"
#include "tests/stress_records.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s RECORDS SEED (ring on fd 3, eventfd on fd 4)\n", argv[0]);
    return 64;
  }
  const uint64_t records = std::strtoull(argv[1], nullptr, 10);
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  using namespace qlaster;
  auto ring = shm::RingConsumer::Attach(UniqueFd(3));
  if (!ring.ok()) {
    std::fprintf(stderr, "attach: %s\n", ring.status().ToString().c_str());
    return 2;
  }
  shm::EventFd doorbell{UniqueFd(4)};
  uint64_t expected = 1;
  uint64_t bytes = 0;
  uint32_t unreleased = 0;
  for (;;) {
    shm::RingRecord record;
    switch (ring->TryRead(&record)) {
      case shm::ReadResult::kOk: {
        const uint32_t size = testing::StressRecordSize(seed, expected);
        if (record.type != 1 || record.payload.size() != size ||
            !testing::CheckStressRecord(record.payload.data(), size, expected)) {
          std::fprintf(stderr, "record %" PRIu64 " is wrong: type %u, %zu bytes (expected %u)\n",
                       expected, record.type, record.payload.size(), size);
          return 5;
        }
        ++expected;
        bytes += size;
        // Release in batches: one store to the producer's view per 32 records.
        if (++unreleased == 32) {
          ring->Release();
          unreleased = 0;
        }
        break;
      }
      case shm::ReadResult::kEmpty:
        ring->Release();
        unreleased = 0;
        if (ring->Wait(doorbell, WaitMode::kSpinThenSleep, absl::Seconds(60)) ==
            shm::WaitResult::kTimeout) {
          std::fprintf(stderr, "no record for 60 s after %" PRIu64 "\n", expected - 1);
          return 3;
        }
        break;
      case shm::ReadResult::kClosed:
        if (expected != records + 1) {
          std::fprintf(stderr, "closed after %" PRIu64 " of %" PRIu64 " records\n", expected - 1,
                       records);
          return 6;
        }
        std::printf("received %" PRIu64 " records, %" PRIu64 " bytes, all intact\n", records, bytes);
        return 0;
      case shm::ReadResult::kCorrupt:
        std::fprintf(stderr, "ring corrupt: %s\n", ring->error().ToString().c_str());
        return 4;
    }
  }
}
