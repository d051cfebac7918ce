// The relay's TLS setup in one place (the style's "TLS setup stays in one file"): mutual
// TLS 1.3 credentials and the configuration of a GnuTLS session for either end, ALPN
// `qlaster-relay/1`. GnuTLS verifies nothing unless told to, so every session made here
// verifies the peer's chain against the configured CA, and the server requires a client
// certificate. The QUIC core hands the configured session to ngtcp2's crypto layer.
#ifndef QLASTER_RELAY_TLS_H_
#define QLASTER_RELAY_TLS_H_

#include <gnutls/gnutls.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qlaster::relay {

enum class TlsRole { kClient, kServer };

// A certificate, its key and the CA that peers must chain to.
// Thread-safe after Load: GnuTLS credentials may be shared by sessions on any thread.
class TlsCredentials {
 public:
  // Reads PEM files. Unreadable or invalid files are kInvalidArgument naming the file.
  // Empty `cert_file` and `key_file`: no certificate of our own (a peer that requires one
  // refuses us; for tests of exactly that).
  static absl::StatusOr<std::unique_ptr<TlsCredentials>> Load(const std::string& cert_file,
                                                              const std::string& key_file,
                                                              const std::string& ca_file);
  ~TlsCredentials();
  TlsCredentials(const TlsCredentials&) = delete;
  TlsCredentials& operator=(const TlsCredentials&) = delete;

  gnutls_certificate_credentials_t get() const { return creds_; }

 private:
  TlsCredentials() = default;
  gnutls_certificate_credentials_t creds_ = nullptr;
};

// Sets up `session` (fresh from gnutls_init) for `role`: TLS 1.3 only, these credentials,
// ALPN qlaster-relay/1 (mandatory), peer verification against the CA (the client also
// checks the server's name against `server_name`), and on the server a required client
// certificate. REQUIRES: `creds` and `server_name` outlive `session` (GnuTLS 3.7 keeps
// the pointer to the name and reads it during the handshake).
absl::Status ConfigureTlsSession(gnutls_session_t session, TlsRole role,
                                 const TlsCredentials& creds,
                                 const std::string& server_name);

// The reason a handshake failed, for logs and the error both sides report: the GnuTLS
// error and, when verification failed, what was wrong with the peer's certificate.
std::string DescribeTlsFailure(gnutls_session_t session, int error);

}  // namespace qlaster::relay

#endif  // QLASTER_RELAY_TLS_H_
