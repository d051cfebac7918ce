// The layout of a broadcast ring: one writer (the sender), any number of readers, each
// reader mapping the ring file read-only. Two files: the ring file (written by the writer
// alone; readers get an O_RDONLY descriptor and map it PROT_READ) and a one-page waiters
// file (the only shared word a reader writes: how many readers are asleep).
//
// Ring file:
//   0                                                                   4096
//   +-------------------------------------------------------------------+
//   | BroadcastHeader                                                   |
//   |   0    magic               "QLBCAST\1" as u64                     |
//   |   8    layout_version      u32                                    |
//   |   12   header_bytes        u32   (4096: slots start here)         |
//   |   16   slot_bytes          u32   (power of two, header included)  |
//   |   20   flags               u32   (reserved, zero)                 |
//   |   24   slot_count          u64   (power of two)                   |
//   |   32   reserved            96 B                                   |
//   |   128  write_sequence      atomic u64 --+ writer's 128-byte slot  |
//   |   136  closed              atomic u32 --+                         |
//   |   256  wake_word           atomic u32 --  futex word readers wait |
//   |   384  reserved to 4096                                           |
//   +-------------------------------------------------------------------+
//   | slot_count slots of slot_bytes:                                   |
//   |   0  stamp   atomic u64  (sequence << 1) | dirty                  |
//   |   8  length  atomic u32  payload bytes                            |
//   |   12 type    atomic u32                                           |
//   |   16 payload (slot_bytes - 16 bytes at most)                      |
//   +-------------------------------------------------------------------+
//
// Records are numbered from 1; record n lives in slot (n - 1) & (slot_count - 1). The writer
// writes record n as a seqlock: stamp = (n << 1) | 1 (dirty), a release fence, length, type
// and payload, then stamp = n << 1 with a release store, then write_sequence = n (release).
// A reader copies a record out and re-reads its stamp (after an acquire fence): an
// unchanged, clean stamp (n << 1) means the copy is whole; anything else means the writer
// lapped the reader. Slot 0's stamp 0 means "never written". The writer never reads
// anything a reader writes except the waiter count, and that only decides whether it makes
// a FUTEX_WAKE syscall.
//
// Waking: a sleeping reader increments `waiters` (waiters file), reads wake_word, advances
// sleep_word to it (never backwards, modulo 2^32), re-checks write_sequence and FUTEX_WAITs
// on wake_word. After publishing, the writer makes write_sequence visible (a seq_cst
// read-modify-write), and only if `waiters` is non-zero and some reader sleeps on the
// current wake_word (sleep_word == wake_word) increments wake_word and issues one
// FUTEX_WAKE for all: no syscall when nobody sleeps, one per round of sleepers (not one per
// publish while woken readers are still on their way out), never one per reader.
//
// Waiters file (4096 bytes):
//   0    magic            "QLBCWAIT" as u64
//   8    layout_version   u32
//   12   reserved         u32
//   64   waiters          atomic u32 (readers asleep or about to be)
//   68   sleep_word       atomic u32 (the newest wake_word a reader sleeps on)
//   72   reserved to 4096
#ifndef QLASTER_SHM_BROADCAST_LAYOUT_H_
#define QLASTER_SHM_BROADCAST_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace qlaster::shm {

inline constexpr uint64_t kBroadcastMagic = 0x01'54'53'41'43'42'4C'51ULL;  // "QLBCAST\1"
inline constexpr uint64_t kBroadcastWaitersMagic = 0x54'49'41'57'43'42'4C'51ULL;  // "QLBCWAIT"
// Distinct from kRingLayoutVersion's sequence so a version error names the right file.
inline constexpr uint32_t kBroadcastLayoutVersion = 101;
inline constexpr uint32_t kBroadcastHeaderBytes = 4096;
inline constexpr uint32_t kBroadcastWaitersBytes = 4096;
inline constexpr uint32_t kMinBroadcastSlotBytes = 64;
inline constexpr uint32_t kMaxBroadcastSlotBytes = uint32_t{1} << 20;
inline constexpr uint64_t kMinBroadcastSlotCount = 2;
inline constexpr uint64_t kMaxBroadcastSlotCount = uint64_t{1} << 24;
inline constexpr uint64_t kMaxBroadcastDataBytes = uint64_t{1} << 32;  // 4 GiB of slots

