// NamedFilters: every account and transaction predicate, AND within a filter, OR across
// filters with one bit each, and each index path (pubkey, owner, memcmp on a mint or an
// owner, the scan of filters that name no key).
#include "sender/named_filters.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "wire/solana/programs.h"
#include "wire/solana/token_account.h"

namespace qlaster::sender {
namespace {

Pubkey Key(uint8_t n) {
  Pubkey k{};
  k[0] = n;
  k[31] = 0xa5;
  return k;
}

Signature Sig(uint8_t n) {
  Signature s{};
  s[0] = n;
  return s;
}

// A valid, initialized SPL Token account of `mint` owned by wallet `owner`.
std::vector<uint8_t> TokenAccount(const Pubkey& mint, const Pubkey& owner) {
  std::vector<uint8_t> data(solana::kTokenAccountSize, 0);
  std::memcpy(data.data() + solana::kTokenAccountMintOffset, mint.data(), 32);
  std::memcpy(data.data() + solana::kTokenAccountOwnerOffset, owner.data(), 32);
  data[solana::kTokenAccountStateOffset] = 1;
  return data;
}

Memcmp At(uint64_t offset, const Pubkey& key) {
  return Memcmp{.offset = offset, .bytes = std::vector<uint8_t>(key.begin(), key.end())};
}

class NamedFiltersTest : public ::testing::Test {
 protected:
  // Consumer `who` holds `set`.
  void Give(ConsumerIndex who, NamedFilterSet set) {
    sets_.push_back(std::make_unique<NamedFilterSet>(std::move(set)));
    consumers_.push_back({who, sets_.back().get()});
  }
  void Build() { filters_ = NamedFilters::Build(consumers_, /*hash_seed=*/7); }

  // (consumer, bits) pairs that match the account.
  std::vector<std::pair<ConsumerIndex, uint16_t>> Accounts(const AccountFacts& facts) {
    FilterMatches m;
    filters_.MatchAccount(facts, &m);
    m.Finish();
    return ToPairs(m);
  }
  std::vector<std::pair<ConsumerIndex, uint16_t>> Transactions(const TransactionFacts& facts,
                                                               bool statuses = false) {
    FilterMatches m;
    if (statuses) {
      filters_.MatchStatus(facts, &m);
    } else {
      filters_.MatchTransaction(facts, &m);
    }
    m.Finish();
    return ToPairs(m);
  }
  static std::vector<std::pair<ConsumerIndex, uint16_t>> ToPairs(const FilterMatches& m) {
    std::vector<std::pair<ConsumerIndex, uint16_t>> out;
    for (size_t i = 0; i < m.size(); ++i) out.emplace_back(m.who(i), m.bits(i));
    return out;
  }

