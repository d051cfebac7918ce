// SyntheticFeed: the slot schedule, the burst planner and the account and transaction
// makers. Everything an account is (pubkey, owner, size, base contents) is a hash of
// (seed, kind, index), so an account looks the same every time it is drawn without the
// feed remembering it; only the per-update parts (write_version, amounts) change.
#include "sender/synthetic_feed.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::sender {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// splitmix64's finalizer: a cheap, well-mixed 64-bit hash.
inline uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

// Domains of the derived keys, so that (kind, index) pairs never collide across kinds.
enum Tag : uint64_t {
  kTagHot = 1,
  kTagVote,
  kTagWallet,
  kTagToken,
  kTagMint,
  kTagProgramState,
  kTagProgramOwner,
  kTagLarge,
  kTagSignature,
  kTagData,
  kTagKind,
  kTagEntry,
  kTagLeader,
};

inline uint64_t KeyOf(uint64_t seed, uint64_t tag, uint64_t index) {
  return Mix(Mix(seed + kGolden * tag) ^ (index * 0xD6E8FEB86659FD93ULL));
}

Pubkey Derive(uint64_t seed, uint64_t tag, uint64_t index) {
  const uint64_t h = KeyOf(seed, tag, index);
  Pubkey key;
  for (int i = 0; i < 4; ++i) {
    const uint64_t w = Mix(h + kGolden * static_cast<uint64_t>(i + 1));
    std::memcpy(key.data() + 8 * i, &w, 8);
  }
  return key;
}

// Random-looking bytes from `key`, 8 at a time: fast enough for 10 MiB, and LZ4 finds
// nothing in them.
void FillPattern(uint8_t* p, size_t n, uint64_t key) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    key += kGolden;
    const uint64_t w = Mix(key);
    std::memcpy(p + i, &w, 8);
  }
  if (i < n) {
    const uint64_t w = Mix(key + kGolden);
    std::memcpy(p + i, &w, n - i);
  }
}

inline void PutU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }  // little-endian host

// Solana's rent-exempt minimum: (128 + size) bytes * 3,480 lamports/byte-year * 2 years.
inline uint64_t RentExempt(size_t size) { return (128 + uint64_t{size}) * 3480 * 2; }

constexpr uint64_t kLamportsPerSol = 1'000'000'000;
constexpr uint32_t kProgramOwners = 12;
constexpr uint32_t kLargeAccounts = 8;
constexpr size_t kMiB = 1024 * 1024;

struct KnownIds {
  Pubkey vote, system, token, token_2022, bpf_upgradeable, raydium, whirlpool;
};

Pubkey MustDecode(const char* text) {
  absl::StatusOr<Pubkey> key = DecodePubkey(text);
  // A typo in a constant below: a bug of ours, caught by every test.
  if (!key.ok()) std::abort();
  return *key;
}

