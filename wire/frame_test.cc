// Tests for the data-record frame codecs: round trips of every kind, the compression
// decision as seen on the wire, writes at any alignment, and one case per kind of
// malformed record (leveldb log_test style), each asserting kDataLoss from the check
// that is meant to catch it.
#include "wire/frame.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qlaster {
namespace {

using ::testing::HasSubstr;

// Record offsets (FrameHeader is 24 bytes; struct offsets from proto/qlaster.fbs).
constexpr size_t kKindOffset = 0;
constexpr size_t kVersionOffset = 1;
constexpr size_t kHeaderFiltersOffset = 2;
constexpr size_t kBodyLenOffset = 4;
constexpr size_t kSequenceOffset = 8;
constexpr size_t kTimestampOffset = 16;
constexpr size_t kBody = 24;
constexpr size_t kAccountDataLenOffset = kBody + 96;
constexpr size_t kAccountWireLenOffset = kBody + 100;
constexpr size_t kAccountFlagsOffset = kBody + 104;
constexpr size_t kAccountExecutableOffset = kBody + 105;
constexpr size_t kAccountTxnSignatureOffset = kBody + 112;
constexpr size_t kAccountHeaderSize = 176;
constexpr size_t kTransactionDataLenOffset = kBody + 12;
constexpr size_t kTransactionIsVoteOffset = kBody + 16;
constexpr size_t kTransactionFailedOffset = kBody + 17;
constexpr size_t kTransactionHeaderSize = 88;
constexpr size_t kSlotStatusOffset = kBody + 16;

void Put32(std::vector<uint8_t>& bytes, size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}
uint32_t Get32(const std::vector<uint8_t>& bytes, size_t offset) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{bytes[offset + i]} << (8 * i);
  return value;
}
uint64_t Get64(const std::vector<uint8_t>& bytes, size_t offset) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
  return value;
}

std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, std::min<size_t>(8, n - i));
  }
  return bytes;
}

// Compressible like a real large account: mostly zeros with some structure.
std::vector<uint8_t> SparseBytes(size_t n) {
  std::vector<uint8_t> bytes(n, 0);
  for (size_t i = 0; i < n; i += 4096) bytes[i] = static_cast<uint8_t>(i / 4096);
  return bytes;
}

AccountUpdate MakeAccount(std::vector<uint8_t> data, bool with_signature = true) {
  AccountUpdate update;
  for (size_t i = 0; i < kPubkeySize; ++i) {
    update.pubkey[i] = static_cast<uint8_t>(i + 1);
    update.owner[i] = static_cast<uint8_t>(0xA0 + i);
  }
  update.lamports = 1'000'000'007;
  update.executable = true;
  update.rent_epoch = std::numeric_limits<uint64_t>::max();
  update.slot = 250'000'123;
  update.write_version = 987'654'321'012ULL;
  if (with_signature) {
    Signature sig;
    for (size_t i = 0; i < kSignatureSize; ++i) sig[i] = static_cast<uint8_t>(0xFF - i);
    update.txn_signature = sig;
  }
  update.data = std::move(data);
  return update;
}

TransactionUpdate MakeTransaction(std::vector<uint8_t> data) {
  TransactionUpdate update;
  update.slot = 250'000'124;
  update.index = 77;
  for (size_t i = 0; i < kSignatureSize; ++i) update.signature[i] = static_cast<uint8_t>(3 * i);
  update.is_vote = false;
  update.failed = true;
  update.data = std::move(data);
  return update;
}

// Encodes, writes with a sequence and timestamp, decodes, and checks the header fields.
FrameView EncodeDecode(const EncodedUpdate& encoded, std::vector<uint8_t>& storage) {
  storage = encoded.ToBytes(/*sequence=*/42, /*timestamp_ns=*/1'700'000'000'123'456'789ULL);
  EXPECT_EQ(storage.size(), encoded.frame_size());
  absl::StatusOr<FrameView> view = DecodeFrame(storage);
  EXPECT_TRUE(view.ok()) << view.status();
  if (!view.ok()) return FrameView{};
  EXPECT_EQ(view->kind, encoded.kind());
  EXPECT_EQ(view->sequence, 42u);
  EXPECT_EQ(view->timestamp_ns, 1'700'000'000'123'456'789ULL);
  return *view;
}

