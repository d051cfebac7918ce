// Shared-memory files and mappings.
#include "shm/mapped_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace qlaster::shm {

absl::StatusOr<UniqueFd> CreateShmFile(const std::string& dir, size_t size) {
  static std::atomic<uint64_t> counter{0};
  // A name that cannot collide with a live file of ours; O_EXCL guards against the rest.
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::string path = absl::StrFormat("%s/qlaster-%d-%d-%x", dir, getpid(),
                                       counter.fetch_add(1), static_cast<unsigned>(random()));
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
      if (errno == EEXIST) continue;
      return ErrnoStatus(errno, absl::StrCat("creating shared-memory file ", path));
    }
    ::unlink(path.c_str());
    int rc = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
    if (rc != 0) {
      if (rc == ENOSPC) {
        return absl::ResourceExhaustedError(
            absl::StrCat("no room for a ", size, "-byte ring in ", dir, " (tmpfs full)"));
      }
      return ErrnoStatus(rc, absl::StrCat("allocating ", size, " bytes in ", dir));
    }
    return fd;
  }
  return absl::InternalError(absl::StrCat("could not find a free file name in ", dir));
}

absl::StatusOr<size_t> FileSize(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat");
  if (st.st_size < 0) return absl::DataLossError("negative file size");
  return static_cast<size_t>(st.st_size);
}

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedRegion::~MappedRegion() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

absl::StatusOr<MappedRegion> MappedRegion::Map(int fd, size_t size) {
  if (size == 0) return absl::InvalidArgumentError("cannot map 0 bytes");
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, absl::StrCat("mmap of ", size, " bytes"));
  return MappedRegion(static_cast<uint8_t*>(p), size);
}

absl::StatusOr<MappedRegion> MappedRegion::MapReadOnly(int fd, size_t size) {
  if (size == 0) return absl::InvalidArgumentError("cannot map 0 bytes");
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return ErrnoStatus(errno, absl::StrCat("read-only mmap of ", size, " bytes"));
  }
  return MappedRegion(static_cast<uint8_t*>(p), size);
}

}  // namespace qlaster::shm
