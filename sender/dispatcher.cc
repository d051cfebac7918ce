// Dispatcher: route, copy into each matching ring, wake; the update log's releases and
// replays; table adoption; evictions.
#include "sender/dispatcher.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace qlaster::sender {
namespace {

constexpr size_t kProcessed = 0;

}  // namespace

Dispatcher::Dispatcher(const shm::EventFd* notify, DispatcherOptions options)
    : notify_(notify), lz4_(options.lz4) {
  if (options.log.has_value()) log_ = std::make_unique<UpdateLog>(*options.log);
}

Dispatcher::~Dispatcher() = default;

// ------------------------------------------------------------------ matching

// ------------------------------------------------------------------ delivery

ConsumerChannel::DeliverResult Dispatcher::DeliverOne(const EncodedUpdate& update,
                                                      ConsumerIndex who, uint16_t bits,
                                                      Target target) {
  ConsumerChannel* channel = current_->channels[who];
  if (channel == nullptr) return ConsumerChannel::DeliverResult::kWritten;
  const EncodedUpdate* out = &update;
  std::optional<EncodedUpdate> sliced;
  const std::vector<DataSlice>& slices = current_->slices[who];
  if (!slices.empty() && update.kind() == fb::UpdateKind::Account) {
    absl::StatusOr<EncodedUpdate> s =
        EncodedUpdate::Sliced(update, slices, &slice_storage_, matcher_.inflated_data());
    if (s.ok()) {
      sliced = *std::move(s);
      out = &*sliced;
    } else {
      // Data that does not decompress goes as it is: the consumer's own decompression
      // reports it.
      QLASTER_LOG_RATE_LIMITED(kWarning, "account data of slot %d cannot be sliced: %s",
                               ReadStruct<fb::AccountHeader>(update.fixed()).slot(),
                               s.status().message());
    }
  }
  ConsumerChannel::DeliverResult r;
  if (target == Target::kLive) {
    r = channel->Deliver(*out, timestamp_, bits) ? ConsumerChannel::DeliverResult::kEvicted
                                                 : ConsumerChannel::DeliverResult::kWritten;
  } else {
    r = channel->TryDeliver(*out, timestamp_, bits);
  }
  if (r != ConsumerChannel::DeliverResult::kFull) AfterWrite(who, r, channel);
  return r;
}

void Dispatcher::AfterWrite(ConsumerIndex who, ConsumerChannel::DeliverResult r,
                            ConsumerChannel* channel) {
  if (r == ConsumerChannel::DeliverResult::kEvicted) {
    BumpCounter(counters_.evicted);
    if (!events_.Push({.consumer_id = channel->consumer_id(),
                       .reason = channel->evict_reason(),
                       .ring_fill = channel->evict_fill(),
                       .last_sequence = channel->last_sequence()})) {
      events_overflowed_.store(true, std::memory_order_release);
    }
    notify_->Notify();
  }
  if (channel->gap_pending()) NoteGap(who, channel);
  if (batch_depth_ == 0) {
    // Wake right after each write: the first consumer need not wait for the others.
    WakeOrDefer(who, channel);
  } else if (!pending_wake_flag_[who]) {
    pending_wake_flag_[who] = true;
    pending_wake_.push_back(who);
  }
}

