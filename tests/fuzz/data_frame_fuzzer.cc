// libFuzzer target for DecodeFrame: ring records are shared memory another process
// writes, so any bytes must either decode or fail with kDataLoss, never crash, read out
// of bounds or hit undefined behaviour (ASan+UBSan run under the fuzzer). A record that
// decodes is also read (decompressing, bounded) and re-encoded: uncompressed records must
// re-encode to the same bytes, up to the bytes the decoder ignores (reserved, and an
// unflagged txn_signature); a sliced account re-encodes as the sender makes it (the
// whole account of account_data_len bytes, sliced to the bytes carried); compressed ones
// must round-trip their data, since LZ4 output is not canonical. Block meta, entry and
// transaction status records must round-trip their values. Each input is also decoded
// once more with its lengths made consistent, so the body checks are reached without a
// seed corpus.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "wire/frame.h"

namespace {

using qlaster::AccountUpdate;
using qlaster::DecodeFrame;
using qlaster::EncodedUpdate;
using qlaster::FrameView;

#define FUZZ_CHECK(cond)                                             \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, \
                   __LINE__, #cond);                                 \
      std::abort();                                                  \
    }                                                                \
  } while (0)

constexpr size_t kBody = qlaster::kFrameHeaderSize;
// Decompressing a maximal 10 MiB per input would make the fuzzer crawl; inputs are a few
// KiB, and a valid LZ4 block expands at most ~255x, so 1 MiB covers every block the
// fuzzer can produce that could succeed.
constexpr size_t kMaxDecompress = 1 << 20;

void Zero(std::vector<uint8_t>& bytes, size_t begin, size_t end) {
  std::memset(bytes.data() + begin, 0, end - begin);
}

// The record with the bytes the decoder ignores set to what the encoder writes.
std::vector<uint8_t> Canonical(const uint8_t* data, size_t size, const FrameView& view) {
  std::vector<uint8_t> bytes(data, data + size);
  switch (view.kind) {
    case qlaster::fb::UpdateKind::Account:
      // reserved (account_data_len follows it at 108, since frame version 2)
      Zero(bytes, kBody + 106, kBody + 108);
      if (!view.account()->txn_signature.has_value()) Zero(bytes, kBody + 112, kBody + 176);
      break;
    case qlaster::fb::UpdateKind::Transaction:
      Zero(bytes, kBody + 18, kBody + 20);  // reserved (status_len follows it at 20)
      break;
    case qlaster::fb::UpdateKind::Slot:
      Zero(bytes, kBody + 17, kBody + 24);
      break;
    default:
      break;
  }
  return bytes;
}

void CheckReencodes(const EncodedUpdate& encoded, const FrameView& view,
                    const std::vector<uint8_t>& canonical) {
  FUZZ_CHECK(encoded.kind() == view.kind);
  FUZZ_CHECK(encoded.frame_size() == canonical.size());
  const std::vector<uint8_t> bytes = encoded.ToBytes(view.sequence, view.timestamp_ns);
  FUZZ_CHECK(bytes == canonical);
}

// A sliced record: the sender cut it from an account of account_data_len bytes. Re-made
// that way (the carried bytes as one slice at offset 0), it must give the same bytes; a
// sliced record that is also compressed (the sender never writes one) must keep its data.
void CheckSliced(const AccountUpdate& carried, const uint8_t* data, size_t size,
                 const FrameView& view) {
  const qlaster::AccountView& account = *view.account();
  FUZZ_CHECK(account.data_len <= account.account_data_len);
  AccountUpdate whole = carried;
  whole.data.resize(account.account_data_len);
  qlaster::Lz4Policy raw;
  raw.threshold = SIZE_MAX;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(whole, raw);
  FUZZ_CHECK(encoded.ok());
  std::vector<uint8_t> storage;
  const qlaster::DataSlice slice{.offset = 0, .length = account.data_len};
  absl::StatusOr<EncodedUpdate> sliced =
      EncodedUpdate::Sliced(*encoded, absl::MakeConstSpan(&slice, 1), &storage, {});
  FUZZ_CHECK(sliced.ok());
  if (!account.compressed()) {
    CheckReencodes(*sliced, view, Canonical(data, size, view));
    return;
  }
  const std::vector<uint8_t> bytes = sliced->ToBytes(view.sequence, view.timestamp_ns);
  absl::StatusOr<FrameView> decoded = DecodeFrame(bytes);
  FUZZ_CHECK(decoded.ok());
  const qlaster::AccountView& again = *decoded->account();
  FUZZ_CHECK(again.is_sliced && again.account_data_len == account.account_data_len);
  absl::StatusOr<AccountUpdate> back = qlaster::ToAccountUpdate(again);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(*back == carried);
}

