// Binary compatibility of the ring file: restates the layout of shm/ring_layout.h byte by
// byte, so a change to the struct that moves a field fails here even if the static_asserts
// were edited along with it. A consumer built from another language reads these offsets.
#include <cstring>

#include "gtest/gtest.h"
#include "shm/spsc_ring.h"

namespace qlaster::shm {
namespace {

template <typename T>
T At(const uint8_t* base, size_t offset) {
  T v;
  std::memcpy(&v, base + offset, sizeof(v));
  return v;
}

TEST(RingLayoutBinaryCompatibilityTest, HeaderAndRecordBytesAreWhereTheDocSays) {
  auto producer = RingProducer::Create({.dir = "/dev/shm", .capacity = 8192});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const uint8_t payload[5] = {1, 2, 3, 4, 5};
  ASSERT_EQ(producer->TryWrite(42, payload), WriteResult::kOk);

  auto region = MappedRegion::Map(producer->fd(), 4096 + 8192);
  ASSERT_TRUE(region.ok());
  const uint8_t* b = region->data();
  EXPECT_EQ(std::memcmp(b, "QLRING\0\1", 8), 0);
  EXPECT_EQ(At<uint32_t>(b, 8), 1u);       // layout_version
  EXPECT_EQ(At<uint32_t>(b, 12), 4096u);   // header_bytes
  EXPECT_EQ(At<uint64_t>(b, 16), 8192u);   // capacity
  EXPECT_EQ(At<uint64_t>(b, 24), 0u);      // flags
  EXPECT_EQ(At<uint64_t>(b, 128), 16u);    // producer_position: one 8 + 5 -> 16-byte record
  EXPECT_EQ(At<uint32_t>(b, 136), 0u);     // producer_closed
  EXPECT_EQ(At<uint64_t>(b, 256), 0u);     // consumer_position
  EXPECT_EQ(At<uint32_t>(b, 264), 0u);     // consumer_sleeping
  // The first record: u32 length, u32 type, payload.
  EXPECT_EQ(At<uint32_t>(b, 4096), 5u);
  EXPECT_EQ(At<uint32_t>(b, 4100), 42u);
  EXPECT_EQ(std::memcmp(b + 4104, payload, 5), 0);

  producer->Close(nullptr);
  EXPECT_EQ(At<uint32_t>(b, 136), 1u);
}

}  // namespace
}  // namespace qlaster::shm
