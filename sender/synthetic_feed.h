// SyntheticFeed: a deterministic, Solana-like stream of slot, account, transaction, entry
// and block meta updates in virtual time, for demos, tests and benchmarks when no real upstream is
// attached. It never reads a clock: SyntheticSource (synthetic_source.h) replays it against
// the real one, and tests drain it as fast as they like and measure its statistics.
//
// The shape follows mainnet by default:
//  - one slot every `slot_interval` (400 ms). Slot N, starting at virtual time
//    t = (N - first_slot) * slot_interval, emits FirstShredReceived at t, CreatedBank at
//    t + 2%, its account and transaction bursts in [t + 5%, t + 85%), Completed at
//    t + 88% and Processed at t + 92% of the interval. A dead slot (probability
//    `dead_slot_probability`) stops at t + 50% with Dead instead: no bursts after that,
//    never Completed, Processed, Confirmed or Rooted. Confirmed(N) comes at 96% of slot
//    N + 1, Rooted(N) at 98% of slot N + 32. Each slot's parent is the newest slot before
//    it that is not dead.
//  - account updates in a few bursts per slot (as a validator emits them while it
//    replays the block's entries): a hot set of AMM pools (Raydium AMM v4, 752 B; Orca
//    Whirlpool, 653 B) that takes `hot_share` of all updates; vote accounts (3,762 B,
//    owned by the Vote program; a fixed set updated round-robin, so with the defaults
//    each of the 1,000 is written about once per slot, as many as there are vote
//    transactions); fee payers (0 B, System Program; uniform over a large population);
//    SPL token accounts (165 B, Token or Token-2022 (~15%); a power-law tail, with a
//    real layout: mint, owner, amount); mints (82 B); program state (200 B to 10 KiB,
//    log-uniform, owned by a dozen programs); and rarely (one every 10 s) a large
//    account of 1 to 10 MiB owned by the upgradeable BPF loader, alternately
//    compressible (repetitive, like a program buffer) and not (random). Every account
//    keeps its owner and size for the whole feed; `write_version` grows by one per
//    account update over the whole feed; lamports are rent-exempt plus a balance; ~95%
//    of updates carry the signature of a transaction of the same slot.
//  - transactions in the same bursts, `vote_fraction` of them votes, each a real Solana
//    transaction from solana::TransactionGenerator (wire/solana/transaction_generator.h)
//    with its status (fee, pre/post balances, token balances, logs, inner instructions,
//    compute units): votes are TowerSync simple votes (legacy, one signature, ~350 B);
//    the rest are SOL transfers (15%, legacy), token transfers (30%, legacy) and swaps
//    (55%, v0 with 1-4 address table lookups whose loaded keys are in the status); ~10%
//    of non-votes fail with a real TransactionError (an instruction's custom error). The
//    feed names each transaction by its own signature (kTagSignature) and adds to it the
//    accounts it writes: a vote account update is written by the next vote transaction
//    that has none yet (that validator's identity and vote account become its keys); any
//    other account update by the next successful non-vote transaction with room (a
//    failed one writes only its fee payer), as an extra writable static key (and an
//    account of its main instruction, with its lamports as pre and post balance, and for
//    a token account its token balance: mint, owner and the written amount after),
//    keeping every transaction within kMaxSyntheticTransactionSize.
//    An update with no such transaction left in its slot (or one of the ~5% the runtime
//    writes outside transactions: rewards, sysvars) has no txn_signature; with the
//    defaults about 95% have one, each naming a transaction of the same slot whose static
//    keys include the account.
//  - entries (Agave's PoH): 64 ticks per slot of 62,500 hashes each (mainnet since the
//    update_hashes_per_tick6 feature, epoch 597), and between them the transaction
//    entries, 1 to 64 transactions each (the banking stage's batch limit), about 3 on
//    average: ~490 transaction entries plus the 64 ticks in a mainnet slot of ~1,500
//    transactions. That average is our assumption (Agave records one entry per executed
//    batch, and contention keeps batches small), not a measured number. Each tick period's
//    num_hashes sum to 62,500; the last entry is the last tick, and its hash is the
//    blockhash. Each entry comes right after its last transaction (ticks right after the
//    entries before them); a dead slot's entries stop where it died.
//  - block meta when a slot completes (with Completed): blockhash and parent blockhash
//    (TransactionGenerator::BlockhashOf, the hashes recent_blockhash fields use), block
//    height (one per live slot, starting 7.5% below first_slot as on mainnet), block time
//    (0.4 s per slot from the generator's first_slot_unix_time), the slot's transaction
//    and entry counts, and one fee reward to the leader (4 slots per leader): the
//    priority fees and half the base fees. Dead slots have none.
// Every rate is an option and `rate` scales all of them (not the slot interval).
//
// Same options (seed included) → the same sequence, byte for byte, on the same platform.
//
// Thread-safety: a SyntheticFeed is a plain value with no shared state; use one from one
// thread at a time. The free functions are thread-safe.
#ifndef QLASTER_SENDER_SYNTHETIC_FEED_H_
#define QLASTER_SENDER_SYNTHETIC_FEED_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "wire/solana/transaction_generator.h"
#include "wire/types.h"
#include "wire/updates.h"

