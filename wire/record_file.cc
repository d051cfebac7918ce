// Record files: CRC-32C, the buffered writer and the checking reader (layout and
// crash-tolerance rules in record_file.h).
#include "wire/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace qlaster {
namespace {

constexpr uint32_t kCrc32cPolynomial = 0x82F63B78;  // Castagnoli, reflected

// Slicing-by-4 tables: table[0] is the classic byte-at-a-time table; table[k][b] is the
// CRC of byte b followed by k zero bytes, so four bytes are folded per step.
constexpr std::array<std::array<uint32_t, 256>, 4> MakeCrcTables() {
  std::array<std::array<uint32_t, 256>, 4> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrc32cPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 4; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}
constexpr auto kCrcTables = MakeCrcTables();

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t RealtimeNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// File header field offsets (record_file.h).
constexpr size_t kMagicOffset = 0;
constexpr size_t kVersionOffset = 8;
constexpr size_t kHeaderSizeOffset = 12;
constexpr size_t kCreatedOffset = 16;
constexpr size_t kHeaderCrcOffset = 24;
// A later version may grow the header; this bounds how much of a hostile file's claim we
// skip.
constexpr size_t kMaxFileHeaderSize = 4096;

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

uint32_t Crc32c(uint32_t crc, absl::Span<const uint8_t> data) {
  uint32_t c = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 4) {
    c ^= static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
    c = kCrcTables[3][c & 0xff] ^ kCrcTables[2][(c >> 8) & 0xff] ^
        kCrcTables[1][(c >> 16) & 0xff] ^ kCrcTables[0][c >> 24];
    p += 4;
    n -= 4;
  }
  while (n-- > 0) c = (c >> 8) ^ kCrcTables[0][(c ^ *p++) & 0xff];
  return ~c;
}

// ------------------------------------------------------------------- RecordWriter

RecordWriter::RecordWriter(UniqueFd fd, size_t batch_bytes)
    : fd_(std::move(fd)), batch_bytes_(batch_bytes) {}

RecordWriter& RecordWriter::operator=(RecordWriter&& other) {
  if (this != &other) {
    Close().IgnoreError();  // what this writer buffered must not be lost silently
    fd_ = std::move(other.fd_);
    batch_bytes_ = other.batch_bytes_;
    buffer_ = std::move(other.buffer_);
    other.buffer_.clear();
    records_ = other.records_;
    bytes_ = other.bytes_;
    error_ = other.error_;
  }
  return *this;
}

RecordWriter::~RecordWriter() { Close().IgnoreError(); }

absl::StatusOr<RecordWriter> RecordWriter::Open(const std::string& path,
                                                const RecordWriterOptions& options) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.overwrite ? O_TRUNC : O_EXCL);
  UniqueFd fd(::open(path.c_str(), flags, options.mode));
  if (!fd) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(
          absl::StrCat(path, " exists; not overwriting a recording"));
    }
    return ErrnoStatus(errno, absl::StrCat("creating record file ", path));
  }
  RecordWriter writer(std::move(fd), std::max<size_t>(options.batch_bytes, 1));
  uint8_t header[kRecordFileHeaderSize] = {};
  std::memcpy(header + kMagicOffset, kRecordFileMagic, sizeof(kRecordFileMagic));
  PutU32(header + kVersionOffset, kRecordFileVersion);
  PutU32(header + kHeaderSizeOffset, kRecordFileHeaderSize);
  PutU64(header + kCreatedOffset, RealtimeNs());
  PutU32(header + kHeaderCrcOffset, Crc32c(absl::MakeConstSpan(header, kHeaderCrcOffset)));
  // Written at once, so that even an empty recording is a valid file.
  QLASTER_RETURN_IF_ERROR(writer.WriteAll(header));
  writer.bytes_ = kRecordFileHeaderSize;
  return writer;
}

