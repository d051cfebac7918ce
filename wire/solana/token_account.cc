// Token account layout checks (token_account.h).
#include "wire/solana/token_account.h"

#include <cstring>

#include "wire/solana/programs.h"
#include "wire/solana/section_range.h"

namespace qlaster::solana {

bool IsInitializedTokenAccountData(absl::Span<const uint8_t> data) {
  if (data.size() < kTokenAccountSize || data[kTokenAccountStateOffset] == 0) return false;
  if (data.size() == kTokenAccountSize) return true;
  return data.size() != kTokenMultisigSize && data[kTokenAccountTypeOffset] == kAccountTypeAccount;
}

bool IsTokenAccount(const Pubkey& owner, absl::Span<const uint8_t> data) {
  if (owner == kTokenProgram) {
    if (data.size() != kTokenAccountSize) return false;
  } else if (owner != kToken2022Program) {
    return false;
  }
  if (!IsInitializedTokenAccountData(data)) return false;
  return data[kTokenAccountStateOffset] <= static_cast<uint8_t>(TokenAccountState::kFrozen);
}

std::optional<TokenAccountFields> ReadTokenAccount(const Pubkey& program_owner,
                                                   absl::Span<const uint8_t> data) {
  if (!IsTokenAccount(program_owner, data)) return std::nullopt;
  TokenAccountFields f;
  std::memcpy(f.mint.data(), data.data() + kTokenAccountMintOffset, kPubkeySize);
  std::memcpy(f.owner.data(), data.data() + kTokenAccountOwnerOffset, kPubkeySize);
  f.amount = LoadLe<uint64_t>(data.data() + kTokenAccountAmountOffset);
  f.state = static_cast<TokenAccountState>(data[kTokenAccountStateOffset]);
  return f;
}

}  // namespace qlaster::solana