AccountUpdate RoundTripAccount(const AccountUpdate& update, const Lz4Policy& policy = {},
                               bool* compressed = nullptr) {
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, policy);
  EXPECT_TRUE(encoded.ok()) << encoded.status();
  if (!encoded.ok()) return {};
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(*encoded, storage);
  const AccountView* account = view.account();
  EXPECT_NE(account, nullptr);
  if (account == nullptr) return {};
  EXPECT_EQ(account->compressed(), encoded->compressed());
  EXPECT_EQ(account->wire_data.size(), encoded->variable_size());
  if (compressed != nullptr) *compressed = account->compressed();
  absl::StatusOr<AccountUpdate> back = ToAccountUpdate(*account);
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *back : AccountUpdate{};
}

std::vector<uint8_t> AccountRecord(const AccountUpdate& update, const Lz4Policy& policy = {}) {
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, policy);
  EXPECT_TRUE(encoded.ok()) << encoded.status();
  return encoded.ok() ? encoded->ToBytes(1, 2) : std::vector<uint8_t>{};
}

// A compressed account record of 64 KiB of zeros (policy forces compression).
std::vector<uint8_t> CompressedAccountRecord(AccountUpdate& keep_alive) {
  keep_alive = MakeAccount(std::vector<uint8_t>(64 * 1024, 0));
  Lz4Policy policy;
  policy.threshold = 0;
  std::vector<uint8_t> record = AccountRecord(keep_alive, policy);
  EXPECT_EQ(record[kAccountFlagsOffset] & 1, 1) << "expected a compressed record";
  return record;
}

std::vector<uint8_t> TransactionRecord(const TransactionUpdate& update) {
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  EXPECT_TRUE(encoded.ok()) << encoded.status();
  return encoded.ok() ? encoded->ToBytes(1, 2) : std::vector<uint8_t>{};
}

std::vector<uint8_t> SlotRecord() {
  absl::StatusOr<EncodedUpdate> encoded =
      EncodedUpdate::Slot({.slot = 10, .parent = 9, .status = SlotStatus::kRooted});
  EXPECT_TRUE(encoded.ok()) << encoded.status();
  return encoded.ok() ? encoded->ToBytes(1, 2) : std::vector<uint8_t>{};
}

std::vector<uint8_t> GapRecord() { return EncodedUpdate::Gap(5).ToBytes(1, 2); }

// Asserts DecodeFrame fails with kDataLoss and a message containing `needle`, so each
// corruption case proves that the check meant for it fired.
void ExpectDataLoss(absl::Span<const uint8_t> record, const std::string& needle) {
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_FALSE(view.ok()) << "decoded a corrupt record; expected: " << needle;
  EXPECT_EQ(view.status().code(), absl::StatusCode::kDataLoss) << view.status();
  EXPECT_THAT(std::string(view.status().message()), HasSubstr(needle));
}

// ------------------------------------------------------------------ round trips

TEST(FrameTest, AccountRoundTripsUncompressed) {
  const AccountUpdate update = MakeAccount(RandomBytes(1000, 1));
  bool compressed = true;
  EXPECT_EQ(RoundTripAccount(update, {}, &compressed), update);
  EXPECT_FALSE(compressed);
}

TEST(FrameTest, AccountWithoutTxnSignatureRoundTrips) {
  const AccountUpdate update = MakeAccount(RandomBytes(165, 2), /*with_signature=*/false);
  const AccountUpdate back = RoundTripAccount(update);
  EXPECT_FALSE(back.txn_signature.has_value());
  EXPECT_EQ(back, update);
}

TEST(FrameTest, AccountWithEmptyDataRoundTrips) {
  AccountUpdate update = MakeAccount({});
  update.executable = false;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->frame_size(), kFrameHeaderSize + kAccountHeaderSize);
  EXPECT_EQ(RoundTripAccount(update), update);
}

TEST(FrameTest, AccountDataAtLimitRoundTrips) {
  Lz4Policy no_compression;
  no_compression.threshold = SIZE_MAX;
  const AccountUpdate update = MakeAccount(RandomBytes(kMaxAccountDataSize, 3));
  EXPECT_EQ(RoundTripAccount(update, no_compression), update);
}

TEST(FrameTest, CompressibleTenMiBAccountIsCompressedOnTheWire) {
  const AccountUpdate update = MakeAccount(SparseBytes(kMaxAccountDataSize));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(encoded->compressed());
  EXPECT_LT(encoded->variable_size(), kMaxAccountDataSize / 100);
  EXPECT_EQ(encoded->frame_size(),
            kFrameHeaderSize + kAccountHeaderSize + encoded->variable_size());
  bool compressed = false;
  EXPECT_EQ(RoundTripAccount(update, {}, &compressed), update);
  EXPECT_TRUE(compressed);
}

