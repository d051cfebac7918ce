// The consumer's state machine against a scripted sender: a real Unix socket, a real ring
// and doorbell passed by SCM_RIGHTS, and control messages sent exactly when and in the
// order a case needs — including the orders a real sender produces only in races (an
// Evicted right before EOF, an acknowledgement right before EOF, a ring closed before its
// goodbye, garbage on the socket).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/fd_passing.h"
#include "base/temp_dir.h"
#include "gtest/gtest.h"
#include "qlaster/consumer.hpp"
#include "shm/event_fd.h"
#include "shm/spsc_ring.h"
#include "wire/control_framing.h"
#include "wire/frame.h"

namespace qlaster {
namespace {

// One accepted connection, seen from the sender's side.
class FakeConnection {
 public:
  explicit FakeConnection(UniqueFd sock) : sock_(std::move(sock)) {}

  // Reads the Hello and answers Ready with a fresh ring and doorbell.
  void Handshake() {
    absl::StatusOr<ControlMsg> hello = Read();
    ASSERT_TRUE(hello.ok()) << hello.status();
    ASSERT_TRUE(std::holds_alternative<HelloMsg>(*hello));
    auto ring = shm::RingProducer::Create({.capacity = 1 << 16});
    auto bell = shm::EventFd::Create();
    ASSERT_TRUE(ring.ok() && bell.ok());
    ring_.emplace(*std::move(ring));
    bell_ = *std::move(bell);
    const ReadyMsg ready{.protocol_version = kProtocolVersion, .consumer_id = 42,
                         .ring_bytes = ring_->capacity(), .sender_name = "fake"};
    ASSERT_TRUE(SendWithFds(sock_.get(), EncodeControl(ready), {ring_->fd(), bell_.fd()}).ok());
  }

  // Writes account updates with sequence numbers first..last into the ring.
  void WriteAccounts(uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      AccountUpdate a;
      a.pubkey.fill(1);
      a.write_version = seq;
      const std::vector<uint8_t> frame = EncodedUpdate::Account(a)->ToBytes(seq, 1);
      ASSERT_EQ(ring_->TryWrite(kFrameRecordType, frame), shm::WriteResult::kOk);
    }
    ring_->WakeIfSleeping(bell_);
  }

  void Send(const ControlMsg& msg) { ASSERT_TRUE(WriteControl(sock_.get(), EncodeControl(msg)).ok()); }
  void SendRaw(std::vector<uint8_t> bytes) { ASSERT_TRUE(WriteControl(sock_.get(), bytes).ok()); }
  absl::StatusOr<ControlMsg> Read(absl::Duration timeout = absl::Seconds(10)) {
    return ReadControl(sock_.get(), reader_, timeout);
  }
  void CloseSocket() { sock_.Reset(); }
  void CloseRing() { ring_->Close(&bell_); }

 private:
  UniqueFd sock_;
  ControlFrameReader reader_;
  std::optional<shm::RingProducer> ring_;
  shm::EventFd bell_;
};

// Listens on a socket path and runs one script per accepted connection, in a thread.
class FakeSender {
 public:
  using Script = std::function<void(FakeConnection&)>;

  FakeSender(const std::string& path, std::vector<Script> scripts) {
    listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    ::unlink(path.c_str());
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listener_.get(), 8), 0);
    thread_ = std::thread([this, scripts = std::move(scripts)] {
      for (const Script& script : scripts) {
        UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn.valid()) return;
        FakeConnection c(std::move(conn));
        script(c);
      }
      done_.Notify();
    });
  }
  ~FakeSender() {
    ::shutdown(listener_.get(), SHUT_RDWR);  // ends a pending accept
    thread_.join();
  }
  bool WaitDone(absl::Duration timeout) { return done_.WaitForNotificationWithTimeout(timeout); }

 private:
  UniqueFd listener_;
  std::thread thread_;
  absl::Notification done_;
};

// What a Poll loop saw.
struct Seen {
  std::vector<uint64_t> accounts;  // write versions
  std::vector<std::string> disconnects;
  int reconnects = 0;
};

class ConsumerStateTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/sender.sock"; }

  static ConsumerOptions Options(bool reconnect) {
    ConsumerOptions o;
    o.auto_reconnect = reconnect;
    o.reconnect_initial_backoff = absl::Milliseconds(1);
    o.reconnect_max_backoff = absl::Milliseconds(5);
    o.wait_mode = WaitMode::kSleep;
    return o;
  }

  // Polls until `done(seen)` or a deadline; returns the last Poll status.
  absl::Status PollUntil(Consumer& c, Seen& seen, const std::function<bool(const Seen&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    absl::Status last;
    while (!done(seen) && absl::Now() < deadline) {
      (void)c.Wait(absl::Milliseconds(20));
      absl::StatusOr<int> n = c.Poll([&](const Event& e) {
        if (const AccountEvent* a = e.account()) seen.accounts.push_back(a->write_version);
        if (const DisconnectedEvent* d = e.disconnected()) seen.disconnects.emplace_back(d->reason);
        if (e.reconnected() != nullptr) ++seen.reconnects;
      });
      last = n.status();
      if (!n.ok()) break;
    }
    return last;
  }

  TempDir dir_;
};

TEST_F(ConsumerStateTest, EvictedJustBeforeEofDeliversTheRingThenTheEvictionReason) {
  FakeSender sender(Path(), {[](FakeConnection& c) {
    c.Handshake();
    c.WriteAccounts(1, 3);
    c.Send(EvictedMsg{fb::EvictReason::Slow, 999, 3});
    c.CloseSocket();  // the ring stays open, as a sender's does until the consumer leaves
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE(sender.WaitDone(absl::Seconds(10)));
  Seen seen;
  const absl::Status s = PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); });
  EXPECT_EQ(seen.accounts, (std::vector<uint64_t>{1, 2, 3})) << "drained before the news";
  ASSERT_EQ(seen.disconnects.size(), 1u);
  EXPECT_NE(seen.disconnects[0].find("evicted by the sender: slow"), std::string::npos)
      << seen.disconnects[0];
  // Without auto_reconnect, later polls say why.
  absl::StatusOr<int> after = consumer->Poll([](const Event&) {});
  EXPECT_TRUE(absl::IsUnavailable(after.status())) << after.status();
  (void)s;
}

TEST_F(ConsumerStateTest, AnErrorBeforeEofIsTheReasonGiven) {
  FakeSender sender(Path(), {[](FakeConnection& c) {
    c.Handshake();
    c.Send(ErrorMsg{fb::ErrorCode::Internal, "routing table inconsistent"});
    c.CloseSocket();
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); }).IgnoreError();
  ASSERT_EQ(seen.disconnects.size(), 1u);
  EXPECT_NE(seen.disconnects[0].find("the sender closed the connection"), std::string::npos);
  EXPECT_NE(seen.disconnects[0].find("routing table inconsistent"), std::string::npos)
      << seen.disconnects[0];
}

TEST_F(ConsumerStateTest, AClosedRingWaitsForTheGoodbyeThatSaysWhy) {
  FakeSender sender(Path(), {[](FakeConnection& c) {
    c.Handshake();
    c.WriteAccounts(1, 2);
    c.CloseRing();
    absl::SleepFor(absl::Milliseconds(50));  // the goodbye follows a little later
    c.Send(EvictedMsg{fb::EvictReason::Shutdown, 0, 2});
    c.CloseSocket();
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); }).IgnoreError();
  EXPECT_EQ(seen.accounts, (std::vector<uint64_t>{1, 2}));
  ASSERT_EQ(seen.disconnects.size(), 1u);
  EXPECT_NE(seen.disconnects[0].find("shutting down"), std::string::npos) << seen.disconnects[0];
}

TEST_F(ConsumerStateTest, AClosedRingWithoutAGoodbyeIsReportedAsSuch) {
  absl::Notification release;
  FakeSender sender(Path(), {[&](FakeConnection& c) {
    c.Handshake();
    c.CloseRing();
    release.WaitForNotificationWithTimeout(absl::Seconds(20));  // the socket stays open, silent
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); }).IgnoreError();
  release.Notify();
  ASSERT_EQ(seen.disconnects.size(), 1u);
  EXPECT_EQ(seen.disconnects[0], "the sender closed the ring");
}