const KnownIds& Known() {
  static const KnownIds* ids = new KnownIds{
      MustDecode("Vote111111111111111111111111111111111111111"),
      MustDecode("11111111111111111111111111111111"),
      MustDecode("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
      MustDecode("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"),
      MustDecode("BPFLoaderUpgradeab1e11111111111111111111111"),
      MustDecode("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8"),
      MustDecode("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"),
  };
  return *ids;
}

bool InUnit(double x) { return x >= 0 && x <= 1; }  // false for NaN

Signature TransactionSignatureOf(uint64_t seed, uint64_t slot, uint32_t index) {
  const uint64_t h = KeyOf(seed, kTagSignature, slot * 1'000'003 + index);
  Signature sig;
  for (int i = 0; i < 8; ++i) {
    const uint64_t w = Mix(h + kGolden * static_cast<uint64_t>(i + 1));
    std::memcpy(sig.data() + 8 * i, &w, 8);
  }
  return sig;
}

// The serialized size of `tx` (Solana's wire format), without serializing it.
size_t SerializedSize(const solana::Transaction& tx) {
  const auto cu16 = [](size_t n) -> size_t { return n < 0x80 ? 1 : n < 0x4000 ? 2 : 3; };
  size_t size = cu16(tx.signatures.size()) + kSignatureSize * tx.signatures.size() +
                (tx.version == solana::MessageVersion::kV0 ? 1 : 0) + 3 +
                cu16(tx.account_keys.size()) + kPubkeySize * tx.account_keys.size() + solana::kHashSize +
                cu16(tx.instructions.size());
  for (const solana::CompiledInstruction& ix : tx.instructions) {
    size += 1 + cu16(ix.accounts.size()) + ix.accounts.size() + cu16(ix.data.size()) + ix.data.size();
  }
  if (tx.version == solana::MessageVersion::kV0) {
    size += cu16(tx.address_table_lookups.size());
    for (const solana::AddressTableLookup& l : tx.address_table_lookups) {
      size += kPubkeySize + cu16(l.writable_indexes.size()) + l.writable_indexes.size() +
              cu16(l.readonly_indexes.size()) + l.readonly_indexes.size();
    }
  }
  return size;
}

// Each extra key costs 32 bytes and an account index in the main instruction, and may
// lengthen two compact-u16 counts once: 34 bytes is an upper bound.
constexpr size_t kExtraKeyBytes = 34;

// Inserts `extras` as writable unsigned static keys (after the writable unsigned keys
// already there), shifting every account index at or after the insertion point, and
// lists them in instruction `main` (when there is one); their token balances join the
// status's, which stay in account order.
template <typename Extra>
void InsertWritableKeys(solana::TransactionParts& parts, const std::vector<Extra>& extras, size_t main) {
  if (extras.empty()) return;
  solana::Transaction& tx = parts.transaction;
  solana::TransactionStatus& st = parts.status;
  const size_t at = tx.account_keys.size() - tx.header.num_readonly_unsigned_accounts;
  const size_t k = extras.size();
  const auto shift = [&](uint8_t& index) {
    if (index >= at) index = static_cast<uint8_t>(index + k);
  };
  for (solana::CompiledInstruction& ix : tx.instructions) {
    shift(ix.program_id_index);
    for (uint8_t& a : ix.accounts) shift(a);
  }
  if (st.inner_instructions) {
    for (solana::InnerInstructions& group : *st.inner_instructions) {
      for (solana::InnerInstruction& ix : group.instructions) {
        shift(ix.program_id_index);
        for (uint8_t& a : ix.accounts) shift(a);
      }
    }
  }
  for (solana::TokenBalance& b : st.pre_token_balances) shift(b.account_index);
  for (solana::TokenBalance& b : st.post_token_balances) shift(b.account_index);
  std::vector<Pubkey> keys;
  std::vector<uint64_t> balances;
  keys.reserve(k);
  balances.reserve(k);
  for (const Extra& e : extras) {
    keys.push_back(e.key);
    balances.push_back(e.lamports);
  }
  for (size_t i = 0; i < k; ++i) {
    if (!extras[i].token) continue;
    const uint8_t index = static_cast<uint8_t>(at + i);
    for (auto* list : {&st.pre_token_balances, &st.post_token_balances}) {
      auto pos = std::find_if(list->begin(), list->end(),
                              [&](const solana::TokenBalance& b) { return b.account_index > index; });
      pos = list->insert(pos, *extras[i].token);
      pos->account_index = index;
    }
    // The write's amount after; before it, a little less (what the transaction paid in).
    solana::TokenBalance& pre = *std::find_if(st.pre_token_balances.begin(), st.pre_token_balances.end(),
                                              [&](const solana::TokenBalance& b) { return b.account_index == index; });
    pre.amount -= std::min<uint64_t>(pre.amount, 1 + pre.amount % 1'000'000);
    pre.ui_amount = static_cast<double>(pre.amount) / std::pow(10.0, pre.decimals);
    pre.ui_amount_string = solana::UiAmountString(pre.amount, pre.decimals);
  }
  tx.account_keys.insert(tx.account_keys.begin() + static_cast<ptrdiff_t>(at), keys.begin(), keys.end());
  for (std::vector<uint64_t>* list : {&st.pre_balances, &st.post_balances}) {
    list->insert(list->begin() + static_cast<ptrdiff_t>(std::min(at, list->size())), balances.begin(),
                 balances.end());
  }
  if (main < tx.instructions.size()) {
    for (size_t i = 0; i < k; ++i) tx.instructions[main].accounts.push_back(static_cast<uint8_t>(at + i));
  }
}

Pubkey ToPubkey(const solana::Hash& h) {
  Pubkey key;
  std::memcpy(key.data(), h.data(), kPubkeySize);
  return key;
}

}  // namespace

const Pubkey& VoteProgramId() { return Known().vote; }
const Pubkey& SystemProgramId() { return Known().system; }
const Pubkey& TokenProgramId() { return Known().token; }
const Pubkey& Token2022ProgramId() { return Known().token_2022; }
const Pubkey& BpfLoaderUpgradeableProgramId() { return Known().bpf_upgradeable; }
const Pubkey& RaydiumAmmV4ProgramId() { return Known().raydium; }
const Pubkey& OrcaWhirlpoolProgramId() { return Known().whirlpool; }

