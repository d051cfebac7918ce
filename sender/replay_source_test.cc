// ReplaySource through a real Dispatcher into a consumer's ring: a recording replays byte
// for byte (bodies equal; sequence and timestamp are the new sender's); gap records are
// skipped; the recorded pace is kept (never early) and scaled; looping; waiting for a
// consumer; serving after the end; corrupt and truncated files.
#include "sender/replay_source.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "sender/testing/one_consumer_dispatcher.h"
#include "sender/testing/run_source.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t b) {
  Pubkey k{};
  k.fill(b);
  return k;
}

class ReplaySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/r.qlrec";

    auto harness = testing::OneConsumerDispatcher::Create(32 << 20);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
    dispatcher_ = &harness_->dispatcher();
    consumer_ = &harness_->reader();
    id_ = harness_->consumer_id();
  }


  // The consumer wants accounts owned by Key(9), all transactions (and slots).
  // `adopt`: adopt the new table here; false when a running source is the dispatch thread.
  void Subscribe(bool adopt = true) {
    SubscribeMsg sub;
    sub.owners = {Key(9)};
    sub.transactions = TransactionFilter::kAll;
    sub.set_transactions = true;
    ASSERT_TRUE(harness_->Subscribe(sub, adopt).ok());
  }

  // A varied recording: small, large (compressed) and signed accounts, transactions,
  // slots and a gap record, `step_ns` apart. Returns the frames.
  std::vector<std::vector<uint8_t>> Record(uint64_t step_ns = 1000, int rounds = 1) {
    std::vector<std::vector<uint8_t>> frames;
    uint64_t ts = 1'700'000'000'000'000'000;
    uint64_t seq = 0;
    auto add = [&](const absl::StatusOr<EncodedUpdate>& e) {
      ASSERT_TRUE(e.ok()) << e.status();
      frames.push_back(e->ToBytes(++seq, ts));
      ts += step_ns;
    };
    for (int r = 0; r < rounds; ++r) {
      for (uint8_t n = 1; n <= 3; ++n) {
        AccountUpdate a;
        a.pubkey = Key(n);
        a.owner = Key(9);
        a.lamports = 1000u * n;
        a.executable = n == 2;
        a.rent_epoch = UINT64_MAX;
        a.slot = 77;
        a.write_version = n;
        if (n == 3) a.txn_signature = Signature{1, 2, 3};
        a.data.assign(n * 50, static_cast<uint8_t>(n));
        add(EncodedUpdate::Account(a));
      }
      AccountUpdate big;
      big.pubkey = Key(4);
      big.owner = Key(9);
      big.data.assign(1 << 20, 0);  // compresses
      big.data[12345] = 1;
      add(EncodedUpdate::Account(big));
      EXPECT_TRUE(EncodedUpdate::Account(big)->compressed());
      TransactionUpdate tx;
      tx.slot = 77;
      tx.index = 5;
      tx.signature = Signature{9, 9};
      tx.is_vote = true;
      tx.failed = true;
      tx.data = {1, 2, 3, 4};
      add(EncodedUpdate::Transaction(tx));
      add(EncodedUpdate::Gap(3));  // the recording consumer missed three: not replayed
      add(EncodedUpdate::Slot({.slot = 77, .parent = 76, .status = SlotStatus::kRooted}));
    }
    auto writer = RecordWriter::Open(path_, {.overwrite = true});
    EXPECT_TRUE(writer.ok()) << writer.status();
    for (const auto& f : frames) EXPECT_TRUE(writer->Append(f).ok());
    EXPECT_TRUE(writer->Close().ok());
    return frames;
  }

  // What the consumer's ring holds.
  std::vector<std::vector<uint8_t>> Received() {
    std::vector<std::vector<uint8_t>> out;
    shm::RingRecord r;
    while (consumer_->TryRead(&r) == shm::ReadResult::kOk) {
      out.emplace_back(r.payload.begin(), r.payload.end());
    }
    consumer_->Release();
    return out;
  }

  static uint64_t Timestamp(const std::vector<uint8_t>& frame) {
    auto view = DecodeFrame(frame);
    EXPECT_TRUE(view.ok());
    return view.ok() ? view->timestamp_ns : 0;
  }

  // Frame bytes without the per-consumer sequence and timestamp (header bytes 8..24).
  static std::vector<uint8_t> Body(const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> out(frame.begin(), frame.begin() + 8);
    out.insert(out.end(), frame.begin() + kFrameHeaderSize, frame.end());
    return out;
  }
  static std::vector<std::vector<uint8_t>> Bodies(const std::vector<std::vector<uint8_t>>& frames,
                                                  bool drop_gaps) {
    std::vector<std::vector<uint8_t>> out;
    for (const auto& f : frames) {
      if (drop_gaps && f[0] == static_cast<uint8_t>(fb::UpdateKind::Gap)) continue;
      out.push_back(Body(f));
    }
    return out;
  }

  std::unique_ptr<ReplaySource> Open(ReplayOptions o) {
    o.path = path_;
    auto source = ReplaySource::Open(o);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? *std::move(source) : nullptr;
  }

  qlaster::TempDir tmp_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<testing::OneConsumerDispatcher> harness_;
  Dispatcher* dispatcher_ = nullptr;
  uint64_t id_ = 0;
  shm::RingConsumer* consumer_ = nullptr;
  std::atomic<bool> stop_{false};
};

