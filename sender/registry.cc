// Registry: seats, tokens, subscription deltas and routing-table building.
#include "sender/registry.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

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

bool HasNamedChanges(const SubscribeMsg& m) {
  return !m.accounts.empty() || !m.transaction_filters.empty() ||
         !m.transaction_status_filters.empty() || !m.slots.empty() || !m.blocks_meta.empty() ||
         !m.entries.empty();
}

// Sorted, without repeats: keys are counted once however often they were sent.
void Normalize(std::vector<Pubkey>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

template <typename Map>
absl::Status CheckCount(absl::string_view kind, const Map& map, const RegistryLimits& limits) {
  if (map.size() > limits.max_filters_per_kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subscription would hold ", map.size(), " ", kind, " filters; the limit is ",
        limits.max_filters_per_kind, " per kind (--max_filters_per_kind)"));
  }
  return absl::OkStatus();
}

absl::Status CheckKeys(absl::string_view kind, const std::string& name, absl::string_view what,
                       size_t keys, const RegistryLimits& limits) {
  if (keys > limits.max_keys_per_filter) {
    return absl::InvalidArgumentError(absl::StrCat(
        kind, " filter '", name, "' would hold ", keys, " ", what, "; the limit is ",
        limits.max_keys_per_filter, " per filter (--max_keys_per_filter)"));
  }
  return absl::OkStatus();
}

absl::Status CheckSelector(absl::string_view kind, const std::string& name,
                           const TransactionSelector& t, const RegistryLimits& limits) {
  QLASTER_RETURN_IF_ERROR(
      CheckKeys(kind, name, "account_include keys", t.account_include.size(), limits));
  QLASTER_RETURN_IF_ERROR(
      CheckKeys(kind, name, "account_exclude keys", t.account_exclude.size(), limits));
  return CheckKeys(kind, name, "account_required keys", t.account_required.size(), limits);
}

uint16_t AllBits(size_t n) { return static_cast<uint16_t>((1u << n) - 1); }

// For each slot status, the bits of `f`'s slot filters that a slot update of that status
// matches (Yellowstone's rules): with filter_by_commitment only the status of the
// consumer's own level; without interslot_updates only processed, confirmed and rooted.
std::array<uint16_t, kSlotStatuses> SlotBits(const ConsumerFilter& f) {
  std::array<uint16_t, kSlotStatuses> bits{};
  uint16_t bit = 1;
  for (const auto& [name, selector] : f.named.slots) {
    for (size_t s = 0; s < kSlotStatuses; ++s) {
      const auto status = static_cast<SlotStatus>(s);
      const bool main_status = status == SlotStatus::kProcessed ||
                               status == SlotStatus::kConfirmed || status == SlotStatus::kRooted;
      if (selector.filter_by_commitment && status != StatusOfLevel(f.commitment)) continue;
      if (!selector.interslot_updates && !main_status) continue;
      bits[s] |= bit;
    }
    bit = static_cast<uint16_t>(bit << 1);
  }
  return bits;
}