TEST(FrameTest, IncompressibleTenMiBAccountIsSentRaw) {
  const AccountUpdate update = MakeAccount(RandomBytes(kMaxAccountDataSize, 4));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_FALSE(encoded->compressed());
  EXPECT_EQ(encoded->variable_size(), kMaxAccountDataSize);
  bool compressed = true;
  EXPECT_EQ(RoundTripAccount(update, {}, &compressed), update);
  EXPECT_FALSE(compressed);
}

TEST(FrameTest, DataBelowThresholdIsNeverCompressed) {
  const Lz4Policy policy;  // default threshold
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(policy.threshold - 1, 0));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, policy);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_FALSE(encoded->compressed());
  EXPECT_EQ(encoded->variable_size(), update.data.size());
  EXPECT_EQ(RoundTripAccount(update, policy), update);
}

TEST(FrameTest, DataAtThresholdIsCompressed) {
  const Lz4Policy policy;
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(policy.threshold, 0));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, policy);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_TRUE(encoded->compressed());
}

TEST(FrameTest, MaxThresholdDisablesCompression) {
  Lz4Policy off;
  off.threshold = SIZE_MAX;
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(kMaxAccountDataSize, 0));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, off);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_FALSE(encoded->compressed());
  EXPECT_EQ(encoded->variable_size(), kMaxAccountDataSize);
}

TEST(FrameTest, ZeroThresholdCompressesSmallCompressibleData) {
  Lz4Policy on;
  on.threshold = 0;
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(4096, 7));
  bool compressed = false;
  EXPECT_EQ(RoundTripAccount(update, on, &compressed), update);
  EXPECT_TRUE(compressed);
}

TEST(FrameTest, UncompressedAccountReferencesCallerData) {
  const AccountUpdate update = MakeAccount(RandomBytes(100, 5));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(*encoded, storage);
  ASSERT_NE(view.account(), nullptr);
  // Zero-copy on decode: the view's data lies inside the record.
  EXPECT_EQ(view.account()->wire_data.data(), storage.data() + kBody + kAccountHeaderSize);
}

TEST(FrameTest, AccountOverLimitIsInvalidArgument) {
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(kMaxAccountDataSize + 1, 0));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(encoded.status().message()),
              HasSubstr(std::to_string(kMaxAccountDataSize)));
}

TEST(FrameTest, AccountIntoAReusedUpdateIsExactlyTheAccount) {
  // One EncodedUpdate filled account after account, as the dispatcher does: each result
  // is that account's frame byte for byte, whatever the previous one was (compressed or
  // not, larger or smaller), and a refused account leaves it empty.
  Lz4Policy on;
  on.threshold = 0;
  const std::vector<AccountUpdate> accounts = {
      MakeAccount(std::vector<uint8_t>(4096, 7)),                  // compressed
      MakeAccount(RandomBytes(100, 8), /*with_signature=*/false),  // raw, smaller
      MakeAccount({}),                                             // no data
      MakeAccount(std::vector<uint8_t>(8192, 1)),                  // compressed again
  };
  EncodedUpdate reused;
  for (const AccountUpdate& account : accounts) {
    ASSERT_TRUE(EncodedUpdate::AccountInto(account, on, &reused).ok());
    absl::StatusOr<EncodedUpdate> fresh = EncodedUpdate::Account(account, on);
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    EXPECT_EQ(reused.compressed(), fresh->compressed());
    EXPECT_EQ(reused.ToBytes(3, 4), fresh->ToBytes(3, 4));
  }
  const AccountUpdate too_big = MakeAccount(std::vector<uint8_t>(kMaxAccountDataSize + 1, 0));
  const absl::Status refused = EncodedUpdate::AccountInto(too_big, on, &reused);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reused.kind(), fb::UpdateKind::None);
  EXPECT_EQ(reused.variable_size(), 0u);
}

TEST(FrameTest, TransactionRoundTrips) {
  const TransactionUpdate update = MakeTransaction(RandomBytes(1232, 6));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  EXPECT_EQ(encoded->frame_size(), kFrameHeaderSize + kTransactionHeaderSize + 1232);
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(*encoded, storage);
  ASSERT_NE(view.transaction(), nullptr);
  EXPECT_EQ(ToTransactionUpdate(*view.transaction()), update);
}

