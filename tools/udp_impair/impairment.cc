// Impairment decisions and the per-path timer queue. See impairment.h.
#include "tools/udp_impair/impairment.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace qlaster::udp_impair {
namespace {

// Which decision a hash is drawn for; each is independent of the others.
enum class Draw : uint64_t { kDrop = 1, kDuplicate, kReorder, kJitter, kCopyJitter };

// SplitMix64's finalizer: a bijection of 64 bits that mixes every input bit into all.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform double in [0, 1) for (seed, stream, index, draw).
double Uniform(uint64_t seed, uint64_t stream, uint64_t index, Draw draw) {
  const uint64_t h = Mix(Mix(Mix(Mix(seed) ^ stream) ^ index) ^ static_cast<uint64_t>(draw));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

absl::Duration Jittered(const ImpairmentSpec& spec, double u) {
  const absl::Duration d = spec.delay + spec.jitter * (2 * u - 1);
  return std::max(d, absl::ZeroDuration());
}

absl::Status CheckRate(absl::string_view name, double v) {
  if (!(v >= 0 && v <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be a probability in [0, 1], got ", v));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view name, absl::Duration d, absl::Duration max) {
  if (d < absl::ZeroDuration() || d > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be in [0, ", absl::FormatDuration(max), "], got ", absl::FormatDuration(d)));
  }
  return absl::OkStatus();
}

int64_t ToNs(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

}  // namespace

absl::Status ValidateSpec(const ImpairmentSpec& spec) {
  if (absl::Status s = CheckRate("drop", spec.drop); !s.ok()) return s;
  if (absl::Status s = CheckRate("duplicate", spec.duplicate); !s.ok()) return s;
  if (absl::Status s = CheckRate("reorder", spec.reorder); !s.ok()) return s;
  if (absl::Status s = CheckDuration("delay", spec.delay, absl::Seconds(60)); !s.ok()) return s;
  if (absl::Status s = CheckDuration("jitter", spec.jitter, absl::Seconds(60)); !s.ok()) return s;
  if (absl::Status s = CheckDuration("reorder_timeout", spec.reorder_timeout, absl::Seconds(60)); !s.ok()) {
    return s;
  }
  if (spec.reorder_distance < 1 || spec.reorder_distance > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("reorder_distance must be in [1, 1000], got ", spec.reorder_distance));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImpairmentSpec> ParseSpec(absl::string_view text, ImpairmentSpec base) {
  ImpairmentSpec spec = base;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const absl::string_view item = absl::StripAsciiWhitespace(piece);
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    const std::string value(absl::StripAsciiWhitespace(kv.second));
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("'", std::string(item), "': ", what));
    };
    if (key == "drop" || key == "duplicate" || key == "reorder") {
      double v;
      if (!absl::SimpleAtod(value, &v)) return bad("not a number");
      (key == "drop" ? spec.drop : key == "duplicate" ? spec.duplicate : spec.reorder) = v;
    } else if (key == "delay" || key == "jitter" || key == "reorder_timeout") {
      absl::Duration d;
      if (!absl::ParseDuration(value, &d)) return bad("not a duration (20ms, 1.5s)");
      (key == "delay" ? spec.delay : key == "jitter" ? spec.jitter : spec.reorder_timeout) = d;
    } else if (key == "reorder_distance") {
      if (!absl::SimpleAtoi(value, &spec.reorder_distance)) return bad("not an integer");
    } else {
      return bad("unknown key (drop, duplicate, reorder, delay, jitter, reorder_distance, reorder_timeout)");
    }
  }
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  return spec;
}

std::string FormatSpec(const ImpairmentSpec& spec) {
  return absl::StrCat("drop=", spec.drop, " duplicate=", spec.duplicate, " reorder=", spec.reorder,
                      " delay=", absl::FormatDuration(spec.delay), " jitter=", absl::FormatDuration(spec.jitter),
                      " reorder_distance=", spec.reorder_distance,
                      " reorder_timeout=", absl::FormatDuration(spec.reorder_timeout));
}

Verdict Decide(const ImpairmentSpec& spec, uint64_t seed, uint64_t stream, uint64_t index) {
  Verdict v;
  // Every draw is made whatever the others say, so that no decision shifts another.
  v.drop = Uniform(seed, stream, index, Draw::kDrop) < spec.drop;
  v.duplicate = !v.drop && Uniform(seed, stream, index, Draw::kDuplicate) < spec.duplicate;
  v.reorder = !v.drop && Uniform(seed, stream, index, Draw::kReorder) < spec.reorder;
  v.delay[0] = Jittered(spec, Uniform(seed, stream, index, Draw::kJitter));
  v.delay[1] = Jittered(spec, Uniform(seed, stream, index, Draw::kCopyJitter));
  return v;
}

Counters& Counters::operator+=(const Counters& o) {
  received += o.received;
  forwarded += o.forwarded;
  dropped += o.dropped;
  blackholed += o.blackholed;
  duplicated += o.duplicated;
  reordered += o.reordered;
  reorder_expired += o.reorder_expired;
  delayed += o.delayed;
  return *this;
}

ImpairedPath::ImpairedPath(const ImpairmentSpec& spec, uint64_t seed, uint64_t stream)
    : spec_(spec), seed_(seed), stream_(stream) {}

void ImpairedPath::Submit(int64_t now_ns, absl::Span<const uint8_t> datagram) {
  const uint64_t index = next_index_++;
  ++counters_.received;
  if (blackhole_) {
    ++counters_.blackholed;
    return;
  }
  const Verdict v = Decide(spec_, seed_, stream_, index);
  if (v.drop) {
    ++counters_.dropped;
    return;
  }
  const int copies = v.duplicate ? 2 : 1;
  counters_.duplicated += copies - 1;
  for (int c = 0; c < copies; ++c) {
    const int64_t delay_ns = ToNs(v.delay[c]);
    if (delay_ns > 0) ++counters_.delayed;
    // Only the original is held back; its copy (if any) travels on its own.
    queue_.push_back(Queued{now_ns + delay_ns, next_order_++, v.reorder && c == 0,
                            std::vector<uint8_t>(datagram.begin(), datagram.end())});
    std::push_heap(queue_.begin(), queue_.end(), Later);
  }
}

void ImpairedPath::Send(std::vector<uint8_t> bytes, std::vector<std::vector<uint8_t>>* out) {
  out->push_back(std::move(bytes));
  ++counters_.forwarded;
  // This datagram overtook every held one; those overtaken often enough go right after it.
  for (auto it = held_.begin(); it != held_.end();) {
    if (--it->remaining > 0) {
      ++it;
      continue;
    }
    out->push_back(std::move(it->bytes));
    ++counters_.forwarded;
    ++counters_.reordered;
    it = held_.erase(it);
  }
}

void ImpairedPath::TakeDue(int64_t now_ns, std::vector<std::vector<uint8_t>>* out) {
  while (!queue_.empty() && queue_.front().due_ns <= now_ns) {
    std::pop_heap(queue_.begin(), queue_.end(), Later);
    Queued q = std::move(queue_.back());
    queue_.pop_back();
    if (blackhole_) {
      ++counters_.blackholed;
    } else if (q.reorder) {
      held_.push_back(Held{q.due_ns + ToNs(spec_.reorder_timeout), spec_.reorder_distance, std::move(q.bytes)});
    } else {
      Send(std::move(q.bytes), out);
    }
  }
  for (auto it = held_.begin(); it != held_.end();) {
    if (blackhole_) {
      ++counters_.blackholed;
    } else if (it->deadline_ns <= now_ns) {
      out->push_back(std::move(it->bytes));
      ++counters_.forwarded;
      ++counters_.reorder_expired;
    } else {
      ++it;
      continue;
    }
    it = held_.erase(it);
  }
}

int64_t ImpairedPath::NextExpiry() const {
  int64_t next = queue_.empty() ? -1 : queue_.front().due_ns;
  for (const Held& h : held_) {
    if (next < 0 || h.deadline_ns < next) next = h.deadline_ns;
  }
  return next;
}

}  // namespace qlaster::udp_impair
