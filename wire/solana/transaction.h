// Solana transactions in their wire format: a validating zero-copy parser
// (ParseTransaction -> TransactionView), the accessors a filter needs, and a builder
// (SerializeTransaction) that writes the same format from owned parts.
//
// A serialized transaction is
//
//   compact-u16 n | n x 64-byte signature | message
//
// and the message, legacy or versioned (first byte 0x80 | version; only version 0 exists
// on mainnet), is
//
//   [0x80 | version]                            versioned messages only
//   header: u8 num_required_signatures, u8 num_readonly_signed, u8 num_readonly_unsigned
//   compact-u16 k | k x 32-byte static account key
//   32-byte recent blockhash
//   compact-u16 i | i x instruction:
//       u8 program_id_index | compact-u16 a | a x u8 account index | compact-u16 d | d bytes
//   compact-u16 l | l x address table lookup:      version 0 only
//       32-byte table key | compact-u16 w | w x u8 index | compact-u16 r | r x u8 index
//
// A compact-u16 is 1 to 3 bytes, 7 bits per byte, low bits first, the high bit of each
// byte saying another follows; only the shortest encoding of a value is valid (Solana's
// short_vec). Account indexes address the account list of the message: the static keys
// in order, then every lookup's writable entries, then every lookup's read-only entries.
//
// ParseTransaction enforces what Solana's sanitizer does for the structure, so that a
// view it returns can be read without further checks: the packet size limit, the
// signature count equal to num_required_signatures, a writable fee payer, header counts
// within the static keys, every program and account index within the keys that exist
// (programs among the static keys, never the fee payer), at most 256 accounts, no empty
// lookup, no trailing bytes. It does not verify signatures, check that keys are distinct,
// or resolve lookup tables (the resolved keys travel in the transaction status,
// wire/solana/transaction_status.h).
//
// All functions are pure and thread-safe. Views point into the bytes they were parsed
// from and are valid only while those bytes are.
#ifndef QLASTER_WIRE_SOLANA_TRANSACTION_H_
#define QLASTER_WIRE_SOLANA_TRANSACTION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "wire/solana/section_range.h"
#include "wire/types.h"

namespace qlaster::solana {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// Solana's limits (PACKET_DATA_SIZE; u8 account indexes).
inline constexpr size_t kMaxTransactionSize = 1232;
inline constexpr size_t kMaxAccounts = 256;
// Largest value a compact-u16 holds.
inline constexpr uint32_t kMaxCompactU16 = 0xffff;

// Decodes a compact-u16 at the start of `bytes` into `*value` and returns the number of
// bytes it used (1 to 3), or 0 if the bytes are truncated, overlong (not the shortest
// encoding) or the value exceeds 0xffff.
size_t DecodeCompactU16(absl::Span<const uint8_t> bytes, uint16_t* value);
// Appends the shortest encoding of `value` (REQUIRES: value <= kMaxCompactU16).
void AppendCompactU16(uint32_t value, std::vector<uint8_t>& out);

enum class MessageVersion : uint8_t { kLegacy = 0, kV0 = 1 };

struct MessageHeader {
  uint8_t num_required_signatures = 0;
  uint8_t num_readonly_signed_accounts = 0;
  uint8_t num_readonly_unsigned_accounts = 0;

  friend bool operator==(const MessageHeader&, const MessageHeader&) = default;
};

// True when `key` (32 bytes) is `pubkey`.
inline bool KeyEquals(absl::Span<const uint8_t> key, const Pubkey& pubkey) {
  return key.size() == kPubkeySize && std::memcmp(key.data(), pubkey.data(), kPubkeySize) == 0;
}
inline Pubkey ToPubkey(absl::Span<const uint8_t> key) {  // REQUIRES: key.size() == 32
  Pubkey out;
  std::memcpy(out.data(), key.data(), kPubkeySize);
  return out;
}

// One compiled instruction of a parsed message; spans point into the transaction.
struct InstructionView {
  uint8_t program_id_index = 0;
  absl::Span<const uint8_t> accounts;  // u8 indexes into the message's accounts
  absl::Span<const uint8_t> data;
};

// One address table lookup of a parsed v0 message.
struct AddressTableLookupView {
  absl::Span<const uint8_t> table_key;  // 32 bytes
  absl::Span<const uint8_t> writable_indexes;
  absl::Span<const uint8_t> readonly_indexes;
};

using InstructionRange = SectionRange<InstructionView>;
using AddressTableLookupRange = SectionRange<AddressTableLookupView>;
template <>
const uint8_t* InstructionRange::Decode(const uint8_t* p, InstructionView* out);
template <>
const uint8_t* AddressTableLookupRange::Decode(const uint8_t* p, AddressTableLookupView* out);

// A transaction parsed in place. Cheap to copy (pointers and counts).
class TransactionView {
 public:
  // The whole serialized transaction, and the message alone (what the signatures sign).
  absl::Span<const uint8_t> bytes() const { return bytes_; }
  absl::Span<const uint8_t> message() const { return message_; }

  // At least 1: a valid message requires a fee payer's signature.
  size_t signature_count() const { return signature_count_; }
  absl::Span<const uint8_t> signature(size_t i) const {  // 64 bytes; REQUIRES: i < count
    return absl::MakeConstSpan(signatures_ + i * kSignatureSize, kSignatureSize);
  }
  // The transaction's id: its first signature.
  Signature first_signature() const {
    Signature out;
    std::memcpy(out.data(), signatures_, kSignatureSize);
    return out;
  }

