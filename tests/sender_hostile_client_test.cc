// The real qlaster-sender against hostile and broken clients: garbage, truncated,
// oversized, zero-length and wrong-version frames, and messages out of order. Each such
// client gets an Error and is disconnected; a well-behaved client connected beside them
// keeps being served. Also: one sender per socket path, and a stale socket is replaced.
#include <sys/socket.h>
#include <sys/stat.h>

#include <random>

#include "gtest/gtest.h"
#include "tests/sender_process.h"
#include "wire/control_framing.h"

namespace qlaster {
namespace {

using testing::ConnectUnix;
using testing::SenderProcess;

class SenderHostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto sender = SenderProcess::Start(QLASTER_SENDER_BINARY, dir_.path(), {"--ring_bytes=65536"});
    ASSERT_TRUE(sender.ok()) << sender.status();
    sender_ = *std::move(sender);
    good_ = ConnectUnix(sender_->socket_path());
    ASSERT_TRUE(good_.valid());
    ASSERT_TRUE(WriteControl(good_.get(), EncodeControl(HelloMsg{.consumer_name = "good"})).ok());
    std::vector<UniqueFd> fds;
    auto ready = ReadControl(good_.get(), good_reader_, absl::Seconds(10), &fds);
    ASSERT_TRUE(ready.ok()) << ready.status();
    ASSERT_TRUE(std::holds_alternative<ReadyMsg>(*ready));
    EXPECT_EQ(fds.size(), 2u) << "Ready carries the ring and the eventfd";
  }

  // The well-behaved client still gets answers.
  void ExpectGoodClientServed() {
    ASSERT_TRUE(WriteControl(good_.get(), EncodeControl(PingMsg{.nonce = 77})).ok());
    for (;;) {
      auto reply = ReadControl(good_.get(), good_reader_, absl::Seconds(10));
      ASSERT_TRUE(reply.ok()) << reply.status();
      if (const auto* pong = std::get_if<PongMsg>(&*reply)) {
        EXPECT_EQ(pong->nonce, 77u);
        return;
      }
      // Anything else (a keepalive Ping) is fine; keep reading.
    }
  }

  // Reads from `fd` until the sender's Error arrives, then expects the connection closed.
  void ExpectErrorAndClose(int fd, fb::ErrorCode code) {
    ControlFrameReader reader;
    auto reply = ReadControl(fd, reader, absl::Seconds(10));
    ASSERT_TRUE(reply.ok()) << reply.status();
    const auto* error = std::get_if<ErrorMsg>(&*reply);
    ASSERT_NE(error, nullptr) << "expected Error, got " << ControlMsgName(*reply);
    EXPECT_EQ(error->code, code) << error->message;
    EXPECT_FALSE(error->message.empty());
    auto after = ReadControl(fd, reader, absl::Seconds(10));
    EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable) << "connection closed";
  }

  void Send(int fd, const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }

  static std::vector<uint8_t> Prefixed(uint32_t length, std::vector<uint8_t> body) {
    std::vector<uint8_t> out(4);
    std::memcpy(out.data(), &length, 4);
    out.insert(out.end(), body.begin(), body.end());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<SenderProcess> sender_;
  UniqueFd good_;
  ControlFrameReader good_reader_;
};

