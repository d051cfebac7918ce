// qlaster/consumer.hpp: the C++ API of libqlaster-consumer, for a process that reads
// Solana updates from a local qlaster-sender.
//
// A Consumer connects to the sender's Unix socket, gets its own shared-memory ring, and
// reads updates from that ring in place: Poll() hands each update to a callback as a view
// into the ring (no copy, no allocation), Wait() blocks (or spins) until there is
// something to read. Subscriptions (account pubkeys, owners, transactions) are sent over
// the socket and take effect from a sequence number the sender acknowledges; slot updates
// are always delivered.
//
//   auto consumer = qlaster::Consumer::Connect("/run/qlaster/sender.sock", {});
//   if (!consumer.ok()) return consumer.status();
//   consumer->Subscribe({my_pubkey}, {token_program}, qlaster::TransactionFilter::kNonVote);
//   for (;;) {
//     consumer->Wait(absl::Seconds(1));
//     consumer->Poll([](const qlaster::Event& e) { ... }, 256);
//   }
//
// Nothing is silent: every update carries a per-connection sequence number; a gap (the
// sender dropped updates for this consumer, or a jump the library cannot explain) becomes
// a GapEvent, and losing the sender becomes a DisconnectedEvent (then, with
// auto_reconnect, a ReconnectedEvent once the subscription has been replayed on a new
// connection; sequence numbers restart at 1 there).
//
// This header exposes the standard library, Abseil's Status, StatusOr and Duration, and
// the vocabulary of qlaster/types.hpp only. The C ABI for other languages is
// qlaster/consumer.h.
#ifndef QLASTER_CONSUMER_CONSUMER_HPP_
#define QLASTER_CONSUMER_CONSUMER_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qlaster/subscription.hpp"
#include "qlaster/types.hpp"

