// SyntheticFeed: a deterministic, Solana-like stream of slot, account and transaction
// updates in virtual time, for demos, tests and benchmarks when no real upstream is
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
//  - account updates in a few bursts per slot (as a validator emits them while it replays
//    the block's entries): a hot set of AMM pools (Raydium AMM v4, 752 B; Orca Whirlpool,
//    653 B) that takes `hot_share` of all updates; vote accounts (3,762 B, owned by the
//    Vote program; a fixed set updated round-robin, so with the defaults each of the
//    1,500 is written about once per slot); fee payers (0 B, System Program; uniform over
//    a large population); SPL token accounts (165 B, Token or Token-2022 (~15%); a
//    power-law tail, with a real layout: mint, owner, amount); mints (82 B); program
//    state (200 B to 10 KiB, log-uniform, owned by a dozen programs); and rarely (one
//    every 10 s) a large account of 1 to 10 MiB owned by the upgradeable BPF loader,
//    alternately compressible (repetitive, like a program buffer) and not (random).
//    Every account keeps its owner and size for the whole feed; `write_version` grows by
//    one per account update over the whole feed; lamports are rent-exempt plus a balance;
//    ~95% of updates carry the signature of a transaction of the same slot.
//  - transactions in the same bursts, `vote_fraction` of them votes, serialized as a real
//    transaction starts (a compact-u16 count of 1, then the 64-byte signature) with
//    real sizes: votes 380 to 520 B, others 180 B up to the 1,232 B packet limit; ~10% of
//    non-vote transactions failed.
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
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
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
  // rate * transactions_per_second each <= 1e8, and together at most 1e9 per slot.
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
  double vote_share = 0.19;
  double fee_payer_share = 0.15;
  double token_share = 0.25;
  double mint_share = 0.03;

  // The hot set: AMM pools, updated about hot_share * accounts_per_second / hot_accounts
  // times a second each. REQUIRES: >= 1 when hot_share > 0.
  uint32_t hot_accounts = 16;
  // Validators, whose vote accounts are written round-robin. REQUIRES: >= 1.
  uint32_t vote_accounts = 1'500;
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

enum class SyntheticEventKind : uint8_t { kAccount, kTransaction, kSlot };

// One event as an owning value (SyntheticFeed::Next()). `at` is virtual time since the
// first slot began.
struct SyntheticEvent {
  absl::Duration at;
  std::variant<AccountUpdate, TransactionUpdate, SlotUpdate> update;
};

class SyntheticFeed {
 public:
  static absl::StatusOr<SyntheticFeed> Create(const SyntheticOptions& options);

  SyntheticFeed(SyntheticFeed&&) = default;
  SyntheticFeed& operator=(SyntheticFeed&&) = default;

  // Moves to the next event and returns its kind; the event is then readable through
  // at() and account() / transaction() / slot() until the next call. Virtual times never
  // decrease. The feed never ends. Allocation-free once its buffers have grown (at most
  // 10 KiB for small accounts, large_account_max_bytes for large ones).
  SyntheticEventKind Advance();

  // The current event. REQUIRES: Advance() has been called; account() and
  // account_kind() only after it returned kAccount, transaction() after kTransaction,
  // slot() after kSlot. References stay valid (with changing contents) for the feed's
  // lifetime.
  absl::Duration at() const { return absl::Nanoseconds(at_ns_); }
  int64_t at_nanos() const { return at_ns_; }
  const AccountUpdate& account() const { return large_ ? large_account_ : small_account_; }
  SyntheticAccountKind account_kind() const { return account_kind_; }
  const TransactionUpdate& transaction() const { return transaction_; }
  const SlotUpdate& slot() const { return slot_; }

  // Advance() and a copy of the event: convenient, but allocates. Prefer Advance() in
  // loops.
  SyntheticEvent Next();

  // The hot AMM-pool pubkeys the feed with `options` produces, hot_accounts of them.
  static std::vector<Pubkey> HotAccounts(const SyntheticOptions& options);
  // The vote account of validator `index`. REQUIRES: index < options.vote_accounts.
  static Pubkey VoteAccount(const SyntheticOptions& options, uint32_t index);

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
  // The signature of the transaction about to be emitted (the one writing the accounts
  // that precede it), or none when the slot has no transactions.
  void SetWriterSignature(AccountUpdate& a) const;
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
  uint32_t slot_votes_left_ = 0;
  uint32_t next_tx_index_ = 0;
  double account_carry_ = 0;
  double transaction_carry_ = 0;
  double vote_carry_ = 0;
  double large_carry_ = 0;

  uint64_t write_version_ = 0;
  uint32_t vote_cursor_ = 0;
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
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SYNTHETIC_FEED_H_
