// libFuzzer target for protocol version 2's Subscribe: named account filters (pubkeys,
// owners, memcmp, datasize, lamports, token_account_state, nonempty_txn_signature),
// transaction and transaction-status selectors, slot, block-meta and entry filters,
// options (commitment, data slices) and from_slot. Random bytes almost never verify as a
// FlatBuffers Subscribe that reaches these fields, so this target builds the message from
// the input (FuzzedDataProvider), within and just beyond every limit, and checks:
//  * the decoder gives back exactly what was encoded when ValidateControl accepts the
//    message, and the same error code when it refuses it (the decoder validates too);
//  * the encoded frame, with bytes the rest of the input picks overwritten, decodes or
//    fails cleanly (never a crash or a sanitizer report), and whatever decodes re-encodes
//    to a frame that decodes to the same message.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "fuzz_check.h"
#include "wire/control_framing.h"

namespace {

using qlaster::ControlMsg;

qlaster::Pubkey Key(FuzzedDataProvider& in) {
  qlaster::Pubkey k{};
  // Few distinct keys, so that duplicates (which the checks may refuse) occur.
  k[0] = in.ConsumeIntegralInRange<uint8_t>(0, 7);
  return k;
}

std::vector<qlaster::Pubkey> Keys(FuzzedDataProvider& in) {
  std::vector<qlaster::Pubkey> keys(in.ConsumeIntegralInRange<size_t>(0, 4));
  for (qlaster::Pubkey& k : keys) k = Key(in);
  return keys;
}

std::string Name(FuzzedDataProvider& in) {
  // Up to a little over the limit, any bytes (control characters are refused).
  return in.ConsumeRandomLengthString(qlaster::kMaxFilterNameSize + 2);
}

template <typename T>
std::optional<T> Maybe(FuzzedDataProvider& in, T value) {
  if (in.ConsumeBool()) return value;
  return std::nullopt;
}

qlaster::AccountFilter Account(FuzzedDataProvider& in) {
  qlaster::AccountFilter f;
  f.pubkeys = Keys(in);
  f.owners = Keys(in);
  f.memcmp.resize(in.ConsumeIntegralInRange<size_t>(0, qlaster::kMaxDataPredicates + 1));
  for (qlaster::Memcmp& m : f.memcmp) {
    m.offset = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, 200) : in.ConsumeIntegral<uint64_t>();
    m.bytes = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, qlaster::kMaxMemcmpBytes + 1));
  }
  f.datasize = Maybe(in, in.ConsumeIntegral<uint64_t>());
  f.lamports.resize(in.ConsumeIntegralInRange<size_t>(0, 3));
  for (qlaster::LamportsFilter& l : f.lamports) {
    l.op = static_cast<qlaster::LamportsOp>(in.ConsumeIntegralInRange<uint8_t>(0, 4));
    l.value = in.ConsumeIntegral<uint64_t>();
  }
  f.token_account_state = in.ConsumeBool();
  f.nonempty_txn_signature = Maybe(in, in.ConsumeBool());
  return f;
}

qlaster::TransactionSelector Selector(FuzzedDataProvider& in) {
  qlaster::TransactionSelector s;
  s.vote = Maybe(in, in.ConsumeBool());
  s.failed = Maybe(in, in.ConsumeBool());
  if (in.ConsumeBool()) {
    qlaster::Signature sig{};
    sig[0] = in.ConsumeIntegral<uint8_t>();
    s.signature = sig;
  }
  s.account_include = Keys(in);
  s.account_exclude = Keys(in);
  s.account_required = Keys(in);
  return s;
}

