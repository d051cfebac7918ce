#include "grpc_server/request_convert.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "base/status_macros.h"

namespace qlaster::grpc_endpoint {
namespace {

absl::Status Named(const absl::Status& s, const std::string& what) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", std::string(s.message())));
}

absl::StatusOr<std::vector<Pubkey>> Keys(const google::protobuf::RepeatedPtrField<std::string>& in,
                                         const std::string& what) {
  std::vector<Pubkey> out;
  out.reserve(in.size());
  for (const std::string& text : in) {
    absl::StatusOr<Pubkey> key = DecodePubkey(text);
    if (!key.ok()) return Named(key.status(), absl::StrCat(what, " '", text.substr(0, 100), "'"));
    out.push_back(*key);
  }
  return out;
}

absl::StatusOr<Commitment> ToCommitment(int value) {
  switch (value) {
    case geyser::PROCESSED: return Commitment::kProcessed;
    case geyser::CONFIRMED: return Commitment::kConfirmed;
    case geyser::FINALIZED: return Commitment::kFinalized;
    default: return absl::InvalidArgumentError(absl::StrCat("commitment: unknown value ", value));
  }
}

absl::StatusOr<AccountFilter> ToAccountFilter(const geyser::SubscribeRequestFilterAccounts& in,
                                              const std::string& prefix) {
  if (in.has_cuckoo_accounts_filter()) {
    return absl::UnimplementedError(absl::StrCat(prefix, ": cuckoo_accounts_filter is not supported"));
  }
  AccountFilter out;
  QLASTER_ASSIGN_OR_RETURN(out.pubkeys, Keys(in.account(), absl::StrCat(prefix, ".account")));
  QLASTER_ASSIGN_OR_RETURN(out.owners, Keys(in.owner(), absl::StrCat(prefix, ".owner")));
  if (in.has_nonempty_txn_signature()) out.nonempty_txn_signature = in.nonempty_txn_signature();
  for (int i = 0; i < in.filters_size(); ++i) {
    const auto& f = in.filters(i);
    const std::string where = absl::StrCat(prefix, ".filters[", i, "]");
    switch (f.filter_case()) {
      case geyser::SubscribeRequestFilterAccountsFilter::kMemcmp: {
        Memcmp m;
        m.offset = f.memcmp().offset();
        switch (f.memcmp().data_case()) {
          case geyser::SubscribeRequestFilterAccountsFilterMemcmp::kBytes:
            m.bytes.assign(f.memcmp().bytes().begin(), f.memcmp().bytes().end());
            break;
          case geyser::SubscribeRequestFilterAccountsFilterMemcmp::kBase58: {
            absl::StatusOr<std::vector<uint8_t>> b = Base58Decode(f.memcmp().base58());
            if (!b.ok()) return Named(b.status(), absl::StrCat(where, ".memcmp.base58"));
            m.bytes = std::move(*b);
            break;
          }
          case geyser::SubscribeRequestFilterAccountsFilterMemcmp::kBase64: {
            std::string raw;
            if (!absl::Base64Unescape(f.memcmp().base64(), &raw)) {
              return absl::InvalidArgumentError(absl::StrCat(where, ".memcmp.base64: not base64"));
            }
            m.bytes.assign(raw.begin(), raw.end());
            break;
          }
          default:
            return absl::InvalidArgumentError(absl::StrCat(where, ".memcmp: no data"));
        }
        out.memcmp.push_back(std::move(m));
        break;
      }
      case geyser::SubscribeRequestFilterAccountsFilter::kDatasize:
        if (out.datasize.has_value()) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": datasize given twice"));
        }
        out.datasize = f.datasize();
        break;
      case geyser::SubscribeRequestFilterAccountsFilter::kTokenAccountState:
        out.token_account_state = out.token_account_state || f.token_account_state();
        break;
      case geyser::SubscribeRequestFilterAccountsFilter::kLamports: {
        LamportsFilter l;
        const auto& c = f.lamports();
        switch (c.cmp_case()) {
          case geyser::SubscribeRequestFilterAccountsFilterLamports::kEq: l = {LamportsOp::kEq, c.eq()}; break;
          case geyser::SubscribeRequestFilterAccountsFilterLamports::kNe: l = {LamportsOp::kNe, c.ne()}; break;
          case geyser::SubscribeRequestFilterAccountsFilterLamports::kLt: l = {LamportsOp::kLt, c.lt()}; break;
          case geyser::SubscribeRequestFilterAccountsFilterLamports::kGt: l = {LamportsOp::kGt, c.gt()}; break;
          default:
            return absl::InvalidArgumentError(absl::StrCat(where, ".lamports: no comparison"));
        }
        out.lamports.push_back(l);
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat(where, ": no filter"));
    }
  }
  return out;
}

