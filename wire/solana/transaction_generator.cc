// The mainnet-shaped transaction generator (transaction_generator.h).
#include "wire/solana/transaction_generator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "wire/solana/programs.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::solana {
namespace {

// Key derivation tags.
enum Tag : uint64_t {
  kTagIdentity = 1,
  kTagVote,
  kTagWallet,
  kTagMint,
  kTagTable,
  kTagTableEntry,
  kTagTokenAccount,
  kTagBlockhash,
  kTagTransaction,
  kTagBlockId,
};

constexpr uint64_t kLamportsPerSol = 1'000'000'000;
constexpr uint64_t kTokenAccountRent = 2'039'280;
constexpr uint64_t kBaseFeePerSignature = 5'000;
constexpr uint32_t kVoteComputeUnits = 2'100;
constexpr uint64_t kSimpleVoteCost = 3'428;  // Agave's SIMPLE_VOTE_USAGE_COST
constexpr uint32_t kTowerSync = 14;          // VoteInstruction::TowerSync
constexpr uint8_t kTableProgramEntries = 4;  // Token, Raydium, System, ATA at 0-3

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// splitmix64: small, fast, and good enough to shape a feed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return Mix(state_ += 0x9e3779b97f4a7c15ull); }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  void Fill(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t w = Next();
      std::memcpy(p + i, &w, std::min<size_t>(8, n - i));
    }
  }

 private:
  uint64_t state_;
};

Pubkey Derive(uint64_t seed, uint64_t tag, uint64_t index) {
  Pubkey key;
  uint64_t h = Mix(seed ^ Mix(tag * 0x100000001b3ull ^ Mix(index)));
  for (size_t i = 0; i < key.size(); i += 8) {
    h = Mix(h);
    std::memcpy(key.data() + i, &h, 8);
  }
  return key;
}

template <typename T>
void PutLe(std::vector<uint8_t>& out, T v) {
  // resize + memcpy rather than insert: gcc 12 at -O3 reports inserting into a short
  // vector as -Warray-bounds (a false positive).
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void PutVarint(std::vector<uint8_t>& out, uint64_t v) {  // serde_varint (LEB128)
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(b);
  } while (v);
}

std::vector<uint8_t> ComputeUnitLimit(uint32_t units) {
  std::vector<uint8_t> d = {2};
  PutLe<uint32_t>(d, units);
  return d;
}

std::vector<uint8_t> ComputeUnitPrice(uint64_t micro_lamports) {
  std::vector<uint8_t> d = {3};
  PutLe<uint64_t>(d, micro_lamports);
  return d;
}

uint64_t PriorityFee(uint32_t limit, uint64_t micro_lamports) {
  return (uint64_t{limit} * micro_lamports + 999'999) / 1'000'000;
}

// The log lines the runtime writes, with the program ids spelled once.
struct Programs {
  std::string vote = Base58Encode(kVoteProgram);
  std::string system = Base58Encode(kSystemProgram);
  std::string token = Base58Encode(kTokenProgram);
  std::string compute_budget = Base58Encode(kComputeBudgetProgram);
  std::string jupiter = Base58Encode(kJupiterV6Program);
  std::string raydium = Base58Encode(kRaydiumAmmV4Program);
};
const Programs& ProgramNames() {
  static const Programs* names = new Programs();
  return *names;
}

void LogInvoke(std::vector<std::string>& logs, const std::string& program, int depth) {
  logs.push_back(absl::StrCat("Program ", program, " invoke [", depth, "]"));
}
void LogSuccess(std::vector<std::string>& logs, const std::string& program) {
  logs.push_back(absl::StrCat("Program ", program, " success"));
}
void LogConsumed(std::vector<std::string>& logs, const std::string& program, uint64_t used,
                 uint64_t budget) {
  logs.push_back(absl::StrCat("Program ", program, " consumed ", used, " of ", budget,
                              " compute units"));
}
void LogComputeBudget(std::vector<std::string>& logs, int instructions) {
  for (int i = 0; i < instructions; ++i) {
    LogInvoke(logs, ProgramNames().compute_budget, 1);
    LogSuccess(logs, ProgramNames().compute_budget);
  }
}

TokenBalance Balance(uint8_t index, const Pubkey& mint, const Pubkey& owner, uint64_t amount,
                     uint8_t decimals) {
  TokenBalance b;
  b.account_index = index;
  b.mint = mint;
  b.owner = owner;
  b.program_id = kTokenProgram;
  b.amount = amount;
  b.decimals = decimals;
  b.ui_amount = static_cast<double>(amount) / std::pow(10.0, decimals);
  b.ui_amount_string = UiAmountString(amount, decimals);
  return b;
}

// Cost units as Agave's cost model counts them, near enough: signatures, write locks,
// instruction data, and the compute units used.
uint64_t CostUnits(const Transaction& tx, size_t writable, uint64_t compute_units) {
  size_t data = 0;
  for (const CompiledInstruction& ix : tx.instructions) data += ix.data.size();
  return 720 * tx.signatures.size() + 300 * writable + data / 4 + compute_units;
}

}  // namespace