  MessageVersion version() const { return version_; }
  const MessageHeader& header() const { return header_; }

  size_t static_key_count() const { return static_key_count_; }
  // The static keys as one run of static_key_count() x 32 bytes, in message order.
  absl::Span<const uint8_t> static_keys() const {
    return absl::MakeConstSpan(static_keys_, static_key_count_ * kPubkeySize);
  }
  absl::Span<const uint8_t> static_key(size_t i) const {  // REQUIRES: i < static_key_count()
    return absl::MakeConstSpan(static_keys_ + i * kPubkeySize, kPubkeySize);
  }
  // The fee payer: static key 0.
  absl::Span<const uint8_t> fee_payer() const { return static_key(0); }
  absl::Span<const uint8_t> recent_blockhash() const {
    return absl::MakeConstSpan(recent_blockhash_, kHashSize);
  }

  InstructionRange instructions() const { return {instructions_, instruction_count_}; }
  size_t instruction_count() const { return instruction_count_; }
  // Empty for legacy messages.
  AddressTableLookupRange address_table_lookups() const { return {lookups_, lookup_count_}; }
  size_t address_table_lookup_count() const { return lookup_count_; }

  // Accounts the lookups load (their resolved keys are not in the transaction).
  size_t loaded_writable_count() const { return loaded_writable_count_; }
  size_t loaded_readonly_count() const { return loaded_readonly_count_; }
  // Static plus loaded: the length of the account list indexes refer to. <= 256.
  size_t account_count() const {
    return static_key_count_ + loaded_writable_count_ + loaded_readonly_count_;
  }

  // What the header (and, for loaded accounts, the lookup section) says of account
  // `index` (REQUIRES: index < account_count()). The runtime further demotes invoked
  // programs and reserved accounts to read-only; that needs more than the transaction.
  bool IsSigner(size_t index) const { return index < header_.num_required_signatures; }
  bool IsWritable(size_t index) const;

  // True when an instruction's program is `program` (programs are always static keys).
  bool InvokesProgram(const Pubkey& program) const;
  // Agave's "simple vote transaction", which is what Yellowstone's `is_vote` reports: a
  // legacy message with 1 or 2 signatures and exactly one instruction, to the Vote
  // program.
  bool IsSimpleVote() const;

 private:
  friend absl::StatusOr<TransactionView> ParseTransaction(absl::Span<const uint8_t> bytes);

  absl::Span<const uint8_t> bytes_;
  absl::Span<const uint8_t> message_;
  const uint8_t* signatures_ = nullptr;
  const uint8_t* static_keys_ = nullptr;
  const uint8_t* recent_blockhash_ = nullptr;
  const uint8_t* instructions_ = nullptr;
  const uint8_t* lookups_ = nullptr;
  uint16_t signature_count_ = 0;
  uint16_t static_key_count_ = 0;
  uint16_t instruction_count_ = 0;
  uint16_t lookup_count_ = 0;
  uint16_t loaded_writable_count_ = 0;
  uint16_t loaded_readonly_count_ = 0;
  MessageVersion version_ = MessageVersion::kLegacy;
  MessageHeader header_;
};

// Parses and validates one serialized transaction. `bytes` is untrusted: any violation
// is kDataLoss naming the field and the values ("solana transaction: ..."). Does not
// allocate. The view points into `bytes`.
absl::StatusOr<TransactionView> ParseTransaction(absl::Span<const uint8_t> bytes);

// Owned parts of a transaction, for building one (the synthetic feed, tests, the
// Yellowstone conversion) and for comparing.
struct CompiledInstruction {
  uint8_t program_id_index = 0;
  std::vector<uint8_t> accounts;
  std::vector<uint8_t> data;

  friend bool operator==(const CompiledInstruction&, const CompiledInstruction&) = default;
};

struct AddressTableLookup {
  Pubkey table_key{};
  std::vector<uint8_t> writable_indexes;
  std::vector<uint8_t> readonly_indexes;

  friend bool operator==(const AddressTableLookup&, const AddressTableLookup&) = default;
};

struct Transaction {
  std::vector<Signature> signatures;
  MessageVersion version = MessageVersion::kLegacy;
  MessageHeader header;
  std::vector<Pubkey> account_keys;  // the static keys
  Hash recent_blockhash{};
  std::vector<CompiledInstruction> instructions;
  std::vector<AddressTableLookup> address_table_lookups;  // v0 only

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// The serialized message alone (what each signature signs). kInvalidArgument if a count
// does not fit a compact-u16 or a legacy message has lookups; no other checks.
absl::StatusOr<std::vector<uint8_t>> SerializeMessage(const Transaction& tx);

// The serialized transaction, checked by ParseTransaction: anything it would reject is
// kInvalidArgument with the same description.
absl::StatusOr<std::vector<uint8_t>> SerializeTransaction(const Transaction& tx);

// An owned copy of a parsed transaction (allocates).
Transaction ToTransaction(const TransactionView& view);

}  // namespace qlaster::solana

#endif  // QLASTER_WIRE_SOLANA_TRANSACTION_H_