// Applies the named part of `msg` to `*set` (for Replace, an empty set) and checks the
// named-filter limits on the result.
absl::Status ApplyNamed(const SubscribeMsg& msg, const RegistryLimits& limits,
                        NamedFilterSet* set) {
  if (msg.op == fb::SubscribeOp::Remove) {
    for (const NamedAccountFilter& n : msg.accounts) set->accounts.erase(n.name);
    for (const NamedTransactionSelector& n : msg.transaction_filters) set->transactions.erase(n.name);
    for (const NamedTransactionSelector& n : msg.transaction_status_filters) {
      set->statuses.erase(n.name);
    }
    for (const NamedSlotSelector& n : msg.slots) set->slots.erase(n.name);
    for (const std::string& n : msg.blocks_meta) set->blocks_meta.erase(n);
    for (const std::string& n : msg.entries) set->entries.erase(n);
    return absl::OkStatus();
  }
  for (const NamedAccountFilter& n : msg.accounts) {
    AccountFilter* f = nullptr;
    if (n.append) {
      auto it = set->accounts.find(n.name);
      if (it == set->accounts.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("no account filter '", n.name, "' to append keys to"));
      }
      f = &it->second;
      f->pubkeys.insert(f->pubkeys.end(), n.filter.pubkeys.begin(), n.filter.pubkeys.end());
      f->owners.insert(f->owners.end(), n.filter.owners.begin(), n.filter.owners.end());
    } else {
      f = &(set->accounts[n.name] = n.filter);
    }
    Normalize(f->pubkeys);
    Normalize(f->owners);
    QLASTER_RETURN_IF_ERROR(CheckKeys("account", n.name, "pubkeys and owners",
                                      f->pubkeys.size() + f->owners.size(), limits));
  }
  for (const NamedTransactionSelector& n : msg.transaction_filters) {
    QLASTER_RETURN_IF_ERROR(CheckSelector("transaction", n.name, n.selector, limits));
    set->transactions[n.name] = n.selector;
  }
  for (const NamedTransactionSelector& n : msg.transaction_status_filters) {
    QLASTER_RETURN_IF_ERROR(CheckSelector("transaction status", n.name, n.selector, limits));
    set->statuses[n.name] = n.selector;
  }
  for (const NamedSlotSelector& n : msg.slots) set->slots[n.name] = n.selector;
  set->blocks_meta.insert(msg.blocks_meta.begin(), msg.blocks_meta.end());
  set->entries.insert(msg.entries.begin(), msg.entries.end());
  QLASTER_RETURN_IF_ERROR(CheckCount("account", set->accounts, limits));
  QLASTER_RETURN_IF_ERROR(CheckCount("transaction", set->transactions, limits));
  QLASTER_RETURN_IF_ERROR(CheckCount("transaction status", set->statuses, limits));
  QLASTER_RETURN_IF_ERROR(CheckCount("slot", set->slots, limits));
  QLASTER_RETURN_IF_ERROR(CheckCount("block meta", set->blocks_meta, limits));
  return CheckCount("entry", set->entries, limits);
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
  const bool replace = msg.op == fb::SubscribeOp::Replace;
  if (msg.from_slot.has_value() && !replace) {
    return absl::InvalidArgumentError("from_slot is allowed only with op Replace");
  }
  if (msg.options.has_value() && msg.options->data_slices.size() > limits_.max_data_slices) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subscription has ", msg.options->data_slices.size(),
        " data slices; the limit is ", limits_.max_data_slices, " (--max_data_slices)"));
  }
  // The named part is changed on a copy (or built afresh), so an error leaves it as it was.
  std::optional<NamedFilterSet> named;
  if (replace || HasNamedChanges(msg)) {
    named = replace ? NamedFilterSet{} : f.named;
    QLASTER_RETURN_IF_ERROR(ApplyNamed(msg, limits_, &*named));
  }
  const size_t named_keys = named.has_value() ? named->KeyCount() : f.named_keys;

  const size_t before = KeyCount(f);
  // The size the change leaves, before anything is changed.
  size_t after = named_keys;
  switch (msg.op) {
    case fb::SubscribeOp::Replace: {
      KeySet empty;
      after += CountChange(empty, msg.pubkeys, true) + CountChange(empty, msg.owners, true);
      break;
    }
    case fb::SubscribeOp::Add:
      after += f.pubkeys.size() + f.owners.size() + CountChange(f.pubkeys, msg.pubkeys, true) +
               CountChange(f.owners, msg.owners, true);
      break;
    case fb::SubscribeOp::Remove:
      after += f.pubkeys.size() + f.owners.size() - CountChange(f.pubkeys, msg.pubkeys, false) -
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
      f.commitment = Commitment::kProcessed;
      f.data_slices.clear();
      f.from_slot = msg.from_slot;
      if (msg.from_slot.has_value()) f.replay_request = next_replay_request_++;
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
  if (named.has_value()) {
    f.named = *std::move(named);
    f.named_keys = named_keys;
  }
  if (msg.options.has_value()) {
    f.commitment = msg.options->commitment;
    f.data_slices = msg.options->data_slices;
  }
  total_keys_ = total;
  return absl::OkStatus();
}

void Registry::ClearReplayRequest(uint64_t id, uint64_t request) {
  ConsumerEntry* e = Find(id);
  if (e != nullptr && e->filter.replay_request == request) e->filter.from_slot.reset();
}

absl::StatusOr<std::unique_ptr<RoutingTable>> Registry::BuildTable() const {
  auto table = std::make_unique<RoutingTable>();
  std::array<std::vector<SubscriptionIndex::ConsumerEntry>, kCommitmentLevels> unnamed;
  std::array<std::vector<NamedFilters::Consumer>, kCommitmentLevels> named;
  for (const Seat& s : seats_) {
    if (!s.used || s.entry.channel == nullptr) continue;
    const ConsumerIndex who = s.entry.index;
    const ConsumerFilter& f = s.entry.filter;
    const size_t level = LevelOf(f.commitment);
    unnamed[level].emplace_back(who, &f);
    if (!f.named.empty()) named[level].push_back({who, &f.named});
    LevelRoutes& routes = table->levels[level];
    routes.consumers.push_back(who);
    if (!f.named.blocks_meta.empty()) {
      routes.blocks_meta.push_back({who, AllBits(f.named.blocks_meta.size())});
    }
    if (!f.named.entries.empty()) routes.entries.push_back({who, AllBits(f.named.entries.size())});
    table->channels[who] = s.entry.channel.get();
    table->owners.push_back(s.entry.channel);
    table->all.push_back(who);
    table->commitment[who] = f.commitment;
    table->slices[who] = f.data_slices;
    table->slot_bits[who] = SlotBits(f);
    table->any_commitment |= level != LevelOf(Commitment::kProcessed);
    table->any_subscription |=
        KeyCount(f) > 0 || f.transactions != TransactionFilter::kNone || !f.named.empty();
    if (f.from_slot.has_value()) {
      table->replays.push_back({.who = who, .from_slot = *f.from_slot, .request = f.replay_request});
    }
  }
  for (size_t level = 0; level < kCommitmentLevels; ++level) {
    LevelRoutes& routes = table->levels[level];
    const uint64_t seed = RandomHashSeed();
    routes.named = NamedFilters::Build(named[level], seed);
    std::vector<Pubkey> bloom_keys;
    routes.named.AppendBloomKeys(&bloom_keys);
    absl::StatusOr<std::unique_ptr<const SubscriptionIndex>> index =
        SubscriptionIndex::Build(unnamed[level], bloom_keys, seed);
    if (!index.ok()) {
      return absl::InternalError(
          absl::StrCat("building the routing table: ", index.status().message()));
    }
    routes.index = *std::move(index);
  }
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
