// The QUIC core and its Asio adapter over real UDP on loopback: a client and a server
// endpoint in one io_context, certificates from tools/make_test_certs.sh. Handshake with
// mutual TLS and Retry, streams both ways with large transfers, and the refusals (a client
// of another CA, a client without a certificate, a server the client does not trust), each
// with a reason on both sides; and a relay link to a gateway starting a new session.
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/temp_dir.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "gtest/gtest.h"
#include "relay/gateway.h"
#include "relay/quic_connection.h"
#include "relay/quic_endpoint.h"
#include "relay/relay_link.h"
#include "relay/replay_buffer.h"

namespace qlaster::relay {
namespace {
namespace asio = boost::asio;

// Echoes every byte of the peer's bidirectional stream back on it; counts what a
// unidirectional stream brought.
class EchoSession : public QuicServerSession {
 public:
  explicit EchoSession(std::vector<std::string>* log) : log_(log) {}
  absl::Status OnHandshakeCompleted() override {
    log_->push_back("server handshake");
    return absl::OkStatus();
  }
  absl::Status OnStreamData(int64_t stream_id, absl::Span<const uint8_t> data, bool) override {
    if ((stream_id & 0x2) == 0) {
      conn_->Send(stream_id, data);
    } else {
      uni_bytes += data.size();
    }
    return absl::OkStatus();
  }
  void OnDone(const absl::Status& why) override { log_->push_back("server done: " + why.ToString()); }
  size_t uni_bytes = 0;

 private:
  std::vector<std::string>* log_;
};

class Client : public QuicHandler {
 public:
  absl::Status OnHandshakeCompleted() override {
    handshake = true;
    return absl::OkStatus();
  }
  absl::Status OnStreamData(int64_t, absl::Span<const uint8_t> data, bool) override {
    received.insert(received.end(), data.begin(), data.end());
    return absl::OkStatus();
  }
  bool handshake = false;
  std::vector<uint8_t> received;
};

class QuicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* script = std::getenv("QLASTER_MAKE_TEST_CERTS");
    ASSERT_NE(script, nullptr);
    ASSERT_EQ(std::system((std::string("sh ") + script + " " + dir_.path() + " >/dev/null").c_str()), 0);
  }
  std::unique_ptr<TlsCredentials> Creds(const std::string& leaf, const std::string& ca) {
    auto creds = leaf.empty() ? TlsCredentials::Load("", "", Path(ca + ".pem"))
                              : TlsCredentials::Load(Path(leaf + ".pem"), Path(leaf + ".key"),
                                                     Path(ca + ".pem"));
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? std::move(*creds) : nullptr;
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Starts a server with the server certificate; sessions log into log_.
  void StartServer(const std::string& ca = "ca") {
    server_creds_ = Creds("server", ca);
    ASSERT_NE(server_creds_, nullptr);
    QuicOptions o;
    o.credentials = server_creds_.get();
    auto ep = QuicServerEndpoint::Listen(
        io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0), o,
        [this](const asio::ip::udp::endpoint&) {
          auto s = std::make_unique<EchoSession>(&log_);
          last_session_ = s.get();
          return s;
        });
    ASSERT_TRUE(ep.ok()) << ep.status();
    server_ = *std::move(ep);
  }

  // Runs the io_context until `done` or 10 s.
  template <typename Pred>
  bool RunUntil(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  // A client with the client certificate, connected to the server, past its handshake.
  struct Connection {
    std::unique_ptr<TlsCredentials> creds;
    Client client;
    std::unique_ptr<QuicClientEndpoint> ep;
    absl::Status closed = absl::OkStatus();  // as the endpoint's on_done said
    bool done = false;
  };
  void Connect(Connection& c) {
    c.creds = Creds("client", "ca");
    QuicOptions o;
    o.credentials = c.creds.get();
    o.server_name = "localhost";
    c.ep = std::make_unique<QuicClientEndpoint>(io_);
    ASSERT_TRUE(c.ep->Connect(ServerAddress(), o, &c.client, [&c](const absl::Status& s) {
                      c.closed = s;
                      c.done = true;
                    }).ok());
    ASSERT_TRUE(RunUntil([&] { return c.client.handshake; })) << c.closed;
  }

  asio::ip::udp::endpoint ServerAddress() const {
    return asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port());
  }

  TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<TlsCredentials> server_creds_;
  std::unique_ptr<QuicServerEndpoint> server_;
  EchoSession* last_session_ = nullptr;
  std::vector<std::string> log_;
};

TEST_F(QuicTest, MutualTlsHandshakeAfterRetryAndAnEchoOfFourMegabytes) {
  StartServer();
  Connection c;
  ASSERT_NO_FATAL_FAILURE(Connect(c));
  Client& client = c.client;
  QuicClientEndpoint& ep = *c.ep;
  const absl::Status& closed = c.closed;
  const bool& done = c.done;
  EXPECT_EQ(server_->counts().retries_sent, 1u);
  EXPECT_EQ(server_->counts().connections_accepted, 1u);

  absl::StatusOr<int64_t> bidi = ep.connection()->OpenBidiStream();
  ASSERT_TRUE(bidi.ok()) << bidi.status();
  std::vector<uint8_t> sent(4 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + (i >> 13));
  // In pieces, as messages are queued.
  for (size_t off = 0; off < sent.size(); off += 1000) {
    const size_t n = std::min<size_t>(1000, sent.size() - off);
    ep.connection()->Send(*bidi, absl::MakeConstSpan(sent.data() + off, n));
  }
  absl::StatusOr<int64_t> uni = ep.connection()->OpenUniStream();
  ASSERT_TRUE(uni.ok()) << uni.status();
  std::vector<uint8_t> one_mib(1 << 20, 0x5a);
  ep.connection()->Send(*uni, one_mib);
  ep.Flush();
  ASSERT_TRUE(RunUntil([&] { return client.received.size() >= sent.size() || done; })) << closed;
  EXPECT_TRUE(client.received == sent);
  ASSERT_TRUE(RunUntil([&] { return last_session_->uni_bytes == one_mib.size(); }));
  EXPECT_FALSE(done) << closed;
  // Everything the server acknowledged is released.
  ASSERT_TRUE(RunUntil([&] { return ep.connection()->unacked_bytes() == 0; }));

  ep.connection()->Close(0, "bye");
  ep.Flush();
  ASSERT_TRUE(RunUntil([&] { return log_.size() >= 2; }));
  EXPECT_NE(log_.back().find("closed by the peer: application error 0: bye"), std::string::npos)
      << log_.back();
}

TEST_F(QuicTest, BytesQueuedWhileEarlierOnesAreInFlightArriveWholeAndInOrder) {
  // Small messages queued between writes and acknowledgements, as the relay queues
  // updates: they land in chunks that are partly sent (and partly acknowledged), which
  // must neither move bytes ngtcp2 may retransmit nor lose the place where sending resumes.
  StartServer();
  Connection c;
  ASSERT_NO_FATAL_FAILURE(Connect(c));
  Client& client = c.client;
  QuicClientEndpoint& ep = *c.ep;
  const absl::Status& closed = c.closed;
  const bool& done = c.done;
  absl::StatusOr<int64_t> bidi = ep.connection()->OpenBidiStream();
  ASSERT_TRUE(bidi.ok()) << bidi.status();
  std::vector<uint8_t> sent(3 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 13 + (i >> 11));
  size_t off = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  while (off < sent.size()) {
    for (int k = 0; k < 40 && off < sent.size(); ++k) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      const size_t n = std::min<size_t>(1 + rng % 3000, sent.size() - off);
      ep.connection()->Send(*bidi, absl::MakeConstSpan(sent.data() + off, n));
      off += n;
    }
    ep.Flush();
    io_.run_for(std::chrono::microseconds(300));  // some of it goes out, some is acknowledged
    ASSERT_FALSE(done) << closed;
  }
  ep.Flush();
  ASSERT_TRUE(RunUntil([&] { return client.received.size() >= sent.size() || done; })) << closed;
  EXPECT_TRUE(client.received == sent);
  ASSERT_TRUE(RunUntil([&] { return ep.connection()->unacked_bytes() == 0; }));
  const QuicConnection::PathStats path = ep.connection()->path_stats();
  EXPECT_GT(path.cwnd, 0u);
  EXPECT_GT(path.smoothed_rtt_ns, 0u);
}

