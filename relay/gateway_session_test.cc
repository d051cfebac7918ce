// The gateway's session bookkeeping: a new session starts from now, a known one is told
// where each class left off, streams must start there, and UPDATE/GAP become publish/gap
// actions with their counts.
#include "relay/gateway_session.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace qlaster::relay {
namespace {

Hello HelloOf(uint64_t session, std::array<uint64_t, kClassCount> next) {
  Hello h;
  h.session_id = session;
  h.next_sequence = next;
  h.name = "r";
  return h;
}
Update UpdateOf(uint64_t sequence) {
  Update u;
  u.sequence = sequence;
  u.frame.assign(kMinFrameSize, 7);
  return u;
}
StreamStart Start(StreamClass cls, uint64_t session, uint64_t first) {
  return StreamStart{.stream_class = cls, .session_id = session, .first_sequence = first};
}

TEST(GatewaySessionsTest, NewSessionStartsFromNow) {
  GatewaySessions sessions;
  Welcome w = sessions.OnHello(HelloOf(5, {10, 20, 30}));
  EXPECT_EQ(w.session_id, 5u);
  EXPECT_EQ(w.resume_from, (std::array<uint64_t, kClassCount>{0, 0, 0}));
  EXPECT_TRUE(sessions.OnClassMessage(5, StreamClass::kAccounts,
                                      Start(StreamClass::kAccounts, 5, 20)).ok());
  absl::StatusOr<GatewaySessions::Action> wrong = sessions.OnClassMessage(
      5, StreamClass::kSlots, Start(StreamClass::kSlots, 5, 3));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(ErrorOf(wrong.status()), RelayError::kSequenceViolation);
}

TEST(GatewaySessionsTest, UpdatesPublishAndGapsCount) {
  GatewaySessions sessions;
  sessions.OnHello(HelloOf(5, {1, 1, 1}));
  const Message update = UpdateOf(1);
  absl::StatusOr<GatewaySessions::Action> a =
      sessions.OnClassMessage(5, StreamClass::kAccounts, update);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, GatewaySessions::Action::Kind::kPublish);
  EXPECT_EQ(a->frame.size(), kMinFrameSize);
  a = sessions.OnClassMessage(5, StreamClass::kAccounts, Gap{.first_sequence = 2, .count = 4});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->kind, GatewaySessions::Action::Kind::kGap);
  EXPECT_EQ(a->gap_count, 4u);
  const SessionCounts* counts = sessions.counts(5);
  ASSERT_NE(counts, nullptr);
  EXPECT_EQ(counts->updates, 1u);
  EXPECT_EQ(counts->gap_updates, 4u);
  EXPECT_EQ(counts->frame_bytes, kMinFrameSize);
}

TEST(GatewaySessionsTest, ReconnectResumesAfterTheLastPublished) {
  GatewaySessions sessions;
  sessions.OnHello(HelloOf(5, {1, 1, 1}));
  ASSERT_TRUE(sessions.OnClassMessage(5, StreamClass::kAccounts, UpdateOf(1)).ok());
  ASSERT_TRUE(sessions.OnClassMessage(5, StreamClass::kAccounts, UpdateOf(2)).ok());
  Welcome w = sessions.OnHello(HelloOf(5, {1, 9, 4}));
  EXPECT_EQ(w.resume_from, (std::array<uint64_t, kClassCount>{0, 3, 0}));
  EXPECT_TRUE(sessions.OnClassMessage(5, StreamClass::kAccounts,
                                      Start(StreamClass::kAccounts, 5, 3)).ok());
  EXPECT_FALSE(sessions.OnClassMessage(5, StreamClass::kAccounts,
                                       Start(StreamClass::kAccounts, 5, 9)).ok());
  EXPECT_TRUE(sessions.OnClassMessage(5, StreamClass::kTransactions,
                                      Start(StreamClass::kTransactions, 5, 4)).ok());
  EXPECT_EQ(sessions.counts(5)->connections, 2u);
}

TEST(GatewaySessionsTest, RejectsClassStreamOfUnknownSession) {
  GatewaySessions sessions;
  absl::StatusOr<GatewaySessions::Action> a =
      sessions.OnClassMessage(6, StreamClass::kSlots, UpdateOf(1));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(ErrorOf(a.status()), RelayError::kSessionViolation);
}

}  // namespace
}  // namespace qlaster::relay
