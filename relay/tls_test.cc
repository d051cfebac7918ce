// The relay's TLS setup over a real socketpair: both ends with certificates from the test
// CA agree on qlaster-relay/1; a client whose certificate chains to another CA, and one
// without a certificate, are refused, and both ends can say why.
#include "relay/tls.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "base/temp_dir.h"
#include "relay/protocol.h"
#include "gtest/gtest.h"

namespace qlaster::relay {
namespace {

struct Result {
  int rc = 0;
  std::string reason;
  std::string alpn;
};

// With `read_after`, a successful handshake is followed by one read: in TLS 1.3 the client
// finishes before the server has checked the client's certificate, so a client learns of
// its refusal from the alert that arrives next.
Result Handshake(gnutls_session_t session, int fd, bool read_after = false) {
  gnutls_transport_set_int(session, fd);
  gnutls_handshake_set_timeout(session, 10000);
  int rc;
  do {
    rc = gnutls_handshake(session);
  } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
  Result out;
  out.rc = rc;
  if (rc < 0) {
    out.reason = DescribeTlsFailure(session, rc);
    // GnuTLS leaves telling the peer to the caller (over QUIC, ngtcp2's crypto layer does).
    gnutls_alert_send_appropriate(session, rc);
  } else if (read_after) {
    char byte;
    do {
      rc = static_cast<int>(gnutls_record_recv(session, &byte, 1));
    } while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    out.rc = rc < 0 ? rc : -1;
    out.reason = rc < 0 ? DescribeTlsFailure(session, rc) : "connection closed";
  } else {
    gnutls_datum_t proto;
    if (gnutls_alpn_get_selected_protocol(session, &proto) == 0) {
      out.alpn.assign(reinterpret_cast<const char*>(proto.data), proto.size);
    }
  }
  // Closing our end tells a peer still waiting for a message that none will come.
  ::shutdown(fd, SHUT_RDWR);
  return out;
}

class RelayTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    const char* script = std::getenv("QLASTER_MAKE_TEST_CERTS");
    ASSERT_NE(script, nullptr);
    ASSERT_EQ(std::system((std::string("sh ") + script + " " + dir_.path()).c_str()), 0);
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  std::unique_ptr<TlsCredentials> Creds(const std::string& leaf, const std::string& ca) {
    absl::StatusOr<std::unique_ptr<TlsCredentials>> creds =
        TlsCredentials::Load(Path(leaf + ".pem"), Path(leaf + ".key"), Path(ca + ".pem"));
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? std::move(*creds) : nullptr;
  }

  // Runs both ends; `client_creds` raw so that a client without a certificate can be made.
  void Run(gnutls_certificate_credentials_t client_creds, Result& client, Result& server) {
    std::unique_ptr<TlsCredentials> server_creds = Creds("server", "ca");
    ASSERT_NE(server_creds, nullptr);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    gnutls_session_t s, c;
    ASSERT_EQ(gnutls_init(&s, GNUTLS_SERVER), 0);
    ASSERT_EQ(gnutls_init(&c, GNUTLS_CLIENT), 0);
    ASSERT_TRUE(ConfigureTlsSession(s, TlsRole::kServer, *server_creds, "").ok());
    ASSERT_EQ(gnutls_priority_set_direct(c, "NORMAL:-VERS-ALL:+VERS-TLS1.3", nullptr), 0);
    ASSERT_EQ(gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, client_creds), 0);
    gnutls_session_set_verify_cert(c, "localhost", 0);
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn)),
                        static_cast<unsigned>(sizeof(kAlpn) - 1)};
    ASSERT_EQ(gnutls_alpn_set_protocols(c, &alpn, 1, GNUTLS_ALPN_MANDATORY), 0);
    std::thread server_thread([&] { server = Handshake(s, fds[0]); });
    client = Handshake(c, fds[1], /*read_after=*/true);
    server_thread.join();
    gnutls_deinit(s);
    gnutls_deinit(c);
    ::close(fds[0]);
    ::close(fds[1]);
  }

  TempDir dir_;
};

TEST_F(RelayTlsTest, MutualTlsWithTheTestCaAgreesOnTheAlpn) {
  std::unique_ptr<TlsCredentials> client_creds = Creds("client", "ca");
  ASSERT_NE(client_creds, nullptr);
  // The client end configured by ConfigureTlsSession itself, as the relay does.
  std::unique_ptr<TlsCredentials> server_creds = Creds("server", "ca");
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  gnutls_session_t s, c;
  ASSERT_EQ(gnutls_init(&s, GNUTLS_SERVER), 0);
  ASSERT_EQ(gnutls_init(&c, GNUTLS_CLIENT), 0);
  ASSERT_TRUE(ConfigureTlsSession(s, TlsRole::kServer, *server_creds, "").ok());
  const std::string host = "localhost";
  ASSERT_TRUE(ConfigureTlsSession(c, TlsRole::kClient, *client_creds, host).ok());
  Result server, client;
  std::thread server_thread([&] { server = Handshake(s, fds[0]); });
  client = Handshake(c, fds[1]);
  server_thread.join();
  EXPECT_EQ(client.rc, 0) << client.reason;
  EXPECT_EQ(server.rc, 0) << server.reason;
  EXPECT_EQ(client.alpn, kAlpn);
  EXPECT_EQ(server.alpn, kAlpn);
  EXPECT_EQ(gnutls_protocol_get_version(c), GNUTLS_TLS1_3);
  gnutls_deinit(s);
  gnutls_deinit(c);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(RelayTlsTest, RefusesAClientOfAnotherCa) {
  std::unique_ptr<TlsCredentials> untrusted = Creds("untrusted", "ca");
  ASSERT_NE(untrusted, nullptr);
  Result client, server;
  Run(untrusted->get(), client, server);
  EXPECT_LT(server.rc, 0);
  EXPECT_LT(client.rc, 0);
  // The server's CertificateRequest names the CA it trusts, so the GnuTLS client offers no
  // certificate rather than one of another CA; a client that offers it anyway fails
  // verification. Either way the server refuses and says why.
  EXPECT_TRUE(server.reason.find("verif") != std::string::npos ||
              server.reason.find("Certificate is required") != std::string::npos)
      << server.reason;
  EXPECT_NE(client.reason.find("alert"), std::string::npos) << client.reason;
}

TEST_F(RelayTlsTest, RefusesAClientWithoutACertificate) {
  gnutls_certificate_credentials_t bare;
  ASSERT_EQ(gnutls_certificate_allocate_credentials(&bare), 0);
  ASSERT_GT(gnutls_certificate_set_x509_trust_file(bare, Path("ca.pem").c_str(),
                                                   GNUTLS_X509_FMT_PEM),
            0);
  Result client, server;
  Run(bare, client, server);
  gnutls_certificate_free_credentials(bare);
  EXPECT_LT(server.rc, 0);
  EXPECT_LT(client.rc, 0);
  EXPECT_NE(server.reason.find("Certificate is required"), std::string::npos) << server.reason;
  EXPECT_NE(client.reason.find("alert"), std::string::npos) << client.reason;
}

TEST_F(RelayTlsTest, LoadNamesTheBadFile) {
  absl::StatusOr<std::unique_ptr<TlsCredentials>> creds =
      TlsCredentials::Load(Path("client.pem"), Path("client.key"), Path("missing.pem"));
  ASSERT_FALSE(creds.ok());
  EXPECT_NE(creds.status().message().find("missing.pem"), std::string::npos);
}

}  // namespace
}  // namespace qlaster::relay
