// Broadcast ring: round trip, wrap-around, lapped readers and their exact gaps, the
// read-only mapping, corrupt and truncated files, and waking without lost wake-ups.
#include "shm/broadcast_ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster::shm {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed * 7 + i * 31);
  return v;
}

std::vector<uint8_t> ToVector(absl::Span<const uint8_t> s) { return {s.begin(), s.end()}; }

absl::StatusOr<BroadcastReader> AttachTo(const BroadcastWriter& writer) {
  absl::StatusOr<UniqueFd> ro = writer.ReadOnlyFd();
  if (!ro.ok()) return ro.status();
  return BroadcastReader::Attach(*std::move(ro), UniqueFd(::dup(writer.waiters_fd())));
}

class BroadcastRingTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeRing(256, 16); }

  void MakeRing(uint32_t slot_bytes, uint64_t slot_count) {
    auto w = BroadcastWriter::Create({.dir = "/dev/shm", .slot_bytes = slot_bytes, .slot_count = slot_count});
    ASSERT_TRUE(w.ok()) << w.status();
    writer_.emplace(*std::move(w));
  }

  BroadcastReader Reader() {
    auto r = AttachTo(*writer_);
    EXPECT_TRUE(r.ok()) << r.status();
    return *std::move(r);
  }

  // A read-write mapping of the ring file: plays a broken writer or a corrupt file.
  MappedRegion Raw() {
    const size_t size = kBroadcastHeaderBytes + uint64_t{writer_->slot_bytes()} * writer_->slot_count();
    auto raw = MappedRegion::Map(writer_->fd(), size);
    EXPECT_TRUE(raw.ok()) << raw.status();
    return *std::move(raw);
  }

  std::optional<BroadcastWriter> writer_;
};

TEST_F(BroadcastRingTest, EmptyRingReadsEmpty) {
  BroadcastReader reader = Reader();
  BroadcastRecord r;
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kEmpty);
  EXPECT_FALSE(reader.HasData());
}

