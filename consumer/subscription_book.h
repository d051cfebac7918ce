// SubscriptionBook: the consumer library's own copy of what it asked the sender for, so
// that a new connection gets the whole subscription again, and the splitting of a change
// into messages that fit the control protocol's limits.
//
// The book records exactly what the sender acknowledged (Apply after each ack); while the
// sender is away, changes are recorded as asked (they are replayed on reconnection).
//
// Thread-compatible.
#ifndef QLASTER_CONSUMER_SUBSCRIPTION_BOOK_H_
#define QLASTER_CONSUMER_SUBSCRIPTION_BOOK_H_

#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "qlaster/subscription.hpp"
#include "qlaster/types.hpp"
#include "wire/control_framing.h"

namespace qlaster::consumer {

class SubscriptionBook {
 public:
  // Splits a change into messages of at most kMaxSubscribeKeys keys each (request ids
  // unset). For Replace the first message replaces and the rest add; the transaction
  // filter rides in the first message (always, for Replace).
  static std::vector<SubscribeMsg> Split(fb::SubscribeOp op, std::span<const Pubkey> pubkeys,
                                         std::span<const Pubkey> owners,
                                         std::optional<TransactionFilter> transactions);

  // The Replace message that makes a consumer's subscription `s` (request id unset).
  // kInvalidArgument when it holds more keys than one message carries
  // (kMaxSubscribeKeys); the sender checks everything else.
  static absl::StatusOr<SubscribeMsg> FromSubscription(const Subscription& s);

  // Records one message as the sender applies it.
  void Apply(const SubscribeMsg& msg);

  // The messages that make a fresh connection's subscription equal to this book: a
  // Replace (with the named filters and options, if any), then Adds. from_slot is not
  // replayed: a new connection starts from the live stream.
  std::vector<SubscribeMsg> Replay() const;

  size_t pubkeys() const { return pubkeys_.size(); }
  size_t owners() const { return owners_.size(); }
  TransactionFilter transactions() const { return transactions_; }

 private:
  absl::flat_hash_set<Pubkey> pubkeys_;
  absl::flat_hash_set<Pubkey> owners_;
  TransactionFilter transactions_ = TransactionFilter::kNone;
  // The named filters and options of the last Replace that had any; they ride in the
  // first replayed message.
  std::optional<SubscribeMsg> named_;
};

}  // namespace qlaster::consumer

#endif  // QLASTER_CONSUMER_SUBSCRIPTION_BOOK_H_
