// qlaster-inspect: look at what a local qlaster-sender fans out, the way tcpdump or
// kafkacat let people look at a network or a topic. This file only parses flags; the
// work is in inspect.cc, the formatting in printer.cc and live_stats.cc.
//
//   qlaster-inspect --account=<B58> --owner=<B58> --transactions=nonvote
//   qlaster-inspect --json --count=10 --account=<B58> | jq .lamports
//   qlaster-inspect --stats --owner=TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA
//   qlaster-inspect --sender-stats
//   qlaster-inspect --record=feed.qlrec --quiet --duration=60
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/flags.h"
#include "tools/inspect/inspect.h"
#include "base/base58.h"

ABSL_FLAG(std::string, socket, "",
          "the sender's control socket (default: $QLASTER_SOCKET, "
          "$XDG_RUNTIME_DIR/qlaster/sender.sock, or /run/qlaster/sender.sock)");
ABSL_FLAG(std::vector<std::string>, account, {},
          "account pubkeys to watch, base58; repeat the flag or give a comma list");
ABSL_FLAG(std::vector<std::string>, owner, {},
          "program ids whose accounts to watch, base58; repeat the flag or give a comma list");
ABSL_FLAG(std::string, transactions, "none", "transactions to watch: none, all or nonvote");
ABSL_FLAG(bool, slots, false,
          "show slot updates (they always arrive; shown by default only when nothing else "
          "is subscribed)");
ABSL_FLAG(int64_t, count, 0, "exit 0 after this many updates shown (0: no limit)");
ABSL_FLAG(double, duration, 0, "exit 0 after this many seconds (0: no limit)");
ABSL_FLAG(int64_t, ring_bytes, 0, "ring size to ask the sender for (0: the sender's default)");
ABSL_FLAG(std::string, policy, "drop",
          "when the ring is full: drop (the sender drops and reports a gap) or evict (the "
          "sender disconnects us; we reconnect)");
ABSL_FLAG(bool, json, false, "JSON lines instead of text");
ABSL_FLAG(bool, data, false, "include account and transaction data (base64 in JSON)");
ABSL_FLAG(bool, stats, false, "a live per-second view instead of one line per update");
ABSL_FLAG(bool, sender_stats, false,
          "print the sender's statistics of every consumer and exit (also --sender-stats)");
ABSL_FLAG(std::string, record, "", "write every frame received to this record file");
ABSL_FLAG(bool, overwrite, false, "let --record replace an existing file");
ABSL_FLAG(bool, quiet, false, "no per-update lines (useful with --record)");
ABSL_FLAG(std::string, name, "qlaster-inspect", "consumer name the sender shows");

namespace {

using qlaster::UsageError;

// Abseil flags take the last of repeated flags and spell names with underscores. People
// write `--account A --account B` and `--sender-stats`: so hyphens in flag names become
// underscores, and every --account (--owner) value is gathered into one comma list.
std::vector<std::string> NormalizeArgs(int argc, char** argv) {
  std::vector<std::string> out = {argv[0]};
  std::vector<std::string> accounts, owners;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) out.push_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.push_back(arg);
      continue;
    }
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    std::string name = arg.substr(dashes, eq == std::string::npos ? std::string::npos : eq - dashes);
    for (char& c : name) c = c == '-' ? '_' : c;
    if (name == "account" || name == "owner") {
      std::vector<std::string>& list = name == "account" ? accounts : owners;
      if (eq != std::string::npos) {
        list.push_back(arg.substr(eq + 1));
      } else if (i + 1 < argc) {
        list.push_back(argv[++i]);
      } else {
        out.push_back(arg);  // let the flag parser say a value is missing
      }
      continue;
    }
    out.push_back(arg.substr(0, dashes) + name + (eq == std::string::npos ? "" : arg.substr(eq)));
  }
  if (!accounts.empty()) out.push_back("--account=" + absl::StrJoin(accounts, ","));
  if (!owners.empty()) out.push_back("--owner=" + absl::StrJoin(owners, ","));
  return out;
}

// Decodes every key of a flag; a usage error names the flag and the bad value.
bool ParseKeys(const char* flag, const std::vector<std::string>& values,
               std::vector<qlaster::Pubkey>* out, std::string* error) {
  for (const std::string& v : values) {
    absl::StatusOr<qlaster::Pubkey> key = qlaster::DecodePubkey(v);
    if (!key.ok()) {
      *error = absl::StrCat("--", flag, ": '", v, "' is not a base58 pubkey (",
                            key.status().message(), ")");
      return false;
    }
    out->push_back(*key);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = NormalizeArgs(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  std::vector<char*> positional = qlaster::ParseFlags(
      static_cast<int>(args.size()), arg_ptrs.data(),
      "shows what a local qlaster-sender fans out: subscribe with base58 keys, print updates "
      "as text or JSON lines, watch rates and latency, record for replay");
  if (positional.size() > 1) {
    return UsageError(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));
  }

  qlaster::inspect::InspectOptions o;
  o.socket_path = absl::GetFlag(FLAGS_socket);
  if (o.socket_path.empty()) o.socket_path = qlaster::DefaultSocketPath();
  std::string error;
  if (!ParseKeys("account", absl::GetFlag(FLAGS_account), &o.accounts, &error) ||
      !ParseKeys("owner", absl::GetFlag(FLAGS_owner), &o.owners, &error)) {
    return UsageError(error);
  }
  const std::string tx = absl::GetFlag(FLAGS_transactions);
  if (tx == "none") {
    o.transactions = qlaster::TransactionFilter::kNone;
  } else if (tx == "all") {
    o.transactions = qlaster::TransactionFilter::kAll;
  } else if (tx == "nonvote" || tx == "non_vote" || tx == "non-vote") {
    o.transactions = qlaster::TransactionFilter::kNonVote;
  } else {
    return UsageError(absl::StrCat("--transactions: '", tx, "' is not none, all or nonvote"));
  }
  const std::string policy = absl::GetFlag(FLAGS_policy);
  if (policy == "drop") {
    o.policy = qlaster::OverflowPolicy::kDropAndCount;
  } else if (policy == "evict") {
    o.policy = qlaster::OverflowPolicy::kEvict;
  } else {
    return UsageError(absl::StrCat("--policy: '", policy, "' is not drop or evict"));
  }
  if (absl::GetFlag(FLAGS_count) < 0) return UsageError("--count must be >= 0");
  if (!(absl::GetFlag(FLAGS_duration) >= 0)) return UsageError("--duration must be >= 0 seconds");
  if (absl::GetFlag(FLAGS_ring_bytes) < 0) return UsageError("--ring_bytes must be >= 0");
  o.count = static_cast<uint64_t>(absl::GetFlag(FLAGS_count));
  o.duration = absl::GetFlag(FLAGS_duration);
  o.ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_ring_bytes));
  o.json = absl::GetFlag(FLAGS_json);
  o.stats = absl::GetFlag(FLAGS_stats);
  o.quiet = absl::GetFlag(FLAGS_quiet);
  o.print.data = absl::GetFlag(FLAGS_data);
  o.record_path = absl::GetFlag(FLAGS_record);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  o.name = absl::GetFlag(FLAGS_name);
  // Slot updates reach every consumer; with nothing else subscribed they are all there is
  // to see, so they are shown then.
  o.show_slots = absl::GetFlag(FLAGS_slots) ||
                 (o.accounts.empty() && o.owners.empty() &&
                  o.transactions == qlaster::TransactionFilter::kNone);

  if (absl::GetFlag(FLAGS_sender_stats)) return qlaster::inspect::RunSenderStats(o);
  return qlaster::inspect::RunWatch(o);
}
