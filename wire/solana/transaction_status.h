// qlaster's binary encoding of a transaction's status: what Yellowstone's
// TransactionStatusMeta carries (solana-storage.proto), in a compact little-endian form
// that a consumer reads in place. A transaction record carries
// [serialized transaction][status]; the status begins with a fixed header and the
// address-table-loaded keys, so the sender finds every account a transaction touches
// (the static keys from the transaction, the loaded ones at a fixed offset here) without
// decoding the rest (PeekTransactionStatus).
//
// Layout, version 1 (all integers little-endian; "bytes" is a u32 length then the bytes):
//
//   offset  size
//   0       1     format version (1)
//   1       1     flags: 0x01 error present (the transaction failed), 0x02 log messages
//                 present, 0x04 inner instructions present, 0x08 return data present,
//                 0x10 compute units consumed present, 0x20 cost units present
//   2       1     W: loaded writable addresses
//   3       1     R: loaded read-only addresses (W + R <= 255)
//   4       8     fee (lamports)
//   12      32W   loaded writable addresses
//   12+32W  32R   loaded read-only addresses
//   then, in order:
//           8     compute units consumed                      if flag 0x10
//           8     cost units                                  if flag 0x20
//           bytes error: bincode of Solana's TransactionError   if flag 0x01
//           u32 n, n x u64   pre balances
//           u32 n, n x u64   post balances
//           u32 n, n x token balance   pre token balances
//           u32 n, n x token balance   post token balances
//           u32 n, n x bytes (UTF-8 as the runtime logged it)     log messages, if 0x02
//           u32 n, n x inner instruction group                  if flag 0x04
//           32 program id, bytes data                           return data, if 0x08
//           u32 n, n x reward
//
//   token balance: u8 account index, u8 decimals, u8 flags (0x01 owner, 0x02 program id),
//                  32 mint, [32 owner], [32 program id], u64 amount, f64 ui_amount,
//                  bytes ui_amount_string
//   inner group:   u8 index of the top-level instruction, u32 n, n x:
//                  u8 program id index, u8 flags (0x01 stack height), [u32 stack height],
//                  bytes accounts, bytes data
//   reward:        32 pubkey, i64 lamports, u64 post balance, u8 reward type (0-5),
//                  u8 flags (0x01 commission, 0x02 commission bps), u8 commission,
//                  u16 commission bps (zero when absent)
//
// Absent and empty are distinct where Solana distinguishes them (Option<Vec<..>>): logs,
// inner instructions and return data have a flag each; token balances and rewards, which
// Yellowstone sends as plain lists, do not. Unknown flag bits, booleans other than 0/1,
// trailing bytes and anything over the limits below are kDataLoss.
//
// All functions are pure and thread-safe; views point into the bytes they decode.
#ifndef QLASTER_WIRE_SOLANA_TRANSACTION_STATUS_H_
#define QLASTER_WIRE_SOLANA_TRANSACTION_STATUS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "wire/solana/section_range.h"
#include "wire/types.h"

namespace qlaster::solana {

inline constexpr uint8_t kTransactionStatusVersion = 1;
inline constexpr size_t kStatusHeaderSize = 12;

// Limits the encoder refuses (kInvalidArgument) and the decoder rejects (kDataLoss). Each
// is at or above what Solana itself allows, so real statuses always fit.
inline constexpr size_t kMaxStatusSize = 1 << 20;     // the whole encoding
inline constexpr size_t kMaxLoadedAddresses = 255;    // W + R: 256 accounts, 1+ static
inline constexpr size_t kMaxBalances = 256;           // per list: one per account
inline constexpr size_t kMaxTokenBalances = 256;      // per list
inline constexpr size_t kMaxErrorSize = 1024;         // bincode TransactionError
inline constexpr size_t kMaxLogMessages = 16384;      // the runtime truncates at 10 KB
inline constexpr size_t kMaxLogMessageSize = 65536;   // one line
inline constexpr size_t kMaxInnerInstructions = 4096; // over all groups (runtime: 64)
inline constexpr size_t kMaxInnerInstructionData = 10240;  // MAX_CPI_INSTRUCTION_DATA_LEN
inline constexpr size_t kMaxReturnDataSize = 1024;    // MAX_RETURN_DATA
inline constexpr size_t kMaxRewards = 1024;           // per transaction
inline constexpr size_t kMaxUiAmountStringSize = 64;  // a u64 with up to 255 decimals fits

// Solana's RewardType with kUnspecified for None; values as Yellowstone's RewardType.
enum class RewardType : uint8_t {
  kUnspecified = 0,
  kFee = 1,
  kRent = 2,
  kStaking = 3,
  kVoting = 4,
  kDeactivatedStake = 5,
};

// Owned parts, for encoding and comparing.
struct TokenBalance {
  uint8_t account_index = 0;
  Pubkey mint{};
  std::optional<Pubkey> owner;       // absent in statuses older than the field
  std::optional<Pubkey> program_id;  // Token or Token-2022; absent likewise
  uint64_t amount = 0;               // raw units
  uint8_t decimals = 0;
  // As UiTokenAmount reports them (Token-2022 interest and scaling extensions make them
  // more than amount / 10^decimals, so they are carried, not derived).
  double ui_amount = 0;
  std::string ui_amount_string;

