// The public vocabulary's functions (qlaster/types.hpp).
#include "qlaster/types.hpp"

#include "base/base58.h"

namespace qlaster {

absl::StatusOr<Pubkey> Pubkey::FromBase58(std::string_view text) { return DecodePubkey(text); }
std::string Pubkey::ToBase58() const { return Base58Encode(*this); }

absl::StatusOr<Signature> Signature::FromBase58(std::string_view text) { return DecodeSignature(text); }
std::string Signature::ToBase58() const { return Base58Encode(*this); }

std::string_view SlotStatusName(SlotStatus status) {
  switch (status) {
    case SlotStatus::kProcessed:
      return "processed";
    case SlotStatus::kConfirmed:
      return "confirmed";
    case SlotStatus::kRooted:
      return "rooted";
    case SlotStatus::kFirstShredReceived:
      return "first_shred_received";
    case SlotStatus::kCompleted:
      return "completed";
    case SlotStatus::kCreatedBank:
      return "created_bank";
    case SlotStatus::kDead:
      return "dead";
  }
  return "unknown";
}

}  // namespace qlaster
