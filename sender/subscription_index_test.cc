// Tests for SubscriptionIndex, ConsumerSet and PubkeyHash: each kind of match, the empty
// index, transaction and slot fan-out, Build's argument checks, and a randomized comparison
// of 256 consumers against a brute-force loop over their filters.
#include "sender/subscription_index.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sender/consumer_set.h"
#include "wire/random_key.h"
#include "wire/types.h"

namespace qlaster::sender {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Pubkey Key(uint8_t first, uint8_t last = 0) {
  Pubkey key{};
  key[0] = first;
  key[31] = last;
  return key;
}

std::vector<ConsumerIndex> Slots(const ConsumerSet& set) { return {set.begin(), set.end()}; }
std::vector<ConsumerIndex> Slots(absl::Span<const ConsumerIndex> span) {
  return {span.begin(), span.end()};
}

// Builds an index from (slot, filter) pairs, failing the test on error.
std::unique_ptr<const SubscriptionIndex> BuildOrDie(
    const std::vector<std::pair<ConsumerIndex, ConsumerFilter>>& filters) {
  std::vector<SubscriptionIndex::ConsumerEntry> entries;
  for (const auto& [slot, filter] : filters) entries.emplace_back(slot, &filter);
  auto index = SubscriptionIndex::Build(entries);
  EXPECT_TRUE(index.ok()) << index.status();
  return index.ok() ? std::move(*index) : SubscriptionIndex::Empty();
}

const Pubkey kNobody = Key(0xee, 0xee);

TEST(SubscriptionIndexTest, MatchesByPubkey) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(2);
  filters[0].first = 3;
  filters[0].second.pubkeys = {Key(1)};
  filters[1].first = 5;
  filters[1].second.pubkeys = {Key(2)};
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Key(1), kNobody, &out);
  EXPECT_THAT(Slots(out), ElementsAre(3));
  index->MatchAccount(Key(2), kNobody, &out);
  EXPECT_THAT(Slots(out), ElementsAre(5));
  EXPECT_EQ(index->key_count(), 2u);
}

TEST(SubscriptionIndexTest, MatchesByOwner) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(2);
  filters[0].first = 0;
  filters[0].second.owners = {Pubkey{}};  // the System Program: 32 zero bytes
  filters[1].first = 1;
  filters[1].second.owners = {Key(9)};
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Key(1), Pubkey{}, &out);
  EXPECT_THAT(Slots(out), ElementsAre(0));
  index->MatchAccount(Key(1), Key(9), &out);
  EXPECT_THAT(Slots(out), ElementsAre(1));
}

TEST(SubscriptionIndexTest, MatchesByPubkeyAndOwnerWithoutDuplicates) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(3);
  filters[0].first = 7;  // both the account and its owner: must get one copy
  filters[0].second.pubkeys = {Key(1)};
  filters[0].second.owners = {Key(2)};
  filters[1].first = 2;  // the owner only
  filters[1].second.owners = {Key(2)};
  filters[2].first = 9;  // the account only
  filters[2].second.pubkeys = {Key(1)};
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Key(1), Key(2), &out);
  EXPECT_THAT(Slots(out), ElementsAre(2, 7, 9));
}

TEST(SubscriptionIndexTest, RejectsUpdatesNobodySubscribedTo) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(1);
  filters[0].first = 1;
  filters[0].second.pubkeys = {Key(1), Key(1, 1)};
  filters[0].second.owners = {Key(2)};
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  const ConsumerIndex stale[] = {4};
  out.Assign(stale);  // stale contents from a previous update must not survive
  index->MatchAccount(Key(1, 2), Key(2, 1), &out);
  EXPECT_TRUE(out.empty());
}

TEST(SubscriptionIndexTest, KeepsPubkeysAndOwnersApart) {
  // Key(1) is subscribed as an account, Key(2) as an owner; the reverse roles match nothing
  // even though both keys pass the shared Bloom filter.
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(2);
  filters[0].first = 0;
  filters[0].second.pubkeys = {Key(1)};
  filters[1].first = 1;
  filters[1].second.owners = {Key(2)};
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Key(2), Key(1), &out);
  EXPECT_TRUE(out.empty());
}

