// UniqueFd: sole owner of a file descriptor. Move-only; closes on destruction, so an error
// path can never leak an fd.
#ifndef QLASTER_BASE_UNIQUE_FD_H_
#define QLASTER_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace qlaster {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership; the caller must close the returned fd.
  int Release() { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and takes ownership of `fd`.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace qlaster

#endif  // QLASTER_BASE_UNIQUE_FD_H_
