// libFuzzer target for frame version 2's kinds, from the encoder's side: block meta (with
// rewards), entries, transaction statuses, transactions carrying a status, and sliced
// account data (raw or LZ4 before slicing). The input builds an update of one kind
// (FuzzedDataProvider), within and just beyond the limits; the encoder either refuses it
// with kInvalidArgument or produces a record that DecodeFrame reads back to the same value
// (a sliced account: the slices' bytes, clipped to the data, and the whole size). Then the
// rest of the input overwrites bytes of that record, and the decoder must read it or
// refuse it with kDataLoss, never crash or read out of bounds (ASan+UBSan). data_frame_fuzzer
// covers the decoder from random bytes; this one starts from valid records of the new kinds.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/types/span.h"
#include "fuzz_check.h"
#include "wire/frame.h"

namespace {

using qlaster::DecodeFrame;
using qlaster::EncodedUpdate;
using qlaster::FrameView;

template <typename T>
T Bytes(FuzzedDataProvider& in) {
  T out{};
  const std::vector<uint8_t> b = in.ConsumeBytes<uint8_t>(out.size());
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

// Small counts mostly; sometimes up to `max`.
size_t Count(FuzzedDataProvider& in, size_t small, size_t max) {
  return in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, small) : in.ConsumeIntegralInRange<size_t>(0, max);
}

// The record of `encoded`, or nothing when the encoder refused it (kInvalidArgument only).
std::vector<uint8_t> Record(const absl::StatusOr<EncodedUpdate>& encoded, uint64_t sequence) {
  if (!encoded.ok()) {
    FUZZ_CHECK(encoded.status().code() == absl::StatusCode::kInvalidArgument);
    return {};
  }
  return encoded->ToBytes(sequence, sequence * 3, static_cast<uint16_t>(sequence));
}

absl::StatusOr<FrameView> Decoded(const std::vector<uint8_t>& record, qlaster::fb::UpdateKind kind) {
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  if (!view.ok()) std::fprintf(stderr, "%s\n", view.status().ToString().c_str());
  FUZZ_CHECK(view.ok());
  FUZZ_CHECK(view->kind == kind);
  return view;
}

std::vector<uint8_t> BlockMeta(FuzzedDataProvider& in) {
  qlaster::BlockMetaUpdate u;
  u.slot = in.ConsumeIntegral<uint64_t>();
  u.parent_slot = in.ConsumeIntegral<uint64_t>();
  u.blockhash = Bytes<qlaster::Hash>(in);
  u.parent_blockhash = Bytes<qlaster::Hash>(in);
  if (in.ConsumeBool()) u.block_height = in.ConsumeIntegral<uint64_t>();
  if (in.ConsumeBool()) u.block_time = in.ConsumeIntegral<int64_t>();
  u.executed_transaction_count = in.ConsumeIntegral<uint64_t>();
  u.entries_count = in.ConsumeIntegral<uint64_t>();
  if (in.ConsumeBool()) u.num_partitions = in.ConsumeIntegral<uint32_t>();
  u.rewards.resize(Count(in, 4, 64));
  for (qlaster::Reward& r : u.rewards) {
    r.pubkey = Bytes<qlaster::Pubkey>(in);
    r.lamports = in.ConsumeIntegral<int64_t>();
    r.post_balance = in.ConsumeIntegral<uint64_t>();
    r.reward_type = in.ConsumeIntegralInRange<uint8_t>(0, 5);  // 5 is not a RewardType
    if (in.ConsumeBool()) r.commission = in.ConsumeIntegral<uint8_t>();
  }
  const absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::BlockMeta(u);
  const bool known_types = std::all_of(u.rewards.begin(), u.rewards.end(),
                                       [](const qlaster::Reward& r) { return r.reward_type <= 4; });
  FUZZ_CHECK(encoded.ok() == known_types);
  std::vector<uint8_t> record = Record(encoded, 1);
  if (record.empty()) return record;
  absl::StatusOr<FrameView> view = Decoded(record, qlaster::fb::UpdateKind::BlockMeta);
  FUZZ_CHECK(qlaster::ToBlockMetaUpdate(*view->block_meta()) == u);
  return record;
}

std::vector<uint8_t> Entry(FuzzedDataProvider& in) {
  const qlaster::EntryUpdate u{.slot = in.ConsumeIntegral<uint64_t>(),
                               .index = in.ConsumeIntegral<uint64_t>(),
                               .num_hashes = in.ConsumeIntegral<uint64_t>(),
                               .hash = Bytes<qlaster::Hash>(in),
                               .executed_transaction_count = in.ConsumeIntegral<uint64_t>(),
                               .starting_transaction_index = in.ConsumeIntegral<uint64_t>()};
  std::vector<uint8_t> record = Record(EncodedUpdate::Entry(u), 2);
  absl::StatusOr<FrameView> view = Decoded(record, qlaster::fb::UpdateKind::Entry);
  FUZZ_CHECK(qlaster::ToEntryUpdate(*view->entry()) == u);
  return record;
}

std::vector<uint8_t> Status(FuzzedDataProvider& in) {
  qlaster::TransactionStatusUpdate u;
  u.slot = in.ConsumeIntegral<uint64_t>();
  u.index = in.ConsumeIntegral<uint32_t>();
  u.signature = Bytes<qlaster::Signature>(in);
  u.is_vote = in.ConsumeBool();
  u.failed = in.ConsumeBool();
  const size_t n = in.ConsumeBool() ? Count(in, 16, 64) : qlaster::kMaxTransactionErrorSize + in.ConsumeIntegralInRange<size_t>(0, 1);
  u.error = in.ConsumeBytes<uint8_t>(n);
  u.error.resize(n, 0xee);
  const absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::TransactionStatus(u);
  FUZZ_CHECK(encoded.ok() == (u.error.size() <= qlaster::kMaxTransactionErrorSize));
  std::vector<uint8_t> record = Record(encoded, 3);
  if (record.empty()) return record;
  absl::StatusOr<FrameView> view = Decoded(record, qlaster::fb::UpdateKind::TransactionStatus);
  FUZZ_CHECK(qlaster::ToTransactionStatusUpdate(*view->transaction_status()) == u);
  return record;
}

std::vector<uint8_t> Transaction(FuzzedDataProvider& in) {
  qlaster::TransactionUpdate u;
  u.slot = in.ConsumeIntegral<uint64_t>();
  u.index = in.ConsumeIntegral<uint32_t>();
  u.signature = Bytes<qlaster::Signature>(in);
  u.is_vote = in.ConsumeBool();
  u.failed = in.ConsumeBool();
  u.data = in.ConsumeBytes<uint8_t>(Count(in, 64, 1232));
  u.status = in.ConsumeBytes<uint8_t>(Count(in, 64, 512));
  std::vector<uint8_t> record = Record(EncodedUpdate::Transaction(u), 4);
  if (record.empty()) return record;
  absl::StatusOr<FrameView> view = Decoded(record, qlaster::fb::UpdateKind::Transaction);
  FUZZ_CHECK(qlaster::ToTransactionUpdate(*view->transaction()) == u);
  return record;
}

std::vector<uint8_t> SlicedAccount(FuzzedDataProvider& in) {
  qlaster::AccountUpdate u;
  u.pubkey = Bytes<qlaster::Pubkey>(in);
  u.owner = Bytes<qlaster::Pubkey>(in);
  u.lamports = in.ConsumeIntegral<uint64_t>();
  u.slot = in.ConsumeIntegral<uint64_t>();
  u.write_version = in.ConsumeIntegral<uint64_t>();
  if (in.ConsumeBool()) u.txn_signature = Bytes<qlaster::Signature>(in);
  // Data: fuzzed bytes, repeated (so that LZ4 has something to gain) to a fuzzed size.
  const std::vector<uint8_t> seed = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(1, 32));
  u.data.resize(Count(in, 300, 8192));
  for (size_t i = 0; i < u.data.size(); ++i) u.data[i] = seed.empty() ? 0 : seed[i % seed.size()];
  // Sorted and not overlapping, as the sender requires (and checks) of a subscription's
  // slices; they may reach past the data, the last one to the end of the offset range.
  std::vector<qlaster::DataSlice> slices(Count(in, 3, 64));
  uint64_t at = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    qlaster::DataSlice& s = slices[i];
    s.offset = at + in.ConsumeIntegralInRange<uint64_t>(0, u.data.size() / 4 + 8);
    const bool last = i + 1 == slices.size();
    s.length = last && in.ConsumeBool() ? UINT64_MAX - s.offset : in.ConsumeIntegralInRange<uint64_t>(0, 64);
    at = s.offset + s.length;
  }
  qlaster::Lz4Policy policy;
  policy.threshold = in.ConsumeBool() ? 0 : SIZE_MAX;
  policy.min_gain = 0;
  const absl::StatusOr<EncodedUpdate> whole = EncodedUpdate::Account(u, policy);
  FUZZ_CHECK(whole.ok());
  std::vector<uint8_t> storage;
  const absl::StatusOr<EncodedUpdate> sliced = EncodedUpdate::Sliced(
      *whole, slices, &storage, in.ConsumeBool() ? absl::MakeConstSpan(u.data) : absl::Span<const uint8_t>());
  FUZZ_CHECK(sliced.ok());
  std::vector<uint8_t> expect;
  for (const qlaster::DataSlice& s : slices) {
    if (s.offset >= u.data.size()) continue;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(s.length, u.data.size() - s.offset));
    expect.insert(expect.end(), u.data.begin() + static_cast<ptrdiff_t>(s.offset),
                  u.data.begin() + static_cast<ptrdiff_t>(s.offset + n));
  }
  std::vector<uint8_t> record = Record(sliced, 5);
  absl::StatusOr<FrameView> view = Decoded(record, qlaster::fb::UpdateKind::Account);
  const qlaster::AccountView& a = *view->account();
  FUZZ_CHECK(a.is_sliced && !a.is_compressed);
  FUZZ_CHECK(a.account_data_len == u.data.size());
  FUZZ_CHECK(a.data_len == expect.size());
  FUZZ_CHECK(a.pubkey == u.pubkey && a.owner == u.owner && a.write_version == u.write_version);
  FUZZ_CHECK(a.txn_signature == u.txn_signature);
  absl::StatusOr<std::vector<uint8_t>> data = a.Data();
  FUZZ_CHECK(data.ok() && *data == expect);
  return record;
}