TEST(FrameTest, EmptyVoteTransactionRoundTrips) {
  TransactionUpdate update = MakeTransaction({});
  update.is_vote = true;
  update.failed = false;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(*encoded, storage);
  ASSERT_NE(view.transaction(), nullptr);
  EXPECT_EQ(ToTransactionUpdate(*view.transaction()), update);
}

TEST(FrameTest, TransactionOverLimitIsInvalidArgument) {
  const TransactionUpdate update = MakeTransaction(std::vector<uint8_t>(kMaxTransactionSize + 1));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(encoded.status().message()),
              HasSubstr(std::to_string(kMaxTransactionSize)));
}

TEST(FrameTest, SlotRoundTripsEveryStatus) {
  for (uint8_t s = 0; s <= static_cast<uint8_t>(SlotStatus::kDead); ++s) {
    const SlotUpdate update{.slot = 1000u + s, .parent = 999, .status = SlotStatus{s}};
    absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Slot(update);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    EXPECT_EQ(encoded->frame_size(), kFrameHeaderSize + 24);
    std::vector<uint8_t> storage;
    const FrameView view = EncodeDecode(*encoded, storage);
    ASSERT_NE(view.slot(), nullptr);
    EXPECT_EQ(ToSlotUpdate(*view.slot()), update);
  }
}

TEST(FrameTest, SlotWithUnknownStatusIsInvalidArgument) {
  absl::StatusOr<EncodedUpdate> encoded =
      EncodedUpdate::Slot({.slot = 1, .parent = 0, .status = SlotStatus{7}});
  ASSERT_FALSE(encoded.ok());
  EXPECT_EQ(encoded.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameTest, GapRoundTrips) {
  const EncodedUpdate encoded = EncodedUpdate::Gap(123456789);
  EXPECT_EQ(encoded.frame_size(), kFrameHeaderSize + 8);
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(encoded, storage);
  ASSERT_NE(view.gap(), nullptr);
  EXPECT_EQ(view.gap()->dropped, 123456789u);
}

// ------------------------------------------------------------------ layout and writes

TEST(FrameTest, HeaderFieldsSitAtTheirSchemaOffsets) {
  const AccountUpdate update = MakeAccount(RandomBytes(10, 7));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  const std::vector<uint8_t> bytes = encoded->ToBytes(0x0102030405060708ULL, 99);
  EXPECT_EQ(bytes[kKindOffset], static_cast<uint8_t>(fb::UpdateKind::Account));
  EXPECT_EQ(bytes[kVersionOffset], kFrameVersion);
  EXPECT_EQ(Get32(bytes, kHeaderFiltersOffset) & 0xFFFF, 0u);
  EXPECT_EQ(Get32(bytes, kAccountDataLenOffset + 12), 10u) << "account_data_len";
  EXPECT_EQ(Get32(bytes, kBodyLenOffset), kAccountHeaderSize + 10);
  EXPECT_EQ(Get64(bytes, kSequenceOffset), 0x0102030405060708ULL);
  EXPECT_EQ(Get64(bytes, kTimestampOffset), 99u);
  EXPECT_EQ(Get32(bytes, kAccountDataLenOffset), 10u);
  EXPECT_EQ(Get32(bytes, kAccountWireLenOffset), 10u);
  EXPECT_EQ(bytes[kAccountFlagsOffset], 2);  // HasTxnSignature
  // frame.cc validates the bool bytes by offset; pin those offsets.
  EXPECT_EQ(bytes[kAccountExecutableOffset], 1);
  EXPECT_EQ(bytes[kAccountTxnSignatureOffset], (*update.txn_signature)[0]);

  TransactionUpdate txn = MakeTransaction({});
  txn.is_vote = true;
  txn.failed = false;
  std::vector<uint8_t> txn_bytes = TransactionRecord(txn);
  EXPECT_EQ(txn_bytes[kTransactionIsVoteOffset], 1);
  EXPECT_EQ(txn_bytes[kTransactionFailedOffset], 0);
  txn.is_vote = false;
  txn.failed = true;
  txn_bytes = TransactionRecord(txn);
  EXPECT_EQ(txn_bytes[kTransactionIsVoteOffset], 0);
  EXPECT_EQ(txn_bytes[kTransactionFailedOffset], 1);
}

TEST(FrameTest, WriteFrameWritesExactlyFrameSizeBytes) {
  const AccountUpdate update = MakeAccount(RandomBytes(333, 8));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<uint8_t> buffer(encoded->frame_size() + 32, 0xCD);
  encoded->WriteFrame(buffer.data() + 16, 1, 2);
  for (size_t i = 0; i < 16; ++i) EXPECT_EQ(buffer[i], 0xCD) << i;
  for (size_t i = 16 + encoded->frame_size(); i < buffer.size(); ++i) {
    EXPECT_EQ(buffer[i], 0xCD) << i;
  }
}

TEST(FrameTest, WriteFrameAtUnalignedOffsetDecodes) {
  const AccountUpdate update = MakeAccount(RandomBytes(77, 9));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  for (size_t offset : {1, 3, 5, 7}) {
    std::vector<uint8_t> buffer(encoded->frame_size() + 8);
    encoded->WriteFrame(buffer.data() + offset, 100 + offset, 200);
    absl::StatusOr<FrameView> view =
        DecodeFrame(absl::MakeConstSpan(buffer.data() + offset, encoded->frame_size()));
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(view->sequence, 100 + offset);
    ASSERT_NE(view->account(), nullptr);
    absl::StatusOr<AccountUpdate> back = ToAccountUpdate(*view->account());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, update);
  }
}

