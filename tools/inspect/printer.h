// How qlaster-inspect shows things: one line per event, as aligned text for people or as
// JSON for programs (jq, scripts, tests), and the sender's statistics as a table or JSON.
// Pure formatting, separate from the connection loop so that it can be unit tested.
//
// JSON lines. Every event line has "kind" ("account", "transaction", "slot", "gap",
// "disconnected", "reconnected"), "seq", "slot" and "latency_ns" (null where the event
// has none), then the kind's fields:
//   account:      pubkey, owner (base58), lamports, executable, rent_epoch, write_version,
//                 data_len, compressed, txn_signature (base58 or null), data (base64, only
//                 with PrintOptions::data)
//   transaction:  signature (base58), index, is_vote, failed, data_len, data (as above)
//   slot:         parent, status ("processed", "confirmed", "rooted", ...)
//   gap:          dropped, first_missing, last_missing, reported_by_sender
//   disconnected: reason, will_reconnect
//   reconnected:  consumer_id, effective_sequence
// Integers are printed exactly, all 64 bits (rent_epoch is often 2^64-1): a reader that
// parses numbers as doubles (JavaScript, jq 1.6) loses precision above 2^53.
// latency_ns = now (CLOCK_REALTIME) - the sender's timestamp; it can be negative only if
// the clock stepped.
//
// All functions are pure and thread-safe.
#ifndef QLASTER_TOOLS_INSPECT_PRINTER_H_
#define QLASTER_TOOLS_INSPECT_PRINTER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qlaster/consumer.hpp"
#include "wire/control_framing.h"

namespace qlaster::inspect {

struct PrintOptions {
  // Include account and transaction data: base64 in JSON, the first 32 bytes in hex in
  // text.
  bool data = false;
  // The names of the named filters the event matched (Consumer::FilterNames): printed as
  // "filters" (JSON) and "filters=a,b" (text) when not empty.
  std::vector<std::string> filter_names = {};
};

// The event as one JSON object, no trailing newline. `now_ns`: CLOCK_REALTIME, for the
// latency.
std::string FormatJson(const Event& event, int64_t now_ns, const PrintOptions& options = {});

// The event as one aligned line of text, no trailing newline:
//   account          12         77    14.2us  <pubkey> owner <owner> lamports 1000 ...
std::string FormatHuman(const Event& event, int64_t now_ns, const PrintOptions& options = {});

// `text` as a JSON string literal, quotes included. Control characters and invalid UTF-8
// are escaped (invalid bytes become U+FFFD), so any input yields valid JSON.
std::string JsonString(std::string_view text);

// JsonString without the quotes: text from another process, safe to print on a terminal.
std::string Printable(std::string_view text);

// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::span<const uint8_t> bytes);

// "850ns", "14.2us", "3.05ms", "1.20s"; negative values keep their sign.
std::string FormatNanos(int64_t ns);

// "512B", "64.0KiB", "1.50MiB", "2.00GiB".
std::string FormatBytes(double bytes);

// --sender-stats: the sender's totals and one row per consumer.
std::string FormatSenderStatsTable(const StatsMsg& stats);
std::string FormatSenderStatsJson(const StatsMsg& stats);

}  // namespace qlaster::inspect

#endif  // QLASTER_TOOLS_INSPECT_PRINTER_H_
