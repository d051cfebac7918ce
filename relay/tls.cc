// The relay's TLS setup (tls.h).
#include "relay/tls.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "relay/protocol.h"

namespace qlaster::relay {
namespace {

absl::Status GnutlsError(const std::string& what, int rc) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", gnutls_strerror(rc)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsCredentials>> TlsCredentials::Load(
    const std::string& cert_file, const std::string& key_file, const std::string& ca_file) {
  std::unique_ptr<TlsCredentials> out(new TlsCredentials());
  int rc = gnutls_certificate_allocate_credentials(&out->creds_);
  if (rc < 0) return GnutlsError("allocating TLS credentials", rc);
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together: name both or neither");
  }
  if (!cert_file.empty()) {
    rc = gnutls_certificate_set_x509_key_file(out->creds_, cert_file.c_str(), key_file.c_str(),
                                              GNUTLS_X509_FMT_PEM);
    if (rc < 0) {
      return GnutlsError(absl::StrCat("--tls_cert ", cert_file, " / --tls_key ", key_file), rc);
    }
  }
  rc = gnutls_certificate_set_x509_trust_file(out->creds_, ca_file.c_str(),
                                              GNUTLS_X509_FMT_PEM);
  if (rc < 0) return GnutlsError(absl::StrCat("--tls_ca ", ca_file), rc);
  if (rc == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_ca ", ca_file, ": no certificate"));
  }
  return out;
}

TlsCredentials::~TlsCredentials() {
  if (creds_ != nullptr) gnutls_certificate_free_credentials(creds_);
}

absl::Status ConfigureTlsSession(gnutls_session_t session, TlsRole role,
                                 const TlsCredentials& creds,
                                 const std::string& server_name) {
  int rc = gnutls_priority_set_direct(
      session, "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE", nullptr);
  if (rc < 0) return GnutlsError("TLS priorities", rc);
  rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds.get());
  if (rc < 0) return GnutlsError("TLS credentials", rc);
  gnutls_datum_t alpn;
  alpn.data = reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn));
  alpn.size = static_cast<unsigned>(std::strlen(kAlpn));
  rc = gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rc < 0) return GnutlsError("ALPN", rc);
  if (role == TlsRole::kClient) {
    if (!server_name.empty()) {
      rc = gnutls_server_name_set(session, GNUTLS_NAME_DNS, server_name.data(),
                                  server_name.size());
      if (rc < 0) return GnutlsError("server name", rc);
    }
    gnutls_session_set_verify_cert(session, server_name.empty() ? nullptr : server_name.c_str(),
                                   0);
  } else {
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    gnutls_session_set_verify_cert(session, nullptr, 0);
  }
  return absl::OkStatus();
}

std::string DescribeTlsFailure(gnutls_session_t session, int error) {
  std::string out = gnutls_strerror(error);
  if (error == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
    const unsigned status = gnutls_session_get_verify_cert_status(session);
    gnutls_datum_t text;
    if (gnutls_certificate_verification_status_print(
            status, gnutls_certificate_type_get(session), &text, 0) == 0) {
      absl::StrAppend(&out, ": ", reinterpret_cast<const char*>(text.data));
      gnutls_free(text.data);
    }
  } else if (error == GNUTLS_E_WARNING_ALERT_RECEIVED || error == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    absl::StrAppend(&out, ": ", gnutls_alert_get_name(gnutls_alert_get(session)));
  }
  return out;
}

}  // namespace qlaster::relay
