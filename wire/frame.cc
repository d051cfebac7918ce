// Data-record frame codecs. Encoding builds the fixed struct once and writes each ring
// copy with three memcpys; decoding copies the fixed struct out of untrusted bytes, checks
// every field against the record's real length, and hands back spans into the record.
#include "wire/frame.h"

#include <cstring>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace qlaster {
namespace {

// The codec copies these structs as bytes to and from ring memory; their sizes are the
// wire format (proto/qlaster.fbs).
static_assert(sizeof(fb::FrameHeader) == 24);
static_assert(sizeof(fb::AccountHeader) == 176);
static_assert(sizeof(fb::TransactionHeader) == 88);
static_assert(sizeof(fb::SlotHeader) == 24);
static_assert(sizeof(fb::GapHeader) == 8);
static_assert(sizeof(fb::BlockMetaHeader) == 120);
static_assert(sizeof(fb::RewardEntry) == 56);
static_assert(sizeof(fb::EntryHeader) == 72);
static_assert(sizeof(fb::TransactionStatusHeader) == 88);
static_assert(sizeof(fb::Hash) == 32);
static_assert(sizeof(fb::Pubkey) == kPubkeySize);
static_assert(sizeof(fb::Signature) == kSignatureSize);
static_assert(std::is_trivially_copyable_v<fb::FrameHeader> &&
              std::is_trivially_copyable_v<fb::AccountHeader> &&
              std::is_trivially_copyable_v<fb::TransactionHeader> &&
              std::is_trivially_copyable_v<fb::SlotHeader> &&
              std::is_trivially_copyable_v<fb::GapHeader> &&
              std::is_trivially_copyable_v<fb::BlockMetaHeader> &&
              std::is_trivially_copyable_v<fb::RewardEntry> &&
              std::is_trivially_copyable_v<fb::EntryHeader> &&
              std::is_trivially_copyable_v<fb::TransactionStatusHeader> &&
              std::is_trivially_copyable_v<fb::Pubkey> &&
              std::is_trivially_copyable_v<fb::Signature>);
// The account body must fit the uint32 body_len with room to spare.
static_assert(sizeof(fb::AccountHeader) + kMaxAccountDataSize < UINT32_MAX);
static_assert(sizeof(fb::TransactionHeader) + kMaxTransactionSize + kMaxTransactionStatusSize <
              UINT32_MAX);
static_assert(sizeof(fb::BlockMetaHeader) + kMaxBlockRewards * sizeof(fb::RewardEntry) < UINT32_MAX);

// SlotStatus mirrors fb::SlotStatus so conversion is a cast.
static_assert(static_cast<uint8_t>(SlotStatus::kProcessed) ==
              static_cast<uint8_t>(fb::SlotStatus::Processed));
static_assert(static_cast<uint8_t>(SlotStatus::kConfirmed) ==
              static_cast<uint8_t>(fb::SlotStatus::Confirmed));
static_assert(static_cast<uint8_t>(SlotStatus::kRooted) ==
              static_cast<uint8_t>(fb::SlotStatus::Rooted));
static_assert(static_cast<uint8_t>(SlotStatus::kFirstShredReceived) ==
              static_cast<uint8_t>(fb::SlotStatus::FirstShredReceived));
static_assert(static_cast<uint8_t>(SlotStatus::kCompleted) ==
              static_cast<uint8_t>(fb::SlotStatus::Completed));
static_assert(static_cast<uint8_t>(SlotStatus::kCreatedBank) ==
              static_cast<uint8_t>(fb::SlotStatus::CreatedBank));
static_assert(static_cast<uint8_t>(SlotStatus::kDead) ==
              static_cast<uint8_t>(fb::SlotStatus::Dead));
static_assert(kMaxSlotStatus == static_cast<uint8_t>(fb::SlotStatus::MAX));

// Byte offsets of the bool fields inside their structs. The generated accessors turn any
// non-zero byte into true; the decoder wants the raw byte to reject garbage (frame_test
// checks these offsets against the generated constructors).
constexpr size_t kAccountExecutableOffset = 105;
constexpr size_t kTransactionIsVoteOffset = 16;
constexpr size_t kTransactionFailedOffset = 17;
constexpr size_t kStatusIsVoteOffset = 16;
constexpr size_t kStatusFailedOffset = 17;
constexpr size_t kRewardHasCommissionOffset = 49;
constexpr uint8_t kMaxRewardType = static_cast<uint8_t>(fb::RewardType::MAX);

constexpr uint8_t kAccountFlagCompressed = static_cast<uint8_t>(fb::AccountFlags::Compressed);
constexpr uint8_t kAccountFlagHasTxnSignature =
    static_cast<uint8_t>(fb::AccountFlags::HasTxnSignature);
constexpr uint8_t kAccountFlagSliced = static_cast<uint8_t>(fb::AccountFlags::Sliced);
constexpr uint8_t kAccountFlagsKnown = static_cast<uint8_t>(fb::AccountFlags::ANY);
constexpr uint8_t kBlockHasHeight = static_cast<uint8_t>(fb::BlockMetaFlags::HasBlockHeight);
constexpr uint8_t kBlockHasTime = static_cast<uint8_t>(fb::BlockMetaFlags::HasBlockTime);
constexpr uint8_t kBlockHasPartitions = static_cast<uint8_t>(fb::BlockMetaFlags::HasNumPartitions);
constexpr uint8_t kBlockFlagsKnown = static_cast<uint8_t>(fb::BlockMetaFlags::ANY);

// memcpy with a null pointer is undefined even for zero bytes, and an empty vector's
// data() may be null.
inline void CopyBytes(uint8_t* dst, const uint8_t* src, size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
}

// Copies a struct out of possibly unaligned, possibly shared memory.
// REQUIRES: p points at sizeof(T) readable bytes.
template <typename T>
T ReadStruct(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

// The byte at `offset` of a struct's wire form.
template <typename T>
uint8_t RawByte(const T& value, size_t offset) {
  return reinterpret_cast<const uint8_t*>(&value)[offset];
}

fb::Pubkey ToFb(const Pubkey& key) { return fb::Pubkey(flatbuffers::make_span(key)); }
fb::Signature ToFb(const Signature& sig) { return fb::Signature(flatbuffers::make_span(sig)); }

Pubkey FromFb(const fb::Pubkey& key) {
  Pubkey out;
  std::memcpy(out.data(), key.bytes()->data(), out.size());
  return out;
}
Signature FromFb(const fb::Signature& sig) {
  Signature out;
  std::memcpy(out.data(), sig.bytes()->data(), out.size());
  return out;
}
fb::Hash ToFbHash(const Hash& h) { return fb::Hash(flatbuffers::make_span(h)); }
Hash FromFb(const fb::Hash& h) {
  Hash out;
  std::memcpy(out.data(), h.bytes()->data(), out.size());
  return out;
}

absl::Status CheckBool(uint8_t byte, const char* what) {
  if (byte > 1) {
    return absl::DataLossError(absl::StrCat("frame: ", what, " byte is ", byte, ", not 0 or 1"));
  }
  return absl::OkStatus();
}

absl::Status CheckStructFits(absl::Span<const uint8_t> body, size_t struct_size,
                             const char* struct_name) {
  if (body.size() < struct_size) {
    return absl::DataLossError(absl::StrCat("frame: body is ", body.size(),
                                            " bytes, shorter than the ", struct_size, "-byte ",
                                            struct_name));
  }
  return absl::OkStatus();
}

// For kinds with nothing after the struct: the body is exactly the struct.
absl::Status CheckExactBody(absl::Span<const uint8_t> body, size_t struct_size,
                            const char* struct_name) {
  QLASTER_RETURN_IF_ERROR(CheckStructFits(body, struct_size, struct_name));
  if (body.size() != struct_size) {
    return absl::DataLossError(absl::StrCat("frame: body is ", body.size(), " bytes, but a ",
                                            struct_name, " record is exactly ", struct_size));
  }
  return absl::OkStatus();
}

// The FrameHeader of `record`, checked: version, flags, and body_len against the bytes.
absl::StatusOr<fb::FrameHeader> CheckFrameHeader(absl::Span<const uint8_t> record) {
  if (record.size() < kFrameHeaderSize) {
    return absl::DataLossError(absl::StrCat("frame: record is ", record.size(),
                                            " bytes, shorter than the ", kFrameHeaderSize,
                                            "-byte FrameHeader"));
  }
  const auto header = ReadStruct<fb::FrameHeader>(record.data());
  if (header.version() != kFrameVersion) {
    return absl::DataLossError(absl::StrCat("frame: version is ", header.version(),
                                            ", expected ", kFrameVersion));
  }
  if (header.body_len() != record.size() - kFrameHeaderSize) {
    return absl::DataLossError(absl::StrCat("frame: body_len is ", header.body_len(), " but ",
                                            record.size() - kFrameHeaderSize,
                                            " bytes follow the FrameHeader"));
  }
  return header;
}

absl::Status CheckAccount(absl::Span<const uint8_t> body, fb::AccountHeader* out) {
  constexpr size_t kSize = sizeof(fb::AccountHeader);
  QLASTER_RETURN_IF_ERROR(CheckStructFits(body, kSize, "AccountHeader"));
  std::memcpy(out, body.data(), kSize);  // one copy: the bytes cannot change under us
  const fb::AccountHeader& header = *out;
  const uint8_t flags = static_cast<uint8_t>(header.flags());
  if ((flags & ~kAccountFlagsKnown) != 0) {
    return absl::DataLossError(absl::StrCat("frame: account flags 0x", absl::Hex(flags),
                                            " has unknown bits (known: 0x",
                                            absl::Hex(kAccountFlagsKnown), ")"));
  }
  QLASTER_RETURN_IF_ERROR(
      CheckBool(RawByte(header, kAccountExecutableOffset), "account executable"));
  const size_t rest = body.size() - kSize;
  const uint32_t wire_len = header.wire_len();
  const uint32_t data_len = header.data_len();
  if (wire_len != rest) {
    return absl::DataLossError(absl::StrCat("frame: account wire_len is ", wire_len,
                                            " but ", rest, " bytes follow the AccountHeader"));
  }
  if (data_len > kMaxAccountDataSize) {
    return absl::DataLossError(absl::StrCat("frame: account data_len ", data_len,
                                            " exceeds the limit of ", kMaxAccountDataSize));
  }
  const bool compressed = (flags & kAccountFlagCompressed) != 0;
  if (!compressed && data_len != wire_len) {
    return absl::DataLossError(absl::StrCat("frame: uncompressed account data_len ", data_len,
                                            " differs from wire_len ", wire_len));
  }
  if (compressed) {
    // An LZ4 block is never empty and never exceeds LZ4_compressBound of its content; this
    // rejects absurd ratios before anyone allocates data_len bytes for them.
    const size_t bound = Lz4CompressBound(data_len);
    if (wire_len == 0 || wire_len > bound) {
      return absl::DataLossError(absl::StrCat("frame: compressed account wire_len ", wire_len,
                                              " is outside [1, ", bound,
                                              "], the LZ4 bound for data_len ", data_len));
    }
  }
  const uint32_t account_data_len = header.account_data_len();
  if (account_data_len > kMaxAccountDataSize) {
    return absl::DataLossError(absl::StrCat("frame: account_data_len ", account_data_len,
                                            " exceeds the limit of ", kMaxAccountDataSize));
  }
  if ((flags & kAccountFlagSliced) != 0 ? data_len > account_data_len
                                        : data_len != account_data_len) {
    return absl::DataLossError(absl::StrCat("frame: account data_len ", data_len, " and account_data_len ",
                                            account_data_len, " disagree (",
                                            (flags & kAccountFlagSliced) != 0 ? "sliced" : "whole",
                                            " data)"));
  }
  return absl::OkStatus();
}

absl::Status CheckTransaction(absl::Span<const uint8_t> body, fb::TransactionHeader* out) {
  constexpr size_t kSize = sizeof(fb::TransactionHeader);
  QLASTER_RETURN_IF_ERROR(CheckStructFits(body, kSize, "TransactionHeader"));
  std::memcpy(out, body.data(), kSize);
  const fb::TransactionHeader& header = *out;
  QLASTER_RETURN_IF_ERROR(
      CheckBool(RawByte(header, kTransactionIsVoteOffset), "transaction is_vote"));
  QLASTER_RETURN_IF_ERROR(
      CheckBool(RawByte(header, kTransactionFailedOffset), "transaction failed"));
  const size_t rest = body.size() - kSize;
  const uint32_t data_len = header.data_len();
  const uint32_t status_len = header.status_len();
  if (data_len > kMaxTransactionSize) {
    return absl::DataLossError(absl::StrCat("frame: transaction data_len ", data_len,
                                            " exceeds the limit of ", kMaxTransactionSize));
  }
  if (status_len > kMaxTransactionStatusSize) {
    return absl::DataLossError(absl::StrCat("frame: transaction status_len ", status_len,
                                            " exceeds the limit of ", kMaxTransactionStatusSize));
  }
  if (uint64_t{data_len} + status_len != rest) {
    return absl::DataLossError(absl::StrCat("frame: transaction data_len ", data_len,
                                            " + status_len ", status_len, " but ", rest,
                                            " bytes follow the TransactionHeader"));
  }
  return absl::OkStatus();
}

absl::Status CheckSlot(absl::Span<const uint8_t> body, fb::SlotHeader* out) {
  QLASTER_RETURN_IF_ERROR(CheckExactBody(body, sizeof(fb::SlotHeader), "SlotHeader"));
  std::memcpy(out, body.data(), sizeof(fb::SlotHeader));
  const fb::SlotHeader& header = *out;
  const uint8_t status = static_cast<uint8_t>(header.status());
  if (status > kMaxSlotStatus) {
    return absl::DataLossError(absl::StrCat("frame: slot status ", status,
                                            " is not a SlotStatus (max ", kMaxSlotStatus, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckGap(absl::Span<const uint8_t> body, fb::GapHeader* out) {
  QLASTER_RETURN_IF_ERROR(CheckExactBody(body, sizeof(fb::GapHeader), "GapHeader"));
  std::memcpy(out, body.data(), sizeof(fb::GapHeader));
  return absl::OkStatus();
}

absl::Status CheckReward(const uint8_t* p, size_t i) {
  const auto r = ReadStruct<fb::RewardEntry>(p);
  if (static_cast<uint8_t>(r.reward_type()) > kMaxRewardType) {
    return absl::DataLossError(absl::StrCat("frame: reward ", i, " has unknown type ",
                                            static_cast<uint8_t>(r.reward_type())));
  }
  return CheckBool(RawByte(r, kRewardHasCommissionOffset), "reward has_commission");
}

absl::Status CheckBlockMeta(absl::Span<const uint8_t> body, fb::BlockMetaHeader* out) {
  constexpr size_t kSize = sizeof(fb::BlockMetaHeader);
  QLASTER_RETURN_IF_ERROR(CheckStructFits(body, kSize, "BlockMetaHeader"));
  std::memcpy(out, body.data(), kSize);
  const uint8_t flags = static_cast<uint8_t>(out->flags());
  if ((flags & ~kBlockFlagsKnown) != 0) {
    return absl::DataLossError(absl::StrCat("frame: block meta flags 0x", absl::Hex(flags),
                                            " has unknown bits"));
  }
  const size_t rest = body.size() - kSize;
  if (rest % sizeof(fb::RewardEntry) != 0 || rest / sizeof(fb::RewardEntry) > kMaxBlockRewards) {
    return absl::DataLossError(absl::StrCat("frame: ", rest,
                                            " bytes after the BlockMetaHeader are not at most ",
                                            kMaxBlockRewards, " 56-byte rewards"));
  }
  for (size_t i = 0; i < rest / sizeof(fb::RewardEntry); ++i) {
    QLASTER_RETURN_IF_ERROR(CheckReward(body.data() + kSize + i * sizeof(fb::RewardEntry), i));
  }
  return absl::OkStatus();
}

absl::Status CheckEntry(absl::Span<const uint8_t> body, fb::EntryHeader* out) {
  QLASTER_RETURN_IF_ERROR(CheckExactBody(body, sizeof(fb::EntryHeader), "EntryHeader"));
  std::memcpy(out, body.data(), sizeof(fb::EntryHeader));
  return absl::OkStatus();
}

absl::Status CheckTransactionStatus(absl::Span<const uint8_t> body,
                                    fb::TransactionStatusHeader* out) {
  constexpr size_t kSize = sizeof(fb::TransactionStatusHeader);
  QLASTER_RETURN_IF_ERROR(CheckStructFits(body, kSize, "TransactionStatusHeader"));
  std::memcpy(out, body.data(), kSize);
  QLASTER_RETURN_IF_ERROR(CheckBool(RawByte(*out, kStatusIsVoteOffset), "status is_vote"));
  QLASTER_RETURN_IF_ERROR(CheckBool(RawByte(*out, kStatusFailedOffset), "status failed"));
  const size_t rest = body.size() - kSize;
  if (out->err_len() != rest || rest > kMaxTransactionErrorSize) {
    return absl::DataLossError(absl::StrCat("frame: status err_len is ", out->err_len(), " but ",
                                            rest, " bytes follow (at most ",
                                            kMaxTransactionErrorSize, ")"));
  }
  return absl::OkStatus();
}

template <typename T>
void StoreFixed(const T& value, uint8_t* dst, uint32_t* size) {
  static_assert(sizeof(T) <= sizeof(fb::AccountHeader));
  std::memcpy(dst, &value, sizeof(T));
  *size = sizeof(T);
}

}  // namespace

absl::Status CheckBody(fb::UpdateKind kind, absl::Span<const uint8_t> body, CheckedFrame* out) {
  out->kind = kind;
  switch (kind) {
    case fb::UpdateKind::Account:
      QLASTER_RETURN_IF_ERROR(CheckAccount(body, &out->account));
      out->variable = body.subspan(sizeof(fb::AccountHeader));
      return absl::OkStatus();
    case fb::UpdateKind::Transaction:
      QLASTER_RETURN_IF_ERROR(CheckTransaction(body, &out->transaction));
      out->variable = body.subspan(sizeof(fb::TransactionHeader));
      return absl::OkStatus();
    case fb::UpdateKind::Slot:
      QLASTER_RETURN_IF_ERROR(CheckSlot(body, &out->slot));
      out->variable = {};
      return absl::OkStatus();
    case fb::UpdateKind::Gap:
      QLASTER_RETURN_IF_ERROR(CheckGap(body, &out->gap));
      out->variable = {};
      return absl::OkStatus();
    case fb::UpdateKind::BlockMeta:
      QLASTER_RETURN_IF_ERROR(CheckBlockMeta(body, &out->block_meta));
      out->variable = body.subspan(sizeof(fb::BlockMetaHeader));
      return absl::OkStatus();
    case fb::UpdateKind::Entry:
      QLASTER_RETURN_IF_ERROR(CheckEntry(body, &out->entry));
      out->variable = {};
      return absl::OkStatus();
    case fb::UpdateKind::TransactionStatus:
      QLASTER_RETURN_IF_ERROR(CheckTransactionStatus(body, &out->transaction_status));
      out->variable = body.subspan(sizeof(fb::TransactionStatusHeader));
      return absl::OkStatus();
    case fb::UpdateKind::None:
      break;
  }
  return absl::DataLossError(absl::StrCat("frame: unknown update kind ",
                                          static_cast<uint8_t>(kind)));
}

absl::Status CheckFrame(absl::Span<const uint8_t> record, CheckedFrame* out) {
  QLASTER_ASSIGN_OR_RETURN(out->header, CheckFrameHeader(record));
  return CheckBody(out->header.kind(), record.subspan(kFrameHeaderSize), out);
}

Pubkey CheckedFrame::account_pubkey() const { return FromFb(account.pubkey()); }
Pubkey CheckedFrame::account_owner() const { return FromFb(account.owner()); }
bool CheckedFrame::account_compressed() const {
  return (static_cast<uint8_t>(account.flags()) & kAccountFlagCompressed) != 0;
}
std::optional<Signature> CheckedFrame::account_txn_signature() const {
  if ((static_cast<uint8_t>(account.flags()) & kAccountFlagHasTxnSignature) == 0) return std::nullopt;
  return FromFb(account.txn_signature());
}
bool CheckedFrame::account_sliced() const {
  return (static_cast<uint8_t>(account.flags()) & kAccountFlagSliced) != 0;
}
Signature CheckedFrame::transaction_signature() const { return FromFb(transaction.signature()); }
Signature CheckedFrame::status_signature() const { return FromFb(transaction_status.signature()); }

RouteKey CheckedFrame::route() const {
  RouteKey key;
  key.kind = kind;
  switch (kind) {
    case fb::UpdateKind::Account:
      key.pubkey = account_pubkey();
      key.owner = account_owner();
      key.slot = account.slot();
      break;
    case fb::UpdateKind::Transaction:
      key.is_vote = transaction.is_vote();
      key.failed = transaction.failed();
      key.slot = transaction.slot();
      break;
    case fb::UpdateKind::TransactionStatus:
      key.is_vote = transaction_status.is_vote();
      key.failed = transaction_status.failed();
      key.slot = transaction_status.slot();
      break;
    case fb::UpdateKind::Slot:
      key.slot = slot.slot();
      break;
    case fb::UpdateKind::BlockMeta:
      key.slot = block_meta.slot();
      break;
    case fb::UpdateKind::Entry:
      key.slot = entry.slot();
      break;
    case fb::UpdateKind::Gap:
    case fb::UpdateKind::None:
      key.kind = fb::UpdateKind::None;
      break;
  }
  return key;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::Account(const AccountUpdate& update,
                                                     const Lz4Policy& policy) {
  EncodedUpdate encoded;
  QLASTER_RETURN_IF_ERROR(AccountInto(update, policy, &encoded));
  return encoded;
}

absl::Status EncodedUpdate::AccountInto(const AccountUpdate& update, const Lz4Policy& policy,
                                        EncodedUpdate* out) {
  EncodedUpdate& encoded = *out;
  encoded.kind_ = fb::UpdateKind::None;
  encoded.fixed_size_ = 0;
  encoded.owns_variable_ = false;
  encoded.borrowed_variable_ = {};
  const size_t data_len = update.data.size();
  if (data_len > kMaxAccountDataSize) {
    encoded.owned_variable_.clear();
    return absl::InvalidArgumentError(absl::StrCat("account data is ", data_len,
                                                   " bytes, more than the limit of ",
                                                   kMaxAccountDataSize));
  }
  uint8_t flags = 0;
  if (Lz4CompressIfWorthIt(update.data, policy, &encoded.owned_variable_)) {
    encoded.owns_variable_ = true;
    flags |= kAccountFlagCompressed;
  } else {
    encoded.borrowed_variable_ = update.data;
  }
  if (update.txn_signature.has_value()) flags |= kAccountFlagHasTxnSignature;
  const fb::AccountHeader header(
      ToFb(update.pubkey), ToFb(update.owner), update.lamports, update.rent_epoch, update.slot,
      update.write_version, static_cast<uint32_t>(data_len),
      static_cast<uint32_t>(encoded.variable_size()), static_cast<fb::AccountFlags>(flags),
      update.executable, static_cast<uint32_t>(data_len),
      update.txn_signature.has_value() ? ToFb(*update.txn_signature) : fb::Signature());
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  encoded.kind_ = fb::UpdateKind::Account;
  return absl::OkStatus();
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::Transaction(const TransactionUpdate& update) {
  const size_t data_len = update.data.size();
  if (data_len > kMaxTransactionSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction is ", data_len,
                                                   " bytes, more than the limit of ",
                                                   kMaxTransactionSize));
  }
  if (update.status.size() > kMaxTransactionStatusSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction status is ", update.status.size(),
                                                   " bytes, more than the limit of ",
                                                   kMaxTransactionStatusSize));
  }
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::Transaction;
  if (update.status.empty()) {
    encoded.borrowed_variable_ = update.data;
  } else {
    encoded.owns_variable_ = true;
    encoded.owned_variable_.reserve(data_len + update.status.size());
    encoded.owned_variable_.assign(update.data.begin(), update.data.end());
    encoded.owned_variable_.insert(encoded.owned_variable_.end(), update.status.begin(),
                                   update.status.end());
  }
  const fb::TransactionHeader header(update.slot, update.index, static_cast<uint32_t>(data_len),
                                     update.is_vote, update.failed,
                                     static_cast<uint32_t>(update.status.size()),
                                     ToFb(update.signature));
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::Slot(const SlotUpdate& update) {
  const uint8_t status = static_cast<uint8_t>(update.status);
  if (status > kMaxSlotStatus) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot status ", status, " is not a SlotStatus (max ", kMaxSlotStatus, ")"));
  }
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::Slot;
  const fb::SlotHeader header(update.slot, update.parent, static_cast<fb::SlotStatus>(status));
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

EncodedUpdate EncodedUpdate::Gap(uint64_t dropped) {
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::Gap;
  StoreFixed(fb::GapHeader(dropped), encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::BlockMeta(const BlockMetaUpdate& update) {
  if (update.rewards.size() > kMaxBlockRewards) {
    return absl::InvalidArgumentError(absl::StrCat("block meta has ", update.rewards.size(),
                                                   " rewards, more than the limit of ",
                                                   kMaxBlockRewards));
  }
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::BlockMeta;
  encoded.owns_variable_ = true;
  encoded.owned_variable_.resize(update.rewards.size() * sizeof(fb::RewardEntry));
  for (size_t i = 0; i < update.rewards.size(); ++i) {
    const Reward& r = update.rewards[i];
    if (r.reward_type > kMaxRewardType) {
      return absl::InvalidArgumentError(absl::StrCat("reward ", i, " has unknown type ", r.reward_type));
    }
    const fb::RewardEntry entry(ToFb(r.pubkey), r.lamports, r.post_balance,
                                static_cast<fb::RewardType>(r.reward_type),
                                r.commission.has_value(), r.commission.value_or(0));
    std::memcpy(encoded.owned_variable_.data() + i * sizeof(entry), &entry, sizeof(entry));
  }
  uint8_t flags = 0;
  if (update.block_height.has_value()) flags |= kBlockHasHeight;
  if (update.block_time.has_value()) flags |= kBlockHasTime;
  if (update.num_partitions.has_value()) flags |= kBlockHasPartitions;
  const fb::BlockMetaHeader header(
      update.slot, update.parent_slot, update.block_height.value_or(0),
      update.block_time.value_or(0), update.executed_transaction_count, update.entries_count,
      ToFbHash(update.blockhash), ToFbHash(update.parent_blockhash),
      static_cast<fb::BlockMetaFlags>(flags), update.num_partitions.value_or(0));
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

EncodedUpdate EncodedUpdate::Entry(const EntryUpdate& update) {
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::Entry;
  const fb::EntryHeader header(update.slot, update.index, update.num_hashes, ToFbHash(update.hash),
                               update.executed_transaction_count,
                               update.starting_transaction_index);
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::TransactionStatus(
    const TransactionStatusUpdate& update) {
  if (update.error.size() > kMaxTransactionErrorSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction error is ", update.error.size(),
                                                   " bytes, more than the limit of ",
                                                   kMaxTransactionErrorSize));
  }
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::TransactionStatus;
  encoded.borrowed_variable_ = update.error;
  const fb::TransactionStatusHeader header(update.slot, update.index,
                                           static_cast<uint32_t>(update.error.size()),
                                           update.is_vote, update.failed, ToFb(update.signature));
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::StatusOf(const EncodedUpdate& transaction,
                                                      absl::Span<const uint8_t> error) {
  if (transaction.kind_ != fb::UpdateKind::Transaction) {
    return absl::InvalidArgumentError("a transaction status is derived from a transaction");
  }
  if (error.size() > kMaxTransactionErrorSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction error is ", error.size(),
                                                   " bytes, more than the limit of ",
                                                   kMaxTransactionErrorSize));
  }
  const auto t = ReadStruct<fb::TransactionHeader>(transaction.fixed_);
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::TransactionStatus;
  encoded.borrowed_variable_ = error;
  const fb::TransactionStatusHeader header(t.slot(), t.index(), static_cast<uint32_t>(error.size()),
                                           t.is_vote(), t.failed(), t.signature());
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::Sliced(const EncodedUpdate& account,
                                                    absl::Span<const DataSlice> slices,
                                                    std::vector<uint8_t>* storage,
                                                    absl::Span<const uint8_t> raw_data) {
  if (account.kind_ != fb::UpdateKind::Account) {
    return absl::InvalidArgumentError("only account data can be sliced");
  }
  const auto h = ReadStruct<fb::AccountHeader>(account.fixed_);
  absl::Span<const uint8_t> data = account.variable();
  std::vector<uint8_t> inflated;
  if ((static_cast<uint8_t>(h.flags()) & kAccountFlagCompressed) != 0) {
    if (raw_data.size() == h.data_len()) {
      data = raw_data;
    } else {
      inflated.resize(h.data_len());
      QLASTER_RETURN_IF_ERROR(Lz4Decompress(data, absl::MakeSpan(inflated)));
      data = inflated;
    }
  }
  storage->clear();
  for (const DataSlice& slice : slices) {
    if (slice.offset >= data.size()) continue;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(slice.length, data.size() - slice.offset));
    storage->insert(storage->end(), data.begin() + slice.offset, data.begin() + slice.offset + n);
  }
  EncodedUpdate encoded;
  encoded.kind_ = fb::UpdateKind::Account;
  encoded.borrowed_variable_ = *storage;
  const uint8_t flags = static_cast<uint8_t>(
      (static_cast<uint8_t>(h.flags()) & ~kAccountFlagCompressed) | kAccountFlagSliced);
  const fb::AccountHeader header(h.pubkey(), h.owner(), h.lamports(), h.rent_epoch(), h.slot(),
                                 h.write_version(), static_cast<uint32_t>(storage->size()),
                                 static_cast<uint32_t>(storage->size()),
                                 static_cast<fb::AccountFlags>(flags), h.executable(),
                                 h.account_data_len(), h.txn_signature());
  StoreFixed(header, encoded.fixed_, &encoded.fixed_size_);
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::FromBody(fb::UpdateKind kind,
                                                      absl::Span<const uint8_t> body,
                                                      const Lz4Policy& policy, RouteKey* key) {
  if (kind == fb::UpdateKind::Gap) {
    return absl::InvalidArgumentError("a gap record is not an update and cannot be published");
  }
  CheckedFrame checked;
  QLASTER_RETURN_IF_ERROR(CheckBody(kind, body, &checked));
  *key = checked.route();
  EncodedUpdate encoded;
  encoded.kind_ = kind;
  const size_t fixed = body.size() - checked.variable.size();
  std::memcpy(encoded.fixed_, body.data(), fixed);
  encoded.fixed_size_ = static_cast<uint32_t>(fixed);
  encoded.borrowed_variable_ = checked.variable;
  if (kind == fb::UpdateKind::Account && !checked.account_compressed() &&
      Lz4CompressIfWorthIt(checked.variable, policy, &encoded.owned_variable_)) {
    // Raw data entering the system: compressed here, once. The fixed struct says so.
    const fb::AccountHeader& h = checked.account;
    encoded.owns_variable_ = true;
    encoded.borrowed_variable_ = {};
    const fb::AccountHeader compressed(
        h.pubkey(), h.owner(), h.lamports(), h.rent_epoch(), h.slot(), h.write_version(),
        h.data_len(), static_cast<uint32_t>(encoded.owned_variable_.size()),
        static_cast<fb::AccountFlags>(static_cast<uint8_t>(h.flags()) | kAccountFlagCompressed),
        h.executable(), h.account_data_len(), h.txn_signature());
    StoreFixed(compressed, encoded.fixed_, &encoded.fixed_size_);
  }
  return encoded;
}

absl::StatusOr<EncodedUpdate> EncodedUpdate::FromFrame(absl::Span<const uint8_t> frame,
                                                       const Lz4Policy& policy, RouteKey* key) {
  QLASTER_ASSIGN_OR_RETURN(const fb::FrameHeader header, CheckFrameHeader(frame));
  return FromBody(header.kind(), frame.subspan(kFrameHeaderSize), policy, key);
}

void EncodedUpdate::WriteFrame(uint8_t* dst, uint64_t sequence, uint64_t timestamp_ns,
                               uint16_t filters) const {
  const absl::Span<const uint8_t> var = variable();
  const fb::FrameHeader header(kind_, kFrameVersion, filters,
                               static_cast<uint32_t>(fixed_size_ + var.size()), sequence,
                               timestamp_ns);
  std::memcpy(dst, &header, kFrameHeaderSize);
  std::memcpy(dst + kFrameHeaderSize, fixed_, fixed_size_);
  CopyBytes(dst + kFrameHeaderSize + fixed_size_, var.data(), var.size());
}

std::vector<uint8_t> EncodedUpdate::ToBytes(uint64_t sequence, uint64_t timestamp_ns,
                                            uint16_t filters) const {
  std::vector<uint8_t> bytes(frame_size());
  WriteFrame(bytes.data(), sequence, timestamp_ns, filters);
  return bytes;
}

absl::Status AccountView::DecompressInto(absl::Span<uint8_t> out) const {
  if (out.size() != data_len) {
    return absl::InvalidArgumentError(absl::StrCat("account data is ", data_len,
                                                   " bytes but the output holds ", out.size()));
  }
  if (!is_compressed) {
    // DecodeFrame guarantees this; a hand-built view may not.
    if (wire_data.size() != data_len) {
      return absl::DataLossError(absl::StrCat("uncompressed account data_len ", data_len,
                                              " differs from wire size ", wire_data.size()));
    }
    CopyBytes(out.data(), wire_data.data(), data_len);
    return absl::OkStatus();
  }
  return Lz4Decompress(wire_data, out);
}

absl::StatusOr<std::vector<uint8_t>> AccountView::Data() const {
  // Checked before allocating: never let a declared length size an allocation unchecked.
  if (data_len > kMaxAccountDataSize) {
    return absl::DataLossError(absl::StrCat("account data_len ", data_len,
                                            " exceeds the limit of ", kMaxAccountDataSize));
  }
  std::vector<uint8_t> data(data_len);
  QLASTER_RETURN_IF_ERROR(DecompressInto(absl::MakeSpan(data)));
  return data;
}

absl::StatusOr<FrameView> DecodeBody(fb::UpdateKind kind, absl::Span<const uint8_t> body) {
  CheckedFrame c;
  QLASTER_RETURN_IF_ERROR(CheckBody(kind, body, &c));
  FrameView view;
  view.kind = kind;
  switch (kind) {
    case fb::UpdateKind::Account: {
      AccountView& a = view.body.emplace<AccountView>();
      a.pubkey = c.account_pubkey();
      a.owner = c.account_owner();
      a.lamports = c.account.lamports();
      a.executable = c.account.executable();
      a.rent_epoch = c.account.rent_epoch();
      a.slot = c.account.slot();
      a.write_version = c.account.write_version();
      a.txn_signature = c.account_txn_signature();
      a.data_len = c.account.data_len();
      a.account_data_len = c.account.account_data_len();
      a.is_sliced = c.account_sliced();
      a.is_compressed = c.account_compressed();
      a.wire_data = c.variable;
      break;
    }
    case fb::UpdateKind::Transaction:
      view.body = TransactionView{.slot = c.transaction.slot(),
                                  .index = c.transaction.index(),
                                  .signature = c.transaction_signature(),
                                  .is_vote = c.transaction.is_vote(),
                                  .failed = c.transaction.failed(),
                                  .data = c.transaction_data(),
                                  .status = c.transaction_status_bytes()};
      break;
    case fb::UpdateKind::Slot:
      view.body = SlotView{.slot = c.slot.slot(),
                           .parent = c.slot.parent(),
                           .status = static_cast<SlotStatus>(c.slot.status())};
      break;
    case fb::UpdateKind::Gap:
      view.body = GapView{.dropped = c.gap.dropped()};
      break;
    case fb::UpdateKind::BlockMeta: {
      const fb::BlockMetaHeader& h = c.block_meta;
      const uint8_t flags = static_cast<uint8_t>(h.flags());
      BlockMetaView& b = view.body.emplace<BlockMetaView>();
      b.slot = h.slot();
      b.parent_slot = h.parent_slot();
      b.blockhash = FromFb(h.blockhash());
      b.parent_blockhash = FromFb(h.parent_blockhash());
      if ((flags & kBlockHasHeight) != 0) b.block_height = h.block_height();
      if ((flags & kBlockHasTime) != 0) b.block_time = h.block_time();
      if ((flags & kBlockHasPartitions) != 0) b.num_partitions = h.num_partitions();
      b.executed_transaction_count = h.executed_transaction_count();
      b.entries_count = h.entries_count();
      b.rewards = c.variable;
      break;
    }
    case fb::UpdateKind::Entry:
      view.body = EntryView{.slot = c.entry.slot(),
                            .index = c.entry.index(),
                            .num_hashes = c.entry.num_hashes(),
                            .hash = FromFb(c.entry.hash()),
                            .executed_transaction_count = c.entry.executed_transaction_count(),
                            .starting_transaction_index = c.entry.starting_transaction_index()};
      break;
    case fb::UpdateKind::TransactionStatus:
      view.body = TransactionStatusView{.slot = c.transaction_status.slot(),
                                        .index = c.transaction_status.index(),
                                        .signature = c.status_signature(),
                                        .is_vote = c.transaction_status.is_vote(),
                                        .failed = c.transaction_status.failed(),
                                        .error = c.variable};
      break;
    case fb::UpdateKind::None:
      break;
  }
  return view;
}

Reward BlockMetaView::reward(size_t i) const {
  const auto e = ReadStruct<fb::RewardEntry>(rewards.data() + i * sizeof(fb::RewardEntry));
  Reward r;
  r.pubkey = FromFb(e.pubkey());
  r.lamports = e.lamports();
  r.post_balance = e.post_balance();
  r.reward_type = static_cast<uint8_t>(e.reward_type());
  if (e.has_commission()) r.commission = e.commission();
  return r;
}

RouteKey RouteKeyOf(const FrameView& view) {
  RouteKey key;
  if (const AccountView* a = view.account()) {
    key.kind = fb::UpdateKind::Account;
    key.pubkey = a->pubkey;
    key.owner = a->owner;
    key.slot = a->slot;
  } else if (const TransactionView* t = view.transaction()) {
    key.kind = fb::UpdateKind::Transaction;
    key.is_vote = t->is_vote;
    key.failed = t->failed;
    key.slot = t->slot;
  } else if (const TransactionStatusView* st = view.transaction_status()) {
    key.kind = fb::UpdateKind::TransactionStatus;
    key.is_vote = st->is_vote;
    key.failed = st->failed;
    key.slot = st->slot;
  } else if (const SlotView* sl = view.slot()) {
    key.kind = fb::UpdateKind::Slot;
    key.slot = sl->slot;
  } else if (const BlockMetaView* b = view.block_meta()) {
    key.kind = fb::UpdateKind::BlockMeta;
    key.slot = b->slot;
  } else if (const EntryView* en = view.entry()) {
    key.kind = fb::UpdateKind::Entry;
    key.slot = en->slot;
  }
  return key;
}

absl::StatusOr<FrameView> DecodeFrame(absl::Span<const uint8_t> record) {
  QLASTER_ASSIGN_OR_RETURN(const fb::FrameHeader header, CheckFrameHeader(record));
  QLASTER_ASSIGN_OR_RETURN(FrameView view,
                           DecodeBody(header.kind(), record.subspan(kFrameHeaderSize)));
  view.sequence = header.sequence();
  view.timestamp_ns = header.timestamp_ns();
  view.filters = header.filters();
  return view;
}

absl::StatusOr<AccountUpdate> ToAccountUpdate(const AccountView& view) {
  AccountUpdate update;
  update.pubkey = view.pubkey;
  update.owner = view.owner;
  update.lamports = view.lamports;
  update.executable = view.executable;
  update.rent_epoch = view.rent_epoch;
  update.slot = view.slot;
  update.write_version = view.write_version;
  update.txn_signature = view.txn_signature;
  absl::StatusOr<std::vector<uint8_t>> data = view.Data();
  if (!data.ok()) return data.status();
  update.data = *std::move(data);
  return update;
}

TransactionUpdate ToTransactionUpdate(const TransactionView& view) {
  TransactionUpdate update;
  update.slot = view.slot;
  update.index = view.index;
  update.signature = view.signature;
  update.is_vote = view.is_vote;
  update.failed = view.failed;
  update.data.assign(view.data.begin(), view.data.end());
  update.status.assign(view.status.begin(), view.status.end());
  return update;
}

SlotUpdate ToSlotUpdate(const SlotView& view) {
  return SlotUpdate{view.slot, view.parent, view.status};
}

}  // namespace qlaster

namespace qlaster {

BlockMetaUpdate ToBlockMetaUpdate(const BlockMetaView& view) {
  BlockMetaUpdate u;
  u.slot = view.slot;
  u.parent_slot = view.parent_slot;
  u.blockhash = view.blockhash;
  u.parent_blockhash = view.parent_blockhash;
  u.block_height = view.block_height;
  u.block_time = view.block_time;
  u.executed_transaction_count = view.executed_transaction_count;
  u.entries_count = view.entries_count;
  u.num_partitions = view.num_partitions;
  for (size_t i = 0; i < view.reward_count(); ++i) u.rewards.push_back(view.reward(i));
  return u;
}

EntryUpdate ToEntryUpdate(const EntryView& view) {
  return EntryUpdate{.slot = view.slot,
                     .index = view.index,
                     .num_hashes = view.num_hashes,
                     .hash = view.hash,
                     .executed_transaction_count = view.executed_transaction_count,
                     .starting_transaction_index = view.starting_transaction_index};
}

TransactionStatusUpdate ToTransactionStatusUpdate(const TransactionStatusView& view) {
  TransactionStatusUpdate u;
  u.slot = view.slot;
  u.index = view.index;
  u.signature = view.signature;
  u.is_vote = view.is_vote;
  u.failed = view.failed;
  u.error.assign(view.error.begin(), view.error.end());
  return u;
}

}  // namespace qlaster
