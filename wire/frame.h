// Data-record frame codecs: how one update becomes the bytes of a record in a consumer's
// ring, and how a consumer reads those bytes back without copying them.
//
// A record is   fb::FrameHeader (24 B) | the kind's fixed struct | variable bytes
// (proto/qlaster.fbs), all little-endian:
//
//   kind               fixed struct                     variable bytes
//   Account            fb::AccountHeader           176 B  wire_len bytes of account data
//                                                         (LZ4 if flagged; slices if flagged)
//   Transaction        fb::TransactionHeader        88 B  data_len bytes of the transaction,
//                                                         then status_len bytes of status
//   Slot               fb::SlotHeader               24 B  none
//   Gap                fb::GapHeader                 8 B  none
//   BlockMeta          fb::BlockMetaHeader         120 B  fb::RewardEntry (56 B) per reward
//   Entry              fb::EntryHeader              72 B  none
//   TransactionStatus  fb::TransactionStatusHeader  88 B  err_len bytes of the error
//
// The sender encodes an update once (EncodedUpdate) and copies it into every matching
// ring, stamping each consumer's sequence number and the timestamp as it writes. An update
// that arrives already encoded (the ingest ring, a replayed recording, a relay) is
// validated and published as it is (EncodedUpdate::FromBody / FromFrame): its bytes are
// borrowed, never decoded into owning values and encoded again, and the RouteKey the
// dispatcher routes by comes out of the same validation. The consumer decodes a record in
// place (DecodeFrame) into a FrameView that points into the record. Record bytes come from shared memory another process writes, so DecodeFrame
// trusts nothing: every length, enum and flag is checked before anything is read through
// it, and every violation is kDataLoss naming the field and its values.
//
// Reserved bytes, and txn_signature when HasTxnSignature is clear, are written as zero and
// ignored on read, so later writers of this frame version may use them for additive
// fields. Boolean bytes must be 0 or 1. Version 2 added the kinds BlockMeta, Entry and
// TransactionStatus, a transaction's status after its bytes, sliced account data, and
// the per-consumer filter bits in FrameHeader.
#ifndef QLASTER_WIRE_FRAME_H_
#define QLASTER_WIRE_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/qlaster_generated.h"
#include "wire/lz4_policy.h"
#include "wire/types.h"
#include "wire/updates.h"

