// Matcher: who, at one commitment level of a routing table, wants an update — the
// dispatcher's question for every update, answered into reused storage (no allocation in
// steady state).
//
// An account is tried against the level's unnamed subscriptions (SubscriptionIndex) and,
// only when the level's Bloom filter lets it through or some named filter must see every
// account, against its named filters (NamedFilters), whose data predicates read the
// account's data (decompressed here once, if compressed). A transaction is tried against
// the unnamed transaction lists and the named transaction filters, and its derived status
// against the named status filters; the account keys (static keys and the loaded ones its
// status lists) are parsed only when some filter looks at them. Block meta and entries go
// to the consumers that named filters for them; slot updates to every consumer.
//
// The result is a set of recipients, each with the bits of its filters that matched, in
// ascending consumer order.
//
// Thread-compatible: one Matcher per thread; the tables it reads are immutable.
#ifndef QLASTER_SENDER_MATCHER_H_
#define QLASTER_SENDER_MATCHER_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "sender/consumer_set.h"
#include "sender/named_filters.h"
#include "sender/routing_table.h"
#include "wire/frame.h"

namespace qlaster::sender {

class Matcher {
 public:
  Matcher() = default;
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Matches `update` (route `key`) at `level` of `table`. Returns false when nobody
  // there wants it. The result stays until the next Match.
  bool Match(const EncodedUpdate& update, const RouteKey& key, const RoutingTable& table,
             const LevelRoutes& level);

  // Calls fn(who, bits) for every recipient of the update itself, ascending.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    switch (source_) {
      case Source::kNone:
        return;
      case Source::kUnnamed:
        for (ConsumerIndex who : unnamed_) fn(who, uint16_t{0});
        return;
      case Source::kNamed:
        for (size_t i = 0; i < named_.size(); ++i) fn(named_.who(i), named_.bits(i));
        return;
      case Source::kFixed:
        for (const Recipient& r : fixed_) fn(r.who, r.bits);
        return;
      case Source::kSlot:
        for (ConsumerIndex who : table_->all) {
          fn(who, table_->slot_bits[who][static_cast<size_t>(slot_status_)]);
        }
        return;
    }
  }
  // The bits `who` matched with (nullopt: it is not a recipient).
  std::optional<uint16_t> BitsOf(ConsumerIndex who) const;

  // A transaction's derived status: its recipients (with their status-filter bits) and
  // its error (empty when it succeeded).
  const FilterMatches& statuses() const { return statuses_; }
  absl::Span<const uint8_t> error() const { return error_; }

  // The account's data, decompressed, when matching had to (empty otherwise): slicing
  // reuses it.
  absl::Span<const uint8_t> inflated_data() const {
    return data_inflated_ ? absl::MakeConstSpan(data_) : absl::Span<const uint8_t>();
  }

  // Transactions whose bytes or status did not parse (their account-key predicates saw
  // no keys).
  uint64_t unparsed_transactions() const { return unparsed_; }

 private:
  enum class Source { kNone, kUnnamed, kNamed, kFixed, kSlot };

  void Clear();
  bool MatchAccount(const EncodedUpdate& update, const RouteKey& key, const LevelRoutes& level);
  void MatchTransaction(const EncodedUpdate& update, const RouteKey& key,
                        const LevelRoutes& level);
  // Uses the named matches, with the unnamed ones merged in (bits 0).
  void MergeNamed();

  Source source_ = Source::kNone;
  const RoutingTable* table_ = nullptr;
  ConsumerSet unnamed_set_;
  absl::Span<const ConsumerIndex> unnamed_;
  FilterMatches named_;
  absl::Span<const Recipient> fixed_;
  SlotStatus slot_status_ = SlotStatus::kProcessed;
  FilterMatches statuses_;
  absl::Span<const uint8_t> error_;
  std::vector<uint8_t> data_;
  bool data_inflated_ = false;
  std::vector<Pubkey> keys_;
  uint64_t unparsed_ = 0;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_MATCHER_H_
