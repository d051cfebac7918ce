// Transaction conversions to and from Yellowstone's messages (transaction_convert.h).
#include "wire/yellowstone/transaction_convert.h"

#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/base58.h"

namespace qlaster::yellowstone {
namespace {

using solana::TransactionStatus;
using solana::TransactionStatusView;
using solana::TransactionView;

std::string KeyString(absl::Span<const uint8_t> key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

// Base58 costs about a microsecond per key (base/base58.h is quadratic), and a status
// names the same few keys again and again (a mint and an owner in the pre and the post
// balances, the token program everywhere), so each conversion remembers the keys it has
// spelled or read. A handful of entries: a linear scan beats hashing.
class Base58Memo {
 public:
  const std::string& Encode(absl::Span<const uint8_t> key) {
    for (const auto& [k, text] : encoded_) {
      if (solana::KeyEquals(key, k)) return text;
    }
    return encoded_.emplace_back(solana::ToPubkey(key), Base58Encode(key)).second;
  }
  absl::StatusOr<Pubkey> Decode(absl::string_view field, const std::string& text) {
    for (const auto& [t, k] : decoded_) {
      if (t == text) return k;
    }
    absl::StatusOr<Pubkey> key = DecodePubkey(text);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("yellowstone transaction: ", field, ": ", key.status().message()));
    }
    decoded_.emplace_back(text, *key);
    return *key;
  }

 private:
  std::vector<std::pair<Pubkey, std::string>> encoded_;
  std::vector<std::pair<std::string, Pubkey>> decoded_;
};

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("yellowstone transaction: ", what));
}

// ---- To Yellowstone -----------------------------------------------------------------

void FillTokenBalance(const solana::TokenBalanceView& b, Base58Memo& memo, storage::TokenBalance* out) {
  out->set_account_index(b.account_index);
  out->set_mint(memo.Encode(b.mint));
  storage::UiTokenAmount* amount = out->mutable_ui_token_amount();
  amount->set_ui_amount(b.ui_amount);
  amount->set_decimals(b.decimals);
  amount->set_amount(absl::StrCat(b.amount));
  amount->set_ui_amount_string(std::string(b.ui_amount_string));
  if (!b.owner.empty()) out->set_owner(memo.Encode(b.owner));
  if (!b.program_id.empty()) out->set_program_id(memo.Encode(b.program_id));
}

// ---- From Yellowstone ---------------------------------------------------------------

// Copies a field that must be exactly N bytes.
template <size_t N>
absl::Status Fixed(absl::string_view field, const std::string& bytes, std::array<uint8_t, N>* out) {
  if (bytes.size() != N) {
    return Invalid(absl::StrCat(field, " is ", bytes.size(), " bytes, expected ", N));
  }
  std::memcpy(out->data(), bytes.data(), N);
  return absl::OkStatus();
}

absl::StatusOr<uint8_t> U8(absl::string_view field, uint32_t value) {
  if (value > 0xff) return Invalid(absl::StrCat(field, " ", value, " does not fit a u8"));
  return static_cast<uint8_t>(value);
}

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }


// A decimal as Rust's to_string writes an unsigned integer: digits, no sign, no leading
// zero unless the number is 0, no overflow.
template <typename T>
absl::StatusOr<T> CanonicalDecimal(absl::string_view field, const std::string& text) {
  const auto bad = [&] { return Invalid(absl::StrCat(field, " \"", text, "\" is not a decimal in range")); };
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return bad();
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<T>::max() - digit) / 10) return bad();
    v = v * 10 + digit;
  }
  return static_cast<T>(v);
}