ConsumerChannel::DeliverResult Dispatcher::Route(const EncodedUpdate& update, const RouteKey& key,
                                                 size_t level, Target target, ConsumerIndex only,
                                                 Cursor* cursor) {
  if (!matcher_.Match(update, key, *current_, current_->levels[level])) {
    if (target == Target::kLive && level == kProcessed) BumpCounter(counters_.rejected);
    return ConsumerChannel::DeliverResult::kWritten;
  }
  const FilterMatches& statuses = matcher_.statuses();
  if (target == Target::kLive) {
    bool any = false;
    matcher_.ForEach([&](ConsumerIndex who, uint16_t bits) {
      if (is_catching_up_[who]) return;
      any = true;
      DeliverOne(update, who, bits, Target::kLive);
    });
    if (!statuses.empty()) {
      absl::StatusOr<EncodedUpdate> status = EncodedUpdate::StatusOf(update, matcher_.error());
      if (status.ok()) {
        for (size_t i = 0; i < statuses.size(); ++i) {
          const ConsumerIndex who = statuses.who(i);
          if (is_catching_up_[who]) continue;
          any = true;
          DeliverOne(*status, who, statuses.bits(i), Target::kLive);
        }
      }
    }
    if (!any && level == kProcessed) BumpCounter(counters_.rejected);
    return ConsumerChannel::DeliverResult::kWritten;
  }
  // One consumer, reading the log: the update, then its derived status; an update whose
  // ring is full is tried again later, from where it stopped.
  if (!cursor->primary_done) {
    if (const std::optional<uint16_t> bits = matcher_.BitsOf(only)) {
      const ConsumerChannel::DeliverResult r = DeliverOne(update, only, *bits, Target::kCursor);
      if (r != ConsumerChannel::DeliverResult::kWritten) return r;
    }
    cursor->primary_done = true;
  }
  if (const uint16_t bits = statuses.bits_of(only); bits != 0) {
    absl::StatusOr<EncodedUpdate> status = EncodedUpdate::StatusOf(update, matcher_.error());
    if (status.ok()) {
      const ConsumerChannel::DeliverResult r = DeliverOne(*status, only, bits, Target::kCursor);
      if (r != ConsumerChannel::DeliverResult::kWritten) return r;
    }
  }
  cursor->primary_done = false;
  return ConsumerChannel::DeliverResult::kWritten;
}

// ------------------------------------------------------------------ publishing

void Dispatcher::Publish(const EncodedUpdate& update, const RouteKey& key) {
  Poll();
  highest_slot_ = std::max(highest_slot_, key.slot);
  BumpCounter(counters_.published);
  BumpCounter(counters_.published_by_kind[static_cast<size_t>(update.kind()) & 7]);
  if (current_ == nullptr) {
    BumpCounter(counters_.rejected);
    timestamp_ = clock_.Now();
    AppendToLog(update, key);
    return;
  }
  PublishLive(update, key);
}

void Dispatcher::PublishLive(const EncodedUpdate& update, const RouteKey& key) {
  timestamp_ = clock_.Now();
  if (key.kind == fb::UpdateKind::Slot && log_ != nullptr) {
    // The slots this status brings to a level go to that level first, then the status
    // to everyone.
    const UpdateLog::Position at = log_->Append(update, key, timestamp_);
    if (log_->entry(at).releases && current_->any_commitment) Release(at);
    if (!lost_.empty()) ForgetLost();
    timestamp_ = clock_.Now();
    Route(update, key, kProcessed, Target::kLive);
    EvictFromLog();
  } else {
    Route(update, key, kProcessed, Target::kLive);
    AppendToLog(update, key);
  }
  if (!catching_up_.empty()) CatchUp(kCatchUpPublishBudget);
  if (const uint64_t unparsed = matcher_.unparsed_transactions();
      unparsed != counters_.unparsed_transactions.load(std::memory_order_relaxed)) {
    counters_.unparsed_transactions.store(unparsed, std::memory_order_relaxed);
  }
}

void Dispatcher::AppendToLog(const EncodedUpdate& update, const RouteKey& key) {
  if (log_ == nullptr) return;
  log_->Append(update, key, timestamp_);
  if (!lost_.empty() && key.kind == fb::UpdateKind::Account) {
    // A lost write this one supersedes would never have been released.
    for (size_t level = 1; level < kCommitmentLevels; ++level) {
      if (auto it = lost_.find({key.slot, level}); it != lost_.end()) {
        it->second.accounts.erase(key.pubkey);
      }
    }
  }
  EvictFromLog();
}

