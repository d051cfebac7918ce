// The transaction parser, its accessors and the builder (transaction.h).
#include "wire/solana/transaction.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "wire/solana/programs.h"

namespace qlaster::solana {
namespace {

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("solana transaction: ", what));
}

// Reads the untrusted bytes front to back; every read is bounds-checked.
class Reader {
 public:
  explicit Reader(absl::Span<const uint8_t> bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  const uint8_t* position() const { return p_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  absl::Status CompactU16(absl::string_view field, uint16_t* value) {
    const size_t used = DecodeCompactU16(absl::MakeConstSpan(p_, remaining()), value);
    if (used == 0) {
      return Corrupt(absl::StrCat(field, ": truncated, overlong or over 0xffff compact-u16"));
    }
    p_ += used;
    return absl::OkStatus();
  }

  absl::Status Byte(absl::string_view field, uint8_t* value) {
    if (p_ == end_) return Corrupt(absl::StrCat(field, ": truncated"));
    *value = *p_++;
    return absl::OkStatus();
  }

  // Skips `n` bytes, returning where they start.
  absl::Status Bytes(absl::string_view field, size_t n, const uint8_t** start) {
    if (n > remaining()) {
      return Corrupt(absl::StrCat(field, ": ", n, " bytes declared, ", remaining(), " left"));
    }
    *start = p_;
    p_ += n;
    return absl::OkStatus();
  }

  // A compact-u16 length followed by that many bytes.
  absl::Status LengthPrefixed(absl::string_view field, absl::Span<const uint8_t>* out) {
    uint16_t n = 0;
    QLASTER_RETURN_IF_ERROR(CompactU16(field, &n));
    const uint8_t* start = nullptr;
    QLASTER_RETURN_IF_ERROR(Bytes(field, n, &start));
    *out = absl::MakeConstSpan(start, n);
    return absl::OkStatus();
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Decodes a compact-u16 that ParseTransaction already validated; returns the byte after.
const uint8_t* SkipCompactU16(const uint8_t* p, uint16_t* value) {
  uint32_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = *p++;
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
  }
  *value = static_cast<uint16_t>(v);
  return p;
}

// A validated compact-u16 length and the bytes it counts.
const uint8_t* TakeSpan(const uint8_t* p, absl::Span<const uint8_t>* out) {
  uint16_t n = 0;
  p = SkipCompactU16(p, &n);
  *out = absl::MakeConstSpan(p, n);
  return p + n;
}

}  // namespace

size_t DecodeCompactU16(absl::Span<const uint8_t> bytes, uint16_t* value) {
  uint32_t v = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (i >= bytes.size()) return 0;
    const uint8_t b = bytes[i];
    // A continuation byte of zero adds nothing: a shorter encoding exists.
    if (i > 0 && b == 0) return 0;
    if (i == 2 && b > 0x03) return 0;  // beyond 16 bits (or a fourth byte)
    v |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *value = static_cast<uint16_t>(v);
      return i + 1;
    }
  }
  return 0;
}

void AppendCompactU16(uint32_t value, std::vector<uint8_t>& out) {
  do {
    uint8_t b = value & 0x7f;
    value >>= 7;
    if (value != 0) b |= 0x80;
    out.push_back(b);
  } while (value != 0);
}

template <>
const uint8_t* SectionRange<InstructionView>::Decode(const uint8_t* p, InstructionView* out) {
  out->program_id_index = *p++;
  return TakeSpan(TakeSpan(p, &out->accounts), &out->data);
}

template <>
const uint8_t* SectionRange<AddressTableLookupView>::Decode(const uint8_t* p,
                                                             AddressTableLookupView* out) {
  out->table_key = absl::MakeConstSpan(p, kPubkeySize);
  return TakeSpan(TakeSpan(p + kPubkeySize, &out->writable_indexes), &out->readonly_indexes);
}

