// Tests for control-message framing: every message round-trips, the reader handles any
// split of the stream, and each kind of malformed frame fails with its exact status code.
#include "wire/control_framing.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "flatbuffers/flatbuffers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/qlaster_generated.h"
#include "base/fd_passing.h"
#include "base/unique_fd.h"

namespace qlaster {
namespace {

using ::testing::HasSubstr;

Pubkey Key(uint8_t seed) {
  Pubkey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(seed * 7 + i);
  return k;
}

// One message of every type, with every field away from its default.
std::vector<ControlMsg> AllMessages() {
  return {
      HelloMsg{kProtocolVersion, "bot-1", 1 << 24, OverflowPolicy::kDropAndCount,
               WaitMode::kSleep},
      ReadyMsg{kProtocolVersion, (7ull << 32) | 3, 1 << 24, "sender-a"},
      SubscribeMsg{42,
                   fb::SubscribeOp::Replace,
                   {Key(1), Key(2), Key(3)},
                   {Key(9)},
                   TransactionFilter::kNonVote,
                   true},
      SubscribeAckMsg{42, 3, 1, 123456789},
      PingMsg{0xdeadbeefcafef00d},
      PongMsg{0xdeadbeefcafef00d},
      ErrorMsg{fb::ErrorCode::LimitExceeded, "too many keys"},
      EvictedMsg{fb::EvictReason::ProtocolViolation, 4096, 99},
      StatsRequestMsg{},
      StatsMsg{1000,
               900,
               50,
               2,
               {ConsumerStatsEntry{1, "a", 10, 1, 1 << 20, 64, 3},
                ConsumerStatsEntry{2, "b", 20, 0, 1 << 21, 0, 0}},
               {SourceCounterEntry{"yellowstone:http://127.0.0.1:10000", "malformed", 3}},
               380'000'123},
  };
}

std::vector<uint8_t> Concat(const std::vector<ControlMsg>& msgs) {
  std::vector<uint8_t> out;
  for (const ControlMsg& m : msgs) {
    const std::vector<uint8_t> f = EncodeControl(m);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

std::vector<uint8_t> Header(uint32_t length) {
  return {static_cast<uint8_t>(length), static_cast<uint8_t>(length >> 8),
          static_cast<uint8_t>(length >> 16), static_cast<uint8_t>(length >> 24)};
}

// Frames a raw flatbuffer built by the test (to make shapes our encoder never makes).
std::vector<uint8_t> FrameOf(flatbuffers::FlatBufferBuilder& fbb) {
  // Sized once and filled in place (inserting into the 4-byte header vector trips gcc 12's
  // -Warray-bounds at -O3, a false positive).
  std::vector<uint8_t> out(kControlFrameHeaderSize + fbb.GetSize());
  const std::vector<uint8_t> header = Header(fbb.GetSize());
  std::copy(header.begin(), header.end(), out.begin());
  std::copy(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize(),
            out.begin() + kControlFrameHeaderSize);
  return out;
}

// Index of the first occurrence of `needle` in `hay`, which the test knows is there.
size_t Find(const std::vector<uint8_t>& hay, const std::vector<uint8_t>& needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  EXPECT_NE(it, hay.end());
  return static_cast<size_t>(it - hay.begin());
}

void StoreLe32(std::vector<uint8_t>& buf, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) buf[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

class ControlFramingTest : public ::testing::Test {
 protected:
  // Feeds a whole frame to a fresh reader and returns Next()'s status.
  absl::StatusCode DecodeCode(const std::vector<uint8_t>& frame) {
    ControlFrameReader reader;
    reader.Append(frame);
    absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
    last_status_ = next.status();
    if (next.ok() && !next->has_value()) return absl::StatusCode::kUnknown;  // pending?!
    return next.status().code();
  }
  absl::Status last_status_;
};

TEST_F(ControlFramingTest, RoundTripsEveryMessageType) {
  const std::vector<ControlMsg> msgs = AllMessages();
  ASSERT_EQ(msgs.size(), std::variant_size_v<ControlMsg>);
  for (size_t i = 0; i < msgs.size(); ++i) {
    ASSERT_EQ(msgs[i].index(), i) << "AllMessages() must list the types in order";
    const std::vector<uint8_t> frame = EncodeControl(msgs[i]);
    ASSERT_GE(frame.size(), kControlFrameHeaderSize + kMinControlFrameSize);
    uint32_t length = 0;
    for (int b = 3; b >= 0; --b) length = length << 8 | frame[b];
    EXPECT_EQ(length, frame.size() - kControlFrameHeaderSize);

    absl::StatusOr<ControlMsg> decoded =
        DecodeControlFrame(absl::MakeConstSpan(frame).subspan(kControlFrameHeaderSize));
    ASSERT_TRUE(decoded.ok()) << ControlMsgName(msgs[i]) << ": " << decoded.status();
    EXPECT_EQ(*decoded, msgs[i]) << ControlMsgName(msgs[i]);
  }
}

TEST_F(ControlFramingTest, StatsTellsSlotZeroFromNoOldestReplaySlot) {
  for (std::optional<uint64_t> oldest : {std::optional<uint64_t>(0), std::optional<uint64_t>()}) {
    const StatsMsg msg{0, 0, 0, 0, {}, {}, oldest};
    const std::vector<uint8_t> frame = EncodeControl(msg);
    absl::StatusOr<ControlMsg> decoded =
        DecodeControlFrame(absl::MakeConstSpan(frame).subspan(kControlFrameHeaderSize));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_TRUE(std::holds_alternative<StatsMsg>(*decoded));
    EXPECT_EQ(std::get<StatsMsg>(*decoded).oldest_replay_slot, oldest);
  }
}

// A Subscribe with every named part set.
SubscribeMsg RichSubscribe() {
  SubscribeMsg m;
  m.request_id = 9;
  m.op = fb::SubscribeOp::Replace;
  m.pubkeys = {Key(1)};
  m.accounts.push_back(NamedAccountFilter{
      .name = "usdc",
      .append = false,
      .filter = AccountFilter{.pubkeys = {},
                              .owners = {Key(2)},
                              .memcmp = {Memcmp{.offset = 0, .bytes = {1, 2, 3}}},
                              .datasize = 165,
                              .lamports = {LamportsFilter{.op = LamportsOp::kGt, .value = 5}},
                              .token_account_state = true,
                              .nonempty_txn_signature = false}});
  m.accounts.push_back(NamedAccountFilter{.name = "usdc", .append = true,
                                          .filter = AccountFilter{.owners = {Key(3)}}});
  Signature sig;
  sig.fill(7);
  m.transaction_filters.push_back(NamedTransactionSelector{
      .name = "swaps",
      .selector = TransactionSelector{.vote = false, .failed = std::nullopt, .signature = sig,
                                      .account_include = {Key(4)}, .account_exclude = {Key(5)},
                                      .account_required = {Key(6), Key(7)}}});
  m.transaction_status_filters.push_back(
      NamedTransactionSelector{.name = "mine", .selector = TransactionSelector{.failed = true}});
  m.slots.push_back(NamedSlotSelector{.name = "s", .selector = SlotSelector{true, false}});
  m.blocks_meta = {"meta"};
  m.entries = {"e1", "e2"};
  m.options = SubscribeOptionsMsg{.commitment = Commitment::kConfirmed,
                                  .data_slices = {{0, 32}, {64, 8}}};
  m.from_slot = 250'000'000;
  return m;
}

TEST_F(ControlFramingTest, RoundTripsASubscribeWithNamedFiltersAndOptions) {
  const SubscribeMsg m = RichSubscribe();
  ASSERT_TRUE(ValidateControl(m).ok()) << ValidateControl(m);
  const std::vector<uint8_t> frame = EncodeControl(m);
  absl::StatusOr<ControlMsg> decoded =
      DecodeControlFrame(absl::MakeConstSpan(frame).subspan(kControlFrameHeaderSize));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, ControlMsg(m));
  EXPECT_EQ(SubscribeKeyCount(m), 1u + 1u + 1u + 4u);
}

TEST_F(ControlFramingTest, RefusesNamedFiltersOverTheirLimits) {
  auto refused = [](const SubscribeMsg& m, const std::string& why) {
    const absl::Status s = ValidateControl(m);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(std::string(s.message()).find(why), std::string::npos) << s;
  };
  SubscribeMsg m = RichSubscribe();
  m.accounts[0].filter.memcmp[0].bytes.assign(129, 1);
  refused(m, "a memcmp compares 1 to 128 bytes");
  m = RichSubscribe();
  m.accounts[0].filter.memcmp.assign(4, Memcmp{.offset = 0, .bytes = {1}});
  refused(m, "data predicates");
  m = RichSubscribe();
  for (int i = 0; i < 17; ++i) m.entries.push_back("x" + std::to_string(i));
  refused(m, "at most 16 per kind");
  m = RichSubscribe();
  m.transaction_filters.push_back(m.transaction_filters[0]);
  refused(m, "appears twice");
  m = RichSubscribe();
  m.options->data_slices = {{0, 32}, {16, 8}};
  refused(m, "must be sorted and not overlap");
  m = RichSubscribe();
  m.slots[0].name = "";
  refused(m, "must be 1 to 128 bytes");
  m = RichSubscribe();
  m.blocks_meta = {std::string("bad\nname")};
  refused(m, "control character");
  // Found by fuzz_subscribe: the decoder refused this, ValidateControl let it through.
  m = RichSubscribe();
  m.accounts[0].filter.lamports = {{.op = static_cast<LamportsOp>(4), .value = 1}};
  refused(m, "lamports comparison has unknown value 4");
  EXPECT_EQ(DecodeCode(EncodeControl(m)), absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlFramingTest, RefusesATriStateOutsideItsEnum) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto name = fbb.CreateString("f");
  const auto entry = fb::CreateTransactionSelectorEntry(fbb, name, static_cast<fb::TriState>(7));
  const auto list = fbb.CreateVector(std::vector{entry});
  fb::SubscribeBuilder b(fbb);
  b.add_transaction_filters(list);
  const auto body = b.Finish();
  fbb.Finish(fb::CreateControlMessage(fbb, fb::ControlBody::Subscribe, body.Union()));
  const absl::StatusOr<ControlMsg> decoded =
      DecodeControlFrame(absl::MakeConstSpan(fbb.GetBufferPointer(), fbb.GetSize()));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(std::string(decoded.status().message()).find("outside its enum"), std::string::npos)
      << decoded.status();
}

TEST_F(ControlFramingTest, DefaultsAndEmptyFieldsRoundTrip) {
  for (const ControlMsg& m : std::vector<ControlMsg>{HelloMsg{}, ReadyMsg{}, SubscribeMsg{},
                                                     StatsMsg{}, ErrorMsg{}}) {
    const std::vector<uint8_t> frame = EncodeControl(m);
    absl::StatusOr<ControlMsg> decoded =
        DecodeControlFrame(absl::MakeConstSpan(frame).subspan(kControlFrameHeaderSize));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, m) << ControlMsgName(m);
  }
}

TEST_F(ControlFramingTest, ReaderHandlesByteByByteDelivery) {
  const std::vector<ControlMsg> msgs = AllMessages();
  const std::vector<uint8_t> stream = Concat(msgs);
  ControlFrameReader reader;
  std::vector<ControlMsg> got;
  for (uint8_t byte : stream) {
    reader.Append(absl::MakeConstSpan(&byte, 1));
    while (true) {
      absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      if (!next->has_value()) break;
      got.push_back(std::move(**next));
    }
  }
  EXPECT_EQ(got, msgs);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST_F(ControlFramingTest, ReaderReturnsTwoFramesFromOneChunk) {
  const std::vector<ControlMsg> msgs = {PingMsg{1}, PongMsg{2}};
  ControlFrameReader reader;
  reader.Append(Concat(msgs));
  absl::StatusOr<std::optional<ControlMsg>> first = reader.Next();
  absl::StatusOr<std::optional<ControlMsg>> second = reader.Next();
  absl::StatusOr<std::optional<ControlMsg>> third = reader.Next();
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  ASSERT_TRUE(first->has_value() && second->has_value());
  EXPECT_EQ(**first, ControlMsg(PingMsg{1}));
  EXPECT_EQ(**second, ControlMsg(PongMsg{2}));
  EXPECT_FALSE(third->has_value());
}

TEST_F(ControlFramingTest, TruncatedFrameStaysPendingWithoutError) {
  const std::vector<uint8_t> frame = EncodeControl(AllMessages()[2]);
  ControlFrameReader reader;
  reader.Append(absl::MakeConstSpan(frame).first(frame.size() - 1));
  for (int i = 0; i < 3; ++i) {  // asking again changes nothing
    absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_FALSE(next->has_value());
  }
  EXPECT_FALSE(reader.failed());
  EXPECT_EQ(reader.buffered_bytes(), frame.size() - 1);
  reader.Append(absl::MakeConstSpan(frame).last(1));
  absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
  ASSERT_TRUE(next.ok() && next->has_value()) << next.status();
  EXPECT_EQ(**next, AllMessages()[2]);
}

TEST_F(ControlFramingTest, PartialHeaderStaysPending) {
  ControlFrameReader reader;
  reader.Append(std::vector<uint8_t>{0x10, 0x00, 0x00});
  absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST_F(ControlFramingTest, OversizeDeclaredLengthFailsAsSoonAsHeaderArrives) {
  ControlFrameReader reader;
  const std::vector<uint8_t> header = Header(kMaxControlFrameSize + 1);
  // The header arrives in two pieces; the verdict comes with its 4th byte, no body needed.
  reader.Append(absl::MakeConstSpan(header).first(2));
  EXPECT_FALSE(reader.failed());
  reader.Append(absl::MakeConstSpan(header).last(2));
  EXPECT_TRUE(reader.failed());
  // The body a hostile peer keeps sending is not buffered.
  reader.Append(std::vector<uint8_t>(1 << 20, 0xab));
  EXPECT_EQ(reader.buffered_bytes(), 0u);
  absl::StatusOr<std::optional<ControlMsg>> next = reader.Next();
  ASSERT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(next.status().message(), HasSubstr(std::to_string(kMaxControlFrameSize)));
  EXPECT_THAT(next.status().message(), HasSubstr(std::to_string(kMaxControlFrameSize + 1)));
}

TEST_F(ControlFramingTest, FourGigabyteDeclaredLengthIsResourceExhausted) {
  EXPECT_EQ(DecodeCode(Header(0xffffffffu)), absl::StatusCode::kResourceExhausted);
}

TEST_F(ControlFramingTest, ReaderStaysFailedAfterAnError) {
  ControlFrameReader reader;
  reader.Append(Header(0));
  ASSERT_EQ(reader.Next().status().code(), absl::StatusCode::kInvalidArgument);
  reader.Append(EncodeControl(PingMsg{1}));  // a valid frame cannot revive it
  EXPECT_EQ(reader.Next().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.buffered_bytes(), 0u);
}

TEST_F(ControlFramingTest, ZeroLengthIsInvalidArgument) {
  EXPECT_EQ(DecodeCode(Header(0)), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("minimum"));
}

TEST_F(ControlFramingTest, LengthBelowMinimumIsInvalidArgument) {
  std::vector<uint8_t> frame = Header(kMinControlFrameSize - 1);
  frame.resize(frame.size() + kMinControlFrameSize - 1, 0);
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeControlFrame(std::vector<uint8_t>(3)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlFramingTest, OneShotDecoderRejectsOversizeFrame) {
  const std::vector<uint8_t> big(kMaxControlFrameSize + 1, 0);
  EXPECT_EQ(DecodeControlFrame(big).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(ControlFramingTest, GarbageFailsVerification) {
  std::vector<uint8_t> frame = Header(64);
  frame.resize(frame.size() + 64, 0xab);
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("control frame failed verification"));
}

TEST_F(ControlFramingTest, RootOffsetOutOfBoundsFailsVerification) {
  std::vector<uint8_t> frame = EncodeControl(PingMsg{5});
  StoreLe32(frame, kControlFrameHeaderSize, 0x7ffffff0);
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("failed verification"));
}

TEST_F(ControlFramingTest, StringLengthPastEndFailsVerification) {
  const std::string name = "a-distinctive-consumer-name";
  std::vector<uint8_t> frame = EncodeControl(HelloMsg{1, name, 0, {}, {}});
  const size_t at = Find(frame, std::vector<uint8_t>(name.begin(), name.end()));
  StoreLe32(frame, at - 4, 1000);  // the string's length field
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("failed verification"));
}

TEST_F(ControlFramingTest, KeyVectorLengthPastEndFailsVerification) {
  SubscribeMsg sub;
  sub.pubkeys = {Key(1), Key(2)};
  std::vector<uint8_t> frame = EncodeControl(sub);
  const Pubkey first = Key(1);
  const size_t at = Find(frame, std::vector<uint8_t>(first.begin(), first.end()));
  StoreLe32(frame, at - 4, 1'000'000);  // the vector's element count
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("failed verification"));
}

TEST_F(ControlFramingTest, ValidFlatbufferWithoutBodyIsInvalidArgument) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::CreateControlMessage(fbb));
  EXPECT_EQ(DecodeCode(FrameOf(fbb)), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("no body"));
}

TEST_F(ControlFramingTest, BodyTypeWithoutTableIsInvalidArgument) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::CreateControlMessage(fbb, fb::ControlBody::Ping, 0));
  EXPECT_EQ(DecodeCode(FrameOf(fbb)), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("has no table"));
}

