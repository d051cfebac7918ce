// Multi-process stress of the broadcast ring: this process writes records 1..N of random
// sizes (8 B to the slot's payload) into a real /dev/shm broadcast ring read by 8 reader
// processes (broadcast_stress_reader): one paced reader the test's writer holds back for
// (through a control page outside the ring: the ring never waits), which must receive every
// record intact; three that read as fast as they can; four deliberately slow ones that are
// lapped again and again. Every reader checks each record it is handed (sequence, size,
// checksum: nothing torn) and that delivered + missed == N exactly. N is
// QLASTER_STRESS_RECORDS (default 10 million; the sanitizer builds set fewer).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "base/process.h"
#include "gtest/gtest.h"
#include "shm/broadcast_ring.h"
#include "tests/broadcast_stress_records.h"

namespace qlaster {
namespace {

uint64_t RecordsToSend() {
  const char* env = std::getenv("QLASTER_STRESS_RECORDS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 10'000'000;
}

TEST(BroadcastStressTest, EightReadersSomeLappedNothingTornGapsExact) {
  const uint64_t records = RecordsToSend();
  const uint64_t seed = 20261202;
  auto ring = shm::BroadcastWriter::Create({.slot_bytes = 1024, .slot_count = 4096});
  ASSERT_TRUE(ring.ok()) << ring.status();
  const uint32_t max_payload = ring->max_payload();

  UniqueFd control_fd(::memfd_create("broadcast-stress-control", MFD_CLOEXEC));
  ASSERT_TRUE(control_fd.valid());
  ASSERT_EQ(::ftruncate(control_fd.get(), 4096), 0);
  auto* control = static_cast<testing::BroadcastStressControl*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, control_fd.get(), 0));
  ASSERT_NE(control, MAP_FAILED);
  control->paced_next.store(1);

  const std::vector<std::string> modes = {"paced", "normal", "normal", "normal",
                                          "slow",  "slow",   "slow",   "slow"};
  std::vector<ChildProcess> children;
  for (const std::string& mode : modes) {
    auto ro = ring->ReadOnlyFd();
    ASSERT_TRUE(ro.ok()) << ro.status();
    auto child = ChildProcess::Spawn(
        {QLASTER_BROADCAST_STRESS_READER, std::to_string(records), std::to_string(seed), mode},
        {{ro->get(), 3}, {ring->waiters_fd(), 4}, {control_fd.get(), 5}});
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(*std::move(child));
  }
  const absl::Time deadline = absl::Now() + absl::Minutes(20);
  auto check_children = [&]() {
    for (ChildProcess& child : children) {
      int status;
      ASSERT_EQ(::waitpid(child.pid(), &status, WNOHANG), 0)
          << "reader died early: " << DescribeWaitStatus(status);
    }
  };
  while (control->attached.load() < modes.size()) {
    ASSERT_LT(absl::Now(), deadline) << "readers did not attach";
    check_children();
    ::usleep(1000);
  }

  std::vector<uint8_t> payload(max_payload);
  const uint64_t hold_back = ring->slot_count() / 2;
  uint64_t holds = 0;
  for (uint64_t seq = 1; seq <= records; ++seq) {
    // Hold back for the paced reader alone (the ring itself never waits).
    while (seq - control->paced_next.load(std::memory_order_acquire) >= hold_back) {
      ring->WakeSleepers();
      if ((++holds & 1023) == 0) {
        ASSERT_LT(absl::Now(), deadline) << "stuck at record " << seq;
        check_children();
      }
      sched_yield();
    }
    const uint32_t size = testing::BroadcastStressRecordSize(seed, seq, max_payload);
    testing::FillStressRecord(payload.data(), size, seq);
    ASSERT_EQ(ring->Write(1, absl::MakeConstSpan(payload.data(), size)), shm::BroadcastWriteResult::kOk);
    ring->WakeSleepers();
  }
  ring->Close();
  for (size_t i = 0; i < children.size(); ++i) {
    auto status = children[i].Wait(absl::Minutes(5));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(*status, 0) << modes[i] << " reader " << i << ": " << DescribeWaitStatus(*status);
  }
}

}  // namespace
}  // namespace qlaster