// Reads whatever a decoded record offers, bounded.
void ReadBent(const std::vector<uint8_t>& record) {
  absl::StatusOr<FrameView> view = DecodeFrame(record);
  if (!view.ok()) {
    FUZZ_CHECK(view.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  if (const qlaster::AccountView* a = view->account(); a != nullptr && a->data_len <= (1u << 20)) {
    absl::StatusOr<std::vector<uint8_t>> data = a->Data();
    FUZZ_CHECK(data.ok() || data.status().code() == absl::StatusCode::kDataLoss);
    FUZZ_CHECK(a->data_len <= a->account_data_len);
  } else if (const qlaster::BlockMetaView* b = view->block_meta()) {
    FUZZ_CHECK(qlaster::ToBlockMetaUpdate(*b).rewards.size() == b->reward_count());
  } else if (const qlaster::TransactionStatusView* s = view->transaction_status()) {
    FUZZ_CHECK(qlaster::ToTransactionStatusUpdate(*s).error.size() <= qlaster::kMaxTransactionErrorSize);
  } else if (const qlaster::TransactionView* t = view->transaction()) {
    FUZZ_CHECK(t->data.size() + t->status.size() + qlaster::kFrameHeaderSize + 88 == record.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<uint8_t> record;
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      record = BlockMeta(in);
      break;
    case 1:
      record = Entry(in);
      break;
    case 2:
      record = Status(in);
      break;
    case 3:
      record = Transaction(in);
      break;
    default:
      record = SlicedAccount(in);
      break;
  }
  if (record.empty()) return 0;
  while (in.remaining_bytes() >= 3) {
    const size_t at = in.ConsumeIntegral<uint16_t>() % record.size();
    record[at] = in.ConsumeIntegral<uint8_t>();
  }
  ReadBent(record);
  return 0;
}