absl::Status RecordWriter::WriteAll(absl::Span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = ErrnoStatus(errno, "writing record file");
      return error_;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Append(absl::Span<const uint8_t> frame) {
  if (!error_.ok()) return error_;
  if (!fd_) return absl::FailedPreconditionError("record writer is closed");
  if (frame.empty() || frame.size() > kMaxRecordLength) {
    return absl::InvalidArgumentError(absl::StrCat("record of ", frame.size(),
                                                   " bytes: must be 1..", kMaxRecordLength));
  }
  uint8_t head[kRecordHeaderSize];
  PutU32(head, static_cast<uint32_t>(frame.size()));
  PutU32(head + 4, Crc32c(frame));
  PutU32(head + 8, Crc32c(absl::MakeConstSpan(head, 8)));
  buffer_.insert(buffer_.end(), head, head + kRecordHeaderSize);
  buffer_.insert(buffer_.end(), frame.begin(), frame.end());
  ++records_;
  bytes_ += kRecordHeaderSize + frame.size();
  if (buffer_.size() >= batch_bytes_) return Flush();
  return absl::OkStatus();
}

absl::Status RecordWriter::Flush() {
  if (!error_.ok()) return error_;
  if (!fd_) return absl::OkStatus();
  absl::Status status = WriteAll(buffer_);
  buffer_.clear();
  return status;
}

absl::Status RecordWriter::Sync() {
  QLASTER_RETURN_IF_ERROR(Flush());
  if (fd_ && ::fdatasync(fd_.get()) != 0) {
    error_ = ErrnoStatus(errno, "fdatasync of record file");
    return error_;
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Close() {
  if (!fd_) return error_;
  absl::Status status = Flush();
  if (::close(fd_.Release()) != 0 && status.ok()) {
    status = ErrnoStatus(errno, "closing record file");
  }
  if (!status.ok() && error_.ok()) error_ = status;
  return status;
}

// ------------------------------------------------------------------- RecordReader

RecordReader::RecordReader(UniqueFd fd, std::string name, uint64_t data_start)
    : fd_(std::move(fd)), name_(std::move(name)), data_start_(data_start), offset_(data_start) {}

absl::StatusOr<RecordReader> RecordReader::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(errno, absl::StrCat("opening record file ", path));
  return FromFd(std::move(fd), path);
}

absl::StatusOr<RecordReader> RecordReader::FromFd(UniqueFd fd, std::string name) {
  uint8_t header[kRecordFileHeaderSize];
  size_t got = 0;
  while (got < sizeof(header)) {
    const ssize_t n = ::pread(fd.get(), header + got, sizeof(header) - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("reading record file ", name));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof(header)) {
    return absl::DataLossError(absl::StrCat(name, ": ", got, " bytes, shorter than the ",
                                            kRecordFileHeaderSize, "-byte record file header"));
  }
  if (std::memcmp(header + kMagicOffset, kRecordFileMagic, sizeof(kRecordFileMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(name, " is not a qlaster record file (bad magic)"));
  }
  // Magic, version and header_size keep their offsets in every version, so the version is
  // judged before the checksum: a newer file is "unsupported", not "corrupt".
  const uint32_t version = GetU32(header + kVersionOffset);
  if (version != kRecordFileVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " is record file version ", version, "; this build reads version ",
        kRecordFileVersion));
  }
  const uint32_t stored_crc = GetU32(header + kHeaderCrcOffset);
  const uint32_t crc = Crc32c(absl::MakeConstSpan(header, kHeaderCrcOffset));
  if (stored_crc != crc) {
    return absl::DataLossError(absl::StrCat(name, ": file header checksum mismatch (stored 0x",
                                            absl::Hex(stored_crc), ", computed 0x",
                                            absl::Hex(crc), ")"));
  }
  const uint32_t header_size = GetU32(header + kHeaderSizeOffset);
  if (header_size < kRecordFileHeaderSize || header_size > kMaxFileHeaderSize) {
    return absl::DataLossError(absl::StrCat(name, ": header_size ", header_size,
                                            " outside [", kRecordFileHeaderSize, ", ",
                                            kMaxFileHeaderSize, "]"));
  }
  RecordReader reader(std::move(fd), std::move(name), header_size);
  reader.version_ = version;
  reader.created_unix_ns_ = GetU64(header + kCreatedOffset);
  return reader;
}

void RecordReader::Rewind() {
  offset_ = data_start_;
  start_ = end_ = 0;
  truncated_tail_ = false;
  truncated_bytes_ = 0;
  records_ = 0;
}

absl::StatusOr<size_t> RecordReader::Fill(size_t n) {
  if (end_ - start_ >= n) return end_ - start_;
  // Keep the unread bytes, at the front.
  if (start_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  // n is at most kRecordHeaderSize + kMaxRecordLength: the caller checked the length.
  if (buffer_.size() < std::max(n, kReadChunk)) buffer_.resize(std::max(n, kReadChunk));
  while (end_ < n) {
    const ssize_t got = ::pread(fd_.get(), buffer_.data() + end_, buffer_.size() - end_,
                                static_cast<off_t>(offset_ + end_));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("reading ", name_, " at offset ", offset_ + end_));
    }
    if (got == 0) break;  // end of file
    end_ += static_cast<size_t>(got);
  }
  return end_;
}

