// Tests of qlaster::Consumer against the real sender engine: an in-process Sender per test
// (socket in a fresh temporary directory), fed by a QueueSource on its dispatch thread,
// and for kill -9 a separate sender process. A hand-written fake sender covers what a
// correct sender never does (sequence jumps, corrupt records, a version mismatch).
//
// No fixed sleeps: every wait is a loop of Wait/Poll on a condition, with a deadline.
#include "qlaster/consumer.hpp"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "consumer/testing/queue_source.h"
#include "consumer/testing/sender_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sender/sender.h"
#include "shm/event_fd.h"
#include "base/fd_passing.h"
#include "shm/spsc_ring.h"
#include "base/process.h"
#include "base/temp_dir.h"
#include "wire/control_framing.h"
#include "wire/frame.h"

namespace qlaster {
namespace {

using ::testing::HasSubstr;

using namespace qlaster::testing;  // NOLINT: the fixture's helpers


TEST_F(ConsumerTest, ConnectsAndCompletesHandshake) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect({.name = "handshake", .ring_bytes = 100'000});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(c->consumer_id(), 0u);
  EXPECT_EQ(c->ring_bytes(), 131072u);  // rounded up to a power of two
  EXPECT_TRUE(c->connected());
  ConsumerStats stats = c->Stats();
  EXPECT_TRUE(stats.connected);
  EXPECT_EQ(stats.received, 0u);
  EXPECT_EQ(stats.lag_bytes, 0u);

  StatsMsg sender_stats = sender_->Stats();
  ASSERT_EQ(sender_stats.consumers.size(), 1u);
  EXPECT_EQ(sender_stats.consumers[0].name, "handshake");
  EXPECT_EQ(sender_stats.consumers[0].consumer_id, c->consumer_id());

  // Nothing published: Wait times out, Poll delivers nothing.
  EXPECT_TRUE(absl::IsDeadlineExceeded(c->Wait(absl::Milliseconds(5))));
  absl::StatusOr<int> n = c->Poll([](const Event&) {});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);

  c->Close();
  c->Close();  // idempotent
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(c->Poll([](const Event&) {}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConsumerTest, MissingSenderIsUnavailableWithAClearMessage) {
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("no qlaster-sender at " + path_));
}

TEST_F(ConsumerTest, BadOptionsAreInvalidArgument) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect({.name = std::string(100, 'x')});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  c = Connect({.reconnect_initial_backoff = absl::ZeroDuration()});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ConsumerTest, DeliversExactlyTheSubscribedAccountsInOrderWithIntactBytes) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect({.ring_bytes = 32 << 20});
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey a = Key(0xA1), b = Key(0xB2), other = Key(0xC3);
  const Pubkey owner = Key(0x0F), foreign_owner = Key(0xEE);
  absl::StatusOr<SubscribeResult> sub = c->Subscribe({{a}}, {{owner}});
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->pubkeys, 1u);
  EXPECT_EQ(sub->owners, 1u);
  EXPECT_EQ(sub->messages, 1u);
  EXPECT_EQ(sub->effective_sequence, 0u);

  // 10 MiB that LZ4 shrinks a lot (the compressed path), and 1 MiB of noise (raw).
  std::vector<uint8_t> big(10 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = (i % 4096) < 16 ? uint8_t(i / 4096) : 0;
  std::vector<uint8_t> noise(1 << 20);
  std::mt19937_64 rng(42);
  for (uint8_t& x : noise) x = static_cast<uint8_t>(rng());

  std::vector<AccountUpdate> expected;
  auto publish = [&](const AccountUpdate& u, bool wanted) {
    PublishAccount(u);
    if (wanted) expected.push_back(u);
  };
  publish(Account(a, foreign_owner, 1), true);       // by pubkey
  publish(Account(other, foreign_owner, 2), false);  // neither
  publish(Account(b, owner, 3), true);               // by owner
  AccountUpdate with_sig = Account(a, owner, 4, {9, 8, 7});
  with_sig.txn_signature.emplace();
  with_sig.txn_signature->fill(0x5A);
  with_sig.executable = true;
  publish(with_sig, true);  // both: delivered once
  publish(Account(b, foreign_owner, 5), false);
  publish(Account(a, foreign_owner, 6, big), true);
  publish(Account(other, owner, 7, noise), true);
  publish(Account(a, foreign_owner, 8, {}), true);  // empty data

  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, expected.size()));
  std::vector<Got> got = events.OfKind(EventKind::kAccount);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].sequence, i + 1);
    EXPECT_TRUE(got[i].account == expected[i]) << "account " << i << " differs";
  }
  EXPECT_TRUE(got[3].was_compressed);             // the 10 MiB account
  EXPECT_FALSE(got[4].was_compressed);            // the noise
  EXPECT_EQ(events.all.size(), expected.size());  // nothing else: no gaps, no extras

  ConsumerStats stats = c->Stats();
  EXPECT_EQ(stats.received, expected.size());
  EXPECT_EQ(stats.last_sequence, expected.size());
  EXPECT_EQ(stats.gaps, 0u);
  EXPECT_EQ(stats.lag_bytes, 0u);
}

