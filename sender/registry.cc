// Registry: slots, tokens, subscriptions and routing-table building.
#include "sender/registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace qlaster::sender {

namespace {

ConsumerSlot SlotOf(uint64_t id) { return static_cast<ConsumerSlot>(id & 0xffffffffu); }
uint32_t GenerationOf(uint64_t id) { return static_cast<uint32_t>(id >> 32); }


}  // namespace

Registry::Registry(RegistryLimits limits)
    : limits_(limits), slots_(std::min(limits.max_consumers, kMaxConsumerSlots)) {}

absl::StatusOr<uint64_t> Registry::Reserve() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.used) continue;
    s.used = true;
    ++s.generation;
    if (s.generation == 0) s.generation = 1;  // id 0 never names a consumer
    s.entry = ConsumerEntry{};
    s.entry.slot = static_cast<ConsumerSlot>(i);
    s.entry.id = (uint64_t{s.generation} << 32) | i;
    ++count_;
    return s.entry.id;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("the sender serves at most ", slots_.size(), " consumers (--max-consumers)"));
}

ConsumerEntry* Registry::Find(uint64_t id) {
  const ConsumerSlot slot = SlotOf(id);
  if (slot >= slots_.size()) return nullptr;
  Slot& s = slots_[slot];
  if (!s.used || s.generation != GenerationOf(id)) return nullptr;
  return &s.entry;
}

void Registry::Remove(uint64_t id) {
  ConsumerEntry* e = Find(id);
  if (e == nullptr) return;
  total_keys_ -= KeyCount(e->filter);
  Slot& s = slots_[SlotOf(id)];
  s.used = false;
  s.entry = ConsumerEntry{};
  --count_;
}

absl::Status Registry::ApplySubscribe(uint64_t id, const SubscribeMsg& msg) {
  ConsumerEntry* e = Find(id);
  if (e == nullptr) return absl::NotFoundError(absl::StrCat("no consumer ", id));
  ConsumerFilter next;
  if (msg.op == fb::SubscribeOp::Replace) {
    next.pubkeys.insert(msg.pubkeys.begin(), msg.pubkeys.end());
    next.owners.insert(msg.owners.begin(), msg.owners.end());
    next.transactions = msg.transactions;
  } else {
    next = e->filter;
    if (msg.op == fb::SubscribeOp::Add) {
      next.pubkeys.insert(msg.pubkeys.begin(), msg.pubkeys.end());
      next.owners.insert(msg.owners.begin(), msg.owners.end());
    } else {
      for (const Pubkey& k : msg.pubkeys) next.pubkeys.erase(k);
      for (const Pubkey& k : msg.owners) next.owners.erase(k);
    }
    if (msg.set_transactions) next.transactions = msg.transactions;
  }
  const size_t keys = KeyCount(next);
  if (keys > limits_.max_keys_per_consumer) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subscription would hold ", keys, " keys; the limit per consumer is ",
                     limits_.max_keys_per_consumer, " (--max-keys-per-consumer)"));
  }
  const size_t total = total_keys_ - KeyCount(e->filter) + keys;
  if (total > limits_.max_total_keys) {
    return absl::ResourceExhaustedError(
        absl::StrCat("subscriptions would hold ", total, " keys in all; the sender's limit is ",
                     limits_.max_total_keys, " (--max-total-keys)"));
  }
  total_keys_ = total;
  e->filter = std::move(next);
  return absl::OkStatus();
}

std::unique_ptr<RoutingTable> Registry::BuildTable() const {
  auto table = std::make_unique<RoutingTable>();
  std::vector<std::pair<ConsumerSlot, const ConsumerFilter*>> filters;
  for (const Slot& s : slots_) {
    if (!s.used || s.entry.channel == nullptr) continue;
    filters.emplace_back(s.entry.slot, &s.entry.filter);
    table->channels[s.entry.slot] = s.entry.channel.get();
    table->owners.push_back(s.entry.channel);
  }
  // Slots are unique and in range by construction, so Build cannot fail here.
  auto index = SubscriptionIndex::Build(filters);
  table->index = index.ok() ? *std::move(index) : SubscriptionIndex::Empty();
  return table;
}

std::vector<const ConsumerEntry*> Registry::Entries() const {
  std::vector<const ConsumerEntry*> out;
  for (const Slot& s : slots_) {
    if (s.used) out.push_back(&s.entry);
  }
  return out;
}

}  // namespace qlaster::sender