struct BroadcastHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint32_t slot_bytes;
  uint32_t flags;
  uint64_t slot_count;
  uint8_t reserved0[96];

  // Writer's slot.
  alignas(128) std::atomic<uint64_t> write_sequence;  // last record committed (0: none)
  std::atomic<uint32_t> closed;                       // 1 once the writer will write no more
  uint8_t reserved1[128 - 12];

  // The futex word sleeping readers wait on; the writer increments it to wake them.
  alignas(128) std::atomic<uint32_t> wake_word;
  uint8_t reserved2[128 - 4];

  uint8_t reserved3[kBroadcastHeaderBytes - 384];
};

static_assert(offsetof(BroadcastHeader, magic) == 0);
static_assert(offsetof(BroadcastHeader, layout_version) == 8);
static_assert(offsetof(BroadcastHeader, header_bytes) == 12);
static_assert(offsetof(BroadcastHeader, slot_bytes) == 16);
static_assert(offsetof(BroadcastHeader, flags) == 20);
static_assert(offsetof(BroadcastHeader, slot_count) == 24);
static_assert(offsetof(BroadcastHeader, reserved0) == 32);
static_assert(offsetof(BroadcastHeader, write_sequence) == 128);
static_assert(offsetof(BroadcastHeader, closed) == 136);
static_assert(offsetof(BroadcastHeader, reserved1) == 140);
static_assert(offsetof(BroadcastHeader, wake_word) == 256);
static_assert(offsetof(BroadcastHeader, reserved2) == 260);
static_assert(offsetof(BroadcastHeader, reserved3) == 384);
static_assert(sizeof(BroadcastHeader) == kBroadcastHeaderBytes);
static_assert(std::is_standard_layout_v<BroadcastHeader>);

struct BroadcastSlotHeader {
  std::atomic<uint64_t> stamp;  // (sequence << 1) | dirty
  std::atomic<uint32_t> length;
  std::atomic<uint32_t> type;
};
inline constexpr uint32_t kBroadcastSlotHeaderBytes = 16;
static_assert(offsetof(BroadcastSlotHeader, stamp) == 0);
static_assert(offsetof(BroadcastSlotHeader, length) == 8);
static_assert(offsetof(BroadcastSlotHeader, type) == 12);
static_assert(sizeof(BroadcastSlotHeader) == kBroadcastSlotHeaderBytes);
static_assert(std::is_standard_layout_v<BroadcastSlotHeader>);

constexpr uint64_t BroadcastStamp(uint64_t sequence, bool dirty) {
  return (sequence << 1) | (dirty ? 1 : 0);
}

struct BroadcastWaitersHeader {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t reserved0;
  uint8_t reserved1[48];
  std::atomic<uint32_t> waiters;
  std::atomic<uint32_t> sleep_word;
  uint8_t reserved2[kBroadcastWaitersBytes - 72];
};
static_assert(offsetof(BroadcastWaitersHeader, magic) == 0);
static_assert(offsetof(BroadcastWaitersHeader, layout_version) == 8);
static_assert(offsetof(BroadcastWaitersHeader, reserved0) == 12);
static_assert(offsetof(BroadcastWaitersHeader, reserved1) == 16);
static_assert(offsetof(BroadcastWaitersHeader, waiters) == 64);
static_assert(offsetof(BroadcastWaitersHeader, sleep_word) == 68);
static_assert(offsetof(BroadcastWaitersHeader, reserved2) == 72);
static_assert(sizeof(BroadcastWaitersHeader) == kBroadcastWaitersBytes);
static_assert(std::is_standard_layout_v<BroadcastWaitersHeader>);

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint64_t>) == 8 && sizeof(std::atomic<uint32_t>) == 4);

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_BROADCAST_LAYOUT_H_