absl::StatusOr<std::vector<solana::TokenBalance>> ToTokenBalances(
    absl::string_view which, const google::protobuf::RepeatedPtrField<storage::TokenBalance>& in,
    Base58Memo& memo) {
  if (static_cast<size_t>(in.size()) > solana::kMaxTokenBalances) {
    return Invalid(absl::StrCat(in.size(), " ", which, " token balances, over ",
                                solana::kMaxTokenBalances));
  }
  std::vector<solana::TokenBalance> out;
  out.reserve(in.size());
  for (const storage::TokenBalance& b : in) {
    solana::TokenBalance t;
    QLASTER_ASSIGN_OR_RETURN(t.account_index, U8("token balance account_index", b.account_index()));
    QLASTER_ASSIGN_OR_RETURN(t.mint, memo.Decode("token balance mint", b.mint()));
    if (!b.owner().empty()) {
      QLASTER_ASSIGN_OR_RETURN(t.owner, memo.Decode("token balance owner", b.owner()));
    }
    if (!b.program_id().empty()) {
      QLASTER_ASSIGN_OR_RETURN(t.program_id, memo.Decode("token balance program_id", b.program_id()));
    }
    if (!b.has_ui_token_amount()) return Invalid("token balance without ui_token_amount");
    const storage::UiTokenAmount& amount = b.ui_token_amount();
    QLASTER_ASSIGN_OR_RETURN(t.decimals, U8("token balance decimals", amount.decimals()));
    QLASTER_ASSIGN_OR_RETURN(t.amount, CanonicalDecimal<uint64_t>("token balance amount", amount.amount()));
    t.ui_amount = amount.ui_amount();
    if (amount.ui_amount_string().size() > solana::kMaxUiAmountStringSize) {
      return Invalid(absl::StrCat("ui_amount_string of ", amount.ui_amount_string().size(),
                                  " bytes, over ", solana::kMaxUiAmountStringSize));
    }
    t.ui_amount_string = amount.ui_amount_string();
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::vector<Pubkey>> ToKeys(absl::string_view field,
                                           const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (static_cast<size_t>(in.size()) > solana::kMaxLoadedAddresses) {
    return Invalid(absl::StrCat(in.size(), " ", field, ", over ", solana::kMaxLoadedAddresses));
  }
  std::vector<Pubkey> out(in.size());
  for (int i = 0; i < in.size(); ++i) QLASTER_RETURN_IF_ERROR(Fixed(field, in[i], &out[i]));
  return out;
}

}  // namespace

void FillTransaction(const TransactionView& tx, storage::Transaction* out) {
  out->Clear();
  for (size_t i = 0; i < tx.signature_count(); ++i) out->add_signatures(KeyString(tx.signature(i)));
  storage::Message* m = out->mutable_message();
  storage::MessageHeader* h = m->mutable_header();
  h->set_num_required_signatures(tx.header().num_required_signatures);
  h->set_num_readonly_signed_accounts(tx.header().num_readonly_signed_accounts);
  h->set_num_readonly_unsigned_accounts(tx.header().num_readonly_unsigned_accounts);
  for (size_t i = 0; i < tx.static_key_count(); ++i) m->add_account_keys(KeyString(tx.static_key(i)));
  m->set_recent_blockhash(KeyString(tx.recent_blockhash()));
  for (const solana::InstructionView& ix : tx.instructions()) {
    storage::CompiledInstruction* c = m->add_instructions();
    c->set_program_id_index(ix.program_id_index);
    c->set_accounts(KeyString(ix.accounts));
    c->set_data(KeyString(ix.data));
  }
  m->set_versioned(tx.version() != solana::MessageVersion::kLegacy);
  for (const solana::AddressTableLookupView& l : tx.address_table_lookups()) {
    storage::MessageAddressTableLookup* lookup = m->add_address_table_lookups();
    lookup->set_account_key(KeyString(l.table_key));
    lookup->set_writable_indexes(KeyString(l.writable_indexes));
    lookup->set_readonly_indexes(KeyString(l.readonly_indexes));
  }
}

void FillTransactionStatusMeta(const TransactionStatusView& s, storage::TransactionStatusMeta* out) {
  out->Clear();
  if (s.error()) out->mutable_err()->set_err(KeyString(*s.error()));
  out->set_fee(s.fee());
  for (size_t i = 0; i < s.pre_balances().size(); ++i) out->add_pre_balances(s.pre_balances()[i]);
  for (size_t i = 0; i < s.post_balances().size(); ++i) out->add_post_balances(s.post_balances()[i]);
  out->set_inner_instructions_none(!s.has_inner_instructions());
  for (const solana::InnerInstructionsView& group : s.inner_instructions()) {
    storage::InnerInstructions* g = out->add_inner_instructions();
    g->set_index(group.index);
    for (const solana::InnerInstructionView& ix : group.instructions) {
      storage::InnerInstruction* i = g->add_instructions();
      i->set_program_id_index(ix.program_id_index);
      i->set_accounts(KeyString(ix.accounts));
      i->set_data(KeyString(ix.data));
      if (ix.stack_height) i->set_stack_height(*ix.stack_height);
    }
  }
  out->set_log_messages_none(!s.has_log_messages());
  for (std::string_view line : s.log_messages()) out->add_log_messages(std::string(line));
  Base58Memo memo;
  for (const solana::TokenBalanceView& b : s.pre_token_balances()) {
    FillTokenBalance(b, memo, out->add_pre_token_balances());
  }
  for (const solana::TokenBalanceView& b : s.post_token_balances()) {
    FillTokenBalance(b, memo, out->add_post_token_balances());
  }
  for (const solana::RewardView& r : s.rewards()) {
    storage::Reward* reward = out->add_rewards();
    reward->set_pubkey(memo.Encode(r.pubkey));
    reward->set_lamports(r.lamports);
    reward->set_post_balance(r.post_balance);
    reward->set_reward_type(static_cast<storage::RewardType>(r.reward_type));
    if (r.commission) reward->set_commission(absl::StrCat(*r.commission));
    if (r.commission_bps) reward->set_commission_bps(absl::StrCat(*r.commission_bps));
  }
  const absl::Span<const uint8_t> writable = s.loaded_writable();
  for (size_t i = 0; i < writable.size(); i += kPubkeySize) {
    out->add_loaded_writable_addresses(KeyString(writable.subspan(i, kPubkeySize)));
  }
  const absl::Span<const uint8_t> readonly = s.loaded_readonly();
  for (size_t i = 0; i < readonly.size(); i += kPubkeySize) {
    out->add_loaded_readonly_addresses(KeyString(readonly.subspan(i, kPubkeySize)));
  }
  out->set_return_data_none(!s.return_data().has_value());
  if (s.return_data()) {
    out->mutable_return_data()->set_program_id(KeyString(s.return_data()->program_id));
    out->mutable_return_data()->set_data(KeyString(s.return_data()->data));
  }
  if (s.compute_units_consumed()) out->set_compute_units_consumed(*s.compute_units_consumed());
  if (s.cost_units()) out->set_cost_units(*s.cost_units());
}

absl::Status FillTransactionInfo(absl::Span<const uint8_t> transaction,
                                 absl::Span<const uint8_t> status, uint64_t index,
                                 geyser::SubscribeUpdateTransactionInfo* out) {
  QLASTER_ASSIGN_OR_RETURN(const TransactionView tx, solana::ParseTransaction(transaction));
  QLASTER_ASSIGN_OR_RETURN(const TransactionStatusView meta, solana::DecodeTransactionStatus(status));
  out->Clear();
  out->set_signature(KeyString(tx.signature(0)));
  out->set_is_vote(tx.IsSimpleVote());
  FillTransaction(tx, out->mutable_transaction());
  FillTransactionStatusMeta(meta, out->mutable_meta());
  out->set_index(index);
  return absl::OkStatus();
}

absl::Status FillUpdateTransaction(absl::Span<const uint8_t> transaction,
                                   absl::Span<const uint8_t> status, uint64_t slot,
                                   uint64_t index, geyser::SubscribeUpdateTransaction* out) {
  QLASTER_RETURN_IF_ERROR(FillTransactionInfo(transaction, status, index, out->mutable_transaction()));
  out->set_slot(slot);
  return absl::OkStatus();
}

absl::Status FillUpdateTransactionStatus(absl::Span<const uint8_t> transaction,
                                         absl::Span<const uint8_t> status, uint64_t slot,
                                         uint64_t index,
                                         geyser::SubscribeUpdateTransactionStatus* out) {
  QLASTER_ASSIGN_OR_RETURN(const TransactionView tx, solana::ParseTransaction(transaction));
  QLASTER_ASSIGN_OR_RETURN(const TransactionStatusView meta, solana::DecodeTransactionStatus(status));
  out->Clear();
  out->set_slot(slot);
  out->set_signature(KeyString(tx.signature(0)));
  out->set_is_vote(tx.IsSimpleVote());
  out->set_index(index);
  if (meta.error()) out->mutable_err()->set_err(KeyString(*meta.error()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> TransactionBytes(const storage::Transaction& in) {
  // Bound the counts before copying anything: a valid transaction fits one packet.
  constexpr size_t kMaxCount = solana::kMaxTransactionSize;
  if (static_cast<size_t>(in.signatures_size()) > kMaxCount / kSignatureSize) {
    return Invalid(absl::StrCat(in.signatures_size(), " signatures cannot fit a transaction"));
  }
  if (!in.has_message()) return Invalid("transaction without a message");
  const storage::Message& m = in.message();
  if (m.has_config()) {
    return absl::UnimplementedError(
        "yellowstone transaction: version 1 messages (config set) are not supported");
  }
  if (static_cast<size_t>(m.account_keys_size()) > kMaxCount / kPubkeySize ||
      static_cast<size_t>(m.instructions_size()) > kMaxCount ||
      static_cast<size_t>(m.address_table_lookups_size()) > kMaxCount / kPubkeySize) {
    return Invalid(absl::StrCat(m.account_keys_size(), " keys, ", m.instructions_size(),
                                " instructions, ", m.address_table_lookups_size(),
                                " lookups cannot fit a transaction"));
  }
  if (!m.versioned() && m.address_table_lookups_size() > 0) {
    return Invalid("a legacy message (versioned false) with address table lookups");
  }
  solana::Transaction tx;
  tx.version = m.versioned() ? solana::MessageVersion::kV0 : solana::MessageVersion::kLegacy;
  tx.signatures.resize(in.signatures_size());
  for (int i = 0; i < in.signatures_size(); ++i) {
    QLASTER_RETURN_IF_ERROR(Fixed("signature", in.signatures(i), &tx.signatures[i]));
  }
  if (!m.has_header()) return Invalid("message without a header");
  QLASTER_ASSIGN_OR_RETURN(tx.header.num_required_signatures,
                           U8("num_required_signatures", m.header().num_required_signatures()));
  QLASTER_ASSIGN_OR_RETURN(tx.header.num_readonly_signed_accounts,
                           U8("num_readonly_signed_accounts", m.header().num_readonly_signed_accounts()));
  QLASTER_ASSIGN_OR_RETURN(tx.header.num_readonly_unsigned_accounts,
                           U8("num_readonly_unsigned_accounts", m.header().num_readonly_unsigned_accounts()));
  tx.account_keys.resize(m.account_keys_size());
  for (int i = 0; i < m.account_keys_size(); ++i) {
    QLASTER_RETURN_IF_ERROR(Fixed("account key", m.account_keys(i), &tx.account_keys[i]));
  }
  QLASTER_RETURN_IF_ERROR(Fixed("recent_blockhash", m.recent_blockhash(), &tx.recent_blockhash));
  tx.instructions.reserve(m.instructions_size());
  for (const storage::CompiledInstruction& ix : m.instructions()) {
    solana::CompiledInstruction c;
    QLASTER_ASSIGN_OR_RETURN(c.program_id_index, U8("program_id_index", ix.program_id_index()));
    c.accounts = Bytes(ix.accounts());
    c.data = Bytes(ix.data());
    tx.instructions.push_back(std::move(c));
  }
  for (const storage::MessageAddressTableLookup& l : m.address_table_lookups()) {
    solana::AddressTableLookup lookup;
    QLASTER_RETURN_IF_ERROR(Fixed("address table key", l.account_key(), &lookup.table_key));
    lookup.writable_indexes = Bytes(l.writable_indexes());
    lookup.readonly_indexes = Bytes(l.readonly_indexes());
    tx.address_table_lookups.push_back(std::move(lookup));
  }
  // The builder re-parses what it wrote: every remaining rule is checked there.
  absl::StatusOr<std::vector<uint8_t>> bytes = solana::SerializeTransaction(tx);
  if (!bytes.ok()) return Invalid(bytes.status().message());
  return bytes;
}

absl::StatusOr<TransactionStatus> ToTransactionStatus(const storage::TransactionStatusMeta& meta) {
  TransactionStatus s;
  if (meta.has_err()) s.error = Bytes(meta.err().err());
  s.fee = meta.fee();
  if (static_cast<size_t>(meta.pre_balances_size()) > solana::kMaxBalances ||
      static_cast<size_t>(meta.post_balances_size()) > solana::kMaxBalances) {
    return Invalid(absl::StrCat(meta.pre_balances_size(), " pre and ", meta.post_balances_size(),
                                " post balances, over ", solana::kMaxBalances));
  }
  s.pre_balances.assign(meta.pre_balances().begin(), meta.pre_balances().end());
  s.post_balances.assign(meta.post_balances().begin(), meta.post_balances().end());
  Base58Memo memo;
  QLASTER_ASSIGN_OR_RETURN(s.pre_token_balances, ToTokenBalances("pre", meta.pre_token_balances(), memo));
  QLASTER_ASSIGN_OR_RETURN(s.post_token_balances, ToTokenBalances("post", meta.post_token_balances(), memo));

  if (meta.log_messages_none()) {
    if (meta.log_messages_size() > 0) return Invalid("log_messages_none with log messages");
  } else {
    if (static_cast<size_t>(meta.log_messages_size()) > solana::kMaxLogMessages) {
      return Invalid(absl::StrCat(meta.log_messages_size(), " log messages, over ",
                                  solana::kMaxLogMessages));
    }
    s.log_messages.emplace(meta.log_messages().begin(), meta.log_messages().end());
  }

  if (meta.inner_instructions_none()) {
    if (meta.inner_instructions_size() > 0) {
      return Invalid("inner_instructions_none with inner instructions");
    }
  } else {
    s.inner_instructions.emplace();
    size_t total = 0;
    for (const storage::InnerInstructions& group : meta.inner_instructions()) {
      total += 1 + group.instructions_size();
      if (total > solana::kMaxInnerInstructions) {
        return Invalid(absl::StrCat("over ", solana::kMaxInnerInstructions, " inner instructions"));
      }
      solana::InnerInstructions g;
      QLASTER_ASSIGN_OR_RETURN(g.index, U8("inner instructions index", group.index()));
      for (const storage::InnerInstruction& ix : group.instructions()) {
        solana::InnerInstruction i;
        QLASTER_ASSIGN_OR_RETURN(i.program_id_index,
                                 U8("inner instruction program_id_index", ix.program_id_index()));
        i.accounts = Bytes(ix.accounts());
        i.data = Bytes(ix.data());
        if (ix.has_stack_height()) i.stack_height = ix.stack_height();
        g.instructions.push_back(std::move(i));
      }
      s.inner_instructions->push_back(std::move(g));
    }
  }

  if (static_cast<size_t>(meta.rewards_size()) > solana::kMaxRewards) {
    return Invalid(absl::StrCat(meta.rewards_size(), " rewards, over ", solana::kMaxRewards));
  }
  for (const storage::Reward& r : meta.rewards()) {
    solana::Reward reward;
    QLASTER_ASSIGN_OR_RETURN(reward.pubkey, memo.Decode("reward pubkey", r.pubkey()));
    reward.lamports = r.lamports();
    reward.post_balance = r.post_balance();
    if (r.reward_type() < 0 || r.reward_type() > static_cast<int>(solana::RewardType::kDeactivatedStake)) {
      return Invalid(absl::StrCat("reward_type ", r.reward_type(), " is not 0-5"));
    }
    reward.reward_type = static_cast<solana::RewardType>(r.reward_type());
    if (!r.commission().empty()) {
      QLASTER_ASSIGN_OR_RETURN(reward.commission, CanonicalDecimal<uint8_t>("reward commission", r.commission()));
    }
    if (!r.commission_bps().empty()) {
      QLASTER_ASSIGN_OR_RETURN(reward.commission_bps,
                               CanonicalDecimal<uint16_t>("reward commission_bps", r.commission_bps()));
    }
    s.rewards.push_back(reward);
  }

  QLASTER_ASSIGN_OR_RETURN(s.loaded_writable_addresses,
                           ToKeys("loaded writable address", meta.loaded_writable_addresses()));
  QLASTER_ASSIGN_OR_RETURN(s.loaded_readonly_addresses,
                           ToKeys("loaded readonly address", meta.loaded_readonly_addresses()));

  if (meta.return_data_none()) {
    if (meta.has_return_data()) return Invalid("return_data_none with return data");
  } else if (meta.has_return_data()) {
    // A server older than the field sends neither; that reads as absent.
    solana::ReturnData data;
    QLASTER_RETURN_IF_ERROR(Fixed("return data program_id", meta.return_data().program_id(), &data.program_id));
    data.data = Bytes(meta.return_data().data());
    s.return_data = std::move(data);
  }
  if (meta.has_compute_units_consumed()) s.compute_units_consumed = meta.compute_units_consumed();
  if (meta.has_cost_units()) s.cost_units = meta.cost_units();
  return s;
}

absl::StatusOr<TransactionRecord> FromTransactionInfo(const geyser::SubscribeUpdateTransactionInfo& info) {
  if (!info.has_transaction()) return Invalid("update without a transaction");
  if (!info.has_meta()) return Invalid("update without a meta");
  TransactionRecord record;
  QLASTER_ASSIGN_OR_RETURN(record.transaction, TransactionBytes(info.transaction()));
  // Parsing our own output cannot fail; the view gives the counts to check against.
  QLASTER_ASSIGN_OR_RETURN(const TransactionView tx, solana::ParseTransaction(record.transaction));
  QLASTER_RETURN_IF_ERROR(Fixed("signature", info.signature(), &record.signature));
  if (std::memcmp(record.signature.data(), tx.signature(0).data(), kSignatureSize) != 0) {
    return Invalid("signature is not the transaction's first signature");
  }
  QLASTER_ASSIGN_OR_RETURN(const TransactionStatus status, ToTransactionStatus(info.meta()));
  if (status.loaded_writable_addresses.size() != tx.loaded_writable_count() ||
      status.loaded_readonly_addresses.size() != tx.loaded_readonly_count()) {
    return Invalid(absl::StrCat(status.loaded_writable_addresses.size(), " writable and ",
                                status.loaded_readonly_addresses.size(),
                                " readonly loaded addresses, the lookups select ",
                                tx.loaded_writable_count(), " and ", tx.loaded_readonly_count()));
  }
  absl::StatusOr<std::vector<uint8_t>> encoded = solana::EncodeTransactionStatus(status);
  if (!encoded.ok()) return Invalid(encoded.status().message());
  record.status = *std::move(encoded);
  record.is_vote = info.is_vote();
  record.failed = status.error.has_value();
  record.index = info.index();
  return record;
}

absl::StatusOr<SlotTransactionRecord> FromUpdateTransaction(const geyser::SubscribeUpdateTransaction& update) {
  if (!update.has_transaction()) return Invalid("update without transaction info");
  SlotTransactionRecord out;
  out.slot = update.slot();
  QLASTER_ASSIGN_OR_RETURN(out.record, FromTransactionInfo(update.transaction()));
  return out;
}

}  // namespace qlaster::yellowstone