TEST_F(ConsumerTest, LagBytesCountUnreadRecords) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  PublishSlot(10);
  PublishSlot(11);
  EXPECT_GT(c->Stats().lag_bytes, 0u);
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 2));
  EXPECT_EQ(c->Stats().lag_bytes, 0u);
}

TEST_F(ConsumerTest, TransactionsArriveOnlyAfterOptingIn) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  auto publish_txs = [&](uint64_t slot) {
    Publish([&](sender::Dispatcher& d) {
      TransactionUpdate vote{.slot = slot, .index = 0, .is_vote = true, .data = {1}};
      vote.signature.fill(0x01);
      TransactionUpdate user{.slot = slot, .index = 1, .failed = true, .data = {2, 3}};
      user.signature.fill(0x02);
      ASSERT_TRUE(d.PublishTransaction(vote).ok());
      ASSERT_TRUE(d.PublishTransaction(user).ok());
      ASSERT_TRUE(d.PublishSlot({.slot = slot, .parent = slot - 1, .status = SlotStatus::kProcessed}).ok());
    });
  };

  Events events;
  publish_txs(1);  // not opted in: only the slot arrives
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 1));
  EXPECT_EQ(events.Count(EventKind::kTransaction), 0u);

  ASSERT_TRUE(c->SetTransactions(TransactionFilter::kAll).ok());
  publish_txs(2);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 2));
  std::vector<Got> txs = events.OfKind(EventKind::kTransaction);
  ASSERT_EQ(txs.size(), 2u);
  EXPECT_TRUE(txs[0].tx.is_vote);
  EXPECT_EQ(txs[1].tx.data, (std::vector<uint8_t>{2, 3}));
  EXPECT_TRUE(txs[1].tx.failed);
  EXPECT_EQ(txs[1].tx.signature[0], 0x02);

  ASSERT_TRUE(c->SetTransactions(TransactionFilter::kNonVote).ok());
  publish_txs(3);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 3));
  txs = events.OfKind(EventKind::kTransaction);
  ASSERT_EQ(txs.size(), 3u);
  EXPECT_FALSE(txs[2].tx.is_vote);
  EXPECT_EQ(txs[2].tx.slot, 3u);

  // Subscribing to keys leaves the filter alone unless asked.
  ASSERT_TRUE(c->Subscribe({{Key(1)}}).ok());
  publish_txs(4);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 4));
  EXPECT_EQ(events.Count(EventKind::kTransaction), 4u);

  ASSERT_TRUE(c->SetTransactions(TransactionFilter::kNone).ok());
  publish_txs(5);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 5));
  EXPECT_EQ(events.Count(EventKind::kTransaction), 4u);
}

TEST_F(ConsumerTest, SlotUpdatesArriveWithoutSubscribing) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  Publish([](sender::Dispatcher& d) {
    ASSERT_TRUE(d.PublishSlot({.slot = 50, .parent = 49, .status = SlotStatus::kProcessed}).ok());
    ASSERT_TRUE(d.PublishSlot({.slot = 50, .parent = 49, .status = SlotStatus::kConfirmed}).ok());
    ASSERT_TRUE(d.PublishSlot({.slot = 50, .parent = 49, .status = SlotStatus::kRooted}).ok());
    ASSERT_TRUE(d.PublishSlot({.slot = 51, .parent = 50, .status = SlotStatus::kDead}).ok());
  });
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 4));
  const std::vector<Got>& got = events.all;
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].slot, (SlotUpdate{50, 49, SlotStatus::kProcessed}));
  EXPECT_EQ(got[1].slot, (SlotUpdate{50, 49, SlotStatus::kConfirmed}));
  EXPECT_EQ(got[2].slot, (SlotUpdate{50, 49, SlotStatus::kRooted}));
  EXPECT_EQ(got[3].slot, (SlotUpdate{51, 50, SlotStatus::kDead}));
  EXPECT_EQ(got[3].sequence, 4u);
  EXPECT_EQ(SlotStatusName(SlotStatus::kRooted), "rooted");
}