TEST_F(BroadcastRingTest, RejectsBadOptions) {
  EXPECT_EQ(BroadcastWriter::Create({.slot_bytes = 100}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BroadcastWriter::Create({.slot_bytes = 32}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BroadcastWriter::Create({.slot_count = 3}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BroadcastWriter::Create({.slot_bytes = 1 << 20, .slot_count = 1 << 13}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BroadcastRingTest, EveryReaderGetsEveryRecordInOrder) {
  BroadcastReader a = Reader();
  BroadcastReader b = Reader();
  for (uint64_t i = 0; i < 10; ++i) {
    ASSERT_EQ(writer_->Write(1 + i, Bytes(i * 23, i)), BroadcastWriteResult::kOk);
  }
  for (BroadcastReader* reader : {&a, &b}) {
    for (uint64_t i = 0; i < 10; ++i) {
      BroadcastRecord r;
      ASSERT_EQ(reader->TryRead(&r), BroadcastReadResult::kOk);
      EXPECT_EQ(r.sequence, i + 1);
      EXPECT_EQ(r.type, 1 + i);
      EXPECT_EQ(ToVector(r.payload), Bytes(i * 23, i));
    }
    BroadcastRecord r;
    EXPECT_EQ(reader->TryRead(&r), BroadcastReadResult::kEmpty);
    EXPECT_EQ(reader->missed(), 0u);
  }
}

TEST_F(BroadcastRingTest, ReaderStartsAfterWhatWasWrittenBeforeItAttached) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(writer_->Write(1, Bytes(8, i)), BroadcastWriteResult::kOk);
  BroadcastReader reader = Reader();
  EXPECT_EQ(reader.next_sequence(), 6u);
  ASSERT_EQ(writer_->Write(1, Bytes(8, 99)), BroadcastWriteResult::kOk);
  BroadcastRecord r;
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_EQ(r.sequence, 6u);
  EXPECT_EQ(ToVector(r.payload), Bytes(8, 99));
}

TEST_F(BroadcastRingTest, ReaderCanStartWithTheOldestIntactRecord) {
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_EQ(writer_->Write(1, Bytes(8, i)), BroadcastWriteResult::kOk);
  auto young = BroadcastReader::Attach(*writer_->ReadOnlyFd(), UniqueFd(::dup(writer_->waiters_fd())),
                                       BroadcastStart::kOldest);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(young->next_sequence(), 1u);
  for (uint64_t i = 6; i <= 40; ++i) ASSERT_EQ(writer_->Write(1, Bytes(8, i)), BroadcastWriteResult::kOk);
  auto old = BroadcastReader::Attach(*writer_->ReadOnlyFd(), UniqueFd(::dup(writer_->waiters_fd())),
                                     BroadcastStart::kOldest);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->next_sequence(), 40u + 2 - 16);  // the slot of 41 - 16 may be being rewritten
  BroadcastRecord r;
  ASSERT_EQ(old->TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_EQ(r.sequence, 26u);
  EXPECT_EQ(ToVector(r.payload), Bytes(8, 26));
}

TEST_F(BroadcastRingTest, LargestPayloadFitsAndLargerIsRefused) {
  BroadcastReader reader = Reader();
  EXPECT_EQ(writer_->max_payload(), 240u);
  EXPECT_EQ(writer_->Write(1, Bytes(241, 0)), BroadcastWriteResult::kTooLarge);
  ASSERT_EQ(writer_->Write(1, Bytes(240, 3)), BroadcastWriteResult::kOk);
  ASSERT_EQ(writer_->Write(1, {}), BroadcastWriteResult::kOk);
  BroadcastRecord r;
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_EQ(ToVector(r.payload), Bytes(240, 3));
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_TRUE(r.payload.empty());
}

TEST_F(BroadcastRingTest, WrapsManyTimesForAReaderThatKeepsUp) {
  BroadcastReader reader = Reader();
  for (uint64_t i = 1; i <= 16 * 50 + 3; ++i) {
    ASSERT_EQ(writer_->Write(7, Bytes(i % 241, i)), BroadcastWriteResult::kOk);
    if (i % 5 == 0) {
      BroadcastRecord r;
      for (uint64_t j = i - 4; j <= i; ++j) {
        ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
        ASSERT_EQ(r.sequence, j);
        ASSERT_EQ(ToVector(r.payload), Bytes(j % 241, j));
      }
    }
  }
  EXPECT_EQ(reader.missed(), 0u);
}

TEST_F(BroadcastRingTest, LappedReaderGetsTheExactGapThenTheOldestIntactRecords) {
  BroadcastReader reader = Reader();
  // 16 slots; 100 records: records 85..100 are intact.
  for (uint64_t i = 1; i <= 100; ++i) ASSERT_EQ(writer_->Write(1, Bytes(16, i)), BroadcastWriteResult::kOk);
  BroadcastRecord r;
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kGap);
  EXPECT_EQ(r.missed, 84u);
  for (uint64_t i = 85; i <= 100; ++i) {
    ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
    EXPECT_EQ(r.sequence, i);
    EXPECT_EQ(ToVector(r.payload), Bytes(16, i));
  }
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kEmpty);
  EXPECT_EQ(reader.missed(), 84u);
}

TEST_F(BroadcastRingTest, ReaderOverwrittenMidRecordReportsAGapNotTornBytes) {
  BroadcastReader reader = Reader();
  for (uint64_t i = 1; i <= 16; ++i) ASSERT_EQ(writer_->Write(1, Bytes(16, i)), BroadcastWriteResult::kOk);
  // The writer starts record 17 over record 1's slot and has not finished: a dirty stamp.
  MappedRegion raw = Raw();
  auto* slot = reinterpret_cast<BroadcastSlotHeader*>(raw.data() + kBroadcastHeaderBytes);
  slot->stamp.store(BroadcastStamp(17, true));
  BroadcastRecord r;
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kGap);
  EXPECT_EQ(r.missed, 1u);  // record 1 lost; 2..16 intact
  for (uint64_t i = 2; i <= 16; ++i) {
    ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
    EXPECT_EQ(r.sequence, i);
  }
}

TEST_F(BroadcastRingTest, CloseIsSeenAfterDraining) {
  BroadcastReader reader = Reader();
  ASSERT_EQ(writer_->Write(1, Bytes(4, 1)), BroadcastWriteResult::kOk);
  writer_->Close();
  EXPECT_EQ(writer_->Write(1, Bytes(4, 1)), BroadcastWriteResult::kClosed);
  BroadcastRecord r;
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kClosed);
  EXPECT_EQ(reader.Wait(WaitMode::kSleep, absl::Seconds(5)), WaitResult::kClosed);
}