TEST(FrameTest, WriteFrameIntoFreshBufferDecodes) {
  const TransactionUpdate update = MakeTransaction(RandomBytes(500, 10));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  // Exactly sized heap block: ASan flags any byte written or read past it.
  auto buffer = std::make_unique<uint8_t[]>(encoded->frame_size());
  encoded->WriteFrame(buffer.get(), 7, 8);
  absl::StatusOr<FrameView> view =
      DecodeFrame(absl::MakeConstSpan(buffer.get(), encoded->frame_size()));
  ASSERT_TRUE(view.ok()) << view.status();
  ASSERT_NE(view->transaction(), nullptr);
  EXPECT_EQ(ToTransactionUpdate(*view->transaction()), update);
}

TEST(FrameTest, OneEncodingWritesManyRecordsWithTheirOwnSequence) {
  const AccountUpdate update = MakeAccount(RandomBytes(64, 11));
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<uint8_t> a = encoded->ToBytes(1, 1000);
  std::vector<uint8_t> b = encoded->ToBytes(2, 2000);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(std::equal(a.begin() + kBody, a.end(), b.begin() + kBody));
  absl::StatusOr<FrameView> view_b = DecodeFrame(b);
  ASSERT_TRUE(view_b.ok()) << view_b.status();
  EXPECT_EQ(view_b->sequence, 2u);
  EXPECT_EQ(view_b->timestamp_ns, 2000u);
}

TEST(FrameTest, CopyOfCompressedUpdateOutlivesTheOriginal) {
  const AccountUpdate update = MakeAccount(std::vector<uint8_t>(1 << 20, 0));
  std::optional<EncodedUpdate> original;
  {
    absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    ASSERT_TRUE(encoded->compressed());
    original = *encoded;
  }
  const EncodedUpdate copy = *original;
  original.reset();  // ASan catches the copy reading the original's freed buffer.
  std::vector<uint8_t> storage;
  const FrameView view = EncodeDecode(copy, storage);
  ASSERT_NE(view.account(), nullptr);
  absl::StatusOr<AccountUpdate> back = ToAccountUpdate(*view.account());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, update);
}