qlaster::SubscribeMsg Build(FuzzedDataProvider& in) {
  qlaster::SubscribeMsg m;
  m.request_id = in.ConsumeIntegral<uint64_t>();
  m.op = static_cast<qlaster::fb::SubscribeOp>(in.ConsumeIntegralInRange<uint8_t>(0, 3));
  m.pubkeys = Keys(in);
  m.owners = Keys(in);
  m.transactions = static_cast<qlaster::TransactionFilter>(in.ConsumeIntegralInRange<uint8_t>(0, 3));
  m.set_transactions = in.ConsumeBool();
  // Counts up to just over kMaxFiltersPerKind, rarely (the low end is where most is).
  const auto count = [&in] {
    return in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, 2)
                            : in.ConsumeIntegralInRange<size_t>(0, qlaster::kMaxFiltersPerKind + 1);
  };
  m.accounts.resize(count());
  for (qlaster::NamedAccountFilter& a : m.accounts) {
    a.name = Name(in);
    a.append = in.ConsumeBool();
    a.filter = Account(in);
  }
  m.transaction_filters.resize(count());
  for (qlaster::NamedTransactionSelector& t : m.transaction_filters) {
    t.name = Name(in);
    t.selector = Selector(in);
  }
  m.transaction_status_filters.resize(in.ConsumeIntegralInRange<size_t>(0, 2));
  for (qlaster::NamedTransactionSelector& t : m.transaction_status_filters) {
    t.name = Name(in);
    t.selector = Selector(in);
  }
  m.slots.resize(in.ConsumeIntegralInRange<size_t>(0, 2));
  for (qlaster::NamedSlotSelector& s : m.slots) {
    s.name = Name(in);
    s.selector = {.filter_by_commitment = in.ConsumeBool(), .interslot_updates = in.ConsumeBool()};
  }
  m.blocks_meta.resize(in.ConsumeIntegralInRange<size_t>(0, 2));
  for (std::string& b : m.blocks_meta) b = Name(in);
  m.entries.resize(in.ConsumeIntegralInRange<size_t>(0, 2));
  for (std::string& e : m.entries) e = Name(in);
  if (in.ConsumeBool()) {
    qlaster::SubscribeOptionsMsg o;
    o.commitment = static_cast<qlaster::Commitment>(in.ConsumeIntegralInRange<uint8_t>(0, 3));
    o.data_slices.resize(in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, 3)
                                          : in.ConsumeIntegralInRange<size_t>(0, qlaster::kMaxDataSlices + 1));
    uint64_t at = 0;
    for (qlaster::DataSlice& s : o.data_slices) {
      // Mostly sorted and apart (valid), sometimes anything.
      if (in.ConsumeBool()) {
        s.offset = at + in.ConsumeIntegralInRange<uint64_t>(0, 64);
        s.length = in.ConsumeIntegralInRange<uint64_t>(0, 64);
        at = s.offset + s.length;
      } else {
        s.offset = in.ConsumeIntegral<uint64_t>();
        s.length = in.ConsumeIntegral<uint64_t>();
      }
    }
    m.options = o;
  }
  m.from_slot = Maybe(in, in.ConsumeIntegral<uint64_t>());
  return m;
}

void CheckReencodes(const ControlMsg& msg) {
  const std::vector<uint8_t> frame = qlaster::EncodeControl(msg);
  absl::StatusOr<ControlMsg> again =
      qlaster::DecodeControlFrame(absl::MakeConstSpan(frame).subspan(qlaster::kControlFrameHeaderSize));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == msg);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const ControlMsg msg = Build(in);
  const absl::Status valid = qlaster::ValidateControl(msg);
  std::vector<uint8_t> frame = qlaster::EncodeControl(msg);
  FUZZ_CHECK(frame.size() >= qlaster::kControlFrameHeaderSize);
  const absl::Span<const uint8_t> body = absl::MakeConstSpan(frame).subspan(qlaster::kControlFrameHeaderSize);
  absl::StatusOr<ControlMsg> decoded = qlaster::DecodeControlFrame(body);
  if (valid.ok()) {
    if (!decoded.ok()) std::fprintf(stderr, "valid, but: %s\n", decoded.status().ToString().c_str());
    FUZZ_CHECK(decoded.ok());
    FUZZ_CHECK(*decoded == msg);
  } else {
    if (decoded.ok() || decoded.status().code() != valid.code()) {
      std::fprintf(stderr, "invalid (%s), but decoded: %s\n", valid.ToString().c_str(),
                   decoded.status().ToString().c_str());
    }
    FUZZ_CHECK(!decoded.ok());
    FUZZ_CHECK(decoded.status().code() == valid.code());
  }

  // The same frame with bytes overwritten: (position, value) pairs from the rest.
  std::vector<uint8_t> bent(body.begin(), body.end());
  while (in.remaining_bytes() >= 3 && !bent.empty()) {
    const size_t at = in.ConsumeIntegral<uint16_t>() % bent.size();
    bent[at] = in.ConsumeIntegral<uint8_t>();
  }
  absl::StatusOr<ControlMsg> bent_msg = qlaster::DecodeControlFrame(bent);
  if (bent_msg.ok()) CheckReencodes(*bent_msg);
  return 0;
}
