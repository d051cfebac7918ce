// Encoder, validating decoder and views of the transaction status (transaction_status.h).
#include "wire/solana/transaction_status.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace qlaster::solana {
namespace {

constexpr uint8_t kFlagError = 0x01;
constexpr uint8_t kFlagLogs = 0x02;
constexpr uint8_t kFlagInner = 0x04;
constexpr uint8_t kFlagReturnData = 0x08;
constexpr uint8_t kFlagComputeUnits = 0x10;
constexpr uint8_t kFlagCostUnits = 0x20;
constexpr uint8_t kKnownFlags = 0x3f;

constexpr uint8_t kTokenOwner = 0x01;
constexpr uint8_t kTokenProgramId = 0x02;
constexpr uint8_t kInnerStackHeight = 0x01;
constexpr uint8_t kRewardCommission = 0x01;
constexpr uint8_t kRewardCommissionBps = 0x02;

constexpr size_t kTokenBalanceFixed = 3 + 32 + 8 + 8 + 4;  // without owner, program id, string
constexpr size_t kRewardSize = 32 + 8 + 8 + 1 + 1 + 1 + 2;
constexpr uint8_t kMaxRewardType = static_cast<uint8_t>(RewardType::kDeactivatedStake);

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("transaction status: ", what));
}
absl::Status TooLarge(absl::string_view what, size_t n, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat("transaction status: ", n, " ", what, ", over the limit of ", limit));
}