TEST_F(ConsumerStateTest, AMalformedControlMessageEndsTheConnectionAsDataLoss) {
  absl::Notification release;
  FakeSender sender(Path(), {[&](FakeConnection& c) {
    c.Handshake();
    c.SendRaw({16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    release.WaitForNotificationWithTimeout(absl::Seconds(20));
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); }).IgnoreError();
  release.Notify();
  ASSERT_EQ(seen.disconnects.size(), 1u);
  EXPECT_NE(seen.disconnects[0].find("bad control message from the sender"), std::string::npos)
      << seen.disconnects[0];
  absl::StatusOr<int> after = consumer->Poll([](const Event&) {});
  EXPECT_TRUE(absl::IsDataLoss(after.status())) << after.status();
}

TEST_F(ConsumerStateTest, AnAcknowledgementJustBeforeEofStillCompletesTheRequest) {
  FakeSender sender(Path(), {[](FakeConnection& c) {
    c.Handshake();
    absl::StatusOr<ControlMsg> sub = c.Read();
    ASSERT_TRUE(sub.ok());
    const auto* m = std::get_if<SubscribeMsg>(&*sub);
    ASSERT_NE(m, nullptr);
    c.Send(SubscribeAckMsg{.request_id = m->request_id, .pubkeys = 1, .owners = 0,
                           .effective_sequence = 0});
    c.CloseSocket();
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Pubkey key;
  key.fill(1);
  const Pubkey keys[] = {key};
  absl::StatusOr<SubscribeResult> r = consumer->Subscribe(keys);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pubkeys, 1u);
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.disconnects.empty(); }).IgnoreError();
  EXPECT_EQ(seen.disconnects.size(), 1u);
}

TEST_F(ConsumerStateTest, PingsAreAnsweredWhileTheConsumerPolls) {
  absl::Notification ponged;
  FakeSender sender(Path(), {[&](FakeConnection& c) {
    c.Handshake();
    c.Send(PingMsg{7});
    absl::StatusOr<ControlMsg> pong = c.Read();
    if (pong.ok() && std::holds_alternative<PongMsg>(*pong) && std::get<PongMsg>(*pong).nonce == 7) {
      ponged.Notify();
    }
  }});
  auto consumer = Consumer::Connect(Path(), Options(false));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [&](const Seen&) { return ponged.HasBeenNotified(); }).IgnoreError();
  EXPECT_TRUE(ponged.HasBeenNotified());
}

TEST_F(ConsumerStateTest, AReconnectionThatFailsPartWayReportsNothingUntilOneSucceeds) {
  const auto refuse_replay = [](FakeConnection& c) {
    c.Handshake();
    absl::StatusOr<ControlMsg> sub = c.Read();  // the replayed subscription
    if (sub.ok()) c.Send(ErrorMsg{fb::ErrorCode::LimitExceeded, "sender full of keys"});
  };
  const auto accept_replay = [](FakeConnection& c) {
    c.Handshake();
    absl::StatusOr<ControlMsg> sub = c.Read();
    ASSERT_TRUE(sub.ok());
    const auto* m = std::get_if<SubscribeMsg>(&*sub);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->op, fb::SubscribeOp::Replace);
    c.Send(SubscribeAckMsg{.request_id = m->request_id, .effective_sequence = 0});
    c.WriteAccounts(1, 1);
    absl::SleepFor(absl::Seconds(2));  // stay connected while the consumer reads
  };
  FakeSender sender(Path(), {[](FakeConnection& c) {
                               c.Handshake();
                               c.CloseSocket();
                             },
                             refuse_replay, refuse_replay, accept_replay});
  auto consumer = Consumer::Connect(Path(), Options(true));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  Seen seen;
  PollUntil(*consumer, seen, [](const Seen& s) { return !s.accounts.empty(); }).IgnoreError();
  EXPECT_EQ(seen.disconnects.size(), 1u) << "two failed attempts are not two disconnections";
  EXPECT_EQ(seen.reconnects, 1);
  EXPECT_EQ(seen.accounts, (std::vector<uint64_t>{1}));
  EXPECT_EQ(consumer->Stats().reconnects, 1u);
}

}  // namespace
}  // namespace qlaster