// A refused handshake: the client's status (from on_done) and the server's (OnDone).
struct Refusal {
  absl::Status client;
  std::string server;
};

class QuicRefusalTest : public QuicTest {
 protected:
  Refusal Attempt(const std::string& leaf, const std::string& ca) {
    StartServer();
    std::unique_ptr<TlsCredentials> creds = Creds(leaf, ca);
    QuicOptions o;
    o.credentials = creds.get();
    o.server_name = "localhost";
    Client client;
    QuicClientEndpoint ep(io_);
    Refusal r;
    bool done = false;
    EXPECT_TRUE(ep.Connect(ServerAddress(), o, &client, [&](const absl::Status& s) {
                    r.client = s;
                    done = true;
                  }).ok());
    EXPECT_TRUE(RunUntil([&] {
      return done && std::any_of(log_.begin(), log_.end(), [](const std::string& l) {
               return l.rfind("server done", 0) == 0;
             });
    }));
    // TLS 1.3: a client finishes its side before the server has checked the client's
    // certificate, so only the server's view says the handshake failed: its session never
    // sees a completed handshake.
    EXPECT_EQ(std::count(log_.begin(), log_.end(), "server handshake"), 0);
    for (const std::string& l : log_) {
      if (l.rfind("server done", 0) == 0) r.server = l;
    }
    return r;
  }
};

TEST_F(QuicRefusalTest, AClientOfAnotherCaIsRefusedWithAReasonOnBothSides) {
  Refusal r = Attempt("untrusted", "ca");
  EXPECT_FALSE(r.client.ok());
  EXPECT_NE(r.client.ToString().find("TLS refused by the peer"), std::string::npos) << r.client;
  EXPECT_NE(r.server.find("UNAUTHENTICATED"), std::string::npos) << r.server;
  EXPECT_NE(r.server.find("certificate"), std::string::npos) << r.server;
}

TEST_F(QuicRefusalTest, AClientWithoutACertificateIsRefused) {
  Refusal r = Attempt("", "ca");
  EXPECT_FALSE(r.client.ok());
  EXPECT_NE(r.client.ToString().find("TLS refused by the peer"), std::string::npos) << r.client;
  EXPECT_NE(r.server.find("UNAUTHENTICATED"), std::string::npos) << r.server;
}

TEST_F(QuicRefusalTest, AServerTheClientDoesNotTrustIsRefusedByTheClient) {
  // The client trusts only other-ca, which did not sign the server's certificate.
  Refusal r = Attempt("client", "other-ca");
  EXPECT_EQ(r.client.code(), absl::StatusCode::kUnauthenticated) << r.client;
  EXPECT_NE(r.client.ToString().find("certificate"), std::string::npos) << r.client;
  EXPECT_NE(r.server.find("TLS refused by the peer"), std::string::npos) << r.server;
}

TEST_F(QuicTest, ANonQuicDatagramIsCountedAndIgnored) {
  StartServer();
  asio::ip::udp::socket junk(io_);
  junk.open(asio::ip::udp::v4());
  const uint8_t bytes[] = {0x00, 0x01, 0x02, 0x03};
  junk.send_to(asio::buffer(bytes), ServerAddress());
  ASSERT_TRUE(RunUntil([&] { return server_->counts().unroutable == 1; }));
  EXPECT_EQ(server_->connection_count(), 0u);
}

// What a gateway hands on: the sequences of the accounts class, and the gaps.
class RecordingSink : public GatewaySink {
 public:
  absl::Status Publish(uint64_t, StreamClass cls, uint64_t sequence,
                       std::vector<uint8_t>) override {
    if (cls == StreamClass::kAccounts) sequences.push_back(sequence);
    return absl::OkStatus();
  }
  void Gap(uint64_t, StreamClass, uint64_t count) override { gap_updates += count; }
  std::vector<uint64_t> sequences;
  uint64_t gap_updates = 0;
};