absl::Status ValidateSyntheticOptions(const SyntheticOptions& o) {
  if (o.slot_interval < kMinSlotInterval || o.slot_interval > absl::Seconds(60)) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic slot interval ", absl::FormatDuration(o.slot_interval),
                     " must be in [", absl::FormatDuration(kMinSlotInterval), ", 60s]"));
  }
  if (!(o.rate > 0) || !std::isfinite(o.rate)) {
    return absl::InvalidArgumentError(absl::StrCat("synthetic rate ", o.rate, " must be > 0"));
  }
  const struct {
    const char* name;
    double value;
  } rates[] = {{"accounts per second", o.accounts_per_second},
               {"transactions per second", o.transactions_per_second},
               {"large accounts per second", o.large_accounts_per_second}};
  for (const auto& r : rates) {
    if (!(r.value >= 0) || !(r.value * o.rate <= 1e8)) {
      return absl::InvalidArgumentError(absl::StrCat("synthetic ", r.name, " ", r.value,
                                                     " times rate ", o.rate,
                                                     " must be in [0, 1e8]"));
    }
  }
  // Per-slot counts are 32-bit; 1e9 leaves room for the +30% of a busy slot.
  const double per_slot = o.rate * (o.accounts_per_second + o.transactions_per_second) *
                          absl::ToDoubleSeconds(o.slot_interval);
  if (!(per_slot <= 1e9)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic rates make ", per_slot, " updates per slot; at most 1e9 are supported"));
  }
  // Each slot's transactions and entries are planned when it starts (a byte and ~20 bytes
  // each); 1e7, +30%, keeps that within a few hundred MB.
  const double transactions_per_slot =
      o.rate * o.transactions_per_second * absl::ToDoubleSeconds(o.slot_interval);
  if (!(transactions_per_slot <= 1e7)) {
    return absl::InvalidArgumentError(absl::StrCat("synthetic rates make ", transactions_per_slot,
                                                   " transactions per slot; at most 1e7 are supported"));
  }
  const struct {
    const char* name;
    double value;
  } fractions[] = {{"vote fraction", o.vote_fraction},
                   {"dead slot probability", o.dead_slot_probability},
                   {"hot share", o.hot_share},
                   {"vote share", o.vote_share},
                   {"fee payer share", o.fee_payer_share},
                   {"token share", o.token_share},
                   {"mint share", o.mint_share},
                   {"burstiness", o.burstiness}};
  for (const auto& f : fractions) {
    if (!InUnit(f.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("synthetic ", f.name, " ", f.value, " must be in [0, 1]"));
    }
  }
  // A run of dead slots longer than the 64 slots of history would lose parents.
  if (o.dead_slot_probability > 0.5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic dead slot probability ", o.dead_slot_probability, " must be at most 0.5"));
  }
  const double shares = o.hot_share + o.vote_share + o.fee_payer_share + o.token_share + o.mint_share;
  if (shares > 1 + 1e-9) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic account shares sum to ", shares, ", more than 1"));
  }
  if (o.hot_share > 0 && o.hot_accounts == 0) {
    return absl::InvalidArgumentError("synthetic hot accounts must be >= 1 when hot share > 0");
  }
  if (o.vote_accounts == 0 || o.fee_payers == 0 || o.token_accounts == 0 || o.mints == 0 ||
      o.program_state_accounts == 0) {
    return absl::InvalidArgumentError("synthetic account populations must each be >= 1");
  }
  if (o.large_account_max_bytes < kMiB || o.large_account_max_bytes > kMaxAccountDataSize) {
    return absl::InvalidArgumentError(absl::StrCat("synthetic large account size ",
                                                   o.large_account_max_bytes, " must be in [",
                                                   kMiB, ", ", kMaxAccountDataSize, "]"));
  }
  if (o.first_slot == 0 || o.first_slot > std::numeric_limits<uint64_t>::max() / 2) {
    return absl::InvalidArgumentError("synthetic first slot must be in [1, 2^63)");
  }
  return absl::OkStatus();
}

absl::StatusOr<SyntheticFeed> SyntheticFeed::Create(const SyntheticOptions& options) {
  if (absl::Status s = ValidateSyntheticOptions(options); !s.ok()) return s;
  return SyntheticFeed(options);
}

std::vector<Pubkey> SyntheticFeed::HotAccounts(const SyntheticOptions& options) {
  std::vector<Pubkey> keys;
  keys.reserve(options.hot_accounts);
  for (uint32_t i = 0; i < options.hot_accounts; ++i) keys.push_back(Derive(options.seed, kTagHot, i));
  return keys;
}

Pubkey SyntheticFeed::VoteAccount(const SyntheticOptions& options, uint32_t index) {
  return solana::TransactionGenerator(GeneratorOptionsOf(options)).VoteAccount(index);
}

solana::GeneratorOptions SyntheticFeed::GeneratorOptionsOf(const SyntheticOptions& options) {
  solana::GeneratorOptions g;
  g.seed = options.seed;
  g.vote_fraction = options.vote_fraction;
  g.failed_fraction = 0.1;  // bots' failed arbitrage and stale quotes
  g.validators = options.vote_accounts;
  g.wallets = options.fee_payers;
  g.first_slot = options.first_slot;
  return g;
}

SyntheticFeed::SyntheticFeed(const SyntheticOptions& options)
    : options_(options),
      interval_ns_(absl::ToInt64Nanoseconds(options.slot_interval)),
      generator_(GeneratorOptionsOf(options)),
      slot_number_(options.first_slot),
      last_live_slot_(options.first_slot - 1),
      // Mainnet's block height trails its slot by ~7.5% (skipped slots).
      block_height_(options.first_slot - options.first_slot * 3 / 40 - 1) {
  const double seconds = absl::ToDoubleSeconds(options.slot_interval);
  accounts_per_slot_ = options.rate * options.accounts_per_second * seconds;
  transactions_per_slot_ = options.rate * options.transactions_per_second * seconds;
  large_per_slot_ = options.rate * options.large_accounts_per_second * seconds;
  const double shares[5] = {options.hot_share, options.vote_share, options.fee_payer_share,
                            options.token_share, options.mint_share};
  double sum = 0;
  for (int i = 0; i < 5; ++i) cumulative_share_[i] = (sum += shares[i]);
  uint64_t s = options.seed;
  for (uint64_t& word : rng_) word = Mix(s += kGolden);
  bursts_.reserve(16);
  entries_.reserve(1024);
  PlanSlot();
}

uint64_t SyntheticFeed::NextRandom() {
  const uint64_t result = std::rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = std::rotl(rng_[3], 45);
  return result;
}

double SyntheticFeed::NextUniform() { return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53; }

uint32_t SyntheticFeed::NextTailIndex(uint32_t n) {
  // u^3 puts a third of the draws in the first 4% of the population: a few token accounts
  // (market makers', exchanges') are busy and most are touched rarely.
  const double u = NextUniform();
  return std::min(n - 1, static_cast<uint32_t>(u * u * u * n));
}