absl::StatusOr<bool> RecordReader::ZeroToEnd(uint64_t from) {
  uint8_t chunk[4096];
  for (;;) {
    const ssize_t got = ::pread(fd_.get(), chunk, sizeof(chunk), static_cast<off_t>(from));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("reading ", name_, " at offset ", from));
    }
    if (got == 0) return true;
    for (ssize_t i = 0; i < got; ++i) {
      if (chunk[i] != 0) return false;
    }
    from += static_cast<uint64_t>(got);
  }
}

std::optional<absl::Span<const uint8_t>> RecordReader::EndTruncated(uint64_t available) {
  truncated_tail_ = true;
  truncated_bytes_ = available;
  struct stat st;
  if (::fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) > offset_) {
    truncated_bytes_ = static_cast<uint64_t>(st.st_size) - offset_;
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<absl::Span<const uint8_t>>> RecordReader::Next() {
  absl::StatusOr<size_t> available = Fill(kRecordHeaderSize);
  if (!available.ok()) return available.status();
  if (*available == 0) return std::nullopt;  // the end, at a record boundary
  if (*available < kRecordHeaderSize) return EndTruncated(*available);

  const uint8_t* head = buffer_.data() + start_;
  const uint32_t length = GetU32(head);
  const uint32_t data_crc = GetU32(head + 4);
  const uint32_t head_crc = GetU32(head + 8);
  const uint32_t computed_head_crc = Crc32c(absl::MakeConstSpan(head, 8));
  if (head_crc != computed_head_crc) {
    QLASTER_ASSIGN_OR_RETURN(bool zero, ZeroToEnd(offset_));
    if (zero) return EndTruncated(*available);
    return absl::DataLossError(absl::StrCat(
        name_, ": record at offset ", offset_, " is corrupt: header checksum mismatch (stored 0x",
        absl::Hex(head_crc), ", computed 0x", absl::Hex(computed_head_crc), ")"));
  }
  if (length == 0 || length > kMaxRecordLength) {
    return absl::DataLossError(absl::StrCat(name_, ": record at offset ", offset_,
                                            " declares length ", length, ", outside 1..",
                                            kMaxRecordLength));
  }
  available = Fill(kRecordHeaderSize + length);
  if (!available.ok()) return available.status();
  if (*available < kRecordHeaderSize + length) return EndTruncated(*available);

  const auto frame = absl::MakeConstSpan(buffer_.data() + start_ + kRecordHeaderSize, length);
  const uint32_t computed = Crc32c(frame);
  if (computed != data_crc) {
    QLASTER_ASSIGN_OR_RETURN(bool zero, ZeroToEnd(offset_ + kRecordHeaderSize));
    if (zero) return EndTruncated(*available);
    return absl::DataLossError(absl::StrCat(
        name_, ": record at offset ", offset_, " (", length,
        " bytes) is corrupt: data checksum mismatch (stored 0x", absl::Hex(data_crc),
        ", computed 0x", absl::Hex(computed), ")"));
  }
  start_ += kRecordHeaderSize + length;
  offset_ += kRecordHeaderSize + length;
  ++records_;
  return frame;
}

}  // namespace qlaster