namespace qlaster {

// Deprecated spellings of the vocabulary's types (qlaster/types.hpp), kept so that bots
// written against them still compile.
using KeyBytes = Pubkey;
using SignatureBytes = Signature;
using SlotState = SlotStatus;
inline std::string_view SlotStateName(SlotStatus status) { return SlotStatusName(status); }

// The socket a sender listens on when nobody says otherwise, as the sender chooses it:
// $QLASTER_SOCKET, else $XDG_RUNTIME_DIR/qlaster/sender.sock, else
// /run/qlaster/sender.sock.
std::string DefaultSocketPath();

struct ConsumerOptions {
  // Shown by the sender and qlaster-inspect; at most 64 bytes, no control characters.
  // Empty: the sender names the consumer.
  std::string name = {};
  // Requested ring size in bytes (rounded up to a power of two by the sender, clamped to
  // its maximum); 0: the sender's default. Must hold the largest update you want to
  // receive (a 10 MiB account needs more than 10 MiB): a larger one is dropped (GapEvent).
  uint64_t ring_bytes = 0;
  OverflowPolicy overflow = OverflowPolicy::kEvict;
  WaitMode wait_mode = WaitMode::kSpinThenSleep;
  // How long kSpinThenSleep spins before it sleeps.
  absl::Duration spin = absl::Microseconds(50);
  // Reconnect after losing the sender (on later Poll/Wait calls) and replay the
  // subscription; otherwise Poll returns kUnavailable after the DisconnectedEvent.
  bool auto_reconnect = true;
  // Delay before the second reconnect attempt (the first is immediate), doubled after
  // each failed attempt up to reconnect_max_backoff.
  absl::Duration reconnect_initial_backoff = absl::Milliseconds(10);
  absl::Duration reconnect_max_backoff = absl::Seconds(1);
  // Bound on connect + Hello + Ready (the handshake).
  absl::Duration connect_timeout = absl::Seconds(2);
  // Bound on waiting for a subscription acknowledgement.
  absl::Duration request_timeout = absl::Seconds(5);
};

// ------------------------------------------------------------------------- events
// The views inside an event (spans, string_views) point into the ring or into buffers the
// Consumer owns: they are valid only until the callback returns. Copy what you keep.

struct AccountEvent {
  Pubkey pubkey{};
  Pubkey owner{};
  uint64_t lamports = 0;
  bool executable = false;
  uint64_t rent_epoch = 0;
  uint64_t slot = 0;
  uint64_t write_version = 0;  // orders writes of one account within a slot
  bool has_txn_signature = false;
  Signature txn_signature{};  // the writing transaction, when has_txn_signature
  // The account data, uncompressed: in place in the ring, or (if the sender compressed it)
  // in the Consumer's reusable decompression buffer. With data slices, the slices asked
  // for, one after the other.
  std::span<const uint8_t> data = {};
  bool was_compressed = false;  // the sender sent it LZ4-compressed
  bool sliced = false;          // `data` is the subscription's data slices
  uint64_t account_data_len = 0;  // the account's whole data size
};

struct TransactionEvent {
  uint64_t slot = 0;
  uint32_t index = 0;  // position in its block
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  std::span<const uint8_t> data = {};  // the transaction in Solana's wire format
  // Its outcome (fee, balances, logs, inner instructions, compute units, error) in
  // qlaster's encoding (docs/transaction-status.md); empty when the source had none.
  std::span<const uint8_t> status = {};
};

// A reward paid in a block.
struct RewardInfo {
  Pubkey pubkey{};
  int64_t lamports = 0;
  uint64_t post_balance = 0;
  uint8_t reward_type = 0;  // 0 unspecified, 1 fee, 2 rent, 3 staking, 4 voting
  bool has_commission = false;
  uint8_t commission = 0;
};

// A block's metadata, once the block is complete.
struct BlockMetaEvent {
  uint64_t slot = 0;
  uint64_t parent_slot = 0;
  std::array<uint8_t, 32> blockhash{};
  std::array<uint8_t, 32> parent_blockhash{};
  bool has_block_height = false;
  uint64_t block_height = 0;
  bool has_block_time = false;
  int64_t block_time = 0;  // Unix seconds
  uint64_t executed_transaction_count = 0;
  uint64_t entries_count = 0;
  bool has_num_partitions = false;
  uint32_t num_partitions = 0;
  // The rewards as the record carries them: reward_count() entries of 56 bytes each
  // (proto/qlaster.fbs RewardEntry); reward(i) reads one out.
  std::span<const uint8_t> rewards = {};
  size_t reward_count() const { return rewards.size() / 56; }
  // REQUIRES: i < reward_count().
  RewardInfo reward(size_t i) const;
};

// One entry of a block: a batch of transactions and the PoH hash after it.
struct EntryEvent {
  uint64_t slot = 0;
  uint64_t index = 0;
  uint64_t num_hashes = 0;
  std::array<uint8_t, 32> hash{};
  uint64_t executed_transaction_count = 0;
  uint64_t starting_transaction_index = 0;
};

// A transaction's outcome alone.
struct TransactionStatusEvent {
  uint64_t slot = 0;
  uint32_t index = 0;
  Signature signature{};
  bool is_vote = false;
  bool failed = false;
  std::span<const uint8_t> error = {};  // the TransactionError's bincode; empty on success
};

struct SlotEvent {
  uint64_t slot = 0;
  uint64_t parent = 0;
  SlotStatus state = SlotStatus::kProcessed;
};

// Updates with sequence numbers [first_missing, last_missing] never arrived.
struct GapEvent {
  uint64_t dropped = 0;  // last_missing - first_missing + 1
  uint64_t first_missing = 0;
  uint64_t last_missing = 0;
  // True when the sender said so (drop-and-count); false for a jump in sequence numbers
  // the sender did not explain (which should not happen, and is counted all the same).
  bool reported_by_sender = false;
};

// The connection to the sender is gone. Updates after the last one delivered are lost.
struct DisconnectedEvent {
  std::string_view reason = {};  // e.g. "evicted by the sender: slow (ring full ...)"
  bool will_reconnect = false;   // auto_reconnect is on
};

// A new connection is up and the whole subscription has been replayed on it. Sequence
// numbers restart at 1; updates published while disconnected are lost (a gap is
// possible but cannot be measured).
struct ReconnectedEvent {
  uint64_t consumer_id = 0;
  // Every update with a greater sequence number is filtered by the replayed subscription.
  uint64_t effective_sequence = 0;
};

enum class EventKind : uint8_t {
  kAccount,
  kTransaction,
  kSlot,
  kGap,
  kDisconnected,
  kReconnected,
  kBlockMeta,
  kEntry,
  kTransactionStatus,
};

struct Event {
  EventKind kind = EventKind::kSlot;
  // The update's sequence number on this connection; for a gap, last_missing; 0 for
  // Disconnected and Reconnected.
  uint64_t sequence = 0;
  // When the sender published the update (CLOCK_REALTIME, ns); 0 where there is none.
  uint64_t timestamp_ns = 0;
  std::variant<AccountEvent, TransactionEvent, SlotEvent, GapEvent, DisconnectedEvent,
               ReconnectedEvent, BlockMetaEvent, EntryEvent, TransactionStatusEvent>
      body = {};
  // Which of the subscription's named filters matched, as a bit set: bit i is the i-th
  // filter of this kind in the order of their names (account filters for accounts,
  // transaction filters for transactions, transaction-status filters for statuses, slot
  // filters for slots, block-meta and entry filters for those); Consumer::FilterNames
  // turns the bits back into names. 0 for other kinds.
  uint16_t filters = 0;
  // The record as the sender wrote it into the ring (the frame format of wire/frame.h,
  // its header included), for a program that records or forwards updates as they are
  // (qlaster-inspect --record, qlaster-relay). Empty for events that are not records:
  // Disconnected, Reconnected, and a gap the library inferred from a jump in sequence
  // numbers. Valid during the callback only, like the views in the body.
  std::span<const uint8_t> frame = {};

