// IngestSource against writers good and bad: frames of every kind arrive in order; a
// lapping writer, a torn frame, a bad length, an unknown schema and an undecodable payload
// are each counted and survived; a foreign shared-memory object is never clobbered.
#include "sender/ingest_source.h"

#include <sys/mman.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "sender/testing/one_consumer_dispatcher.h"
#include "tests/ingest_writer.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t b) {
  Pubkey k{};
  k.fill(b);
  return k;
}

class IngestSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "qlaster_ingest_test_" + std::to_string(::getpid());
    ::shm_unlink(("/" + name_).c_str());
    auto source = IngestSource::Open(
        {.name = name_, .capacity = 64 * 1024, .frame_size = 1024});
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    auto writer = qlaster::testing::IngestWriter::Attach(name_);
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_.emplace(*std::move(writer));

    // One consumer that wants accounts owned by Key(9), all transactions, and slots.
    auto harness = testing::OneConsumerDispatcher::Create(1 << 20, OverflowPolicy::kEvict);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
    dispatcher_ = &harness_->dispatcher();
    consumer_ = &harness_->reader();
    SubscribeMsg sub;
    sub.owners = {Key(9)};
    sub.transactions = TransactionFilter::kAll;
    sub.set_transactions = true;
    ASSERT_TRUE(harness_->Subscribe(sub).ok());
  }

  void TearDown() override { ::shm_unlink(("/" + name_).c_str()); }

  static AccountUpdate Account(uint64_t n) {
    AccountUpdate a;
    a.pubkey = Key(static_cast<uint8_t>(n));
    a.owner = Key(9);
    a.lamports = n;
    a.write_version = n;
    a.data.assign(n % 300, static_cast<uint8_t>(n));
    return a;
  }

  void WriteAccount(uint64_t n) {
    const AccountUpdate update = Account(n);  // the encoding borrows its data
    auto e = EncodedUpdate::Account(update);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(writer_->Write(*e).ok());
  }

  // Lamports of every account that reached the consumer's ring, in order.
  std::vector<uint64_t> Received() {
    std::vector<uint64_t> out;
    shm::RingRecord r;
    while (consumer_->TryRead(&r) == shm::ReadResult::kOk) {
      auto view = DecodeFrame(r.payload);
      EXPECT_TRUE(view.ok()) << view.status();
      if (view.ok() && view->account()) out.push_back(view->account()->lamports);
    }
    consumer_->Release();
    return out;
  }

  std::string name_;
  std::unique_ptr<IngestSource> source_;
  std::optional<qlaster::testing::IngestWriter> writer_;
  std::unique_ptr<testing::OneConsumerDispatcher> harness_;
  Dispatcher* dispatcher_ = nullptr;
  shm::RingConsumer* consumer_ = nullptr;
};

TEST_F(IngestSourceTest, FramesOfEveryKindArriveInOrder) {
  for (uint64_t n = 1; n <= 20; ++n) WriteAccount(n);
  TransactionUpdate tx;
  tx.slot = 5;
  tx.data = {1, 2, 3};
  ASSERT_TRUE(writer_->Write(*EncodedUpdate::Transaction(tx)).ok());
  ASSERT_TRUE(writer_->Write(*EncodedUpdate::Slot({.slot = 5, .parent = 4, .status = SlotStatus::kRooted})).ok());
  EXPECT_EQ(source_->Drain(*dispatcher_), 22u);
  std::vector<uint64_t> expected;
  for (uint64_t n = 1; n <= 20; ++n) expected.push_back(n);
  EXPECT_EQ(Received(), expected);
  EXPECT_EQ(source_->counters().frames.load(), 22u);
}