namespace qlaster {

// Layout version of data records; bump it with any change to the structs in
// proto/qlaster.fbs (and the ring layout version with it).
inline constexpr uint8_t kFrameVersion = 2;

inline constexpr size_t kFrameHeaderSize = sizeof(fb::FrameHeader);

// The FlatBuffers struct `T` at the start of `bytes` (a frame's header, or an update's
// fixed part), copied out: wire bytes have no alignment. REQUIRES: bytes.size() >=
// sizeof(T).
template <typename T>
T ReadStruct(absl::Span<const uint8_t> bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

// Ring record type (shm/ring_layout.h) of a data record, whose payload is one frame.
// Readers skip other types, so that a later sender may add record types.
inline constexpr uint32_t kFrameRecordType = 1;

// What the dispatcher routes an update by: read from the update's fixed struct, so a
// source that holds an encoded frame gets it from validating the frame.
struct RouteKey {
  fb::UpdateKind kind = fb::UpdateKind::None;
  Pubkey pubkey{};        // accounts: the account
  Pubkey owner{};         // accounts: its owner
  bool is_vote = false;   // transactions and transaction statuses
  bool failed = false;    // transactions and transaction statuses
  uint64_t slot = 0;      // every kind but gaps
};

struct FrameView;

// One update encoded once, ready to be copied into any number of rings.
//
// Lifetime: for uncompressed account data and for transactions, the variable bytes are
// *referenced*, not copied: the update passed to the factory must outlive this object
// and must not be modified while it lives. Compressed account data is owned (one
// allocation, made by the factory). Copying an EncodedUpdate is safe but copies owned
// bytes; moving it is cheap.
//
// Thread-safety: const methods may be called from any number of threads at once.
class EncodedUpdate {
 public:
  // kInvalidArgument if the data exceeds kMaxAccountDataSize. Compresses the data when
  // `policy` says it pays (wire/lz4_policy.h); that is the only allocation.
  static absl::StatusOr<EncodedUpdate> Account(const AccountUpdate& update,
                                               const Lz4Policy& policy = {});
  // The same into `*out`, which a caller encoding account after account keeps (its
  // buffer for compressed data is reused, and nothing is moved): what the dispatcher
  // does for every account it is given. On error `*out` is left empty.
  static absl::Status AccountInto(const AccountUpdate& update, const Lz4Policy& policy,
                                  EncodedUpdate* out);
  // An empty update (kind None), to be filled by AccountInto.
  EncodedUpdate() = default;
  // kInvalidArgument if the data exceeds kMaxTransactionSize or the status
  // kMaxTransactionStatusSize. The two are carried one after the other: an update with a
  // status *owns* a copy of both (one allocation).
  static absl::StatusOr<EncodedUpdate> Transaction(const TransactionUpdate& update);
  // kInvalidArgument if the status is not a SlotStatus enumerator.
  static absl::StatusOr<EncodedUpdate> Slot(const SlotUpdate& update);
  // kInvalidArgument over kMaxBlockRewards rewards or for an unknown reward type. Owns its
  // reward entries.
  static absl::StatusOr<EncodedUpdate> BlockMeta(const BlockMetaUpdate& update);
  static EncodedUpdate Entry(const EntryUpdate& update);
  // kInvalidArgument if the error exceeds kMaxTransactionErrorSize. Borrows the error.
  static absl::StatusOr<EncodedUpdate> TransactionStatus(const TransactionStatusUpdate& update);

  // The account `account` carried as the consumer's `slices` of its data (sorted,
  // non-overlapping, checked by the caller) instead of the whole data: the frame says
  // Sliced, its data_len is the slices' total and account_data_len the whole size. A slice
  // beyond the data is cut at its end. The bytes go to `*storage` (reused; the result
  // borrows it); compressed data is decompressed there first. kInvalidArgument if
  // `account` is not an account; kDataLoss if its compressed data is corrupt.
  // `raw_data`: the decompressed data when the caller already has it (it is then not
  // decompressed again); ignored unless its size is the data's.
  static absl::StatusOr<EncodedUpdate> Sliced(const EncodedUpdate& account,
                                              absl::Span<const DataSlice> slices,
                                              std::vector<uint8_t>* storage,
                                              absl::Span<const uint8_t> raw_data = {});
  // The status of `transaction` (a transaction update) as a transaction-status update:
  // its slot, index, signature, vote and failed flags, and `error` (the bincode
  // TransactionError from its status; empty when it succeeded), which is borrowed.
  // kInvalidArgument if `transaction` is not a transaction or the error is over
  // kMaxTransactionErrorSize.
  static absl::StatusOr<EncodedUpdate> StatusOf(const EncodedUpdate& transaction,
                                                absl::Span<const uint8_t> error);
  // A drop-and-count gap record: the consumer missed `dropped` updates before it.
  static EncodedUpdate Gap(uint64_t dropped);

  // An update already in wire form: `body` is a frame's body (the kind's fixed struct and
  // its variable bytes, everything after the FrameHeader) from an untrusted place (the
  // ingest ring, a record file, the network). It is validated as DecodeFrame validates
  // (kDataLoss naming the field), and published as it is: the fixed struct is copied and
  // the variable bytes are *borrowed* from `body`, which must outlive the result. The
  // one exception is where data enters the system uncompressed: account data at or over
  // `policy.threshold` that `policy` says pays is compressed here, once (pass
  // Lz4Policy::Never() for frames a sender already encoded). A gap body is
  // kInvalidArgument: a gap is said to one consumer, it is not an update. Fills `*key`.
  static absl::StatusOr<EncodedUpdate> FromBody(fb::UpdateKind kind,
                                                absl::Span<const uint8_t> body,
                                                const Lz4Policy& policy, RouteKey* key);
  // The same for a whole frame (FrameHeader included; its sequence and timestamp are the
  // old sender's and are replaced when the update is written).
  static absl::StatusOr<EncodedUpdate> FromFrame(absl::Span<const uint8_t> frame,
                                                 const Lz4Policy& policy, RouteKey* key);

  fb::UpdateKind kind() const { return kind_; }

  // Bytes WriteFrame writes: header, fixed struct and variable bytes. This is the
  // payload length of the ring record.
  size_t frame_size() const { return kFrameHeaderSize + fixed_size_ + variable_size(); }

  // True when the account data is LZ4-compressed on the wire.
  bool compressed() const { return owns_variable_; }

  // Size of the variable part as it goes on the wire (compressed size if compressed).
  size_t variable_size() const {
    return owns_variable_ ? owned_variable_.size() : borrowed_variable_.size();
  }

  // Writes exactly frame_size() bytes at `dst`, stamped with `sequence`, `timestamp_ns`
  // and the consumer's matched `filters` (FrameHeader.filters). No allocation, no
  // exceptions; `dst` needs no particular alignment (ring records are 8-byte aligned, but
  // the codec copies bytes and never casts).
  // REQUIRES: dst points at frame_size() writable bytes not overlapping the update's data.
  void WriteFrame(uint8_t* dst, uint64_t sequence, uint64_t timestamp_ns,
                  uint16_t filters = 0) const;

  // WriteFrame into a fresh vector, for tests and tools (allocates).
  std::vector<uint8_t> ToBytes(uint64_t sequence, uint64_t timestamp_ns,
                               uint16_t filters = 0) const;

  // The fixed struct and the variable bytes as they go on the wire (for a router that
  // inspects an update it did not decode: account data for data filters, transaction
  // bytes for account keys).
  absl::Span<const uint8_t> fixed() const { return {fixed_, fixed_size_}; }
  absl::Span<const uint8_t> variable() const {
    return owns_variable_ ? absl::MakeConstSpan(owned_variable_) : borrowed_variable_;
  }

 private:

  fb::UpdateKind kind_ = fb::UpdateKind::None;
  uint32_t fixed_size_ = 0;
  // The kind's fixed struct, already in wire form; sized for the largest.
  alignas(8) uint8_t fixed_[sizeof(fb::AccountHeader)] = {};
  static_assert(sizeof(fb::AccountHeader) >= sizeof(fb::BlockMetaHeader) &&
                sizeof(fb::AccountHeader) >= sizeof(fb::TransactionHeader));
  // Exactly one of these is the variable part (owns_variable_ says which), so a copy of
  // this object never points into another object's buffer.
  bool owns_variable_ = false;
  absl::Span<const uint8_t> borrowed_variable_;
  std::vector<uint8_t> owned_variable_;
};

// An account record, decoded in place. `wire_data` points into the record: the view is
// valid only while the record's bytes are (until the consumer releases the ring record).
struct AccountView {
  Pubkey pubkey{};
  Pubkey owner{};
  uint64_t lamports = 0;
  bool executable = false;
  uint64_t rent_epoch = 0;
  uint64_t slot = 0;
  uint64_t write_version = 0;
  std::optional<Signature> txn_signature;
  // Size of the data carried, once decompressed; at most kMaxAccountDataSize.
  uint32_t data_len = 0;
  // The account's whole data size: data_len, unless the data is the consumer's slices.
  uint32_t account_data_len = 0;
  bool is_sliced = false;
  bool is_compressed = false;
  // The account data as carried in the record: an LZ4 block when is_compressed, else
  // exactly data_len raw bytes.
  absl::Span<const uint8_t> wire_data;

  bool compressed() const { return is_compressed; }

  // Writes the raw account data (decompressing if needed) into `out`. kInvalidArgument
  // if out.size() != data_len; kDataLoss if the LZ4 block is corrupt or decompresses to
  // a size other than data_len. The LZ4 block is only checked here, not by DecodeFrame,
  // so a consumer that never reads the data never pays for it.
  absl::Status DecompressInto(absl::Span<uint8_t> out) const;

  // The raw account data in a new vector (allocates data_len bytes, after checking it
  // against kMaxAccountDataSize). Errors as DecompressInto.
  absl::StatusOr<std::vector<uint8_t>> Data() const;
};

// A transaction record, decoded in place; `data` points into the record (lifetime as
// AccountView::wire_data).
struct TransactionView {
  uint64_t slot = 0;
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  absl::Span<const uint8_t> data;
  absl::Span<const uint8_t> status = {};  // empty when the source had none
};

struct BlockMetaView {
  uint64_t slot = 0;
  uint64_t parent_slot = 0;
  Hash blockhash{};
  Hash parent_blockhash{};
  std::optional<uint64_t> block_height;
  std::optional<int64_t> block_time;
  uint64_t executed_transaction_count = 0;
  uint64_t entries_count = 0;
  std::optional<uint32_t> num_partitions;
  // The rewards as they are in the record: fb::RewardEntry structs, checked (use
  // reward(i), which copies one out).
  absl::Span<const uint8_t> rewards;
  size_t reward_count() const { return rewards.size() / sizeof(fb::RewardEntry); }
  Reward reward(size_t i) const;
};

struct EntryView {
  uint64_t slot = 0;
  uint64_t index = 0;
  uint64_t num_hashes = 0;
  Hash hash{};
  uint64_t executed_transaction_count = 0;
  uint64_t starting_transaction_index = 0;
};

struct TransactionStatusView {
  uint64_t slot = 0;
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  absl::Span<const uint8_t> error = {};  // bincode; empty when it succeeded
};

struct SlotView {
  uint64_t slot = 0;
  uint64_t parent = 0;
  SlotStatus status = SlotStatus::kProcessed;
};

struct GapView {
  uint64_t dropped = 0;
};

// A decoded record. The alternative held in `body` matches `kind`.
struct FrameView {
  fb::UpdateKind kind = fb::UpdateKind::None;
  uint64_t sequence = 0;
  uint64_t timestamp_ns = 0;
  uint16_t filters = 0;
  std::variant<AccountView, TransactionView, SlotView, GapView, BlockMetaView, EntryView,
               TransactionStatusView>
      body;

  // The body if it is of that kind, else nullptr. Pointers into this FrameView.
  const AccountView* account() const { return std::get_if<AccountView>(&body); }
  const TransactionView* transaction() const { return std::get_if<TransactionView>(&body); }
  const SlotView* slot() const { return std::get_if<SlotView>(&body); }
  const GapView* gap() const { return std::get_if<GapView>(&body); }
  const BlockMetaView* block_meta() const { return std::get_if<BlockMetaView>(&body); }
  const EntryView* entry() const { return std::get_if<EntryView>(&body); }
  const TransactionStatusView* transaction_status() const {
    return std::get_if<TransactionStatusView>(&body);
  }
};

// Decodes the body of a frame of `kind` (the bytes after its FrameHeader), as DecodeFrame
// does; the view's sequence and timestamp are 0.
absl::StatusOr<FrameView> DecodeBody(fb::UpdateKind kind, absl::Span<const uint8_t> body);

// The route of a decoded update (kind None for a gap).
RouteKey RouteKeyOf(const FrameView& view);

// A frame whose every field has been checked, kept as its fixed structs (copied out of
// the record once: a peer rewriting the record meanwhile can make the values wrong, never
// the spans reach outside it) and a view of its variable bytes. What the hot paths read
// directly: the consumer's reader fills the public Event from it, the sender's
// publishers route and publish from it; DecodeFrame builds the friendlier FrameView from
// it. Only the struct of `kind` is meaningful. A reader reuses one CheckedFrame.
struct CheckedFrame {
  fb::FrameHeader header;  // CheckFrame only
  fb::UpdateKind kind = fb::UpdateKind::None;
  fb::AccountHeader account;
  fb::TransactionHeader transaction;
  fb::SlotHeader slot;
  fb::GapHeader gap;
  fb::BlockMetaHeader block_meta;
  fb::EntryHeader entry;
  fb::TransactionStatusHeader transaction_status;
  // Everything after the fixed struct: account data as carried (LZ4 when
  // account_compressed()), the transaction then its status, the reward entries, the
  // transaction error.
  absl::Span<const uint8_t> variable;

  Pubkey account_pubkey() const;
  Pubkey account_owner() const;
  bool account_compressed() const;
  bool account_sliced() const;
  std::optional<Signature> account_txn_signature() const;
  Signature transaction_signature() const;
  absl::Span<const uint8_t> transaction_data() const {
    return variable.subspan(0, transaction.data_len());
  }
  absl::Span<const uint8_t> transaction_status_bytes() const {
    return variable.subspan(transaction.data_len());
  }
  Signature status_signature() const;
  RouteKey route() const;  // kind None for a gap
};

// Checks a frame body of `kind` (CheckedFrame::header is left as it was) or a whole frame,
// with DecodeFrame's errors. Allocates nothing.
absl::Status CheckBody(fb::UpdateKind kind, absl::Span<const uint8_t> body, CheckedFrame* out);
absl::Status CheckFrame(absl::Span<const uint8_t> record, CheckedFrame* out);

// Decodes one ring record payload. `record` is untrusted: any bytes, any length, any
// alignment. Every structural violation is kDataLoss with the field and values named.
// The result points into `record` and is valid only while those bytes are. Does not
// allocate. The fixed part is copied out once before it is checked and used, so a peer
// that rewrites the bytes meanwhile can make the values wrong but can never make a span
// in the view reach outside `record`.
absl::StatusOr<FrameView> DecodeFrame(absl::Span<const uint8_t> record);

// Owning copies of views, for tests and tools (they allocate). ToAccountUpdate
// decompresses and so fails as AccountView::Data().
absl::StatusOr<AccountUpdate> ToAccountUpdate(const AccountView& view);
TransactionUpdate ToTransactionUpdate(const TransactionView& view);
SlotUpdate ToSlotUpdate(const SlotView& view);
BlockMetaUpdate ToBlockMetaUpdate(const BlockMetaView& view);
EntryUpdate ToEntryUpdate(const EntryView& view);
TransactionStatusUpdate ToTransactionStatusUpdate(const TransactionStatusView& view);

}  // namespace qlaster

#endif  // QLASTER_WIRE_FRAME_H_
