#include "grpc_server/filter_limits.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace qlaster::grpc_endpoint {
namespace {

absl::Status Over(const std::string& what, uint64_t max, const char* flag) {
  return absl::InvalidArgumentError(absl::StrCat(
      "failed to create filter: ", what, ": at most ", max, " allowed (qlaster-grpc --", flag, ")"));
}

absl::Status CheckCount(uint64_t n, uint64_t max, const std::string& what, const char* flag) {
  return n <= max ? absl::OkStatus() : Over(what, max, flag);
}

absl::Status CheckReject(const std::vector<Pubkey>& keys, const std::vector<Pubkey>& reject,
                         const std::string& what, const char* flag) {
  for (const Pubkey& k : keys) {
    if (std::find(reject.begin(), reject.end(), k) != reject.end()) {
      return absl::InvalidArgumentError(absl::StrCat("failed to create filter: ", what, ": ",
                                                     k.ToBase58(), " is not allowed (qlaster-grpc --",
                                                     flag, ")"));
    }
  }
  return absl::OkStatus();
}

// `kind`: "transactions" or "transactions_status", which is also the flags' infix.
absl::Status CheckTransactions(const std::map<std::string, TransactionSelector>& filters,
                               const TransactionLimits& l, const std::string& kind) {
  const std::string flag = absl::StrCat("limit_", kind, "_");
  if (absl::Status s = CheckCount(filters.size(), l.max, absl::StrCat(kind, " filters"),
                                  (flag + "max").c_str());
      !s.ok()) {
    return s;
  }
  for (const auto& [name, f] : filters) {
    const std::string where = absl::StrCat(kind, "[", name, "]");
    if (!l.any && f.account_include.empty() && f.account_exclude.empty() &&
        f.account_required.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "failed to create filter: ", where,
          ": a filter of every transaction is not allowed, list account_include, "
          "account_exclude or account_required (qlaster-grpc --",
          flag, "any=false)"));
    }
    const std::pair<const std::vector<Pubkey>*, const char*> lists[] = {
        {&f.account_include, "account_include"},
        {&f.account_exclude, "account_exclude"},
        {&f.account_required, "account_required"}};
    const uint64_t maxes[] = {l.account_include_max, l.account_exclude_max, l.account_required_max};
    for (int i = 0; i < 3; ++i) {
      if (absl::Status s = CheckCount(lists[i].first->size(), maxes[i],
                                      absl::StrCat(where, ".", lists[i].second, " keys"),
                                      absl::StrCat(flag, lists[i].second, "_max").c_str());
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = CheckReject(f.account_include, l.account_include_reject,
                                     absl::StrCat(where, ".account_include"),
                                     absl::StrCat(flag, "account_include_reject").c_str());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckFilterLimits(const Subscription& sub, const FilterLimits& limits) {
  const AccountLimits& a = limits.accounts;
  if (absl::Status s = CheckCount(sub.accounts.size(), a.max, "accounts filters", "limit_accounts_max");
      !s.ok()) {
    return s;
  }
  for (const auto& [name, f] : sub.accounts) {
    const std::string where = absl::StrCat("accounts[", name, "]");
    if (!a.any && f.pubkeys.empty() && f.owners.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "failed to create filter: ", where,
          ": a filter of every account is not allowed, list account or owner keys "
          "(qlaster-grpc --limit_accounts_any=false)"));
    }
    if (absl::Status s = CheckCount(f.pubkeys.size(), a.account_max, where + ".account keys",
                                    "limit_accounts_account_max");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckCount(f.owners.size(), a.owner_max, where + ".owner keys",
                                    "limit_accounts_owner_max");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckReject(f.pubkeys, a.account_reject, where + ".account",
                                     "limit_accounts_account_reject");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckReject(f.owners, a.owner_reject, where + ".owner",
                                     "limit_accounts_owner_reject");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckCount(sub.data_slices.size(), a.data_slice_max, "accounts_data_slice",
                                  "limit_accounts_data_slice_max");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCount(sub.slots.size(), limits.slots_max, "slots filters", "limit_slots_max");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTransactions(sub.transactions, limits.transactions, "transactions"); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTransactions(sub.transaction_statuses, limits.transactions_status,
                                         "transactions_status");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckCount(sub.blocks_meta.size(), limits.blocks_meta_max, "blocks_meta filters",
                                  "limit_blocks_meta_max");
      !s.ok()) {
    return s;
  }
  return CheckCount(sub.entries.size(), limits.entry_max, "entry filters", "limit_entry_max");
}

}  // namespace qlaster::grpc_endpoint
