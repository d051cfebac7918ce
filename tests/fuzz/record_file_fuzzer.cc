// Fuzzes RecordReader, which reads record files that may be truncated, corrupt or hostile
// (a replay source opens whatever file it is given). The first byte picks a mode:
//   0: the input is the whole file;
//   1: a valid file header, then the input as the record stream;
//   2: the input is cut into frames, each written as a well-formed record (so the fuzzer
//      gets past the checksums), then the last record is cut short at a chosen byte; the
//      reader must return exactly the frames before it.
// Every frame returned goes through DecodeFrame, as the replay source does.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "wire/frame.h"
#include "wire/record_file.h"

using namespace qlaster;

namespace {

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::vector<uint8_t> ValidHeader() {
  std::vector<uint8_t> h(kRecordFileMagic, kRecordFileMagic + sizeof(kRecordFileMagic));
  PutU32(h, kRecordFileVersion);
  PutU32(h, kRecordFileHeaderSize);
  for (int i = 0; i < 8; ++i) h.push_back(0);
  PutU32(h, Crc32c(h));
  PutU32(h, 0);
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 3;
  ++data;
  --size;

  std::vector<uint8_t> file;
  std::vector<std::vector<uint8_t>> written;
  if (mode == 0) {
    file.assign(data, data + size);
  } else if (mode == 1) {
    file = ValidHeader();
    file.insert(file.end(), data, data + size);
  } else {
    if (size < 2) return 0;
    const size_t cut_from_end = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    file = ValidHeader();
    // Frames of 1 + (first byte) bytes each.
    while (size > 0) {
      const size_t n = std::min<size_t>(size, 1 + data[0]);
      std::vector<uint8_t> frame(data, data + n);
      data += n;
      size -= n;
      PutU32(file, static_cast<uint32_t>(frame.size()));
      PutU32(file, Crc32c(frame));
      PutU32(file, Crc32c(absl::MakeConstSpan(file).subspan(file.size() - 8)));
      file.insert(file.end(), frame.begin(), frame.end());
      written.push_back(std::move(frame));
    }
    // Cut inside the last record only (0 .. its size - 1 bytes), as a crash would.
    if (!written.empty()) {
      file.resize(file.size() - cut_from_end % (kRecordHeaderSize + written.back().size()));
    }
  }

  UniqueFd fd(::memfd_create("record-fuzz", MFD_CLOEXEC));
  if (!fd) return 0;
  if (!file.empty() &&
      ::write(fd.get(), file.data(), file.size()) != static_cast<ssize_t>(file.size())) {
    return 0;
  }
  auto reader = RecordReader::FromFd(std::move(fd), "fuzz");
  if (!reader.ok()) {
    if (mode == 2) std::abort();  // the header is valid
    return 0;
  }
  size_t index = 0;
  for (int i = 0; i < 100000; ++i) {
    auto next = reader->Next();
    if (!next.ok()) {
      if (mode == 2) std::abort();  // well-formed records, only cut short
      break;
    }
    if (!next->has_value()) break;
    const absl::Span<const uint8_t> frame = **next;
    if (frame.empty() || frame.size() > kMaxRecordLength) std::abort();
    if (mode == 2) {
      if (index >= written.size() || !std::equal(frame.begin(), frame.end(),
                                                 written[index].begin(), written[index].end())) {
        std::abort();
      }
    }
    ++index;
    (void)DecodeFrame(frame);
  }
  if (mode == 2) {
    // Everything but at most the one record that was cut.
    if (index + 1 < written.size()) std::abort();
    if (index < written.size() && !reader->truncated_tail()) std::abort();
  }
  return 0;
}