absl::StatusOr<TransactionView> ParseTransaction(absl::Span<const uint8_t> bytes) {
  if (bytes.size() > kMaxTransactionSize) {
    return Corrupt(absl::StrCat(bytes.size(), " bytes, over Solana's ", kMaxTransactionSize,
                                "-byte packet limit"));
  }
  TransactionView view;
  view.bytes_ = bytes;
  Reader r(bytes);

  QLASTER_RETURN_IF_ERROR(r.CompactU16("signature count", &view.signature_count_));
  QLASTER_RETURN_IF_ERROR(
      r.Bytes("signatures", size_t{view.signature_count_} * kSignatureSize, &view.signatures_));

  const uint8_t* message_start = r.position();
  uint8_t first = 0;
  QLASTER_RETURN_IF_ERROR(r.Byte("message", &first));
  if (first & 0x80) {
    const uint8_t version = first & 0x7f;
    if (version != 0) {
      return Corrupt(absl::StrCat("message version ", version, " is not supported (only 0)"));
    }
    view.version_ = MessageVersion::kV0;
    QLASTER_RETURN_IF_ERROR(
        r.Byte("header num_required_signatures", &view.header_.num_required_signatures));
  } else {
    view.header_.num_required_signatures = first;
  }
  QLASTER_RETURN_IF_ERROR(
      r.Byte("header num_readonly_signed_accounts", &view.header_.num_readonly_signed_accounts));
  QLASTER_RETURN_IF_ERROR(r.Byte("header num_readonly_unsigned_accounts",
                                          &view.header_.num_readonly_unsigned_accounts));
  const MessageHeader& h = view.header_;
  if (h.num_required_signatures != view.signature_count_) {
    return Corrupt(absl::StrCat(view.signature_count_, " signatures, header requires ",
                                h.num_required_signatures));
  }
  if (h.num_readonly_signed_accounts >= h.num_required_signatures) {
    return Corrupt(absl::StrCat("header num_readonly_signed_accounts ",
                                h.num_readonly_signed_accounts, " leaves no writable fee payer among ",
                                h.num_required_signatures, " signers"));
  }

  QLASTER_RETURN_IF_ERROR(r.CompactU16("account key count", &view.static_key_count_));
  QLASTER_RETURN_IF_ERROR(r.Bytes(
      "account keys", size_t{view.static_key_count_} * kPubkeySize, &view.static_keys_));
  const size_t static_count = view.static_key_count_;
  if (size_t{h.num_required_signatures} + h.num_readonly_unsigned_accounts > static_count) {
    return Corrupt(absl::StrCat("header counts ", h.num_required_signatures, " signers + ",
                                h.num_readonly_unsigned_accounts, " read-only unsigned exceed ",
                                static_count, " account keys"));
  }
  QLASTER_RETURN_IF_ERROR(r.Bytes("recent blockhash", kHashSize, &view.recent_blockhash_));

  // Instructions: indexes are checked once the lookups have told how many accounts exist.
  QLASTER_RETURN_IF_ERROR(r.CompactU16("instruction count", &view.instruction_count_));
  view.instructions_ = r.position();
  uint8_t min_program = 0xff;
  uint8_t max_program = 0;
  int max_account = -1;
  for (size_t i = 0; i < view.instruction_count_; ++i) {
    uint8_t program = 0;
    QLASTER_RETURN_IF_ERROR(r.Byte("instruction program_id_index", &program));
    min_program = std::min(min_program, program);
    max_program = std::max(max_program, program);
    absl::Span<const uint8_t> accounts;
    QLASTER_RETURN_IF_ERROR(r.LengthPrefixed("instruction accounts", &accounts));
    for (uint8_t a : accounts) max_account = std::max(max_account, int{a});
    absl::Span<const uint8_t> data;
    QLASTER_RETURN_IF_ERROR(r.LengthPrefixed("instruction data", &data));
  }

  if (view.version_ == MessageVersion::kV0) {
    QLASTER_RETURN_IF_ERROR(r.CompactU16("address table lookup count", &view.lookup_count_));
    view.lookups_ = r.position();
    size_t writable = 0;
    size_t readonly = 0;
    for (size_t i = 0; i < view.lookup_count_; ++i) {
      const uint8_t* key = nullptr;
      QLASTER_RETURN_IF_ERROR(r.Bytes("address table lookup key", kPubkeySize, &key));
      absl::Span<const uint8_t> w;
      absl::Span<const uint8_t> ro;
      QLASTER_RETURN_IF_ERROR(r.LengthPrefixed("address table lookup writable indexes", &w));
      QLASTER_RETURN_IF_ERROR(r.LengthPrefixed("address table lookup readonly indexes", &ro));
      if (w.empty() && ro.empty()) {
        return Corrupt(absl::StrCat("address table lookup ", i, " loads no account"));
      }
      writable += w.size();
      readonly += ro.size();
      if (static_count + writable + readonly > kMaxAccounts) break;  // reported below
    }
    if (static_count + writable + readonly > kMaxAccounts) {
      return Corrupt(absl::StrCat("more than ", kMaxAccounts, " accounts (", static_count,
                                  " static + ", writable + readonly, " loaded)"));
    }
    view.loaded_writable_count_ = static_cast<uint16_t>(writable);
    view.loaded_readonly_count_ = static_cast<uint16_t>(readonly);
  } else if (static_count > kMaxAccounts) {
    return Corrupt(absl::StrCat(static_count, " account keys, over ", kMaxAccounts));
  }
  if (r.remaining() != 0) return Corrupt(absl::StrCat(r.remaining(), " trailing bytes"));
  view.message_ = absl::MakeConstSpan(message_start, r.position() - message_start);

  if (view.instruction_count_ > 0) {
    if (min_program == 0) return Corrupt("instruction program_id_index 0 is the fee payer");
    if (max_program >= static_count) {
      return Corrupt(absl::StrCat("instruction program_id_index ", max_program, " >= ",
                                  static_count, " static account keys"));
    }
    if (max_account >= 0 && static_cast<size_t>(max_account) >= view.account_count()) {
      return Corrupt(absl::StrCat("instruction account index ", max_account, " >= ",
                                  view.account_count(), " accounts"));
    }
  }
  return view;
}

