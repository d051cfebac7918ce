// The layout of one consumer's SPSC ring file: the contract between the sender (producer)
// and a consumer process that maps the same file. Everything here is plain data at fixed
// offsets; the objects that read and write it (shm/spsc_ring.h) live in process memory.
//
//   0                                                                   4096
//   +-------------------------------------------------------------------+
//   | RingHeader                                                        |
//   |   0    magic               "QLRING\0\1" as u64                    |
//   |   8    layout_version      u32                                    |
//   |   12   header_bytes        u32   (4096: data starts here)         |
//   |   16   capacity            u64   (data bytes, power of two)       |
//   |   24   flags               u64   (reserved, zero)                 |
//   |   32   reserved            96 B                                   |
//   |   128  producer_position   atomic u64 --+ producer's 128-byte slot|
//   |   136  producer_closed     atomic u32 --+                         |
//   |   256  consumer_position   atomic u64 --+ consumer's 128-byte slot|
//   |   264  consumer_sleeping   atomic u32 --+                         |
//   |   384  reserved to 4096                                           |
//   +-------------------------------------------------------------------+
//   | data region: `capacity` bytes of records                          |
//   +-------------------------------------------------------------------+
//
// Positions are byte counts that only grow; index = position & (capacity - 1). A record is
// RecordHeader {length, type} followed by `length` payload bytes, padded to 8 bytes. A
// record never straddles the end of the data region: when it would, the producer first
// writes a padding record (type kRecordTypePadding) over the tail. The producer publishes
// records by a release store of producer_position; the consumer frees them by a release
// store of consumer_position.
#ifndef QLASTER_SHM_RING_LAYOUT_H_
#define QLASTER_SHM_RING_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace qlaster::shm {

inline constexpr uint64_t kRingMagic = 0x01'00'47'4E'49'52'4C'51ULL;  // "QLRING\0\1"
inline constexpr uint32_t kRingLayoutVersion = 1;
inline constexpr uint32_t kRingHeaderBytes = 4096;
inline constexpr uint64_t kMinRingCapacity = 4096;
inline constexpr uint64_t kMaxRingCapacity = uint64_t{1} << 32;  // 4 GiB
inline constexpr size_t kRecordAlignment = 8;

// Record types below kFirstUserRecordType belong to the ring itself.
inline constexpr uint32_t kRecordTypePadding = 0;
inline constexpr uint32_t kFirstUserRecordType = 1;

struct RecordHeader {
  uint32_t length;  // payload bytes after this header, before alignment padding
  uint32_t type;
};
static_assert(sizeof(RecordHeader) == 8);
static_assert(offsetof(RecordHeader, length) == 0);
static_assert(offsetof(RecordHeader, type) == 4);
static_assert(std::is_standard_layout_v<RecordHeader>);

// Bytes a record of `length` payload bytes occupies in the data region.
constexpr uint64_t RecordSpan(uint64_t length) {
  return (sizeof(RecordHeader) + length + kRecordAlignment - 1) & ~uint64_t{kRecordAlignment - 1};
}

struct RingHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t capacity;
  uint64_t flags;
  uint8_t reserved0[96];

  // Producer's slot: written by the producer only.
  alignas(128) std::atomic<uint64_t> producer_position;
  std::atomic<uint32_t> producer_closed;  // 1 once the producer will write no more
  uint8_t reserved1[128 - 12];

  // Consumer's slot: written by the consumer (consumer_sleeping also cleared by the
  // producer when it wakes the consumer).
  alignas(128) std::atomic<uint64_t> consumer_position;
  std::atomic<uint32_t> consumer_sleeping;  // 1: the consumer is (about to be) blocked
  uint8_t reserved2[128 - 12];

  uint8_t reserved3[kRingHeaderBytes - 384];
};

static_assert(offsetof(RingHeader, magic) == 0);
static_assert(offsetof(RingHeader, layout_version) == 8);
static_assert(offsetof(RingHeader, header_bytes) == 12);
static_assert(offsetof(RingHeader, capacity) == 16);
static_assert(offsetof(RingHeader, flags) == 24);
static_assert(offsetof(RingHeader, reserved0) == 32);
static_assert(offsetof(RingHeader, producer_position) == 128);
static_assert(offsetof(RingHeader, producer_closed) == 136);
static_assert(offsetof(RingHeader, reserved1) == 140);
static_assert(offsetof(RingHeader, consumer_position) == 256);
static_assert(offsetof(RingHeader, consumer_sleeping) == 264);
static_assert(offsetof(RingHeader, reserved2) == 268);
static_assert(offsetof(RingHeader, reserved3) == 384);
static_assert(sizeof(RingHeader) == kRingHeaderBytes);
static_assert(std::is_standard_layout_v<RingHeader>);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4);

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_RING_LAYOUT_H_