void SyntheticFeed::PlanSlot() {
  slot_dead_ = NextUniform() < options_.dead_slot_probability;
  const uint64_t bit = uint64_t{1} << (slot_number_ % 64);
  dead_bits_ = slot_dead_ ? (dead_bits_ | bit) : (dead_bits_ & ~bit);
  parents_[slot_number_ % 64] = last_live_slot_;
  if (!slot_dead_) last_live_slot_ = slot_number_;
  dead_at_ns_ = slot_start_ns_ + interval_ns_ / 2;

  // Blocks differ in size: busy and quiet slots, ±30%, the same for accounts and
  // transactions. The carries keep the long-run rates exact.
  const double jitter = 0.7 + 0.6 * NextUniform();
  auto take = [](double& carry, double expected) {
    const double total = carry + expected;
    const double n = std::floor(total);
    carry = total - n;
    return static_cast<uint32_t>(n);
  };
  const uint32_t accounts = take(account_carry_, accounts_per_slot_ * jitter);
  const uint32_t transactions = take(transaction_carry_, transactions_per_slot_ * jitter);
  const uint32_t large = take(large_carry_, large_per_slot_);
  slot_transactions_ = transactions;
  // Exactly this many of the slot's transactions are votes, in random order.
  uint32_t votes_left = take(vote_carry_, transactions * options_.vote_fraction);
  tx_is_vote_.resize(transactions);
  for (uint32_t i = 0; i < transactions; ++i) {
    const bool vote = NextUniform() * (transactions - i) < votes_left;
    tx_is_vote_[i] = vote;
    votes_left -= vote;
  }
  next_tx_index_ = 0;
  vote_claim_ = 0;
  non_vote_claim_ = 0;
  pending_.clear();
  slot_fees_ = 0;
  slot_signatures_ = 0;
  PlanEntries();

  // 4 to 12 bursts of exponentially distributed weights, each in its own equal share of
  // the data window [5%, 85%) of the slot.
  const uint32_t count = 4 + static_cast<uint32_t>(NextRandom() % 9);
  double weights[12];
  double total_weight = 0;
  for (uint32_t j = 0; j < count; ++j) {
    weights[j] = -std::log1p(-NextUniform()) + 0.05;
    total_weight += weights[j];
  }
  const uint32_t large_burst = static_cast<uint32_t>(NextRandom() % count);
  const double window_start = static_cast<double>(slot_start_ns_) + 0.05 * static_cast<double>(interval_ns_);
  const double share = 0.80 * static_cast<double>(interval_ns_) / count;
  const double duration = share * (1 - options_.burstiness);
  bursts_.clear();
  double cumulative = 0;
  uint32_t accounts_before = 0, transactions_before = 0;
  for (uint32_t j = 0; j < count; ++j) {
    cumulative += weights[j];
    const double f = j + 1 == count ? 1.0 : cumulative / total_weight;
    const uint32_t a = std::min(accounts, static_cast<uint32_t>(std::floor(accounts * f)));
    const uint32_t t = std::min(transactions, static_cast<uint32_t>(std::floor(transactions * f)));
    const double start = window_start + j * share + NextUniform() * (share - duration);
    bursts_.push_back(Burst{.start_ns = static_cast<int64_t>(start),
                            .duration_ns = static_cast<int64_t>(duration),
                            .accounts = a - accounts_before,
                            .transactions = t - transactions_before,
                            .large = j == large_burst ? large : 0});
    accounts_before = a;
    transactions_before = t;
  }
  burst_ = 0;
  burst_event_ = 0;
}

SyntheticEventKind SyntheticFeed::Advance() {
  for (;;) {
    switch (phase_) {
      case Phase::kBursts:
        if (EmitFromBurst()) return kind_;
        phase_ = Phase::kDeadOrCompleted;
        continue;
      case Phase::kNextSlot:
        ++slot_number_;
        slot_start_ns_ += interval_ns_;
        PlanSlot();
        phase_ = Phase::kFirstShred;
        continue;
      default: {
        const Phase phase = phase_;
        phase_ = static_cast<Phase>(static_cast<uint8_t>(phase_) + 1);
        if (EmitSlotPhase(phase)) return kind_;
      }
    }
  }
}

bool SyntheticFeed::EmitSlotPhase(Phase phase) {
  const uint64_t slot = slot_number_;
  switch (phase) {
    case Phase::kFirstShred:
      SetStatus(0, slot, SlotStatus::kFirstShredReceived);
      return true;
    case Phase::kCreatedBank:
      SetStatus(20, slot, SlotStatus::kCreatedBank);
      return true;
    case Phase::kDeadOrCompleted:
      if (slot_dead_) {
        SetStatus(500, slot, SlotStatus::kDead);
      } else {
        SetStatus(880, slot, SlotStatus::kCompleted);
      }
      return true;
    case Phase::kBlockMeta:
      if (slot_dead_) return false;
      MakeBlockMeta();
      return true;
    case Phase::kProcessed:
      if (slot_dead_) return false;
      SetStatus(920, slot, SlotStatus::kProcessed);
      return true;
    case Phase::kConfirmPrevious:
      // Optimistic confirmation needs 2/3 of the stake to vote on the slot, which takes
      // about one more slot.
      if (slot == options_.first_slot || IsDead(slot - 1)) return false;
      SetStatus(960, slot - 1, SlotStatus::kConfirmed);
      return true;
    case Phase::kRootOld:
      // A slot is rooted once 32 more slots are stacked on it (tower lockout).
      if (slot < options_.first_slot + 32 || IsDead(slot - 32)) return false;
      SetStatus(980, slot - 32, SlotStatus::kRooted);
      return true;
    default:
      return false;
  }
}