TEST_F(BroadcastRingTest, ReaderDescriptorIsReadOnly) {
  BroadcastReader reader = Reader();
  const int flags = ::fcntl(reader.ring_fd(), F_GETFL);
  ASSERT_GE(flags, 0);
  EXPECT_EQ(flags & O_ACCMODE, O_RDONLY);
  const char byte = 1;
  errno = 0;
  EXPECT_EQ(::pwrite(reader.ring_fd(), &byte, 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, reader.ring_fd(), 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  // Even a reader handed the writer's own read-write descriptor keeps only a read-only one.
  auto given_rw = BroadcastReader::Attach(UniqueFd(::dup(writer_->fd())),
                                          UniqueFd(::dup(writer_->waiters_fd())));
  ASSERT_TRUE(given_rw.ok()) << given_rw.status();
  EXPECT_EQ(::fcntl(given_rw->ring_fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

// The permissions of the mapping that contains `address`, from /proc/self/maps.
std::string MappingPermissions(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto at = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    unsigned long begin = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &begin, &end, perms) == 3 && at >= begin && at < end) {
      return perms;
    }
  }
  return "";
}

TEST_F(BroadcastRingTest, ReaderMappingIsReadOnly) {
  BroadcastReader reader = Reader();
  EXPECT_EQ(MappingPermissions(reader.mapping()), "r--s");
}

TEST_F(BroadcastRingTest, ReaderWritingIntoItsMappingFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  BroadcastReader reader = Reader();
  EXPECT_DEATH(
      {
        volatile uint8_t* p = const_cast<uint8_t*>(reader.mapping()) + kBroadcastHeaderBytes;
        *p = 1;
      },
      "");
}

// The layout restated byte by byte, independently of the structs: a change to
// shm/broadcast_layout.h that moves a field breaks this test, not a reader of another build.
TEST_F(BroadcastRingTest, BinaryLayoutIsAsDocumented) {
  const std::vector<uint8_t> payload = {0xde, 0xad, 0xbe, 0xef, 0x01};
  ASSERT_EQ(writer_->Write(42, payload), BroadcastWriteResult::kOk);
  MappedRegion raw = Raw();
  const uint8_t* f = raw.data();
  auto u32 = [](const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; };
  auto u64 = [](const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; };
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f), 8), std::string("QLBCAST\x01", 8));
  EXPECT_EQ(u32(f + 8), 101u);    // layout_version
  EXPECT_EQ(u32(f + 12), 4096u);  // header_bytes
  EXPECT_EQ(u32(f + 16), 256u);   // slot_bytes
  EXPECT_EQ(u32(f + 20), 0u);     // flags
  EXPECT_EQ(u64(f + 24), 16u);    // slot_count
  EXPECT_EQ(u64(f + 128), 1u);    // write_sequence
  EXPECT_EQ(u32(f + 136), 0u);    // closed
  EXPECT_EQ(u32(f + 256), 0u);    // wake_word
  const uint8_t* slot = f + 4096;
  EXPECT_EQ(u64(slot), 2u);        // stamp: record 1, clean
  EXPECT_EQ(u32(slot + 8), 5u);    // length
  EXPECT_EQ(u32(slot + 12), 42u);  // type
  EXPECT_EQ(std::vector<uint8_t>(slot + 16, slot + 21), payload);
  auto waiters = MappedRegion::Map(writer_->waiters_fd(), kBroadcastWaitersBytes);
  ASSERT_TRUE(waiters.ok());
  const uint8_t* w = waiters->data();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(w), 8), "QLBCWAIT");
  EXPECT_EQ(u32(w + 8), 101u);
  EXPECT_EQ(u32(w + 64), 0u);  // waiters
  EXPECT_EQ(u32(w + 68), 0u);  // sleep_word
  writer_->Close();
  EXPECT_EQ(u32(f + 136), 1u);
  EXPECT_EQ(u32(f + 256), 1u) << "Close wakes: wake_word bumped";
}

// ------------------------------------------------------------ validation of the files