  friend bool operator==(const TokenBalance&, const TokenBalance&) = default;
};

struct InnerInstruction {
  uint8_t program_id_index = 0;
  std::vector<uint8_t> accounts;
  std::vector<uint8_t> data;
  std::optional<uint32_t> stack_height;

  friend bool operator==(const InnerInstruction&, const InnerInstruction&) = default;
};

struct InnerInstructions {
  uint8_t index = 0;  // the top-level instruction that invoked them
  std::vector<InnerInstruction> instructions;

  friend bool operator==(const InnerInstructions&, const InnerInstructions&) = default;
};

struct ReturnData {
  Pubkey program_id{};
  std::vector<uint8_t> data;

  friend bool operator==(const ReturnData&, const ReturnData&) = default;
};

struct Reward {
  Pubkey pubkey{};
  int64_t lamports = 0;
  uint64_t post_balance = 0;
  RewardType reward_type = RewardType::kUnspecified;
  std::optional<uint8_t> commission;
  std::optional<uint16_t> commission_bps;

  friend bool operator==(const Reward&, const Reward&) = default;
};

struct TransactionStatus {
  // Bincode bytes of Solana's TransactionError; nullopt when the transaction succeeded.
  std::optional<std::vector<uint8_t>> error;
  uint64_t fee = 0;
  std::vector<uint64_t> pre_balances;
  std::vector<uint64_t> post_balances;
  std::vector<TokenBalance> pre_token_balances;
  std::vector<TokenBalance> post_token_balances;
  std::optional<std::vector<std::string>> log_messages;
  std::optional<std::vector<InnerInstructions>> inner_instructions;
  // The keys the transaction's address table lookups resolved to.
  std::vector<Pubkey> loaded_writable_addresses;
  std::vector<Pubkey> loaded_readonly_addresses;
  std::optional<ReturnData> return_data;
  std::optional<uint64_t> compute_units_consumed;
  std::optional<uint64_t> cost_units;
  std::vector<Reward> rewards;

  friend bool operator==(const TransactionStatus&, const TransactionStatus&) = default;
};

// Encodes `status` (allocates once, exactly the size). kInvalidArgument naming the field
// when a list or a string exceeds the limits above.
absl::StatusOr<std::vector<uint8_t>> EncodeTransactionStatus(const TransactionStatus& status);
// The same, appended to `out` (which is left as it was on error).
absl::Status AppendTransactionStatus(const TransactionStatus& status, std::vector<uint8_t>& out);

// The fixed header, the loaded addresses, the compute and cost units and the error: what
// sits at the front of the encoding, checked just enough to read it (what the sender's
// index and a derived transaction-status update need).
struct TransactionStatusSummary {
  bool failed = false;
  uint64_t fee = 0;
  // W x 32 and R x 32 bytes, in order.
  absl::Span<const uint8_t> loaded_writable;
  absl::Span<const uint8_t> loaded_readonly;
  std::optional<uint64_t> compute_units_consumed;
  std::optional<uint64_t> cost_units;
  // The bincode TransactionError; nullopt when the transaction succeeded.
  std::optional<absl::Span<const uint8_t>> error;
  // Where the balances begin.
  const uint8_t* rest = nullptr;

