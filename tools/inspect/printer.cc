// qlaster-inspect formatting: JSON and text lines for events, the sender-stats table.
#include "tools/inspect/printer.h"

#include <cinttypes>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_format.h"
#include "base/base58.h"

namespace qlaster::inspect {
namespace {

std::string B58(std::span<const uint8_t> bytes) {
  return Base58Encode(absl::MakeConstSpan(bytes.data(), bytes.size()));
}

const char* KindName(EventKind kind) {
  switch (kind) {
    case EventKind::kAccount:
      return "account";
    case EventKind::kTransaction:
      return "transaction";
    case EventKind::kSlot:
      return "slot";
    case EventKind::kGap:
      return "gap";
    case EventKind::kDisconnected:
      return "disconnected";
    case EventKind::kReconnected:
      return "reconnected";
    case EventKind::kBlockMeta:
      return "block_meta";
    case EventKind::kEntry:
      return "entry";
    case EventKind::kTransactionStatus:
      return "tx_status";
  }
  return "unknown";
}

const char* Bool(bool b) { return b ? "true" : "false"; }

// Slot and latency exist for updates (and latency for gaps, which carry the sender's
// timestamp); Disconnected and Reconnected have neither.
std::optional<uint64_t> SlotOf(const Event& e) {
  if (const auto* a = e.account()) return a->slot;
  if (const auto* t = e.transaction()) return t->slot;
  if (const auto* s = e.slot()) return s->slot;
  if (const auto* b = e.block_meta()) return b->slot;
  if (const auto* en = e.entry()) return en->slot;
  if (const auto* st = e.transaction_status()) return st->slot;
  return std::nullopt;
}

std::optional<int64_t> LatencyOf(const Event& e, int64_t now_ns) {
  if (e.timestamp_ns == 0) return std::nullopt;
  return now_ns - static_cast<int64_t>(e.timestamp_ns);
}

std::string HexPrefix(std::span<const uint8_t> data, size_t max) {
  std::string out;
  for (size_t i = 0; i < data.size() && i < max; ++i) absl::StrAppend(&out, absl::Hex(data[i], absl::kZeroPad2));
  if (data.size() > max) out += "...";
  return out;
}

}  // namespace

// Text from other processes (names, reasons) is shown escaped, never as raw control bytes.
std::string Printable(std::string_view text) {
  std::string quoted = JsonString(text);
  return quoted.substr(1, quoted.size() - 2);
}

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += absl::StrFormat("\\u%04x", c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF) is
    // copied; anything else becomes U+FFFD, one byte at a time.
    size_t len = 0;
    uint32_t min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      min = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) {
      out.append(text.data() + i, len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    const uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string FormatNanos(int64_t ns) {
  const char* sign = ns < 0 ? "-" : "";
  // Magnitude as unsigned: -INT64_MIN does not fit an int64.
  const uint64_t m = ns < 0 ? ~static_cast<uint64_t>(ns) + 1 : static_cast<uint64_t>(ns);
  const double d = static_cast<double>(m);
  if (m < 1000) return absl::StrCat(sign, m, "ns");
  if (m < 1000'000) return absl::StrFormat("%s%.1fus", sign, d / 1e3);
  if (m < 1000'000'000) return absl::StrFormat("%s%.2fms", sign, d / 1e6);
  return absl::StrFormat("%s%.2fs", sign, d / 1e9);
}

std::string FormatBytes(double bytes) {
  if (bytes < 1024) return absl::StrFormat("%.0fB", bytes);
  if (bytes < 1024.0 * 1024) return absl::StrFormat("%.1fKiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return absl::StrFormat("%.2fMiB", bytes / (1024.0 * 1024));
  return absl::StrFormat("%.2fGiB", bytes / (1024.0 * 1024 * 1024));
}

std::string FormatJson(const Event& e, int64_t now_ns, const PrintOptions& options) {
  std::string out = absl::StrCat("{\"kind\":\"", KindName(e.kind), "\",\"seq\":", e.sequence);
  const std::optional<uint64_t> slot = SlotOf(e);
  const std::optional<int64_t> latency = LatencyOf(e, now_ns);
  absl::StrAppend(&out, ",\"slot\":", slot ? absl::StrCat(*slot) : "null");
  absl::StrAppend(&out, ",\"latency_ns\":", latency ? absl::StrCat(*latency) : "null");
  if (const auto* a = e.account()) {
    absl::StrAppend(&out, ",\"pubkey\":\"", B58(a->pubkey), "\",\"owner\":\"", B58(a->owner),
                    "\",\"lamports\":", a->lamports, ",\"executable\":", Bool(a->executable),
                    ",\"rent_epoch\":", a->rent_epoch, ",\"write_version\":", a->write_version,
                    ",\"data_len\":", a->data.size(), ",\"account_data_len\":",
                    a->account_data_len, ",\"sliced\":", Bool(a->sliced),
                    ",\"compressed\":", Bool(a->was_compressed),
                    ",\"txn_signature\":",
                    a->has_txn_signature ? absl::StrCat("\"", B58(a->txn_signature), "\"")
                                         : "null");
    if (options.data) absl::StrAppend(&out, ",\"data\":\"", Base64Encode(a->data), "\"");
  } else if (const auto* t = e.transaction()) {
    absl::StrAppend(&out, ",\"signature\":\"", B58(t->signature), "\",\"index\":", t->index,
                    ",\"is_vote\":", Bool(t->is_vote), ",\"failed\":", Bool(t->failed),
                    ",\"data_len\":", t->data.size(), ",\"status_len\":", t->status.size());
    if (options.data) {
      absl::StrAppend(&out, ",\"data\":\"", Base64Encode(t->data), "\",\"status\":\"",
                      Base64Encode(t->status), "\"");
    }
  } else if (const auto* s = e.slot()) {
    absl::StrAppend(&out, ",\"parent\":", s->parent, ",\"status\":\"", std::string(SlotStatusName(s->state)),
                    "\"");
  } else if (const auto* g = e.gap()) {
    absl::StrAppend(&out, ",\"dropped\":", g->dropped, ",\"first_missing\":", g->first_missing,
                    ",\"last_missing\":", g->last_missing,
                    ",\"reported_by_sender\":", Bool(g->reported_by_sender));
  } else if (const auto* d = e.disconnected()) {
    absl::StrAppend(&out, ",\"reason\":", JsonString(d->reason),
                    ",\"will_reconnect\":", Bool(d->will_reconnect));
  } else if (const auto* r = e.reconnected()) {
    absl::StrAppend(&out, ",\"consumer_id\":", r->consumer_id,
                    ",\"effective_sequence\":", r->effective_sequence);
  } else if (const auto* b = e.block_meta()) {
    absl::StrAppend(&out, ",\"parent_slot\":", b->parent_slot, ",\"blockhash\":\"",
                    B58(b->blockhash), "\",\"parent_blockhash\":\"", B58(b->parent_blockhash),
                    "\",\"block_height\":",
                    b->has_block_height ? absl::StrCat(b->block_height) : "null",
                    ",\"block_time\":", b->has_block_time ? absl::StrCat(b->block_time) : "null",
                    ",\"executed_transaction_count\":", b->executed_transaction_count,
                    ",\"entries_count\":", b->entries_count, ",\"rewards\":", b->reward_count());
  } else if (const auto* en = e.entry()) {
    absl::StrAppend(&out, ",\"index\":", en->index, ",\"num_hashes\":", en->num_hashes,
                    ",\"hash\":\"", B58(en->hash), "\",\"executed_transaction_count\":",
                    en->executed_transaction_count, ",\"starting_transaction_index\":",
                    en->starting_transaction_index);
  } else if (const auto* st = e.transaction_status()) {
    absl::StrAppend(&out, ",\"signature\":\"", B58(st->signature), "\",\"index\":", st->index,
                    ",\"is_vote\":", Bool(st->is_vote), ",\"failed\":", Bool(st->failed),
                    ",\"error\":",
                    st->error.empty() ? "null" : absl::StrCat("\"", Base64Encode(st->error), "\""));
  }
  if (!options.filter_names.empty()) {
    out += ",\"filters\":[";
    for (size_t i = 0; i < options.filter_names.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", JsonString(options.filter_names[i]));
    }
    out += ']';
  } else if (e.filters != 0) {
    absl::StrAppend(&out, ",\"filter_bits\":", e.filters);
  }
  out += '}';
  return out;
}

std::string FormatHuman(const Event& e, int64_t now_ns, const PrintOptions& options) {
  const std::optional<uint64_t> slot = SlotOf(e);
  const std::optional<int64_t> latency = LatencyOf(e, now_ns);
  // kind, seq, slot, latency: fixed columns, so that a scrolling terminal reads as a table.
  std::string out = absl::StrFormat(
      "%-12s %10s %11s %9s  ", KindName(e.kind),
      e.sequence != 0 ? absl::StrCat(e.sequence) : "", slot ? absl::StrCat(*slot) : "",
      latency ? FormatNanos(*latency) : "");
  if (const auto* a = e.account()) {
    absl::StrAppend(&out, absl::StrFormat("%-44s owner %-44s lamports %d data %d wv %d",
                                          B58(a->pubkey), B58(a->owner), a->lamports,
                                          a->data.size(), a->write_version));
    if (a->executable) out += " executable";
    if (a->was_compressed) out += " lz4";
    if (a->has_txn_signature) absl::StrAppend(&out, " txn ", B58(a->txn_signature));
    if (options.data) absl::StrAppend(&out, " data ", HexPrefix(a->data, 32));
  } else if (const auto* t = e.transaction()) {
    absl::StrAppend(&out, absl::StrFormat("%-88s index %d data %d", B58(t->signature), t->index,
                                          t->data.size()));
    if (t->is_vote) out += " vote";
    if (t->failed) out += " failed";
    if (options.data) absl::StrAppend(&out, " data ", HexPrefix(t->data, 32));
  } else if (const auto* s = e.slot()) {
    absl::StrAppend(&out, "parent ", s->parent, " ", std::string(SlotStatusName(s->state)));
  } else if (const auto* g = e.gap()) {
    absl::StrAppend(&out, "dropped ", g->dropped, " (seq ", g->first_missing, "..",
                    g->last_missing, g->reported_by_sender ? ", reported by the sender)"
                                                           : ", unexplained jump)");
  } else if (const auto* d = e.disconnected()) {
    absl::StrAppend(&out, Printable(d->reason), d->will_reconnect ? "; reconnecting" : "");
  } else if (const auto* r = e.reconnected()) {
    absl::StrAppend(&out, "consumer ", r->consumer_id, ", effective sequence ",
                    r->effective_sequence);
  } else if (const auto* b = e.block_meta()) {
    absl::StrAppend(&out, B58(b->blockhash), " parent ", b->parent_slot, " txs ",
                    b->executed_transaction_count, " entries ", b->entries_count, " rewards ",
                    b->reward_count());
    if (b->has_block_height) absl::StrAppend(&out, " height ", b->block_height);
  } else if (const auto* en = e.entry()) {
    absl::StrAppend(&out, "index ", en->index, " hashes ", en->num_hashes, " txs ",
                    en->executed_transaction_count, " from ", en->starting_transaction_index);
  } else if (const auto* st = e.transaction_status()) {
    absl::StrAppend(&out, absl::StrFormat("%-88s index %d", B58(st->signature), st->index));
    if (st->is_vote) out += " vote";
    if (st->failed) out += " failed";
  }
  if (!options.filter_names.empty()) {
    absl::StrAppend(&out, " filters=", absl::StrJoin(options.filter_names, ","));
  }
  // Trailing blanks of empty columns (a gap has no slot...) are harmless; those at the end
  // of a line are not wanted.
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string FormatSenderStatsTable(const StatsMsg& stats) {
  std::string out = absl::StrFormat(
      "sender: published %d  delivered %d  dropped %d  evicted %d  consumers %d%s\n",
      stats.published, stats.delivered, stats.dropped, stats.evicted, stats.consumers.size(),
      stats.oldest_replay_slot.has_value()
          ? absl::StrCat("  replay from slot ", *stats.oldest_replay_slot)
          : std::string());
  absl::StrAppend(&out, absl::StrFormat("%12s  %-24s %12s %10s %10s %10s %7s %10s\n", "id", "name",
                                        "delivered", "dropped", "ring", "fill", "fill%",
                                        "lag"));
  for (const ConsumerStatsEntry& c : stats.consumers) {
    const double pct = c.ring_bytes == 0 ? 0.0
                                         : 100.0 * static_cast<double>(c.ring_fill) /
                                               static_cast<double>(c.ring_bytes);
    const std::string name = Printable(c.name);
    absl::StrAppend(&out, absl::StrFormat("%12d  %-24s %12d %10d %10s %10s %6.1f%% %10d\n",
                                          c.consumer_id, name, c.delivered, c.dropped,
                                          FormatBytes(static_cast<double>(c.ring_bytes)),
                                          FormatBytes(static_cast<double>(c.ring_fill)), pct,
                                          c.lag_records));
  }
  for (const SourceCounterEntry& c : stats.source_counters) {
    absl::StrAppend(&out, absl::StrFormat("source %s %s %d\n", Printable(c.source),
                                          Printable(c.name), c.value));
  }
  return out;
}

std::string FormatSenderStatsJson(const StatsMsg& stats) {
  std::string out = absl::StrCat("{\"published\":", stats.published, ",\"delivered\":",
                                 stats.delivered, ",\"dropped\":", stats.dropped,
                                 ",\"evicted\":", stats.evicted, ",\"consumers\":[");
  for (size_t i = 0; i < stats.consumers.size(); ++i) {
    const ConsumerStatsEntry& c = stats.consumers[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"id\":", c.consumer_id,
                    ",\"name\":", JsonString(c.name), ",\"delivered\":", c.delivered,
                    ",\"dropped\":", c.dropped, ",\"ring_bytes\":", c.ring_bytes,
                    ",\"ring_fill\":", c.ring_fill, ",\"lag_records\":", c.lag_records, "}");
  }
  out += "],\"source_counters\":[";
  for (size_t i = 0; i < stats.source_counters.size(); ++i) {
    const SourceCounterEntry& c = stats.source_counters[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"source\":", JsonString(c.source),
                    ",\"name\":", JsonString(c.name), ",\"value\":", c.value, "}");
  }
  out += "],\"oldest_replay_slot\":";
  out += stats.oldest_replay_slot.has_value() ? absl::StrCat(*stats.oldest_replay_slot) : "null";
  out += "}";
  return out;
}

}  // namespace qlaster::inspect
