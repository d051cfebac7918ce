// SubscriptionBook: the consumer library's own copy of what it asked the sender for, so
// that a new connection gets the whole subscription again, and the splitting of a change
// into messages that fit the control protocol's limits.
//
// A subscription has two parts, and the book keeps both: the unnamed keys of
// Consumer::Subscribe(pubkeys, owners, transactions) and the named filters and options of
// Consumer::SetSubscription(const Subscription&). A Replace (of either kind) replaces both.
//
// The book records exactly what the sender acknowledged (Apply after each ack); while the
// sender is away, changes are recorded as asked (they are replayed on reconnection).
// from_slot is never recorded: a replay after a reconnection asks for the live stream.
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

  // The messages that replace a consumer's whole subscription with the unnamed keys and
  // `named`: a Replace carrying every named filter, the options and from_slot, with as
  // many keys as fit, then Adds for the rest (account filters' key lists continue with
  // `append`). Every non-empty key list of an account filter has at least one key in the
  // first message, so no filter matches more than asked while the rest is on its way.
  // kInvalidArgument when a transaction filter alone has more keys than one message
  // holds, or when from_slot comes with a subscription that needs more than one message
  // (a replay must start under the whole subscription).
  static absl::StatusOr<std::vector<SubscribeMsg>> SplitReplace(
      std::span<const Pubkey> pubkeys, std::span<const Pubkey> owners,
      TransactionFilter transactions, const Subscription& named);

  // Records one message as the sender applies it.
  void Apply(const SubscribeMsg& msg);

  // The messages that make a fresh connection's subscription equal to this book: a
  // Replace, then Adds. Never fails for a book built from acknowledged messages.
  std::vector<SubscribeMsg> Replay() const;

  size_t pubkeys() const { return pubkeys_.size(); }
  size_t owners() const { return owners_.size(); }
  TransactionFilter transactions() const { return transactions_; }
  // The named part (from_slot unset).
  const Subscription& named() const { return named_; }

 private:
  absl::flat_hash_set<Pubkey> pubkeys_;
  absl::flat_hash_set<Pubkey> owners_;
  TransactionFilter transactions_ = TransactionFilter::kNone;
  Subscription named_;
};

}  // namespace qlaster::consumer

#endif  // QLASTER_CONSUMER_SUBSCRIPTION_BOOK_H_
