// UpdateLog: appending frames, slot levels, retention.
#include "sender/update_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"

namespace qlaster::sender {

UpdateLog::Chunk::Chunk(size_t bytes) : capacity(bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // as new[] would
  data = static_cast<uint8_t*>(p);
}

UpdateLog::Chunk::Chunk(Chunk&& other) noexcept
    : data(other.data), capacity(other.capacity), used(other.used) {
  other.data = nullptr;
  other.capacity = other.used = 0;
}

UpdateLog::Chunk& UpdateLog::Chunk::operator=(Chunk&& other) noexcept {
  if (this != &other) {
    if (data != nullptr) ::munmap(data, capacity);
    data = other.data;
    capacity = other.capacity;
    used = other.used;
    other.data = nullptr;
    other.capacity = other.used = 0;
  }
  return *this;
}

UpdateLog::Chunk::~Chunk() {
  if (data != nullptr) ::munmap(data, capacity);
}

UpdateLog::UpdateLog(UpdateLogOptions options)
    : options_(options),
      margin_(std::max<size_t>(size_t{64} << 10, options.replay_bytes / 64)),
      evict_at_bytes_(options.replay_bytes + margin_) {}

UpdateLog::Position UpdateLog::Append(const EncodedUpdate& update, const RouteKey& key,
                                      uint64_t timestamp_ns) {
  const size_t size = update.frame_size();
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < size) {
    if (!chunks_.empty() && entries_.empty()) {
      // Nothing refers to the old chunks any more.
      first_chunk_ += static_cast<uint32_t>(chunks_.size());
      while (!chunks_.empty()) {
        RecycleChunk(std::move(chunks_.front()));
        chunks_.pop_front();
      }
    }
    if (size <= kChunkBytes && !spare_chunks_.empty()) {
      chunks_.push_back(std::move(spare_chunks_.back()));
      spare_chunks_.pop_back();
      chunks_.back().used = 0;
    } else {
      chunks_.emplace_back(std::max(kChunkBytes, size));
    }
  }
  Chunk& chunk = chunks_.back();
  update.WriteFrame(chunk.data + chunk.used, 0, timestamp_ns);

  Entry e;
  e.slot = key.slot;
  e.kind = update.kind();
  e.chunk = first_chunk_ + static_cast<uint32_t>(chunks_.size() - 1);
  e.offset = static_cast<uint32_t>(chunk.used);
  e.size = static_cast<uint32_t>(size);
  chunk.used += size;

  const Position at = end();
  if (last_record_ == nullptr || last_slot_ != key.slot) {
    auto [it, inserted] = slots_.try_emplace(key.slot);
    if (inserted) {
      // A new slot: room for as many updates as the last one had, so that its positions
      // do not grow step by step.
      if (last_record_ != nullptr) last_slot_positions_ = last_record_->positions.size();
      it->second.positions.reserve(last_slot_positions_);
    }
    last_slot_ = key.slot;
    last_record_ = &it->second;
  }
  SlotRecord& rec = *last_record_;
  if (e.kind == fb::UpdateKind::Account) {
    e.write_version = ReadStruct<fb::AccountHeader>(update.fixed()).write_version();
  }
  rec.positions.push_back(at);
  ++rec.live_entries;
  rec.bytes += size;
  entries_.push_back(e);
  if (e.kind == fb::UpdateKind::Account && rec.latest != nullptr) Index(*rec.latest, at, key.pubkey);
  bytes_ += size;
  if (key.slot > newest_slot_) newest_slot_ = key.slot;
  if (!first_slot_.has_value()) {
    std::lock_guard<std::mutex> lock(mu_);
    first_slot_ = key.slot;
  }
  if (e.kind == fb::UpdateKind::Slot) {
    const auto slot = ReadStruct<fb::SlotHeader>(update.fixed());
    OnSlotStatus(at, key.slot, slot.parent(), static_cast<SlotStatus>(slot.status()));
  }
  return at;
}

absl::Span<const uint8_t> UpdateLog::frame(Position p) const {
  const Entry& e = entry(p);
  const Chunk& c = chunks_[e.chunk - first_chunk_];
  return {c.data + e.offset, e.size};
}

const std::vector<uint64_t>* UpdateLog::Released(Position p, Commitment level) const {
  if (level == Commitment::kProcessed) return nullptr;
  const auto& map = released_[LevelOf(level) - 1];
  const auto it = map.find(p);
  return it == map.end() ? nullptr : &it->second;
}

const std::vector<UpdateLog::Position>* UpdateLog::SlotPositions(uint64_t slot) const {
  const auto it = slots_.find(slot);
  return it == slots_.end() ? nullptr : &it->second.positions;
}

const std::vector<UpdateLog::Position>* UpdateLog::ResolveSlot(uint64_t slot) {
  SlotRecord* r = RecordOf(slot);
  if (r == nullptr) return nullptr;
  if (r->latest == nullptr) Resolve(*r);
  return &r->positions;
}