absl::StatusOr<TransactionSelector> ToSelector(const geyser::SubscribeRequestFilterTransactions& in,
                                               const std::string& prefix) {
  if (in.has_cuckoo_account_include()) {
    return absl::UnimplementedError(absl::StrCat(prefix, ": cuckoo_account_include is not supported"));
  }
  TransactionSelector out;
  if (in.has_vote()) out.vote = in.vote();
  if (in.has_failed()) out.failed = in.failed();
  if (in.has_signature()) {
    absl::StatusOr<Signature> sig = DecodeSignature(in.signature());
    if (!sig.ok()) return Named(sig.status(), absl::StrCat(prefix, ".signature"));
    out.signature = *sig;
  }
  QLASTER_ASSIGN_OR_RETURN(out.account_include,
                           Keys(in.account_include(), absl::StrCat(prefix, ".account_include")));
  QLASTER_ASSIGN_OR_RETURN(out.account_exclude,
                           Keys(in.account_exclude(), absl::StrCat(prefix, ".account_exclude")));
  QLASTER_ASSIGN_OR_RETURN(out.account_required,
                           Keys(in.account_required(), absl::StrCat(prefix, ".account_required")));
  return out;
}

}  // namespace

absl::StatusOr<Subscription> ToSubscription(const geyser::SubscribeRequest& request) {
  if (!request.blocks().empty()) {
    return absl::UnimplementedError(
        "blocks filters are not supported by qlaster-grpc: subscribe to transactions, "
        "accounts, entries and blocks_meta of the slot instead");
  }
  Subscription out;
  for (const auto& [name, f] : request.accounts()) {
    QLASTER_ASSIGN_OR_RETURN(out.accounts[name], ToAccountFilter(f, absl::StrCat("accounts[", name, "]")));
  }
  for (const auto& [name, f] : request.transactions()) {
    QLASTER_ASSIGN_OR_RETURN(out.transactions[name], ToSelector(f, absl::StrCat("transactions[", name, "]")));
  }
  for (const auto& [name, f] : request.transactions_status()) {
    QLASTER_ASSIGN_OR_RETURN(out.transaction_statuses[name],
                             ToSelector(f, absl::StrCat("transactions_status[", name, "]")));
  }
  for (const auto& [name, f] : request.slots()) {
    out.slots[name] = SlotSelector{.filter_by_commitment = f.filter_by_commitment(),
                                   .interslot_updates = f.interslot_updates()};
  }
  for (const auto& [name, f] : request.blocks_meta()) out.blocks_meta.insert(name);
  for (const auto& [name, f] : request.entry()) out.entries.insert(name);
  for (const auto& s : request.accounts_data_slice()) {
    out.data_slices.push_back(DataSlice{.offset = s.offset(), .length = s.length()});
  }
  if (request.has_commitment()) {
    QLASTER_ASSIGN_OR_RETURN(out.commitment, ToCommitment(request.commitment()));
  }
  if (request.has_from_slot()) out.from_slot = request.from_slot();
  return out;
}

bool IsPingOnly(const geyser::SubscribeRequest& request) {
  return request.has_ping() && request.accounts().empty() && request.slots().empty() &&
         request.transactions().empty() && request.transactions_status().empty() &&
         request.blocks().empty() && request.blocks_meta().empty() && request.entry().empty() &&
         !request.has_commitment() && request.accounts_data_slice().empty() &&
         !request.has_from_slot();
}

}  // namespace qlaster::grpc_endpoint