bool TransactionView::IsWritable(size_t index) const {
  const size_t signers = header_.num_required_signatures;
  if (index < signers) return index < signers - header_.num_readonly_signed_accounts;
  if (index < static_key_count_) {
    return index < size_t{static_key_count_} - header_.num_readonly_unsigned_accounts;
  }
  return index < size_t{static_key_count_} + loaded_writable_count_;
}

bool TransactionView::InvokesProgram(const Pubkey& program) const {
  for (const InstructionView& ix : instructions()) {
    if (KeyEquals(static_key(ix.program_id_index), program)) return true;
  }
  return false;
}

bool TransactionView::IsSimpleVote() const {
  if (version_ != MessageVersion::kLegacy || signature_count_ >= 3 || instruction_count_ != 1) {
    return false;
  }
  return KeyEquals(static_key((*instructions().begin()).program_id_index), kVoteProgram);
}

absl::StatusOr<std::vector<uint8_t>> SerializeMessage(const Transaction& tx) {
  const auto too_many = [](absl::string_view what, size_t n) {
    return absl::InvalidArgumentError(
        absl::StrCat("solana transaction: ", n, " ", what, " do not fit a compact-u16"));
  };
  if (tx.account_keys.size() > kMaxCompactU16) return too_many("account keys", tx.account_keys.size());
  if (tx.instructions.size() > kMaxCompactU16) return too_many("instructions", tx.instructions.size());
  if (tx.address_table_lookups.size() > kMaxCompactU16) {
    return too_many("address table lookups", tx.address_table_lookups.size());
  }
  if (tx.version == MessageVersion::kLegacy && !tx.address_table_lookups.empty()) {
    return absl::InvalidArgumentError("solana transaction: a legacy message has no lookups");
  }
  std::vector<uint8_t> out;
  out.reserve(64 + tx.account_keys.size() * kPubkeySize + 64 * tx.instructions.size());
  if (tx.version == MessageVersion::kV0) out.push_back(0x80);
  out.push_back(tx.header.num_required_signatures);
  out.push_back(tx.header.num_readonly_signed_accounts);
  out.push_back(tx.header.num_readonly_unsigned_accounts);
  AppendCompactU16(static_cast<uint32_t>(tx.account_keys.size()), out);
  for (const Pubkey& key : tx.account_keys) out.insert(out.end(), key.begin(), key.end());
  out.insert(out.end(), tx.recent_blockhash.begin(), tx.recent_blockhash.end());
  const auto append_bytes = [&](absl::string_view what,
                                const std::vector<uint8_t>& bytes) -> absl::Status {
    if (bytes.size() > kMaxCompactU16) return too_many(what, bytes.size());
    AppendCompactU16(static_cast<uint32_t>(bytes.size()), out);
    out.insert(out.end(), bytes.begin(), bytes.end());
    return absl::OkStatus();
  };
  AppendCompactU16(static_cast<uint32_t>(tx.instructions.size()), out);
  for (const CompiledInstruction& ix : tx.instructions) {
    out.push_back(ix.program_id_index);
    QLASTER_RETURN_IF_ERROR(append_bytes("instruction accounts", ix.accounts));
    QLASTER_RETURN_IF_ERROR(append_bytes("instruction data bytes", ix.data));
  }
  if (tx.version == MessageVersion::kV0) {
    AppendCompactU16(static_cast<uint32_t>(tx.address_table_lookups.size()), out);
    for (const AddressTableLookup& lookup : tx.address_table_lookups) {
      out.insert(out.end(), lookup.table_key.begin(), lookup.table_key.end());
      QLASTER_RETURN_IF_ERROR(append_bytes("writable indexes", lookup.writable_indexes));
      QLASTER_RETURN_IF_ERROR(append_bytes("readonly indexes", lookup.readonly_indexes));
    }
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> SerializeTransaction(const Transaction& tx) {
  if (tx.signatures.size() > kMaxCompactU16) {
    return absl::InvalidArgumentError(
        absl::StrCat("solana transaction: ", tx.signatures.size(), " signatures"));
  }
  absl::StatusOr<std::vector<uint8_t>> message = SerializeMessage(tx);
  if (!message.ok()) return message.status();
  std::vector<uint8_t> out;
  out.reserve(3 + tx.signatures.size() * kSignatureSize + message->size());
  AppendCompactU16(static_cast<uint32_t>(tx.signatures.size()), out);
  for (const Signature& s : tx.signatures) out.insert(out.end(), s.begin(), s.end());
  out.insert(out.end(), message->begin(), message->end());
  absl::StatusOr<TransactionView> check = ParseTransaction(out);
  if (!check.ok()) return absl::InvalidArgumentError(check.status().message());
  return out;
}

Transaction ToTransaction(const TransactionView& view) {
  Transaction tx;
  tx.signatures.resize(view.signature_count());
  for (size_t i = 0; i < view.signature_count(); ++i) {
    std::memcpy(tx.signatures[i].data(), view.signature(i).data(), kSignatureSize);
  }
  tx.version = view.version();
  tx.header = view.header();
  tx.account_keys.reserve(view.static_key_count());
  for (size_t i = 0; i < view.static_key_count(); ++i) {
    tx.account_keys.push_back(ToPubkey(view.static_key(i)));
  }
  std::memcpy(tx.recent_blockhash.data(), view.recent_blockhash().data(), kHashSize);
  tx.instructions.reserve(view.instruction_count());
  for (const InstructionView& ix : view.instructions()) {
    tx.instructions.push_back(
        {ix.program_id_index, {ix.accounts.begin(), ix.accounts.end()}, {ix.data.begin(), ix.data.end()}});
  }
  for (const AddressTableLookupView& l : view.address_table_lookups()) {
    tx.address_table_lookups.push_back({ToPubkey(l.table_key),
                                        {l.writable_indexes.begin(), l.writable_indexes.end()},
                                        {l.readonly_indexes.begin(), l.readonly_indexes.end()}});
  }
  return tx;
}

}  // namespace qlaster::solana
