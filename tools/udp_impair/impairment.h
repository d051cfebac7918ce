// The impairments of qlaster-udp-impair, without I/O: what happens to each datagram of one
// direction of one flow (drop, duplicate, delay with jitter, reorder, blackhole), decided
// from a seed and the datagram's index, and a timer queue that gives back the datagrams
// due at a time and the next expiry. The proxy (proxy.h) owns the sockets and the clock;
// this file never reads a clock, so it is tested without sockets or sleeps.
//
// Reproducibility: every decision about datagram k of a path is a function of (seed, the
// path's stream id, k) alone (a counter-based hash, not a generator's state), so the same
// seed drops, duplicates and holds back exactly the same datagrams on a rerun, whatever
// the timing and whatever the other direction carries.
#ifndef QLASTER_TOOLS_UDP_IMPAIR_IMPAIRMENT_H_
#define QLASTER_TOOLS_UDP_IMPAIR_IMPAIRMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace qlaster::udp_impair {

// The largest datagram carried (a UDP payload is at most 65,507 bytes over IPv4 and 65,527
// over IPv6; the buffers are 64 KiB).
inline constexpr size_t kMaxDatagram = 65536;

// What one direction does to its datagrams. Rates are probabilities in [0, 1].
struct ImpairmentSpec {
  double drop = 0;       // lost
  double duplicate = 0;  // sent twice (the copy with its own jitter)
  double reorder = 0;    // held back until `reorder_distance` later datagrams have gone
  absl::Duration delay = absl::ZeroDuration();   // added to every datagram
  absl::Duration jitter = absl::ZeroDuration();  // uniform in [-jitter, +jitter], floor 0
  int reorder_distance = 1;                      // datagrams that overtake a held one
  // A held datagram goes anyway after this long without enough later datagrams.
  absl::Duration reorder_timeout = absl::Milliseconds(100);

  bool any() const {
    return drop > 0 || duplicate > 0 || reorder > 0 || delay > absl::ZeroDuration() ||
           jitter > absl::ZeroDuration();
  }
};

// Checks rates in [0, 1], durations >= 0 (delay and jitter at most 60 s), distance in
// [1, 1000]. kInvalidArgument naming the field.
absl::Status ValidateSpec(const ImpairmentSpec& spec);

// Applies "drop=0.01,delay=20ms,jitter=5ms,duplicate=0.01,reorder=0.01,reorder_distance=2,
// reorder_timeout=50ms" (any subset, any order; durations as absl::ParseDuration reads
// them, "20ms", "1.5s") over `base`, and validates the result. An empty text gives `base`.
// kInvalidArgument naming the key or value that is wrong.
absl::StatusOr<ImpairmentSpec> ParseSpec(absl::string_view text, ImpairmentSpec base);

// "drop=0.01 duplicate=0 reorder=0 delay=20ms jitter=0 ..." for the startup line.
std::string FormatSpec(const ImpairmentSpec& spec);

// What happens to one datagram.
struct Verdict {
  bool drop = false;
  bool duplicate = false;
  bool reorder = false;
  absl::Duration delay[2];  // the original's and the copy's
};

// The verdict for datagram `index` (from 0) of path `stream`, from `seed` alone.
Verdict Decide(const ImpairmentSpec& spec, uint64_t seed, uint64_t stream, uint64_t index);

// What a path did. Every datagram submitted is counted once in `received`; then once in
// `dropped` or `blackholed` (lost), or it is sent (`forwarded` counts each datagram sent,
// copies included).
struct Counters {
  uint64_t received = 0;
  uint64_t forwarded = 0;
  uint64_t dropped = 0;      // lost to the drop rate
  uint64_t blackholed = 0;   // lost while the path was cut (on arrival or while queued)
  uint64_t duplicated = 0;   // copies made
  uint64_t reordered = 0;    // held datagrams sent after later ones overtook them
  uint64_t reorder_expired = 0;  // held datagrams sent by reorder_timeout, not overtaken
  uint64_t delayed = 0;      // datagrams (copies included) queued with a delay > 0

  Counters& operator+=(const Counters& o);
};

// One direction of one flow: datagrams in with their arrival time, datagrams out in the
// order and at the times they are to be sent. Times are nanoseconds of any monotonic
// clock, chosen by the caller. Not thread-safe.
class ImpairedPath {
 public:
  ImpairedPath(const ImpairmentSpec& spec, uint64_t seed, uint64_t stream);

  // Takes one datagram (copied) that arrived at `now_ns`. REQUIRES: size <= kMaxDatagram.
  void Submit(int64_t now_ns, absl::Span<const uint8_t> datagram);

  // Appends to `out` every datagram due at `now_ns`, in sending order.
  void TakeDue(int64_t now_ns, std::vector<std::vector<uint8_t>>* out);

  // The earliest time a datagram becomes due, or -1 when nothing waits.
  int64_t NextExpiry() const;

  // A cut path loses every datagram that arrives, and every queued one when it comes due.
  void set_blackhole(bool on) { blackhole_ = on; }
  bool blackhole() const { return blackhole_; }

  const Counters& counters() const { return counters_; }
  // Datagrams queued or held, not yet sent.
  size_t pending() const { return queue_.size() + held_.size(); }

 private:
  struct Queued {
    int64_t due_ns;
    uint64_t order;  // ties in due time go in arrival order
    bool reorder;
    std::vector<uint8_t> bytes;
  };
  // The heap order of queue_: the earliest due (then the first to arrive) on top.
  static bool Later(const Queued& a, const Queued& b) {
    return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.order > b.order;
  }
  struct Held {
    int64_t deadline_ns;
    int remaining;  // later datagrams still to overtake it
    std::vector<uint8_t> bytes;
  };

  void Send(std::vector<uint8_t> bytes, std::vector<std::vector<uint8_t>>* out);

  ImpairmentSpec spec_;
  uint64_t seed_;
  uint64_t stream_;
  uint64_t next_index_ = 0;
  uint64_t next_order_ = 0;
  bool blackhole_ = false;
  std::vector<Queued> queue_;  // a heap (std::push_heap with Later)
  std::vector<Held> held_;  // in the order they were held
  Counters counters_;
};

}  // namespace qlaster::udp_impair

#endif  // QLASTER_TOOLS_UDP_IMPAIR_IMPAIRMENT_H_
