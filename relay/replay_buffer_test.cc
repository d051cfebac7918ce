// The relay's replay buffer: sequences per class, eviction by bytes, and resume giving
// each held message once or an exact GAP, never a duplicate.
#include "relay/replay_buffer.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace qlaster::relay {
namespace {

std::vector<uint8_t> Frame(uint8_t fill) { return std::vector<uint8_t>(kMinFrameSize, fill); }

std::vector<Message> Decode(const std::vector<std::vector<uint8_t>>& messages) {
  std::vector<Message> out;
  for (const std::vector<uint8_t>& bytes : messages) {
    absl::StatusOr<Message> msg =
        DecodeMessage(absl::MakeConstSpan(bytes).subspan(kLengthPrefixSize));
    EXPECT_TRUE(msg.ok()) << msg.status();
    if (msg.ok()) out.push_back(*msg);
  }
  return out;
}

Update UpdateOf(uint64_t sequence, uint8_t fill) {
  Update u;
  u.sequence = sequence;
  u.frame = Frame(fill);
  return u;
}

TEST(ReplayBufferTest, SequencesArePerClassAndGapsTakeTheirCount) {
  ReplayBuffer buffer(1 << 20);
  buffer.AddUpdate(StreamClass::kAccounts, Frame(1));
  buffer.AddUpdate(StreamClass::kAccounts, Frame(2));
  buffer.AddGap(StreamClass::kSlots, 5);
  buffer.AddUpdate(StreamClass::kSlots, Frame(3));
  EXPECT_EQ(buffer.next_sequence(StreamClass::kAccounts), 3u);
  EXPECT_EQ(buffer.next_sequence(StreamClass::kSlots), 7u);
  EXPECT_EQ(buffer.next_sequence(StreamClass::kTransactions), 1u);
}

TEST(ReplayBufferTest, ResumeGivesWhatFollows) {
  ReplayBuffer buffer(1 << 20);
  for (uint8_t i = 1; i <= 4; ++i) buffer.AddUpdate(StreamClass::kAccounts, Frame(i));
  absl::StatusOr<std::vector<std::vector<uint8_t>>> resumed =
      buffer.Resume(StreamClass::kAccounts, 3);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(Decode(*resumed), (std::vector<Message>{UpdateOf(3, 3), UpdateOf(4, 4)}));
  EXPECT_TRUE(buffer.Resume(StreamClass::kAccounts, 5)->empty());
  EXPECT_TRUE(buffer.Resume(StreamClass::kAccounts, 0)->empty());
}

TEST(ReplayBufferTest, ResumeBeforeTheOldestHeldStartsWithAnExactGap) {
  const size_t one = EncodeMessage(UpdateOf(1, 0)).size();
  ReplayBuffer buffer(2 * one);
  for (uint8_t i = 1; i <= 5; ++i) buffer.AddUpdate(StreamClass::kAccounts, Frame(i));
  EXPECT_EQ(buffer.held_messages(), 2u);
  EXPECT_EQ(buffer.evicted_messages(), 3u);
  EXPECT_EQ(buffer.oldest_sequence(StreamClass::kAccounts), 4u);
  absl::StatusOr<std::vector<std::vector<uint8_t>>> resumed =
      buffer.Resume(StreamClass::kAccounts, 2);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(Decode(*resumed), (std::vector<Message>{Gap{.first_sequence = 2, .count = 2},
                                                     UpdateOf(4, 4), UpdateOf(5, 5)}));
}

TEST(ReplayBufferTest, ResumeInsideAHeldGapCutsIt) {
  ReplayBuffer buffer(1 << 20);
  buffer.AddUpdate(StreamClass::kSlots, Frame(1));
  buffer.AddGap(StreamClass::kSlots, 10);  // 2..11
  buffer.AddUpdate(StreamClass::kSlots, Frame(12));
  absl::StatusOr<std::vector<std::vector<uint8_t>>> resumed =
      buffer.Resume(StreamClass::kSlots, 5);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(Decode(*resumed),
            (std::vector<Message>{Gap{.first_sequence = 5, .count = 7}, UpdateOf(12, 12)}));
}

TEST(ReplayBufferTest, EvictionOfOneClassLeavesTheOthersWhole) {
  const size_t one = EncodeMessage(UpdateOf(1, 0)).size();
  ReplayBuffer buffer(3 * one);
  buffer.AddUpdate(StreamClass::kAccounts, Frame(1));
  buffer.AddUpdate(StreamClass::kTransactions, Frame(2));
  buffer.AddUpdate(StreamClass::kTransactions, Frame(3));
  buffer.AddUpdate(StreamClass::kTransactions, Frame(4));  // evicts the account
  EXPECT_EQ(buffer.oldest_sequence(StreamClass::kAccounts), 2u);
  EXPECT_EQ(buffer.oldest_sequence(StreamClass::kTransactions), 1u);
  EXPECT_EQ(Decode(*buffer.Resume(StreamClass::kAccounts, 1)),
            (std::vector<Message>{Gap{.first_sequence = 1, .count = 1}}));
  EXPECT_EQ(buffer.Resume(StreamClass::kTransactions, 1)->size(), 3u);
}

TEST(ReplayBufferTest, RejectsResumePastTheNextSequence) {
  ReplayBuffer buffer(1 << 20);
  buffer.AddUpdate(StreamClass::kAccounts, Frame(1));
  absl::StatusOr<std::vector<std::vector<uint8_t>>> resumed =
      buffer.Resume(StreamClass::kAccounts, 3);
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(ErrorOf(resumed.status()), RelayError::kSessionViolation);
}

TEST(ReplayBufferTest, AddReturnsTheEncodedMessage) {
  ReplayBuffer buffer(1 << 20);
  absl::Span<const uint8_t> bytes = buffer.AddUpdate(StreamClass::kAccounts, Frame(9));
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), EncodeMessage(UpdateOf(1, 9)));
}

}  // namespace
}  // namespace qlaster::relay