// Kinds whose bytes the decoder partly ignores beyond reserved fields (unflagged
// optionals): the value must survive encoding and decoding again.
template <typename Update, typename ToUpdate>
void CheckValueRoundTrip(const Update& update, const absl::StatusOr<EncodedUpdate>& encoded,
                         ToUpdate to_update) {
  FUZZ_CHECK(encoded.ok());
  const std::vector<uint8_t> bytes = encoded->ToBytes(1, 2);
  absl::StatusOr<FrameView> decoded = DecodeFrame(bytes);
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(to_update(*decoded) == update);
}

void CheckAccount(const uint8_t* data, size_t size, const FrameView& view) {
  const qlaster::AccountView& account = *view.account();
  FUZZ_CHECK(account.data_len <= qlaster::kMaxAccountDataSize);
  FUZZ_CHECK(account.wire_data.data() >= data &&
             account.wire_data.data() + account.wire_data.size() == data + size);
  if (account.data_len > kMaxDecompress) return;
  absl::StatusOr<AccountUpdate> update = qlaster::ToAccountUpdate(account);
  if (!update.ok()) {
    FUZZ_CHECK(account.compressed());
    FUZZ_CHECK(update.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  FUZZ_CHECK(update->data.size() == account.data_len);
  qlaster::Lz4Policy raw;
  raw.threshold = SIZE_MAX;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(*update, raw);
  FUZZ_CHECK(encoded.ok());
  if (account.is_sliced) {
    CheckSliced(*update, data, size, view);
    return;
  }
  if (!account.compressed()) {
    CheckReencodes(*encoded, view, Canonical(data, size, view));
    return;
  }
  // Compressed: re-encode with compression forced and check the data survives.
  qlaster::Lz4Policy always;
  always.threshold = 0;
  always.min_gain = 0;
  for (const qlaster::Lz4Policy& policy : {raw, always}) {
    absl::StatusOr<EncodedUpdate> again = EncodedUpdate::Account(*update, policy);
    FUZZ_CHECK(again.ok());
    const std::vector<uint8_t> bytes = again->ToBytes(view.sequence, view.timestamp_ns);
    absl::StatusOr<FrameView> decoded = DecodeFrame(bytes);
    FUZZ_CHECK(decoded.ok());
    absl::StatusOr<AccountUpdate> back = qlaster::ToAccountUpdate(*decoded->account());
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == *update);
  }
}

void Put32(std::vector<uint8_t>& bytes, size_t offset, size_t value) {
  const uint32_t v = static_cast<uint32_t>(value);
  std::memcpy(bytes.data() + offset, &v, sizeof(v));  // little-endian host, as the wire
}

// Random bytes almost never satisfy body_len == size - 24, so without a seed corpus the
// fuzzer would stay in the header checks. This copy has the header and the kind's length
// field made consistent, leaving every other byte as fuzzed, to drive the body checks.
std::vector<uint8_t> WithConsistentLengths(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  if (size < kBody) return bytes;
  bytes[0] = static_cast<uint8_t>(1 + bytes[0] % 7);  // a known kind
  bytes[1] = qlaster::kFrameVersion;
  bytes[2] = bytes[3] = 0;
  Put32(bytes, 4, size - kBody);
  const auto kind = static_cast<qlaster::fb::UpdateKind>(bytes[0]);
  if (kind == qlaster::fb::UpdateKind::Account && size >= kBody + 176) {
    Put32(bytes, kBody + 100, size - kBody - 176);  // wire_len
    if ((bytes[kBody + 104] & 1) == 0) {
      Put32(bytes, kBody + 96, size - kBody - 176);  // data_len
      // account_data_len: data_len, unless sliced (then leave it as fuzzed)
      if ((bytes[kBody + 104] & 4) == 0) Put32(bytes, kBody + 108, size - kBody - 176);
    }
  } else if (kind == qlaster::fb::UpdateKind::Transaction && size >= kBody + 88) {
    // data_len, then status_len: the status gets at most the low byte's worth
    const size_t rest = size - kBody - 88;
    const size_t status = std::min<size_t>(bytes[kBody + 20], rest);
    Put32(bytes, kBody + 12, rest - status);
    Put32(bytes, kBody + 20, status);
  } else if (kind == qlaster::fb::UpdateKind::TransactionStatus && size >= kBody + 88) {
    Put32(bytes, kBody + 12, size - kBody - 88);  // err_len
  }
  return bytes;
}

void CheckDecode(const uint8_t* data, size_t size) {
  absl::StatusOr<FrameView> view = DecodeFrame(absl::MakeConstSpan(data, size));
  if (!view.ok()) {
    FUZZ_CHECK(view.status().code() == absl::StatusCode::kDataLoss);
    return;
  }
  switch (view->kind) {
    case qlaster::fb::UpdateKind::Account:
      FUZZ_CHECK(view->account() != nullptr);
      CheckAccount(data, size, *view);
      break;
    case qlaster::fb::UpdateKind::Transaction: {
      FUZZ_CHECK(view->transaction() != nullptr);
      const qlaster::TransactionUpdate update = qlaster::ToTransactionUpdate(*view->transaction());
      absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
      FUZZ_CHECK(encoded.ok());
      CheckReencodes(*encoded, *view, Canonical(data, size, *view));
      break;
    }
    case qlaster::fb::UpdateKind::Slot: {
      FUZZ_CHECK(view->slot() != nullptr);
      absl::StatusOr<EncodedUpdate> encoded =
          EncodedUpdate::Slot(qlaster::ToSlotUpdate(*view->slot()));
      FUZZ_CHECK(encoded.ok());
      CheckReencodes(*encoded, *view, Canonical(data, size, *view));
      break;
    }
    case qlaster::fb::UpdateKind::BlockMeta: {
      FUZZ_CHECK(view->block_meta() != nullptr);
      const qlaster::BlockMetaUpdate update = qlaster::ToBlockMetaUpdate(*view->block_meta());
      CheckValueRoundTrip(update, EncodedUpdate::BlockMeta(update), [](const FrameView& v) {
        FUZZ_CHECK(v.block_meta() != nullptr);
        return qlaster::ToBlockMetaUpdate(*v.block_meta());
      });
      break;
    }
    case qlaster::fb::UpdateKind::Entry: {
      FUZZ_CHECK(view->entry() != nullptr);
      const qlaster::EntryUpdate update = qlaster::ToEntryUpdate(*view->entry());
      CheckValueRoundTrip(update, absl::StatusOr<EncodedUpdate>(EncodedUpdate::Entry(update)),
                          [](const FrameView& v) {
                            FUZZ_CHECK(v.entry() != nullptr);
                            return qlaster::ToEntryUpdate(*v.entry());
                          });
      break;
    }
    case qlaster::fb::UpdateKind::TransactionStatus: {
      FUZZ_CHECK(view->transaction_status() != nullptr);
      const qlaster::TransactionStatusUpdate update =
          qlaster::ToTransactionStatusUpdate(*view->transaction_status());
      CheckValueRoundTrip(update, EncodedUpdate::TransactionStatus(update), [](const FrameView& v) {
        FUZZ_CHECK(v.transaction_status() != nullptr);
        return qlaster::ToTransactionStatusUpdate(*v.transaction_status());
      });
      break;
    }
    case qlaster::fb::UpdateKind::Gap:
      FUZZ_CHECK(view->gap() != nullptr);
      CheckReencodes(EncodedUpdate::Gap(view->gap()->dropped), *view,
                     Canonical(data, size, *view));
      break;
    default:
      FUZZ_CHECK(false && "DecodeFrame returned an unknown kind");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckDecode(data, size);
  const std::vector<uint8_t> fixed = WithConsistentLengths(data, size);
  CheckDecode(fixed.data(), fixed.size());
  return 0;
}
