// TransactionGenerator: mainnet-shaped Solana transactions with their status, in the
// real wire format (ParseTransaction, and any other Solana decoder, accepts them) and
// qlaster's status encoding, for the synthetic feed, tests and benchmarks.
//
// What it makes, by default shares:
//  - votes (2/3): TowerSync from a validator's identity to its vote account, a legacy
//    message with one signature and one instruction to the Vote program (a "simple vote"),
//    ~350 bytes; never failed; 5,000 lamports fee, 2,100 compute units.
//  - of the rest: SOL transfers (15%; legacy; compute budget instructions then a System
//    transfer), SPL token transfers (30%; legacy; TransferChecked between two associated
//    token accounts, with token balances), and AMM swaps (55%; v0, routed through an
//    aggregator with 1-3 address lookup tables whose loaded keys are the pools, vaults and
//    inner programs; inner instructions, token balances, priority fees).
//  - failures at `failed_fraction` of non-votes (bots' arbitrage and stale quotes): the
//    error a program returns (a swap's slippage check, a transfer's insufficient funds)
//    as TransactionError bincode, the fee still paid, balances otherwise unchanged, logs
//    that end in the failure.
// Signatures are random bytes (no private keys exist for the derived keys); everything
// else is consistent: indexes, header counts, balances per account, loaded addresses.
//
// Deterministic: the transaction at (slot, index) depends only on the options (seed
// included) and (slot, index), never on what was generated before, so a feed may
// generate any slot's transactions in any order and get the same bytes.
//
// Thread-safety: const methods may be called from any number of threads at once.
#ifndef QLASTER_WIRE_SOLANA_TRANSACTION_GENERATOR_H_
#define QLASTER_WIRE_SOLANA_TRANSACTION_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "wire/solana/transaction.h"
#include "wire/solana/transaction_status.h"
#include "wire/types.h"

namespace qlaster::solana {

enum class TransactionKind : uint8_t { kVote, kTransfer, kTokenTransfer, kSwap };

struct GeneratorOptions {
  uint64_t seed = 1;
  // Share of all transactions that are votes.
  double vote_fraction = 2.0 / 3.0;
  // Share of non-vote transactions that fail.
  double failed_fraction = 0.3;
  // Shares of the non-vote kinds; swaps take the rest.
  double transfer_share = 0.15;
  double token_transfer_share = 0.30;
  // Populations the keys are drawn from.
  uint32_t validators = 1500;
  uint32_t wallets = 1'000'000;
  uint32_t mints = 5'000;
  // Each table holds the Token, Raydium, System and Associated Token programs at entries
  // 0-3, then pools and their vaults.
  uint32_t lookup_tables = 500;
  // Unix time of the feed's first slot (TowerSync timestamps advance 0.4 s per slot).
  int64_t first_slot_unix_time = 1'750'000'000;
  uint64_t first_slot = 350'000'000;
};

struct GeneratedTransaction {
  TransactionKind kind = TransactionKind::kVote;
  bool failed = false;
  Signature signature{};             // the first signature
  std::vector<uint8_t> transaction;  // Solana wire format, <= kMaxTransactionSize
  std::vector<uint8_t> status;       // wire/solana/transaction_status.h
};

// The owned parts of a generated transaction before they are serialized, for a feed that
// adds keys of its own (the accounts its account updates write) and then serializes.
struct TransactionParts {
  TransactionKind kind = TransactionKind::kVote;
  Transaction transaction;
  TransactionStatus status;
};

class TransactionGenerator {
 public:
  explicit TransactionGenerator(const GeneratorOptions& options = {});

  const GeneratorOptions& options() const { return options_; }

  // The transaction at position `index` of `slot`, its kind drawn by the shares.
  GeneratedTransaction Generate(uint64_t slot, uint32_t index) const;
  // The same with the kind chosen by the caller (a feed that fixes the vote count per
  // slot); whether a non-vote fails is still drawn.
  GeneratedTransaction Generate(uint64_t slot, uint32_t index, TransactionKind kind) const;
  // The same transaction and status as owned parts, not serialized.
  TransactionParts GenerateParts(uint64_t slot, uint32_t index, TransactionKind kind) const;

  // The keys the generator uses, so that a feed's account updates and a test's filters
  // can name them.
  Pubkey ValidatorIdentity(uint32_t i) const;
  Pubkey VoteAccount(uint32_t i) const;
  Pubkey Wallet(uint32_t i) const;
  Pubkey Mint(uint32_t i) const;  // 0 is wrapped SOL, 1 is USDC
  Pubkey LookupTable(uint32_t i) const;
  // Entry `entry` of lookup table `table` (the key a lookup index resolves to).
  Pubkey LookupTableEntry(uint32_t table, uint8_t entry) const;
  // The associated token account of `wallet` for `mint`.
  Pubkey TokenAccountOf(uint32_t wallet, uint32_t mint) const;
  // The blockhash of `slot`, which later transactions use as their recent blockhash.
  Hash BlockhashOf(uint64_t slot) const;

 private:
  GeneratorOptions options_;
};

// UiTokenAmount's ui_amount_string: `amount` / 10^decimals in decimal, trailing zeros of
// the fraction (and a bare point) trimmed, as Solana's real_number_string_trimmed.
std::string UiAmountString(uint64_t amount, uint8_t decimals);

}  // namespace qlaster::solana

#endif  // QLASTER_WIRE_SOLANA_TRANSACTION_GENERATOR_H_