void Dispatcher::ForgetLost() {
  // Lost updates of slots that will never be released (dead, abandoned, or long gone).
  for (auto it = lost_.begin(); it != lost_.end();) {
    const uint64_t slot = it->first.first;
    if (log_->Dead(slot) || log_->SlotPositions(slot) == nullptr) {
      it = lost_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status Dispatcher::PublishAccount(const AccountUpdate& update) {
  // Checked before routing, so a bad update is refused whether or not anyone wants it.
  if (update.data.size() > kMaxAccountDataSize) {
    return absl::InvalidArgumentError(absl::StrCat("account data is ", update.data.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxAccountDataSize));
  }
  const RouteKey key{.kind = fb::UpdateKind::Account,
                     .pubkey = update.pubkey,
                     .owner = update.owner,
                     .slot = update.slot};
  if (log_ == nullptr) {
    // Without a log, an update nobody wants is never encoded (nor compressed).
    Poll();
    bool wanted = false;
    if (current_ != nullptr) {
      const LevelRoutes& level = current_->levels[kProcessed];
      // The Bloom filter holds the named filters' pubkeys and owners too, so only named
      // filters that must see every account make an update wanted past a Bloom miss.
      const bool maybe = level.index->MatchAccount(update.pubkey, update.owner, &unnamed_scratch_);
      wanted = level.named.has_scan_accounts() ||
               (maybe && (level.named.has_accounts() || !unnamed_scratch_.empty()));
    }
    if (!wanted) {
      highest_slot_ = std::max(highest_slot_, update.slot);
      BumpCounter(counters_.published);
      BumpCounter(counters_.published_by_kind[static_cast<size_t>(fb::UpdateKind::Account)]);
      BumpCounter(counters_.rejected);
      return absl::OkStatus();
    }
  }
  QLASTER_RETURN_IF_ERROR(EncodedUpdate::AccountInto(update, lz4_, &account_));
  Publish(account_, key);
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishTransaction(const TransactionUpdate& update) {
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Transaction(update));
  Publish(encoded, {.kind = fb::UpdateKind::Transaction,
                    .is_vote = update.is_vote,
                    .failed = update.failed,
                    .slot = update.slot});
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishSlot(const SlotUpdate& update) {
  // Encoded first: an unknown status is refused whether or not anyone is connected.
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Slot(update));
  Publish(encoded, {.kind = fb::UpdateKind::Slot, .slot = update.slot});
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishBlockMeta(const BlockMetaUpdate& update) {
  QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::BlockMeta(update));
  Publish(encoded, {.kind = fb::UpdateKind::BlockMeta, .slot = update.slot});
  return absl::OkStatus();
}

absl::Status Dispatcher::PublishEntry(const EntryUpdate& update) {
  Publish(EncodedUpdate::Entry(update), {.kind = fb::UpdateKind::Entry, .slot = update.slot});
  return absl::OkStatus();
}

void Dispatcher::PublishGap(uint64_t count) {
  Poll();
  if (current_ == nullptr || count == 0) return;
  for (ConsumerIndex who : current_->all) {
    if (ConsumerChannel* channel = current_->channels[who]) {
      channel->Skip(count);
      NoteGap(who, channel);
    }
  }
  // Told now, not with the consumer's next update (which may be long in coming).
  FlushGaps();
}

void Dispatcher::FlushGaps() {
  const uint64_t now = clock_.Now();
  size_t kept = 0;
  for (ConsumerIndex who : gap_pending_) {
    ConsumerChannel* channel = current_ == nullptr ? nullptr : current_->channels[who];
    if (channel != nullptr && !channel->FlushGap(now)) {
      gap_pending_[kept++] = who;  // its ring is still full
      continue;
    }
    gap_pending_flag_[who] = false;
    if (channel != nullptr) WakeOrDefer(who, channel);
  }
  gap_pending_.resize(kept);
}

// ------------------------------------------------------------------ the update log

void Dispatcher::Release(UpdateLog::Position at) {
  for (Commitment level : {Commitment::kConfirmed, Commitment::kFinalized}) {
    if (current_->levels[LevelOf(level)].empty()) continue;
    const std::vector<uint64_t>* slots = log_->Released(at, level);
    if (slots == nullptr) continue;
    for (uint64_t slot : *slots) ReleaseSlot(slot, level, log_->entry(at).slot);
  }
}

absl::StatusOr<EncodedUpdate> Dispatcher::AncestorStatus(uint64_t slot, Commitment level) const {
  return EncodedUpdate::Slot(
      {.slot = slot,
       .parent = log_->ParentOf(slot),
       .status = level == Commitment::kConfirmed ? SlotStatus::kConfirmed : SlotStatus::kRooted});
}

void Dispatcher::ReleaseSlot(uint64_t slot, Commitment level, uint64_t status_slot) {
  // What the log lost of this slot reaches the level's consumers first, as a gap.
  if (auto it = lost_.find({slot, LevelOf(level)}); it != lost_.end()) {
    auto skip = [&](ConsumerIndex who, uint64_t n) {
      if (ConsumerChannel* ch = current_->channels[who]; ch != nullptr && n > 0) {
        ch->Skip(n);
        NoteGap(who, ch);
        counters_.log_gap_updates.fetch_add(n, std::memory_order_relaxed);
      }
    };
    for (const auto& [pubkey, who] : it->second.accounts) {
      for (ConsumerIndex w : who) skip(w, 1);
    }
    for (const auto& [who, n] : it->second.others) skip(who, n);
    lost_.erase(it);
  }
  const std::vector<UpdateLog::Position>* positions = log_->ResolveSlot(slot);
  if (positions == nullptr) return;
  BumpCounter(counters_.released_slots);
  for (UpdateLog::Position p : *positions) {
    if (p < log_->begin()) continue;  // evicted: its consumers were told by a gap
    const UpdateLog::Entry& e = log_->entry(p);
    if (e.superseded || e.kind == fb::UpdateKind::Slot) continue;
    RouteKey key;
    absl::StatusOr<EncodedUpdate> u = FromLog(p, &key);
    if (!u.ok()) continue;
    Route(*u, key, LevelOf(level), Target::kLive);
  }
  if (slot == status_slot) return;  // its own status follows, to everyone
  absl::StatusOr<EncodedUpdate> status = AncestorStatus(slot, level);
  if (!status.ok()) return;
  const size_t s = static_cast<size_t>(level == Commitment::kConfirmed ? SlotStatus::kConfirmed
                                                                        : SlotStatus::kRooted);
  for (ConsumerIndex who : current_->levels[LevelOf(level)].consumers) {
    if (!is_catching_up_[who]) DeliverOne(*status, who, current_->slot_bits[who][s], Target::kLive);
  }
}

absl::StatusOr<EncodedUpdate> Dispatcher::FromLog(UpdateLog::Position p, RouteKey* key) {
  const absl::Span<const uint8_t> frame = log_->frame(p);
  absl::StatusOr<EncodedUpdate> u = EncodedUpdate::FromFrame(frame, Lz4Policy::Never(), key);
  if (!u.ok()) {
    // The log holds frames this process encoded: this is a bug, not bad input.
    QLASTER_LOG_RATE_LIMITED(kError, "update log entry %d does not decode: %s", p,
                             u.status().message());
    return u.status();
  }
  timestamp_ = ReadStruct<fb::FrameHeader>(frame).timestamp_ns();
  return u;
}

void Dispatcher::EvictFromLog() {
  if (!log_->MustEvict()) {
    counters_.log_bytes.store(log_->bytes(), std::memory_order_relaxed);
    counters_.log_entries.store(log_->size(), std::memory_order_relaxed);
    return;
  }
  const uint64_t saved_timestamp = timestamp_;
  const bool commitment = current_ != nullptr && current_->any_commitment;
  uint64_t deferred = 0;
  log_->Evict([&](UpdateLog::Position p, const UpdateLog::Entry& e, absl::Span<const uint8_t>) {
    if (current_ == nullptr) return;
    // Who would still have read this entry: consumers whose cursor has not passed it,
    // and commitment levels whose release of its slot is still to come.
    bool behind = false;
    for (ConsumerIndex who : catching_up_) behind |= cursors_[who].next <= p;
    if (!behind && !commitment) return;  // the common case: nobody reads the log
    const bool counts = !log_->Superseded(p) && !log_->Dead(e.slot);
    if (!behind && !(counts && e.kind != fb::UpdateKind::Slot)) return;
    RouteKey key;
    absl::StatusOr<EncodedUpdate> u = FromLog(p, &key);
    if (!u.ok()) return;
    for (size_t level = 0; level < kCommitmentLevels; ++level) {
      const LevelRoutes& routes = current_->levels[level];
      if (routes.empty()) continue;
      const auto c = static_cast<Commitment>(level);
      if (!matcher_.Match(*u, key, *current_, routes)) continue;
      const std::optional<UpdateLog::Position> reached = log_->ReachedAt(e.slot, c);
      const bool account = e.kind == fb::UpdateKind::Account;
      // A consumer of a commitment level would have had this entry when its slot is
      // released: counted then (a later write of the account may still supersede it, the
      // slot may still die).
      auto defer = [&](ConsumerIndex who, bool as_account) {
        LostUpdates& lost = lost_[{e.slot, level}];
        ++deferred;
        if (as_account) {
          lost.accounts[key.pubkey].push_back(who);
        } else {
          ++lost.others[who];
        }
      };
      auto skip_now = [&](ConsumerIndex who) {
        if (ConsumerChannel* ch = current_->channels[who]) {
          ch->Skip(1);
          NoteGap(who, ch);
          BumpCounter(counters_.log_gap_updates);
        }
      };
      auto lost = [&](ConsumerIndex who, bool is_status) {
        const bool as_account = account && !is_status;
        if (is_catching_up_[who]) {
          const Cursor& cur = cursors_[who];
          if (e.slot < cur.from_slot) return;
          if (c == Commitment::kProcessed || e.kind == fb::UpdateKind::Slot) {
            if (cur.next <= p) skip_now(who);
            return;
          }
          // A commitment consumer reads a slot's updates where the slot was released.
          if (!counts) return;
          if (!reached.has_value()) {
            defer(who, as_account);
          } else if (*reached >= cur.next) {
            skip_now(who);
          }
          return;
        }
        // Live consumers have had everything of the processed level and every slot
        // status; a commitment level still waits for a slot not yet released.
        if (c != Commitment::kProcessed && e.kind != fb::UpdateKind::Slot && counts &&
            !reached.has_value()) {
          defer(who, as_account);
        }
      };
      matcher_.ForEach([&](ConsumerIndex who, uint16_t) { lost(who, false); });
      const FilterMatches& statuses = matcher_.statuses();
      for (size_t i = 0; i < statuses.size(); ++i) lost(statuses.who(i), true);
    }
  });
  timestamp_ = saved_timestamp;
  if (deferred > 0) {
    QLASTER_LOG_RATE_LIMITED(kWarning,
                             "update log full (--commitment_buffer_bytes): %d updates of slots "
                             "not yet confirmed or finalized evicted; their confirmed and "
                             "finalized consumers get a gap with the count when the slot "
                             "gets there",
                             deferred);
  }
  counters_.log_bytes.store(log_->bytes(), std::memory_order_relaxed);
  counters_.log_entries.store(log_->size(), std::memory_order_relaxed);
}

void Dispatcher::StartReplays() {
  // Cursors of consumers that left (or whose seat another consumer took) go.
  for (size_t i = 0; i < catching_up_.size();) {
    const ConsumerIndex who = catching_up_[i];
    if (current_->channels[who] != cursors_[who].channel) {
      is_catching_up_[who] = false;
      cursors_[who] = Cursor{};
      catching_up_[i] = catching_up_.back();
      catching_up_.pop_back();
    } else {
      ++i;
    }
  }
  if (log_ == nullptr) return;
  for (const ReplayStart& r : current_->replays) {
    Cursor& c = cursors_[r.who];
    ConsumerChannel* channel = current_->channels[r.who];
    if (channel == nullptr || (c.channel == channel && c.request == r.request)) continue;
    c = Cursor{.channel = channel,
               .next = log_->FirstAtOrAfter(r.from_slot),
               .from_slot = r.from_slot,
               .request = r.request};
    BumpCounter(counters_.replays_started);
    if (!is_catching_up_[r.who]) {
      is_catching_up_[r.who] = true;
      catching_up_.push_back(r.who);
    }
  }
}

void Dispatcher::CatchUp(int budget) {
  if (current_ == nullptr || log_ == nullptr) return;
  const uint64_t saved_timestamp = timestamp_;
  for (size_t i = 0; i < catching_up_.size();) {
    const ConsumerIndex who = catching_up_[i];
    Cursor& c = cursors_[who];
    int left = budget;
    const bool done = c.channel->evicted() || Advance(who, c, left);
    if (done) {
      if (!c.channel->evicted()) BumpCounter(counters_.replays_finished);
      is_catching_up_[who] = false;
      // The cursor's channel and request stay, so a table that still names the request
      // does not start it again.
      catching_up_[i] = catching_up_.back();
      catching_up_.pop_back();
    } else {
      ++i;
    }
  }
  timestamp_ = saved_timestamp;
}

bool Dispatcher::Advance(ConsumerIndex who, Cursor& c, int& budget) {
  const Commitment commitment = current_->commitment[who];
  const size_t level = LevelOf(commitment);
  while (budget-- > 0) {
    if (c.next < log_->begin()) {
      // The log evicted what the cursor had not read (counted as the consumer's gap).
      c.next = log_->begin();
      c.release_slot = c.release_index = 0;
      c.primary_done = false;
    }
    if (c.next >= log_->end()) return true;
    const UpdateLog::Entry& e = log_->entry(c.next);
    if (e.slot < c.from_slot ||
        (commitment != Commitment::kProcessed && e.kind != fb::UpdateKind::Slot)) {
      ++c.next;
      continue;
    }
    if (commitment != Commitment::kProcessed && e.releases) {
      // The slots this status released, as the live consumers of the level got them.
      if (const std::vector<uint64_t>* slots = log_->Released(c.next, commitment)) {
        for (; c.release_slot < slots->size(); ++c.release_slot, c.release_index = 0) {
          const uint64_t slot = (*slots)[c.release_slot];
          const std::vector<UpdateLog::Position>* positions = log_->ResolveSlot(slot);
          if (slot < c.from_slot || positions == nullptr) continue;
          for (; c.release_index < positions->size(); ++c.release_index) {
            const UpdateLog::Position p = (*positions)[c.release_index];
            if (p < log_->begin()) continue;
            const UpdateLog::Entry& pe = log_->entry(p);
            if (pe.superseded || pe.kind == fb::UpdateKind::Slot) continue;
            RouteKey key;
            absl::StatusOr<EncodedUpdate> u = FromLog(p, &key);
            if (!u.ok()) continue;
            const ConsumerChannel::DeliverResult r = Route(*u, key, level, Target::kCursor, who, &c);
            if (r == ConsumerChannel::DeliverResult::kFull) return false;
            if (r == ConsumerChannel::DeliverResult::kEvicted) return true;
            --budget;
          }
          if (slot != e.slot) {  // released through a descendant: its status, as live
            absl::StatusOr<EncodedUpdate> status = AncestorStatus(slot, commitment);
            if (status.ok()) {
              const size_t s = static_cast<size_t>(commitment == Commitment::kConfirmed
                                                       ? SlotStatus::kConfirmed
                                                       : SlotStatus::kRooted);
              const ConsumerChannel::DeliverResult r =
                  DeliverOne(*status, who, current_->slot_bits[who][s], Target::kCursor);
              if (r == ConsumerChannel::DeliverResult::kFull) return false;
              if (r == ConsumerChannel::DeliverResult::kEvicted) return true;
            }
          }
        }
      }
    }
    RouteKey key;
    absl::StatusOr<EncodedUpdate> u = FromLog(c.next, &key);
    if (u.ok()) {
      const ConsumerChannel::DeliverResult r = Route(*u, key, level, Target::kCursor, who, &c);
      if (r == ConsumerChannel::DeliverResult::kFull) return false;
      if (r == ConsumerChannel::DeliverResult::kEvicted) return true;
    }
    ++c.next;
    c.release_slot = c.release_index = 0;
  }
  return c.next >= log_->end();
}

// ------------------------------------------------------------------ tables

void Dispatcher::WakePending() {
  for (ConsumerIndex who : pending_wake_) {
    pending_wake_flag_[who] = false;
    if (ConsumerChannel* channel = current_->channels[who]) WakeOrDefer(who, channel);
  }
  pending_wake_.clear();
}

void Dispatcher::WakeOrDefer(ConsumerIndex who, ConsumerChannel* channel) {
  if (channel->Wake() || deferred_wake_flag_[who]) return;
  deferred_wake_flag_[who] = true;
  deferred_wake_.push_back(who);
}

void Dispatcher::RetryWakes() {
  // A seat whose consumer left meanwhile (or was taken by another) costs at most one
  // spurious wake-up.
  size_t kept = 0;
  for (ConsumerIndex who : deferred_wake_) {
    ConsumerChannel* channel = current_ == nullptr ? nullptr : current_->channels[who];
    if (channel != nullptr && !channel->Wake()) {
      deferred_wake_[kept++] = who;
    } else {
      deferred_wake_flag_[who] = false;
    }
  }
  deferred_wake_.resize(kept);
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
  StartReplays();
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
