// qlaster/types.hpp: the vocabulary shared by every part of qlaster and by every program
// that uses it: Solana keys and signatures, slot statuses, and the choices a consumer
// makes (how it waits, what the sender does when it falls behind, which transactions it
// wants). Defined once here; the sender, the wire formats and the consumer library use
// these types themselves, and where a wire enum must carry the same values it is checked
// against them with static_asserts (wire/frame.cc, wire/control_framing.cc).
//
// This header needs only the standard library and Abseil's StatusOr.
#ifndef QLASTER_TYPES_HPP_
#define QLASTER_TYPES_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace qlaster {

inline constexpr size_t kPubkeySize = 32;
inline constexpr size_t kSignatureSize = 64;

// A Solana public key (an account address, a program id, a mint) as its 32 raw bytes.
// It is a std::array, so it compares, copies and indexes like one; its text form is
// base58, as explorers, RPC and the Solana CLI print it.
struct Pubkey : std::array<uint8_t, kPubkeySize> {
  // Decodes a base58 key. kInvalidArgument for a character outside the base58 alphabet
  // (0, O, I and l are not in it; the message names the character and its position), or
  // for text that does not decode to exactly 32 bytes.
  static absl::StatusOr<Pubkey> FromBase58(std::string_view text);
  // The base58 spelling (32 to 44 characters).
  std::string ToBase58() const;

  template <typename H>
  friend H AbslHashValue(H h, const Pubkey& key) {
    return H::combine_contiguous(std::move(h), key.data(), key.size());
  }
};

// A transaction signature: 64 raw bytes, base58 as text (up to 88 characters). The first
// signature of a transaction is its id.
struct Signature : std::array<uint8_t, kSignatureSize> {
  // As Pubkey::FromBase58, for exactly 64 bytes.
  static absl::StatusOr<Signature> FromBase58(std::string_view text);
  std::string ToBase58() const;

  template <typename H>
  friend H AbslHashValue(H h, const Signature& sig) {
    return H::combine_contiguous(std::move(h), sig.data(), sig.size());
  }
};

static_assert(sizeof(Pubkey) == kPubkeySize && sizeof(Signature) == kSignatureSize);

// A slot's status, with Solana's values (and the wire's: proto/qlaster.fbs SlotStatus).
enum class SlotStatus : uint8_t {
  kProcessed = 0,
  kConfirmed = 1,
  kRooted = 2,  // finalized
  kFirstShredReceived = 3,
  kCompleted = 4,
  kCreatedBank = 5,
  kDead = 6,
};
inline constexpr uint8_t kMaxSlotStatus = 6;

// "processed", "confirmed", "rooted", ... ("unknown" for a value outside the enum).
std::string_view SlotStatusName(SlotStatus status);

// How a consumer waits for the sender.
enum class WaitMode : uint8_t {
  kSpinThenSleep = 0,  // spin for a while, then sleep on the doorbell (the default)
  kSpin = 1,           // never sleep: the lowest latency, at the cost of a busy core
  kSleep = 2,          // sleep at once: the least CPU
};

// What the sender does when a consumer's ring is full.
enum class OverflowPolicy : uint8_t {
  // Disconnect the consumer (it is told it was slow) rather than let it fall further
  // behind.
  kEvict = 0,
  // Drop updates for it, tell it how many (a gap), and keep going.
  kDropAndCount = 1,
};

// Which transactions a consumer wants.
enum class TransactionFilter : uint8_t {
  kNone = 0,     // none (the default)
  kAll = 1,      // every transaction, votes included
  kNonVote = 2,  // every transaction except votes
};

}  // namespace qlaster

#endif  // QLASTER_TYPES_HPP_
