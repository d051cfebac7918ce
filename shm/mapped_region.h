// Shared-memory files and their mappings, owned RAII-style.
//
// A ring lives in a file created under a tmpfs directory (default /dev/shm) with mode 0600.
// The file is unlinked as soon as it exists: the fd is the only handle, it is passed to the
// consumer by SCM_RIGHTS, and nothing is left behind when either process dies.
#ifndef QLASTER_SHM_MAPPED_REGION_H_
#define QLASTER_SHM_MAPPED_REGION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace qlaster::shm {

inline constexpr char kDefaultShmDir[] = "/dev/shm";

// Creates an anonymous shared-memory file of `size` bytes in `dir` (a tmpfs), mode 0600,
// O_CLOEXEC, and unlinks it before returning. The space is allocated up front
// (posix_fallocate), so a full tmpfs fails here with kResourceExhausted instead of a SIGBUS
// on first write.
absl::StatusOr<UniqueFd> CreateShmFile(const std::string& dir, size_t size);

// Size in bytes of the file behind `fd`.
absl::StatusOr<size_t> FileSize(int fd);

// A MAP_SHARED mapping. Move-only; unmapped on destruction.
class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(MappedRegion&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion();

  // Maps `size` bytes of `fd` from offset 0, read-write. `fd` may be closed afterwards.
  static absl::StatusOr<MappedRegion> Map(int fd, size_t size);
  // Maps `size` bytes of `fd` from offset 0, PROT_READ only (`fd` may be O_RDONLY): a write
  // through the mapping faults.
  static absl::StatusOr<MappedRegion> MapReadOnly(int fd, size_t size);

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedRegion(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qlaster::shm

#endif  // QLASTER_SHM_MAPPED_REGION_H_