bool UpdateLog::Superseded(Position p) {
  Entry& e = entries_[p - begin_];
  if (e.kind != fb::UpdateKind::Account) return false;
  if (SlotRecord* r = RecordOf(e.slot); r != nullptr && r->latest == nullptr) Resolve(*r);
  return e.superseded;
}

Pubkey UpdateLog::AccountOf(Position p) const {
  const absl::Span<const uint8_t> f = frame(p);
  const auto header = ReadStruct<fb::AccountHeader>(f.subspan(kFrameHeaderSize));
  Pubkey key;
  std::memcpy(key.data(), header.pubkey().bytes()->data(), key.size());
  return key;
}

void UpdateLog::Resolve(SlotRecord& r) {
  r.latest = std::make_unique<absl::flat_hash_map<Pubkey, Position, PubkeyHash>>();
  r.latest->reserve(r.positions.size());
  for (const Position p : r.positions) {
    if (p < begin_) continue;  // evicted: it no longer competes
    if (entries_[p - begin_].kind == fb::UpdateKind::Account) Index(*r.latest, p, AccountOf(p));
  }
}

void UpdateLog::Index(absl::flat_hash_map<Pubkey, Position, PubkeyHash>& latest, Position p,
                      const Pubkey& key) {
  // The latest write of an account wins (the higher write_version; the later one of
  // equal versions); every other write of it in the slot is superseded.
  auto [it, inserted] = latest.try_emplace(key, p);
  if (inserted) return;
  Entry& e = entries_[p - begin_];
  const Position prior = it->second;
  if (prior < begin_) {
    it->second = p;  // the prior write is gone
  } else if (Entry& pe = entries_[prior - begin_]; e.write_version >= pe.write_version) {
    pe.superseded = true;
    it->second = p;
  } else {
    e.superseded = true;
  }
}

UpdateLog::SlotRecord* UpdateLog::RecordOf(uint64_t slot) {
  if (cached_record_ != nullptr && cached_slot_ == slot) return cached_record_;
  const auto it = slots_.find(slot);
  if (it == slots_.end()) return nullptr;
  cached_slot_ = slot;
  cached_record_ = &it->second;
  return cached_record_;
}

void UpdateLog::EraseRecord(std::map<uint64_t, SlotRecord>::iterator it) {
  if (last_record_ == &it->second) last_record_ = nullptr;
  if (cached_record_ == &it->second) cached_record_ = nullptr;
  slots_.erase(it);
}

std::optional<UpdateLog::Position> UpdateLog::ReachedAt(uint64_t slot, Commitment level) const {
  const auto it = slots_.find(slot);
  if (it == slots_.end()) return std::nullopt;
  switch (level) {
    case Commitment::kProcessed:
      return std::nullopt;
    case Commitment::kConfirmed:
      return it->second.confirmed_at;
    case Commitment::kFinalized:
      return it->second.finalized_at;
  }
  return std::nullopt;
}

bool UpdateLog::Dead(uint64_t slot) const {
  const auto it = slots_.find(slot);
  return it != slots_.end() && it->second.dead;
}

UpdateLog::Position UpdateLog::FirstAtOrAfter(uint64_t slot) const {
  Position first = end();
  for (auto it = slots_.lower_bound(slot); it != slots_.end(); ++it) {
    const std::vector<Position>& p = it->second.positions;
    const auto kept = std::lower_bound(p.begin(), p.end(), begin_);
    if (kept != p.end()) first = std::min(first, *kept);
  }
  return first;
}

uint64_t UpdateLog::ParentOf(uint64_t slot) const {
  const auto it = slots_.find(slot);
  return it == slots_.end() ? 0 : it->second.parent.value_or(0);
}

void UpdateLog::OnSlotStatus(Position at, uint64_t slot, uint64_t parent, SlotStatus status) {
  SlotRecord& rec = slots_[slot];
  if (parent != 0 || slot == 0) rec.parent = parent;
  switch (status) {
    case SlotStatus::kConfirmed:
      Reach(at, slot, Commitment::kConfirmed);
      break;
    case SlotStatus::kRooted: {
      Reach(at, slot, Commitment::kFinalized);
      // Every other slot below the new root that is not finalized lost its fork.
      for (auto it = slots_.begin(); it != slots_.end() && it->first < slot; ++it) {
        if (IsPending(it->second)) it->second.dead = true;
      }
      break;
    }
    case SlotStatus::kDead:
      if (!rec.finalized_at.has_value()) rec.dead = true;
      break;
    default:
      break;
  }
}

void UpdateLog::Reach(Position at, uint64_t slot, Commitment level) {
  const bool finalize = level == Commitment::kFinalized;
  // The slot and its ancestors that have not reached the level, newest first.
  std::vector<uint64_t> chain;
  for (auto it = slots_.find(slot); it != slots_.end();) {
    SlotRecord& r = it->second;
    if (r.dead || (finalize ? r.finalized_at : r.confirmed_at).has_value()) break;
    chain.push_back(it->first);
    if (!r.parent.has_value() || *r.parent >= it->first) break;
    it = slots_.find(*r.parent);
  }
  if (chain.empty()) return;
  std::reverse(chain.begin(), chain.end());
  for (uint64_t s : chain) {
    SlotRecord& r = slots_[s];
    if (!r.confirmed_at.has_value()) {
      r.confirmed_at = at;
      released_[0][at].push_back(s);
    }
    if (finalize) {
      r.finalized_at = at;
      released_[1][at].push_back(s);
    }
  }
  entries_[at - begin_].releases = true;
}