TEST_F(ConsumerTest, UnsubscribeAndReplaceTakeEffectAfterTheAcknowledgedSequence) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey a = Key(1), b = Key(2), x = Key(3), owner = Key(9);
  ASSERT_TRUE(c->Subscribe({{a, b}}).ok());
  auto publish_all = [&](uint64_t round) {
    for (const Pubkey& k : {a, b, x}) PublishAccount(Account(k, owner, round));
  };
  Events events;
  publish_all(1);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 2));

  absl::StatusOr<SubscribeResult> r = c->Unsubscribe({{a}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pubkeys, 1u);
  EXPECT_GE(r->effective_sequence, 2u);
  const uint64_t after_unsubscribe = r->effective_sequence;
  publish_all(2);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 3));

  r = c->Replace({{x}}, {{owner}}, TransactionFilter::kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pubkeys, 1u);
  EXPECT_EQ(r->owners, 1u);
  const uint64_t after_replace = r->effective_sequence;
  EXPECT_GT(after_replace, after_unsubscribe);
  publish_all(3);  // all three match the owner now
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 6));

  r = c->Replace({{x}}, {}, TransactionFilter::kNone);
  ASSERT_TRUE(r.ok()) << r.status();
  const uint64_t after_second_replace = r->effective_sequence;
  publish_all(4);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 7));

  for (const Got& g : events.all) {
    ASSERT_EQ(g.kind, EventKind::kAccount);
    const Pubkey& k = g.account.pubkey;
    if (g.sequence > after_second_replace) {
      EXPECT_EQ(k, x) << "seq " << g.sequence;
    } else if (g.sequence > after_replace) {
      // owner subscription: everything
    } else if (g.sequence > after_unsubscribe) {
      EXPECT_EQ(k, b) << "seq " << g.sequence;
    } else {
      EXPECT_TRUE(k == a || k == b) << "seq " << g.sequence;
    }
  }
  EXPECT_EQ(events.all.size(), 7u);
}

TEST_F(ConsumerTest, DropAndCountReportsTheExactGapAndKeepsGoing) {
  StartSender();
  absl::StatusOr<Consumer> c =
      Connect({.ring_bytes = 4096, .overflow = OverflowPolicy::kDropAndCount});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->ring_bytes(), 4096u);
  const Pubkey a = Key(0x42);
  ASSERT_TRUE(c->Subscribe({{a}}).ok());

  // The consumer reads nothing while 100 updates of ~330 bytes go to a 4 KiB ring.
  constexpr uint64_t kBurst = 100;
  Publish([&](sender::Dispatcher& d) {
    for (uint64_t i = 1; i <= kBurst; ++i) {
      ASSERT_TRUE(d.PublishAccount(Account(a, Key(0), i, std::vector<uint8_t>(128, 1))).ok());
    }
  });
  // Publish() returned, so what fitted is in the ring: read it all.
  Events events;
  ASSERT_TRUE(c->Poll([&](const Event& e) { events.all.push_back(Copy(e)); }, 1000).ok());
  // One more, once there is room: it is preceded by the gap record.
  PublishAccount(Account(a, Key(0), kBurst + 1));
  ASSERT_TRUE(events.PollUntil(*c, [&](const std::vector<Got>& v) {
    return !v.empty() && v.back().sequence == kBurst + 1 && v.back().kind == EventKind::kAccount;
  }));

  // Every sequence number 1..kBurst+1 is accounted for exactly once: delivered, or inside
  // a gap the sender reported.
  std::vector<int> covered(kBurst + 2, 0);
  uint64_t dropped = 0, gaps = 0, delivered = 0;
  for (const Got& g : events.all) {
    if (g.kind == EventKind::kGap) {
      ++gaps;
      EXPECT_TRUE(g.gap.reported_by_sender);
      EXPECT_EQ(g.gap.dropped, g.gap.last_missing - g.gap.first_missing + 1);
      EXPECT_EQ(g.sequence, g.gap.last_missing);
      dropped += g.gap.dropped;
      for (uint64_t s = g.gap.first_missing; s <= g.gap.last_missing; ++s) covered.at(s)++;
    } else {
      ASSERT_EQ(g.kind, EventKind::kAccount);
      EXPECT_EQ(g.account.lamports, g.sequence);
      ++delivered;
      covered.at(g.sequence)++;
    }
  }
  for (uint64_t s = 1; s <= kBurst + 1; ++s) EXPECT_EQ(covered[s], 1) << "sequence " << s;
  EXPECT_GT(dropped, 0u);
  EXPECT_GE(delivered, 2u);
  EXPECT_EQ(dropped + delivered, kBurst + 1);
  ConsumerStats stats = c->Stats();
  EXPECT_EQ(stats.dropped, dropped);
  EXPECT_EQ(stats.gaps, gaps);
  EXPECT_EQ(stats.received, delivered);
  EXPECT_TRUE(stats.connected);
  EXPECT_EQ(sender_->Stats().consumers.at(0).dropped, dropped);
}

