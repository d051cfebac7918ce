// Fuzzes what a consumer trusts in a ring file written by another process: the header
// (RingConsumer::Attach) and the record stream (TryRead). Half the inputs are raw file
// bytes; the other half keep a valid header and choose the positions and the data region.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "shm/spsc_ring.h"

using namespace qlaster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kCapacity = shm::kMinRingCapacity;
  constexpr size_t kFileSize = shm::kRingHeaderBytes + kCapacity;
  if (size < 1) return 0;
  const bool raw = data[0] & 1;
  ++data;
  --size;

  UniqueFd fd(::memfd_create("ring-fuzz", MFD_CLOEXEC));
  if (!fd) return 0;
  if (raw) {
    // The whole file, any size up to two rings.
    size = std::min(size, 2 * kFileSize);
    if (size > 0 && ::write(fd.get(), data, size) != static_cast<ssize_t>(size)) return 0;
  } else {
    if (::ftruncate(fd.get(), kFileSize) != 0) return 0;
    auto region = shm::MappedRegion::Map(fd.get(), kFileSize);
    if (!region.ok()) return 0;
    auto* h = new (region->data()) shm::RingHeader();
    h->magic = shm::kRingMagic;
    h->layout_version = shm::kRingLayoutVersion;
    h->header_bytes = shm::kRingHeaderBytes;
    h->capacity = kCapacity;
    uint64_t positions[2] = {0, 0};
    const size_t n = std::min(size, sizeof(positions));
    std::memcpy(positions, data, n);
    h->consumer_position.store(positions[0] % (4 * kCapacity));
    h->producer_position.store(positions[1] % (4 * kCapacity));
    h->producer_closed.store(size > 16 && (data[16] & 1));
    if (size > 17) {
      std::memcpy(region->data() + shm::kRingHeaderBytes, data + 17, std::min(size - 17, kCapacity));
    }
  }
  auto consumer = shm::RingConsumer::Attach(std::move(fd));
  if (!consumer.ok()) return 0;
  for (int i = 0; i < 4096; ++i) {
    shm::RingRecord record;
    shm::ReadResult r = consumer->TryRead(&record);
    if (r != shm::ReadResult::kOk) break;
    // Touch every byte the ring vouched for: an out-of-bounds span crashes under ASan.
    volatile uint8_t sink = 0;
    for (uint8_t b : record.payload) sink = sink ^ b;
    if (i % 7 == 0) consumer->Release();
  }
  return 0;
}