  size_t loaded_writable_count() const { return loaded_writable.size() / kPubkeySize; }
  size_t loaded_readonly_count() const { return loaded_readonly.size() / kPubkeySize; }
};

// Reads the summary (O(1)): kDataLoss if the version or a flag is unknown or the bytes
// are too short for it. Says nothing of the rest; a consumer
// that reads further uses DecodeTransactionStatus, which checks everything.
absl::StatusOr<TransactionStatusSummary> PeekTransactionStatus(absl::Span<const uint8_t> bytes);

// Views of a decoded status; spans and string_views point into the encoded bytes.
struct TokenBalanceView {
  uint8_t account_index = 0;
  uint8_t decimals = 0;
  absl::Span<const uint8_t> mint;        // 32 bytes
  absl::Span<const uint8_t> owner;       // 32 bytes, or empty when absent
  absl::Span<const uint8_t> program_id;  // 32 bytes, or empty when absent
  uint64_t amount = 0;
  double ui_amount = 0;
  std::string_view ui_amount_string;
};

struct InnerInstructionView {
  uint8_t program_id_index = 0;
  std::optional<uint32_t> stack_height;
  absl::Span<const uint8_t> accounts;
  absl::Span<const uint8_t> data;
};
using InnerInstructionRange = SectionRange<InnerInstructionView>;

struct InnerInstructionsView {
  uint8_t index = 0;
  InnerInstructionRange instructions;
};

struct RewardView {
  absl::Span<const uint8_t> pubkey;  // 32 bytes
  int64_t lamports = 0;
  uint64_t post_balance = 0;
  RewardType reward_type = RewardType::kUnspecified;
  std::optional<uint8_t> commission;
  std::optional<uint16_t> commission_bps;
};

struct ReturnDataView {
  absl::Span<const uint8_t> program_id;  // 32 bytes
  absl::Span<const uint8_t> data;
};

using TokenBalanceRange = SectionRange<TokenBalanceView>;
using LogMessageRange = SectionRange<std::string_view>;
using InnerInstructionsRange = SectionRange<InnerInstructionsView>;
using RewardRange = SectionRange<RewardView>;
template <>
const uint8_t* TokenBalanceRange::Decode(const uint8_t* p, TokenBalanceView* out);
template <>
const uint8_t* LogMessageRange::Decode(const uint8_t* p, std::string_view* out);
template <>
const uint8_t* InnerInstructionRange::Decode(const uint8_t* p, InnerInstructionView* out);
template <>
const uint8_t* InnerInstructionsRange::Decode(const uint8_t* p, InnerInstructionsView* out);
template <>
const uint8_t* RewardRange::Decode(const uint8_t* p, RewardView* out);

// A run of little-endian u64s in the encoding.
class U64Array {
 public:
  U64Array() = default;
  U64Array(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t size() const { return n_; }
  uint64_t operator[](size_t i) const { return LoadLe<uint64_t>(p_ + 8 * i); }  // REQUIRES: i < size()
  std::vector<uint64_t> ToVector() const;

 private:
  const uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

// A fully validated status, read in place. Cheap to copy.
class TransactionStatusView {
 public:
  bool failed() const { return summary_.error.has_value(); }
  // The bincode TransactionError; nullopt when the transaction succeeded.
  std::optional<absl::Span<const uint8_t>> error() const { return summary_.error; }
  uint64_t fee() const { return summary_.fee; }
  const TransactionStatusSummary& summary() const { return summary_; }
  absl::Span<const uint8_t> loaded_writable() const { return summary_.loaded_writable; }
  absl::Span<const uint8_t> loaded_readonly() const { return summary_.loaded_readonly; }
  std::optional<uint64_t> compute_units_consumed() const {
    return summary_.compute_units_consumed;
  }
  std::optional<uint64_t> cost_units() const { return summary_.cost_units; }
  U64Array pre_balances() const { return pre_balances_; }
  U64Array post_balances() const { return post_balances_; }
  TokenBalanceRange pre_token_balances() const { return pre_token_balances_; }
  TokenBalanceRange post_token_balances() const { return post_token_balances_; }
  // Absent (has_*() false) is distinct from present and empty; an absent list reads as
  // an empty range.
  bool has_log_messages() const { return has_log_messages_; }
  LogMessageRange log_messages() const { return log_messages_; }
  bool has_inner_instructions() const { return has_inner_; }
  InnerInstructionsRange inner_instructions() const { return inner_; }
  std::optional<ReturnDataView> return_data() const { return return_data_; }
  RewardRange rewards() const { return rewards_; }

 private:
  friend absl::StatusOr<TransactionStatusView> DecodeTransactionStatus(
      absl::Span<const uint8_t> bytes);

  TransactionStatusSummary summary_;
  U64Array pre_balances_;
  U64Array post_balances_;
  TokenBalanceRange pre_token_balances_;
  TokenBalanceRange post_token_balances_;
  bool has_log_messages_ = false;
  bool has_inner_ = false;
  LogMessageRange log_messages_;
  InnerInstructionsRange inner_;
  std::optional<ReturnDataView> return_data_;
  RewardRange rewards_;
};

// Decodes and validates a whole status. `bytes` is untrusted: any violation is kDataLoss
// naming the field ("transaction status: ..."). Does not allocate.
absl::StatusOr<TransactionStatusView> DecodeTransactionStatus(absl::Span<const uint8_t> bytes);

// An owned copy (allocates).
TransactionStatus ToTransactionStatus(const TransactionStatusView& view);

// Bincode of the TransactionError values the generator produces, and what tests compare:
// InstructionError(instruction, Custom(code)), the usual failure of a program, and
// InsufficientFundsForFee.
std::vector<uint8_t> InstructionCustomErrorBincode(uint8_t instruction, uint32_t code);
std::vector<uint8_t> InsufficientFundsForFeeBincode();

}  // namespace qlaster::solana

#endif  // QLASTER_WIRE_SOLANA_TRANSACTION_STATUS_H_
