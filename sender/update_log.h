// UpdateLog: the recent updates as they were published, kept for the consumers that do
// not read them live. A confirmed or finalized consumer gets a slot's updates when the
// slot reaches its level; a consumer that subscribes from a past slot (from_slot) replays
// them and then reads live.
//
// Layout. Every published update is appended, in publishing order, as a frame (sequence
// and time zero) in chunks of one arena, and numbered by its Position (a counter since the
// log began, so a position stays valid as a name after its entry is gone). Per slot the
// log keeps its updates' positions. An older write of an account in the same slot is
// superseded, so releasing a slot delivers the latest write per account, as Yellowstone's
// confirmed and finalized streams do. Which writes are superseded is worked out for a
// whole slot when it is first asked (ResolveSlot, Superseded), and kept current for that
// slot's later writes from then on, but not before: the log keeps every update, wanted
// or not, and most slots are never released to anyone (no confirmed or finalized
// consumer), so indexing every slot's accounts as they come would cost every update a
// random insert for nothing.
//
// Slot statuses decide the levels. Confirmed(S) confirms S and its ancestors (by the
// parents slot updates name) not yet confirmed; Rooted(S) finalizes S and its ancestors
// (confirming them first if need be), and abandons every other slot below S not yet
// finalized (a fork that lost): an abandoned or Dead slot is never released. The slots a
// status releases are recorded at the status's own position, so a replay releases them at
// the same point of the stream as the live consumers saw it.
//
// Retention. An entry whose slot is no longer pending (finalized, dead or abandoned) is
// kept while the log is within `replay_bytes` and the entry's slot is within the newest
// `replay_slots` slots. An entry of a pending slot is kept beyond those, up to
// `replay_bytes + commitment_bytes` in all; past that the oldest entries go even though
// a commitment level still waits for them (the caller reports them to its consumers as
// gaps). Eviction is in publishing order only (the front entry first), and runs when the
// log has grown by a margin (1/64 of replay_bytes, at least 64 KiB) since the last one or
// a new slot began: the log may exceed its budget by that margin.
//
// Threads: the dispatch thread owns the log. OldestSlot() and Pin()/Unpin() may be called
// from any thread (the control plane checks a from_slot against what is kept, and pins it
// until the replay has begun).
#ifndef QLASTER_SENDER_UPDATE_LOG_H_
#define QLASTER_SENDER_UPDATE_LOG_H_

#include <cstddef>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "boost/container/deque.hpp"
#include "boost/container/options.hpp"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "sender/pubkey_hash.h"
#include "sender/routing_table.h"
#include "wire/frame.h"

namespace qlaster::sender {

struct UpdateLogOptions {
  size_t replay_slots = 150;
  size_t replay_bytes = size_t{1} << 30;
  size_t commitment_bytes = size_t{512} << 20;
};

class UpdateLog {
 public:
  using Position = uint64_t;

  struct Entry {
    uint64_t slot = 0;
    uint64_t write_version = 0;  // accounts
    uint32_t chunk = 0;          // index into chunks_ counted from the first ever
    uint32_t offset = 0;         // into that chunk
    uint32_t size = 0;           // frame bytes
    fb::UpdateKind kind = fb::UpdateKind::None;
    // A later write of the same account in the same slot exists; current only once the
    // slot is resolved (read it through ResolveSlot or Superseded).
    bool superseded = false;
    bool releases = false;       // a slot status that released slots (see Released)
  };

  explicit UpdateLog(UpdateLogOptions options);

  UpdateLog(const UpdateLog&) = delete;
  UpdateLog& operator=(const UpdateLog&) = delete;

  // ---- dispatch thread

  // Appends `update` (route `key`, published at `timestamp_ns`, which its frame keeps) and
  // returns its position. A slot update also records the slot's status; Released() says
  // what it released.
  Position Append(const EncodedUpdate& update, const RouteKey& key, uint64_t timestamp_ns);