  std::vector<std::unique_ptr<NamedFilterSet>> sets_;
  std::vector<NamedFilters::Consumer> consumers_;
  NamedFilters filters_;
};

using Pairs = std::vector<std::pair<ConsumerIndex, uint16_t>>;

TEST_F(NamedFiltersTest, PubkeyListMatchesAnyOfItsKeys) {
  Give(3, {.accounts = {{"mine", AccountFilter{.pubkeys = {Key(1), Key(2)}}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(2), .owner = Key(9)}), (Pairs{{3, 1}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(9)}), (Pairs{{3, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(4), .owner = Key(9)}).empty());
}

TEST_F(NamedFiltersTest, PubkeysAndOwnersMustBothHold) {
  Give(0, {.accounts = {{"a", AccountFilter{.pubkeys = {Key(1)}, .owners = {Key(8)}}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8)}), (Pairs{{0, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(9)}).empty()) << "owner differs";
  EXPECT_TRUE(Accounts({.pubkey = Key(2), .owner = Key(8)}).empty()) << "pubkey differs";
}

TEST_F(NamedFiltersTest, OwnerListMatchesAnyOwner) {
  Give(1, {.accounts = {{"o", AccountFilter{.owners = {Key(8), Key(9)}}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(9)}), (Pairs{{1, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(7)}).empty());
}

TEST_F(NamedFiltersTest, MemcmpOnTheMintIsIndexedAndExact) {
  const Pubkey mint_a = Key(40), mint_b = Key(41);
  Give(0, {.accounts = {{"a", AccountFilter{.owners = {solana::kTokenProgram},
                                            .memcmp = {At(0, mint_a)}}}}});
  Give(1, {.accounts = {{"b", AccountFilter{.owners = {solana::kTokenProgram},
                                            .memcmp = {At(0, mint_b)}}}}});
  Build();
  const std::vector<uint8_t> a = TokenAccount(mint_a, Key(50));
  const std::vector<uint8_t> b = TokenAccount(mint_b, Key(50));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram, .data = a}), (Pairs{{0, 1}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram, .data = b}), (Pairs{{1, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(9), .data = a}).empty())
      << "the memcmp index is per owner";
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram,
                        .data = absl::MakeConstSpan(a).subspan(0, 20)})
                  .empty())
      << "data shorter than the compared bytes";
  EXPECT_TRUE(filters_.needs_account_data());
}

TEST_F(NamedFiltersTest, MemcmpOnTheWalletAtOffset32) {
  const Pubkey wallet = Key(50);
  Give(2, {.accounts = {{"w", AccountFilter{.owners = {solana::kTokenProgram},
                                            .memcmp = {At(32, wallet)}}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram,
                      .data = TokenAccount(Key(40), wallet)}),
            (Pairs{{2, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram,
                        .data = TokenAccount(wallet, Key(51))})
                  .empty())
      << "the wallet's key at the mint's offset is not a match";
}

TEST_F(NamedFiltersTest, ShortAndOddMemcmpsAreComparedDirectly) {
  Give(0, {.accounts = {{"x", AccountFilter{.owners = {Key(8)},
                                            .memcmp = {Memcmp{.offset = 3, .bytes = {7, 8}},
                                                       Memcmp{.offset = 10, .bytes = {1}}}}}}});
  Build();
  std::vector<uint8_t> data(16, 0);
  data[3] = 7;
  data[4] = 8;
  data[10] = 1;
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .data = data}), (Pairs{{0, 1}}));
  data[10] = 2;
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(8), .data = data}).empty())
      << "every memcmp must hold";
}

TEST_F(NamedFiltersTest, MemcmpPastTheEndNeverMatches) {
  Give(0, {.accounts = {{"x", AccountFilter{.owners = {Key(8)},
                                            .memcmp = {Memcmp{.offset = 100, .bytes = {0}}}}}}});
  Build();
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(8), .data = std::vector<uint8_t>(100)}).empty());
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .data = std::vector<uint8_t>(101)}),
            (Pairs{{0, 1}}));
}

TEST_F(NamedFiltersTest, Datasize) {
  Give(0, {.accounts = {{"d", AccountFilter{.owners = {Key(8)}, .datasize = 165}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .data = std::vector<uint8_t>(165)}),
            (Pairs{{0, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(8), .data = std::vector<uint8_t>(166)}).empty());
}

TEST_F(NamedFiltersTest, EveryLamportsComparison) {
  Give(0, {.accounts = {{"eq", AccountFilter{.owners = {Key(8)}, .lamports = {{LamportsOp::kEq, 10}}}},
                        {"gt", AccountFilter{.owners = {Key(8)}, .lamports = {{LamportsOp::kGt, 10}}}},
                        {"lt", AccountFilter{.owners = {Key(8)}, .lamports = {{LamportsOp::kLt, 10}}}},
                        {"ne", AccountFilter{.owners = {Key(8)}, .lamports = {{LamportsOp::kNe, 10}}}}}});
  Build();
  // Bits follow the names' order: eq 1, gt 2, lt 4, ne 8.
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 10}), (Pairs{{0, 1}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 11}), (Pairs{{0, 2 | 8}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 9}), (Pairs{{0, 4 | 8}}));
}