// ---- Encoding -----------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  template <typename T>
  void Le(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.insert(out_.end(), b, b + sizeof(T));
  }
  void Raw(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  void Key(const Pubkey& k) { Raw(k.data(), k.size()); }
  void Bytes(absl::Span<const uint8_t> b) {
    Le<uint32_t>(static_cast<uint32_t>(b.size()));
    Raw(b.data(), b.size());
  }
  void Str(std::string_view s) {
    Bytes(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

 private:
  std::vector<uint8_t>& out_;
};

size_t TokenBalancesSize(const std::vector<TokenBalance>& balances) {
  size_t n = 4;
  for (const TokenBalance& b : balances) {
    n += kTokenBalanceFixed + (b.owner ? 32 : 0) + (b.program_id ? 32 : 0) +
         b.ui_amount_string.size();
  }
  return n;
}

absl::Status CheckTokenBalances(absl::string_view which, const std::vector<TokenBalance>& balances) {
  if (balances.size() > kMaxTokenBalances) {
    return TooLarge(absl::StrCat(which, " token balances"), balances.size(), kMaxTokenBalances);
  }
  for (const TokenBalance& b : balances) {
    if (b.ui_amount_string.size() > kMaxUiAmountStringSize) {
      return TooLarge("bytes of ui_amount_string", b.ui_amount_string.size(),
                      kMaxUiAmountStringSize);
    }
  }
  return absl::OkStatus();
}

// Checks the limits and returns the encoded size.
absl::StatusOr<size_t> EncodedSize(const TransactionStatus& s) {
  const size_t loaded = s.loaded_writable_addresses.size() + s.loaded_readonly_addresses.size();
  if (loaded > kMaxLoadedAddresses) return TooLarge("loaded addresses", loaded, kMaxLoadedAddresses);
  if (s.pre_balances.size() > kMaxBalances) {
    return TooLarge("pre balances", s.pre_balances.size(), kMaxBalances);
  }
  if (s.post_balances.size() > kMaxBalances) {
    return TooLarge("post balances", s.post_balances.size(), kMaxBalances);
  }
  QLASTER_RETURN_IF_ERROR(CheckTokenBalances("pre", s.pre_token_balances));
  QLASTER_RETURN_IF_ERROR(CheckTokenBalances("post", s.post_token_balances));
  if (s.rewards.size() > kMaxRewards) return TooLarge("rewards", s.rewards.size(), kMaxRewards);

  size_t n = kStatusHeaderSize + 32 * loaded;
  if (s.compute_units_consumed) n += 8;
  if (s.cost_units) n += 8;
  if (s.error) {
    if (s.error->size() > kMaxErrorSize) {
      return TooLarge("bytes of error", s.error->size(), kMaxErrorSize);
    }
    n += 4 + s.error->size();
  }
  n += 4 + 8 * s.pre_balances.size() + 4 + 8 * s.post_balances.size();
  n += TokenBalancesSize(s.pre_token_balances) + TokenBalancesSize(s.post_token_balances);
  if (s.log_messages) {
    if (s.log_messages->size() > kMaxLogMessages) {
      return TooLarge("log messages", s.log_messages->size(), kMaxLogMessages);
    }
    n += 4;
    for (const std::string& line : *s.log_messages) {
      if (line.size() > kMaxLogMessageSize) {
        return TooLarge("bytes in a log message", line.size(), kMaxLogMessageSize);
      }
      n += 4 + line.size();
    }
  }
  if (s.inner_instructions) {
    if (s.inner_instructions->size() > kMaxInnerInstructions) {
      return TooLarge("inner instruction groups", s.inner_instructions->size(), kMaxInnerInstructions);
    }
    size_t total = 0;
    n += 4;
    for (const InnerInstructions& group : *s.inner_instructions) {
      n += 1 + 4;
      total += group.instructions.size();
      if (total > kMaxInnerInstructions) {
        return TooLarge("inner instructions", total, kMaxInnerInstructions);
      }
      for (const InnerInstruction& ix : group.instructions) {
        if (ix.accounts.size() > kMaxBalances) {
          return TooLarge("accounts in an inner instruction", ix.accounts.size(), kMaxBalances);
        }
        if (ix.data.size() > kMaxInnerInstructionData) {
          return TooLarge("bytes of inner instruction data", ix.data.size(), kMaxInnerInstructionData);
        }
        n += 2 + (ix.stack_height ? 4 : 0) + 4 + ix.accounts.size() + 4 + ix.data.size();
      }
    }
  }
  if (s.return_data) {
    if (s.return_data->data.size() > kMaxReturnDataSize) {
      return TooLarge("bytes of return data", s.return_data->data.size(), kMaxReturnDataSize);
    }
    n += 32 + 4 + s.return_data->data.size();
  }
  n += 4 + kRewardSize * s.rewards.size();
  for (const Reward& r : s.rewards) {
    if (static_cast<uint8_t>(r.reward_type) > kMaxRewardType) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transaction status: reward type ", static_cast<int>(r.reward_type), " is not 0-5"));
    }
  }
  if (n > kMaxStatusSize) return TooLarge("bytes", n, kMaxStatusSize);
  return n;
}

void WriteTokenBalances(Writer& w, const std::vector<TokenBalance>& balances) {
  w.Le<uint32_t>(static_cast<uint32_t>(balances.size()));
  for (const TokenBalance& b : balances) {
    w.U8(b.account_index);
    w.U8(b.decimals);
    w.U8((b.owner ? kTokenOwner : 0) | (b.program_id ? kTokenProgramId : 0));
    w.Key(b.mint);
    if (b.owner) w.Key(*b.owner);
    if (b.program_id) w.Key(*b.program_id);
    w.Le<uint64_t>(b.amount);
    w.Le<double>(b.ui_amount);
    w.Str(b.ui_amount_string);
  }
}

// ---- Decoding -----------------------------------------------------------------------

class Reader {
 public:
  Reader(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}
  const uint8_t* position() const { return p_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  absl::Status Skip(absl::string_view field, size_t n, const uint8_t** start) {
    if (n > remaining()) {
      return Corrupt(absl::StrCat(field, ": needs ", n, " bytes, ", remaining(), " left"));
    }
    *start = p_;
    p_ += n;
    return absl::OkStatus();
  }
  template <typename T>
  absl::Status Le(absl::string_view field, T* v) {
    const uint8_t* p = nullptr;
    QLASTER_RETURN_IF_ERROR(Skip(field, sizeof(T), &p));
    *v = LoadLe<T>(p);
    return absl::OkStatus();
  }
  // A u32 count, checked against `limit` and against the bytes left for elements of at
  // least `min_element` bytes (so a count can never make anything loop long).
  absl::Status Count(absl::string_view field, size_t limit, size_t min_element, uint32_t* n) {
    QLASTER_RETURN_IF_ERROR(Le<uint32_t>(field, n));
    if (*n > limit) return Corrupt(absl::StrCat(*n, " ", field, ", over the limit of ", limit));
    if (size_t{*n} * min_element > remaining()) {
      return Corrupt(absl::StrCat(*n, " ", field, " cannot fit in ", remaining(), " bytes"));
    }
    return absl::OkStatus();
  }
  absl::Status Bytes(absl::string_view field, size_t limit, absl::Span<const uint8_t>* out) {
    uint32_t n = 0;
    QLASTER_RETURN_IF_ERROR(Count(field, limit, 1, &n));
    const uint8_t* p = nullptr;
    QLASTER_RETURN_IF_ERROR(Skip(field, n, &p));
    *out = absl::MakeConstSpan(p, n);
    return absl::OkStatus();
  }
  absl::Status Flags(absl::string_view field, uint8_t known, uint8_t* flags) {
    QLASTER_RETURN_IF_ERROR(Le<uint8_t>(field, flags));
    if (*flags & ~known) {
      return Corrupt(absl::StrCat(field, " 0x", absl::Hex(*flags), " has unknown bits"));
    }
    return absl::OkStatus();
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

absl::Status ReadBalances(Reader& r, absl::string_view field, U64Array* out) {
  uint32_t n = 0;
  QLASTER_RETURN_IF_ERROR(r.Count(field, kMaxBalances, 8, &n));
  const uint8_t* p = nullptr;
  QLASTER_RETURN_IF_ERROR(r.Skip(field, size_t{n} * 8, &p));
  *out = U64Array(p, n);
  return absl::OkStatus();
}

absl::Status ReadTokenBalances(Reader& r, absl::string_view field, TokenBalanceRange* out) {
  uint32_t n = 0;
  QLASTER_RETURN_IF_ERROR(r.Count(field, kMaxTokenBalances, kTokenBalanceFixed, &n));
  const uint8_t* first = r.position();
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* fixed = nullptr;
    QLASTER_RETURN_IF_ERROR(r.Skip(field, 2, &fixed));
    uint8_t flags = 0;
    QLASTER_RETURN_IF_ERROR(r.Flags("token balance flags", kTokenOwner | kTokenProgramId, &flags));
    const size_t keys = 32 * (1 + ((flags & kTokenOwner) ? 1 : 0) + ((flags & kTokenProgramId) ? 1 : 0));
    QLASTER_RETURN_IF_ERROR(r.Skip(field, keys + 16, &fixed));
    absl::Span<const uint8_t> text;
    QLASTER_RETURN_IF_ERROR(r.Bytes("ui_amount_string", kMaxUiAmountStringSize, &text));
  }
  *out = TokenBalanceRange(first, n);
  return absl::OkStatus();
}

}  // namespace

std::vector<uint64_t> U64Array::ToVector() const {
  std::vector<uint64_t> out(n_);
  for (size_t i = 0; i < n_; ++i) out[i] = (*this)[i];
  return out;
}

absl::Status AppendTransactionStatus(const TransactionStatus& s, std::vector<uint8_t>& out) {
  QLASTER_ASSIGN_OR_RETURN(const size_t size, EncodedSize(s));
  out.reserve(out.size() + size);
  Writer w(out);
  w.U8(kTransactionStatusVersion);
  w.U8((s.error ? kFlagError : 0) | (s.log_messages ? kFlagLogs : 0) |
       (s.inner_instructions ? kFlagInner : 0) | (s.return_data ? kFlagReturnData : 0) |
       (s.compute_units_consumed ? kFlagComputeUnits : 0) | (s.cost_units ? kFlagCostUnits : 0));
  w.U8(static_cast<uint8_t>(s.loaded_writable_addresses.size()));
  w.U8(static_cast<uint8_t>(s.loaded_readonly_addresses.size()));
  w.Le<uint64_t>(s.fee);
  for (const Pubkey& k : s.loaded_writable_addresses) w.Key(k);
  for (const Pubkey& k : s.loaded_readonly_addresses) w.Key(k);
  if (s.compute_units_consumed) w.Le<uint64_t>(*s.compute_units_consumed);
  if (s.cost_units) w.Le<uint64_t>(*s.cost_units);
  if (s.error) w.Bytes(*s.error);
  w.Le<uint32_t>(static_cast<uint32_t>(s.pre_balances.size()));
  for (uint64_t b : s.pre_balances) w.Le<uint64_t>(b);
  w.Le<uint32_t>(static_cast<uint32_t>(s.post_balances.size()));
  for (uint64_t b : s.post_balances) w.Le<uint64_t>(b);
  WriteTokenBalances(w, s.pre_token_balances);
  WriteTokenBalances(w, s.post_token_balances);
  if (s.log_messages) {
    w.Le<uint32_t>(static_cast<uint32_t>(s.log_messages->size()));
    for (const std::string& line : *s.log_messages) w.Str(line);
  }
  if (s.inner_instructions) {
    w.Le<uint32_t>(static_cast<uint32_t>(s.inner_instructions->size()));
    for (const InnerInstructions& group : *s.inner_instructions) {
      w.U8(group.index);
      w.Le<uint32_t>(static_cast<uint32_t>(group.instructions.size()));
      for (const InnerInstruction& ix : group.instructions) {
        w.U8(ix.program_id_index);
        w.U8(ix.stack_height ? kInnerStackHeight : 0);
        if (ix.stack_height) w.Le<uint32_t>(*ix.stack_height);
        w.Bytes(ix.accounts);
        w.Bytes(ix.data);
      }
    }
  }
  if (s.return_data) {
    w.Key(s.return_data->program_id);
    w.Bytes(s.return_data->data);
  }
  w.Le<uint32_t>(static_cast<uint32_t>(s.rewards.size()));
  for (const Reward& r : s.rewards) {
    w.Key(r.pubkey);
    w.Le<int64_t>(r.lamports);
    w.Le<uint64_t>(r.post_balance);
    w.U8(static_cast<uint8_t>(r.reward_type));
    w.U8((r.commission ? kRewardCommission : 0) | (r.commission_bps ? kRewardCommissionBps : 0));
    w.U8(r.commission.value_or(0));
    w.Le<uint16_t>(r.commission_bps.value_or(0));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> EncodeTransactionStatus(const TransactionStatus& status) {
  std::vector<uint8_t> out;
  QLASTER_RETURN_IF_ERROR(AppendTransactionStatus(status, out));
  return out;
}

absl::StatusOr<TransactionStatusSummary> PeekTransactionStatus(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kStatusHeaderSize) {
    return Corrupt(absl::StrCat(bytes.size(), " bytes, shorter than the ", kStatusHeaderSize,
                                "-byte header"));
  }
  if (bytes.size() > kMaxStatusSize) {
    return Corrupt(absl::StrCat(bytes.size(), " bytes, over the limit of ", kMaxStatusSize));
  }
  if (bytes[0] != kTransactionStatusVersion) {
    return Corrupt(absl::StrCat("format version ", bytes[0], ", expected ",
                                kTransactionStatusVersion));
  }
  const uint8_t flags = bytes[1];
  if (flags & ~kKnownFlags) return Corrupt(absl::StrCat("flags 0x", absl::Hex(flags), " has unknown bits"));
  const size_t w = bytes[2];
  const size_t r = bytes[3];
  if (w + r > kMaxLoadedAddresses) {
    return Corrupt(absl::StrCat(w, " + ", r, " loaded addresses, over ", kMaxLoadedAddresses));
  }
  if (bytes.size() < kStatusHeaderSize + 32 * (w + r)) {
    return Corrupt(absl::StrCat(w + r, " loaded addresses do not fit in ", bytes.size(), " bytes"));
  }
  TransactionStatusSummary summary;
  summary.failed = (flags & kFlagError) != 0;
  summary.fee = LoadLe<uint64_t>(bytes.data() + 4);
  summary.loaded_writable = bytes.subspan(kStatusHeaderSize, 32 * w);
  summary.loaded_readonly = bytes.subspan(kStatusHeaderSize + 32 * w, 32 * r);
  Reader rest(summary.loaded_readonly.data() + summary.loaded_readonly.size(),
              bytes.data() + bytes.size());
  if (flags & kFlagComputeUnits) {
    uint64_t units = 0;
    QLASTER_RETURN_IF_ERROR(rest.Le<uint64_t>("compute units consumed", &units));
    summary.compute_units_consumed = units;
  }
  if (flags & kFlagCostUnits) {
    uint64_t units = 0;
    QLASTER_RETURN_IF_ERROR(rest.Le<uint64_t>("cost units", &units));
    summary.cost_units = units;
  }
  if (flags & kFlagError) {
    absl::Span<const uint8_t> error;
    QLASTER_RETURN_IF_ERROR(rest.Bytes("error bytes", kMaxErrorSize, &error));
    summary.error = error;
  }
  summary.rest = rest.position();
  return summary;
}

absl::StatusOr<TransactionStatusView> DecodeTransactionStatus(absl::Span<const uint8_t> bytes) {
  TransactionStatusView v;
  QLASTER_ASSIGN_OR_RETURN(v.summary_, PeekTransactionStatus(bytes));
  const uint8_t flags = bytes[1];
  Reader r(v.summary_.rest, bytes.data() + bytes.size());
  QLASTER_RETURN_IF_ERROR(ReadBalances(r, "pre balances", &v.pre_balances_));
  QLASTER_RETURN_IF_ERROR(ReadBalances(r, "post balances", &v.post_balances_));
  QLASTER_RETURN_IF_ERROR(ReadTokenBalances(r, "pre token balances", &v.pre_token_balances_));
  QLASTER_RETURN_IF_ERROR(ReadTokenBalances(r, "post token balances", &v.post_token_balances_));
  if (flags & kFlagLogs) {
    uint32_t n = 0;
    QLASTER_RETURN_IF_ERROR(r.Count("log messages", kMaxLogMessages, 4, &n));
    const uint8_t* first = r.position();
    for (uint32_t i = 0; i < n; ++i) {
      absl::Span<const uint8_t> line;
      QLASTER_RETURN_IF_ERROR(r.Bytes("bytes in a log message", kMaxLogMessageSize, &line));
    }
    v.has_log_messages_ = true;
    v.log_messages_ = LogMessageRange(first, n);
  }
  if (flags & kFlagInner) {
    uint32_t groups = 0;
    QLASTER_RETURN_IF_ERROR(r.Count("inner instruction groups", kMaxInnerInstructions, 5, &groups));
    const uint8_t* first = r.position();
    size_t total = 0;
    for (uint32_t g = 0; g < groups; ++g) {
      const uint8_t* index = nullptr;
      QLASTER_RETURN_IF_ERROR(r.Skip("inner instruction group index", 1, &index));
      uint32_t n = 0;
      QLASTER_RETURN_IF_ERROR(r.Count("inner instructions", kMaxInnerInstructions, 10, &n));
      total += n;
      if (total > kMaxInnerInstructions) {
        return Corrupt(absl::StrCat(total, " inner instructions, over the limit of ",
                                    kMaxInnerInstructions));
      }
      for (uint32_t i = 0; i < n; ++i) {
        const uint8_t* program = nullptr;
        QLASTER_RETURN_IF_ERROR(r.Skip("inner instruction program id index", 1, &program));
        uint8_t ix_flags = 0;
        QLASTER_RETURN_IF_ERROR(r.Flags("inner instruction flags", kInnerStackHeight, &ix_flags));
        if (ix_flags & kInnerStackHeight) {
          uint32_t height = 0;
          QLASTER_RETURN_IF_ERROR(r.Le<uint32_t>("inner instruction stack height", &height));
        }
        absl::Span<const uint8_t> field;
        QLASTER_RETURN_IF_ERROR(r.Bytes("inner instruction accounts", kMaxBalances, &field));
        QLASTER_RETURN_IF_ERROR(r.Bytes("inner instruction data", kMaxInnerInstructionData, &field));
      }
    }
    v.has_inner_ = true;
    v.inner_ = InnerInstructionsRange(first, groups);
  }
  if (flags & kFlagReturnData) {
    ReturnDataView data;
    const uint8_t* program = nullptr;
    QLASTER_RETURN_IF_ERROR(r.Skip("return data program id", 32, &program));
    data.program_id = absl::MakeConstSpan(program, 32);
    QLASTER_RETURN_IF_ERROR(r.Bytes("return data", kMaxReturnDataSize, &data.data));
    v.return_data_ = data;
  }
  uint32_t rewards = 0;
  QLASTER_RETURN_IF_ERROR(r.Count("rewards", kMaxRewards, kRewardSize, &rewards));
  const uint8_t* first_reward = r.position();
  for (uint32_t i = 0; i < rewards; ++i) {
    const uint8_t* reward = nullptr;
    QLASTER_RETURN_IF_ERROR(r.Skip("reward", kRewardSize, &reward));
    if (reward[48] > kMaxRewardType) {
      return Corrupt(absl::StrCat("reward type ", reward[48], " is not 0-5"));
    }
    const uint8_t reward_flags = reward[49];
    if (reward_flags & ~(kRewardCommission | kRewardCommissionBps)) {
      return Corrupt(absl::StrCat("reward flags 0x", absl::Hex(reward_flags), " has unknown bits"));
    }
    // Absent values are written as zero, so each encoding has one spelling.
    if (!(reward_flags & kRewardCommission) && reward[50] != 0) {
      return Corrupt("reward commission is set but flagged absent");
    }
    if (!(reward_flags & kRewardCommissionBps) && LoadLe<uint16_t>(reward + 51) != 0) {
      return Corrupt("reward commission_bps is set but flagged absent");
    }
  }
  v.rewards_ = RewardRange(first_reward, rewards);
  if (r.remaining() != 0) return Corrupt(absl::StrCat(r.remaining(), " trailing bytes"));
  return v;
}

template <>
const uint8_t* TokenBalanceRange::Decode(const uint8_t* p, TokenBalanceView* out) {
  out->account_index = p[0];
  out->decimals = p[1];
  const uint8_t flags = p[2];
  p += 3;
  out->mint = absl::MakeConstSpan(p, 32);
  p += 32;
  out->owner = {};
  out->program_id = {};
  if (flags & kTokenOwner) {
    out->owner = absl::MakeConstSpan(p, 32);
    p += 32;
  }
  if (flags & kTokenProgramId) {
    out->program_id = absl::MakeConstSpan(p, 32);
    p += 32;
  }
  out->amount = LoadLe<uint64_t>(p);
  out->ui_amount = LoadLe<double>(p + 8);
  const uint32_t n = LoadLe<uint32_t>(p + 16);
  out->ui_amount_string = std::string_view(reinterpret_cast<const char*>(p + 20), n);
  return p + 20 + n;
}

template <>
const uint8_t* LogMessageRange::Decode(const uint8_t* p, std::string_view* out) {
  const uint32_t n = LoadLe<uint32_t>(p);
  *out = std::string_view(reinterpret_cast<const char*>(p + 4), n);
  return p + 4 + n;
}

template <>
const uint8_t* InnerInstructionRange::Decode(const uint8_t* p, InnerInstructionView* out) {
  out->program_id_index = p[0];
  const uint8_t flags = p[1];
  p += 2;
  out->stack_height.reset();
  if (flags & kInnerStackHeight) {
    out->stack_height = LoadLe<uint32_t>(p);
    p += 4;
  }
  uint32_t n = LoadLe<uint32_t>(p);
  out->accounts = absl::MakeConstSpan(p + 4, n);
  p += 4 + n;
  n = LoadLe<uint32_t>(p);
  out->data = absl::MakeConstSpan(p + 4, n);
  return p + 4 + n;
}

template <>
const uint8_t* InnerInstructionsRange::Decode(const uint8_t* p, InnerInstructionsView* out) {
  out->index = p[0];
  const uint32_t n = LoadLe<uint32_t>(p + 1);
  p += 5;
  out->instructions = InnerInstructionRange(p, n);
  // Walk the group to find where the next one starts.
  InnerInstructionView ix;
  for (uint32_t i = 0; i < n; ++i) p = InnerInstructionRange::Decode(p, &ix);
  return p;
}

template <>
const uint8_t* RewardRange::Decode(const uint8_t* p, RewardView* out) {
  out->pubkey = absl::MakeConstSpan(p, 32);
  out->lamports = LoadLe<int64_t>(p + 32);
  out->post_balance = LoadLe<uint64_t>(p + 40);
  out->reward_type = static_cast<RewardType>(p[48]);
  const uint8_t flags = p[49];
  out->commission.reset();
  out->commission_bps.reset();
  if (flags & kRewardCommission) out->commission = p[50];
  if (flags & kRewardCommissionBps) out->commission_bps = LoadLe<uint16_t>(p + 51);
  return p + kRewardSize;
}

namespace {

Pubkey KeyAt(absl::Span<const uint8_t> keys, size_t i) {
  Pubkey k;
  std::memcpy(k.data(), keys.data() + 32 * i, 32);
  return k;
}

std::vector<TokenBalance> ToTokenBalances(const TokenBalanceRange& range) {
  std::vector<TokenBalance> out;
  out.reserve(range.size());
  for (const TokenBalanceView& b : range) {
    TokenBalance t;
    t.account_index = b.account_index;
    t.mint = KeyAt(b.mint, 0);
    if (!b.owner.empty()) t.owner = KeyAt(b.owner, 0);
    if (!b.program_id.empty()) t.program_id = KeyAt(b.program_id, 0);
    t.amount = b.amount;
    t.decimals = b.decimals;
    t.ui_amount = b.ui_amount;
    t.ui_amount_string = std::string(b.ui_amount_string);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

TransactionStatus ToTransactionStatus(const TransactionStatusView& v) {
  TransactionStatus s;
  if (v.error()) s.error = std::vector<uint8_t>(v.error()->begin(), v.error()->end());
  s.fee = v.fee();
  s.pre_balances = v.pre_balances().ToVector();
  s.post_balances = v.post_balances().ToVector();
  s.pre_token_balances = ToTokenBalances(v.pre_token_balances());
  s.post_token_balances = ToTokenBalances(v.post_token_balances());
  if (v.has_log_messages()) {
    s.log_messages.emplace();
    for (std::string_view line : v.log_messages()) s.log_messages->emplace_back(line);
  }
  if (v.has_inner_instructions()) {
    s.inner_instructions.emplace();
    for (const InnerInstructionsView& group : v.inner_instructions()) {
      InnerInstructions g;
      g.index = group.index;
      for (const InnerInstructionView& ix : group.instructions) {
        g.instructions.push_back({ix.program_id_index,
                                  {ix.accounts.begin(), ix.accounts.end()},
                                  {ix.data.begin(), ix.data.end()},
                                  ix.stack_height});
      }
      s.inner_instructions->push_back(std::move(g));
    }
  }
  const TransactionStatusSummary& summary = v.summary();
  for (size_t i = 0; i < summary.loaded_writable_count(); ++i) {
    s.loaded_writable_addresses.push_back(KeyAt(summary.loaded_writable, i));
  }
  for (size_t i = 0; i < summary.loaded_readonly_count(); ++i) {
    s.loaded_readonly_addresses.push_back(KeyAt(summary.loaded_readonly, i));
  }
  if (v.return_data()) {
    s.return_data = ReturnData{KeyAt(v.return_data()->program_id, 0),
                               {v.return_data()->data.begin(), v.return_data()->data.end()}};
  }
  s.compute_units_consumed = v.compute_units_consumed();
  s.cost_units = v.cost_units();
  for (const RewardView& r : v.rewards()) {
    s.rewards.push_back(
        {KeyAt(r.pubkey, 0), r.lamports, r.post_balance, r.reward_type, r.commission, r.commission_bps});
  }
  return s;
}

std::vector<uint8_t> InstructionCustomErrorBincode(uint8_t instruction, uint32_t code) {
  // TransactionError::InstructionError is variant 8, InstructionError::Custom variant 25;
  // bincode writes an enum's variant as a u32, then its fields.
  std::vector<uint8_t> out = {8, 0, 0, 0, instruction, 25, 0, 0, 0};
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(code >> (8 * i)));
  return out;
}

std::vector<uint8_t> InsufficientFundsForFeeBincode() { return {4, 0, 0, 0}; }

}  // namespace qlaster::solana
