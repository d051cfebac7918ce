#!/bin/sh
# make_test_certs.sh DIR: certificates for trying and testing the relay's mutual TLS
# (docs/relay-protocol.md), made with GnuTLS's certtool (Debian gnutls-bin). Writes to DIR:
#   ca.pem ca.key                  a test CA
#   server.pem server.key          the gateway's certificate (CN and SAN localhost, 127.0.0.1)
#   client.pem client.key          the relay's certificate
#   other-ca.pem other-ca.key      a second CA that nothing trusts
#   untrusted.pem untrusted.key    a client certificate signed by other-ca, for refusal tests
# Keys are ECDSA P-256, certificates valid for 30 days. For tests and trials only: a
# deployment uses its own CA.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

key() { certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null; }

ca() {  # ca NAME CN
  key "$1.key"
  cat > "$1.tmpl" <<T
cn = "$2"
ca
cert_signing_key
expiration_days = 30
T
  certtool --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" \
    --outfile "$1.pem" 2>/dev/null
  rm -f "$1.tmpl"
}

leaf() {  # leaf NAME CN CA USAGE
  key "$1.key"
  cat > "$1.tmpl" <<T
cn = "$2"
dns_name = "localhost"
ip_address = "127.0.0.1"
signing_key
expiration_days = 30
$4
T
  certtool --generate-certificate --load-privkey "$1.key" --load-ca-certificate "$3.pem" \
    --load-ca-privkey "$3.key" --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
  rm -f "$1.tmpl"
}

ca ca "qlaster test CA"
ca other-ca "qlaster untrusted test CA"
leaf server "localhost" ca "tls_www_server"
leaf client "qlaster-relay test client" ca "tls_www_client"
leaf untrusted "qlaster-relay untrusted client" other-ca "tls_www_client"
chmod 0644 ./*.pem
