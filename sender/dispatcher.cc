// Dispatcher: route, copy into each matching ring, wake; table adoption; evictions.
#include "sender/dispatcher.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace qlaster::sender {

Dispatcher::Dispatcher(const shm::EventFd* notify, Lz4Policy lz4) : notify_(notify), lz4_(lz4) {}

Dispatcher::~Dispatcher() = default;

absl::Span<const ConsumerIndex> Dispatcher::Route(const RouteKey& key) {
  Poll();
  BumpCounter(counters_.published);
  if (current_ == nullptr) return {};
  const SubscriptionIndex& index = *current_->index;
  absl::Span<const ConsumerIndex> matches;
  switch (key.kind) {
    case fb::UpdateKind::Account:
      index.MatchAccount(key.pubkey, key.owner, &matches_);
      matches = matches_.span();
      break;
    case fb::UpdateKind::Transaction:
      matches = index.TransactionConsumers(key.is_vote);
      break;
    case fb::UpdateKind::Slot:
      matches = index.all_consumers();
      break;
    case fb::UpdateKind::BlockMeta:
    case fb::UpdateKind::Entry:
    case fb::UpdateKind::TransactionStatus:
      // Delivered only to consumers that ask for them (named subscriptions; none yet).
      break;
    case fb::UpdateKind::Gap:
    case fb::UpdateKind::None:
      break;
  }
  if (matches.empty()) BumpCounter(counters_.rejected);
  return matches;
}

void Dispatcher::Publish(const EncodedUpdate& update, const RouteKey& key) {
  const absl::Span<const ConsumerIndex> matches = Route(key);
  if (!matches.empty()) Deliver(update, matches);
}

absl::Status Dispatcher::PublishAccount(const AccountUpdate& update) {
  // Checked before routing, so a bad update is refused whether or not anyone wants it.
  if (update.data.size() > kMaxAccountDataSize) {
    return absl::InvalidArgumentError(absl::StrCat("account data is ", update.data.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxAccountDataSize));
  }
  const absl::Span<const ConsumerIndex> matches = Route(
      {.kind = fb::UpdateKind::Account, .pubkey = update.pubkey, .owner = update.owner});
  if (matches.empty()) return absl::OkStatus();
  // Encoded (and compressed) only once someone wants it, and only once for all of them.
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Account(update, lz4_));
  Deliver(encoded, matches);
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishTransaction(const TransactionUpdate& update) {
  if (update.data.size() > kMaxTransactionSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction is ", update.data.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxTransactionSize));
  }
  const absl::Span<const ConsumerIndex> matches =
      Route({.kind = fb::UpdateKind::Transaction, .is_vote = update.is_vote});
  if (matches.empty()) return absl::OkStatus();
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Transaction(update));
  Deliver(encoded, matches);
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishSlot(const SlotUpdate& update) {
  // Encoded first: an unknown status is refused whether or not anyone is connected.
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Slot(update));
  Publish(encoded, {.kind = fb::UpdateKind::Slot});
  return absl::OkStatus();
}

void Dispatcher::Deliver(const EncodedUpdate& update, absl::Span<const ConsumerIndex> matches) {
  const uint64_t now = clock_.Now();
  bool evicted = false;
  for (ConsumerIndex who : matches) {
    ConsumerChannel* channel = current_->channels[who];
    if (channel == nullptr) continue;
    if (channel->Deliver(update, now)) {
      BumpCounter(counters_.evicted);
      evicted = true;
      if (!events_.Push({.consumer_id = channel->consumer_id(),
                         .reason = channel->evict_reason(),
                         .ring_fill = channel->evict_fill(),
                         .last_sequence = channel->last_sequence()})) {
        events_overflowed_.store(true, std::memory_order_release);
      }
    }
    if (batch_depth_ == 0) {
      // Wake right after each write: the first consumer need not wait for the others.
      channel->Wake();
    } else if (!pending_wake_flag_[who]) {
      pending_wake_flag_[who] = true;
      pending_wake_.push_back(who);
    }
  }
  if (evicted) notify_->Notify();
}

void Dispatcher::WakePending() {
  for (ConsumerIndex who : pending_wake_) {
    pending_wake_flag_[who] = false;
    if (ConsumerChannel* channel = current_->channels[who]) channel->Wake();
  }
  pending_wake_.clear();
}

void Dispatcher::Adopt() {
  // The pending wake-ups name channels of the current table, which may be freed once the
  // next one is in use: make them first.
  WakePending();
  RoutingTable* next = next_.load(std::memory_order_acquire);
  for (size_t who = 0; who < kMaxConsumers; ++who) {
    if (next->channels[who] != nullptr) {
      next->adopted_after_sequence[who] = next->channels[who]->last_sequence();
    }
  }
  current_ = next;
  in_use_.store(next, std::memory_order_release);
  notify_->Notify();
}

const RoutingTable* Dispatcher::Install(std::unique_ptr<RoutingTable> table) {
  table->version = next_version_++;
  RoutingTable* raw = table.get();
  tables_.push_back(std::move(table));
  next_.store(raw, std::memory_order_release);
  return raw;
}

void Dispatcher::CollectGarbage() {
  const RoutingTable* in_use = in_use_.load(std::memory_order_acquire);
  if (in_use == nullptr) return;
  // Tables are installed in order and the dispatcher only ever loads the newest, so once
  // it uses `in_use` it can never reach an older one again.
  while (!tables_.empty() && tables_.front().get() != in_use) tables_.pop_front();
}

}  // namespace qlaster::sender
