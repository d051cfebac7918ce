// NamedFilters: the consumers' named filters (qlaster/subscription.hpp), compiled for
// matching. One immutable snapshot per commitment level, built off the dispatch thread
// with the routing table; every const method may be called from any thread.
//
// Accounts are found through indexes, never by trying every filter:
//  * a filter with pubkeys is found by the update's pubkey;
//  * a filter with owners but no pubkeys, by the update's owner — or, when it also has a
//    32-byte memcmp at offset 0 or 32 (the mint and the owner of a token account, what
//    bots compare), by (owner, offset, those 32 bytes of data), so that 256 consumers
//    watching 256 mints of the Token program cost one look-up, not 256 comparisons;
//  * only filters with neither pubkeys nor owners are tried on every account (they ask
//    for every account that passes their data predicates, and pay for it).
// What the index key did not decide (the owner list of a filter found by pubkey, the
// other memcmps, datasize, lamports, token account state, the transaction signature) is
// evaluated for the candidates only.
//
// Transactions likewise: filters with account_include are found through each of the
// transaction's account keys, filters with a signature through the first signature, and
// the rest (vote, failed, exclude, required alone) are tried on every transaction.
//
// The result of a match is a set of (consumer, filter bits) in ascending consumer order.
#ifndef QLASTER_SENDER_NAMED_FILTERS_H_
#define QLASTER_SENDER_NAMED_FILTERS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "qlaster/subscription.hpp"
#include "sender/consumer_filter.h"
#include "sender/consumer_set.h"
#include "sender/pubkey_hash.h"

namespace qlaster::sender {

// What an account filter is evaluated on. `data` is the whole, uncompressed data.
struct AccountFacts {
  Pubkey pubkey{};
  Pubkey owner{};
  uint64_t lamports = 0;
  bool has_txn_signature = false;
  absl::Span<const uint8_t> data = {};
};

// What a transaction filter is evaluated on. `keys`: every account key of the
// transaction (static, then loaded), sorted, for membership tests.
struct TransactionFacts {
  bool is_vote = false;
  bool failed = false;
  Signature signature{};
  absl::Span<const Pubkey> keys = {};
};

// (consumer, filter bits) results, ascending by consumer, each consumer once. Reused by
// one thread; Add in any order, then Finish.
class FilterMatches {
 public:
  void Clear();
  void Add(ConsumerIndex who, uint16_t bits);
  // Sorts what was added; afterwards [begin, end) is ascending by consumer.
  void Finish();
  bool empty() const { return who_.empty(); }
  size_t size() const { return who_.size(); }
  ConsumerIndex who(size_t i) const { return who_[i]; }
  uint16_t bits(size_t i) const { return bits_[who_[i]]; }
  uint16_t bits_of(ConsumerIndex who) const { return seen_[who] ? bits_[who] : 0; }

 private:
  std::vector<ConsumerIndex> who_;
  std::array<uint16_t, kMaxConsumers> bits_{};
  std::array<bool, kMaxConsumers> seen_{};
};

class NamedFilters {
 public:
  // One consumer's named filters (each map's order gives the bits).
  struct Consumer {
    ConsumerIndex who = 0;
    const NamedFilterSet* filters = nullptr;
  };

  // Compiles the filters (copied: the set may change once Build returns).
  static NamedFilters Build(absl::Span<const Consumer> consumers, uint64_t hash_seed);

  NamedFilters() = default;
  NamedFilters(NamedFilters&&) = default;
  NamedFilters& operator=(NamedFilters&&) = default;

  bool has_accounts() const { return has_accounts_; }
  // Some account filter names neither pubkeys nor owners: every account must be tried,
  // whatever the Bloom filter says.
  bool has_scan_accounts() const { return !any_account_.empty(); }
  bool has_transactions() const { return transactions_.any; }
  bool has_statuses() const { return statuses_.any; }
  // Some account filter needs the data itself (memcmp, datasize, token account state):
  // a compressed account must be inflated before matching.
  bool needs_account_data() const { return needs_data_; }
  // Some transaction (status) filter looks at account keys: the transaction must be
  // parsed before matching.
  bool transactions_need_keys() const { return transactions_.needs_keys; }
  bool statuses_need_keys() const { return statuses_.needs_keys; }

  // Adds every (consumer, bits) whose filters match. May be called for an account whose
  // pubkey and owner passed no Bloom filter: it checks its own maps.
  void MatchAccount(const AccountFacts& facts, FilterMatches* out) const;
  void MatchTransaction(const TransactionFacts& facts, FilterMatches* out) const;
  void MatchStatus(const TransactionFacts& facts, FilterMatches* out) const;

  // Appends every pubkey and owner the account indexes look up, for the routing table's
  // Bloom filter.
  void AppendBloomKeys(std::vector<Pubkey>* out) const;
  size_t key_count() const { return by_pubkey_.size() + by_owner_.size() + memcmp_owners_.size(); }

 private:
  // A compiled account filter: what remains to check once an index found it.
  struct AccountRule {
    ConsumerIndex who = 0;
    uint16_t bit = 0;
    bool check_owner = false;  // found by pubkey, and the filter also names owners
    std::vector<Pubkey> owners;  // sorted
    std::vector<Memcmp> memcmp;  // all but the one an index key already compared
    std::optional<uint64_t> datasize;
    std::vector<LamportsFilter> lamports;
    bool token_account_state = false;
    std::optional<bool> nonempty_txn_signature;
  };
  struct TransactionRule {
    ConsumerIndex who = 0;
    uint16_t bit = 0;
    std::optional<bool> vote, failed;
    std::optional<Signature> signature;
    bool check_include = false;            // found without the include list: check it
    std::vector<Pubkey> include, exclude, required;  // sorted
  };
  // (owner, offset, 32 bytes of data) for the memcmp index.
  struct MemcmpKey {
    Pubkey owner{};
    uint8_t offset = 0;  // 0 or 32
    Pubkey bytes{};
    friend bool operator==(const MemcmpKey&, const MemcmpKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const MemcmpKey& k) {
      return H::combine(std::move(h), k.owner, k.offset, k.bytes);
    }
  };
  struct TransactionSide {
    std::vector<TransactionRule> rules;
    absl::flat_hash_map<Pubkey, std::vector<uint32_t>> by_account;     // include lists
    absl::flat_hash_map<Signature, std::vector<uint32_t>> by_signature;
    std::vector<uint32_t> scan;                                        // the rest
    bool any = false;
    bool needs_keys = false;
  };

  static bool Passes(const AccountRule& r, const AccountFacts& f);
  static bool Passes(const TransactionRule& r, const TransactionFacts& f);
  static void BuildTransactions(absl::Span<const Consumer> consumers, bool statuses,
                                TransactionSide* side);
  static void Match(const TransactionSide& side, const TransactionFacts& facts,
                    FilterMatches* out);

  std::vector<AccountRule> accounts_;
  absl::flat_hash_map<Pubkey, std::vector<uint32_t>, PubkeyHash> by_pubkey_;
  absl::flat_hash_map<Pubkey, std::vector<uint32_t>, PubkeyHash> by_owner_;
  absl::flat_hash_map<MemcmpKey, std::vector<uint32_t>> by_memcmp_;
  // Owners with memcmp-indexed filters, and at which offsets (bit 0: 0, bit 1: 32).
  absl::flat_hash_map<Pubkey, uint8_t, PubkeyHash> memcmp_owners_;
  std::vector<uint32_t> any_account_;
  bool has_accounts_ = false;
  bool needs_data_ = false;
  TransactionSide transactions_;
  TransactionSide statuses_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_NAMED_FILTERS_H_