  // The body if the event is of that kind, else nullptr.
  const AccountEvent* account() const { return std::get_if<AccountEvent>(&body); }
  const TransactionEvent* transaction() const { return std::get_if<TransactionEvent>(&body); }
  const SlotEvent* slot() const { return std::get_if<SlotEvent>(&body); }
  const GapEvent* gap() const { return std::get_if<GapEvent>(&body); }
  const DisconnectedEvent* disconnected() const { return std::get_if<DisconnectedEvent>(&body); }
  const ReconnectedEvent* reconnected() const { return std::get_if<ReconnectedEvent>(&body); }
  const BlockMetaEvent* block_meta() const { return std::get_if<BlockMetaEvent>(&body); }
  const EntryEvent* entry() const { return std::get_if<EntryEvent>(&body); }
  const TransactionStatusEvent* transaction_status() const {
    return std::get_if<TransactionStatusEvent>(&body);
  }
};

// What the sender acknowledged for a subscription change.
struct SubscribeResult {
  // Every update with a greater sequence number is filtered by the new subscription;
  // updates up to and including it may still reflect the old one.
  uint64_t effective_sequence = 0;
  uint64_t pubkeys = 0;  // pubkeys the sender now holds for this consumer
  uint64_t owners = 0;
  uint32_t messages = 0;  // Subscribe messages it took (large changes are split)
};

struct ConsumerStats {
  uint64_t received = 0;       // account, transaction and slot updates delivered
  uint64_t gaps = 0;           // GapEvents delivered
  uint64_t dropped = 0;        // updates missed: the sum of the gaps' counts
  uint64_t lag_bytes = 0;      // bytes in the ring not yet read (0 while disconnected)
  uint64_t reconnects = 0;     // successful reconnections
  uint64_t disconnects = 0;    // DisconnectedEvents delivered
  uint64_t last_sequence = 0;  // last sequence number seen on the current connection
  bool connected = false;
};

// One connection to a qlaster-sender (and, with auto_reconnect, its successors).
//
// Thread-safety: thread-compatible. Use a Consumer from one thread at a time; different
// Consumers are independent. Move-only; a moved-from Consumer may only be destroyed or
// assigned to (its other methods return kFailedPrecondition).
//
// Liveness: the sender pings every few seconds and evicts a consumer that says nothing
// for its idle timeout (30 s by default). Poll() and Wait() answer pings, so call one of
// them at least every few seconds.
class Consumer {
 public:
  // Connects to the sender listening on `path` and completes the handshake (Hello, then
  // Ready with the ring and the doorbell). Errors: kUnavailable when no sender is
  // listening there ("no qlaster-sender at PATH"); kFailedPrecondition when the sender
  // speaks another protocol version; kResourceExhausted when the sender has no room for
  // another consumer; kPermissionDenied when it refuses this user; kDataLoss for a ring
  // that fails validation; kDeadlineExceeded when the handshake outlasts
  // options.connect_timeout; kInvalidArgument for bad options.
  static absl::StatusOr<Consumer> Connect(std::string path, ConsumerOptions options = {});

  Consumer(Consumer&& other) noexcept;
  Consumer& operator=(Consumer&& other) noexcept;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  ~Consumer();  // Close()

