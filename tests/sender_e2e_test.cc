// End to end: the real qlaster-sender binary fed through its ingest ring, and real
// consumer processes (qlaster_e2e_consumer, which links libqlaster-consumer like any bot).
// Each case checks exactly which updates reach which consumer, in order, bytes intact;
// slow consumers, killed consumers and a killed sender.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e_bot.h"
#include "tests/ingest_writer.h"
#include "tests/sender_process.h"
#include "tests/stress_records.h"
#include "base/status_macros.h"
#include "base/base58.h"
#include "wire/control_framing.h"

namespace qlaster {
namespace {

using testing::SenderProcess;

Pubkey Key(uint8_t tag, uint8_t n = 0) {
  Pubkey k{};
  k[0] = tag;
  k[1] = n;
  k[31] = 0x5a;
  return k;
}

std::string B58(const Pubkey& k) { return Base58Encode(k); }

using Bot = testing::E2eBot;

class SenderE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSender(); }

  void StartSender(const SenderProcess* same_as = nullptr) {
    auto sender = SenderProcess::Start(QLASTER_SENDER_BINARY, dir_.path(),
                                       {"--ping_interval=200ms", "--idle_timeout=10s"}, same_as);
    ASSERT_TRUE(sender.ok()) << sender.status();
    if (same_as == nullptr) {
      sender_ = *std::move(sender);
    } else {
      restarted_ = *std::move(sender);
    }
    auto writer = testing::IngestWriter::Attach(sender_->ingest_name());
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_.emplace(*std::move(writer));
  }

  Bot StartBot(const std::string& name, const std::vector<std::string>& args, bool hold_stdin = false) {
    return testing::StartE2eBot(QLASTER_E2E_CONSUMER, sender_->socket_path(), dir_.path(), name,
                                args, hold_stdin);
  }
  void ExpectFinished(Bot& bot) { testing::ExpectE2eBotFinished(bot); }

  void Write(const EncodedUpdate& e) { ASSERT_TRUE(writer_->Write(e).ok()); }
  void WriteAccount(const AccountUpdate& a) {
    auto e = EncodedUpdate::Account(a);
    ASSERT_TRUE(e.ok()) << e.status();
    Write(*e);
  }
  void WriteSentinel() { Write(*EncodedUpdate::Slot({.slot = kSentinel, .parent = 0, .status = SlotStatus::kProcessed})); }

  // The line a bot writes for `a`, without its sequence number.
  static std::string Expected(const AccountUpdate& a) {
    std::ostringstream s;
    s << B58(a.pubkey) << " " << B58(a.owner) << " " << a.lamports << " " << a.write_version << " "
      << a.data.size() << " " << std::hex << testing::StressChecksum(a.data.data(), a.data.size());
    return s.str();
  }
  // "A <seq> <rest> <compressed>" -> "<rest>"
  static std::vector<std::string> AccountBodies(const Bot& bot) {
    std::vector<std::string> out;
    for (const std::string& l : bot.Lines('A')) {
      std::vector<std::string> f = absl::StrSplit(l, ' ');
      out.push_back(absl::StrJoin(std::vector<std::string>(f.begin() + 2, f.end() - 1), " "));
    }
    return out;
  }
  // Sequence numbers of every data record a bot logged, in order.
  static std::vector<uint64_t> Sequences(const Bot& bot) {
    std::vector<uint64_t> out;
    for (const std::string& l : bot.Lines()) {
      if (l[0] == 'A' || l[0] == 'T' || l[0] == 'S') out.push_back(std::strtoull(l.c_str() + 2, nullptr, 10));
    }
    return out;
  }

  absl::StatusOr<StatsMsg> SenderStats(const std::string& socket) {
    return QuerySenderStats(socket, absl::Seconds(10));
  }

  static constexpr uint64_t kSentinel = 999'999;
  TempDir dir_;
  std::unique_ptr<SenderProcess> sender_;
  std::unique_ptr<SenderProcess> restarted_;
  std::optional<testing::IngestWriter> writer_;
};