TEST(SubscriptionIndexTest, ListsManyConsumersOfOneKeyInAscendingOrder) {
  const std::vector<ConsumerIndex> slots = {1000, 3, 512, 7, 1023, 0};
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    filters[i].first = slots[i];
    filters[i].second.pubkeys = {Key(1), Key(static_cast<uint8_t>(100 + i))};
    filters[i].second.owners = {Key(2)};
  }
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Key(1), kNobody, &out);
  EXPECT_THAT(Slots(out), ElementsAre(0, 3, 7, 512, 1000, 1023));
  index->MatchAccount(Key(1), Key(2), &out);
  EXPECT_THAT(Slots(out), ElementsAre(0, 3, 7, 512, 1000, 1023));
  index->MatchAccount(Key(103), kNobody, &out);  // filters[3] is slot 7
  EXPECT_THAT(Slots(out), ElementsAre(7));
}

TEST(SubscriptionIndexTest, EmptyIndexMatchesNothing) {
  const auto built = SubscriptionIndex::Build({});
  ASSERT_TRUE(built.ok()) << built.status();
  const auto empty = SubscriptionIndex::Empty();
  for (const SubscriptionIndex* index : {built->get(), empty.get()}) {
    ConsumerSet out;
    index->MatchAccount(Pubkey{}, Pubkey{}, &out);
    EXPECT_TRUE(out.empty());
    index->MatchAccount(Key(1), Key(2), &out);
    EXPECT_TRUE(out.empty());
    index->MatchTransaction(/*is_vote=*/false, &out);
    EXPECT_TRUE(out.empty());
    EXPECT_THAT(Slots(index->all_consumers()), IsEmpty());
    EXPECT_EQ(index->key_count(), 0u);
    EXPECT_EQ(index->bloom_filter().block_count(), 0u);
  }
}

TEST(SubscriptionIndexTest, ConsumersWithoutKeysMatchNoAccounts) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(2);
  filters[0].first = 4;
  filters[1].first = 8;
  filters[1].second.transactions = TransactionFilter::kAll;
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchAccount(Pubkey{}, Pubkey{}, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(index->bloom_filter().block_count(), 0u);
}

TEST(SubscriptionIndexTest, SendsVotesOnlyToAllTransactionConsumers) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(4);
  filters[0] = {10, {}};
  filters[0].second.transactions = TransactionFilter::kNonVote;
  filters[1] = {2, {}};
  filters[1].second.transactions = TransactionFilter::kAll;
  filters[2] = {6, {}};
  filters[2].second.transactions = TransactionFilter::kNone;
  filters[3] = {1, {}};
  filters[3].second.transactions = TransactionFilter::kNonVote;
  const auto index = BuildOrDie(filters);
  ConsumerSet out;
  index->MatchTransaction(/*is_vote=*/true, &out);
  EXPECT_THAT(Slots(out), ElementsAre(2));
  index->MatchTransaction(/*is_vote=*/false, &out);
  EXPECT_THAT(Slots(out), ElementsAre(1, 2, 10));
  EXPECT_THAT(Slots(index->TransactionConsumers(/*is_vote=*/false)), ElementsAre(1, 2, 10));
}

TEST(SubscriptionIndexTest, ListsAllConsumersForSlotUpdates) {
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(3);
  filters[0].first = 900;
  filters[1].first = 0;
  filters[1].second.pubkeys = {Key(1)};
  filters[2].first = 17;
  filters[2].second.transactions = TransactionFilter::kAll;
  const auto index = BuildOrDie(filters);
  EXPECT_THAT(Slots(index->all_consumers()), ElementsAre(0, 17, 900));
}