void SyntheticFeed::SetStatus(int64_t permille_of_slot, uint64_t slot, SlotStatus status) {
  at_ns_ = slot_start_ns_ + interval_ns_ / 1000 * permille_of_slot;
  slot_ = SlotUpdate{.slot = slot, .parent = parents_[slot % 64], .status = status};
  kind_ = SyntheticEventKind::kSlot;
}

bool SyntheticFeed::EmitFromBurst() {
  if (EmitDueEntry()) return true;
  while (burst_ < bursts_.size()) {
    const Burst& b = bursts_[burst_];
    const uint64_t events = uint64_t{b.large} + b.accounts + b.transactions;
    if (burst_event_ >= events) {
      ++burst_;
      burst_event_ = 0;
      continue;
    }
    const int64_t at = b.start_ns + static_cast<int64_t>(static_cast<double>(b.duration_ns) *
                                                         burst_event_ / static_cast<double>(events));
    if (slot_dead_ && at >= dead_at_ns_) {
      burst_ = bursts_.size();
      return false;
    }
    at_ns_ = at;
    const uint64_t i = burst_event_++;
    if (i < b.large) {
      MakeLargeAccount();
      return true;
    }
    // Spread the transactions evenly among the accounts, so the accounts a transaction
    // writes come just before it, as a validator notifies them.
    const uint64_t k = i - b.large;
    const uint64_t n = uint64_t{b.accounts} + b.transactions;
    if ((k + 1) * b.transactions / n > k * b.transactions / n) {
      MakeTransaction();
    } else {
      MakeAccount(DrawAccountKind());
    }
    return true;
  }
  // The ticks after the last transaction entry (a dead slot never gets here).
  return !slot_dead_ && EmitDueEntry();
}

void SyntheticFeed::PlanEntries() {
  entries_.clear();
  entry_cursor_ = 0;
  // The transaction entries: 1 + the floor of an exponential draw of mean 2.5 (so 3 on
  // average) transactions each, at most kMaxEntryTransactions.
  std::vector<uint32_t>& sizes = entry_sizes_;
  sizes.clear();
  for (uint32_t left = slot_transactions_; left > 0;) {
    const uint32_t n = std::min<uint32_t>(
        {left, kMaxEntryTransactions, 1 + static_cast<uint32_t>(-std::log1p(-NextUniform()) * 2.5)});
    sizes.push_back(n);
    left -= n;
  }
  // Tick period p holds the transaction entries [p * E / 64, (p + 1) * E / 64) and ends
  // with tick p; each period's hashes sum to kHashesPerTick.
  const size_t e = sizes.size();
  uint64_t tx_index = 0;
  size_t next = 0;
  for (uint32_t p = 0; p < kTicksPerSlot; ++p) {
    const size_t end = (p + 1) * e / kTicksPerSlot;
    const uint64_t share = kHashesPerTick / (end - next + 1);
    uint64_t used = 0;
    for (; next < end; ++next) {
      const uint64_t hashes = 1 + NextRandom() % share;
      used += hashes;
      entries_.push_back(EntryUpdate{.slot = slot_number_,
                                     .index = entries_.size(),
                                     .num_hashes = hashes,
                                     .hash = Derive(options_.seed, kTagEntry, Mix(slot_number_) ^ entries_.size()),
                                     .executed_transaction_count = sizes[next],
                                     .starting_transaction_index = tx_index});
      tx_index += sizes[next];
    }
    entries_.push_back(EntryUpdate{.slot = slot_number_,
                                   .index = entries_.size(),
                                   .num_hashes = kHashesPerTick - used,
                                   .hash = Derive(options_.seed, kTagEntry, Mix(slot_number_) ^ entries_.size()),
                                   .executed_transaction_count = 0,
                                   .starting_transaction_index = tx_index});
  }
  // The blockhash is the hash of the block's last entry, its last tick.
  entries_.back().hash = ToPubkey(generator_.BlockhashOf(slot_number_));
}

bool SyntheticFeed::EmitDueEntry() {
  if (entry_cursor_ >= entries_.size()) return false;
  const EntryUpdate& e = entries_[entry_cursor_];
  if (e.starting_transaction_index + e.executed_transaction_count > next_tx_index_) return false;
  ++entry_cursor_;
  kind_ = SyntheticEventKind::kEntry;  // at_ns_ stays: the time of its last transaction
  return true;
}