  Position begin() const { return begin_; }
  Position end() const { return begin_ + entries_.size(); }
  // REQUIRES: begin() <= p < end().
  const Entry& entry(Position p) const { return entries_[p - begin_]; }
  absl::Span<const uint8_t> frame(Position p) const;

  // The slots the slot status at `p` brought to `level` (confirmed or finalized), in
  // ascending order; null if none.
  const std::vector<uint64_t>* Released(Position p, Commitment level) const;
  // The positions of `slot`'s updates in publishing order (entries already evicted
  // included: check against begin()); null if the log knows no such slot.
  const std::vector<Position>* SlotPositions(uint64_t slot) const;
  // The same, with the superseded flags of the slot's kept entries current: the first
  // call makes one pass over the slot, after which Append keeps them so.
  const std::vector<Position>* ResolveSlot(uint64_t slot);
  // Whether a later write of the same account in the same slot supersedes the entry at
  // `p` (resolving its slot if need be). REQUIRES: begin() <= p < end().
  bool Superseded(Position p);
  // Where `slot` reached `level` (confirmed or finalized): the position of the status
  // that released it; nullopt while it has not (or the log forgot the slot).
  std::optional<Position> ReachedAt(uint64_t slot, Commitment level) const;
  // Dead, or abandoned by a root on another fork: never released.
  bool Dead(uint64_t slot) const;
  // The parent a slot update named for `slot` (0 when none is known).
  uint64_t ParentOf(uint64_t slot) const;
  // The first position of an update of a slot >= `slot` (end() if none).
  Position FirstAtOrAfter(uint64_t slot) const;

  // Whether Evict has work now: the log grew by a margin or a new slot began since the
  // last Evict (a cheap test, for every append).
  bool MustEvict() const { return bytes_ > evict_at_bytes_ || newest_slot_ != checked_slot_; }
  // Evicts from the front while the retention rules say so, calling
  // on_evict(position, entry, frame) before each entry goes. Stops at a pinned slot.
  template <typename OnEvict>
  void Evict(OnEvict&& on_evict) {
    std::lock_guard<std::mutex> lock(mu_);
    while (!entries_.empty() && ShouldEvictFront()) {
      const Entry& e = entries_.front();
      if (!pins_.empty() && e.slot >= *pins_.begin()) break;
      on_evict(begin_, e, frame(begin_));
      PopFront();
    }
    FinishEviction();
  }

  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }
  size_t slot_count() const { return slots_.size(); }
  // Entries evicted while a commitment level still waited for them.
  uint64_t evicted_pending() const { return evicted_pending_; }
  // Heap memory held: arena chunks, entries, slot indexes (an estimate).
  size_t memory_bytes() const;

  // ---- any thread

  // The oldest slot whose updates are all still kept (nullopt before the first update):
  // a replay from any slot at or after it loses nothing.
  std::optional<uint64_t> OldestSlot() const;
  // Checks that a replay from `from_slot` loses nothing and keeps it so until
  // Unpin(from_slot): kOutOfRange naming the oldest slot kept otherwise.
  absl::Status Pin(uint64_t from_slot);
  void Unpin(uint64_t from_slot);

 private:
  struct SlotRecord {
    std::vector<Position> positions;
    // Account -> its latest write in this slot: null until the slot is first resolved
    // (its superseded flags are unset until then), kept current on every append after.
    std::unique_ptr<absl::flat_hash_map<Pubkey, Position, PubkeyHash>> latest;
    std::optional<uint64_t> parent;
    std::optional<Position> confirmed_at;
    std::optional<Position> finalized_at;
    bool dead = false;       // Dead, or abandoned by a root elsewhere
    size_t live_entries = 0;  // entries not yet evicted
    size_t bytes = 0;
  };

