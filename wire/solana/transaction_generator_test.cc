// Tests for the mainnet-shaped transaction generator: every transaction it makes is a
// valid Solana transaction with a consistent status, the shares come out as configured,
// and the output depends only on (options, slot, index).
#include "wire/solana/transaction_generator.h"

#include <map>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "wire/solana/programs.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::solana {
namespace {

constexpr uint64_t kSlot = 350'000'100;

// Parses and cross-checks one generated transaction; returns its view.
void ExpectConsistent(const GeneratedTransaction& g) {
  absl::StatusOr<TransactionView> tx = ParseTransaction(g.transaction);
  ASSERT_TRUE(tx.ok()) << tx.status();
  absl::StatusOr<TransactionStatusView> st = DecodeTransactionStatus(g.status);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_LE(g.transaction.size(), kMaxTransactionSize);
  EXPECT_EQ(tx->first_signature(), g.signature);
  EXPECT_EQ(st->failed(), g.failed);
  EXPECT_EQ(tx->IsSimpleVote(), g.kind == TransactionKind::kVote);
  // One balance per account, the fee paid by the payer, loaded keys as the lookups say.
  EXPECT_EQ(st->pre_balances().size(), tx->account_count());
  EXPECT_EQ(st->post_balances().size(), tx->account_count());
  EXPECT_EQ(st->pre_balances()[0] - st->post_balances()[0] >= st->fee(), true);
  EXPECT_GE(st->fee(), 5000u);
  EXPECT_EQ(st->summary().loaded_writable_count(), tx->loaded_writable_count());
  EXPECT_EQ(st->summary().loaded_readonly_count(), tx->loaded_readonly_count());
  ASSERT_TRUE(st->compute_units_consumed().has_value());
  ASSERT_TRUE(st->has_log_messages());
  EXPECT_GE(st->log_messages().size(), 2u);
  for (const TokenBalanceView& b : st->pre_token_balances()) {
    EXPECT_LT(b.account_index, tx->account_count());
  }
  for (const InnerInstructionsView& group : st->inner_instructions()) {
    EXPECT_LT(group.index, tx->instruction_count());
    for (const InnerInstructionView& ix : group.instructions) {
      EXPECT_LT(ix.program_id_index, tx->account_count());
      for (uint8_t a : ix.accounts) EXPECT_LT(a, tx->account_count());
    }
  }
  // No account appears twice: the static keys and the loaded keys are all distinct.
  std::set<std::string> keys;
  for (size_t i = 0; i < tx->static_key_count(); ++i) {
    keys.insert(std::string(tx->static_key(i).begin(), tx->static_key(i).end()));
  }
  const absl::Span<const uint8_t> w = st->loaded_writable();
  const absl::Span<const uint8_t> r = st->loaded_readonly();
  for (size_t i = 0; i < w.size(); i += 32) keys.insert(std::string(w.begin() + i, w.begin() + i + 32));
  for (size_t i = 0; i < r.size(); i += 32) keys.insert(std::string(r.begin() + i, r.begin() + i + 32));
  EXPECT_EQ(keys.size(), tx->account_count());
  std::string last_log;
  for (std::string_view line : st->log_messages()) last_log = std::string(line);
  EXPECT_EQ(last_log.find(" failed: ") != std::string::npos, g.failed) << last_log;
}

TEST(TransactionGeneratorTest, EveryKindIsValidAndConsistent) {
  const TransactionGenerator gen;
  for (TransactionKind kind : {TransactionKind::kVote, TransactionKind::kTransfer,
                               TransactionKind::kTokenTransfer, TransactionKind::kSwap}) {
    for (uint32_t i = 0; i < 300; ++i) {
      SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(kind) << " index " << i);
      const GeneratedTransaction g = gen.Generate(kSlot, i, kind);
      EXPECT_EQ(g.kind, kind);
      ExpectConsistent(g);
    }
  }
}