TEST(FrameTest, DecompressIntoRejectsWrongSizeOutput) {
  AccountUpdate keep_alive;
  const std::vector<uint8_t> record = CompressedAccountRecord(keep_alive);
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_TRUE(view.ok()) << view.status();
  std::vector<uint8_t> out(keep_alive.data.size() + 1);
  EXPECT_EQ(view->account()->DecompressInto(absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
  out.resize(keep_alive.data.size());
  EXPECT_TRUE(view->account()->DecompressInto(absl::MakeSpan(out)).ok());
  EXPECT_EQ(out, keep_alive.data);
}

// ------------------------------------------------------------------ corruption

TEST(FrameDecodeTest, RejectsTruncatedHeader) {
  const std::vector<uint8_t> record = GapRecord();
  for (size_t n = 0; n < kFrameHeaderSize; ++n) {
    SCOPED_TRACE(n);
    ExpectDataLoss(absl::MakeConstSpan(record.data(), n), "shorter than the 24-byte FrameHeader");
  }
}

TEST(FrameDecodeTest, RejectsTruncatedStructOfEveryKind) {
  const AccountUpdate account = MakeAccount({});
  const TransactionUpdate txn = MakeTransaction({});
  const struct {
    std::vector<uint8_t> record;
    const char* struct_name;
  } cases[] = {
      {AccountRecord(account), "AccountHeader"},
      {TransactionRecord(txn), "TransactionHeader"},
      {SlotRecord(), "SlotHeader"},
      {GapRecord(), "GapHeader"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.struct_name);
    // Cut the struct short but keep body_len consistent, so only the struct check fires.
    std::vector<uint8_t> record = c.record;
    record.resize(record.size() - 1 - (record.size() - kBody) / 2);
    Put32(record, kBodyLenOffset, static_cast<uint32_t>(record.size() - kBody));
    ExpectDataLoss(record, std::string("-byte ") + c.struct_name);
    record.resize(kBody);
    Put32(record, kBodyLenOffset, 0);
    ExpectDataLoss(record, std::string("-byte ") + c.struct_name);
  }
}

TEST(FrameDecodeTest, RejectsBadVersion) {
  for (uint8_t version : {0, kFrameVersion + 1, 255}) {
    std::vector<uint8_t> record = SlotRecord();
    record[kVersionOffset] = version;
    ExpectDataLoss(record, "version is " + std::to_string(version));
  }
}

TEST(FrameDecodeTest, CarriesTheFilterBitsOfTheHeader) {
  std::vector<uint8_t> record = SlotRecord();
  record[kHeaderFiltersOffset] = 0x05;
  record[kHeaderFiltersOffset + 1] = 0x80;
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->filters, 0x8005);
}

TEST(FrameDecodeTest, RejectsUnknownKind) {
  for (uint8_t kind : {0, 8, 255}) {
    std::vector<uint8_t> record = SlotRecord();
    record[kKindOffset] = kind;
    ExpectDataLoss(record, "unknown update kind " + std::to_string(kind));
  }
}

TEST(FrameDecodeTest, RejectsBodyLenMismatch) {
  const AccountUpdate account = MakeAccount(RandomBytes(50, 12));
  const std::vector<uint8_t> good = AccountRecord(account);
  const uint32_t body_len = Get32(good, kBodyLenOffset);
  for (uint32_t wrong : {body_len - 1, body_len + 1, 0u, UINT32_MAX}) {
    std::vector<uint8_t> record = good;
    Put32(record, kBodyLenOffset, wrong);
    ExpectDataLoss(record, "body_len is " + std::to_string(wrong));
  }
  // Trailing bytes after a well-formed frame are a mismatch too: rings store exact lengths.
  std::vector<uint8_t> padded = good;
  padded.resize(good.size() + 8, 0);
  ExpectDataLoss(padded, "body_len is " + std::to_string(body_len));
}

TEST(FrameDecodeTest, RejectsAccountWireLenMismatch) {
  const AccountUpdate account = MakeAccount(RandomBytes(50, 13));
  std::vector<uint8_t> record = AccountRecord(account);
  Put32(record, kAccountWireLenOffset, 49);
  ExpectDataLoss(record, "wire_len is 49 but 50 bytes follow");
  Put32(record, kAccountWireLenOffset, 51);
  ExpectDataLoss(record, "wire_len is 51 but 50 bytes follow");
}

TEST(FrameDecodeTest, RejectsDataLenOverMax) {
  AccountUpdate keep_alive;
  std::vector<uint8_t> record = CompressedAccountRecord(keep_alive);
  Put32(record, kAccountDataLenOffset, kMaxAccountDataSize + 1);
  ExpectDataLoss(record, "exceeds the limit of " + std::to_string(kMaxAccountDataSize));
  Put32(record, kAccountDataLenOffset, UINT32_MAX);
  ExpectDataLoss(record, "exceeds the limit of " + std::to_string(kMaxAccountDataSize));
}

TEST(FrameDecodeTest, RejectsUncompressedDataLenMismatch) {
  const AccountUpdate account = MakeAccount(RandomBytes(50, 14));
  std::vector<uint8_t> record = AccountRecord(account);
  Put32(record, kAccountDataLenOffset, 51);
  ExpectDataLoss(record, "uncompressed account data_len 51 differs from wire_len 50");
}

TEST(FrameDecodeTest, RejectsCompressedWireLenBeyondLz4Bound) {
  // 100 wire bytes cannot be an LZ4 block of 1 byte (bound 17).
  const AccountUpdate account = MakeAccount(RandomBytes(100, 15));
  std::vector<uint8_t> record = AccountRecord(account);
  record[kAccountFlagsOffset] |= 1;  // Compressed
  Put32(record, kAccountDataLenOffset, 1);
  ExpectDataLoss(record, "the LZ4 bound for data_len 1");
  // An empty LZ4 block is never valid.
  const AccountUpdate empty = MakeAccount({});
  record = AccountRecord(empty);
  record[kAccountFlagsOffset] |= 1;
  ExpectDataLoss(record, "compressed account wire_len 0");
}

TEST(FrameDecodeTest, CorruptLz4StreamIsDataLossOnRead) {
  AccountUpdate keep_alive;
  std::vector<uint8_t> record = CompressedAccountRecord(keep_alive);
  // All-0xFF: the first token claims a literal run far longer than the block.
  std::fill(record.begin() + kBody + kAccountHeaderSize, record.end(), 0xFF);
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_TRUE(view.ok()) << "the block is only checked when read: " << view.status();
  absl::StatusOr<std::vector<uint8_t>> data = view->account()->Data();
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("corrupt"));
}

