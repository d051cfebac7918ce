// SPSC ring: ordering, wrap-around, full ring, close, corrupt headers, hostile positions,
// and waking.
#include "shm/spsc_ring.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster::shm {
namespace {

using ::testing::HasSubstr;

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31);
  return v;
}

std::vector<uint8_t> ToVector(absl::Span<const uint8_t> s) { return {s.begin(), s.end()}; }

class SpscRingTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeRing(4096); }

  void MakeRing(uint64_t capacity) {
    auto p = RingProducer::Create({.dir = "/dev/shm", .capacity = capacity});
    ASSERT_TRUE(p.ok()) << p.status();
    producer_.emplace(*std::move(p));
    auto c = RingConsumer::Attach(UniqueFd(::dup(producer_->fd())));
    ASSERT_TRUE(c.ok()) << c.status();
    consumer_.emplace(*std::move(c));
    // A second mapping plays the role of a hostile or buggy peer.
    auto raw = MappedRegion::Map(producer_->fd(), kRingHeaderBytes + capacity);
    ASSERT_TRUE(raw.ok()) << raw.status();
    raw_.emplace(*std::move(raw));
  }

  RingHeader* raw_header() { return reinterpret_cast<RingHeader*>(raw_->data()); }
  uint8_t* raw_data() { return raw_->data() + kRingHeaderBytes; }

  std::optional<RingProducer> producer_;
  std::optional<RingConsumer> consumer_;
  std::optional<MappedRegion> raw_;
};

TEST_F(SpscRingTest, EmptyRingReadsEmpty) {
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kEmpty);
  EXPECT_FALSE(consumer_->HasData());
}

TEST_F(SpscRingTest, CapacityIsRoundedToPowerOfTwo) {
  EXPECT_EQ(RoundRingCapacity(1), kMinRingCapacity);
  EXPECT_EQ(RoundRingCapacity(5000), 8192u);
  EXPECT_EQ(RoundRingCapacity(8192), 8192u);
  EXPECT_EQ(RoundRingCapacity(uint64_t{1} << 40), kMaxRingCapacity);
}

TEST_F(SpscRingTest, ReadsRecordsInOrderWithTypesAndBytes) {
  for (uint32_t i = 0; i < 10; ++i) {
    ASSERT_EQ(producer_->TryWrite(1 + i, Bytes(i * 7, static_cast<uint8_t>(i))), WriteResult::kOk);
  }
  for (uint32_t i = 0; i < 10; ++i) {
    RingRecord r;
    ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
    EXPECT_EQ(r.type, 1 + i);
    EXPECT_EQ(ToVector(r.payload), Bytes(i * 7, static_cast<uint8_t>(i)));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r.payload.data()) % 8, 0u) << "payload is 8-byte aligned";
  }
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kEmpty);
}

TEST_F(SpscRingTest, ClaimedRecordsStayInvisibleUntilPublish) {
  uint8_t* at = nullptr;
  ASSERT_EQ(producer_->TryClaim(1, 16, &at), WriteResult::kOk);
  std::memset(at, 0xab, 16);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kEmpty);
  producer_->Publish();
  ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  EXPECT_EQ(ToVector(r.payload), std::vector<uint8_t>(16, 0xab));
}

TEST_F(SpscRingTest, ZeroLengthRecordIsAllowed) {
  ASSERT_EQ(producer_->TryWrite(3, {}), WriteResult::kOk);
  RingRecord r;
  ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  EXPECT_EQ(r.type, 3u);
  EXPECT_TRUE(r.payload.empty());
}