namespace qlaster::sender {

// Program ids, decoded once from their base58 spellings. Subscribing to one of these
// owners (or to SyntheticFeed::HotAccounts()) is the quickest way to see the feed flow.
const Pubkey& VoteProgramId();                   // Vote111111111111111111111111111111111111111
const Pubkey& SystemProgramId();                 // 11111111111111111111111111111111
const Pubkey& TokenProgramId();                  // TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA
const Pubkey& Token2022ProgramId();              // TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb
const Pubkey& BpfLoaderUpgradeableProgramId();   // BPFLoaderUpgradeab1e11111111111111111111111
const Pubkey& RaydiumAmmV4ProgramId();           // 675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8
const Pubkey& OrcaWhirlpoolProgramId();          // whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc

// Sizes the feed gives each kind of account.
inline constexpr size_t kVoteAccountSize = 3762;
inline constexpr size_t kTokenAccountSize = 165;
inline constexpr size_t kMintAccountSize = 82;
inline constexpr size_t kRaydiumPoolSize = 752;
inline constexpr size_t kWhirlpoolSize = 653;
inline constexpr size_t kMinProgramStateSize = 200;
inline constexpr size_t kMaxProgramStateSize = 10 * 1024;
// Solana's packet limit, which bounds every serialized transaction the feed produces.
inline constexpr size_t kMaxSyntheticTransactionSize = 1232;

// The slot interval can be set this low and no lower (half of mainnet's 400 ms target).
inline constexpr absl::Duration kMinSlotInterval = absl::Milliseconds(200);

struct SyntheticOptions {
  uint64_t seed = 1;
  // Number of the first slot; a mainnet-like value, so slot numbers look familiar.
  uint64_t first_slot = 300'000'000;
  // REQUIRES: >= kMinSlotInterval and <= 60 s.
  absl::Duration slot_interval = absl::Milliseconds(400);
  // Multiplies every rate below (accounts, transactions, large accounts); not the slot
  // interval. For benchmarks. REQUIRES: > 0; rate * accounts_per_second and
  // rate * transactions_per_second each <= 1e8, and together at most 1e9 per slot; at
  // most 1e7 transactions per slot (the feed plans each slot's transactions and entries).
  double rate = 1.0;

  // Account updates per second, on average over slots (each slot varies by ±30%).
  double accounts_per_second = 20'000;
  // Transactions per second, and the share of them that are votes.
  double transactions_per_second = 3'700;
  double vote_fraction = 2.0 / 3.0;
  // Probability that a slot is dead (its replay failed).
  double dead_slot_probability = 0.005;

  // Shares of account updates, each in [0, 1], summing to at most 1; program state takes
  // what is left (0.08 by default).
  double hot_share = 0.30;
  // One vote account write per vote transaction (2,500 a second with the defaults).
  double vote_share = 0.125;
  double fee_payer_share = 0.215;
  double token_share = 0.25;
  double mint_share = 0.03;

  // The hot set: AMM pools, updated about hot_share * accounts_per_second / hot_accounts
  // times a second each. REQUIRES: >= 1 when hot_share > 0.
  uint32_t hot_accounts = 16;
  // Validators, whose vote accounts are written round-robin. REQUIRES: >= 1. With the
  // defaults each votes about once a slot.
  uint32_t vote_accounts = 1'000;
  // Population sizes of the tails. REQUIRES: each >= 1.
  uint32_t fee_payers = 1'000'000;
  uint32_t token_accounts = 5'000'000;
  uint32_t mints = 200'000;
  uint32_t program_state_accounts = 100'000;

  // Large accounts (1 MiB to large_account_max_bytes), on average this many a second;
  // they come as extra updates on top of accounts_per_second. 0 disables them.
  double large_accounts_per_second = 0.1;
  // REQUIRES: in [1 MiB, kMaxAccountDataSize].
  size_t large_account_max_bytes = kMaxAccountDataSize;