  // ---- subscriptions
  // Each sends the change and blocks until the sender acknowledges it (at most
  // options.request_timeout per message), answering pings meanwhile; it does not read
  // the ring. A change of more keys than fit one message is sent as several, each
  // acknowledged in turn (a Replace becomes a Replace and then Adds), so a big change is
  // not atomic: a failure part way leaves the earlier parts applied, and the library's
  // copy of the subscription (replayed after a reconnection) records exactly what the
  // sender acknowledged.
  // Errors: kResourceExhausted when the sender's key limits refuse the change (the
  // connection stays usable; nothing of that message was applied); kUnavailable when the
  // sender is gone (with auto_reconnect the change is recorded and replayed on the next
  // connection); kDeadlineExceeded when no acknowledgement came in time.
  // `transactions`: nullopt leaves the transaction filter as it is.
  // May be called from inside a Poll callback.
  absl::StatusOr<SubscribeResult> Subscribe(
      std::span<const Pubkey> pubkeys, std::span<const Pubkey> owners = {},
      std::optional<TransactionFilter> transactions = std::nullopt);
  absl::StatusOr<SubscribeResult> Unsubscribe(
      std::span<const Pubkey> pubkeys, std::span<const Pubkey> owners = {},
      std::optional<TransactionFilter> transactions = std::nullopt);
  // Replaces the whole subscription (keys and transaction filter).
  absl::StatusOr<SubscribeResult> Replace(std::span<const Pubkey> pubkeys,
                                          std::span<const Pubkey> owners,
                                          TransactionFilter transactions);
  absl::StatusOr<SubscribeResult> SetTransactions(TransactionFilter transactions);
  // Replaces the whole subscription with `subscription`, as a Yellowstone
  // SubscribeRequest replaces the previous one (qlaster/subscription.hpp says what each
  // filter means): its named filters, data slices and commitment, and from_slot. The keys
  // of the methods above are cleared too. With from_slot the sender first delivers the
  // updates it still keeps from that slot on that match, then the live stream, with no
  // gap and no duplicate; a replay after a reconnection asks for the live stream only.
  // Errors: kInvalidArgument for a malformed subscription or one over the sender's
  // limits, naming the limit (the previous subscription stays in force); kOutOfRange
  // when from_slot is older than what the sender keeps (the message names the oldest
  // slot it has); otherwise as above. A subscription of more keys than one message holds
  // (100,000) is sent as several, as Subscribe does; with from_slot it must fit one.
  absl::StatusOr<SubscribeResult> SetSubscription(const Subscription& subscription);
  // The named part of the subscription as the sender acknowledged it (from_slot unset).
  Subscription subscription() const;
  // The names of the filters `event` matched (its Event::filters bits), under the
  // subscription in force when the sender published it, in the order of their names.
  std::vector<std::string> FilterNames(const Event& event) const;

  // ---- reading
  // Reads up to `max` ring records in place and hands their events to `handler`, in
  // order; returns the number of events delivered (0 when nothing is waiting). A record
  // whose sequence number jumps is preceded by a GapEvent, so the count can reach
  // max + 1. Pending Disconnected/Reconnected events count too. Never blocks for long:
  // it does not wait for data, and it makes at most one reconnection attempt per call
  // (bounded by connect_timeout, then request_timeout per replayed message).
  // `handler` must not call Poll, Wait, Close or move this Consumer (kFailedPrecondition);
  // it may call the subscription methods and Stats. The event's views die when it
  // returns.
  // Errors: kUnavailable once the sender is gone and auto_reconnect is off (after the
  // DisconnectedEvent has been delivered); kDataLoss likewise when the ring or a record
  // was corrupt; kFailedPrecondition after Close().
  // REQUIRES: max > 0.
  absl::StatusOr<int> Poll(const std::function<void(const Event&)>& handler, int max = 256);

  // The same for any callable `void(const Event&)`, without std::function's indirection.
  template <typename Handler>
  requires(std::is_invocable_v<Handler&, const Event&> &&
           !std::is_same_v<std::decay_t<Handler>, std::function<void(const Event&)>>)
      absl::StatusOr<int> Poll(Handler&& handler, int max = 256) {
    using H = std::remove_reference_t<Handler>;
    return PollWith([](void* h, const Event& e) { (*static_cast<H*>(h))(e); },
                    const_cast<void*>(static_cast<const void*>(std::addressof(handler))), max);
  }

  // Waits (as options.wait_mode says) until Poll has something to deliver: an update, or
  // an event such as Disconnected or Reconnected. Answers pings while it sleeps, and with
  // auto_reconnect makes the reconnection attempts that are due. Returns OK when
  // something is ready, kDeadlineExceeded when `timeout` passed first; kUnavailable when
  // the sender is gone for good (auto_reconnect off) and everything was delivered.
  absl::Status Wait(absl::Duration timeout);

  ConsumerStats Stats() const;
  // The sender's id for the current connection (changes on reconnection); 0 if none.
  uint64_t consumer_id() const;
  // The ring's data size the sender granted.
  uint64_t ring_bytes() const;
  bool connected() const;

  // Leaves the sender (it frees this consumer's slot at once) and releases the ring.
  // Idempotent. REQUIRES: not called from a Poll callback.
  void Close();

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  absl::StatusOr<int> PollWith(void (*fn)(void*, const Event&), void* ctx, int max);

  std::unique_ptr<Impl> impl_;
};

}  // namespace qlaster

#endif  // QLASTER_CONSUMER_CONSUMER_HPP_