void SyntheticFeed::MakeBlockMeta() {
  const uint64_t slot = slot_number_;
  const uint64_t parent = parents_[slot % 64];
  ++block_height_;
  kind_ = SyntheticEventKind::kBlockMeta;  // at_ns_ stays: the time of Completed
  BlockMetaUpdate& m = block_meta_;
  m.slot = slot;
  m.parent_slot = parent;
  m.blockhash = ToPubkey(generator_.BlockhashOf(slot));
  m.parent_blockhash = ToPubkey(generator_.BlockhashOf(parent));
  m.block_height = block_height_;
  m.block_time = generator_.options().first_slot_unix_time +
                 static_cast<int64_t>((slot - options_.first_slot) * 2 / 5);
  m.executed_transaction_count = slot_transactions_;
  m.entries_count = entries_.size();
  // The leader (4 consecutive slots each) gets the priority fees and half the base fees
  // (5,000 lamports a signature; the other half is burned).
  const uint32_t leader = static_cast<uint32_t>(KeyOf(options_.seed, kTagLeader, slot / 4) % options_.vote_accounts);
  const uint64_t reward = slot_fees_ - std::min(slot_fees_, slot_signatures_ * 2'500);
  m.rewards.resize(1);
  m.rewards[0] = Reward{.pubkey = generator_.ValidatorIdentity(leader),
                        .lamports = static_cast<int64_t>(reward),
                        .post_balance = KeyOf(options_.seed, kTagLeader, leader) % (1000 * kLamportsPerSol) +
                                        kLamportsPerSol + reward,
                        .reward_type = 1,  // fee
                        .commission = std::nullopt};
  m.num_partitions.reset();
}

SyntheticAccountKind SyntheticFeed::DrawAccountKind() {
  const double u = NextUniform();
  if (u < cumulative_share_[0]) return SyntheticAccountKind::kHot;
  if (u < cumulative_share_[1]) return SyntheticAccountKind::kVote;
  if (u < cumulative_share_[2]) return SyntheticAccountKind::kFeePayer;
  if (u < cumulative_share_[3]) return SyntheticAccountKind::kToken;
  if (u < cumulative_share_[4]) return SyntheticAccountKind::kMint;
  return SyntheticAccountKind::kProgramState;
}

solana::TransactionParts SyntheticFeed::GenerateAt(uint32_t index) const {
  if (tx_is_vote_[index]) return generator_.GenerateParts(slot_number_, index, solana::TransactionKind::kVote);
  // The non-vote kinds in the generator's shares, drawn from (slot, index) alone.
  const double u = static_cast<double>(KeyOf(options_.seed, kTagKind, slot_number_ * 1'000'003 + index) >> 11) *
                   0x1.0p-53;
  const solana::GeneratorOptions& g = generator_.options();
  const solana::TransactionKind kind = u < g.transfer_share ? solana::TransactionKind::kTransfer
                                       : u < g.transfer_share + g.token_transfer_share
                                           ? solana::TransactionKind::kTokenTransfer
                                           : solana::TransactionKind::kSwap;
  return generator_.GenerateParts(slot_number_, index, kind);
}

SyntheticFeed::PendingTransaction& SyntheticFeed::Pending(uint32_t index) {
  for (PendingTransaction& p : pending_) {
    if (p.index == index) return p;
  }
  PendingTransaction& p = pending_.emplace_back();
  p.index = index;
  p.parts = GenerateAt(index);
  p.size = SerializedSize(p.parts.transaction);
  return p;
}

void SyntheticFeed::SetWriterSignature(AccountUpdate& a, SyntheticAccountKind kind) {
  a.txn_signature.reset();
  uint32_t& claim = kind == SyntheticAccountKind::kVote ? vote_claim_ : non_vote_claim_;
  claim = std::max(claim, next_tx_index_);
  for (; claim < slot_transactions_; ++claim) {
    if (tx_is_vote_[claim] != (kind == SyntheticAccountKind::kVote)) continue;
    PendingTransaction& p = Pending(claim);
    if (kind == SyntheticAccountKind::kVote) {
      // The vote account's own vote: this validator's identity and vote account.
      p.validator = vote_cursor_for_claim_;
      p.extras.assign(1, ExtraKey{a.pubkey, a.lamports, std::nullopt});
      a.txn_signature = TransactionSignatureOf(options_.seed, slot_number_, claim++);
      return;
    }
    // A failed transaction writes nothing but its fee payer's fee.
    if (p.parts.status.error) continue;
    const solana::Transaction& tx = p.parts.transaction;
    if (std::find(tx.account_keys.begin(), tx.account_keys.end(), a.pubkey) != tx.account_keys.end()) {
      a.txn_signature = TransactionSignatureOf(options_.seed, slot_number_, claim);
      return;
    }
    auto extra = std::find_if(p.extras.begin(), p.extras.end(), [&](const ExtraKey& e) { return e.key == a.pubkey; });
    if (extra != p.extras.end()) {  // written again: the transaction's post state is this one
      extra->lamports = a.lamports;
      if (token_balance_) extra->token = token_balance_;
      a.txn_signature = TransactionSignatureOf(options_.seed, slot_number_, claim);
      return;
    }
    const size_t accounts = tx.account_keys.size() + p.extras.size() + p.parts.status.loaded_writable_addresses.size() +
                            p.parts.status.loaded_readonly_addresses.size();
    if (p.size + kExtraKeyBytes <= kMaxSyntheticTransactionSize && accounts < solana::kMaxAccounts) {
      p.extras.push_back(ExtraKey{a.pubkey, a.lamports, token_balance_});
      p.size += kExtraKeyBytes;
      a.txn_signature = TransactionSignatureOf(options_.seed, slot_number_, claim);
      return;
    }
  }
}

void SyntheticFeed::MakeAccount(SyntheticAccountKind kind) {
  kind_ = SyntheticEventKind::kAccount;
  large_ = false;
  account_kind_ = kind;
  AccountUpdate& a = small_account_;
  token_balance_.reset();
  a.slot = slot_number_;
  a.write_version = ++write_version_;
  a.executable = false;
  // Rent-exempt accounts have carried u64::MAX here since rent collection ended.
  a.rent_epoch = std::numeric_limits<uint64_t>::max();
  // Most writes come from a transaction of this slot (SetWriterSignature, once the
  // account's pubkey and lamports are known); the rest (rewards, sysvars) have none.
  const bool from_transaction = NextRandom() % 100 >= 5;
  const uint64_t seed = options_.seed;
  const uint64_t stamp = write_version_;
  switch (kind) {
    case SyntheticAccountKind::kHot: {
      const uint32_t index = static_cast<uint32_t>(NextRandom() % options_.hot_accounts);
      a.pubkey = Derive(seed, kTagHot, index);
      const bool raydium = index % 2 == 0;
      a.owner = raydium ? RaydiumAmmV4ProgramId() : OrcaWhirlpoolProgramId();
      a.data.resize(raydium ? kRaydiumPoolSize : kWhirlpoolSize);
      const uint64_t key = KeyOf(seed, kTagHot, index);
      FillPattern(a.data.data(), a.data.size(), key);
      PutU64(a.data.data() + 8, stamp);  // reserves, sqrt price: what a swap changes
      a.lamports = RentExempt(a.data.size()) + key % (10 * kLamportsPerSol);
      break;
    }
    case SyntheticAccountKind::kVote: {
      const uint32_t index = vote_cursor_;
      vote_cursor_ = vote_cursor_ + 1 == options_.vote_accounts ? 0 : vote_cursor_ + 1;
      a.pubkey = generator_.VoteAccount(index);
      vote_cursor_for_claim_ = index;
      a.owner = VoteProgramId();
      a.data.resize(kVoteAccountSize);
      const uint64_t key = KeyOf(seed, kTagVote, index);
      FillPattern(a.data.data(), a.data.size(), key);
      PutU64(a.data.data() + 8, stamp);  // the tower's newest vote
      a.lamports = RentExempt(kVoteAccountSize) + key % (100 * kLamportsPerSol);
      break;
    }
    case SyntheticAccountKind::kFeePayer: {
      const uint32_t index = static_cast<uint32_t>(NextRandom() % options_.fee_payers);
      a.pubkey = Derive(seed, kTagWallet, index);
      a.owner = SystemProgramId();
      a.data.clear();
      // A balance that shrinks by a fee each time it pays one.
      const uint64_t base = KeyOf(seed, kTagWallet, index) % (1000 * kLamportsPerSol) + kLamportsPerSol;
      a.lamports = base - (stamp % 100'000) * 5'000;
      break;
    }
    case SyntheticAccountKind::kToken: {
      const uint32_t index = NextTailIndex(options_.token_accounts);
      const uint64_t key = KeyOf(seed, kTagToken, index);
      a.pubkey = Derive(seed, kTagToken, index);
      a.owner = key % 100 < 15 ? Token2022ProgramId() : TokenProgramId();
      // SPL token account layout: mint, owner, amount, delegate, state, is_native,
      // delegated_amount, close_authority.
      a.data.assign(kTokenAccountSize, 0);
      uint8_t* d = a.data.data();
      const Pubkey mint = Derive(seed, kTagMint, Mix(key) % options_.mints);
      const Pubkey wallet = Derive(seed, kTagWallet, Mix(key + 1) % options_.fee_payers);
      std::memcpy(d, mint.data(), 32);
      std::memcpy(d + 32, wallet.data(), 32);
      const uint64_t amount = key % 1'000'000'000'000ULL + stamp;
      PutU64(d + 64, amount);
      d[108] = 1;  // initialized
      a.lamports = RentExempt(kTokenAccountSize);
      // What the writing transaction's status says of it (the mint's decimals as kMint
      // makes them).
      const uint8_t decimals = KeyOf(seed, kTagMint, Mix(key) % options_.mints) % 2 ? 9 : 6;
      solana::TokenBalance& b = token_balance_.emplace();
      b.mint = mint;
      b.owner = wallet;
      b.program_id = a.owner;
      b.amount = amount;
      b.decimals = decimals;
      b.ui_amount = static_cast<double>(amount) / std::pow(10.0, decimals);
      b.ui_amount_string = solana::UiAmountString(amount, decimals);
      break;
    }
    case SyntheticAccountKind::kMint: {
      const uint32_t index = NextTailIndex(options_.mints);
      const uint64_t key = KeyOf(seed, kTagMint, index);
      a.pubkey = Derive(seed, kTagMint, index);
      a.owner = key % 100 < 15 ? Token2022ProgramId() : TokenProgramId();
      // SPL mint layout: mint_authority (COption), supply, decimals, is_initialized,
      // freeze_authority (COption).
      a.data.assign(kMintAccountSize, 0);
      uint8_t* d = a.data.data();
      d[0] = 1;
      const Pubkey authority = Derive(seed, kTagWallet, Mix(key) % options_.fee_payers);
      std::memcpy(d + 4, authority.data(), 32);
      PutU64(d + 36, key % (uint64_t{1} << 50) + stamp);
      d[44] = key % 2 ? 9 : 6;
      d[45] = 1;
      a.lamports = RentExempt(kMintAccountSize);
      break;
    }
    case SyntheticAccountKind::kProgramState:
    case SyntheticAccountKind::kLarge: {  // never drawn: MakeLargeAccount makes those
      const uint32_t index = NextTailIndex(options_.program_state_accounts);
      const uint64_t key = KeyOf(seed, kTagProgramState, index);
      a.pubkey = Derive(seed, kTagProgramState, index);
      a.owner = Derive(seed, kTagProgramOwner, key % kProgramOwners);
      // Log-uniform in [200 B, 10 KiB]: many small states, some large ones (order books).
      const double f = static_cast<double>(Mix(key) >> 11) * 0x1.0p-53;
      const size_t size = std::min<size_t>(
          kMaxProgramStateSize,
          static_cast<size_t>(kMinProgramStateSize *
                              std::pow(double{kMaxProgramStateSize} / kMinProgramStateSize, f)));
      a.data.resize(size);
      FillPattern(a.data.data(), size, key);
      PutU64(a.data.data() + 8, stamp);
      a.lamports = RentExempt(size) + key % kLamportsPerSol;
      account_kind_ = SyntheticAccountKind::kProgramState;
      break;
    }
  }
  if (from_transaction) {
    SetWriterSignature(a, account_kind_);
  } else {
    a.txn_signature.reset();
  }
}

void SyntheticFeed::MakeLargeAccount() {
  kind_ = SyntheticEventKind::kAccount;
  large_ = true;
  account_kind_ = SyntheticAccountKind::kLarge;
  AccountUpdate& a = large_account_;
  const uint32_t index = static_cast<uint32_t>(large_count_++ % kLargeAccounts);
  const uint64_t key = KeyOf(options_.seed, kTagLarge, index);
  a.pubkey = Derive(options_.seed, kTagLarge, index);
  a.owner = BpfLoaderUpgradeableProgramId();
  a.slot = slot_number_;
  a.write_version = ++write_version_;
  a.executable = false;
  a.rent_epoch = std::numeric_limits<uint64_t>::max();
  // The first is as large as allowed, so consumers meet the worst case early.
  const size_t max = options_.large_account_max_bytes;
  const size_t size = index == 0 ? max : kMiB + key % (max - kMiB + 1);
  // resize() keeps the capacity, so once grown to the largest this never reallocates.
  a.data.resize(size);
  uint8_t* d = a.data.data();
  if (index % 2 == 0) {
    // Like a program buffer or an order book: each 4 KiB page starts with 512 bytes of
    // content and is zero after, so LZ4 saves ~85%.
    std::memset(d, 0, size);
    for (size_t page = 0; page < size; page += 4096) {
      FillPattern(d + page, std::min<size_t>(512, size - page), key + page);
    }
  } else {
    FillPattern(d, size, key + large_count_);  // hashes and keys: LZ4 saves nothing
  }
  PutU64(d + 8, a.write_version);
  a.lamports = RentExempt(size);
  token_balance_.reset();
  SetWriterSignature(a, SyntheticAccountKind::kLarge);
}

void SyntheticFeed::MakeTransaction() {
  kind_ = SyntheticEventKind::kTransaction;
  TransactionUpdate& t = transaction_;
  t.slot = slot_number_;
  t.index = next_tx_index_++;
  t.is_vote = tx_is_vote_[t.index];
  t.signature = TransactionSignatureOf(options_.seed, t.slot, t.index);
  PendingTransaction p;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const PendingTransaction& q) { return q.index == t.index; });
  if (it != pending_.end()) {
    p = std::move(*it);
    if (it != pending_.end() - 1) *it = std::move(pending_.back());  // order is free
    pending_.pop_back();
  } else {
    p.parts = GenerateAt(t.index);
  }
  solana::Transaction& tx = p.parts.transaction;
  solana::TransactionStatus& st = p.parts.status;
  tx.signatures[0] = t.signature;
  if (t.is_vote) {
    if (p.validator >= 0) {
      // keys: identity (fee payer), vote account, Vote program.
      const uint32_t v = static_cast<uint32_t>(p.validator);
      tx.account_keys[0] = generator_.ValidatorIdentity(v);
      tx.account_keys[1] = generator_.VoteAccount(v);
      st.pre_balances[1] = st.post_balances[1] = p.extras[0].lamports;
    }
  } else {
    InsertWritableKeys(p.parts, p.extras, /*main=*/2);  // after the compute budget pair
  }
  slot_fees_ += st.fee;
  slot_signatures_ += tx.signatures.size();
  t.failed = st.error.has_value();
  // The parts are consistent by construction (the tests parse every transaction), so
  // neither step fails; an empty result would make the dispatcher refuse it, counted.
  absl::StatusOr<std::vector<uint8_t>> bytes = solana::SerializeTransaction(tx);
  absl::StatusOr<std::vector<uint8_t>> status = solana::EncodeTransactionStatus(st);
  t.data = bytes.ok() ? *std::move(bytes) : std::vector<uint8_t>{};
  t.status = status.ok() ? *std::move(status) : std::vector<uint8_t>{};
}

SyntheticEvent SyntheticFeed::Next() {
  SyntheticEvent event{.at = absl::Nanoseconds(0), .update = SlotUpdate{}};
  switch (Advance()) {
    case SyntheticEventKind::kAccount:
      event.update = account();
      break;
    case SyntheticEventKind::kTransaction:
      event.update = transaction_;
      break;
    case SyntheticEventKind::kSlot:
      event.update = slot_;
      break;
    case SyntheticEventKind::kBlockMeta:
      event.update = block_meta_;
      break;
    case SyntheticEventKind::kEntry:
      event.update = entry();
      break;
  }
  event.at = at();
  return event;
}

}  // namespace qlaster::sender
