// Record files: what a consumer received, kept on disk for replay (`qlaster-inspect
// --record FILE` writes one, the sender's `replay:FILE` source plays it back).
//
// A record file is a 32-byte file header and then records, one per data frame, each the
// exact bytes of the frame as it sat in the consumer's ring (wire/frame.h: FrameHeader +
// body, so the sender's timestamp travels with it and replay can keep the recorded
// pace). All integers are little-endian.
//
// File header (32 bytes):
//
//   offset size field
//   0      8    magic          "QLREC\r\n\x1a": ASCII name, then CR LF and ^Z (as PNG does),
//                              so a file mangled by a text-mode copy fails the magic check
//   8      4    version        kRecordFileVersion (1)
//   12     4    header_size    32; a later version may grow the header, readers skip it
//   16     8    created_unix_ns CLOCK_REALTIME when the writer opened the file
//   24     4    header_crc     CRC-32C of bytes [0, 24)
//   28     4    reserved       zero
//
// Record (12 + length bytes, packed back to back, no padding):
//
//   offset size field
//   0      4    length         bytes of the frame, 1..kMaxRecordLength
//   4      4    data_crc       CRC-32C of the frame bytes
//   8      4    head_crc       CRC-32C of bytes [0, 8) of this record (length and data_crc)
//   12     length frame        FrameHeader + body, exactly as the consumer received it
//
// The checksum is CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
// final xor 0xFFFFFFFF: the iSCSI / ext4 / leveldb CRC), computed with a table here.
//
// Why a separate head_crc: without it a flipped bit in a length in the middle of a file
// would point past the end of the file and look exactly like a record cut short by a
// crash, and every record after it would be dropped silently. With it, a length is only
// trusted once its own checksum matches.
//
// Crash tolerance. A writer appends whole records and issues one write() per batch, so a
// crash (of the process or the machine) leaves at worst a file whose last record is cut
// short, or, on some file systems after a power loss, a tail of zero bytes where the
// last batch should be. The reader treats both as the end of the file: it returns every
// record before them and then nullopt, with truncated_tail() set. Anything else that
// does not check out is corruption, reported as kDataLoss with the byte offset of the
// record: a head_crc or data_crc mismatch (unless everything from there to the end of
// the file is zero), a length of 0 or over kMaxRecordLength (refused before anything is
// allocated for it).
#ifndef QLASTER_WIRE_RECORD_FILE_H_
#define QLASTER_WIRE_RECORD_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/unique_fd.h"
#include "wire/updates.h"

namespace qlaster {

inline constexpr uint8_t kRecordFileMagic[8] = {'Q', 'L', 'R', 'E', 'C', '\r', '\n', 0x1a};
inline constexpr uint32_t kRecordFileVersion = 1;
inline constexpr size_t kRecordFileHeaderSize = 32;
inline constexpr size_t kRecordHeaderSize = 12;

// Largest frame a record may hold: a 10 MiB account (wire/updates.h) with its headers,
// plus slack for the LZ4 worst case (the sender only compresses when it saves, but a
// record file should not be the thing that rejects an odd frame). A declared length over
// this is corruption.
inline constexpr size_t kMaxRecordLength = kMaxAccountDataSize + 64 * 1024;

// CRC-32C of `data`, continuing from `crc` (the value returned for the preceding bytes;
// 0 to start). Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b). Pure and thread-safe.
uint32_t Crc32c(uint32_t crc, absl::Span<const uint8_t> data);
inline uint32_t Crc32c(absl::Span<const uint8_t> data) { return Crc32c(0, data); }

struct RecordWriterOptions {
  // False (the default): the file must not exist (O_EXCL), so a recording is never
  // clobbered by accident. True: an existing file is truncated.
  bool overwrite = false;
  // Append() writes once this many bytes are buffered; Flush() writes the rest. Each
  // write() is one batch of whole records.
  size_t batch_bytes = 1 << 20;
  // File mode for a new file (filtered by the umask).
  mode_t mode = 0644;
};

// Appends frames to a new record file.
//
// Thread-compatible: one thread at a time. Owns its file descriptor. Records are
// buffered; a record is on disk (in the page cache) once Flush() or the write of its
// batch returns, and durable once Sync() returns. The destructor flushes, ignoring
// errors; call Close() to see them.
class RecordWriter {
 public:
  // Creates `path` and writes the file header. Errors: kAlreadyExists when the file exists
  // and !options.overwrite; errno statuses (ErrnoStatus) otherwise.
  static absl::StatusOr<RecordWriter> Open(const std::string& path,
                                           const RecordWriterOptions& options = {});