TEST_F(NamedFiltersTest, LamportsRangeIsAnAnd) {
  Give(0, {.accounts = {{"r", AccountFilter{.owners = {Key(8)},
                                            .lamports = {{LamportsOp::kGt, 10}, {LamportsOp::kLt, 20}}}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 15}), (Pairs{{0, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 25}).empty());
}

TEST_F(NamedFiltersTest, TokenAccountState) {
  Give(0, {.accounts = {{"t", AccountFilter{.owners = {solana::kTokenProgram}, .token_account_state = true}}}});
  Build();
  std::vector<uint8_t> data = TokenAccount(Key(40), Key(50));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram, .data = data}), (Pairs{{0, 1}}));
  data[solana::kTokenAccountStateOffset] = 0;  // uninitialized
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram, .data = data}).empty());
  EXPECT_TRUE(Accounts({.pubkey = Key(1), .owner = solana::kTokenProgram,
                        .data = std::vector<uint8_t>(82, 1)})
                  .empty())
      << "a mint's size";
}

TEST_F(NamedFiltersTest, NonemptyTxnSignature) {
  Give(0, {.accounts = {{"with", AccountFilter{.owners = {Key(8)}, .nonempty_txn_signature = true}},
                        {"without", AccountFilter{.owners = {Key(8)}, .nonempty_txn_signature = false}}}});
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .has_txn_signature = true}), (Pairs{{0, 1}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .has_txn_signature = false}), (Pairs{{0, 2}}));
}

TEST_F(NamedFiltersTest, FiltersOfOneConsumerOrTogetherWithABitEach) {
  Give(5, {.accounts = {{"by_key", AccountFilter{.pubkeys = {Key(1)}}},
                        {"by_owner", AccountFilter{.owners = {Key(8)}}},
                        {"rich", AccountFilter{.owners = {Key(8)}, .lamports = {{LamportsOp::kGt, 100}}}}}});
  Build();
  // Names in order: by_key 1, by_owner 2, rich 4.
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8), .lamports = 500}), (Pairs{{5, 7}}));
  EXPECT_EQ(Accounts({.pubkey = Key(2), .owner = Key(8), .lamports = 5}), (Pairs{{5, 2}}));
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(9)}), (Pairs{{5, 1}}));
}

TEST_F(NamedFiltersTest, ConsumersComeOutAscendingEachOnce) {
  for (ConsumerIndex who : {9, 2, 700}) {
    Give(who, {.accounts = {{"a", AccountFilter{.owners = {Key(8)}}},
                            {"b", AccountFilter{.pubkeys = {Key(1)}}}}});
  }
  Build();
  EXPECT_EQ(Accounts({.pubkey = Key(1), .owner = Key(8)}), (Pairs{{2, 3}, {9, 3}, {700, 3}}));
}

TEST_F(NamedFiltersTest, AFilterWithoutKeysSeesEveryAccount) {
  Give(0, {.accounts = {{"big", AccountFilter{.datasize = 3}}}});
  Build();
  EXPECT_TRUE(filters_.has_scan_accounts());
  EXPECT_EQ(Accounts({.pubkey = Key(77), .owner = Key(78), .data = std::vector<uint8_t>(3)}),
            (Pairs{{0, 1}}));
  EXPECT_TRUE(Accounts({.pubkey = Key(77), .owner = Key(78)}).empty());
}

TEST_F(NamedFiltersTest, BloomKeysCoverEveryIndexedKey) {
  Give(0, {.accounts = {{"a", AccountFilter{.pubkeys = {Key(1)}}},
                        {"b", AccountFilter{.owners = {Key(8)}}},
                        {"c", AccountFilter{.owners = {Key(9)}, .memcmp = {At(0, Key(40))}}}}});
  Build();
  std::vector<Pubkey> keys;
  filters_.AppendBloomKeys(&keys);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<Pubkey>{Key(1), Key(8), Key(9)}));
  EXPECT_FALSE(filters_.has_scan_accounts());
}

