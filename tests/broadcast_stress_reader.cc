// A reader process of the broadcast ring stress test (tests/broadcast_stress_test.cc): the
// ring's read-only fd is 3, its waiters file fd 4, the test's control page fd 5. Checks
// that every record it is handed has the sequence, size and checksum
// tests/broadcast_stress_records.h says, and that what it received plus the gaps it was
// told of add up exactly to every record written. Modes:
//   paced   the test's writer holds back for this reader: it must miss nothing;
//   normal  reads as fast as it can; may be lapped;
//   slow    every 4096 records, waits until the writer is two rings ahead: it is lapped
//           (deterministically) and must say so with exact gaps.
// Prints "delivered D missed M gaps G" and exits 0 when all is well; any other exit code
// names the failure.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shm/broadcast_ring.h"
#include "tests/broadcast_stress_records.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s RECORDS SEED paced|normal|slow (fds 3, 4, 5)\n", argv[0]);
    return 64;
  }
  using namespace qlaster;
  const uint64_t records = std::strtoull(argv[1], nullptr, 10);
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  const std::string mode = argv[3];
  const bool paced = mode == "paced", slow = mode == "slow";
  auto* control = static_cast<testing::BroadcastStressControl*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 5, 0));
  if (control == MAP_FAILED) return 2;
  auto ring = shm::BroadcastReader::Attach(UniqueFd(3), UniqueFd(4));
  if (!ring.ok()) {
    std::fprintf(stderr, "attach: %s\n", ring.status().ToString().c_str());
    return 2;
  }
  const uint32_t max_payload = ring->slot_bytes() - shm::kBroadcastSlotHeaderBytes;
  if (ring->next_sequence() != 1) return 7;  // attached after the writer started
  control->attached.fetch_add(1);
  uint64_t delivered = 0, gaps = 0, gap_records = 0;
  for (;;) {
    shm::BroadcastRecord record;
    switch (ring->TryRead(&record)) {
      case shm::BroadcastReadResult::kOk: {
        const uint32_t size = testing::BroadcastStressRecordSize(seed, record.sequence, max_payload);
        if (record.type != 1 || record.payload.size() != size ||
            !testing::CheckStressRecord(record.payload.data(), size, record.sequence)) {
          std::fprintf(stderr, "record %" PRIu64 " is torn or wrong: type %u, %zu bytes (expected %u)\n",
                       record.sequence, record.type, record.payload.size(), size);
          return 5;
        }
        ++delivered;
        if (paced && (delivered & 63) == 0) {
          control->paced_next.store(ring->next_sequence(), std::memory_order_release);
        }
        if (slow && (delivered & 4095) == 0) {
          // Fall two rings behind (or until the writer is done): poll the writer's progress.
          const uint64_t target = ring->next_sequence() + 2 * ring->slot_count();
          while (ring->peer_write_sequence() < std::min(target, records)) ::usleep(100);
        }
        break;
      }
      case shm::BroadcastReadResult::kGap:
        if (record.missed == 0) return 8;
        ++gaps;
        gap_records += record.missed;
        break;
      case shm::BroadcastReadResult::kEmpty:
        if (paced) control->paced_next.store(ring->next_sequence(), std::memory_order_release);
        if (ring->Wait(WaitMode::kSpinThenSleep, absl::Seconds(60), absl::Microseconds(20)) ==
            shm::WaitResult::kTimeout) {
          std::fprintf(stderr, "no record for 60 s after %" PRIu64 "\n", ring->next_sequence() - 1);
          return 3;
        }
        break;
      case shm::BroadcastReadResult::kClosed:
        std::printf("%s: delivered %" PRIu64 " missed %" PRIu64 " gaps %" PRIu64 "\n", mode.c_str(),
                    delivered, gap_records, gaps);
        if (gap_records != ring->missed()) return 9;
        if (delivered + gap_records != records) {
          std::fprintf(stderr, "delivered %" PRIu64 " + missed %" PRIu64 " != %" PRIu64 " written\n",
                       delivered, gap_records, records);
          return 6;
        }
        if (paced && gap_records != 0) return 10;
        if (slow && gaps == 0) return 11;
        return 0;
      case shm::BroadcastReadResult::kCorrupt:
        std::fprintf(stderr, "ring corrupt: %s\n", ring->error().ToString().c_str());
        return 4;
    }
  }
}
