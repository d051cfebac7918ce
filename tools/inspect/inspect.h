// qlaster-inspect's two modes as functions of parsed options: watching a subscription
// (print, record, live stats) and asking the sender for its statistics. main.cc only
// parses flags into InspectOptions.
//
// Exit codes (kExit*): 0 done (--count or --duration reached, SIGINT/SIGTERM, stdout
// closed); 1 a failure after connecting (a corrupt ring, the record file cannot be
// written, the sender refused the subscription); 2 no sender (or it refused the
// connection); 64 a usage error (main.cc).
#ifndef QLASTER_TOOLS_INSPECT_INSPECT_H_
#define QLASTER_TOOLS_INSPECT_INSPECT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qlaster/consumer.hpp"
#include "tools/inspect/printer.h"

namespace qlaster::inspect {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitNoSender = 2;
inline constexpr int kExitUsage = 64;  // EX_USAGE

struct InspectOptions {
  std::string socket_path = {};
  std::string name = "qlaster-inspect";
  std::vector<Pubkey> accounts = {};
  std::vector<Pubkey> owners = {};
  TransactionFilter transactions = TransactionFilter::kNone;
  // Set when a flag of a named subscription was given (--memcmp, --commitment,
  // --from_slot, ...): then this whole subscription is asked for (Consumer::SetSubscription),
  // with --account/--owner/--transactions folded into its filters named "inspect".
  std::optional<Subscription> subscription = std::nullopt;
  // Print slot updates. They always arrive (the sender sends them to everyone); this
  // only decides whether they are shown and counted.
  bool show_slots = false;
  uint64_t count = 0;     // stop after this many shown updates; 0: no limit
  double duration = 0;    // stop after this many seconds; 0: no limit
  uint64_t ring_bytes = 0;
  OverflowPolicy policy = OverflowPolicy::kDropAndCount;
  bool json = false;
  bool stats = false;  // the live view instead of one line per update
  bool quiet = false;  // no per-update lines (with --record)
  PrintOptions print = {};
  std::string record_path = {};  // empty: no recording
  bool overwrite = false;        // the record file may exist
};

// Connects, subscribes, and shows (and records) what arrives until --count, --duration,
// SIGINT or SIGTERM. Writes to stdout; one-line errors to stderr. Returns the exit code.
// Installs handlers for SIGINT and SIGTERM, and ignores SIGPIPE.
int RunWatch(const InspectOptions& options);

// --sender-stats: asks the sender for its statistics without becoming a consumer (no
// Hello), prints them (a table, or JSON with options.json) and returns the exit code.
int RunSenderStats(const InspectOptions& options);

}  // namespace qlaster::inspect

#endif  // QLASTER_TOOLS_INSPECT_INSPECT_H_
