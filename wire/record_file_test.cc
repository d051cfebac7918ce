// Record files: CRC-32C test vectors; round trips; a crash at every byte of the last
// record leaves the earlier records readable; each kind of corruption (bit flips in the
// head and the body, bad magic, unknown version, oversized length, header checksum) is
// reported as such.
#include "wire/record_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "base/process.h"
#include "base/temp_dir.h"

namespace qlaster {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(Crc32cTest, MatchesTheStandardCheckValues) {
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::vector<uint8_t>(32, 0)), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::vector<uint8_t>(32, 0xff)), 0x62A8AB43u);
  EXPECT_EQ(Crc32c({}), 0u);
}

TEST(Crc32cTest, ExtendsAcrossSplits) {
  const std::vector<uint8_t> all = Bytes("The quick brown fox jumps over the lazy dog");
  for (size_t split = 0; split <= all.size(); ++split) {
    const auto a = absl::MakeConstSpan(all).subspan(0, split);
    const auto b = absl::MakeConstSpan(all).subspan(split);
    EXPECT_EQ(Crc32c(Crc32c(a), b), Crc32c(all)) << split;
  }
}

class RecordFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/test.qlrec";
  }

  // Frames of varied sizes (the reader does not decode them; any bytes do).
  static std::vector<std::vector<uint8_t>> Frames(int n) {
    std::vector<std::vector<uint8_t>> out;
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> f(1 + (i * 37) % 300);
      for (size_t j = 0; j < f.size(); ++j) f[j] = static_cast<uint8_t>(i * 7 + j);
      out.push_back(f);
    }
    return out;
  }

  void WriteFile(const std::vector<std::vector<uint8_t>>& frames, RecordWriterOptions o = {}) {
    auto w = RecordWriter::Open(path_, o);
    ASSERT_TRUE(w.ok()) << w.status();
    for (const auto& f : frames) ASSERT_TRUE(w->Append(f).ok());
    ASSERT_TRUE(w->Close().ok());
  }

  std::string Contents() {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void SetContents(const std::string& c) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(c.data(), static_cast<std::streamsize>(c.size()));
  }

  // Reads every record; stops at the first error, which it returns.
  absl::Status ReadAll(std::vector<std::vector<uint8_t>>* out, RecordReader* reader = nullptr) {
    std::optional<RecordReader> own;
    if (reader == nullptr) {
      auto r = RecordReader::Open(path_);
      if (!r.ok()) return r.status();
      own.emplace(*std::move(r));
      reader = &*own;
    }
    for (;;) {
      auto next = reader->Next();
      if (!next.ok()) return next.status();
      if (!next->has_value()) return absl::OkStatus();
      out->emplace_back((*next)->begin(), (*next)->end());
    }
  }

  qlaster::TempDir tmp_;
  std::string dir_;
  std::string path_;
};

TEST_F(RecordFileTest, RoundTripsFramesExactly) {
  const auto frames = Frames(200);
  WriteFile(frames, {.batch_bytes = 1000});  // many batches
  auto reader = RecordReader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->version(), kRecordFileVersion);
  EXPECT_NEAR(static_cast<double>(reader->created_unix_ns()),
              static_cast<double>(absl::ToUnixNanos(absl::Now())), 60e9);
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got, &*reader).ok());
  EXPECT_EQ(got, frames);
  EXPECT_FALSE(reader->truncated_tail());
  EXPECT_EQ(reader->records(), 200u);
  // Next() after the end stays at the end.
  auto again = reader->Next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  // Rewind reads it all again.
  reader->Rewind();
  got.clear();
  ASSERT_TRUE(ReadAll(&got, &*reader).ok());
  EXPECT_EQ(got, frames);
}

TEST_F(RecordFileTest, LargeRecordsRoundTrip) {
  std::vector<std::vector<uint8_t>> frames = {std::vector<uint8_t>(kMaxRecordLength, 0x5a),
                                              std::vector<uint8_t>(3, 1),
                                              std::vector<uint8_t>(200000, 7)};
  WriteFile(frames);
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got).ok());
  EXPECT_EQ(got, frames);
}

TEST_F(RecordFileTest, EmptyRecordingIsValid) {
  WriteFile({});
  EXPECT_EQ(std::filesystem::file_size(path_), kRecordFileHeaderSize);
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_F(RecordFileTest, DoesNotClobberAnExistingFileUnlessAsked) {
  WriteFile(Frames(3));
  auto again = RecordWriter::Open(path_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  WriteFile(Frames(1), {.overwrite = true});
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got).ok());
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(RecordFileTest, AppendRefusesEmptyAndOversizedFrames) {
  auto w = RecordWriter::Open(path_);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->Append({}).code(), absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> big(kMaxRecordLength + 1);
  EXPECT_EQ(w->Append(big).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w->records(), 0u);
}

TEST_F(RecordFileTest, UnflushedRecordsAreWrittenByTheDestructor) {
  {
    auto w = RecordWriter::Open(path_);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append(Bytes("abc")).ok());
    EXPECT_EQ(std::filesystem::file_size(path_), kRecordFileHeaderSize);  // still buffered
  }
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got).ok());
  EXPECT_EQ(got, std::vector<std::vector<uint8_t>>{Bytes("abc")});
}