TEST_F(IngestSourceTest, LargeFramesSpanSlotsAndSkipAtTheEnd) {
  // 64 slots of 1 KiB; frames of ~3 KiB take 4 slots, so the end of the ring needs skips.
  for (int round = 0; round < 10; ++round) {
    for (uint64_t n = 1; n <= 7; ++n) {
      AccountUpdate a = Account(n);
      a.data.assign(2900 + n, static_cast<uint8_t>(n));
      ASSERT_TRUE(writer_->Write(*EncodedUpdate::Account(a)).ok());
    }
    EXPECT_EQ(source_->Drain(*dispatcher_), 7u);
    EXPECT_EQ(Received(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  }
  EXPECT_EQ(source_->counters().torn.load() + source_->counters().bad_length.load(), 0u);
}

TEST_F(IngestSourceTest, LappingWriterIsCountedAndTheReaderResyncs) {
  // A writer that ignores read_pos (as a DMA engine might) overruns the reader.
  auto* h = writer_->raw().header;
  for (uint64_t n = 1; n <= 100; ++n) {
    h->read_pos.store(writer_->raw().position);  // pretend the sender kept up
    WriteAccount(n);
  }
  h->read_pos.store(0);
  EXPECT_EQ(source_->Drain(*dispatcher_), 0u);
  EXPECT_EQ(source_->counters().lapped.load(), 1u);
  WriteAccount(500);
  EXPECT_EQ(source_->Drain(*dispatcher_), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{500}));
}

TEST_F(IngestSourceTest, WritePositionGoingBackwardsIsNotFollowed) {
  for (uint64_t n = 1; n <= 3; ++n) WriteAccount(n);
  EXPECT_EQ(source_->Drain(*dispatcher_), 3u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{1, 2, 3}));
  writer_->raw().header->write_pos.store(1);  // a broken writer rewinds
  EXPECT_EQ(source_->Drain(*dispatcher_), 0u);
  EXPECT_EQ(source_->counters().rewound.load(), 1u);
  EXPECT_TRUE(Received().empty()) << "old frames must not be published twice";
  writer_->raw().header->write_pos.store(3);
  WriteAccount(4);
  EXPECT_EQ(source_->Drain(*dispatcher_), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{4}));
}

TEST_F(IngestSourceTest, TornFrameIsCountedAndSkipped) {
  WriteAccount(1);
  auto* slot0 = reinterpret_cast<qlaster_ingest_frame*>(
      reinterpret_cast<uint8_t*>(writer_->raw().header) + QLASTER_INGEST_HEADER_BYTES);
  slot0->sequence.store(0);  // the writer died mid-frame
  EXPECT_EQ(source_->Drain(*dispatcher_), 0u);
  EXPECT_EQ(source_->counters().torn.load(), 1u);
  WriteAccount(2);
  EXPECT_EQ(source_->Drain(*dispatcher_), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{2}));
}

TEST_F(IngestSourceTest, LengthPastTheWrittenDataIsCounted) {
  WriteAccount(1);
  auto* slot0 = reinterpret_cast<qlaster_ingest_frame*>(
      reinterpret_cast<uint8_t*>(writer_->raw().header) + QLASTER_INGEST_HEADER_BYTES);
  slot0->payload_len = 1u << 30;
  EXPECT_EQ(source_->Drain(*dispatcher_), 0u);
  EXPECT_EQ(source_->counters().bad_length.load(), 1u);
  WriteAccount(2);
  EXPECT_EQ(source_->Drain(*dispatcher_), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{2}));
}

TEST_F(IngestSourceTest, UnknownSchemaIsCountedAndTheNextFrameArrives) {
  const uint8_t junk[8] = {};
  ASSERT_TRUE(writer_->WriteRaw(77, junk).ok());
  WriteAccount(3);
  EXPECT_EQ(source_->Drain(*dispatcher_), 2u);
  EXPECT_EQ(source_->counters().unknown_schema.load(), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{3}));
}

TEST_F(IngestSourceTest, UndecodablePayloadIsRejectedAndTheNextFrameArrives) {
  const uint8_t short_account[10] = {};
  ASSERT_TRUE(writer_->WriteRaw(QLASTER_INGEST_SCHEMA_ACCOUNT, short_account).ok());
  WriteAccount(4);
  EXPECT_EQ(source_->Drain(*dispatcher_), 2u);
  EXPECT_EQ(source_->counters().rejected.load(), 1u);
  EXPECT_EQ(Received(), (std::vector<uint64_t>{4}));
}

TEST(IngestSourceOpenTest, ForeignObjectIsNotClobbered) {
  const std::string name = "qlaster_ingest_foreign_" + std::to_string(::getpid());
  UniqueFd fd(::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::ftruncate(fd.get(), 8192), 0);
  auto source = IngestSource::Open({.name = name});
  EXPECT_EQ(source.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(source.status().message()).find("not a version 1 ingest ring"), std::string::npos);
  ::shm_unlink(("/" + name).c_str());
}

TEST(IngestSourceOpenTest, RejectsBadGeometry) {
  EXPECT_EQ(IngestSource::Open({.name = "x", .capacity = 1000, .frame_size = 100}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(IngestSource::Open({.name = "a/b"}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qlaster::sender
