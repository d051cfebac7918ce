// Dispatcher: encode once, look up, copy into each matching ring; table adoption.
#include "sender/dispatcher.h"

#include "absl/strings/str_cat.h"

namespace qlaster::sender {

Dispatcher::Dispatcher(const shm::EventFd* notify, Lz4Policy lz4) : notify_(notify), lz4_(lz4) {}

Dispatcher::~Dispatcher() = default;

absl::Status Dispatcher::PublishAccount(const AccountUpdate& update) {
  // Checked before routing, so a bad update is refused whether or not anyone wants it.
  if (update.data.size() > kMaxAccountDataSize) {
    return absl::InvalidArgumentError(absl::StrCat("account data is ", update.data.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxAccountDataSize));
  }
  Poll();
  BumpCounter(counters_.published);
  if (current_ == nullptr) return absl::OkStatus();
  current_->index->MatchAccount(update.pubkey, update.owner, &matches_);
  if (matches_.empty()) {
    BumpCounter(counters_.rejected);
    return absl::OkStatus();
  }
  // Encoded (and compressed) only once someone wants it, and only once for all of them.
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Account(update, lz4_);
  if (!encoded.ok()) return encoded.status();
  Deliver(*encoded, matches_);
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishTransaction(const TransactionUpdate& update) {
  if (update.data.size() > kMaxTransactionSize) {
    return absl::InvalidArgumentError(absl::StrCat("transaction is ", update.data.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxTransactionSize));
  }
  Poll();
  BumpCounter(counters_.published);
  if (current_ == nullptr) return absl::OkStatus();
  current_->index->MatchTransaction(update.is_vote, &matches_);
  if (matches_.empty()) {
    BumpCounter(counters_.rejected);
    return absl::OkStatus();
  }
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Transaction(update);
  if (!encoded.ok()) return encoded.status();
  Deliver(*encoded, matches_);
  return absl::OkStatus();
}

void Dispatcher::PublishSlot(const SlotUpdate& update) {
  Poll();
  BumpCounter(counters_.published);
  if (current_ == nullptr) return;
  absl::StatusOr<EncodedUpdate> encoded = EncodedUpdate::Slot(update);
  if (!encoded.ok()) return;  // a slot update has no variable part: cannot fail
  Deliver(*encoded, current_->index->all_consumers());
}

template <typename Set>
void Dispatcher::Deliver(const EncodedUpdate& update, const Set& matches) {
  const uint64_t now = clock_.Now();
  bool evicted = false;
  for (ConsumerSlot slot : matches) {
    ConsumerChannel* channel = current_->channels[slot];
    if (channel == nullptr) continue;
    if (channel->Deliver(update, now)) {
      BumpCounter(counters_.evicted);
      evicted = true;
    }
    if (batch_depth_ == 0) {
      // Wake right after each write: the first consumer need not wait for the others.
      channel->Wake();
    } else if (!pending_wake_flag_[slot]) {
      pending_wake_flag_[slot] = true;
      pending_wake_.push_back(slot);
    }
  }
  if (evicted) notify_->Notify();
}

void Dispatcher::WakePending() {
  for (ConsumerSlot slot : pending_wake_) {
    pending_wake_flag_[slot] = false;
    if (ConsumerChannel* channel = current_->channels[slot]) channel->Wake();
  }
  pending_wake_.clear();
}

void Dispatcher::Adopt() {
  // The pending wake-ups name channels of the current table, which may be freed once the
  // next one is in use: make them first.
  WakePending();
  RoutingTable* next = next_.load(std::memory_order_acquire);
  for (size_t slot = 0; slot < kMaxConsumerSlots; ++slot) {
    if (next->channels[slot] != nullptr) {
      next->adopted_after_sequence[slot] = next->channels[slot]->last_sequence();
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