TEST_F(ControlFramingTest, UnknownBodyTypeIsInvalidArgument) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto ping = fb::CreatePing(fbb, 1);
  fbb.Finish(fb::CreateControlMessage(fbb, static_cast<fb::ControlBody>(42), ping.Union()));
  EXPECT_EQ(DecodeCode(FrameOf(fbb)), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("unknown body type 42"));
}

TEST_F(ControlFramingTest, OverlongNameIsInvalidArgument) {
  EXPECT_EQ(
      DecodeCode(EncodeControl(HelloMsg{1, std::string(kMaxNameSize + 1, 'n'), 0, {}, {}})),
      absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("consumer_name"));
  EXPECT_EQ(
      DecodeCode(EncodeControl(HelloMsg{1, std::string(kMaxNameSize, 'n'), 0, {}, {}})),
      absl::StatusCode::kOk);
}

TEST_F(ControlFramingTest, ControlCharacterInNameIsInvalidArgument) {
  EXPECT_EQ(DecodeCode(EncodeControl(ReadyMsg{1, 1, 1, "evil\x1b[2Jname"})),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("control character"));
}

TEST_F(ControlFramingTest, OverlongErrorMessageIsInvalidArgument) {
  EXPECT_EQ(DecodeCode(EncodeControl(ErrorMsg{fb::ErrorCode::Internal,
                                              std::string(kMaxErrorMessageSize + 1, 'e')})),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlFramingTest, UnknownEnumValueIsInvalidArgument) {
  HelloMsg hello;
  hello.overflow = static_cast<OverflowPolicy>(9);
  EXPECT_EQ(DecodeCode(EncodeControl(hello)), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(last_status_.message(), HasSubstr("Hello.overflow"));
  SubscribeMsg sub;
  sub.transactions = static_cast<TransactionFilter>(3);
  EXPECT_EQ(DecodeCode(EncodeControl(sub)), absl::StatusCode::kInvalidArgument);
  EvictedMsg evicted;
  evicted.reason = static_cast<fb::EvictReason>(200);
  EXPECT_EQ(DecodeCode(EncodeControl(evicted)), absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlFramingTest, LargestSubscribeFitsAndOneMoreKeyIsResourceExhausted) {
  SubscribeMsg sub;
  sub.pubkeys.assign(kMaxSubscribeKeys - 1, Key(3));
  sub.owners.assign(1, Key(4));
  const std::vector<uint8_t> frame = EncodeControl(sub);
  EXPECT_LE(frame.size() - kControlFrameHeaderSize, kMaxControlFrameSize);
  EXPECT_EQ(DecodeCode(frame), absl::StatusCode::kOk) << last_status_;
  sub.owners.push_back(Key(5));
  EXPECT_EQ(DecodeCode(EncodeControl(sub)), absl::StatusCode::kResourceExhausted);
}

TEST_F(ControlFramingTest, TooManyStatsEntriesIsResourceExhausted) {
  StatsMsg stats;
  stats.consumers.assign(kMaxStatsConsumers + 1, ConsumerStatsEntry{1, "c", 1, 1, 1, 1, 1});
  EXPECT_EQ(DecodeCode(EncodeControl(stats)), absl::StatusCode::kResourceExhausted);
  stats.consumers.pop_back();
  EXPECT_EQ(DecodeCode(EncodeControl(stats)), absl::StatusCode::kOk) << last_status_;
  stats.source_counters.assign(kMaxStatsSourceCounters + 1,
                               SourceCounterEntry{std::string(kMaxSourceNameSize, 's'), "c", 1});
  EXPECT_EQ(DecodeCode(EncodeControl(stats)), absl::StatusCode::kResourceExhausted);
  stats.source_counters.pop_back();
  EXPECT_EQ(DecodeCode(EncodeControl(stats)), absl::StatusCode::kOk) << last_status_;
  stats.source_counters[0].source += "s";
  EXPECT_EQ(DecodeCode(EncodeControl(stats)), absl::StatusCode::kInvalidArgument);
}

TEST_F(ControlFramingTest, DecodesFrameAtAnyAlignment) {
  const std::vector<uint8_t> frame = EncodeControl(AllMessages()[1]);
  const size_t body = frame.size() - kControlFrameHeaderSize;
  std::vector<uint64_t> storage(body / 8 + 2);
  for (size_t shift = 0; shift < 8; ++shift) {
    uint8_t* at = reinterpret_cast<uint8_t*>(storage.data()) + shift;
    std::memcpy(at, frame.data() + kControlFrameHeaderSize, body);
    absl::StatusOr<ControlMsg> decoded = DecodeControlFrame(absl::MakeConstSpan(at, body));
    ASSERT_TRUE(decoded.ok()) << "shift " << shift << ": " << decoded.status();
    EXPECT_EQ(*decoded, AllMessages()[1]);
  }
}

TEST_F(ControlFramingTest, ValidateControlMatchesDecoderLimits) {
  EXPECT_TRUE(ValidateControl(AllMessages()[0]).ok());
  EXPECT_EQ(ValidateControl(ReadyMsg{1, 1, 1, std::string(100, 'x')}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ControlMsgName(StatsRequestMsg{}), "StatsRequest");
}

// --------------------------------------------------------------- blocking helpers

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a_.Reset(sv[0]);
    b_.Reset(sv[1]);
  }
  UniqueFd a_;
  UniqueFd b_;
  ControlFrameReader reader_;
};

TEST_F(ControlSocketTest, WriteThenReadEveryMessage) {
  for (const ControlMsg& m : AllMessages()) {
    ASSERT_TRUE(WriteControl(a_.get(), EncodeControl(m)).ok());
  }
  for (const ControlMsg& m : AllMessages()) {
    absl::StatusOr<ControlMsg> got = ReadControl(b_.get(), reader_, absl::Seconds(10));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, m);
  }
}

TEST_F(ControlSocketTest, ReadTimesOutWithDeadlineExceeded) {
  absl::StatusOr<ControlMsg> got = ReadControl(b_.get(), reader_, absl::Milliseconds(20));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
}

TEST_F(ControlSocketTest, EofIsUnavailable) {
  a_.Reset();
  absl::StatusOr<ControlMsg> got = ReadControl(b_.get(), reader_, absl::Seconds(10));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

TEST_F(ControlSocketTest, EofMidFrameIsUnavailable) {
  const std::vector<uint8_t> frame = EncodeControl(PingMsg{1});
  ASSERT_TRUE(WriteControl(a_.get(), absl::MakeConstSpan(frame).first(6)).ok());
  a_.Reset();
  absl::StatusOr<ControlMsg> got = ReadControl(b_.get(), reader_, absl::Seconds(10));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("middle of a frame"));
}

TEST_F(ControlSocketTest, WriteToClosedPeerIsUnavailable) {
  b_.Reset();
  EXPECT_EQ(WriteControl(a_.get(), EncodeControl(PingMsg{1})).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ControlSocketTest, ReadyArrivesWithItsFds) {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(WriteControl(a_.get(), EncodeControl(PongMsg{1})).ok());
  const int fds[] = {efd.get()};
  const ControlMsg ready = ReadyMsg{1, 5, 1 << 20, "s"};
  ASSERT_TRUE(SendWithFds(a_.get(), EncodeControl(ready), fds).ok());
  std::vector<UniqueFd> got_fds;
  absl::StatusOr<ControlMsg> pong =
      ReadControl(b_.get(), reader_, absl::Seconds(10), &got_fds);
  ASSERT_TRUE(pong.ok()) << pong.status();
  absl::StatusOr<ControlMsg> got =
      ReadControl(b_.get(), reader_, absl::Seconds(10), &got_fds);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, ready);
  EXPECT_EQ(got_fds.size(), 1u);
}

TEST_F(ControlSocketTest, UnexpectedFdsAreDataLossWhenNotAccepted) {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  const int fds[] = {efd.get()};
  ASSERT_TRUE(SendWithFds(a_.get(), EncodeControl(PingMsg{1}), fds).ok());
  absl::StatusOr<ControlMsg> got = ReadControl(b_.get(), reader_, absl::Seconds(10));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
}

}  // namespace
}  // namespace qlaster