TEST_F(NamedFiltersTest, TransactionVoteAndFailedAreTriStates) {
  Give(0, {.transactions = {{"any", TransactionSelector{}},
                            {"failed", TransactionSelector{.failed = true}},
                            {"nonvote", TransactionSelector{.vote = false}},
                            {"ok_votes", TransactionSelector{.vote = true, .failed = false}}}});
  Build();
  // Bits: any 1, failed 2, nonvote 4, ok_votes 8.
  EXPECT_EQ(Transactions({.is_vote = true, .failed = false}), (Pairs{{0, 1 | 8}}));
  EXPECT_EQ(Transactions({.is_vote = false, .failed = true}), (Pairs{{0, 1 | 2 | 4}}));
  EXPECT_EQ(Transactions({.is_vote = false, .failed = false}), (Pairs{{0, 1 | 4}}));
}

TEST_F(NamedFiltersTest, TransactionSignature) {
  Give(0, {.transactions = {{"mine", TransactionSelector{.signature = Sig(3)}}}});
  Build();
  EXPECT_EQ(Transactions({.signature = Sig(3)}), (Pairs{{0, 1}}));
  EXPECT_TRUE(Transactions({.signature = Sig(4)}).empty());
}

TEST_F(NamedFiltersTest, IncludeExcludeRequired) {
  Give(0, {.transactions = {{"inc", TransactionSelector{.account_include = {Key(1), Key(2)}}},
                            {"exc", TransactionSelector{.account_exclude = {Key(3)}}},
                            {"req", TransactionSelector{.account_required = {Key(1), Key(4)}}}}});
  Build();
  EXPECT_TRUE(filters_.transactions_need_keys());
  // Bits: exc 1, inc 2, req 4 (names in order).
  std::vector<Pubkey> keys = {Key(1), Key(4)};
  EXPECT_EQ(Transactions({.keys = keys}), (Pairs{{0, 1 | 2 | 4}}));
  keys = {Key(2), Key(3)};
  EXPECT_EQ(Transactions({.keys = keys}), (Pairs{{0, 2}})) << "exc sees Key(3); req lacks Key(1)";
  keys = {Key(5)};
  EXPECT_EQ(Transactions({.keys = keys}), (Pairs{{0, 1}}));
}

TEST_F(NamedFiltersTest, AllPredicatesOfATransactionFilterMustHold) {
  Give(0, {.transactions = {{"x", TransactionSelector{.vote = false,
                                                      .failed = false,
                                                      .account_include = {Key(1)},
                                                      .account_exclude = {Key(2)},
                                                      .account_required = {Key(3)}}}}});
  Build();
  std::vector<Pubkey> keys = {Key(1), Key(3)};
  EXPECT_EQ(Transactions({.keys = keys}), (Pairs{{0, 1}}));
  EXPECT_TRUE(Transactions({.is_vote = true, .keys = keys}).empty());
  EXPECT_TRUE(Transactions({.failed = true, .keys = keys}).empty());
  keys = {Key(1), Key(2), Key(3)};
  EXPECT_TRUE(Transactions({.keys = keys}).empty());
  keys = {Key(1)};
  EXPECT_TRUE(Transactions({.keys = keys}).empty());
}

TEST_F(NamedFiltersTest, StatusFiltersAreTheirOwnSide) {
  Give(0, {.transactions = {{"t", TransactionSelector{.vote = true}}},
           .statuses = {{"s", TransactionSelector{.failed = true}}}});
  Build();
  EXPECT_TRUE(filters_.has_transactions());
  EXPECT_TRUE(filters_.has_statuses());
  EXPECT_EQ(Transactions({.is_vote = true}), (Pairs{{0, 1}}));
  EXPECT_TRUE(Transactions({.is_vote = true}, /*statuses=*/true).empty());
  EXPECT_EQ(Transactions({.failed = true}, /*statuses=*/true), (Pairs{{0, 1}}));
}

}  // namespace
}  // namespace qlaster::sender