// 1 and 4: by pubkey, by owner, overlapping; large accounts compressed and not.
TEST_F(SenderE2eTest, AccountsReachExactlyTheirSubscribersInOrderIntact) {
  const Pubkey p1 = Key(1), p2 = Key(2), o1 = Key(9);
  Bot by_pubkey = StartBot("by_pubkey", {"--account=" + B58(p1) + "," + B58(p2), "--until_slot=999999"});
  Bot by_owner = StartBot("by_owner", {"--owner=" + B58(o1), "--until_slot=999999"});
  Bot both = StartBot("both", {"--account=" + B58(p2), "--owner=" + B58(o1), "--until_slot=999999"});
  Bot nobody = StartBot("nobody", {"--account=" + B58(Key(7)), "--until_slot=999999"});

  std::mt19937 rng(5);
  std::vector<AccountUpdate> updates;
  for (int i = 0; i < 300; ++i) {
    AccountUpdate a;
    const int pick = static_cast<int>(rng() % 5);
    a.pubkey = pick == 0 ? p1 : pick == 1 ? p2 : Key(3, static_cast<uint8_t>(i));
    a.owner = rng() % 3 == 0 ? o1 : Key(4);
    a.lamports = 1000 + static_cast<uint64_t>(i);
    a.write_version = static_cast<uint64_t>(i + 1);
    a.data.resize(rng() % 4000);
    for (auto& b : a.data) b = static_cast<uint8_t>(rng());
    updates.push_back(std::move(a));
  }
  // A 10 MiB compressible account for p1, and a 10 MiB incompressible one owned by o1.
  AccountUpdate big_text;
  big_text.pubkey = p1;
  big_text.owner = Key(4);
  big_text.write_version = 1000;
  big_text.data.resize(kMaxAccountDataSize);
  for (size_t i = 0; i < big_text.data.size(); ++i) big_text.data[i] = static_cast<uint8_t>("solana"[i % 6] + (i / 4096) % 7);
  AccountUpdate big_noise;
  big_noise.pubkey = Key(5);
  big_noise.owner = o1;
  big_noise.write_version = 1001;
  big_noise.data.resize(kMaxAccountDataSize);
  for (auto& b : big_noise.data) b = static_cast<uint8_t>(rng());
  updates.insert(updates.begin() + 100, big_text);
  updates.insert(updates.begin() + 200, big_noise);

  for (const AccountUpdate& a : updates) WriteAccount(a);
  WriteSentinel();
  for (Bot* bot : {&by_pubkey, &by_owner, &both, &nobody}) ExpectFinished(*bot);

  auto expect = [&](auto wants) {
    std::vector<std::string> out;
    for (const AccountUpdate& a : updates) {
      if (wants(a)) out.push_back(Expected(a));
    }
    return out;
  };
  EXPECT_EQ(AccountBodies(by_pubkey), expect([&](const AccountUpdate& a) { return a.pubkey == p1 || a.pubkey == p2; }));
  EXPECT_EQ(AccountBodies(by_owner), expect([&](const AccountUpdate& a) { return a.owner == o1; }));
  EXPECT_EQ(AccountBodies(both), expect([&](const AccountUpdate& a) { return a.pubkey == p2 || a.owner == o1; }));
  EXPECT_TRUE(AccountBodies(nobody).empty());

  // The compressible 10 MiB account went compressed; the random one raw.
  bool saw_compressed = false;
  for (const std::string& l : by_pubkey.Lines('A')) saw_compressed |= l.back() == '1';
  EXPECT_TRUE(saw_compressed);
  for (const std::string& l : by_owner.Lines('A')) EXPECT_EQ(l.back(), '0') << l;

  // Sequence numbers are 1, 2, 3, ... for each consumer.
  for (Bot* bot : {&by_pubkey, &by_owner, &both, &nobody}) {
    std::vector<uint64_t> seqs = Sequences(*bot);
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << bot->out;
  }
}