TEST_F(ConsumerTest, EvictedSlowConsumerIsToldWhyThenReconnectsAndResubscribes) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect({.ring_bytes = 4096, .overflow = OverflowPolicy::kEvict});
  ASSERT_TRUE(c.ok()) << c.status();
  const Pubkey a = Key(0x42);
  ASSERT_TRUE(c->Subscribe({{a}}, {}, TransactionFilter::kNonVote).ok());
  const uint64_t first_id = c->consumer_id();
  Publish([&](sender::Dispatcher& d) {
    for (uint64_t i = 1; i <= 100; ++i) {
      ASSERT_TRUE(d.PublishAccount(Account(a, Key(0), i, std::vector<uint8_t>(128, 1))).ok());
    }
  });

  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kDisconnected));
  const Got disconnected = events.OfKind(EventKind::kDisconnected).at(0);
  EXPECT_THAT(disconnected.reason, HasSubstr("slow"));
  // What was in the ring before the eviction was delivered first, in order, and no gap
  // is invented for what was lost (the Disconnected event says it).
  uint64_t seq = 0;
  for (const Got& g : events.all) {
    if (g.kind != EventKind::kAccount) break;
    EXPECT_EQ(g.sequence, ++seq);
  }
  EXPECT_GT(seq, 0u);
  EXPECT_EQ(events.Count(EventKind::kGap), 0u);

  ASSERT_TRUE(events.PollForKind(*c, EventKind::kReconnected));
  EXPECT_TRUE(c->connected());
  EXPECT_NE(c->consumer_id(), first_id);
  EXPECT_EQ(c->Stats().reconnects, 1u);
  EXPECT_EQ(c->Stats().disconnects, 1u);

  // The replayed subscription (key and transaction filter) works on the new connection;
  // sequence numbers restart at 1.
  PublishAccount(Account(a, Key(0), 500));
  Publish([](sender::Dispatcher& d) {
    TransactionUpdate vote{.slot = 1, .is_vote = true, .data = {}};
    TransactionUpdate user{.slot = 1, .index = 3, .data = {}};
    ASSERT_TRUE(d.PublishTransaction(vote).ok());
    ASSERT_TRUE(d.PublishTransaction(user).ok());
  });
  const size_t before = events.all.size();
  ASSERT_TRUE(
      events.PollUntil(*c, [&](const std::vector<Got>& v) { return v.size() >= before + 2; }));
  EXPECT_EQ(events.all[before].kind, EventKind::kAccount);
  EXPECT_EQ(events.all[before].account.lamports, 500u);
  EXPECT_EQ(events.all[before].sequence, 1u);
  EXPECT_EQ(events.all[before + 1].kind, EventKind::kTransaction);
  EXPECT_EQ(events.all[before + 1].tx.index, 3u);
  EXPECT_EQ(events.all[before + 1].sequence, 2u);
}