TEST(SubscriptionIndexTest, RejectsBadConsumerLists) {
  ConsumerFilter filter;
  const SubscriptionIndex::ConsumerEntry duplicate[] = {{1, &filter}, {2, &filter}, {1, &filter}};
  EXPECT_EQ(SubscriptionIndex::Build(duplicate).status().code(),
            absl::StatusCode::kInvalidArgument);
  const SubscriptionIndex::ConsumerEntry out_of_range[] = {{kMaxConsumers, &filter}};
  EXPECT_EQ(SubscriptionIndex::Build(out_of_range).status().code(),
            absl::StatusCode::kInvalidArgument);
  const SubscriptionIndex::ConsumerEntry null_filter[] = {{0, nullptr}};
  EXPECT_EQ(SubscriptionIndex::Build(null_filter).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SubscriptionIndexTest, DoesNotReferenceTheFiltersAfterBuild) {
  auto filter = std::make_unique<ConsumerFilter>();
  filter->pubkeys = {Key(1)};
  const SubscriptionIndex::ConsumerEntry entries[] = {{5, filter.get()}};
  auto index = SubscriptionIndex::Build(entries);
  ASSERT_TRUE(index.ok()) << index.status();
  filter.reset();
  ConsumerSet out;
  (*index)->MatchAccount(Key(1), kNobody, &out);
  EXPECT_THAT(Slots(out), ElementsAre(5));
}

// 256 consumers, each with private pubkeys and owners plus a random share of a common pool
// of keys; 100,000 updates drawn so that roughly half hit something. Every answer must equal
// the brute-force loop over the consumers.
TEST(SubscriptionIndexTest, AgreesWithBruteForceFor256Consumers) {
  constexpr int kConsumers = 256;
  std::mt19937_64 rng(2024);
  std::vector<Pubkey> shared_pubkeys(200), shared_owners(20);
  for (Pubkey& k : shared_pubkeys) k = RandomKey(rng);
  for (Pubkey& k : shared_owners) k = RandomKey(rng);
  shared_owners[0] = Pubkey{};  // the all-zero key is a real owner
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(kConsumers);
  std::vector<Pubkey> subscribed_pubkeys = shared_pubkeys;
  std::vector<Pubkey> subscribed_owners = shared_owners;
  for (int c = 0; c < kConsumers; ++c) {
    // Spread slots over the whole range and out of order.
    filters[c].first = static_cast<ConsumerIndex>((c * 389) % kMaxConsumers);
    ConsumerFilter& f = filters[c].second;
    for (int i = 0; i < 50; ++i) {
      f.pubkeys.insert(subscribed_pubkeys.emplace_back(RandomKey(rng)));
    }
    for (int i = 0; i < 3; ++i) f.owners.insert(subscribed_owners.emplace_back(RandomKey(rng)));
    for (const Pubkey& k : shared_pubkeys) {
      if (rng() % 8 == 0) f.pubkeys.insert(k);
    }
    for (const Pubkey& k : shared_owners) {
      if (rng() % 8 == 0) f.owners.insert(k);
    }
  }
  const auto index = BuildOrDie(filters);

  auto pick = [&rng](const std::vector<Pubkey>& subscribed) {
    return rng() % 2 == 0 ? subscribed[rng() % subscribed.size()] : RandomKey(rng);
  };
  ConsumerSet out;
  size_t hits = 0;
  for (int u = 0; u < 100'000; ++u) {
    // Cross the roles now and then: a subscribed owner as the account and vice versa.
    const bool cross = rng() % 16 == 0;
    const Pubkey pubkey = pick(cross ? subscribed_owners : subscribed_pubkeys);
    const Pubkey owner = pick(cross ? subscribed_pubkeys : subscribed_owners);
    std::vector<ConsumerIndex> expected;
    for (const auto& [slot, f] : filters) {
      if (f.pubkeys.contains(pubkey) || f.owners.contains(owner)) expected.push_back(slot);
    }
    std::sort(expected.begin(), expected.end());
    index->MatchAccount(pubkey, owner, &out);
    ASSERT_EQ(Slots(out), expected) << "update " << u;
    hits += !expected.empty();
  }
  EXPECT_GT(hits, 50'000u);  // the comparison exercised real matches, not only rejections
}

TEST(SubscriptionIndexTest, Builds256ConsumersWith4000KeysEach) {
  constexpr int kConsumers = 256;
  constexpr int kKeysPerConsumer = 4000;
  std::mt19937_64 rng(99);
  std::vector<std::pair<ConsumerIndex, ConsumerFilter>> filters(kConsumers);
  const Pubkey common = RandomKey(rng);
  for (int c = 0; c < kConsumers; ++c) {
    filters[c].first = static_cast<ConsumerIndex>(c);
    filters[c].second.pubkeys.reserve(kKeysPerConsumer);
    filters[c].second.pubkeys.insert(common);
    while (filters[c].second.pubkeys.size() < kKeysPerConsumer) {
      filters[c].second.pubkeys.insert(RandomKey(rng));
    }
  }
  const auto index = BuildOrDie(filters);
  EXPECT_EQ(index->key_count(), kConsumers * (kKeysPerConsumer - 1) + 1u);
  EXPECT_GT(index->memory_bytes(), index->key_count() * sizeof(Pubkey));
  ConsumerSet out;
  index->MatchAccount(common, kNobody, &out);
  EXPECT_EQ(out.size(), static_cast<size_t>(kConsumers));
  for (int c = 0; c < kConsumers; c += 17) {
    for (const Pubkey& key : filters[c].second.pubkeys) {
      index->MatchAccount(key, kNobody, &out);
      ASSERT_TRUE(std::binary_search(out.begin(), out.end(), static_cast<ConsumerIndex>(c)));
      if (key != common) {
        ASSERT_EQ(out.size(), 1u);
      }
    }
  }
}

TEST(ConsumerSetTest, UnionKeepsOrderAndDropsDuplicates) {
  const ConsumerIndex a[] = {1, 4, 9, 1023};
  const ConsumerIndex b[] = {0, 4, 5, 9, 10};
  ConsumerSet set;
  set.AssignUnion(a, b);
  EXPECT_THAT(Slots(set), ElementsAre(0, 1, 4, 5, 9, 10, 1023));
  set.AssignUnion(a, {});
  EXPECT_THAT(Slots(set), ElementsAre(1, 4, 9, 1023));
  set.AssignUnion({}, {});
  EXPECT_TRUE(set.empty());
}

TEST(ConsumerSetTest, HoldsEveryConsumerWithoutAllocating) {
  std::vector<ConsumerIndex> all(kMaxConsumers);
  for (size_t i = 0; i < kMaxConsumers; ++i) all[i] = static_cast<ConsumerIndex>(i);
  ConsumerSet set;
  set.AssignUnion(all, absl::MakeConstSpan(all).subspan(5, 10));
  ASSERT_EQ(set.size(), kMaxConsumers);
  for (size_t i = 0; i < kMaxConsumers; ++i) EXPECT_EQ(set[i], i);
  const ConsumerSet copy = set;
  EXPECT_EQ(copy, set);
  EXPECT_EQ(copy[kMaxConsumers - 1], 1023);
  set.clear();
  EXPECT_TRUE(set.empty());
}

TEST(PubkeyHashTest, DistinguishesKeysDifferingInAnyOneByte) {
  const PubkeyHash hash;
  absl::flat_hash_set<uint64_t> hashes;
  absl::flat_hash_set<uint64_t> low7;  // the bits a Swiss table's control bytes use
  const Pubkey zero{};
  hashes.insert(hash(zero));
  for (size_t byte = 0; byte < 32; ++byte) {
    for (int value = 1; value < 256; ++value) {
      Pubkey key = zero;
      key[byte] = static_cast<uint8_t>(value);
      hashes.insert(hash(key));
      if (byte == 31) low7.insert(hash(key) & 0x7f);
    }
  }
  EXPECT_EQ(hashes.size(), 1 + 32 * 255u);
  EXPECT_GT(low7.size(), 100u);  // 255 keys over 128 values: ~110 expected if uniform
}

TEST(PubkeyHashTest, DependsOnTheSeed) {
  const Pubkey key = Key(1, 2);
  EXPECT_NE(PubkeyHash{1}(key), PubkeyHash{2}(key));
  EXPECT_EQ(PubkeyHash{1}(key), PubkeyHash{1}(key));
}

}  // namespace
}  // namespace qlaster::sender