TEST_F(SenderHostileClientTest, GarbageFrameGetsBadRequestAndClose) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  std::mt19937 rng(3);
  std::vector<uint8_t> junk(64);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  Send(bad.get(), Prefixed(64, junk));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::BadRequest);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, OversizedLengthIsRejectedBeforeItsBody) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  Send(bad.get(), Prefixed(0xffffffffu, {}));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::LimitExceeded);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, ZeroLengthFrameGetsBadRequest) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  Send(bad.get(), Prefixed(0, {}));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::BadRequest);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, TruncatedFrameThenHangUpLeavesSenderServing) {
  {
    UniqueFd bad = ConnectUnix(sender_->socket_path());
    std::vector<uint8_t> hello = EncodeControl(HelloMsg{.consumer_name = "cut"});
    hello.resize(hello.size() / 2);
    Send(bad.get(), hello);
  }  // hang up mid-frame
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, WrongProtocolVersionGetsVersionMismatch) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  Send(bad.get(), EncodeControl(HelloMsg{.protocol_version = 99, .consumer_name = "future"}));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::VersionMismatch);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, SubscribeBeforeHelloGetsBadRequest) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  SubscribeMsg subscribe;
  subscribe.request_id = 1;
  subscribe.pubkeys = {Pubkey{}};
  Send(bad.get(), EncodeControl(subscribe));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::BadRequest);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, ServerOnlyMessageFromClientGetsBadRequest) {
  UniqueFd bad = ConnectUnix(sender_->socket_path());
  ReadyMsg ready;
  ready.consumer_id = 5;
  Send(bad.get(), EncodeControl(ready));
  ExpectErrorAndClose(bad.get(), fb::ErrorCode::BadRequest);
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, SecondHelloGetsBadRequest) {
  ASSERT_TRUE(WriteControl(good_.get(), EncodeControl(HelloMsg{.consumer_name = "again"})).ok());
  for (;;) {
    auto reply = ReadControl(good_.get(), good_reader_, absl::Seconds(10));
    ASSERT_TRUE(reply.ok()) << reply.status();
    if (const auto* e = std::get_if<ErrorMsg>(&*reply)) {
      EXPECT_EQ(e->code, fb::ErrorCode::BadRequest);
      break;
    }
  }
}

TEST_F(SenderHostileClientTest, ManyBadClientsInARowDoNotHurtTheSender) {
  for (int i = 0; i < 50; ++i) {
    UniqueFd bad = ConnectUnix(sender_->socket_path());
    ASSERT_TRUE(bad.valid()) << "client " << i;
    Send(bad.get(), Prefixed(static_cast<uint32_t>(16 + i), std::vector<uint8_t>(16 + i, 0xee)));
    ExpectErrorAndClose(bad.get(), fb::ErrorCode::BadRequest);
  }
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, StatsRequestWithoutHelloIsAnswered) {
  UniqueFd viewer = ConnectUnix(sender_->socket_path());
  ASSERT_TRUE(WriteControl(viewer.get(), EncodeControl(StatsRequestMsg{})).ok());
  ControlFrameReader reader;
  auto reply = ReadControl(viewer.get(), reader, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  const auto* stats = std::get_if<StatsMsg>(&*reply);
  ASSERT_NE(stats, nullptr);
  ASSERT_EQ(stats->consumers.size(), 1u);
  EXPECT_EQ(stats->consumers[0].name, "good");
}

TEST_F(SenderHostileClientTest, SecondSenderOnTheSamePathRefusesToStart) {
  auto second = ChildProcess::Spawn(
      {QLASTER_SENDER_BINARY, "--socket=" + sender_->socket_path(),
       "--source=ingest:" + sender_->ingest_name(), "--quiet"});
  ASSERT_TRUE(second.ok()) << second.status();
  auto status = second->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(DescribeWaitStatus(*status), "exited 2");
  ExpectGoodClientServed();
}

TEST_F(SenderHostileClientTest, StaleSocketOfAKilledSenderIsReplaced) {
  sender_->KillHard();
  ASSERT_TRUE(std::filesystem::exists(sender_->socket_path())) << "kill -9 leaves the file";
  auto next = SenderProcess::Start(QLASTER_SENDER_BINARY, dir_.path(), {}, sender_.get());
  ASSERT_TRUE(next.ok()) << next.status();
  UniqueFd fd = ConnectUnix((*next)->socket_path());
  ASSERT_TRUE(WriteControl(fd.get(), EncodeControl(PingMsg{.nonce = 1})).ok());
  ControlFrameReader reader;
  auto pong = ReadControl(fd.get(), reader, absl::Seconds(10));
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_TRUE(std::holds_alternative<PongMsg>(*pong));
}

TEST_F(SenderHostileClientTest, CleanShutdownTellsConsumersAndRemovesTheSocket) {
  auto status = sender_->Terminate();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0) << DescribeWaitStatus(*status);
  EXPECT_FALSE(std::filesystem::exists(sender_->socket_path()));
  for (;;) {
    auto msg = ReadControl(good_.get(), good_reader_, absl::Seconds(10));
    ASSERT_TRUE(msg.ok()) << msg.status();
    if (const auto* e = std::get_if<EvictedMsg>(&*msg)) {
      EXPECT_EQ(e->reason, fb::EvictReason::Shutdown);
      break;
    }
  }
}

}  // namespace
}  // namespace qlaster