TEST_F(ConsumerTest, WithoutAutoReconnectPollReportsUnavailableAfterTheEvent) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect({.auto_reconnect = false});
  ASSERT_TRUE(c.ok()) << c.status();
  StopSender();
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kDisconnected));
  EXPECT_THAT(events.all.back().reason, HasSubstr("shutting down"));
  absl::StatusOr<int> n = c->Poll([](const Event&) {});
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c->Wait(absl::Milliseconds(1)).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->connected());
  // Subscribing is refused, not recorded: nothing would replay it.
  EXPECT_EQ(c->Subscribe({{Key(1)}}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ConsumerTest, SenderRestartIsSurvivedAutomaticallyWithTheWholeSubscription) {
  sender::ControlOptions control;
  control.limits.max_keys_per_consumer = 300'000;
  StartSender(control);
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  // More keys than one Subscribe message holds: a Replace and Adds on replay. The owner
  // goes after all the pubkeys, so it is in the second message.
  std::vector<Pubkey> many(150'000);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i].fill(0);
    std::memcpy(many[i].data(), &i, sizeof(i));
    many[i][31] = 0xCC;
  }
  const Pubkey owner = Key(0x77);
  absl::StatusOr<SubscribeResult> r = c->Subscribe(many, {{owner}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->messages, 2u);
  EXPECT_EQ(r->pubkeys, many.size());
  EXPECT_EQ(r->owners, 1u);

  Events events;
  PublishAccount(Account(Key(5), owner, 1));
  PublishAccount(Account(many[123'456], Key(0), 2));
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 2));

  StopSender();
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kDisconnected));
  EXPECT_THAT(events.all.back().reason, HasSubstr("shutting down"));
  // While the sender is away: attempts fail quietly, Wait times out.
  absl::Status w = c->Wait(absl::Milliseconds(30));
  EXPECT_TRUE(absl::IsDeadlineExceeded(w)) << w;
  EXPECT_EQ(events.Count(EventKind::kReconnected), 0u);

  StartSender(control);
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kReconnected));
  EXPECT_EQ(c->Stats().reconnects, 1u);
  EXPECT_EQ(c->Stats().last_sequence, 0u);
  PublishAccount(Account(Key(6), owner, 3));    // by the owner (second message)
  PublishAccount(Account(many[7], Key(0), 4));  // by a pubkey (first message)
  PublishAccount(Account(Key(8), Key(0), 5));   // not subscribed
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount, 4));
  std::vector<Got> accounts = events.OfKind(EventKind::kAccount);
  ASSERT_EQ(accounts.size(), 4u);
  EXPECT_EQ(accounts[2].account.lamports, 3u);
  EXPECT_EQ(accounts[2].sequence, 1u);
  EXPECT_EQ(accounts[3].account.lamports, 4u);
  EXPECT_EQ(accounts[3].sequence, 2u);
}

TEST_F(ConsumerTest, LimitExceededIsResourceExhaustedAndTheConnectionStaysUsable) {
  sender::ControlOptions control;
  control.limits.max_keys_per_consumer = 10;
  StartSender(control);
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  std::vector<Pubkey> keys;
  for (uint8_t i = 0; i < 11; ++i) keys.push_back(Key(i + 1));
  absl::StatusOr<SubscribeResult> r = c->Subscribe(keys);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("limit"));
  EXPECT_TRUE(c->connected());

  r = c->Subscribe({{Key(1)}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pubkeys, 1u);                   // the refused request changed nothing
  PublishAccount(Account(Key(2), Key(0), 1));  // refused earlier: not delivered
  PublishAccount(Account(Key(1), Key(0), 2));
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount));
  EXPECT_EQ(events.all.size(), 1u);
  EXPECT_EQ(events.all[0].account.lamports, 2u);
}

TEST_F(ConsumerTest, SenderFullIsResourceExhausted) {
  sender::ControlOptions control;
  control.limits.max_consumers = 1;
  StartSender(control);
  absl::StatusOr<Consumer> first = Connect();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Consumer> second = Connect();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted) << second.status();
}

TEST_F(ConsumerTest, HandlersMayNotReenterPollButMaySubscribe) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  PublishSlot(1);
  Consumer& consumer = *c;
  absl::Status inner_poll, inner_subscribe;
  ASSERT_TRUE(consumer.Wait(kDeadline).ok());
  std::function<void(const Event&)> handler = [&](const Event&) {
    inner_poll = consumer.Poll([](const Event&) {}).status();
    inner_subscribe = consumer.Subscribe({{Key(3)}}).status();
  };
  absl::StatusOr<int> n = consumer.Poll(handler, 10);  // the std::function overload
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(inner_poll.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(inner_subscribe.ok()) << inner_subscribe;
}

