// One upstream Yellowstone SubscribeUpdate as one qlaster frame: what the Yellowstone
// source (sender/yellowstone_source.h) does with every message the upstream sends.
//
// The message is untrusted (a validator's plugin, a relay, anything that answers on the
// port). Every field the frame carries is checked: pubkeys, owners, signatures and hashes
// of exactly 32 or 64 bytes, base58 blockhashes, u32 ranges, slot statuses and reward
// types qlaster knows, commissions as canonical decimals, the limits of wire/frame.h;
// transactions through FromTransactionInfo (transaction_convert.h). Anything else is
// kInvalidArgument naming the field, and the caller counts it and carries on.
//
// The conversion is made once, off the dispatch thread: the result owns the values the
// frame borrows (account data), so it can travel through a queue to the dispatcher,
// which publishes `update()` with `key()` as it is.
//
// Thread-safe (no shared state); allocates.
#ifndef QLASTER_WIRE_YELLOWSTONE_UPDATE_CONVERT_H_
#define QLASTER_WIRE_YELLOWSTONE_UPDATE_CONVERT_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "geyser.pb.h"
#include "wire/frame.h"
#include "wire/lz4_policy.h"
#include "wire/updates.h"

namespace qlaster::yellowstone {

// A converted update: the frame, its route, and the values it borrows from. Not movable
// (the frame points into it); handed around by unique_ptr.
class UpstreamFrame {
 public:
  UpstreamFrame(const UpstreamFrame&) = delete;
  UpstreamFrame& operator=(const UpstreamFrame&) = delete;

  const EncodedUpdate& update() const { return *update_; }
  const RouteKey& key() const { return key_; }
  // The update's slot (every kind carries one).
  uint64_t slot() const { return key_.slot; }

 private:
  friend class UpstreamFrameBuilder;
  UpstreamFrame() = default;

  AccountUpdate account_;  // an account's data, which the frame borrows
  std::optional<EncodedUpdate> update_;
  RouteKey key_;
};

// What one SubscribeUpdate is for the source.
struct UpstreamMessage {
  enum class Type {
    kFrame,    // an update to publish: `frame`
    kPing,     // the server's keep-alive ping: answer it
    kPong,     // the answer to our ping: `pong_id`
    kIgnored,  // a kind the source does not subscribe to (blocks, transaction statuses:
               // the sender derives statuses from transactions itself)
  };
  Type type = Type::kIgnored;
  std::unique_ptr<UpstreamFrame> frame;
  int32_t pong_id = 0;
};

// Converts `update`. kInvalidArgument for a malformed message (no update at all
// included), kUnimplemented for a version-1 transaction. `lz4` is applied to account
// data as it enters (the sender's --lz4_threshold).
absl::StatusOr<UpstreamMessage> FromSubscribeUpdate(const geyser::SubscribeUpdate& update,
                                                    const Lz4Policy& lz4 = {});

// The single conversions, for tests.
absl::StatusOr<AccountUpdate> ToAccountUpdate(const geyser::SubscribeUpdateAccount& update);
absl::StatusOr<SlotUpdate> ToSlotUpdate(const geyser::SubscribeUpdateSlot& update);
absl::StatusOr<BlockMetaUpdate> ToBlockMetaUpdate(const geyser::SubscribeUpdateBlockMeta& update);
absl::StatusOr<EntryUpdate> ToEntryUpdate(const geyser::SubscribeUpdateEntry& update);
absl::StatusOr<TransactionUpdate> ToTransactionUpdate(
    const geyser::SubscribeUpdateTransaction& update);

}  // namespace qlaster::yellowstone

#endif  // QLASTER_WIRE_YELLOWSTONE_UPDATE_CONVERT_H_