TEST_F(SpscRingTest, WrapsAroundWithPaddingRecord) {
  // 3 records of 1000 B (1008 B each) leave 1072 B of tail; a 1500 B record must pad the
  // tail and start at index 0.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(producer_->TryWrite(1, Bytes(1000, i)), WriteResult::kOk);
  RingRecord r;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  consumer_->Release();
  ASSERT_EQ(producer_->TryWrite(2, Bytes(1500, 9)), WriteResult::kOk);
  EXPECT_EQ(producer_->published_position(), 4096u + RecordSpan(1500));
  RecordHeader pad;
  std::memcpy(&pad, raw_data() + 3 * 1008, sizeof(pad));
  EXPECT_EQ(pad.type, kRecordTypePadding);
  EXPECT_EQ(pad.length, 4096u - 3 * 1008 - 8);
  ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  EXPECT_EQ(r.type, 2u);
  EXPECT_EQ(std::memcmp(raw_data() + 8, Bytes(1500, 9).data(), 1500), 0)
      << "the record starts at the beginning of the data region";
  EXPECT_EQ(ToVector(r.payload), Bytes(1500, 9));
}

TEST_F(SpscRingTest, ManyWrapsKeepEveryRecordIntact) {
  std::mt19937 rng(7);
  uint64_t next_write = 0, next_read = 0;
  for (int round = 0; round < 20000; ++round) {
    size_t n = rng() % 600;
    WriteResult w = producer_->TryWrite(1, Bytes(n, static_cast<uint8_t>(next_write)));
    if (w == WriteResult::kOk) {
      // Lengths are derived from the sequence so the reader can check them.
      ++next_write;
    }
    if (w == WriteResult::kFull || rng() % 3 == 0) {
      RingRecord r;
      while (consumer_->TryRead(&r) == ReadResult::kOk) {
        ASSERT_EQ(r.payload.empty() ? 0 : r.payload[0], r.payload.empty() ? 0 : static_cast<uint8_t>(next_read));
        ++next_read;
      }
      consumer_->Release();
    }
  }
  EXPECT_GT(next_read, 1000u);
  EXPECT_LE(next_read, next_write);
}

TEST_F(SpscRingTest, RejectsWriteWhenFullAndNeverOverwrites) {
  int written = 0;
  while (producer_->TryWrite(1, Bytes(100, static_cast<uint8_t>(written))) == WriteResult::kOk) ++written;
  EXPECT_EQ(written, 4096 / static_cast<int>(RecordSpan(100)));
  EXPECT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kFull);
  // Records read but not released still occupy the ring.
  RingRecord first;
  ASSERT_EQ(consumer_->TryRead(&first), ReadResult::kOk);
  EXPECT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kFull);
  EXPECT_EQ(ToVector(first.payload), Bytes(100, 0)) << "a full ring never overwrites";
  consumer_->Release();
  EXPECT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kOk);
  for (int i = 1; i < written; ++i) {
    RingRecord r;
    ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
    EXPECT_EQ(ToVector(r.payload), Bytes(100, static_cast<uint8_t>(i)));
  }
}

TEST_F(SpscRingTest, RejectsRecordThatCanNeverFit) {
  EXPECT_EQ(producer_->TryWrite(1, Bytes(4096, 0)), WriteResult::kTooLarge);
  EXPECT_EQ(producer_->TryWrite(1, Bytes(4096 - 8, 1)), WriteResult::kOk) << "a record may fill the ring";
  RingRecord r;
  ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  EXPECT_EQ(r.payload.size(), 4096u - 8);
}

TEST_F(SpscRingTest, CloseDrainsThenReportsClosed) {
  ASSERT_EQ(producer_->TryWrite(1, Bytes(10, 1)), WriteResult::kOk);
  producer_->Close(nullptr);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kClosed);
  auto doorbell = EventFd::Create();
  ASSERT_TRUE(doorbell.ok());
  EXPECT_EQ(consumer_->Wait(*doorbell, WaitMode::kSleep, absl::Seconds(5)), WaitResult::kClosed);
}

TEST_F(SpscRingTest, ConsumerPositionBeyondProducerIsViolation) {
  for (int i = 0; i < 30; ++i) ASSERT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kOk);
  raw_header()->consumer_position.store(1 << 20);
  // The producer re-reads the position only when the ring looks full.
  WriteResult w = WriteResult::kOk;
  for (int i = 0; i < 100 && w == WriteResult::kOk; ++i) w = producer_->TryWrite(1, Bytes(100, 0));
  EXPECT_EQ(w, WriteResult::kConsumerViolation);
  EXPECT_EQ(producer_->violation().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(producer_->violation().message(), HasSubstr("outside [last seen"));
  raw_header()->consumer_position.store(0);
  EXPECT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kConsumerViolation)
      << "a violation is sticky";
}

