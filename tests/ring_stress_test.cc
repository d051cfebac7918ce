// Multi-process stress of the SPSC ring: this process produces records 1..N of random sizes
// (8 B to 64 KiB) into a real /dev/shm ring; a separate consumer process
// (ring_stress_consumer) checks every sequence number, size and checksum. Zero loss and zero
// corruption, or the test fails. N is QLASTER_STRESS_RECORDS (default 10 million; the
// sanitizer builds set fewer).
#include <sys/wait.h>

#include <cstdlib>
#include <random>

#include "gtest/gtest.h"
#include "shm/spsc_ring.h"
#include "base/process.h"
#include "tests/stress_records.h"

namespace qlaster {
namespace {

uint64_t RecordsToSend() {
  const char* env = std::getenv("QLASTER_STRESS_RECORDS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 10'000'000;
}

TEST(RingStressTest, TenMillionRandomRecordsCrossProcessesIntact) {
  const uint64_t records = RecordsToSend();
  const uint64_t seed = 20261121;
  auto ring = shm::RingProducer::Create({.capacity = 1 << 20});
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto doorbell = shm::EventFd::Create();
  ASSERT_TRUE(doorbell.ok()) << doorbell.status();
  auto child = ChildProcess::Spawn(
      {QLASTER_STRESS_CONSUMER, std::to_string(records), std::to_string(seed)},
      {{ring->fd(), 3}, {doorbell->fd(), 4}});
  ASSERT_TRUE(child.ok()) << child.status();

  std::mt19937 rng(seed);
  uint32_t batch_left = 1;
  uint64_t full_waits = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(20);
  for (uint64_t seq = 1; seq <= records; ++seq) {
    const uint32_t size = testing::StressRecordSize(seed, seq);
    uint8_t* at = nullptr;
    for (;;) {
      shm::WriteResult r = ring->TryClaim(1, size, &at);
      if (r == shm::WriteResult::kOk) break;
      ASSERT_EQ(r, shm::WriteResult::kFull) << ring->violation();
      // Full: make what we have visible, wake the consumer, and let it drain.
      ring->Publish();
      ring->WakeIfSleeping(*doorbell);
      ++full_waits;
      if ((full_waits & 1023) == 0) {
        ASSERT_LT(absl::Now(), deadline) << "stuck at record " << seq;
        int status;
        ASSERT_EQ(::waitpid(child->pid(), &status, WNOHANG), 0)
            << "consumer died: " << DescribeWaitStatus(status);
      }
      sched_yield();
    }
    testing::FillStressRecord(at, size, seq);
    // Publish in batches of 1-16 records so both single and batched publishes are crossed.
    if (--batch_left == 0) {
      ring->Publish();
      ring->WakeIfSleeping(*doorbell);
      batch_left = 1 + rng() % 16;
    }
  }
  ring->Close(&*doorbell);
  auto status = child->Wait(absl::Minutes(5));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << "consumer " << DescribeWaitStatus(*status);
}

}  // namespace
}  // namespace qlaster