TEST_F(ReplaySourceTest, ReplaysEveryUpdateByteForByteAndSkipsGaps) {
  Subscribe();
  const auto frames = Record();
  auto source = Open({.speed = 0});
  ASSERT_TRUE(testing::RunSource(*source, *dispatcher_, stop_).ok());
  const auto got = Received();
  EXPECT_EQ(Bodies(got, false), Bodies(frames, true));
  // The new sender numbers them afresh.
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(DecodeFrame(got[i])->sequence, i + 1);
  }
  EXPECT_EQ(source->counters().published.load(), 6u);
  EXPECT_EQ(source->counters().gaps.load(), 1u);
  EXPECT_EQ(source->counters().passes.load(), 1u);
  EXPECT_TRUE(source->counters().finished.load());
  EXPECT_FALSE(source->counters().truncated_tail.load());
}

TEST_F(ReplaySourceTest, KeepsTheRecordedPaceNeverEarly) {
  Subscribe();
  constexpr uint64_t kStep = 10'000'000;  // 10 ms
  const auto frames = Record(kStep);
  for (double speed : {1.0, 2.0}) {
    auto source = Open({.speed = speed});
    ASSERT_TRUE(testing::RunSource(*source, *dispatcher_, stop_).ok());
    const auto got = Received();
    ASSERT_EQ(got.size(), 6u);
    // Published record k (of the recording's i) is due (t_i - t_0) / speed after the
    // first; the first itself went out a little after the schedule began, hence the
    // allowance (a lower bound only: being late is a performance question).
    const std::vector<int> recorded_index = {0, 1, 2, 3, 4, 6};
    for (size_t k = 1; k < got.size(); ++k) {
      const double due = static_cast<double>(recorded_index[k]) * kStep / speed;
      const double actual = static_cast<double>(Timestamp(got[k]) - Timestamp(got[0]));
      EXPECT_GE(actual, due - 2e6) << "speed " << speed << " record " << k;
    }
  }
}