// 2 and 3: transactions only when opted in, non-vote excludes votes; slots for everyone.
TEST_F(SenderE2eTest, TransactionsNeedOptInAndSlotsReachEveryone) {
  Bot all = StartBot("all", {"--transactions=all", "--until_slot=999999"});
  Bot nonvote = StartBot("nonvote", {"--transactions=nonvote", "--until_slot=999999"});
  Bot none = StartBot("none", {"--until_slot=999999"});
  int votes = 0;
  for (int i = 0; i < 60; ++i) {
    TransactionUpdate t;
    t.slot = 100 + static_cast<uint64_t>(i / 10);
    t.index = static_cast<uint32_t>(i);
    t.signature.fill(static_cast<uint8_t>(i + 1));
    t.is_vote = i % 3 != 0;
    votes += t.is_vote;
    t.data.assign(200 + static_cast<size_t>(i), static_cast<uint8_t>(i));
    Write(*EncodedUpdate::Transaction(t));
    if (i % 10 == 9) Write(*EncodedUpdate::Slot({.slot = t.slot, .parent = t.slot - 1, .status = SlotStatus::kConfirmed}));
  }
  WriteSentinel();
  for (Bot* bot : {&all, &nonvote, &none}) ExpectFinished(*bot);
  EXPECT_EQ(all.Lines('T').size(), 60u);
  EXPECT_EQ(nonvote.Lines('T').size(), static_cast<size_t>(60 - votes));
  for (const std::string& l : nonvote.Lines('T')) EXPECT_EQ(l.back(), '0') << "a vote reached a non-vote consumer";
  EXPECT_TRUE(none.Lines('T').empty());
  for (Bot* bot : {&all, &nonvote, &none}) EXPECT_EQ(bot->Lines('S').size(), 7u) << bot->out;
}

// 6: a consumer that stops reading is evicted (or counts drops); a fast one loses nothing.
TEST_F(SenderE2eTest, SlowConsumersAreEvictedOrCountDropsWhileAFastOneLosesNothing) {
  const Pubkey o1 = Key(9);
  Bot fast = StartBot("fast", {"--owner=" + B58(o1), "--until_slot=999999"});
  Bot evicted = StartBot("evicted", {"--owner=" + B58(o1), "--ring_bytes=65536", "--until_slot=999999"}, true);
  Bot dropper = StartBot("dropper", {"--owner=" + B58(o1), "--ring_bytes=65536", "--policy=drop", "--until_slot=999999"}, true);
  std::vector<AccountUpdate> updates;
  for (int i = 0; i < 2000; ++i) {
    AccountUpdate a;
    a.pubkey = Key(3, static_cast<uint8_t>(i));
    a.owner = o1;
    a.write_version = static_cast<uint64_t>(i + 1);
    a.data.assign(1000, static_cast<uint8_t>(i));
    WriteAccount(a);
    updates.push_back(std::move(a));
  }
  WriteSentinel();
  ExpectFinished(fast);
  ASSERT_EQ(fast.Lines('A').size(), 2000u) << "the fast consumer lost updates";

  // Let the slow ones read now. A gap record (and anything else) can only reach the
  // dropper once it has made room, so keep publishing sentinels until both are done.
  evicted.stdin_write.Reset();
  dropper.stdin_write.Reset();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    auto exited = [](pid_t pid) {  // without reaping it
      siginfo_t info{};
      return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
             info.si_pid == pid;
    };
    const bool dropper_done = exited(dropper.process->pid());
    const bool evicted_done = exited(evicted.process->pid());
    if ((dropper_done && evicted_done) || absl::Now() > deadline) break;
    WriteSentinel();
    absl::SleepFor(absl::Milliseconds(20));
  }
  ExpectFinished(dropper);
  ExpectFinished(evicted);

  // drop-and-count: every sequence number is accounted for exactly once, either by a record
  // that arrived or by a gap record that counted it, and some were dropped.
  uint64_t next = 1, dropped = 0;
  for (const std::string& l : dropper.Lines()) {
    const uint64_t seq = std::strtoull(l.c_str() + 2, nullptr, 10);
    if (l[0] == 'G') {
      const uint64_t n = std::strtoull(l.c_str() + l.rfind(' '), nullptr, 10);
      ASSERT_EQ(seq, next + n - 1) << "gap record " << l << " does not cover what was missed";
      next += n;
      dropped += n;
    } else if (l[0] == 'A' || l[0] == 'S') {
      ASSERT_EQ(seq, next) << l;
      ++next;
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(dropper.Lines('A').size(), 0u);
  // evict: it was told why, reconnected by itself, and got a sentinel on the new link.
  auto d = evicted.Lines('D');
  ASSERT_FALSE(d.empty());
  EXPECT_NE(d[0].find("slow"), std::string::npos) << d[0];
  EXPECT_FALSE(evicted.Lines('R').empty());
  auto stats = SenderStats(sender_->socket_path());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->evicted, 1u);
}