class BroadcastAttachTest : public BroadcastRingTest {
 protected:
  absl::Status AttachStatus() { return AttachTo(*writer_).status(); }
  BroadcastHeader* RawHeader(MappedRegion& raw) { return reinterpret_cast<BroadcastHeader*>(raw.data()); }
};

TEST_F(BroadcastAttachTest, BadMagicIsDataLoss) {
  MappedRegion raw = Raw();
  RawHeader(raw)->magic = kRingMagic;  // an SPSC ring is not a broadcast ring
  absl::Status s = AttachStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("magic"));
}

TEST_F(BroadcastAttachTest, OtherLayoutVersionIsFailedPrecondition) {
  MappedRegion raw = Raw();
  RawHeader(raw)->layout_version = kBroadcastLayoutVersion + 1;
  absl::Status s = AttachStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("layout version"));
}

TEST_F(BroadcastAttachTest, BadSizesAreDataLoss) {
  MappedRegion raw = Raw();
  RawHeader(raw)->slot_bytes = 100;
  EXPECT_EQ(AttachStatus().code(), absl::StatusCode::kDataLoss);
  RawHeader(raw)->slot_bytes = 256;
  RawHeader(raw)->slot_count = 32;  // the file holds 16
  absl::Status s = AttachStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("header says"));
  RawHeader(raw)->slot_count = 16;
  RawHeader(raw)->header_bytes = 64;
  EXPECT_EQ(AttachStatus().code(), absl::StatusCode::kDataLoss);
  RawHeader(raw)->header_bytes = kBroadcastHeaderBytes;
  EXPECT_TRUE(AttachStatus().ok());
}

TEST_F(BroadcastAttachTest, TruncatedFilesAreDataLoss) {
  ASSERT_EQ(::ftruncate(writer_->fd(), kBroadcastHeaderBytes + 256 * 8), 0);
  EXPECT_EQ(AttachStatus().code(), absl::StatusCode::kDataLoss);
  ASSERT_EQ(::ftruncate(writer_->fd(), 100), 0);
  absl::Status s = AttachStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("smaller than"));
}

TEST_F(BroadcastAttachTest, BadWaitersFileIsRejected) {
  ASSERT_EQ(::ftruncate(writer_->waiters_fd(), 100), 0);
  EXPECT_EQ(AttachStatus().code(), absl::StatusCode::kDataLoss);
  auto ro = writer_->ReadOnlyFd();
  ASSERT_TRUE(ro.ok());
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::close(pipe_fds[1]);
  EXPECT_EQ(BroadcastReader::Attach(*std::move(ro), UniqueFd(pipe_fds[0])).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BroadcastAttachTest, CorruptRecordLengthIsReportedNotACrash) {
  BroadcastReader reader = Reader();
  ASSERT_EQ(writer_->Write(1, Bytes(8, 1)), BroadcastWriteResult::kOk);
  MappedRegion raw = Raw();
  auto* slot = reinterpret_cast<BroadcastSlotHeader*>(raw.data() + kBroadcastHeaderBytes);
  slot->length.store(1000);
  BroadcastRecord r;
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kCorrupt);
  EXPECT_EQ(reader.error().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reader.error().message(), HasSubstr("length 1000"));
  EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kCorrupt) << "sticky";
}

TEST_F(BroadcastAttachTest, ImpossibleStampsAndSequencesAreCorrupt) {
  {
    BroadcastReader reader = Reader();
    ASSERT_EQ(writer_->Write(1, Bytes(8, 1)), BroadcastWriteResult::kOk);
    MappedRegion raw = Raw();
    auto* slot = reinterpret_cast<BroadcastSlotHeader*>(raw.data() + kBroadcastHeaderBytes);
    slot->stamp.store(BroadcastStamp(2, false));  // record 2 belongs to the next slot
    BroadcastRecord r;
    EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kCorrupt);
    EXPECT_THAT(reader.error().message(), HasSubstr("stamp"));
  }
  {
    BroadcastReader reader = Reader();
    MappedRegion raw = Raw();
    RawHeader(raw)->write_sequence.store(0);  // went backwards
    BroadcastRecord r;
    EXPECT_EQ(reader.TryRead(&r), BroadcastReadResult::kCorrupt);
    EXPECT_THAT(reader.error().message(), HasSubstr("write_sequence"));
  }
}

// ------------------------------------------------------------------------- waking