TEST(TransactionGeneratorTest, ShapesEachKindAsMainnetDoes) {
  const TransactionGenerator gen;
  const GeneratedTransaction vote = gen.Generate(kSlot, 1, TransactionKind::kVote);
  absl::StatusOr<TransactionView> v = ParseTransaction(vote.transaction);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->version(), MessageVersion::kLegacy);
  EXPECT_EQ(v->signature_count(), 1u);
  EXPECT_GE(vote.transaction.size(), 300u);
  EXPECT_LE(vote.transaction.size(), 400u);
  EXPECT_EQ((*v->instructions().begin()).data[0], 14);  // TowerSync
  EXPECT_FALSE(vote.failed);

  const GeneratedTransaction swap = gen.Generate(kSlot, 2, TransactionKind::kSwap);
  absl::StatusOr<TransactionView> s = ParseTransaction(swap.transaction);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->version(), MessageVersion::kV0);
  EXPECT_GE(s->address_table_lookup_count(), 1u);
  EXPECT_TRUE(s->InvokesProgram(kJupiterV6Program));
  EXPECT_TRUE(s->InvokesProgram(kComputeBudgetProgram));
  absl::StatusOr<TransactionStatusView> st = DecodeTransactionStatus(swap.status);
  ASSERT_TRUE(st.ok());
  // The Token and Raydium programs come from the first table, read-only.
  ASSERT_GE(st->summary().loaded_readonly_count(), 2u);
  EXPECT_TRUE(KeyEquals(st->summary().loaded_readonly.subspan(0, 32), kTokenProgram));
  EXPECT_TRUE(KeyEquals(st->summary().loaded_readonly.subspan(32, 32), kRaydiumAmmV4Program));
  EXPECT_EQ(st->pre_token_balances().size(), 4u);

  const GeneratedTransaction transfer = gen.Generate(kSlot, 3, TransactionKind::kTokenTransfer);
  absl::StatusOr<TransactionView> t = ParseTransaction(transfer.transaction);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->InvokesProgram(kTokenProgram));
  EXPECT_EQ(DecodeTransactionStatus(transfer.status)->pre_token_balances().size(), 2u);
}

TEST(TransactionGeneratorTest, SharesComeOutAsConfigured) {
  const TransactionGenerator gen;
  std::map<TransactionKind, int> kinds;
  int failed = 0;
  int non_votes = 0;
  const int n = 30'000;
  for (int i = 0; i < n; ++i) {
    const GeneratedTransaction g = gen.Generate(kSlot + i / 1000, static_cast<uint32_t>(i % 1000));
    ++kinds[g.kind];
    if (g.kind != TransactionKind::kVote) {
      ++non_votes;
      failed += g.failed;
    }
  }
  EXPECT_NEAR(kinds[TransactionKind::kVote] / double(n), 2.0 / 3.0, 0.02);
  EXPECT_NEAR(failed / double(non_votes), 0.3, 0.03);
  EXPECT_NEAR(kinds[TransactionKind::kTransfer] / double(non_votes), 0.15, 0.03);
  EXPECT_NEAR(kinds[TransactionKind::kTokenTransfer] / double(non_votes), 0.30, 0.03);
  EXPECT_NEAR(kinds[TransactionKind::kSwap] / double(non_votes), 0.55, 0.03);

  GeneratorOptions no_votes;
  no_votes.vote_fraction = 0;
  no_votes.failed_fraction = 0;
  const TransactionGenerator other(no_votes);
  for (uint32_t i = 0; i < 200; ++i) {
    const GeneratedTransaction g = other.Generate(kSlot, i);
    EXPECT_NE(g.kind, TransactionKind::kVote);
    EXPECT_FALSE(g.failed);
  }
}

TEST(TransactionGeneratorTest, DependsOnlyOnOptionsSlotAndIndex) {
  const TransactionGenerator a;
  const TransactionGenerator b;
  std::set<Signature> signatures;
  for (uint32_t i = 0; i < 50; ++i) {
    const GeneratedTransaction x = a.Generate(kSlot, i);
    const GeneratedTransaction y = b.Generate(kSlot, i);
    EXPECT_EQ(x.transaction, y.transaction);
    EXPECT_EQ(x.status, y.status);
    signatures.insert(x.signature);
  }
  EXPECT_EQ(signatures.size(), 50u);
  // Out of order gives the same bytes.
  EXPECT_EQ(a.Generate(kSlot, 7).transaction, b.Generate(kSlot, 7).transaction);
  GeneratorOptions other_seed;
  other_seed.seed = 2;
  EXPECT_NE(TransactionGenerator(other_seed).Generate(kSlot, 7).transaction,
            a.Generate(kSlot, 7).transaction);
}

TEST(TransactionGeneratorTest, UiAmountStringTrimsAsSolanaDoes) {
  EXPECT_EQ(UiAmountString(1'500'000, 6), "1.5");
  EXPECT_EQ(UiAmountString(0, 9), "0");
  EXPECT_EQ(UiAmountString(1, 9), "0.000000001");
  EXPECT_EQ(UiAmountString(344'503'076'480'687'631, 9), "344503076.480687631");
  EXPECT_EQ(UiAmountString(42, 0), "42");
  EXPECT_EQ(UiAmountString(148'617'625'980, 9), "148.61762598");
}

}  // namespace
}  // namespace qlaster::solana
