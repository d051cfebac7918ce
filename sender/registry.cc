// Registry: seats, tokens, subscription deltas and routing-table building.
#include "sender/registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace qlaster::sender {

namespace {

ConsumerIndex SeatOf(uint64_t id) { return static_cast<ConsumerIndex>(id & 0xffffffffu); }
uint32_t GenerationOf(uint64_t id) { return static_cast<uint32_t>(id >> 32); }

using KeySet = absl::flat_hash_set<Pubkey, PubkeyHash>;

// Distinct keys of `keys` that `set` lacks (add = true) or holds (add = false).
size_t CountChange(const KeySet& set, const std::vector<Pubkey>& keys, bool add) {
  KeySet seen;
  size_t n = 0;
  for (const Pubkey& k : keys) {
    if (set.contains(k) != add && seen.insert(k).second) ++n;
  }
  return n;
}

}  // namespace

Registry::Registry(RegistryLimits limits)
    : limits_(limits), seats_(std::min(limits.max_consumers, kMaxConsumers)) {}

absl::StatusOr<uint64_t> Registry::Reserve() {
  for (size_t i = 0; i < seats_.size(); ++i) {
    Seat& s = seats_[i];
    if (s.used) continue;
    s.used = true;
    ++s.generation;
    if (s.generation == 0) s.generation = 1;  // id 0 never names a consumer
    s.entry = ConsumerEntry{};
    s.entry.index = static_cast<ConsumerIndex>(i);
    s.entry.id = (uint64_t{s.generation} << 32) | i;
    ++count_;
    return s.entry.id;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("the sender serves at most ", seats_.size(), " consumers (--max_consumers)"));
}

ConsumerEntry* Registry::Find(uint64_t id) {
  return const_cast<ConsumerEntry*>(static_cast<const Registry*>(this)->Find(id));
}

const ConsumerEntry* Registry::Find(uint64_t id) const {
  const ConsumerIndex seat = SeatOf(id);
  if (seat >= seats_.size()) return nullptr;
  const Seat& s = seats_[seat];
  if (!s.used || s.generation != GenerationOf(id)) return nullptr;
  return &s.entry;
}

void Registry::Remove(uint64_t id) {
  ConsumerEntry* e = Find(id);
  if (e == nullptr) return;
  total_keys_ -= KeyCount(e->filter);
  Seat& s = seats_[SeatOf(id)];
  s.used = false;
  s.entry = ConsumerEntry{};
  --count_;
}

absl::Status Registry::ApplySubscribe(uint64_t id, const SubscribeMsg& msg) {
  ConsumerEntry* e = Find(id);
  if (e == nullptr) return absl::NotFoundError(absl::StrCat("no consumer ", id));
  ConsumerFilter& f = e->filter;
  const size_t before = KeyCount(f);
  // The size the change leaves, before anything is changed.
  size_t after = 0;
  switch (msg.op) {
    case fb::SubscribeOp::Replace: {
      KeySet empty;
      after = CountChange(empty, msg.pubkeys, true) + CountChange(empty, msg.owners, true);
      break;
    }
    case fb::SubscribeOp::Add:
      after = before + CountChange(f.pubkeys, msg.pubkeys, true) +
              CountChange(f.owners, msg.owners, true);
      break;
    case fb::SubscribeOp::Remove:
      after = before - CountChange(f.pubkeys, msg.pubkeys, false) -
              CountChange(f.owners, msg.owners, false);
      break;
  }
  if (after > limits_.max_keys_per_consumer) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subscription would hold ", after, " keys; the limit per consumer is ",
                     limits_.max_keys_per_consumer, " (--max_keys_per_consumer)"));
  }
  const size_t total = total_keys_ - before + after;
  if (total > limits_.max_total_keys) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subscriptions would hold ", total, " keys in all; the sender's limit is ",
                     limits_.max_total_keys, " (--max_total_keys)"));
  }
  switch (msg.op) {
    case fb::SubscribeOp::Replace:
      f.pubkeys = KeySet(msg.pubkeys.begin(), msg.pubkeys.end());
      f.owners = KeySet(msg.owners.begin(), msg.owners.end());
      f.transactions = msg.transactions;
      break;
    case fb::SubscribeOp::Add:
      f.pubkeys.insert(msg.pubkeys.begin(), msg.pubkeys.end());
      f.owners.insert(msg.owners.begin(), msg.owners.end());
      if (msg.set_transactions) f.transactions = msg.transactions;
      break;
    case fb::SubscribeOp::Remove:
      for (const Pubkey& k : msg.pubkeys) f.pubkeys.erase(k);
      for (const Pubkey& k : msg.owners) f.owners.erase(k);
      if (msg.set_transactions) f.transactions = msg.transactions;
      break;
  }
  total_keys_ = total;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RoutingTable>> Registry::BuildTable() const {
  auto table = std::make_unique<RoutingTable>();
  std::vector<SubscriptionIndex::ConsumerEntry> filters;
  for (const Seat& s : seats_) {
    if (!s.used || s.entry.channel == nullptr) continue;
    filters.emplace_back(s.entry.index, &s.entry.filter);
    table->channels[s.entry.index] = s.entry.channel.get();
    table->owners.push_back(s.entry.channel);
  }
  absl::StatusOr<std::unique_ptr<const SubscriptionIndex>> index = SubscriptionIndex::Build(filters);
  if (!index.ok()) {
    return absl::InternalError(absl::StrCat("building the routing table: ", index.status().message()));
  }
  table->index = *std::move(index);
  return table;
}

std::vector<const ConsumerEntry*> Registry::Entries() const {
  std::vector<const ConsumerEntry*> out;
  for (const Seat& s : seats_) {
    if (s.used) out.push_back(&s.entry);
  }
  return out;
}

}  // namespace qlaster::sender