TEST_F(SpscRingTest, ConsumerPositionMovingBackwardsIsViolation) {
  for (int i = 0; i < 30; ++i) ASSERT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kOk);
  RingRecord r;
  for (int i = 0; i < 30; ++i) ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
  consumer_->Release();
  EXPECT_EQ(producer_->unread_bytes(), 0u);
  raw_header()->consumer_position.store(8);
  EXPECT_EQ(producer_->unread_bytes(), 0u) << "the bad value is not believed";
  EXPECT_EQ(producer_->TryWrite(1, Bytes(100, 0)), WriteResult::kConsumerViolation);
}

TEST_F(SpscRingTest, RecordStraddlingTheWrapIsCorrupt) {
  // Forge a record whose length runs past the end of the data region.
  RecordHeader h{5000, 1};
  std::memcpy(raw_data(), &h, sizeof(h));
  raw_header()->producer_position.store(4096);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt);
  EXPECT_EQ(consumer_->error().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt) << "corruption is sticky";
}

TEST_F(SpscRingTest, RecordLongerThanPublishedIsCorrupt) {
  RecordHeader h{100, 1};
  std::memcpy(raw_data(), &h, sizeof(h));
  raw_header()->producer_position.store(16);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt);
  EXPECT_THAT(consumer_->error().message(), HasSubstr("corrupt record"));
}

TEST_F(SpscRingTest, PaddingThatDoesNotReachTheEndIsCorrupt) {
  RecordHeader h{8, kRecordTypePadding};
  std::memcpy(raw_data(), &h, sizeof(h));
  raw_header()->producer_position.store(16);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt);
}

TEST_F(SpscRingTest, ProducerPositionTooFarAheadIsCorrupt) {
  raw_header()->producer_position.store(4096 + 8);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt);
  EXPECT_THAT(consumer_->error().message(), HasSubstr("producer position"));
}

TEST_F(SpscRingTest, UnalignedProducerPositionIsCorrupt) {
  raw_header()->producer_position.store(12);
  RingRecord r;
  EXPECT_EQ(consumer_->TryRead(&r), ReadResult::kCorrupt);
}

// ------------------------------------------------------------- attaching to a bad file

class RingAttachTest : public ::testing::Test {
 protected:
  // A valid ring file, then `mutate` applied to its header.
  absl::StatusOr<RingConsumer> AttachMutated(const std::function<void(RingHeader*)>& mutate,
                                             off_t file_size = kRingHeaderBytes + 4096) {
    auto p = RingProducer::Create({.dir = "/dev/shm", .capacity = 4096});
    EXPECT_TRUE(p.ok());
    auto raw = MappedRegion::Map(p->fd(), kRingHeaderBytes);
    EXPECT_TRUE(raw.ok());
    mutate(reinterpret_cast<RingHeader*>(raw->data()));
    EXPECT_EQ(::ftruncate(p->fd(), file_size), 0);
    return RingConsumer::Attach(UniqueFd(::dup(p->fd())));
  }
};

TEST_F(RingAttachTest, AcceptsValidRing) {
  EXPECT_TRUE(AttachMutated([](RingHeader*) {}).ok());
}

TEST_F(RingAttachTest, RejectsBadMagic) {
  auto c = AttachMutated([](RingHeader* h) { h->magic = 0x1234; });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("magic"));
}

TEST_F(RingAttachTest, RejectsOtherLayoutVersion) {
  auto c = AttachMutated([](RingHeader* h) { h->layout_version = 2; });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("layout version 2"));
}

TEST_F(RingAttachTest, RejectsBadHeaderSize) {
  auto c = AttachMutated([](RingHeader* h) { h->header_bytes = 64; });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(RingAttachTest, RejectsCapacityNotPowerOfTwo) {
  auto c = AttachMutated([](RingHeader* h) { h->capacity = 3000; });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("power of two"));
}