bool RingFilesOf(pid_t pid) {
  const std::string prefix = "qlaster-" + std::to_string(pid) + "-";
  DIR* d = ::opendir("/dev/shm");
  bool found = false;
  while (dirent* e = d ? ::readdir(d) : nullptr) found |= std::string(e->d_name).rfind(prefix, 0) == 0;
  if (d) ::closedir(d);
  return found;
}

// 7: kill -9 of a consumer frees its slot at once; nothing is left in /dev/shm; others
// lose nothing.
TEST_F(SenderE2eTest, KilledConsumerIsFreedAtOnceAndOthersLoseNothing) {
  const Pubkey o1 = Key(9);
  Bot survivor = StartBot("survivor", {"--owner=" + B58(o1), "--until_slot=999999"});
  Bot victim = StartBot("victim", {"--owner=" + B58(o1), "--until_slot=999999"});
  for (int i = 0; i < 500; ++i) {
    AccountUpdate a;
    a.pubkey = Key(3, static_cast<uint8_t>(i));
    a.owner = o1;
    a.write_version = static_cast<uint64_t>(i + 1);
    a.data.assign(300, 1);
    WriteAccount(a);
    if (i == 250) {
      const absl::Time killed = absl::Now();
      victim.process->Kill();
      absl::Duration freed_after = absl::InfiniteDuration();
      while (absl::Now() - killed < absl::Seconds(5)) {
        auto stats = SenderStats(sender_->socket_path());
        ASSERT_TRUE(stats.ok()) << stats.status();
        if (stats->consumers.size() == 1) {
          freed_after = absl::Now() - killed;
          break;
        }
      }
      std::printf("slot freed %s after kill -9\n", absl::FormatDuration(freed_after).c_str());
      EXPECT_LT(freed_after, absl::Milliseconds(100));
    }
  }
  WriteSentinel();
  ExpectFinished(survivor);
  EXPECT_EQ(survivor.Lines('A').size(), 500u);
  EXPECT_FALSE(RingFilesOf(sender_->child().pid())) << "a ring file was left in /dev/shm";
}

// 8: kill -9 of the sender, then a restart: consumers notice, reconnect, resubscribe and
// receive again by themselves.
TEST_F(SenderE2eTest, ConsumersReconnectToARestartedSenderByThemselves) {
  const Pubkey o1 = Key(9);
  Bot bot = StartBot("bot", {"--owner=" + B58(o1), "--until_slot=999999"});
  AccountUpdate a;
  a.owner = o1;
  a.pubkey = Key(1);
  a.write_version = 1;
  WriteAccount(a);
  // Wait until it has arrived, then kill the sender.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (bot.Lines('A').empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(bot.Lines('A').size(), 1u);
  sender_->KillHard();
  while (bot.Lines('D').empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_FALSE(bot.Lines('D').empty()) << "the bot did not notice the sender died";

  StartSender(sender_.get());
  while (bot.Lines('R').empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_FALSE(bot.Lines('R').empty()) << "the bot did not reconnect";
  // Its subscription was replayed: an update for o1 reaches it on the new sender.
  a.pubkey = Key(2);
  a.write_version = 2;
  WriteAccount(a);
  WriteSentinel();
  ExpectFinished(bot);
  auto bodies = AccountBodies(bot);
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1], Expected(a));
}

}  // namespace
}  // namespace qlaster