TEST_F(BroadcastRingTest, NoSyscallWhenNobodySleeps) {
  BroadcastReader reader = Reader();
  ASSERT_EQ(writer_->Write(1, Bytes(8, 1)), BroadcastWriteResult::kOk);
  EXPECT_FALSE(writer_->WakeSleepers());
  EXPECT_EQ(reader.Wait(WaitMode::kSleep, absl::Seconds(1)), WaitResult::kReady);
  BroadcastRecord r;
  ASSERT_EQ(reader.TryRead(&r), BroadcastReadResult::kOk);
  EXPECT_EQ(reader.Wait(WaitMode::kSleep, absl::Milliseconds(10)), WaitResult::kTimeout);
  EXPECT_FALSE(writer_->WakeSleepers()) << "the timed-out reader deregistered";
}

TEST_F(BroadcastRingTest, OneWakePerRoundOfSleepersNotPerPublish) {
  auto raw = MappedRegion::Map(writer_->waiters_fd(), kBroadcastWaitersBytes);
  ASSERT_TRUE(raw.ok()) << raw.status();
  auto* w = reinterpret_cast<BroadcastWaitersHeader*>(raw->data());
  MappedRegion ring = Raw();
  auto* h = reinterpret_cast<BroadcastHeader*>(ring.data());
  // A reader has registered on the current word and is asleep.
  w->waiters.store(1);
  w->sleep_word.store(h->wake_word.load());
  ASSERT_EQ(writer_->Write(1, Bytes(8, 1)), BroadcastWriteResult::kOk);
  EXPECT_TRUE(writer_->WakeSleepers());
  // Woken but not yet out of Wait (the count still says 1): no second syscall.
  ASSERT_EQ(writer_->Write(1, Bytes(8, 2)), BroadcastWriteResult::kOk);
  EXPECT_FALSE(writer_->WakeSleepers());
  // It sleeps again, on the new word: the next publish wakes it.
  w->sleep_word.store(h->wake_word.load());
  ASSERT_EQ(writer_->Write(1, Bytes(8, 3)), BroadcastWriteResult::kOk);
  EXPECT_TRUE(writer_->WakeSleepers());
}

// Many sleeping readers, a writer racing them record by record: every reader must see
// every record, woken each time (a lost wake-up would leave one asleep until the test's
// generous timeout, failing it).
TEST_F(BroadcastRingTest, NoLostWakeUpWithRacingWriter) {
  MakeRing(64, 1 << 14);
  constexpr int kReaders = 4;
  constexpr uint64_t kRecords = 3000;
  std::vector<BroadcastReader> readers;
  for (int i = 0; i < kReaders; ++i) readers.push_back(Reader());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&, i] {
      BroadcastReader& reader = readers[i];
      uint64_t expected = 1;
      while (expected <= kRecords) {
        BroadcastRecord r;
        BroadcastReadResult res = reader.TryRead(&r);
        if (res == BroadcastReadResult::kOk) {
          if (r.sequence != expected || r.payload.size() != 8) failures.fetch_add(1);
          ++expected;
          continue;
        }
        if (res != BroadcastReadResult::kEmpty) {
          failures.fetch_add(1);
          return;
        }
        // Sleep at once, so that the writer's wake is what brings the reader back.
        if (reader.Wait(WaitMode::kSleep, absl::Seconds(30)) != WaitResult::kReady) {
          failures.fetch_add(1);
          return;
        }
      }
    });
  }
  for (uint64_t i = 1; i <= kRecords; ++i) {
    ASSERT_EQ(writer_->Write(1, Bytes(8, i)), BroadcastWriteResult::kOk);
    writer_->WakeSleepers();
    if (i % 64 == 0) std::this_thread::yield();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (auto& reader : readers) EXPECT_EQ(reader.missed(), 0u);
}

TEST_F(BroadcastRingTest, CloseWakesSleepers) {
  BroadcastReader reader = Reader();
  std::atomic<int> result{-1};
  std::thread t([&] { result = static_cast<int>(reader.Wait(WaitMode::kSleep, absl::Seconds(30))); });
  writer_->Close();
  t.join();
  EXPECT_EQ(result.load(), static_cast<int>(WaitResult::kClosed));
}

}  // namespace
}  // namespace qlaster::shm