TEST(FrameDecodeTest, Lz4StreamOfDifferentSizeThanDeclaredIsDataLoss) {
  AccountUpdate keep_alive;
  const std::vector<uint8_t> good = CompressedAccountRecord(keep_alive);
  const uint32_t data_len = Get32(good, kAccountDataLenOffset);
  ASSERT_EQ(data_len, keep_alive.data.size());
  {
    // Declared larger than the block's content: LZ4 finishes short.
    std::vector<uint8_t> record = good;
    Put32(record, kAccountDataLenOffset, data_len + 1);
    Put32(record, kAccountDataLenOffset + 12, data_len + 1);  // account_data_len agrees
    absl::StatusOr<FrameView> view = DecodeFrame(record);
    ASSERT_TRUE(view.ok()) << view.status();
    absl::StatusOr<std::vector<uint8_t>> data = view->account()->Data();
    ASSERT_FALSE(data.ok());
    EXPECT_EQ(data.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(data.status().message()),
                HasSubstr("decompressed to " + std::to_string(data_len) + " bytes, declared " +
                          std::to_string(data_len + 1)));
  }
  {
    // Declared smaller: the block would overrun the output.
    std::vector<uint8_t> record = good;
    Put32(record, kAccountDataLenOffset, data_len - 1);
    Put32(record, kAccountDataLenOffset + 12, data_len - 1);  // account_data_len agrees
    absl::StatusOr<FrameView> view = DecodeFrame(record);
    ASSERT_TRUE(view.ok()) << view.status();
    absl::StatusOr<std::vector<uint8_t>> data = view->account()->Data();
    ASSERT_FALSE(data.ok());
    EXPECT_EQ(data.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(data.status().message()),
                HasSubstr("more than the declared " + std::to_string(data_len - 1)));
  }
}

TEST(FrameDecodeTest, RejectsUnknownAccountFlagBits) {
  const AccountUpdate account = MakeAccount(RandomBytes(8, 16));
  for (uint8_t bit : {0x08, 0x80}) {
    std::vector<uint8_t> record = AccountRecord(account);
    record[kAccountFlagsOffset] |= bit;
    ExpectDataLoss(record, "has unknown bits");
  }
}

TEST(FrameDecodeTest, RejectsNonBooleanBytes) {
  std::vector<uint8_t> record = AccountRecord(MakeAccount({}));
  record[kAccountExecutableOffset] = 2;
  ExpectDataLoss(record, "account executable byte is 2");
  const TransactionUpdate txn = MakeTransaction({});
  record = TransactionRecord(txn);
  record[kTransactionIsVoteOffset] = 0xFF;
  ExpectDataLoss(record, "transaction is_vote byte is 255");
  record = TransactionRecord(txn);
  record[kTransactionFailedOffset] = 3;
  ExpectDataLoss(record, "transaction failed byte is 3");
}

TEST(FrameDecodeTest, RejectsTransactionDataLenMismatch) {
  const TransactionUpdate txn = MakeTransaction(RandomBytes(100, 17));
  std::vector<uint8_t> record = TransactionRecord(txn);
  Put32(record, kTransactionDataLenOffset, 101);
  ExpectDataLoss(record, "transaction data_len 101 + status_len 0 but 100 bytes follow");
}

