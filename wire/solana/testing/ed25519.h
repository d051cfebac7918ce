// Ed25519 signature checks for tests: a transaction rebuilt from its parts is byte-exact
// when the signatures of the original still verify over the message we serialize.
// Nettle (GnuTLS's crypto library) does the verification; only tests link it.
#ifndef QLASTER_WIRE_SOLANA_TESTING_ED25519_H_
#define QLASTER_WIRE_SOLANA_TESTING_ED25519_H_

#include <nettle/eddsa.h>

#include <cstddef>
#include <cstdint>

#include "wire/solana/transaction.h"

namespace qlaster::solana::testing {

// True when signature i of `tx` verifies against static key i over the message, for
// every signature.
inline bool SignaturesVerify(const TransactionView& tx) {
  for (size_t i = 0; i < tx.signature_count(); ++i) {
    if (ed25519_sha512_verify(tx.static_key(i).data(), tx.message().size(), tx.message().data(),
                              tx.signature(i).data()) == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace qlaster::solana::testing

#endif  // QLASTER_WIRE_SOLANA_TESTING_ED25519_H_