// A new session starts each class at the HELLO's next_sequence, which is what the gateway
// expects, and the updates the relay numbers while the WELCOME is on its way follow it.
// (The link used to start at the sequence it had reached when the WELCOME came, and the
// gateway closed it with SEQUENCE_VIOLATION whenever an update came in between: on a
// busy relay, nearly every first connection.)
TEST_F(QuicTest, ANewSessionStartsAtItsHellosSequenceWhateverIsNumberedBeforeTheWelcome) {
  std::unique_ptr<TlsCredentials> server_creds = Creds("server", "ca");
  std::unique_ptr<TlsCredentials> client_creds = Creds("client", "ca");
  ASSERT_NE(server_creds, nullptr);
  ASSERT_NE(client_creds, nullptr);
  RecordingSink sink;
  QuicOptions so;
  so.credentials = server_creds.get();
  auto gateway = Gateway::Start(
      io_, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0), so, &sink);
  ASSERT_TRUE(gateway.ok()) << gateway.status();
  ReplayBuffer replay(4 << 20);
  RelayLinkOptions lo;
  lo.target = "the gateway";
  lo.server = asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), (*gateway)->port());
  lo.quic.credentials = client_creds.get();
  lo.quic.server_name = "localhost";
  lo.quic.max_remote_bidi_streams = 0;
  lo.quic.max_remote_uni_streams = 0;
  lo.name = "test";
  lo.session_id = 42;
  lo.max_unsent_bytes = 64 << 20;
  RelayLink link(io_, lo, &replay);
  // One update in every turn of the io_context, as a busy relay numbers them: the WELCOME
  // comes at least one turn after the HELLO left, so some are numbered in between.
  const std::vector<uint8_t> frame(kMinFrameSize, 0x33);
  bool feeding = true;
  std::function<void()> feed = [&] {
    if (!feeding) return;
    absl::Span<const uint8_t> bytes = replay.AddUpdate(StreamClass::kAccounts, frame);
    link.Offer(StreamClass::kAccounts, replay.next_sequence(StreamClass::kAccounts) - 1, 1,
               false, bytes);
    link.Flush();
    asio::post(io_, feed);
  };
  link.Start();
  asio::post(io_, feed);
  const GatewayCounts& g = (*gateway)->counts();
  ASSERT_TRUE(RunUntil([&] { return sink.sequences.size() >= 2000 || g.protocol_errors > 0; }));
  feeding = false;
  const uint64_t last = replay.next_sequence(StreamClass::kAccounts) - 1;
  ASSERT_TRUE(RunUntil([&] {
    return (!sink.sequences.empty() && sink.sequences.back() == last) || g.protocol_errors > 0;
  }));
  EXPECT_EQ(g.protocol_errors, 0u) << link.last_error();
  EXPECT_EQ(link.counts().connects, 1u) << link.last_error();
  EXPECT_EQ(link.counts().welcomes, 1u);
  EXPECT_EQ(sink.gap_updates, 0u);
  ASSERT_FALSE(sink.sequences.empty());
  EXPECT_GT(sink.sequences.front(), 1u);  // from now: not what came before the HELLO
  for (size_t i = 1; i < sink.sequences.size(); ++i) {
    ASSERT_EQ(sink.sequences[i], sink.sequences[i - 1] + 1) << i;
  }
  EXPECT_EQ(sink.sequences.back(), last);
  link.Stop("the test is over");
}

TEST(ResolveUdpTest, ParsesAndRefuses) {
  auto a = ResolveUdp("127.0.0.1:4433");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->port(), 4433);
  auto b = ResolveUdp("[::1]:5");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->address().is_v6());
  EXPECT_FALSE(ResolveUdp("127.0.0.1").ok());
  EXPECT_FALSE(ResolveUdp("127.0.0.1:99999").ok());
  EXPECT_FALSE(ResolveUdp("[::1]5").ok());
}

}  // namespace
}  // namespace qlaster::relay