TEST_F(ReplaySourceTest, LoopsUntilStopped) {
  Subscribe();
  const auto frames = Record(/*step_ns=*/1'000'000);
  auto source = Open({.speed = 1.0, .loop = true});
  std::thread t([&] { EXPECT_TRUE(testing::RunSource(*source, *dispatcher_, stop_, true).ok()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (source->counters().passes.load() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  stop_ = true;
  t.join();
  EXPECT_GE(source->counters().passes.load(), 3u);
  const auto got = Bodies(Received(), false);
  const auto one_pass = Bodies(frames, true);
  ASSERT_GE(got.size(), 3 * one_pass.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], one_pass[i % one_pass.size()]) << i;
  EXPECT_FALSE(source->counters().finished.load());
}

TEST_F(ReplaySourceTest, WaitsForASubscribedConsumer) {
  Record();
  auto source = Open({.speed = 0, .wait_for_consumers = 1});
  std::thread t([&] { EXPECT_TRUE(testing::RunSource(*source, *dispatcher_, stop_).ok()); });
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(source->counters().published.load(), 0u);  // nobody to play to yet
  Subscribe(/*adopt=*/false);  // the source's thread adopts it
  t.join();
  EXPECT_EQ(Received().size(), 6u);
}

TEST_F(ReplaySourceTest, ServesAfterTheEndUntilStopped) {
  Subscribe();
  Record();
  auto source = Open({.speed = 0});
  std::thread t([&] { EXPECT_TRUE(testing::RunSource(*source, *dispatcher_, stop_, true).ok()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!source->counters().finished.load() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(source->counters().finished.load());
  // A subscription change after the end still takes effect.
  const RoutingTable* table = dispatcher_->Install(*harness_->registry().BuildTable());
  while (dispatcher_->adopted() != table && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(dispatcher_->adopted(), table);
  stop_ = true;
  t.join();
}

TEST_F(ReplaySourceTest, StopInterruptsALongWait) {
  Subscribe();
  Record(/*step_ns=*/3600'000'000'000);  // an hour between records
  auto source = Open({.speed = 1.0});
  std::thread t([&] { EXPECT_TRUE(testing::RunSource(*source, *dispatcher_, stop_, true).ok()); });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (source->counters().published.load() < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  stop_ = true;
  t.join();
  EXPECT_EQ(source->counters().published.load(), 1u);
}

TEST_F(ReplaySourceTest, TruncatedTailIsPlayedUpToTheCut) {
  Subscribe();
  const auto frames = Record();
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 3);
  auto source = Open({.speed = 0});
  ASSERT_TRUE(testing::RunSource(*source, *dispatcher_, stop_).ok());
  EXPECT_TRUE(source->counters().truncated_tail.load());
  EXPECT_EQ(Received().size(), 5u);  // the slot update was cut
}

TEST_F(ReplaySourceTest, CorruptRecordIsDataLossNamingTheOffset) {
  Subscribe();
  const auto frames = Record();
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kRecordFileHeaderSize + kRecordHeaderSize + 30);
    f.put('\x7f');
  }
  auto source = Open({.speed = 0});
  absl::Status s = testing::RunSource(*source, *dispatcher_, stop_);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find(path_ + ": record at offset 32"), std::string::npos) << s;
}

TEST_F(ReplaySourceTest, RecordThatDoesNotDecodeIsDataLoss) {
  Subscribe();
  {
    auto writer = RecordWriter::Open(path_);
    ASSERT_TRUE(writer.ok());
    const uint8_t junk[30] = {1, 7};
    ASSERT_TRUE(writer->Append(junk).ok());
  }
  auto source = Open({.speed = 0});
  absl::Status s = testing::RunSource(*source, *dispatcher_, stop_);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("does not decode"), std::string::npos) << s;
}

TEST_F(ReplaySourceTest, OpenRejectsBadInput) {
  EXPECT_EQ(ReplaySource::Open({.path = dir_ + "/absent"}).status().code(),
            absl::StatusCode::kNotFound);
  Record();
  EXPECT_EQ(ReplaySource::Open({.path = path_, .speed = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  { std::ofstream(dir_ + "/text") << "not a recording at all, just some text\n"; }
  EXPECT_EQ(ReplaySource::Open({.path = dir_ + "/text"}).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace qlaster::sender
