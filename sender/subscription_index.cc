// SubscriptionIndex: building the snapshot (the hot-path look-ups are inline in the header).
//
// Build() makes two passes over the consumers in ascending index order. The first inserts
// every key into its map and counts its consumers; offsets into the shared index pool are
// then handed out to the keys with more than one consumer; the second pass writes each
// consumer's index into the lists of its keys. Visiting consumers in index order leaves every
// list sorted without a sort, so the whole build is O(total keys) hash operations.
#include "sender/subscription_index.h"

#include <algorithm>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qlaster::sender {
namespace {

template <typename Table>
size_t TableBytes(const Table& table) {
  // A Swiss table holds capacity() slots plus one control byte per slot and a group of
  // cloned control bytes; 16 bounds the latter on every platform absl supports.
  return table.capacity() * (sizeof(typename Table::value_type) + 1) + 16;
}

}  // namespace

SubscriptionIndex::SubscriptionIndex(uint64_t hash_seed)
    : hash_{hash_seed}, pubkeys_(0, hash_), owners_(0, hash_) {}

std::unique_ptr<const SubscriptionIndex> SubscriptionIndex::Empty() {
  return absl::WrapUnique(new SubscriptionIndex(0));
}

absl::StatusOr<std::unique_ptr<const SubscriptionIndex>> SubscriptionIndex::Build(
    absl::Span<const ConsumerEntry> consumers, absl::Span<const Pubkey> extra_bloom_keys,
    uint64_t hash_seed) {
  std::vector<ConsumerEntry> sorted(consumers.begin(), consumers.end());
  for (const auto& [who, filter] : sorted) {
    if (who >= kMaxConsumers) {
      return absl::InvalidArgumentError(
          absl::StrCat("consumer index ", who, " is not below ", kMaxConsumers));
    }
    if (filter == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("consumer index ", who, " has no filter"));
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const ConsumerEntry& a, const ConsumerEntry& b) { return a.first < b.first; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].first == sorted[i - 1].first) {
      return absl::InvalidArgumentError(
          absl::StrCat("consumer index ", sorted[i].first, " appears twice"));
    }
  }

  auto index = absl::WrapUnique(new SubscriptionIndex(hash_seed));
  size_t pubkey_pairs = 0;
  size_t owner_pairs = 0;
  for (const auto& [who, filter] : sorted) {
    pubkey_pairs += filter->pubkeys.size();
    owner_pairs += filter->owners.size();
  }
  // Reserving for every (key, consumer) pair avoids rehashing while inserting; when
  // consumers share many keys this over-reserves, and the tables are shrunk below.
  index->pubkeys_.reserve(pubkey_pairs);
  index->owners_.reserve(owner_pairs);

  // Pass 1: keys and their consumer counts. A key's first (lowest) consumer is remembered
  // as its offset: for a single-consumer key that is final (the identity prefix of the pool).
  auto count = [](KeyMap& map, const Pubkey& key, ConsumerIndex who) {
    auto [it, inserted] = map.try_emplace(key, IndexRange{who, 0, 0});
    ++it->second.count;
  };
  for (const auto& [who, filter] : sorted) {
    for (const Pubkey& key : filter->pubkeys) count(index->pubkeys_, key, who);
    for (const Pubkey& key : filter->owners) count(index->owners_, key, who);
  }
  auto shrink = [](KeyMap& map) {
    // rehash(0) resizes to the smallest capacity that holds size() at the maximum load.
    if (map.capacity() / 4 > map.size()) map.rehash(0);
  };
  shrink(index->pubkeys_);
  shrink(index->owners_);

  // Pool offsets for the keys with two or more consumers, after the identity prefix.
  std::vector<ConsumerIndex>& pool = index->pool_;
  size_t pool_size = kMaxConsumers;
  for (KeyMap* map : {&index->pubkeys_, &index->owners_}) {
    for (auto& [key, range] : *map) {
      if (range.count > 1) {
        range.offset = static_cast<uint32_t>(pool_size);
        pool_size += range.count;
      }
    }
  }
  pool.resize(pool_size);
  for (size_t s = 0; s < kMaxConsumers; ++s) pool[s] = static_cast<ConsumerIndex>(s);

  // Pass 2: each consumer appends its who to its multi-consumer keys, in index order. When
  // no key is shared (common: bots watch their own accounts) there is nothing to place.
  const bool any_shared = pool_size > kMaxConsumers;
  auto place = [&pool](KeyMap& map, const Pubkey& key, ConsumerIndex who) {
    IndexRange& range = map.find(key)->second;
    if (range.count > 1) pool[range.offset + range.fill++] = who;
  };
  for (const auto& [who, filter] : sorted) {
    if (any_shared) {
      for (const Pubkey& key : filter->pubkeys) place(index->pubkeys_, key, who);
      for (const Pubkey& key : filter->owners) place(index->owners_, key, who);
    }
    index->all_.push_back(who);
    switch (filter->transactions) {
      case TransactionFilter::kNone:
        break;
      case TransactionFilter::kAll:
        index->tx_all_.push_back(who);
        index->tx_non_vote_.push_back(who);
        break;
      case TransactionFilter::kNonVote:
        index->tx_non_vote_.push_back(who);
        break;
    }
  }

  // The Bloom filter covers both maps: one probe per key decides whether either look-up
  // can hit.
  index->bloom_ = BloomFilter(index->key_count() + extra_bloom_keys.size());
  for (const KeyMap* map : {&index->pubkeys_, &index->owners_}) {
    for (const auto& [key, range] : *map) index->bloom_.Insert(index->hash_(key));
  }
  for (const Pubkey& key : extra_bloom_keys) index->bloom_.Insert(index->hash_(key));
  return std::unique_ptr<const SubscriptionIndex>(std::move(index));
}

size_t SubscriptionIndex::memory_bytes() const {
  return TableBytes(pubkeys_) + TableBytes(owners_) + bloom_.memory_bytes() +
         (pool_.capacity() + tx_all_.capacity() + tx_non_vote_.capacity() + all_.capacity()) *
             sizeof(ConsumerIndex);
}

}  // namespace qlaster::sender
