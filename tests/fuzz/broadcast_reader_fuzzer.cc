// Fuzzes what a broadcast ring reader trusts in files written by another process: the ring
// file's header and the waiters file (BroadcastReader::Attach) and the slots (TryRead).
// Half the inputs are raw ring-file bytes; the other half keep a valid header and choose
// write_sequence, the close flag and the slots' bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "shm/broadcast_ring.h"

using namespace qlaster;

namespace {

constexpr uint32_t kSlotBytes = 64;
constexpr uint64_t kSlotCount = 16;
constexpr size_t kFileSize = shm::kBroadcastHeaderBytes + kSlotBytes * kSlotCount;

UniqueFd WaitersFile(bool valid) {
  UniqueFd fd(::memfd_create("broadcast-waiters-fuzz", MFD_CLOEXEC));
  if (!fd || ::ftruncate(fd.get(), shm::kBroadcastWaitersBytes) != 0) return UniqueFd();
  if (valid) {
    auto region = shm::MappedRegion::Map(fd.get(), shm::kBroadcastWaitersBytes);
    if (!region.ok()) return UniqueFd();
    auto* w = new (region->data()) shm::BroadcastWaitersHeader();
    w->magic = shm::kBroadcastWaitersMagic;
    w->layout_version = shm::kBroadcastLayoutVersion;
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool raw = data[0] & 1;
  const bool valid_waiters = (data[0] & 2) == 0;
  ++data;
  --size;

  UniqueFd fd(::memfd_create("broadcast-fuzz", MFD_CLOEXEC));
  if (!fd) return 0;
  if (raw) {
    size = std::min(size, 2 * kFileSize);
    if (size > 0 && ::write(fd.get(), data, size) != static_cast<ssize_t>(size)) return 0;
  } else {
    if (::ftruncate(fd.get(), kFileSize) != 0) return 0;
    auto region = shm::MappedRegion::Map(fd.get(), kFileSize);
    if (!region.ok()) return 0;
    auto* h = new (region->data()) shm::BroadcastHeader();
    h->magic = shm::kBroadcastMagic;
    h->layout_version = shm::kBroadcastLayoutVersion;
    h->header_bytes = shm::kBroadcastHeaderBytes;
    h->slot_bytes = kSlotBytes;
    h->slot_count = kSlotCount;
    uint64_t sequence = 0;
    std::memcpy(&sequence, data, std::min(size, sizeof(sequence)));
    h->write_sequence.store(sequence % (8 * kSlotCount));
    h->closed.store(size > 8 && (data[8] & 1));
    if (size > 9) {
      std::memcpy(region->data() + shm::kBroadcastHeaderBytes, data + 9,
                  std::min(size - 9, kFileSize - shm::kBroadcastHeaderBytes));
    }
  }
  // From the oldest record, so that every slot the header vouches for is read.
  auto reader = shm::BroadcastReader::Attach(std::move(fd), WaitersFile(valid_waiters),
                                             shm::BroadcastStart::kOldest);
  if (!reader.ok()) return 0;
  for (int i = 0; i < 4096; ++i) {
    shm::BroadcastRecord record;
    shm::BroadcastReadResult r = reader->TryRead(&record);
    if (r == shm::BroadcastReadResult::kOk) {
      volatile uint8_t sink = 0;
      for (uint8_t b : record.payload) sink = sink ^ b;
      continue;
    }
    if (r != shm::BroadcastReadResult::kGap) break;
  }
  return 0;
}
