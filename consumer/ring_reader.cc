// RingReader: records -> events, sequence checking, gaps.
#include "consumer/ring_reader.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "wire/frame.h"
#include "wire/lz4_policy.h"

namespace qlaster {

RewardInfo BlockMetaEvent::reward(size_t i) const {
  static_assert(sizeof(fb::RewardEntry) == 56);
  fb::RewardEntry r;
  std::memcpy(&r, rewards.data() + i * sizeof(r), sizeof(r));
  RewardInfo out;
  std::memcpy(out.pubkey.data(), r.pubkey().bytes()->data(), 32);
  out.lamports = r.lamports();
  out.post_balance = r.post_balance();
  out.reward_type = static_cast<uint8_t>(r.reward_type());
  out.has_commission = r.has_commission();
  out.commission = r.commission();
  return out;
}

}  // namespace qlaster

namespace qlaster::consumer {
namespace {

std::span<const uint8_t> AsSpan(absl::Span<const uint8_t> s) { return {s.data(), s.size()}; }

}  // namespace

void RingReader::DeliverGap(uint64_t first, uint64_t last, bool reported, uint64_t timestamp_ns,
                            absl::Span<const uint8_t> frame, EventFn fn, void* ctx,
                            ReadCounts& counts) {
  const uint64_t dropped = last - first + 1;
  ++counts.gaps;
  counts.dropped += dropped;
  Event e{.kind = EventKind::kGap,
          .sequence = last,
          .timestamp_ns = timestamp_ns,
          .body = GapEvent{.dropped = dropped,
                           .first_missing = first,
                           .last_missing = last,
                           .reported_by_sender = reported}};
  e.frame = std::span<const uint8_t>(frame.data(), frame.size());
  fn(ctx, e);
}

absl::StatusOr<int> RingReader::Deliver(absl::Span<const uint8_t> frame, EventFn fn, void* ctx,
                                        ReadCounts& counts) {
  CheckedFrame& c = checked_;
  QLASTER_RETURN_IF_ERROR(CheckFrame(frame, &c));
  const uint64_t seq = c.header.sequence();
  const uint64_t timestamp_ns = c.header.timestamp_ns();
  const uint64_t expected = last_sequence_ + 1;

  if (c.kind == fb::UpdateKind::Gap) {
    // The gap record covers (seq - dropped, seq]; anything missing before that is a jump
    // nobody explained, reported in the same event.
    const uint64_t dropped = c.gap.dropped();
    if (dropped == 0 || dropped > seq || seq < expected) {
      return absl::DataLossError(absl::StrFormat(
          "gap record of %d at sequence %d after sequence %d", dropped, seq, last_sequence_));
    }
    const bool explained = seq - dropped + 1 == expected;
    // Only a gap the sender explained is a record worth keeping as it is.
    DeliverGap(expected, seq, explained, timestamp_ns,
               explained ? frame : absl::Span<const uint8_t>(), fn, ctx, counts);
    last_sequence_ = seq;
    return 1;
  }
  if (seq < expected) {
    return absl::DataLossError(
        absl::StrFormat("sequence went backwards: %d after %d", seq, last_sequence_));
  }
  int delivered = 0;
  if (seq > expected) {
    DeliverGap(expected, seq - 1, false, timestamp_ns, {}, fn, ctx, counts);
    ++delivered;
  }
  last_sequence_ = seq;

  // The event is filled straight from the checked structs, in place.
  Event& e = event_;
  e.sequence = seq;
  e.timestamp_ns = timestamp_ns;
  e.filters = c.header.filters();
  e.frame = std::span<const uint8_t>(frame.data(), frame.size());
  switch (c.kind) {
    case fb::UpdateKind::Account: {
      const fb::AccountHeader& h = c.account;
      AccountEvent& ev = e.body.index() == 0 ? std::get<AccountEvent>(e.body)
                                             : e.body.emplace<AccountEvent>();
      ev.pubkey = c.account_pubkey();
      ev.owner = c.account_owner();
      ev.lamports = h.lamports();
      ev.executable = h.executable();
      ev.rent_epoch = h.rent_epoch();
      ev.slot = h.slot();
      ev.write_version = h.write_version();
      const std::optional<Signature> sig = c.account_txn_signature();
      ev.has_txn_signature = sig.has_value();
      ev.txn_signature = sig.value_or(Signature{});
      ev.was_compressed = c.account_compressed();
      ev.sliced = c.account_sliced();
      ev.account_data_len = h.account_data_len();
      if (ev.was_compressed) {
        const uint32_t data_len = h.data_len();
        if (inflate_size_ < data_len) {
          // Not value-initialized: every byte is about to be overwritten.
          inflate_.reset(new uint8_t[data_len]);
          inflate_size_ = data_len;
        }
        QLASTER_RETURN_IF_ERROR(Lz4Decompress(c.variable, absl::MakeSpan(inflate_.get(), data_len)));
        ev.data = std::span<const uint8_t>(inflate_.get(), data_len);
      } else {
        ev.data = std::span<const uint8_t>(c.variable.data(), c.variable.size());
      }
      e.kind = EventKind::kAccount;
      break;
    }
    case fb::UpdateKind::Transaction:
      e.kind = EventKind::kTransaction;
      e.body = TransactionEvent{.slot = c.transaction.slot(),
                                .index = c.transaction.index(),
                                .signature = c.transaction_signature(),
                                .is_vote = c.transaction.is_vote(),
                                .failed = c.transaction.failed(),
                                .data = AsSpan(c.transaction_data()),
                                .status = AsSpan(c.transaction_status_bytes())};
      break;
    case fb::UpdateKind::BlockMeta: {
      const fb::BlockMetaHeader& h = c.block_meta;
      const uint8_t flags = static_cast<uint8_t>(h.flags());
      e.kind = EventKind::kBlockMeta;
      BlockMetaEvent& b = e.body.emplace<BlockMetaEvent>();
      b.slot = h.slot();
      b.parent_slot = h.parent_slot();
      std::memcpy(b.blockhash.data(), h.blockhash().bytes()->data(), 32);
      std::memcpy(b.parent_blockhash.data(), h.parent_blockhash().bytes()->data(), 32);
      b.has_block_height = (flags & static_cast<uint8_t>(fb::BlockMetaFlags::HasBlockHeight)) != 0;
      b.block_height = h.block_height();
      b.has_block_time = (flags & static_cast<uint8_t>(fb::BlockMetaFlags::HasBlockTime)) != 0;
      b.block_time = h.block_time();
      b.executed_transaction_count = h.executed_transaction_count();
      b.entries_count = h.entries_count();
      b.has_num_partitions =
          (flags & static_cast<uint8_t>(fb::BlockMetaFlags::HasNumPartitions)) != 0;
      b.num_partitions = h.num_partitions();
      b.rewards = AsSpan(c.variable);
      break;
    }
    case fb::UpdateKind::Entry: {
      const fb::EntryHeader& h = c.entry;
      e.kind = EventKind::kEntry;
      EntryEvent& en = e.body.emplace<EntryEvent>();
      en.slot = h.slot();
      en.index = h.index();
      en.num_hashes = h.num_hashes();
      std::memcpy(en.hash.data(), h.hash().bytes()->data(), 32);
      en.executed_transaction_count = h.executed_transaction_count();
      en.starting_transaction_index = h.starting_transaction_index();
      break;
    }
    case fb::UpdateKind::TransactionStatus:
      e.kind = EventKind::kTransactionStatus;
      e.body = TransactionStatusEvent{.slot = c.transaction_status.slot(),
                                      .index = c.transaction_status.index(),
                                      .signature = c.status_signature(),
                                      .is_vote = c.transaction_status.is_vote(),
                                      .failed = c.transaction_status.failed(),
                                      .error = AsSpan(c.variable)};
      break;
    case fb::UpdateKind::Slot:
      e.kind = EventKind::kSlot;
      e.body = SlotEvent{.slot = c.slot.slot(),
                         .parent = c.slot.parent(),
                         .state = static_cast<SlotStatus>(c.slot.status())};
      break;
    default:
      return absl::DataLossError("record of no known kind");
  }
  ++counts.received;
  fn(ctx, e);
  return delivered + 1;
}

RingReader::Result RingReader::Read(EventFn fn, void* ctx, int max_records, ReadCounts& counts) {
  Result result;
  int unreleased = 0;
  while (result.records < max_records) {
    shm::RingRecord record;
    const shm::ReadResult r = ring_.TryRead(&record);
    if (r == shm::ReadResult::kEmpty || r == shm::ReadResult::kClosed) {
      result.outcome = r == shm::ReadResult::kEmpty ? Outcome::kEmpty : Outcome::kClosed;
      ring_.Release();
      return result;
    }
    if (r != shm::ReadResult::kOk) {
      error_ = absl::DataLossError(absl::StrCat("corrupt ring: ", ring_.error().message()));
      result.outcome = Outcome::kCorrupt;
      return result;
    }
    ++result.records;
    // Readers skip record types they do not know (a later sender may add some).
    if (record.type == kFrameRecordType) {
      absl::StatusOr<int> n = Deliver(record.payload, fn, ctx, counts);
      if (!n.ok()) {
        error_ = absl::DataLossError(
            absl::StrCat("corrupt record from the sender: ", n.status().message()));
        result.outcome = Outcome::kCorrupt;
        return result;
      }
      result.events += *n;
    }
    if (++unreleased >= kReleaseEvery) {
      ring_.Release();
      unreleased = 0;
    }
  }
  ring_.Release();
  result.outcome = Outcome::kLimit;
  return result;
}

}  // namespace qlaster::consumer
