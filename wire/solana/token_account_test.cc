// Tests for the token account checks with real layouts: a Token account as the program
// packs it, a Token-2022 associated token account with its ImmutableOwner extension, and
// the near misses (uninitialized, a Token-2022 mint with extensions, a multisig-sized
// account, other owners).
#include "wire/solana/token_account.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "wire/solana/testing/keys.h"
#include "wire/solana/programs.h"

namespace qlaster::solana {
namespace {

using testing::TestKey;

// spl_token::state::Account, packed: mint, owner, amount, delegate None, state,
// is_native None, delegated_amount 0, close_authority None.
std::vector<uint8_t> TokenAccount(const Pubkey& mint, const Pubkey& owner, uint64_t amount,
                                  TokenAccountState state) {
  std::vector<uint8_t> data(kTokenAccountSize, 0);
  std::memcpy(data.data(), mint.data(), 32);
  std::memcpy(data.data() + 32, owner.data(), 32);
  std::memcpy(data.data() + 64, &amount, 8);
  data[108] = static_cast<uint8_t>(state);
  return data;
}

// The same under Token-2022 with the ImmutableOwner extension every associated token
// account gets: account type 2, then TLV type 7 (u16) with length 0 (u16): 170 bytes.
std::vector<uint8_t> Token2022Ata(const Pubkey& mint, const Pubkey& owner, uint64_t amount) {
  std::vector<uint8_t> data = TokenAccount(mint, owner, amount, TokenAccountState::kInitialized);
  data.push_back(kAccountTypeAccount);
  for (uint8_t b : {7, 0, 0, 0}) data.push_back(b);
  return data;
}

TEST(TokenAccountTest, AcceptsAnInitializedTokenAccount) {
  const std::vector<uint8_t> data = TokenAccount(kUsdcMint, TestKey(1), 42, TokenAccountState::kInitialized);
  EXPECT_TRUE(IsInitializedTokenAccountData(data));
  EXPECT_TRUE(IsTokenAccount(kTokenProgram, data));
  EXPECT_TRUE(IsTokenAccount(kToken2022Program, data));  // Token-2022 without extensions
  std::optional<TokenAccountFields> f = ReadTokenAccount(kTokenProgram, data);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->mint, kUsdcMint);
  EXPECT_EQ(f->owner, TestKey(1));
  EXPECT_EQ(f->amount, 42u);
  EXPECT_EQ(f->state, TokenAccountState::kInitialized);
  // What a bot's memcmp at offset 0 compares.
  EXPECT_EQ(std::memcmp(data.data() + kTokenAccountMintOffset, kUsdcMint.data(), 32), 0);
}

TEST(TokenAccountTest, AcceptsFrozenRejectsUninitialized) {
  EXPECT_TRUE(IsInitializedTokenAccountData(TokenAccount(TestKey(2), TestKey(1), 0, TokenAccountState::kFrozen)));
  const std::vector<uint8_t> uninit = TokenAccount(TestKey(2), TestKey(1), 0, TokenAccountState::kUninitialized);
  EXPECT_FALSE(IsInitializedTokenAccountData(uninit));
  EXPECT_FALSE(IsTokenAccount(kTokenProgram, uninit));
  EXPECT_FALSE(ReadTokenAccount(kTokenProgram, uninit).has_value());
}

TEST(TokenAccountTest, AcceptsToken2022WithExtensionsOnlyUnderToken2022) {
  const std::vector<uint8_t> data = Token2022Ata(TestKey(3), TestKey(4), 7);
  ASSERT_EQ(data.size(), 170u);
  EXPECT_TRUE(IsInitializedTokenAccountData(data));
  EXPECT_TRUE(IsTokenAccount(kToken2022Program, data));
  EXPECT_FALSE(IsTokenAccount(kTokenProgram, data));  // the Token program has no extensions
  EXPECT_EQ(ReadTokenAccount(kToken2022Program, data)->amount, 7u);
}

TEST(TokenAccountTest, RejectsAToken2022MintWithExtensions) {
  // A mint padded to the account length, account type 1 (mint) at offset 165.
  std::vector<uint8_t> mint(kTokenAccountSize + 1 + 4, 0);
  mint[45] = 1;  // is_initialized of the mint layout
  mint[108] = 1;
  mint[kTokenAccountTypeOffset] = 1;
  EXPECT_FALSE(IsInitializedTokenAccountData(mint));
  EXPECT_FALSE(IsTokenAccount(kToken2022Program, mint));
}

TEST(TokenAccountTest, RejectsMultisigSizedAndShortData) {
  std::vector<uint8_t> data = TokenAccount(TestKey(1), TestKey(2), 0, TokenAccountState::kInitialized);
  data.resize(kTokenMultisigSize, 0);
  data[kTokenAccountTypeOffset] = kAccountTypeAccount;
  EXPECT_FALSE(IsInitializedTokenAccountData(data));
  data.resize(kTokenMultisigSize + 1);
  EXPECT_TRUE(IsInitializedTokenAccountData(data));
  EXPECT_FALSE(IsInitializedTokenAccountData(std::vector<uint8_t>(82, 1)));  // a mint
  EXPECT_FALSE(IsInitializedTokenAccountData({}));
  EXPECT_FALSE(IsInitializedTokenAccountData(std::vector<uint8_t>(164, 1)));
}

TEST(TokenAccountTest, DataTestIgnoresTheOwnerAsYellowstoneDoes) {
  const std::vector<uint8_t> data = TokenAccount(TestKey(1), TestKey(2), 5, TokenAccountState::kInitialized);
  EXPECT_TRUE(IsInitializedTokenAccountData(data));
  EXPECT_FALSE(IsTokenAccount(kSystemProgram, data));
  EXPECT_FALSE(ReadTokenAccount(kSystemProgram, data).has_value());
}

TEST(TokenAccountTest, StrictCheckRejectsStatesTheProgramsNeverWrite) {
  std::vector<uint8_t> data = TokenAccount(TestKey(1), TestKey(2), 5, TokenAccountState::kInitialized);
  data[kTokenAccountStateOffset] = 3;
  EXPECT_TRUE(IsInitializedTokenAccountData(data));  // Yellowstone only asks for nonzero
  EXPECT_FALSE(IsTokenAccount(kTokenProgram, data));
}

}  // namespace
}  // namespace qlaster::solana
