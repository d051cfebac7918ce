// Re-encoding events into frames (see recorder.h for why this is exact).
#include "tools/inspect/recorder.h"

#include <cstring>

#include "wire/frame.h"
#include "wire/lz4_policy.h"

namespace qlaster::inspect {

absl::StatusOr<std::optional<std::vector<uint8_t>>> FrameOf(const Event& e) {
  if (const auto* a = e.account()) {
    AccountUpdate u;
    u.pubkey = a->pubkey;
    u.owner = a->owner;
    u.lamports = a->lamports;
    u.executable = a->executable;
    u.rent_epoch = a->rent_epoch;
    u.slot = a->slot;
    u.write_version = a->write_version;
    if (a->has_txn_signature) u.txn_signature = a->txn_signature;
    u.data.assign(a->data.begin(), a->data.end());
    // Compress exactly when the sender did. Without sampling and with any saving
    // accepted, LZ4 produces the block the sender kept (its bound was tighter).
    Lz4Policy policy;
    if (a->was_compressed) {
      policy.threshold = 0;
      policy.sample_bytes = 0;
      policy.min_gain = 0;
    } else {
      policy.threshold = SIZE_MAX;
    }
    absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(u, policy);
    if (!encoded.ok()) return encoded.status();
    return encoded->ToBytes(e.sequence, e.timestamp_ns);
  }
  if (const auto* t = e.transaction()) {
    TransactionUpdate u;
    u.slot = t->slot;
    u.index = t->index;
    u.signature = t->signature;
    u.is_vote = t->is_vote;
    u.failed = t->failed;
    u.data.assign(t->data.begin(), t->data.end());
    absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(u);
    if (!encoded.ok()) return encoded.status();
    return encoded->ToBytes(e.sequence, e.timestamp_ns);
  }
  if (const auto* s = e.slot()) {
    SlotUpdate u{.slot = s->slot, .parent = s->parent,
                 .status = static_cast<SlotStatus>(static_cast<uint8_t>(s->state))};
    absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Slot(u);
    if (!encoded.ok()) return encoded.status();
    return encoded->ToBytes(e.sequence, e.timestamp_ns);
  }
  if (const auto* g = e.gap(); g != nullptr && g->reported_by_sender) {
    // The gap record's sequence is the last one it covers (the event's sequence).
    return EncodedUpdate::Gap(g->dropped).ToBytes(e.sequence, e.timestamp_ns);
  }
  return std::nullopt;
}

}  // namespace qlaster::inspect