  // 0: each burst spreads evenly over its share of the slot; 1: each burst comes at a
  // single instant. In between, a burst takes (1 - burstiness) of its share.
  // REQUIRES: in [0, 1].
  double burstiness = 0.8;
};

// kInvalidArgument naming the first option that breaks its REQUIRES.
absl::Status ValidateSyntheticOptions(const SyntheticOptions& options);

// What an account update is, so tests and statistics need not guess from owner and size.
enum class SyntheticAccountKind : uint8_t {
  kHot,
  kVote,
  kFeePayer,
  kToken,
  kMint,
  kProgramState,
  kLarge,
};

enum class SyntheticEventKind : uint8_t { kAccount, kTransaction, kSlot, kBlockMeta, kEntry };

// Agave's proof of history on mainnet.
inline constexpr uint32_t kTicksPerSlot = 64;
inline constexpr uint64_t kHashesPerTick = 62'500;
// The most transactions one entry of the feed carries.
inline constexpr uint32_t kMaxEntryTransactions = 64;

// One event as an owning value (SyntheticFeed::Next()). `at` is virtual time since the
// first slot began.
struct SyntheticEvent {
  absl::Duration at;
  std::variant<AccountUpdate, TransactionUpdate, SlotUpdate, BlockMetaUpdate, EntryUpdate> update;
};

class SyntheticFeed {
 public:
  static absl::StatusOr<SyntheticFeed> Create(const SyntheticOptions& options);

  SyntheticFeed(SyntheticFeed&&) = default;
  SyntheticFeed& operator=(SyntheticFeed&&) = default;

  // Moves to the next event and returns its kind; the event is then readable through
  // at() and account() / transaction() / slot() / block_meta() / entry() until the next
  // call. Virtual times never decrease. The feed never ends. Account updates reuse their
  // buffers (at most 10 KiB for small accounts, large_account_max_bytes for large ones);
  // transactions are built by the generator, which allocates.
  SyntheticEventKind Advance();

  // The current event. REQUIRES: Advance() has been called; account() and
  // account_kind() only after it returned kAccount, transaction() after kTransaction,
  // slot() after kSlot, block_meta() after kBlockMeta, entry() after kEntry. References
  // stay valid (with changing contents) for the feed's lifetime, except entry()'s, which
  // is valid until the next Advance().
  absl::Duration at() const { return absl::Nanoseconds(at_ns_); }
  int64_t at_nanos() const { return at_ns_; }
  const AccountUpdate& account() const { return large_ ? large_account_ : small_account_; }
  SyntheticAccountKind account_kind() const { return account_kind_; }
  const TransactionUpdate& transaction() const { return transaction_; }
  const SlotUpdate& slot() const { return slot_; }
  const BlockMetaUpdate& block_meta() const { return block_meta_; }
  const EntryUpdate& entry() const { return entries_[entry_cursor_ - 1]; }

  // Advance() and a copy of the event: convenient, but allocates. Prefer Advance() in
  // loops.
  SyntheticEvent Next();

  // The hot AMM-pool pubkeys the feed with `options` produces, hot_accounts of them.
  static std::vector<Pubkey> HotAccounts(const SyntheticOptions& options);
  // The vote account of validator `index`. REQUIRES: index < options.vote_accounts.
  static Pubkey VoteAccount(const SyntheticOptions& options, uint32_t index);
  // The generator's options for a feed with `options`: its transactions, keys and
  // blockhashes (TransactionGenerator(GeneratorOptionsOf(o)).BlockhashOf(slot)).
  static solana::GeneratorOptions GeneratorOptionsOf(const SyntheticOptions& options);

  const SyntheticOptions& options() const { return options_; }

 private:
  // One burst of a slot: `accounts` account updates and `transactions` transactions,
  // spread evenly over [start_ns, start_ns + duration_ns).
  struct Burst {
    int64_t start_ns;
    int64_t duration_ns;
    uint32_t accounts;
    uint32_t transactions;
    uint32_t large;  // large-account updates, extra, at the head of the burst
  };
  // Where the current slot is in its schedule; each phase but kBursts emits at most one
  // status.
  enum class Phase : uint8_t {
    kFirstShred,
    kCreatedBank,
    kBursts,
    kDeadOrCompleted,
    kBlockMeta,
    kProcessed,
    kConfirmPrevious,
    kRootOld,
    kNextSlot,
  };

  explicit SyntheticFeed(const SyntheticOptions& options);

