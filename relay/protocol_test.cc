// The relay protocol codec: every message round-trips, a stream split anywhere decodes the
// same, and one case per kind of malformed input is rejected with its error code.
#include "relay/protocol.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace qlaster::relay {
namespace {

Update Upd(uint64_t sequence) {
  Update u;
  u.sequence = sequence;
  return u;
}
Hello HelloOf(uint64_t session_id) {
  Hello h;
  h.session_id = session_id;
  return h;
}

std::vector<Message> AllMessages() {
  Update update;
  update.sequence = 7;
  update.frame.assign(40, 0xab);
  return {
      Hello{.session_id = 42, .next_sequence = {1, 2, 3}, .name = "relay-a"},
      Welcome{.session_id = 42, .resume_from = {0, 5, 9}},
      StreamStart{.stream_class = StreamClass::kAccounts, .session_id = 42, .first_sequence = 5},
      update,
      Gap{.first_sequence = 8, .count = 3},
      Ping{.nonce = 11},
      Pong{.nonce = 11},
      Close{.code = RelayError::kSequenceViolation, .reason = "bad"},
  };
}

std::vector<uint8_t> Raw(uint32_t length, std::vector<uint8_t> rest) {
  std::vector<uint8_t> out = {static_cast<uint8_t>(length), static_cast<uint8_t>(length >> 8),
                              static_cast<uint8_t>(length >> 16),
                              static_cast<uint8_t>(length >> 24)};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

absl::Status DecodeAll(StreamRole role, const std::vector<uint8_t>& bytes) {
  RelayStreamDecoder decoder(role);
  decoder.Append(bytes);
  while (true) {
    absl::StatusOr<std::optional<Message>> next = decoder.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return absl::OkStatus();
  }
}

TEST(RelayProtocolTest, EveryMessageRoundTrips) {
  for (const Message& msg : AllMessages()) {
    std::vector<uint8_t> bytes = EncodeMessage(msg);
    absl::StatusOr<Message> back =
        DecodeMessage(absl::MakeConstSpan(bytes).subspan(kLengthPrefixSize));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, msg);
  }
}

TEST(RelayProtocolTest, StreamSplitAtEveryByteDecodesTheSame) {
  std::vector<Message> sent = {
      StreamStart{.stream_class = StreamClass::kSlots, .session_id = 1, .first_sequence = 1},
      Gap{.first_sequence = 1, .count = 2}};
  Update u;
  u.sequence = 3;
  u.frame.assign(100, 0x5a);
  sent.push_back(u);
  std::vector<uint8_t> stream;
  for (const Message& m : sent) {
    std::vector<uint8_t> b = EncodeMessage(m);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  for (size_t split = 0; split <= stream.size(); ++split) {
    RelayStreamDecoder decoder(StreamRole::kClassAtGateway);
    std::vector<Message> got;
    decoder.Append(absl::MakeConstSpan(stream).first(split));
    for (int round = 0; round < 2; ++round) {
      while (true) {
        absl::StatusOr<std::optional<Message>> next = decoder.Next();
        ASSERT_TRUE(next.ok()) << next.status();
        if (!next->has_value()) break;
        got.push_back(std::move(**next));
      }
      if (round == 0) decoder.Append(absl::MakeConstSpan(stream).subspan(split));
    }
    EXPECT_EQ(got, sent) << "split at " << split;
    EXPECT_EQ(decoder.buffered_bytes(), 0u);
  }
}

TEST(RelayProtocolTest, RejectsZeroLength) {
  absl::Status s = DecodeAll(StreamRole::kClassAtGateway, Raw(0, {}));
  EXPECT_EQ(ErrorOf(s), RelayError::kMessageTooLarge) << s;
}

TEST(RelayProtocolTest, RejectsOversizeLengthBeforeTheBodyArrives) {
  absl::Status s = DecodeAll(StreamRole::kClassAtGateway, Raw(kMaxMessageSize + 1, {0x04}));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorOf(s), RelayError::kMessageTooLarge);
}

TEST(RelayProtocolTest, RejectsUnknownType) {
  absl::Status s = DecodeAll(StreamRole::kClassAtGateway, Raw(1, {0x7f}));
  EXPECT_EQ(ErrorOf(s), RelayError::kUnknownType) << s;
  EXPECT_NE(s.message().find("0x7f"), std::string::npos);
}

TEST(RelayProtocolTest, RejectsTruncatedBody) {
  absl::Status s = DecodeAll(StreamRole::kClassAtGateway, Raw(5, {0x05, 1, 0, 0, 0}));
  EXPECT_EQ(ErrorOf(s), RelayError::kMalformed) << s;
}

TEST(RelayProtocolTest, RejectsTrailingBytes) {
  std::vector<uint8_t> body = {0x06};
  body.resize(1 + 8 + 1, 0);
  absl::Status s =
      DecodeAll(StreamRole::kControlAtGateway, Raw(static_cast<uint32_t>(body.size()), body));
  EXPECT_EQ(ErrorOf(s), RelayError::kMalformed) << s;
}

TEST(RelayProtocolTest, RejectsUpdateShorterThanAFrameHeader) {
  std::vector<uint8_t> body = {0x04};
  body.resize(1 + 8 + kMinFrameSize - 1, 0);
  absl::Status s =
      DecodeAll(StreamRole::kClassAtGateway, Raw(static_cast<uint32_t>(body.size()), body));
  EXPECT_EQ(ErrorOf(s), RelayError::kMalformed) << s;
}

TEST(RelayProtocolTest, RejectsOtherVersion) {
  std::vector<uint8_t> bytes = EncodeMessage(HelloOf(1));
  bytes[kLengthPrefixSize + 1] = 2;
  absl::Status s = DecodeAll(StreamRole::kControlAtGateway, bytes);
  EXPECT_EQ(ErrorOf(s), RelayError::kVersion) << s;
}

TEST(RelayProtocolTest, RejectsOversizeName) {
  Hello hello = HelloOf(1);
  std::vector<uint8_t> bytes = EncodeMessage(hello);
  bytes.back() = kMaxRelayNameSize + 1;  // the name length byte, with no name after it
  absl::Status s = DecodeAll(StreamRole::kControlAtGateway, bytes);
  EXPECT_EQ(ErrorOf(s), RelayError::kMalformed) << s;
}

TEST(RelayProtocolTest, RejectsZeroCountGapAndBadClass) {
  EXPECT_EQ(ErrorOf(DecodeAll(StreamRole::kClassAtGateway,
                              EncodeMessage(Gap{.first_sequence = 1, .count = 0}))),
            RelayError::kMalformed);
  std::vector<uint8_t> start = EncodeMessage(StreamStart{.session_id = 1, .first_sequence = 1});
  start[kLengthPrefixSize + 1] = 3;
  EXPECT_EQ(ErrorOf(DecodeAll(StreamRole::kClassAtGateway, start)), RelayError::kMalformed);
}

TEST(RelayProtocolTest, RejectsMessageOnTheWrongStream) {
  EXPECT_EQ(ErrorOf(DecodeAll(StreamRole::kClassAtGateway, EncodeMessage(Ping{.nonce = 1}))),
            RelayError::kStreamViolation);
  EXPECT_EQ(ErrorOf(DecodeAll(StreamRole::kControlAtGateway,
                              EncodeMessage(Welcome{.session_id = 1}))),
            RelayError::kStreamViolation);
  EXPECT_EQ(ErrorOf(DecodeAll(StreamRole::kControlAtRelay, EncodeMessage(HelloOf(1)))),
            RelayError::kStreamViolation);
}

TEST(RelayProtocolTest, FailureIsSticky) {
  RelayStreamDecoder decoder(StreamRole::kClassAtGateway);
  decoder.Append(Raw(1, {0x7f}));
  EXPECT_FALSE(decoder.Next().ok());
  decoder.Append(EncodeMessage(Gap{.first_sequence = 1, .count = 1}));
  EXPECT_FALSE(decoder.Next().ok());
  EXPECT_TRUE(decoder.failed());
}

TEST(ClassStreamCheckerTest, AcceptsContiguousUpdatesAndGaps) {
  ClassStreamChecker checker(9);
  ASSERT_TRUE(checker.Check(StreamStart{.session_id = 9, .first_sequence = 4}).ok());
  ASSERT_TRUE(checker.Check(Upd(4)).ok());
  ASSERT_TRUE(checker.Check(Gap{.first_sequence = 5, .count = 10}).ok());
  ASSERT_TRUE(checker.Check(Upd(15)).ok());
  EXPECT_EQ(checker.next_sequence(), 16u);
}

TEST(ClassStreamCheckerTest, RejectsUpdateBeforeStreamStart) {
  ClassStreamChecker checker(9);
  EXPECT_EQ(ErrorOf(checker.Check(Upd(1))), RelayError::kStreamViolation);
}

TEST(ClassStreamCheckerTest, RejectsOtherSession) {
  ClassStreamChecker checker(9);
  EXPECT_EQ(ErrorOf(checker.Check(StreamStart{.session_id = 8, .first_sequence = 1})),
            RelayError::kSessionViolation);
}

TEST(ClassStreamCheckerTest, RejectsDuplicateAndSkippedSequences) {
  ClassStreamChecker checker(9);
  ASSERT_TRUE(checker.Check(StreamStart{.session_id = 9, .first_sequence = 1}).ok());
  ASSERT_TRUE(checker.Check(Upd(1)).ok());
  EXPECT_EQ(ErrorOf(checker.Check(Upd(1))), RelayError::kSequenceViolation);
  EXPECT_EQ(ErrorOf(checker.Check(Upd(3))), RelayError::kSequenceViolation);
  EXPECT_EQ(ErrorOf(checker.Check(StreamStart{.session_id = 9, .first_sequence = 2})),
            RelayError::kStreamViolation);
}

TEST(ClassStreamCheckerTest, RejectsSequenceOverflow) {
  ClassStreamChecker checker(9);
  ASSERT_TRUE(
      checker.Check(StreamStart{.session_id = 9, .first_sequence = UINT64_MAX}).ok());
  EXPECT_EQ(ErrorOf(checker.Check(Upd(UINT64_MAX))),
            RelayError::kSequenceViolation);
}

}  // namespace
}  // namespace qlaster::relay
