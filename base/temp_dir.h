// TempDir: a fresh private directory, removed with everything in it on destruction. For
// sockets and rings of tests, benchmarks and tools that must leave nothing behind.
#ifndef QLASTER_BASE_TEMP_DIR_H_
#define QLASTER_BASE_TEMP_DIR_H_

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace qlaster {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  // path() is empty if the directory could not be made; Create() says why instead.
  TempDir() : path_(Make()) {}
  static absl::StatusOr<TempDir> Create() {
    TempDir dir;
    if (dir.path_.empty()) {
      return absl::InternalError(absl::StrCat("cannot create a directory under ", Base(), ": ",
                                              std::strerror(errno)));
    }
    return dir;
  }
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, std::string())) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  static std::string Base() {
    const char* base = std::getenv("TMPDIR");
    return base != nullptr && *base != '\0' ? base : "/tmp";
  }
  static std::string Make() {
    std::string templ = Base() + "/qlaster-XXXXXX";
    return ::mkdtemp(templ.data()) != nullptr ? templ : "";
  }
  std::string path_;
};

}  // namespace qlaster

#endif  // QLASTER_BASE_TEMP_DIR_H_