  // A chunk of frame storage: anonymous memory mapped with its pages populated in one go
  // (a page fault per 4 KiB of frames would cost more than copying them), reused once
  // eviction frees it.
  struct Chunk {
    Chunk() = default;
    explicit Chunk(size_t bytes);
    Chunk(Chunk&& other) noexcept;
    Chunk& operator=(Chunk&& other) noexcept;
    Chunk(const Chunk&) = delete;
    Chunk& operator=(const Chunk&) = delete;
    ~Chunk();
    uint8_t* data = nullptr;
    size_t capacity = 0;
    size_t used = 0;
  };
  static constexpr size_t kChunkBytes = size_t{4} << 20;

  // The record of `slot` (null if none), through a one-record cache: eviction asks for
  // the front entry's record several times per entry, and consecutive entries share one.
  SlotRecord* RecordOf(uint64_t slot);
  // Forgets `it`, and every cached pointer to it.
  void EraseRecord(std::map<uint64_t, SlotRecord>::iterator it);
  // Indexes `r`'s kept account writes (marking the superseded ones), from then on kept
  // current by Append.
  void Resolve(SlotRecord& r);
  // Enters the account write at `p` of `key` into `latest`.
  void Index(absl::flat_hash_map<Pubkey, Position, PubkeyHash>& latest, Position p, const Pubkey& key);
  // The account an entry's frame is of. REQUIRES: an account entry still kept.
  Pubkey AccountOf(Position p) const;
  // Keeps a freed chunk for reuse (up to a few), else frees it.
  void RecycleChunk(Chunk chunk);
  bool ShouldEvictFront();
  void PopFront();
  void FinishEviction();
  // Forgets records of slots that are long gone and hold no entry.
  void SweepSlots();
  std::optional<uint64_t> OldestSlotLocked() const;
  void OnSlotStatus(Position at, uint64_t slot, uint64_t parent, SlotStatus status);
  // Brings `slot` and its unreleased ancestors to `level`, recording them at `at`.
  void Reach(Position at, uint64_t slot, Commitment level);
  static bool IsPending(const SlotRecord& r) { return !r.finalized_at.has_value() && !r.dead; }

  const UpdateLogOptions options_;
  const size_t margin_;  // bytes of growth between two evictions
  size_t evict_at_bytes_;
  uint64_t checked_slot_ = 0;

  // Entries in blocks of 64 KiB (2,048 entries), not std::deque's 512 B: each append writes
  // an entry into memory last touched when the log was a budget ago, and within a block
  // those writes are sequential, which the hardware prefetcher follows (a 512-byte block
  // was a fresh, cold allocation every 16 entries).
  boost::container::deque<Entry, void,
                          boost::container::deque_options_t<boost::container::block_bytes<64 * 1024>>>
      entries_;
  Position begin_ = 0;
  size_t bytes_ = 0;
  // Arena: chunks_[i] holds chunk number first_chunk_ + i.
  std::deque<Chunk> chunks_;
  uint32_t first_chunk_ = 0;
  std::vector<Chunk> spare_chunks_;  // freed standard-size chunks, for reuse
  std::map<uint64_t, SlotRecord> slots_;
  // The record the last Append used (most appends are to the same slot); reset whenever a
  // record is erased.
  uint64_t last_slot_ = 0;
  SlotRecord* last_record_ = nullptr;
  // RecordOf's cache; reset with last_record_.
  uint64_t cached_slot_ = 0;
  SlotRecord* cached_record_ = nullptr;
  // The size of the last slot begun, to size the next one's positions at once.
  size_t last_slot_positions_ = 0;
  uint64_t newest_slot_ = 0;
  // Released()[level - 1]: position of a status -> the slots it released.
  std::array<absl::flat_hash_map<Position, std::vector<uint64_t>>, 2> released_;
  uint64_t evicted_pending_ = 0;

  mutable std::mutex mu_;
  std::optional<uint64_t> first_slot_;        // guarded by mu_
  std::optional<uint64_t> max_evicted_slot_;  // guarded by mu_
  std::multiset<uint64_t> pins_;              // guarded by mu_
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_UPDATE_LOG_H_