namespace qlaster {
namespace {

TEST(SenderAllowListTest, PeerOutsideTheAllowListGetsNotAllowed) {
  TempDir dir;
  const std::string other = std::to_string(::getuid() + 4242);
  auto sender = testing::SenderProcess::Start(QLASTER_SENDER_BINARY, dir.path(),
                                              {"--allow_uid=" + other, "--allow_gid=" + std::to_string(::getgid() + 4242)});
  ASSERT_TRUE(sender.ok()) << sender.status();
  UniqueFd fd = testing::ConnectUnix((*sender)->socket_path());
  ASSERT_TRUE(WriteControl(fd.get(), EncodeControl(HelloMsg{.consumer_name = "intruder"})).ok());
  ControlFrameReader reader;
  auto reply = ReadControl(fd.get(), reader, absl::Seconds(10));
  ASSERT_TRUE(reply.ok()) << reply.status();
  const auto* error = std::get_if<ErrorMsg>(&*reply);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, fb::ErrorCode::NotAllowed) << error->message;
}

TEST(SenderAllowListTest, PeerOnTheAllowListIsServed) {
  TempDir dir;
  auto sender = testing::SenderProcess::Start(QLASTER_SENDER_BINARY, dir.path(),
                                              {"--allow_uid=" + std::to_string(::getuid())});
  ASSERT_TRUE(sender.ok()) << sender.status();
  UniqueFd fd = testing::ConnectUnix((*sender)->socket_path());
  ASSERT_TRUE(WriteControl(fd.get(), EncodeControl(HelloMsg{.consumer_name = "friend"})).ok());
  ControlFrameReader reader;
  std::vector<UniqueFd> fds;
  auto reply = ReadControl(fd.get(), reader, absl::Seconds(10), &fds);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(std::holds_alternative<ReadyMsg>(*reply));
}

TEST(SenderKeepaliveTest, ConsumerThatNeverAnswersIsEvictedAsIdle) {
  TempDir dir;
  auto sender = testing::SenderProcess::Start(QLASTER_SENDER_BINARY, dir.path(),
                                              {"--ping_interval=50ms", "--idle_timeout=300ms"});
  ASSERT_TRUE(sender.ok()) << sender.status();
  UniqueFd fd = testing::ConnectUnix((*sender)->socket_path());
  ASSERT_TRUE(WriteControl(fd.get(), EncodeControl(HelloMsg{.consumer_name = "hung"})).ok());
  ControlFrameReader reader;
  std::vector<UniqueFd> fds;
  int pings = 0;
  for (;;) {  // read, but never answer
    auto msg = ReadControl(fd.get(), reader, absl::Seconds(10), &fds);
    ASSERT_TRUE(msg.ok()) << msg.status();
    if (std::holds_alternative<PingMsg>(*msg)) ++pings;
    if (const auto* e = std::get_if<EvictedMsg>(&*msg)) {
      EXPECT_EQ(e->reason, fb::EvictReason::Idle);
      break;
    }
  }
  EXPECT_GT(pings, 0);
}

TEST(SenderSocketTest, SocketFileGetsTheConfiguredMode) {
  TempDir dir;
  auto sender = testing::SenderProcess::Start(QLASTER_SENDER_BINARY, dir.path(), {"--socket_mode=0600"});
  ASSERT_TRUE(sender.ok()) << sender.status();
  struct stat st;
  ASSERT_EQ(::stat((*sender)->socket_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace qlaster