TEST_F(ConsumerTest, WaitWakesOnPublishInEveryMode) {
  StartSender();
  for (WaitMode mode : {WaitMode::kSpinThenSleep, WaitMode::kSpin, WaitMode::kSleep}) {
    absl::StatusOr<Consumer> c = Connect({.wait_mode = mode});
    ASSERT_TRUE(c.ok()) << c.status();
    std::thread publisher([&] { PublishSlot(7); });
    Events events;
    ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot));
    publisher.join();
  }
}

TEST_F(ConsumerTest, ConsumerIsMovable) {
  StartSender();
  absl::StatusOr<Consumer> c = Connect();
  ASSERT_TRUE(c.ok()) << c.status();
  Consumer moved = *std::move(c);
  EXPECT_TRUE(moved.connected());
  PublishSlot(3);
  Events events;
  ASSERT_TRUE(events.PollForKind(moved, EventKind::kSlot));
  Consumer assigned = std::move(moved);
  EXPECT_EQ(moved.Poll([](const Event&) {}).status().code(),  // NOLINT: use after move
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(assigned.connected());
}

// ------------------------------------------------------- a sender in another process

TEST_F(ConsumerTest, KilledSenderProcessIsReportedAsDisconnected) {
  absl::StatusOr<qlaster::ChildProcess> child =
      qlaster::ChildProcess::Spawn({QLASTER_TEST_PUBLISHER, "--socket", path_});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<Consumer> c = absl::UnavailableError("not yet");
  const absl::Time end = absl::Now() + kDeadline;
  ConsumerOptions options{.ring_bytes = 1 << 20, .auto_reconnect = false};
  while (!c.ok() && absl::Now() < end) {
    c = Consumer::Connect(path_, options);
    if (!c.ok()) absl::SleepFor(absl::Milliseconds(5));  // polling for the child's socket
  }
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->Subscribe({{Key(0x11)}}).ok());
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kAccount));
  EXPECT_EQ(events.OfKind(EventKind::kAccount)[0].account.owner, Key(0x22));

  ::kill(child->pid(), SIGKILL);
  ASSERT_TRUE(child->Wait(kDeadline).ok());
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kDisconnected));
  EXPECT_THAT(events.all.back().reason, HasSubstr("closed the connection"));
  // Everything before the Disconnected event was in order.
  uint64_t seq = 0;
  for (const Got& g : events.all) {
    if (g.kind == EventKind::kDisconnected) break;
    EXPECT_EQ(g.sequence, ++seq);
  }
  EXPECT_EQ(c->Poll([](const Event&) {}).status().code(), absl::StatusCode::kUnavailable);
}

// ------------------------------------------------------------------- fake sender
// A sender that does what it is told, to show how the library takes what a correct
// sender never does.

class FakeSender {
 public:
  explicit FakeSender(std::string path) : path_(std::move(path)) {
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size());
    ok_ = ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listener_.get(), 4) == 0;
  }
  bool ok() const { return ok_; }

  // Accepts one connection and reads its Hello.
  absl::Status Accept() {
    conn_ = UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn_.valid()) return absl::InternalError("accept");
    absl::StatusOr<ControlMsg> hello = ReadControl(conn_.get(), reader_, kDeadline);
    if (!hello.ok()) return hello.status();
    if (!std::holds_alternative<HelloMsg>(*hello)) return absl::InternalError("not Hello");
    return absl::OkStatus();
  }

  absl::Status SendError(fb::ErrorCode code, std::string message) {
    return WriteControl(conn_.get(), EncodeControl(ErrorMsg{code, std::move(message)}));
  }

  absl::Status SendReady(uint64_t ring_bytes = 1 << 16) {
    absl::StatusOr<shm::RingProducer> ring = shm::RingProducer::Create({.capacity = ring_bytes});
    if (!ring.ok()) return ring.status();
    absl::StatusOr<shm::EventFd> doorbell = shm::EventFd::Create();
    if (!doorbell.ok()) return doorbell.status();
    ring_.emplace(*std::move(ring));
    doorbell_ = *std::move(doorbell);
    const int fds[] = {ring_->fd(), doorbell_.fd()};
    return SendWithFds(
        conn_.get(),
        EncodeControl(
            ReadyMsg{.consumer_id = 77, .ring_bytes = ring_->capacity(), .sender_name = "fake"}),
        fds);
  }

  void WriteFrame(const EncodedUpdate& u, uint64_t sequence) {
    ASSERT_EQ(ring_->TryWrite(1, u.ToBytes(sequence, 1234)), shm::WriteResult::kOk);
    ring_->WakeIfSleeping(doorbell_);
  }
  void WriteRaw(std::vector<uint8_t> bytes) {
    ASSERT_EQ(ring_->TryWrite(1, bytes), shm::WriteResult::kOk);
    ring_->WakeIfSleeping(doorbell_);
  }

 private:
  std::string path_;
  UniqueFd listener_;
  UniqueFd conn_;
  ControlFrameReader reader_;
  std::optional<shm::RingProducer> ring_;
  shm::EventFd doorbell_;
  bool ok_ = false;
};

