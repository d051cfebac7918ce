// SPL Token and Token-2022 token accounts: the layout bots filter on, and the test
// Yellowstone's `token_account_state` account filter applies.
//
// Both programs share the 165-byte base layout (spl_token::state::Account, packed):
//
//   offset  size
//   0       32    mint            <- what a bot memcmps to watch one market
//   32      32    owner           <- the wallet
//   64      8     amount (u64 LE)
//   72      36    delegate (COption<Pubkey>: u32 tag + 32)
//   108     1     state: 0 uninitialized, 1 initialized, 2 frozen
//   109     12    is_native (COption<u64>)
//   121     8     delegated_amount
//   129     36    close_authority (COption<Pubkey>)
//   165           Token-2022 only: u8 account type (2 = account), then extensions (TLV)
//
// Token-2022 never lets an account or a mint be exactly a multisig's 355 bytes, so that
// the three stay distinguishable.
//
// All functions are pure and thread-safe and read only the bytes they are given.
#ifndef QLASTER_WIRE_SOLANA_TOKEN_ACCOUNT_H_
#define QLASTER_WIRE_SOLANA_TOKEN_ACCOUNT_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "wire/types.h"

namespace qlaster::solana {

inline constexpr size_t kTokenAccountSize = 165;
inline constexpr size_t kTokenAccountMintOffset = 0;
inline constexpr size_t kTokenAccountOwnerOffset = 32;
inline constexpr size_t kTokenAccountAmountOffset = 64;
inline constexpr size_t kTokenAccountStateOffset = 108;
inline constexpr size_t kTokenAccountTypeOffset = 165;  // Token-2022 extensions only
inline constexpr uint8_t kAccountTypeAccount = 2;
inline constexpr size_t kTokenMultisigSize = 355;

enum class TokenAccountState : uint8_t { kUninitialized = 0, kInitialized = 1, kFrozen = 2 };

// Exactly the test of Yellowstone's `token_account_state` filter (Token-2022's
// GenericTokenAccount::valid_account_data): `data` is 165 bytes with a nonzero state, or
// longer, not 355 bytes, with account type 2 at offset 165 and a nonzero state. Like
// Yellowstone it looks at the data only, whatever program owns the account.
bool IsInitializedTokenAccountData(absl::Span<const uint8_t> data);

// Stricter: the account is owned by the Token program with exactly the base layout, or by
// Token-2022 with the base layout or extensions, passes the test above, and its state is
// initialized or frozen (the programs themselves reject any other state byte).
bool IsTokenAccount(const Pubkey& owner, absl::Span<const uint8_t> data);

// The fields every token account has, read from a valid account (IsTokenAccount); nullopt
// otherwise.
struct TokenAccountFields {
  Pubkey mint{};
  Pubkey owner{};
  uint64_t amount = 0;
  TokenAccountState state = TokenAccountState::kUninitialized;
};
std::optional<TokenAccountFields> ReadTokenAccount(const Pubkey& program_owner,
                                                   absl::Span<const uint8_t> data);

}  // namespace qlaster::solana

#endif  // QLASTER_WIRE_SOLANA_TOKEN_ACCOUNT_H_