bool UpdateLog::ShouldEvictFront() {
  const Entry& e = entries_.front();
  const SlotRecord* r = RecordOf(e.slot);
  const bool pending = r != nullptr && IsPending(*r);
  if (pending) return bytes_ > options_.replay_bytes + options_.commitment_bytes;
  return bytes_ > options_.replay_bytes || newest_slot_ >= e.slot + options_.replay_slots;
}

void UpdateLog::PopFront() {
  // An entry a level still waits for (rare: the log is over its whole budget) is lost to
  // that level unless a later write supersedes it.
  SlotRecord* r = RecordOf(entries_.front().slot);
  const bool lost = r != nullptr && IsPending(*r) && entries_.front().kind != fb::UpdateKind::Slot &&
                    !Superseded(begin_);
  const Entry e = entries_.front();
  entries_.pop_front();
  const Position p = begin_++;
  bytes_ -= e.size;
  if (e.releases) {
    released_[0].erase(p);
    released_[1].erase(p);
  }
  max_evicted_slot_ = std::max(max_evicted_slot_.value_or(0), e.slot);
  if (r != nullptr) {
    if (lost) ++evicted_pending_;
    --r->live_entries;
    r->bytes -= e.size;
    if (r->live_entries == 0 && !IsPending(*r)) EraseRecord(slots_.find(e.slot));
  }
  // Chunks before the front entry's are no longer referred to.
  const uint32_t keep_from = entries_.empty() ? first_chunk_ + static_cast<uint32_t>(chunks_.size()) - 1
                                              : entries_.front().chunk;
  while (first_chunk_ < keep_from) {
    RecycleChunk(std::move(chunks_.front()));
    chunks_.pop_front();
    ++first_chunk_;
  }
}

void UpdateLog::RecycleChunk(Chunk chunk) {
  // One eviction frees about a margin's worth of chunks, which the appends after it fill
  // again: that many spares (and two more) make the steady state allocate nothing.
  const size_t max_spares = margin_ / kChunkBytes + 2;
  if (chunk.capacity == kChunkBytes && spare_chunks_.size() < max_spares) {
    spare_chunks_.push_back(std::move(chunk));
  }
}

void UpdateLog::FinishEviction() {
  evict_at_bytes_ = std::max(options_.replay_bytes, bytes_) + margin_;
  if (checked_slot_ != newest_slot_) {
    checked_slot_ = newest_slot_;
    SweepSlots();
  }
}

void UpdateLog::SweepSlots() {
  // A slot that never resolves (a source without statuses, a status lost upstream) and
  // whose entries are all gone keeps a small record; forget it once it is far behind.
  const uint64_t horizon = std::max<uint64_t>(options_.replay_slots, 512);
  while (!slots_.empty()) {
    auto it = slots_.begin();
    if (it->second.live_entries != 0 || it->first + horizon > newest_slot_) break;
    EraseRecord(it);
  }
}

std::optional<uint64_t> UpdateLog::OldestSlotLocked() const {
  if (!first_slot_.has_value()) return std::nullopt;
  if (!max_evicted_slot_.has_value()) return first_slot_;
  return std::max(*first_slot_, *max_evicted_slot_ + 1);
}

std::optional<uint64_t> UpdateLog::OldestSlot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return OldestSlotLocked();
}

absl::Status UpdateLog::Pin(uint64_t from_slot) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<uint64_t> oldest = OldestSlotLocked();
  if (oldest.has_value() && from_slot < *oldest) {
    return absl::OutOfRangeError(absl::StrCat(
        "from_slot ", from_slot, " is older than the oldest slot the sender keeps, ", *oldest,
        " (it keeps the last --replay_slots=", options_.replay_slots,
        " slots within --replay_bytes=", options_.replay_bytes, ")"));
  }
  pins_.insert(from_slot);
  return absl::OkStatus();
}

void UpdateLog::Unpin(uint64_t from_slot) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = pins_.find(from_slot); it != pins_.end()) pins_.erase(it);
}

size_t UpdateLog::memory_bytes() const {
  size_t n = entries_.size() * sizeof(Entry);
  for (const Chunk& c : chunks_) n += c.capacity;
  for (const Chunk& c : spare_chunks_) n += c.capacity;
  for (const auto& [slot, r] : slots_) {
    n += sizeof(r) + r.positions.capacity() * sizeof(Position);
    if (r.latest != nullptr) n += r.latest->capacity() * (sizeof(Pubkey) + sizeof(Position) + 1);
  }
  return n;
}

}  // namespace qlaster::sender