std::string UiAmountString(uint64_t amount, uint8_t decimals) {
  std::string digits = absl::StrCat(amount);
  if (decimals == 0) return digits;
  if (digits.size() <= decimals) digits.insert(0, decimals - digits.size() + 1, '0');
  std::string out = digits.substr(0, digits.size() - decimals) + "." +
                    digits.substr(digits.size() - decimals);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

TransactionGenerator::TransactionGenerator(const GeneratorOptions& options) : options_(options) {
  options_.validators = std::max<uint32_t>(options_.validators, 1);
  options_.wallets = std::max<uint32_t>(options_.wallets, 2);
  options_.mints = std::max<uint32_t>(options_.mints, 2);
  options_.lookup_tables = std::max<uint32_t>(options_.lookup_tables, 1);
}

Pubkey TransactionGenerator::ValidatorIdentity(uint32_t i) const {
  return Derive(options_.seed, kTagIdentity, i);
}
Pubkey TransactionGenerator::VoteAccount(uint32_t i) const { return Derive(options_.seed, kTagVote, i); }
Pubkey TransactionGenerator::Wallet(uint32_t i) const { return Derive(options_.seed, kTagWallet, i); }
Pubkey TransactionGenerator::Mint(uint32_t i) const {
  if (i == 0) return kWrappedSolMint;
  if (i == 1) return kUsdcMint;
  return Derive(options_.seed, kTagMint, i);
}
Pubkey TransactionGenerator::LookupTable(uint32_t i) const { return Derive(options_.seed, kTagTable, i); }
Pubkey TransactionGenerator::LookupTableEntry(uint32_t table, uint8_t entry) const {
  switch (entry) {
    case 0:
      return kTokenProgram;
    case 1:
      return kRaydiumAmmV4Program;
    case 2:
      return kSystemProgram;
    case 3:
      return kAssociatedTokenProgram;
    default:
      return Derive(options_.seed, kTagTableEntry, uint64_t{table} << 8 | entry);
  }
}
Pubkey TransactionGenerator::TokenAccountOf(uint32_t wallet, uint32_t mint) const {
  return Derive(options_.seed, kTagTokenAccount, uint64_t{wallet} << 32 | mint);
}
Hash TransactionGenerator::BlockhashOf(uint64_t slot) const {
  return Derive(options_.seed, kTagBlockhash, slot);
}

GeneratedTransaction TransactionGenerator::Generate(uint64_t slot, uint32_t index) const {
  Rng rng(Mix(options_.seed ^ Mix(slot * 0x10001 + index)) ^ 0x6b696e64);  // the kind's own draw
  TransactionKind kind = TransactionKind::kVote;
  if (rng.Uniform() >= options_.vote_fraction) {
    const double u = rng.Uniform();
    kind = u < options_.transfer_share                                   ? TransactionKind::kTransfer
           : u < options_.transfer_share + options_.token_transfer_share ? TransactionKind::kTokenTransfer
                                                                          : TransactionKind::kSwap;
  }
  return Generate(slot, index, kind);
}

GeneratedTransaction TransactionGenerator::Generate(uint64_t slot, uint32_t index,
                                                    TransactionKind kind) const {
  const TransactionParts parts = GenerateParts(slot, index, kind);
  GeneratedTransaction out;
  out.kind = kind;
  out.failed = parts.status.error.has_value();
  out.signature = parts.transaction.signatures[0];
  // The parts are consistent by construction, so neither step can fail; an empty result
  // would show a bug here at once in the tests, which parse every kind.
  absl::StatusOr<std::vector<uint8_t>> bytes = SerializeTransaction(parts.transaction);
  absl::StatusOr<std::vector<uint8_t>> status = EncodeTransactionStatus(parts.status);
  if (bytes.ok()) out.transaction = *std::move(bytes);
  if (status.ok()) out.status = *std::move(status);
  return out;
}

TransactionParts TransactionGenerator::GenerateParts(uint64_t slot, uint32_t index,
                                                     TransactionKind kind) const {
  Rng rng(Mix(options_.seed ^ Mix(slot * 0x10001 + index)));
  const Programs& names = ProgramNames();
  Transaction tx;
  TransactionStatus st;
  st.log_messages.emplace();
  st.inner_instructions.emplace();
  std::vector<std::string>& logs = *st.log_messages;
  tx.signatures.resize(1);
  rng.Fill(tx.signatures[0].data(), kSignatureSize);
  // A recent blockhash: one of the last ~20 slots'.
  tx.recent_blockhash = BlockhashOf(slot - std::min<uint64_t>(slot, 1 + rng.Below(20)));
  const bool failed = kind != TransactionKind::kVote && rng.Uniform() < options_.failed_fraction;
  const uint64_t payer_balance = rng.Between(kLamportsPerSol / 20, 200 * kLamportsPerSol);
  uint64_t compute_units = 0;
  size_t writable = 0;

  switch (kind) {
    case TransactionKind::kVote: {
      const uint32_t v = static_cast<uint32_t>(rng.Below(options_.validators));
      tx.header = {1, 0, 1};
      tx.account_keys = {ValidatorIdentity(v), VoteAccount(v), kVoteProgram};
      // TowerSync: root, 31 lockouts as (varint offset, confirmation count), the voted
      // bank's hash, a timestamp, and the block id.
      std::vector<uint8_t> data;
      PutLe<uint32_t>(data, kTowerSync);
      const uint64_t voted = slot - std::min<uint64_t>(slot, 1 + rng.Below(2));
      const uint64_t root = voted - std::min<uint64_t>(voted, 31 + rng.Below(3));
      PutLe<uint64_t>(data, root);
      data.push_back(31);  // short_vec length of the lockouts
      uint64_t last = root;
      for (int i = 0; i < 31; ++i) {
        const uint64_t lockout_slot = root + 1 + static_cast<uint64_t>(i) * (voted - root) / 31;
        PutVarint(data, lockout_slot - last);
        data.push_back(static_cast<uint8_t>(31 - i));
        last = lockout_slot;
      }
      const Hash bank_hash = BlockhashOf(voted);
      data.insert(data.end(), bank_hash.begin(), bank_hash.end());
      data.push_back(1);  // Some(timestamp)
      PutLe<int64_t>(data, options_.first_slot_unix_time +
                               static_cast<int64_t>((voted - std::min(voted, options_.first_slot)) * 2 / 5));
      const Pubkey block_id = Derive(options_.seed, kTagBlockId, voted);
      data.insert(data.end(), block_id.begin(), block_id.end());
      tx.instructions = {{2, {1, 0}, std::move(data)}};
      st.fee = kBaseFeePerSignature;
      const uint64_t vote_balance = 20 * kLamportsPerSol + rng.Below(10'000 * kLamportsPerSol);
      st.pre_balances = {payer_balance, vote_balance, 1};
      st.post_balances = {payer_balance - st.fee, vote_balance, 1};
      LogInvoke(logs, names.vote, 1);
      LogSuccess(logs, names.vote);
      st.compute_units_consumed = kVoteComputeUnits;
      st.cost_units = kSimpleVoteCost;
      break;
    }

    case TransactionKind::kTransfer: {
      const uint32_t from = static_cast<uint32_t>(rng.Below(options_.wallets));
      const uint32_t to = static_cast<uint32_t>((from + 1 + rng.Below(options_.wallets - 1)) % options_.wallets);
      tx.header = {1, 0, 2};
      tx.account_keys = {Wallet(from), Wallet(to), kSystemProgram, kComputeBudgetProgram};
      const uint32_t limit = 450 + static_cast<uint32_t>(rng.Below(4)) * 50;
      const uint64_t price = rng.Between(1'000, 2'000'000);
      uint64_t lamports = rng.Between(1'000'000, payer_balance / 2);
      if (failed) lamports = payer_balance + rng.Between(1, 10 * kLamportsPerSol);
      std::vector<uint8_t> transfer;
      PutLe<uint32_t>(transfer, 2);  // SystemInstruction::Transfer
      PutLe<uint64_t>(transfer, lamports);
      tx.instructions = {{3, {}, ComputeUnitLimit(limit)},
                         {3, {}, ComputeUnitPrice(price)},
                         {2, {0, 1}, std::move(transfer)}};
      st.fee = kBaseFeePerSignature + PriorityFee(limit, price);
      const uint64_t recipient = rng.Below(50 * kLamportsPerSol);
      st.pre_balances = {payer_balance, recipient, 1, 1};
      LogComputeBudget(logs, 2);
      LogInvoke(logs, names.system, 1);
      if (failed) {
        st.error = InstructionCustomErrorBincode(2, 1);  // ResultWithNegativeLamports
        st.post_balances = {payer_balance - st.fee, recipient, 1, 1};
        logs.push_back(absl::StrCat("Transfer: insufficient lamports ", payer_balance - st.fee,
                                    ", need ", lamports));
        logs.push_back(absl::StrCat("Program ", names.system, " failed: custom program error: 0x1"));
      } else {
        st.post_balances = {payer_balance - st.fee - lamports, recipient + lamports, 1, 1};
        LogSuccess(logs, names.system);
      }
      compute_units = 450;
      writable = 2;
      break;
    }

    case TransactionKind::kTokenTransfer: {
      const uint32_t from = static_cast<uint32_t>(rng.Below(options_.wallets));
      const uint32_t to = static_cast<uint32_t>((from + 1 + rng.Below(options_.wallets - 1)) % options_.wallets);
      const uint32_t mint = rng.Uniform() < 0.4 ? 1 : static_cast<uint32_t>(rng.Below(options_.mints));
      const uint8_t decimals = mint == 0 ? 9 : mint == 1 ? 6 : static_cast<uint8_t>(mint % 2 ? 6 : 9);
      tx.header = {1, 0, 3};
      tx.account_keys = {Wallet(from), TokenAccountOf(from, mint), TokenAccountOf(to, mint),
                         Mint(mint), kTokenProgram, kComputeBudgetProgram};
      const uint32_t limit = 10'000 + static_cast<uint32_t>(rng.Below(20)) * 1'000;
      const uint64_t price = rng.Between(10'000, 5'000'000);
      const uint64_t source = rng.Between(1, 1'000'000'000'000ull);
      const uint64_t dest = rng.Below(1'000'000'000'000ull);
      uint64_t amount = rng.Between(1, source);
      if (failed) amount = source + rng.Between(1, 1'000'000);
      std::vector<uint8_t> data = {12};  // TokenInstruction::TransferChecked
      PutLe<uint64_t>(data, amount);
      data.push_back(decimals);
      tx.instructions = {{5, {}, ComputeUnitLimit(limit)},
                         {5, {}, ComputeUnitPrice(price)},
                         {4, {1, 3, 2, 0}, std::move(data)}};
      st.fee = kBaseFeePerSignature + PriorityFee(limit, price);
      st.pre_balances = {payer_balance, kTokenAccountRent, kTokenAccountRent, 1'461'600, 1, 1};
      st.post_balances = st.pre_balances;
      st.post_balances[0] -= st.fee;
      st.pre_token_balances = {Balance(1, Mint(mint), Wallet(from), source, decimals),
                               Balance(2, Mint(mint), Wallet(to), dest, decimals)};
      LogComputeBudget(logs, 2);
      LogInvoke(logs, names.token, 1);
      logs.push_back("Program log: Instruction: TransferChecked");
      compute_units = 300 + rng.Between(4'000, 6'500);
      if (failed) {
        st.error = InstructionCustomErrorBincode(2, 1);  // TokenError::InsufficientFunds
        st.post_token_balances = st.pre_token_balances;
        logs.push_back("Program log: Error: insufficient funds");
        LogConsumed(logs, names.token, compute_units - 300, limit - 300);
        logs.push_back(absl::StrCat("Program ", names.token, " failed: custom program error: 0x1"));
      } else {
        st.post_token_balances = {Balance(1, Mint(mint), Wallet(from), source - amount, decimals),
                                  Balance(2, Mint(mint), Wallet(to), dest + amount, decimals)};
        LogConsumed(logs, names.token, compute_units - 300, limit - 300);
        LogSuccess(logs, names.token);
      }
      writable = 3;
      break;
    }

    case TransactionKind::kSwap: {
      const uint32_t wallet = static_cast<uint32_t>(rng.Below(options_.wallets));
      const uint32_t in_mint = rng.Uniform() < 0.5 ? 0 : static_cast<uint32_t>(rng.Below(options_.mints));
      uint32_t out_mint = rng.Uniform() < 0.5 ? 1 : static_cast<uint32_t>(rng.Below(options_.mints));
      if (out_mint == in_mint) out_mint = (in_mint + 1) % options_.mints;
      const auto decimals_of = [](uint32_t m) -> uint8_t { return m == 0 ? 9 : m == 1 ? 6 : (m % 2 ? 6 : 9); };
      // Static: payer, its two token accounts and (a third of the time) a Jito tip
      // account, writable; the two mints and the invoked programs, read-only.
      const bool tip = rng.Uniform() < 0.3;
      tx.version = MessageVersion::kV0;
      tx.account_keys = {Wallet(wallet), TokenAccountOf(wallet, in_mint), TokenAccountOf(wallet, out_mint)};
      if (tip) tx.account_keys.push_back(Derive(options_.seed, kTagWallet, ~uint64_t{0} - rng.Below(8)));
      const uint8_t in_mint_index = static_cast<uint8_t>(tx.account_keys.size());
      for (const Pubkey& k : {Mint(in_mint), Mint(out_mint), kComputeBudgetProgram, kJupiterV6Program}) {
        tx.account_keys.push_back(k);
      }
      if (tip) tx.account_keys.push_back(kSystemProgram);
      const uint8_t statics = static_cast<uint8_t>(tx.account_keys.size());
      tx.header = {1, 0, static_cast<uint8_t>(statics - in_mint_index)};
      const uint8_t budget_index = in_mint_index + 2;
      const uint8_t jupiter_index = in_mint_index + 3;

      // One pool per hop, each from its own table: the pool, its two vaults and up to 8
      // market accounts (order book, queues, oracles) writable; its authority read-only;
      // the first table also loads the Token and Raydium programs read-only. A table
      // keeps each pool in a block of 12 entries after the 4 program entries.
      const size_t hops = 1 + rng.Below(4);
      std::vector<uint32_t> tables(hops);
      std::vector<uint8_t> pools(hops);
      std::vector<uint8_t> hop_start(hops);  // where each pool's accounts start in the list
      uint8_t next_loaded = statics;
      // Consecutive tables and pool blocks: no key is loaded twice (which the runtime
      // refuses), even with a single table.
      const uint64_t first_table = rng.Below(options_.lookup_tables);
      const uint64_t first_block = rng.Below(20);
      for (size_t h = 0; h < hops; ++h) {
        tables[h] = static_cast<uint32_t>((first_table + h) % options_.lookup_tables);
        pools[h] = static_cast<uint8_t>(kTableProgramEntries + 12 * ((first_block + h) % 20));
        const uint8_t pool = pools[h];
        AddressTableLookup lookup{LookupTable(tables[h]), {}, {}};
        const size_t market = rng.Below(9);
        for (size_t e = 0; e < 3 + market; ++e) lookup.writable_indexes.push_back(static_cast<uint8_t>(pool + e));
        if (h == 0) lookup.readonly_indexes = {0, 1};
        lookup.readonly_indexes.push_back(static_cast<uint8_t>(pool + 11));
        hop_start[h] = next_loaded;
        next_loaded = static_cast<uint8_t>(next_loaded + lookup.writable_indexes.size());
        tx.address_table_lookups.push_back(std::move(lookup));
      }
      // The account list: static keys, every table's writable entries, then every
      // table's read-only entries.
      for (size_t h = 0; h < hops; ++h) {
        for (uint8_t e : tx.address_table_lookups[h].writable_indexes) {
          st.loaded_writable_addresses.push_back(LookupTableEntry(tables[h], e));
        }
      }
      for (size_t h = 0; h < hops; ++h) {
        for (uint8_t e : tx.address_table_lookups[h].readonly_indexes) {
          st.loaded_readonly_addresses.push_back(LookupTableEntry(tables[h], e));
        }
      }
      const uint8_t token_index = next_loaded;        // read-only loaded: Token, Raydium,
      const uint8_t raydium_index = token_index + 1;  // then each hop's pool authority
      const auto authority_index = [&](size_t h) { return static_cast<uint8_t>(token_index + 2 + h); };
      // The route: Token program, payer, the user's accounts and mints, then per hop the
      // AMM program, its pool, vaults, market accounts and authority.
      std::vector<uint8_t> accounts = {token_index, 0, 1, 2, static_cast<uint8_t>(in_mint_index + 1), in_mint_index};
      for (size_t h = 0; h < hops; ++h) {
        accounts.push_back(raydium_index);
        for (size_t e = 0; e < tx.address_table_lookups[h].writable_indexes.size(); ++e) {
          accounts.push_back(static_cast<uint8_t>(hop_start[h] + e));
        }
        accounts.push_back(authority_index(h));
      }
      const uint64_t in_amount = rng.Between(1'000, 50'000'000'000ull);
      const uint64_t quoted_out = rng.Between(1'000, 50'000'000'000ull);
      std::vector<uint8_t> route = {0xe5, 0x17, 0xcb, 0x97, 0x7a, 0xe3, 0xad, 0x2a};  // "route"
      PutLe<uint32_t>(route, static_cast<uint32_t>(hops));  // the route plan
      for (size_t h = 0; h < hops; ++h) {
        route.push_back(7);  // Swap::Raydium
        // The swap variant's arguments (a side, a bump, a fee tier, ...): 0 to 12 bytes.
        const size_t args = rng.Below(13);
        for (size_t a = 0; a < args; ++a) route.push_back(static_cast<uint8_t>(rng.Next()));
        route.push_back(100);  // percent
        route.push_back(static_cast<uint8_t>(h));
        route.push_back(static_cast<uint8_t>(h + 1));
      }
      PutLe<uint64_t>(route, in_amount);
      PutLe<uint64_t>(route, quoted_out);
      PutLe<uint16_t>(route, static_cast<uint16_t>(rng.Between(10, 300)));  // slippage bps
      route.push_back(0);  // platform fee bps
      const uint32_t limit = 200'000 + static_cast<uint32_t>(rng.Below(21)) * 50'000;
      const uint64_t price = rng.Between(50'000, 20'000'000);
      tx.instructions = {{budget_index, {}, ComputeUnitLimit(limit)},
                         {budget_index, {}, ComputeUnitPrice(price)},
                         {jupiter_index, std::move(accounts), std::move(route)}};
      uint64_t tip_lamports = 0;
      if (tip) {
        tip_lamports = rng.Between(1'000, 1'000'000);
        std::vector<uint8_t> transfer;
        PutLe<uint32_t>(transfer, 2);  // SystemInstruction::Transfer
        PutLe<uint64_t>(transfer, tip_lamports);
        tx.instructions.push_back({static_cast<uint8_t>(statics - 1), {0, 3}, std::move(transfer)});
      }
      st.fee = kBaseFeePerSignature + PriorityFee(limit, price);

      const size_t account_count = statics + st.loaded_writable_addresses.size() +
                                   st.loaded_readonly_addresses.size();
      st.pre_balances.resize(account_count);
      st.pre_balances[0] = payer_balance;
      for (size_t i = 1; i < account_count; ++i) {
        st.pre_balances[i] = i < 3 ? kTokenAccountRent : rng.Between(1, 30'000'000);
      }
      st.post_balances = st.pre_balances;
      st.post_balances[0] -= st.fee;
      if (tip && !failed) {
        st.post_balances[0] -= tip_lamports;
        st.post_balances[3] += tip_lamports;
      }

      const uint8_t in_decimals = decimals_of(in_mint);
      const uint8_t out_decimals = decimals_of(out_mint);
      const uint64_t user_in = in_amount + rng.Below(100'000'000'000ull);
      const uint64_t user_out = rng.Below(100'000'000'000ull);
      const uint64_t vault_in = rng.Between(1'000'000'000ull, 1'000'000'000'000'000ull);
      const uint64_t vault_out = rng.Between(quoted_out, quoted_out + 1'000'000'000'000'000ull);
      const uint8_t vault_a = hop_start[0] + 1;
      const uint8_t vault_b = hop_start[0] + 2;
      const Pubkey pool_authority = LookupTableEntry(tables[0], static_cast<uint8_t>(pools[0] + 3));
      st.pre_token_balances = {Balance(1, Mint(in_mint), Wallet(wallet), user_in, in_decimals),
                               Balance(2, Mint(out_mint), Wallet(wallet), user_out, out_decimals),
                               Balance(vault_a, Mint(in_mint), pool_authority, vault_in, in_decimals),
                               Balance(vault_b, Mint(out_mint), pool_authority, vault_out, out_decimals)};

      LogComputeBudget(logs, 2);
      LogInvoke(logs, names.jupiter, 1);
      logs.push_back("Program log: Instruction: Route");
      InnerInstructions inner{2, {}};
      uint64_t used = 0;
      const size_t hops_run = failed ? std::max<size_t>(1, hops - 1) : hops;
      for (size_t h = 0; h < hops_run; ++h) {
        const uint8_t pool = hop_start[h];
        std::vector<uint8_t> swap = {9};  // Raydium SwapBaseIn
        PutLe<uint64_t>(swap, in_amount);
        PutLe<uint64_t>(swap, 0);
        inner.instructions.push_back(
            {raydium_index, {token_index, pool, authority_index(h), uint8_t(pool + 1), uint8_t(pool + 2), 1, 2, 0},
             std::move(swap), 2});
        LogInvoke(logs, names.raydium, 2);
        std::vector<uint8_t> ray_log(57);
        rng.Fill(ray_log.data(), ray_log.size());
        logs.push_back(absl::StrCat("Program log: ray_log: ",
                                    absl::Base64Escape(absl::string_view(
                                        reinterpret_cast<const char*>(ray_log.data()), ray_log.size()))));
        uint64_t hop_used = 0;
        for (int t = 0; t < 2; ++t) {
          std::vector<uint8_t> transfer = {3};  // TokenInstruction::Transfer
          PutLe<uint64_t>(transfer, t == 0 ? in_amount : quoted_out);
          inner.instructions.push_back(
              {token_index, t == 0 ? std::vector<uint8_t>{1, uint8_t(pool + 1), 0}
                                   : std::vector<uint8_t>{uint8_t(pool + 2), 2, authority_index(h)},
               std::move(transfer), 3});
          LogInvoke(logs, names.token, 3);
          logs.push_back("Program log: Instruction: Transfer");
          const uint64_t token_used = rng.Between(4'600, 4'750);
          LogConsumed(logs, names.token, token_used, limit - used - 20'000);
          LogSuccess(logs, names.token);
          hop_used += token_used;
        }
        hop_used += rng.Between(20'000, 35'000);
        LogConsumed(logs, names.raydium, hop_used, limit - used - 10'000);
        LogSuccess(logs, names.raydium);
        used += hop_used;
      }
      used += rng.Between(15'000, 40'000);
      if (failed) {
        st.error = InstructionCustomErrorBincode(2, 6001);  // SlippageToleranceExceeded
        st.post_token_balances = st.pre_token_balances;
        logs.push_back(
            "Program log: AnchorError occurred. Error Code: SlippageToleranceExceeded. Error "
            "Number: 6001. Error Message: Slippage tolerance exceeded.");
        LogConsumed(logs, names.jupiter, used, limit - 300);
        logs.push_back(absl::StrCat("Program ", names.jupiter, " failed: custom program error: 0x1771"));
      } else {
        const uint64_t out = quoted_out;
        st.post_token_balances = {Balance(1, Mint(in_mint), Wallet(wallet), user_in - in_amount, in_decimals),
                                  Balance(2, Mint(out_mint), Wallet(wallet), user_out + out, out_decimals),
                                  Balance(vault_a, Mint(in_mint), pool_authority, vault_in + in_amount, in_decimals),
                                  Balance(vault_b, Mint(out_mint), pool_authority, vault_out - out, out_decimals)};
        LogConsumed(logs, names.jupiter, used, limit - 300);
        LogSuccess(logs, names.jupiter);
      }
      st.inner_instructions->push_back(std::move(inner));
      if (tip && !failed) {  // a failed instruction ends the transaction before the tip
        LogInvoke(logs, names.system, 1);
        LogSuccess(logs, names.system);
        used += 150;
      }
      compute_units = used + 300;
      writable = 3 + st.loaded_writable_addresses.size();
      break;
    }
  }
  if (kind != TransactionKind::kVote) {
    st.compute_units_consumed = compute_units;
    st.cost_units = CostUnits(tx, writable, compute_units);
  }

  return TransactionParts{kind, std::move(tx), std::move(st)};
}

}  // namespace qlaster::solana