TEST_F(RingAttachTest, RejectsCapacityLargerThanFile) {
  auto c = AttachMutated([](RingHeader* h) { h->capacity = 8192; });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("header says"));
}

TEST_F(RingAttachTest, RejectsTruncatedFile) {
  auto c = AttachMutated([](RingHeader*) {}, 100);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("smaller than"));
}

TEST_F(RingAttachTest, RejectsImpossiblePositions) {
  auto c = AttachMutated([](RingHeader* h) {
    h->producer_position.store(100000);
    h->consumer_position.store(8);
  });
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(c.status().message(), HasSubstr("positions are impossible"));
}

// ----------------------------------------------------------------------------- waking

TEST_F(SpscRingTest, AwakeConsumerCostsNoWakeUp) {
  auto doorbell = EventFd::Create();
  ASSERT_TRUE(doorbell.ok());
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(producer_->TryWrite(1, Bytes(8, 0)), WriteResult::kOk);
    EXPECT_FALSE(producer_->WakeIfSleeping(*doorbell));
    RingRecord r;
    ASSERT_EQ(consumer_->TryRead(&r), ReadResult::kOk);
    consumer_->Release();
  }
}

TEST_F(SpscRingTest, WaitTimesOutOnAnEmptyRing) {
  auto doorbell = EventFd::Create();
  ASSERT_TRUE(doorbell.ok());
  for (WaitMode mode : {WaitMode::kSpin, WaitMode::kSpinThenSleep, WaitMode::kSleep}) {
    EXPECT_EQ(consumer_->Wait(*doorbell, mode, absl::Milliseconds(5)), WaitResult::kTimeout);
  }
  EXPECT_EQ(raw_header()->consumer_sleeping.load(), 0u) << "the flag is cleared on return";
}

// A producer thread racing a consumer that sleeps between every record: each record must
// wake the consumer; a lost wake-up would leave Wait() blocked until its (long) deadline.
void RunNoLostWakeUp(RingProducer& producer, RingConsumer& consumer, WaitMode mode, int records) {
  auto doorbell = EventFd::Create();
  ASSERT_TRUE(doorbell.ok());
  int wakes = 0;
  std::thread writer([&] {
    std::mt19937 rng(1);
    for (int i = 0; i < records; ++i) {
      uint64_t value = static_cast<uint64_t>(i);
      while (producer.TryWrite(1, {reinterpret_cast<const uint8_t*>(&value), 8}) != WriteResult::kOk) {
        std::this_thread::yield();
      }
      wakes += producer.WakeIfSleeping(*doorbell) ? 1 : 0;
      // Vary the phase between publish and the consumer's declare/re-check.
      for (unsigned spin = rng() % 64; spin > 0; --spin) asm volatile("" ::: "memory");
    }
  });
  int received = 0;
  int timeouts = 0;
  while (received < records) {
    RingRecord r;
    ReadResult rr = consumer.TryRead(&r);
    if (rr == ReadResult::kOk) {
      uint64_t value;
      std::memcpy(&value, r.payload.data(), 8);
      ASSERT_EQ(value, static_cast<uint64_t>(received));
      ++received;
      consumer.Release();
      continue;
    }
    ASSERT_EQ(rr, ReadResult::kEmpty);
    if (consumer.Wait(*doorbell, mode, absl::Seconds(10), absl::Microseconds(1)) == WaitResult::kTimeout) {
      ++timeouts;
      break;
    }
  }
  writer.join();
  EXPECT_EQ(timeouts, 0) << "a wake-up was lost after record " << received;
  EXPECT_EQ(received, records);
  EXPECT_GT(wakes, 0) << "the consumer never actually slept: the test proved nothing";
}

TEST_F(SpscRingTest, SleepingConsumerIsAlwaysWoken) {
  RunNoLostWakeUp(*producer_, *consumer_, WaitMode::kSleep, 100000);
}

TEST_F(SpscRingTest, SpinThenSleepConsumerIsAlwaysWoken) {
  RunNoLostWakeUp(*producer_, *consumer_, WaitMode::kSpinThenSleep, 100000);
}

}  // namespace
}  // namespace qlaster::shm