TEST_F(RecordFileTest, EveryTruncationOfTheLastRecordEndsCleanly) {
  const auto frames = Frames(5);
  WriteFile(frames);
  const std::string full = Contents();
  const size_t last = kRecordHeaderSize + frames.back().size();
  const size_t last_start = full.size() - last;
  for (size_t cut = 0; cut < last; ++cut) {
    SetContents(full.substr(0, last_start + cut));
    auto reader = RecordReader::Open(path_);
    ASSERT_TRUE(reader.ok());
    std::vector<std::vector<uint8_t>> got;
    ASSERT_TRUE(ReadAll(&got, &*reader).ok()) << "cut " << cut;
    EXPECT_EQ(got, std::vector<std::vector<uint8_t>>(frames.begin(), frames.end() - 1)) << cut;
    EXPECT_EQ(reader->truncated_tail(), cut != 0) << cut;
    EXPECT_EQ(reader->truncated_bytes(), cut) << cut;
  }
}

TEST_F(RecordFileTest, ZeroFilledTailAfterACrashEndsCleanly) {
  const auto frames = Frames(4);
  WriteFile(frames);
  // A power loss can leave the file extended over blocks that were never written.
  SetContents(Contents() + std::string(5000, '\0'));
  auto reader = RecordReader::Open(path_);
  ASSERT_TRUE(reader.ok());
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(ReadAll(&got, &*reader).ok());
  EXPECT_EQ(got, frames);
  EXPECT_TRUE(reader->truncated_tail());
  EXPECT_EQ(reader->truncated_bytes(), 5000u);

  // The head of the last record written, its body zeroed.
  std::string c = Contents().substr(0, Contents().size() - 5000);
  const size_t body = c.size() - frames.back().size();
  std::fill(c.begin() + static_cast<long>(body), c.end(), '\0');
  SetContents(c);
  got.clear();
  ASSERT_TRUE(ReadAll(&got).ok());
  EXPECT_EQ(got, std::vector<std::vector<uint8_t>>(frames.begin(), frames.end() - 1));
}

TEST_F(RecordFileTest, EveryBitFlipInARecordIsDetected) {
  const auto frames = Frames(3);
  WriteFile(frames);
  const std::string full = Contents();
  // Flip every bit of the middle record and of the last one.
  const size_t first = kRecordHeaderSize + frames[0].size();
  const size_t start = kRecordFileHeaderSize + first;
  for (size_t byte = start; byte < full.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string c = full;
      c[byte] = static_cast<char>(c[byte] ^ (1 << bit));
      SetContents(c);
      std::vector<std::vector<uint8_t>> got;
      absl::Status s = ReadAll(&got);
      ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "byte " << byte << " bit " << bit;
      ASSERT_EQ(got.size(), byte < start + kRecordHeaderSize + frames[1].size() ? 1u : 2u);
      const uint64_t record_offset =
          byte < start + kRecordHeaderSize + frames[1].size()
              ? start
              : start + kRecordHeaderSize + frames[1].size();
      EXPECT_NE(std::string(s.message()).find("offset " + std::to_string(record_offset)),
                std::string::npos)
          << s;
    }
  }
}

TEST_F(RecordFileTest, CorruptionInTheMiddleIsAnErrorEvenBeforeAZeroTail) {
  const auto frames = Frames(3);
  WriteFile(frames);
  std::string c = Contents();
  const size_t body0 = kRecordFileHeaderSize + kRecordHeaderSize;
  c[body0] = static_cast<char>(c[body0] ^ 1);
  SetContents(c + std::string(100, '\0'));
  std::vector<std::vector<uint8_t>> got;
  absl::Status s = ReadAll(&got);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("data checksum mismatch"), std::string::npos) << s;
  EXPECT_TRUE(got.empty());
}

TEST_F(RecordFileTest, OversizedLengthIsDataLossBeforeAllocating) {
  WriteFile(Frames(1));
  std::string c = Contents();
  // A record head with a valid head checksum but an absurd length, as a hostile file
  // would have.
  uint8_t head[kRecordHeaderSize] = {};
  const uint32_t length = 0xfffffff0u;
  for (int i = 0; i < 4; ++i) head[i] = static_cast<uint8_t>(length >> (8 * i));
  const uint32_t crc = Crc32c(absl::MakeConstSpan(head, 8));
  for (int i = 0; i < 4; ++i) head[8 + i] = static_cast<uint8_t>(crc >> (8 * i));
  c.append(reinterpret_cast<const char*>(head), sizeof(head));
  c.append(100, 'x');
  SetContents(c);
  std::vector<std::vector<uint8_t>> got;
  absl::Status s = ReadAll(&got);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("declares length 4294967280"), std::string::npos) << s;
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(RecordFileTest, BadMagicIsDataLoss) {
  WriteFile(Frames(1));
  std::string c = Contents();
  c[0] = 'X';
  SetContents(c);
  auto r = RecordReader::Open(path_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(r.status().message()).find("not a qlaster record file"), std::string::npos);
}

TEST_F(RecordFileTest, UnknownVersionIsFailedPrecondition) {
  WriteFile(Frames(1));
  std::string c = Contents();
  c[8] = 2;
  SetContents(c);
  auto r = RecordReader::Open(path_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("version 2"), std::string::npos) << r.status();
}

TEST_F(RecordFileTest, FileHeaderChecksumMismatchIsDataLoss) {
  WriteFile(Frames(1));
  std::string c = Contents();
  c[17] = static_cast<char>(c[17] ^ 0x10);  // created_unix_ns
  SetContents(c);
  EXPECT_EQ(RecordReader::Open(path_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RecordFileTest, ShortOrMissingFile) {
  SetContents("QLREC");
  EXPECT_EQ(RecordReader::Open(path_).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RecordReader::Open(dir_ + "/absent").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qlaster
