// Raw datagrams from the network into both ends of the relay's QUIC: the gateway's server
// endpoint (routing by connection ID, Retry tokens, Initial parsing) and a relay's client
// connection mid-handshake (a hostile gateway's answers). The input is a list of
// datagrams, each a u16 length and its bytes; the first byte picks the end.
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/clock.h"
#include "boost/asio/io_context.hpp"
#include "relay/quic_connection.h"
#include "relay/quic_endpoint.h"
#include "relay/tls.h"

namespace {
using namespace qlaster::relay;
namespace asio = boost::asio;

// A CA nobody uses for anything but loading: the fuzzer's handshakes never get far
// enough to verify a certificate.
constexpr char kCaPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBeDCCAR6gAwIBAgIUSJ20P3AGCffsIVS80uwz/W9lje4wCgYIKoZIzj0EAwIw
GjEYMBYGA1UEAxMPcWxhc3Rlci1mdXp6LWNhMB4XDTI2MTIwMjE3MDgzNVoXDTM2
MTEyOTE3MDgzNVowGjEYMBYGA1UEAxMPcWxhc3Rlci1mdXp6LWNhMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAESQ9BPnpEuUGAYT5UbXJeTqnRV0dhc8QFlEDhPiOO
2YlWkziJLaLtjx4JxIyWEWQkAIKhSBVve12wbR5wIuBvaqNCMEAwDwYDVR0TAQH/
BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwHQYDVR0OBBYEFKCmGeZfkTlX5sH9ylLa
Z7pqxlMPMAoGCCqGSM49BAMCA0gAMEUCICEaw5eG/ufjfBqtBGcyev4iA5BPnPC6
KozaCS0oYuxWAiEApLExXKw3MMRWu3CMfkA341JIM1qRfbBuiW+4es2sMaI=
-----END CERTIFICATE-----
)";

struct World {
  World() {
    char path[] = "/tmp/qlaster-fuzz-ca-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd >= 0) {
      (void)!::write(fd, kCaPem, sizeof(kCaPem) - 1);
      ::close(fd);
    }
    auto c = TlsCredentials::Load("", "", path);
    ::unlink(path);
    if (c.ok()) creds = *std::move(c);
    if (creds == nullptr) {
      std::fprintf(stderr, "fuzz_quic_datagram: cannot load the built-in CA\n");
      std::abort();
    }
    QuicOptions o;
    o.credentials = creds.get();
    auto ep = QuicServerEndpoint::Listen(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0), o,
                                         [](const asio::ip::udp::endpoint&) {
                                           return std::unique_ptr<QuicServerSession>();
                                         });
    if (!ep.ok()) std::abort();
    server = *std::move(ep);
  }
  asio::io_context io;
  std::unique_ptr<TlsCredentials> creds;
  std::unique_ptr<QuicServerEndpoint> server;
};

class NullHandler : public QuicHandler {
 public:
  absl::Status OnStreamData(int64_t, absl::Span<const uint8_t>, bool) override { return absl::OkStatus(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size < 1) return 0;
  const bool client = (data[0] & 1) != 0;
  ++data;
  --size;
  const asio::ip::udp::endpoint peer(asio::ip::make_address("127.0.0.1"), 4433);
  NullHandler handler;
  std::unique_ptr<QuicConnection> conn;
  QuicPath path;
  if (client) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(5000);
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(&path.local, &local, sizeof(local));
    path.local_len = sizeof(local);
    std::memcpy(&path.remote, peer.data(), peer.size());
    path.remote_len = static_cast<socklen_t>(peer.size());
    QuicOptions o;
    o.credentials = world->creds.get();
    o.server_name = "localhost";
    auto c = QuicConnection::Connect(o, path, &handler, static_cast<uint64_t>(qlaster::MonotonicNs()));
    if (!c.ok()) return 0;
    conn = *std::move(c);
    conn->Write(static_cast<uint64_t>(qlaster::MonotonicNs()), [](absl::Span<const uint8_t>) {});
  }
  while (size >= 2) {
    const size_t n = std::min<size_t>(size - 2, static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8);
    const absl::Span<const uint8_t> datagram(data + 2, n);
    if (client) {
      (void)conn->Read(path, datagram, static_cast<uint64_t>(qlaster::MonotonicNs()));
      conn->Write(static_cast<uint64_t>(qlaster::MonotonicNs()), [](absl::Span<const uint8_t>) {});
    } else {
      world->server->Inject(peer, datagram);
    }
    data += 2 + n;
    size -= 2 + n;
  }
  world->io.poll();
  return 0;
}
