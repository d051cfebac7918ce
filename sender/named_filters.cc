// NamedFilters: compiling filters into indexes, and matching.
#include "sender/named_filters.h"

#include <algorithm>
#include <cstring>

#include "wire/solana/token_account.h"

namespace qlaster::sender {
namespace {

constexpr size_t kIndexedMemcmpBytes = 32;

bool Contains(const std::vector<Pubkey>& sorted, const Pubkey& key) {
  return std::binary_search(sorted.begin(), sorted.end(), key);
}

std::vector<Pubkey> Sorted(std::vector<Pubkey> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool MemcmpMatches(const Memcmp& m, absl::Span<const uint8_t> data) {
  if (m.offset > data.size() || data.size() - m.offset < m.bytes.size()) return false;
  return std::memcmp(data.data() + m.offset, m.bytes.data(), m.bytes.size()) == 0;
}

bool LamportsMatch(const LamportsFilter& f, uint64_t lamports) {
  switch (f.op) {
    case LamportsOp::kEq:
      return lamports == f.value;
    case LamportsOp::kNe:
      return lamports != f.value;
    case LamportsOp::kLt:
      return lamports < f.value;
    case LamportsOp::kGt:
      return lamports > f.value;
  }
  return false;
}

// The memcmp of `f` an index can key on: exactly 32 bytes at offset 0 or 32.
std::optional<size_t> IndexableMemcmp(const AccountFilter& f) {
  for (size_t i = 0; i < f.memcmp.size(); ++i) {
    const Memcmp& m = f.memcmp[i];
    if (m.bytes.size() == kIndexedMemcmpBytes && (m.offset == 0 || m.offset == 32)) return i;
  }
  return std::nullopt;
}

}  // namespace

// ------------------------------------------------------------------ FilterMatches

void FilterMatches::Clear() {
  for (ConsumerIndex w : who_) {
    seen_[w] = false;
    bits_[w] = 0;
  }
  who_.clear();
}

void FilterMatches::Add(ConsumerIndex who, uint16_t bits) {
  if (!seen_[who]) {
    seen_[who] = true;
    who_.push_back(who);
  }
  bits_[who] |= bits;
}

void FilterMatches::Finish() {
  if (who_.size() > 1) std::sort(who_.begin(), who_.end());
}

// ------------------------------------------------------------------- building

NamedFilters NamedFilters::Build(absl::Span<const Consumer> consumers, uint64_t hash_seed) {
  NamedFilters n;
  n.by_pubkey_ = decltype(n.by_pubkey_)(0, PubkeyHash{hash_seed});
  n.by_owner_ = decltype(n.by_owner_)(0, PubkeyHash{hash_seed});
  n.memcmp_owners_ = decltype(n.memcmp_owners_)(0, PubkeyHash{hash_seed});
  for (const Consumer& c : consumers) {
    if (c.filters == nullptr) continue;
    uint16_t bit = 1;
    for (const auto& [name, f] : c.filters->accounts) {
      const uint32_t id = static_cast<uint32_t>(n.accounts_.size());
      AccountRule r;
      r.who = c.who;
      r.bit = bit;
      r.owners = Sorted(f.owners);
      r.memcmp = f.memcmp;
      r.datasize = f.datasize;
      r.lamports = f.lamports;
      r.token_account_state = f.token_account_state;
      r.nonempty_txn_signature = f.nonempty_txn_signature;
      if (!f.pubkeys.empty()) {
        r.check_owner = !r.owners.empty();
        for (const Pubkey& k : Sorted(f.pubkeys)) n.by_pubkey_[k].push_back(id);
      } else if (!f.owners.empty()) {
        if (const std::optional<size_t> m = IndexableMemcmp(f)) {
          const Memcmp& key_memcmp = f.memcmp[*m];
          MemcmpKey key;
          key.offset = static_cast<uint8_t>(key_memcmp.offset);
          std::memcpy(key.bytes.data(), key_memcmp.bytes.data(), kIndexedMemcmpBytes);
          for (const Pubkey& owner : r.owners) {
            key.owner = owner;
            n.by_memcmp_[key].push_back(id);
            n.memcmp_owners_[owner] |= key_memcmp.offset == 0 ? 1 : 2;
          }
          r.memcmp.erase(r.memcmp.begin() + static_cast<ptrdiff_t>(*m));  // the index compared it
        } else {
          for (const Pubkey& owner : r.owners) n.by_owner_[owner].push_back(id);
        }
      } else {
        n.any_account_.push_back(id);
      }
      n.needs_data_ |= !r.memcmp.empty() || r.datasize.has_value() || r.token_account_state ||
                       !n.by_memcmp_.empty();
      n.accounts_.push_back(std::move(r));
      bit = static_cast<uint16_t>(bit << 1);
    }
  }
  n.has_accounts_ = !n.accounts_.empty();
  BuildTransactions(consumers, false, &n.transactions_);
  BuildTransactions(consumers, true, &n.statuses_);
  return n;
}

void NamedFilters::BuildTransactions(absl::Span<const Consumer> consumers, bool statuses,
                                     TransactionSide* side) {
  for (const Consumer& c : consumers) {
    if (c.filters == nullptr) continue;
    uint16_t bit = 1;
    for (const auto& [name, t] : statuses ? c.filters->statuses : c.filters->transactions) {
      const uint32_t id = static_cast<uint32_t>(side->rules.size());
      TransactionRule r;
      r.who = c.who;
      r.bit = bit;
      r.vote = t.vote;
      r.failed = t.failed;
      r.signature = t.signature;
      r.include = Sorted(t.account_include);
      r.exclude = Sorted(t.account_exclude);
      r.required = Sorted(t.account_required);
      side->needs_keys |= !r.include.empty() || !r.exclude.empty() || !r.required.empty();
      if (!r.include.empty()) {
        for (const Pubkey& k : r.include) side->by_account[k].push_back(id);
      } else if (r.signature.has_value()) {
        side->by_signature[*r.signature].push_back(id);
      } else {
        side->scan.push_back(id);
      }
      side->rules.push_back(std::move(r));
      bit = static_cast<uint16_t>(bit << 1);
    }
  }
  side->any = !side->rules.empty();
}

void NamedFilters::AppendBloomKeys(std::vector<Pubkey>* out) const {
  for (const auto& [k, v] : by_pubkey_) out->push_back(k);
  for (const auto& [k, v] : by_owner_) out->push_back(k);
  for (const auto& [k, v] : memcmp_owners_) out->push_back(k);
}

// ------------------------------------------------------------------- matching

bool NamedFilters::Passes(const AccountRule& r, const AccountFacts& f) {
  if (r.check_owner && !Contains(r.owners, f.owner)) return false;
  if (r.nonempty_txn_signature.has_value() && *r.nonempty_txn_signature != f.has_txn_signature) {
    return false;
  }
  if (r.datasize.has_value() && f.data.size() != *r.datasize) return false;
  for (const LamportsFilter& l : r.lamports) {
    if (!LamportsMatch(l, f.lamports)) return false;
  }
  for (const Memcmp& m : r.memcmp) {
    if (!MemcmpMatches(m, f.data)) return false;
  }
  if (r.token_account_state && !solana::IsInitializedTokenAccountData(f.data)) return false;
  return true;
}

void NamedFilters::MatchAccount(const AccountFacts& facts, FilterMatches* out) const {
  auto try_rules = [&](const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      const AccountRule& r = accounts_[id];
      if (Passes(r, facts)) out->Add(r.who, r.bit);
    }
  };
  if (!by_pubkey_.empty()) {
    if (auto it = by_pubkey_.find(facts.pubkey); it != by_pubkey_.end()) try_rules(it->second);
  }
  if (!by_owner_.empty()) {
    if (auto it = by_owner_.find(facts.owner); it != by_owner_.end()) try_rules(it->second);
  }
  if (!memcmp_owners_.empty()) {
    if (auto it = memcmp_owners_.find(facts.owner); it != memcmp_owners_.end()) {
      MemcmpKey key;
      key.owner = facts.owner;
      for (uint8_t offset : {0, 32}) {
        if ((it->second & (offset == 0 ? 1 : 2)) == 0) continue;
        if (facts.data.size() < offset + kIndexedMemcmpBytes) continue;
        key.offset = offset;
        std::memcpy(key.bytes.data(), facts.data.data() + offset, kIndexedMemcmpBytes);
        if (auto m = by_memcmp_.find(key); m != by_memcmp_.end()) try_rules(m->second);
      }
    }
  }
  if (!any_account_.empty()) try_rules(any_account_);
}

bool NamedFilters::Passes(const TransactionRule& r, const TransactionFacts& f) {
  if (r.vote.has_value() && *r.vote != f.is_vote) return false;
  if (r.failed.has_value() && *r.failed != f.failed) return false;
  if (r.signature.has_value() && *r.signature != f.signature) return false;
  auto has = [&f](const Pubkey& k) { return std::binary_search(f.keys.begin(), f.keys.end(), k); };
  if (r.check_include && !std::any_of(r.include.begin(), r.include.end(), has)) return false;
  if (std::any_of(r.exclude.begin(), r.exclude.end(), has)) return false;
  if (!std::all_of(r.required.begin(), r.required.end(), has)) return false;
  return true;
}

void NamedFilters::Match(const TransactionSide& side, const TransactionFacts& facts,
                         FilterMatches* out) {
  if (!side.any) return;
  auto try_rule = [&](uint32_t id) {
    const TransactionRule& r = side.rules[id];
    if (Passes(r, facts)) out->Add(r.who, r.bit);
  };
  if (!side.by_account.empty()) {
    // Found through one included key: the include condition holds (a rule reached twice
    // through two keys adds the same bit twice, harmlessly).
    for (const Pubkey& k : facts.keys) {
      if (auto it = side.by_account.find(k); it != side.by_account.end()) {
        for (uint32_t id : it->second) try_rule(id);
      }
    }
  }
  if (!side.by_signature.empty()) {
    if (auto it = side.by_signature.find(facts.signature); it != side.by_signature.end()) {
      for (uint32_t id : it->second) try_rule(id);
    }
  }
  for (uint32_t id : side.scan) try_rule(id);
}

void NamedFilters::MatchTransaction(const TransactionFacts& facts, FilterMatches* out) const {
  Match(transactions_, facts, out);
}

void NamedFilters::MatchStatus(const TransactionFacts& facts, FilterMatches* out) const {
  Match(statuses_, facts, out);
}

}  // namespace qlaster::sender