  void PlanSlot();
  // Emits the status of `phase`, if that phase has one for the current slot.
  bool EmitSlotPhase(Phase phase);
  // Emits the next event of the current slot's bursts; false when they are exhausted.
  bool EmitFromBurst();
  void SetStatus(int64_t permille_of_slot, uint64_t slot, SlotStatus status);
  SyntheticAccountKind DrawAccountKind();
  void MakeAccount(SyntheticAccountKind kind);
  void MakeLargeAccount();
  void MakeTransaction();
  void MakeBlockMeta();
  void PlanEntries();
  // Emits the next entry if all its transactions have been emitted.
  bool EmitDueEntry();
  // Sets a.txn_signature to the transaction of this slot that will list `a` (and makes
  // it do so), or resets it when no transaction has room.
  void SetWriterSignature(AccountUpdate& a, SyntheticAccountKind kind);
  // An account a transaction writes besides its own keys: lamports as pre and post
  // balance, and for a token account its token balance after (and before) the write.
  struct ExtraKey {
    Pubkey key{};
    uint64_t lamports = 0;
    std::optional<solana::TokenBalance> token;
  };
  // A transaction that accounts have named before it was emitted: its parts, the extra
  // accounts it writes and, for a vote, the validator.
  struct PendingTransaction {
    uint32_t index = 0;
    solana::TransactionParts parts;
    std::vector<ExtraKey> extras;
    size_t size = 0;  // serialized size with the extras, an upper bound
    int64_t validator = -1;
  };
  PendingTransaction& Pending(uint32_t index);
  solana::TransactionParts GenerateAt(uint32_t index) const;
  bool IsDead(uint64_t slot) const { return (dead_bits_ >> (slot % 64)) & 1; }

  // xoshiro256**: fast, and the same on every platform (unlike std distributions).
  uint64_t NextRandom();
  double NextUniform();  // [0, 1)
  // An index in [0, n), skewed toward 0 (a power law): the long tail of a population.
  uint32_t NextTailIndex(uint32_t n);

  SyntheticOptions options_;
  int64_t interval_ns_;
  double accounts_per_slot_;
  double transactions_per_slot_;
  double large_per_slot_;
  // Cumulative shares of hot, vote, fee payer, token and mint for one uniform draw.
  double cumulative_share_[5];
  uint64_t rng_[4];
  solana::TransactionGenerator generator_;

  // Schedule of the current slot. The last 64 slots' dead flags and parents are kept:
  // Confirmed and Rooted look back 1 and 32 slots.
  uint64_t slot_number_;
  int64_t slot_start_ns_ = 0;
  Phase phase_ = Phase::kFirstShred;
  bool slot_dead_ = false;
  int64_t dead_at_ns_ = 0;
  uint64_t dead_bits_ = 0;
  uint64_t parents_[64] = {};
  uint64_t last_live_slot_;
  std::vector<Burst> bursts_;
  size_t burst_ = 0;
  uint32_t burst_event_ = 0;  // events of bursts_[burst_] already emitted
  uint32_t slot_transactions_ = 0;
  uint32_t next_tx_index_ = 0;  // transactions of the slot emitted so far
  std::vector<uint8_t> tx_is_vote_;  // per transaction of the slot
  std::vector<PendingTransaction> pending_;
  uint32_t vote_claim_ = 0;     // no vote transaction before this one is free to claim
  uint32_t non_vote_claim_ = 0;  // no non-vote transaction before this one has room
  std::vector<EntryUpdate> entries_;
  size_t entry_cursor_ = 0;  // entries of the slot emitted so far
  uint64_t slot_fees_ = 0;
  uint64_t slot_signatures_ = 0;
  uint64_t block_height_ = 0;  // of the newest live slot
  double account_carry_ = 0;
  double transaction_carry_ = 0;
  double vote_carry_ = 0;
  double large_carry_ = 0;

  uint64_t write_version_ = 0;
  uint32_t vote_cursor_ = 0;
  uint32_t vote_cursor_for_claim_ = 0;  // the validator of the vote account being made
  std::optional<solana::TokenBalance> token_balance_;  // of the token account being made
  std::vector<uint32_t> entry_sizes_;   // PlanEntries' scratch
  uint64_t large_count_ = 0;

  // The current event. Large accounts have their own buffer so that the small one stays
  // small and the large one is not reallocated on every large update.
  int64_t at_ns_ = 0;
  SyntheticEventKind kind_ = SyntheticEventKind::kSlot;
  bool large_ = false;
  AccountUpdate small_account_;
  AccountUpdate large_account_;
  SyntheticAccountKind account_kind_ = SyntheticAccountKind::kHot;
  TransactionUpdate transaction_;
  SlotUpdate slot_;
  BlockMetaUpdate block_meta_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SYNTHETIC_FEED_H_
