// SubscriptionIndex: who wants this update? An immutable snapshot of every consumer's
// subscription, shaped so that the dispatcher answers that question for an account update
// with two Bloom probes when nobody wants it (the common case, and a cost independent of the
// number of consumers), and one or two hash look-ups when someone does.
//
// Contents: inverted maps pubkey -> consumers and owner -> consumers whose values are small
// {offset, count} references into one shared pool of ascending index lists; a blocked Bloom
// filter over the union of all subscribed pubkeys and owners; the consumers that want all
// transactions, or only non-vote ones; and every consumer (slot updates go to all).
//
// Life cycle: the control plane calls Build() off the dispatch thread whenever a
// subscription changes and hands the new snapshot to the dispatcher, which swaps it in. A
// snapshot never changes after Build() returns, so every const method is safe to call from
// any number of threads at once without synchronization.
#ifndef QLASTER_SENDER_SUBSCRIPTION_INDEX_H_
#define QLASTER_SENDER_SUBSCRIPTION_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "sender/bloom_filter.h"
#include "sender/pubkey_hash.h"
#include "sender/consumer_filter.h"
#include "sender/consumer_set.h"
#include "wire/types.h"

namespace qlaster::sender {



class SubscriptionIndex {
 public:
  // A consumer's index and its filter. The filter is only read during Build().
  using ConsumerEntry = std::pair<ConsumerIndex, const ConsumerFilter*>;

  // Builds a snapshot of `consumers` (any order). Costs O(total keys) time and memory
  // (about 0.25 s and 93 MB for 1,000,000 keys); run it off the dispatch thread. The
  // filters are copied, not referenced: they may change or die once Build() returns.
  // Returns kInvalidArgument if an index is >= kMaxConsumers or appears twice, or a filter
  // is null. Per-consumer and total key limits are the caller's to enforce.
  // `extra_bloom_keys` go into the Bloom filter only (the keys other indexes of the same
  // consumers look up, so that one pair of probes rejects an update for all of them).
  // `hash_seed`: the tables' secret (RandomHashSeed() unless a test needs repeatability).
  static absl::StatusOr<std::unique_ptr<const SubscriptionIndex>> Build(
      absl::Span<const ConsumerEntry> consumers, absl::Span<const Pubkey> extra_bloom_keys = {},
      uint64_t hash_seed = RandomHashSeed());

  // A snapshot with no consumers: it matches nothing.
  static std::unique_ptr<const SubscriptionIndex> Empty();

  SubscriptionIndex(const SubscriptionIndex&) = delete;
  SubscriptionIndex& operator=(const SubscriptionIndex&) = delete;

  // Clears `*out`, then fills it with every consumer subscribed to `pubkey` (as an account)
  // or to `owner` (as an owner), each once, in ascending index order. The hot path: no
  // allocation, no loop over consumers; an update nobody wants costs two Bloom probes.
  // Returns false when the Bloom filter holds neither key (then no extra key matches
  // either); true when it may.
  // REQUIRES: out != nullptr.
  bool MatchAccount(const Pubkey& pubkey, const Pubkey& owner, ConsumerSet* out) const {
    out->clear();
    const uint64_t pubkey_hash = hash_(pubkey);
    const uint64_t owner_hash = hash_(owner);
    // Both probes are evaluated before either is branched on, so their two cache misses
    // overlap instead of following one another.
    const bool maybe_pubkey = bloom_.MayContain(pubkey_hash);
    const bool maybe_owner = bloom_.MayContain(owner_hash);
    if (!(maybe_pubkey | maybe_owner)) return false;
    const absl::Span<const ConsumerIndex> by_pubkey =
        maybe_pubkey ? Find(pubkeys_, pubkey, pubkey_hash) : absl::Span<const ConsumerIndex>();
    const absl::Span<const ConsumerIndex> by_owner =
        maybe_owner ? Find(owners_, owner, owner_hash) : absl::Span<const ConsumerIndex>();
    out->AssignUnion(by_pubkey, by_owner);
    return true;
  }

  // The consumers that want a transaction, in ascending index order: kAll consumers for a
  // vote, kAll and kNonVote consumers otherwise. The span lives as long as this snapshot.
  absl::Span<const ConsumerIndex> TransactionConsumers(bool is_vote) const {
    return is_vote ? absl::MakeConstSpan(tx_all_) : absl::MakeConstSpan(tx_non_vote_);
  }
  // TransactionConsumers(is_vote), copied into `*out` (cleared first).
  // REQUIRES: out != nullptr.
  void MatchTransaction(bool is_vote, ConsumerSet* out) const {
    out->Assign(TransactionConsumers(is_vote));
  }

  // Every consumer in the snapshot, ascending (slot updates go to all of them). The span
  // lives as long as this snapshot.
  absl::Span<const ConsumerIndex> all_consumers() const { return all_; }

  // Distinct subscribed pubkeys plus distinct subscribed owners (a key subscribed both as a
  // pubkey and as an owner counts twice).
  size_t key_count() const { return pubkeys_.size() + owners_.size(); }
  uint64_t hash_seed() const { return hash_.seed; }
  // An estimate of the heap memory this snapshot owns: hash tables at their capacity, the
  // Bloom filter, the index pool and the consumer lists.
  size_t memory_bytes() const;
  // The Bloom filter, for tests and statistics.
  const BloomFilter& bloom_filter() const { return bloom_; }

 private:
  // A key's consumers: pool_[offset, offset + count). A key with a single consumer points at
  // that index.s entry in the identity prefix of the pool (pool_[i] == i for every index i),
  // which needs no extra space and stays cache-hot. `fill` is a cursor used only by Build().
  struct IndexRange {
    uint32_t offset;
    uint16_t count;
    uint16_t fill;
  };
  using KeyMap = absl::flat_hash_map<Pubkey, IndexRange, PubkeyHash>;

  explicit SubscriptionIndex(uint64_t hash_seed);

  absl::Span<const ConsumerIndex> Find(const KeyMap& map, const Pubkey& key, uint64_t hash) const {
    const auto it = map.find(key, hash);
    if (it == map.end()) return {};
    return {pool_.data() + it->second.offset, it->second.count};
  }

  PubkeyHash hash_;
  KeyMap pubkeys_;
  KeyMap owners_;
  BloomFilter bloom_;
  std::vector<ConsumerIndex> pool_;
  std::vector<ConsumerIndex> tx_all_;       // kAll
  std::vector<ConsumerIndex> tx_non_vote_;  // kAll and kNonVote
  std::vector<ConsumerIndex> all_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_SUBSCRIPTION_INDEX_H_