TEST(FrameDecodeTest, RejectsTransactionOverMax) {
  // Hand-built: the encoder refuses to produce one.
  const TransactionUpdate txn = MakeTransaction({});
  std::vector<uint8_t> record = TransactionRecord(txn);
  record.resize(record.size() + kMaxTransactionSize + 1, 0);
  Put32(record, kBodyLenOffset, static_cast<uint32_t>(record.size() - kBody));
  Put32(record, kTransactionDataLenOffset, kMaxTransactionSize + 1);
  ExpectDataLoss(record, "exceeds the limit of " + std::to_string(kMaxTransactionSize));
}

TEST(FrameDecodeTest, RejectsBadSlotStatus) {
  for (uint8_t status : {7, 200}) {
    std::vector<uint8_t> record = SlotRecord();
    record[kSlotStatusOffset] = status;
    ExpectDataLoss(record, "slot status " + std::to_string(status));
  }
}

TEST(FrameDecodeTest, RejectsTrailingBytesAfterFixedOnlyKinds) {
  for (std::vector<uint8_t> record : {SlotRecord(), GapRecord()}) {
    record.resize(record.size() + 8, 0);
    Put32(record, kBodyLenOffset, static_cast<uint32_t>(record.size() - kBody));
    ExpectDataLoss(record, "record is exactly");
  }
}

TEST(FrameDecodeTest, IgnoresReservedBytes) {
  // Reserved bytes are for additive fields of this version; readers must not reject them.
  std::vector<uint8_t> record = SlotRecord();
  record[kSlotStatusOffset + 1] = 0xAB;
  EXPECT_TRUE(DecodeFrame(record).ok());
  record = AccountRecord(MakeAccount({}, /*with_signature=*/false));
  record[kAccountExecutableOffset + 1] = 0xAB;
  record[kAccountTxnSignatureOffset] = 0xCD;  // unused without HasTxnSignature
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_FALSE(view->account()->txn_signature.has_value());
}

// A fuzzer input (fuzz_data_frame, frame version 2), with the header and length fields
// made consistent as the fuzzer does: a sliced account carrying 3 of its 8192 bytes, with
// a transaction signature. It is a valid record; the fuzzer's re-encoding model was what
// failed (it treated account_data_len as reserved and re-encoded the slice as a whole
// account). The sender's own way of making such a record gives back the same bytes.
TEST(FrameDecodeTest, SlicedAccountFromTheFuzzerReencodesAsTheSenderSlicesIt) {
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAIAAAA"
      "AAAGAAAAACAAAP8PAAAAAAAAAP////8AAAAAAAAAAJMAAAAyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACQA"
      "/////0H/Cgr///8/AP8=",
      &raw));
  std::vector<uint8_t> record(raw.begin(), raw.end());
  ASSERT_EQ(record.size(), 203u);
  record[kKindOffset] = static_cast<uint8_t>(fb::UpdateKind::Account);
  record[kVersionOffset] = kFrameVersion;
  Put32(record, kBodyLenOffset, static_cast<uint32_t>(record.size() - kBody));
  const uint32_t carried = static_cast<uint32_t>(record.size() - kBody - kAccountHeaderSize);
  Put32(record, kAccountWireLenOffset, carried);
  Put32(record, kAccountDataLenOffset, carried);

  absl::StatusOr<FrameView> view = DecodeFrame(record);
  ASSERT_TRUE(view.ok()) << view.status();
  const AccountView& account = *view->account();
  EXPECT_TRUE(account.is_sliced);
  EXPECT_FALSE(account.is_compressed);
  EXPECT_EQ(account.data_len, 3u);
  EXPECT_EQ(account.account_data_len, 8192u);
  EXPECT_TRUE(account.txn_signature.has_value());

  // The whole account (8192 bytes, the carried ones first), sliced to those 3 bytes.
  absl::StatusOr<AccountUpdate> update = ToAccountUpdate(account);
  ASSERT_TRUE(update.ok()) << update.status();
  AccountUpdate whole = *update;
  whole.data.resize(account.account_data_len);
  Lz4Policy raw_policy;
  raw_policy.threshold = SIZE_MAX;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(whole, raw_policy);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<uint8_t> storage;
  const DataSlice slice{.offset = 0, .length = account.data_len};
  absl::StatusOr<EncodedUpdate> sliced =
      EncodedUpdate::Sliced(*encoded, absl::MakeConstSpan(&slice, 1), &storage, {});
  ASSERT_TRUE(sliced.ok()) << sliced.status();
  EXPECT_EQ(sliced->ToBytes(view->sequence, view->timestamp_ns, view->filters), record);
}

}  // namespace
}  // namespace qlaster