  RecordWriter(RecordWriter&&) = default;
  RecordWriter& operator=(RecordWriter&&);
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;
  ~RecordWriter();

  // Buffers one record holding `frame`, writing the batch once it is large enough.
  // Errors: kInvalidArgument for an empty frame or one over kMaxRecordLength (nothing is
  // written); write errors (the writer is then failed: every later call returns the same
  // error, since the file may end in a partial batch).
  absl::Status Append(absl::Span<const uint8_t> frame);

  // Writes everything buffered, with one write() (retried only for short writes).
  absl::Status Flush();

  // Flush, then fdatasync.
  absl::Status Sync();

  // Flush and close the file. Idempotent; later Appends fail.
  absl::Status Close();

  uint64_t records() const { return records_; }
  // Bytes written or buffered so far, header included: the file's size after Flush.
  uint64_t bytes() const { return bytes_; }

 private:
  RecordWriter(UniqueFd fd, size_t batch_bytes);
  absl::Status WriteAll(absl::Span<const uint8_t> bytes);

  UniqueFd fd_;
  size_t batch_bytes_ = 0;
  std::vector<uint8_t> buffer_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  absl::Status error_;
};

// Reads a record file front to back.
//
// Thread-compatible. Owns its file descriptor. Reads with a buffer of its own; the span
// Next() returns points into that buffer and is valid until the next call to Next(),
// Rewind() or the reader's destruction. Everything in the file is untrusted: the reader
// checks every length and checksum before using it (see the file comment), and never
// sizes an allocation from a length it has not checked against kMaxRecordLength.
class RecordReader {
 public:
  // Opens `path` and checks the file header. Errors: the open's errno status
  // (kNotFound, kPermissionDenied, ...); kDataLoss for a file shorter than the header, a
  // wrong magic or a header checksum mismatch; kFailedPrecondition for a version other
  // than kRecordFileVersion (the message names both).
  static absl::StatusOr<RecordReader> Open(const std::string& path);
  // The same for an open file positioned anywhere (reading uses pread). Takes the fd.
  static absl::StatusOr<RecordReader> FromFd(UniqueFd fd, std::string name);

  RecordReader(RecordReader&&) = default;
  RecordReader& operator=(RecordReader&&) = default;
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record's frame bytes; nullopt at the end of the file, or at a truncated
  // tail (then truncated_tail() is true). kDataLoss naming the file and byte offset for
  // a corrupt record; the reader then stays at that record (a later call fails again).
  // Errors from read() as errno statuses.
  absl::StatusOr<std::optional<absl::Span<const uint8_t>>> Next();

  // Goes back to the first record (for looping replay). Clears truncated_tail().
  void Rewind();

  // From the file header.
  uint32_t version() const { return version_; }
  uint64_t created_unix_ns() const { return created_unix_ns_; }

  // True once Next() has returned nullopt for a tail cut short by a crash.
  bool truncated_tail() const { return truncated_tail_; }
  // Bytes at the truncated tail (from the first byte of the cut record to the end).
  uint64_t truncated_bytes() const { return truncated_bytes_; }
  // Records returned since Open or Rewind.
  uint64_t records() const { return records_; }
  // File offset of the next record.
  uint64_t offset() const { return offset_; }

 private:
  RecordReader(UniqueFd fd, std::string name, uint64_t data_start);
  // Makes at least `n` bytes from offset_ available in buffer_ (fewer only at end of
  // file); returns how many are available.
  absl::StatusOr<size_t> Fill(size_t n);
  // True when every byte from `from` to the end of the file is zero.
  absl::StatusOr<bool> ZeroToEnd(uint64_t from);
  std::optional<absl::Span<const uint8_t>> EndTruncated(uint64_t available);

  UniqueFd fd_;
  std::string name_;
  uint64_t data_start_ = 0;  // offset of the first record
  uint64_t offset_ = 0;      // offset of the next record; buffer_[start_] holds it
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;  // buffer_[start_, end_) are the file bytes from offset_ on
  size_t end_ = 0;
  uint32_t version_ = 0;
  uint64_t created_unix_ns_ = 0;
  bool truncated_tail_ = false;
  uint64_t truncated_bytes_ = 0;
  uint64_t records_ = 0;
};

}  // namespace qlaster

#endif  // QLASTER_WIRE_RECORD_FILE_H_
