// Every well-known address constant equals its base58 spelling, decoded independently.
#include "wire/solana/programs.h"

#include "gtest/gtest.h"
#include "base/base58.h"

namespace qlaster::solana {
namespace {

TEST(ProgramsTest, ConstantsMatchTheirBase58Spellings) {
  const struct {
    const Pubkey& key;
    const char* base58;
  } cases[] = {
      {kSystemProgram, "11111111111111111111111111111111"},
      {kVoteProgram, "Vote111111111111111111111111111111111111111"},
      {kTokenProgram, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"},
      {kToken2022Program, "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"},
      {kComputeBudgetProgram, "ComputeBudget111111111111111111111111111111"},
      {kAssociatedTokenProgram, "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"},
      {kAddressLookupTableProgram, "AddressLookupTab1e1111111111111111111111111"},
      {kRaydiumAmmV4Program, "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"},
      {kJupiterV6Program, "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"},
      {kWrappedSolMint, "So11111111111111111111111111111111111111112"},
      {kUsdcMint, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Pubkey> decoded = DecodePubkey(c.base58);
    ASSERT_TRUE(decoded.ok()) << c.base58;
    EXPECT_EQ(*decoded, c.key) << c.base58;
    EXPECT_EQ(Base58Encode(c.key), c.base58);
  }
}

}  // namespace
}  // namespace qlaster::solana