TEST_F(ConsumerTest, VersionMismatchIsFailedPrecondition) {
  FakeSender fake(path_);
  ASSERT_TRUE(fake.ok());
  std::thread server([&] {
    ASSERT_TRUE(fake.Accept().ok());
    ASSERT_TRUE(fake.SendError(fb::ErrorCode::VersionMismatch, "speaks version 2").ok());
  });
  absl::StatusOr<Consumer> c = Connect();
  server.join();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("speaks version 2"));
}

TEST_F(ConsumerTest, UnexplainedSequenceJumpBecomesACountedGap) {
  FakeSender fake(path_);
  ASSERT_TRUE(fake.ok());
  std::thread server([&] {
    ASSERT_TRUE(fake.Accept().ok());
    ASSERT_TRUE(fake.SendReady().ok());
  });
  absl::StatusOr<Consumer> c = Connect();
  server.join();
  ASSERT_TRUE(c.ok()) << c.status();
  EncodedUpdate slot = *EncodedUpdate::Slot({.slot = 1, .parent = 0});
  fake.WriteFrame(slot, 1);
  fake.WriteFrame(slot, 2);
  fake.WriteFrame(slot, 5);                   // 3 and 4 vanished, unexplained
  fake.WriteFrame(EncodedUpdate::Gap(2), 8);  // covers 7..8; 6 is unexplained again
  fake.WriteFrame(slot, 9);
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kSlot, 4));
  ASSERT_EQ(events.all.size(), 6u);
  EXPECT_EQ(events.all[2].kind, EventKind::kGap);
  EXPECT_EQ(events.all[2].gap.first_missing, 3u);
  EXPECT_EQ(events.all[2].gap.last_missing, 4u);
  EXPECT_EQ(events.all[2].gap.dropped, 2u);
  EXPECT_FALSE(events.all[2].gap.reported_by_sender);
  EXPECT_EQ(events.all[3].sequence, 5u);
  EXPECT_EQ(events.all[4].kind, EventKind::kGap);
  EXPECT_EQ(events.all[4].gap.first_missing, 6u);
  EXPECT_EQ(events.all[4].gap.last_missing, 8u);
  EXPECT_FALSE(events.all[4].gap.reported_by_sender);
  EXPECT_EQ(events.all[5].sequence, 9u);
  ConsumerStats stats = c->Stats();
  EXPECT_EQ(stats.gaps, 2u);
  EXPECT_EQ(stats.dropped, 5u);
  EXPECT_EQ(stats.received, 4u);
}

TEST_F(ConsumerTest, CorruptRecordEndsTheConnectionAsDataLoss) {
  FakeSender fake(path_);
  ASSERT_TRUE(fake.ok());
  std::thread server([&] {
    ASSERT_TRUE(fake.Accept().ok());
    ASSERT_TRUE(fake.SendReady().ok());
  });
  absl::StatusOr<Consumer> c = Connect({.auto_reconnect = false});
  server.join();
  ASSERT_TRUE(c.ok()) << c.status();
  fake.WriteFrame(*EncodedUpdate::Slot({.slot = 1, .parent = 0}), 1);
  fake.WriteRaw(std::vector<uint8_t>(40, 0xFF));  // no valid frame header
  Events events;
  ASSERT_TRUE(events.PollForKind(*c, EventKind::kDisconnected));
  ASSERT_EQ(events.all.size(), 2u);
  EXPECT_EQ(events.all[0].kind, EventKind::kSlot);
  EXPECT_THAT(events.all[1].reason, HasSubstr("corrupt"));
  EXPECT_EQ(c->Poll([](const Event&) {}).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace qlaster
