// The records and the shared control page of the broadcast ring stress test
// (tests/broadcast_stress_test.cc and tests/broadcast_stress_reader.cc).
//
// Record `seq` has a size drawn log-uniformly from [8, max_payload] by a hash of
// (seed, seq); its bytes are those of tests/stress_records.h (seq, filler, checksum).
#ifndef QLASTER_TESTS_BROADCAST_STRESS_RECORDS_H_
#define QLASTER_TESTS_BROADCAST_STRESS_RECORDS_H_

#include <atomic>
#include <cmath>
#include <cstdint>

#include "tests/stress_records.h"

namespace qlaster::testing {

inline uint32_t BroadcastStressRecordSize(uint64_t seed, uint64_t seq, uint32_t max_payload) {
  const double u = static_cast<double>(Mix64(seed ^ (seq * 0x9e3779b97f4a7c15ULL)) >> 11) * 0x1.0p-53;
  const double lo = std::log2(kStressMinSize), hi = std::log2(max_payload + 1.0);
  auto size = static_cast<uint32_t>(std::exp2(lo + u * (hi - lo)));
  return size < kStressMinSize ? kStressMinSize : (size > max_payload ? max_payload : size);
}

// A page shared read-write by the test and its readers (not part of the ring): readers
// say they are attached, and the paced reader publishes how far it has read, so that the
// test's writer can hold back for it alone. The ring itself never waits for anyone.
struct BroadcastStressControl {
  std::atomic<uint32_t> attached;
  std::atomic<uint64_t> paced_next;  // the paced reader's next sequence
};

}  // namespace qlaster::testing

#endif  // QLASTER_TESTS_BROADCAST_STRESS_RECORDS_H_
