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
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/flags.h"
#include "base/status_macros.h"
#include "qlaster/subscription.hpp"
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
// A named subscription (Yellowstone's filters): any of these makes the inspector ask for
// one, with --account/--owner and the account predicates in the account filter "inspect"
// and the transaction flags in the transaction filter "inspect".
ABSL_FLAG(std::vector<std::string>, memcmp, {},
          "account data at OFFSET equals BASE58 bytes: OFFSET:BASE58 (repeatable, at most 4 "
          "data predicates in all)");
ABSL_FLAG(std::string, datasize, "", "account data is exactly N bytes");
ABSL_FLAG(std::string, lamports_eq, "", "account lamports == N");
ABSL_FLAG(std::string, lamports_ne, "", "account lamports != N");
ABSL_FLAG(std::string, lamports_lt, "", "account lamports < N");
ABSL_FLAG(std::string, lamports_gt, "", "account lamports > N");
ABSL_FLAG(bool, token_account_state, false,
          "only valid, initialized SPL Token / Token-2022 accounts");
ABSL_FLAG(std::string, nonempty_txn_signature, "",
          "true: only account writes that carry a transaction signature; false: only those "
          "that do not");
ABSL_FLAG(std::vector<std::string>, data_slice, {},
          "only these bytes of account data: OFFSET:LEN (repeatable; sorted, not overlapping)");
ABSL_FLAG(std::string, vote, "", "transactions: true (votes only) or false (no votes)");
ABSL_FLAG(std::string, failed, "", "transactions: true (failed only) or false (succeeded only)");
ABSL_FLAG(std::string, signature, "", "transactions: only the one with this base58 signature");
ABSL_FLAG(std::vector<std::string>, tx_account_include, {},
          "transactions that use any of these base58 accounts (static or loaded)");
ABSL_FLAG(std::vector<std::string>, tx_account_exclude, {},
          "transactions that use none of these accounts");
ABSL_FLAG(std::vector<std::string>, tx_account_required, {},
          "transactions that use all of these accounts");
ABSL_FLAG(bool, transaction_status, false,
          "also transaction status updates (the transaction filter's selection)");
ABSL_FLAG(std::string, commitment, "processed",
          "processed (as it happens), confirmed or finalized (a slot's updates once it gets "
          "there: the latest write per account, nothing of dead slots)");
ABSL_FLAG(std::string, from_slot, "",
          "first replay what the sender still keeps from this slot on, then go live");
ABSL_FLAG(bool, blocks_meta, false, "block meta updates (one per block)");
ABSL_FLAG(bool, entries, false, "entry updates");
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

// Flags whose repetitions are gathered into one comma list.
const std::set<std::string> kGathered = {"account",         "owner",
                                         "memcmp",          "data_slice",
                                         "tx_account_include", "tx_account_exclude",
                                         "tx_account_required"};

// Abseil flags take the last of repeated flags and spell names with underscores. People
// write `--account A --account B` and `--sender-stats`: so hyphens in flag names become
// underscores, and every --account (--owner) value is gathered into one comma list.
std::vector<std::string> NormalizeArgs(int argc, char** argv) {
  std::vector<std::string> out = {argv[0]};
  std::map<std::string, std::vector<std::string>> gathered;
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
    if (kGathered.contains(name)) {
      std::vector<std::string>& list = gathered[name];
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
  for (const auto& [name, values] : gathered) out.push_back("--" + name + "=" + absl::StrJoin(values, ","));
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


absl::StatusOr<uint64_t> ParseU64(absl::string_view flag, absl::string_view text) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", text, "' is not a number >= 0"));
  }
  return v;
}

absl::StatusOr<std::optional<bool>> ParseTri(absl::string_view flag, absl::string_view text) {
  if (text.empty()) return std::optional<bool>();
  if (text == "true") return std::optional<bool>(true);
  if (text == "false") return std::optional<bool>(false);
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", text, "' is not true or false"));
}

// "A:B" split at the first colon; both parts non-empty.
absl::StatusOr<std::pair<std::string, std::string>> SplitPair(absl::string_view flag,
                                                             absl::string_view text,
                                                             absl::string_view shape) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", text, "' is not ", shape));
  }
  return std::pair<std::string, std::string>(text.substr(0, colon), text.substr(colon + 1));
}

absl::StatusOr<std::vector<qlaster::Pubkey>> Keys(absl::string_view flag,
                                                  const std::vector<std::string>& values) {
  std::vector<qlaster::Pubkey> out;
  std::string error;
  if (!ParseKeys(std::string(flag).c_str(), values, &out, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return out;
}

// The named subscription the flags ask for, or nullopt when none of its flags is set.
absl::StatusOr<std::optional<qlaster::Subscription>> NamedSubscription(
    const qlaster::inspect::InspectOptions& o) {
  using qlaster::LamportsOp;
  qlaster::Subscription sub;
  bool named = false;

  qlaster::AccountFilter account{.pubkeys = o.accounts, .owners = o.owners};
  for (const std::string& m : absl::GetFlag(FLAGS_memcmp)) {
    QLASTER_ASSIGN_OR_RETURN(auto pair, SplitPair("memcmp", m, "OFFSET:BASE58"));
    QLASTER_ASSIGN_OR_RETURN(const uint64_t offset, ParseU64("memcmp", pair.first));
    absl::StatusOr<std::vector<uint8_t>> bytes = qlaster::Base58Decode(pair.second);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--memcmp: '", pair.second, "' is not base58 (",
                                                     bytes.status().message(), ")"));
    }
    account.memcmp.push_back({.offset = offset, .bytes = *std::move(bytes)});
  }
  if (const std::string d = absl::GetFlag(FLAGS_datasize); !d.empty()) {
    QLASTER_ASSIGN_OR_RETURN(account.datasize, ParseU64("datasize", d));
  }
  const std::pair<LamportsOp, std::string> lamports[] = {
      {LamportsOp::kEq, absl::GetFlag(FLAGS_lamports_eq)},
      {LamportsOp::kNe, absl::GetFlag(FLAGS_lamports_ne)},
      {LamportsOp::kLt, absl::GetFlag(FLAGS_lamports_lt)},
      {LamportsOp::kGt, absl::GetFlag(FLAGS_lamports_gt)}};
  for (const auto& [op, text] : lamports) {
    if (text.empty()) continue;
    QLASTER_ASSIGN_OR_RETURN(const uint64_t v, ParseU64("lamports", text));
    account.lamports.push_back({.op = op, .value = v});
  }
  account.token_account_state = absl::GetFlag(FLAGS_token_account_state);
  QLASTER_ASSIGN_OR_RETURN(account.nonempty_txn_signature,
                           ParseTri("nonempty_txn_signature", absl::GetFlag(FLAGS_nonempty_txn_signature)));
  const bool account_predicates = !account.memcmp.empty() || account.datasize.has_value() ||
                                  !account.lamports.empty() || account.token_account_state ||
                                  account.nonempty_txn_signature.has_value();
  named |= account_predicates;

  qlaster::TransactionSelector tx;
  if (o.transactions == qlaster::TransactionFilter::kNonVote) tx.vote = false;
  QLASTER_ASSIGN_OR_RETURN(const std::optional<bool> vote, ParseTri("vote", absl::GetFlag(FLAGS_vote)));
  if (vote.has_value()) tx.vote = vote;
  QLASTER_ASSIGN_OR_RETURN(tx.failed, ParseTri("failed", absl::GetFlag(FLAGS_failed)));
  if (const std::string sig = absl::GetFlag(FLAGS_signature); !sig.empty()) {
    absl::StatusOr<qlaster::Signature> s = qlaster::DecodeSignature(sig);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--signature: '", sig, "' is not a base58 signature (", s.status().message(), ")"));
    }
    tx.signature = *s;
  }
  QLASTER_ASSIGN_OR_RETURN(tx.account_include, Keys("tx_account_include", absl::GetFlag(FLAGS_tx_account_include)));
  QLASTER_ASSIGN_OR_RETURN(tx.account_exclude, Keys("tx_account_exclude", absl::GetFlag(FLAGS_tx_account_exclude)));
  QLASTER_ASSIGN_OR_RETURN(tx.account_required, Keys("tx_account_required", absl::GetFlag(FLAGS_tx_account_required)));
  const bool tx_predicates = vote.has_value() || tx.failed.has_value() || tx.signature.has_value() ||
                             !tx.account_include.empty() || !tx.account_exclude.empty() ||
                             !tx.account_required.empty();
  named |= tx_predicates;
  const bool statuses = absl::GetFlag(FLAGS_transaction_status);
  named |= statuses;

  for (const std::string& d : absl::GetFlag(FLAGS_data_slice)) {
    QLASTER_ASSIGN_OR_RETURN(auto pair, SplitPair("data_slice", d, "OFFSET:LEN"));
    QLASTER_ASSIGN_OR_RETURN(const uint64_t offset, ParseU64("data_slice", pair.first));
    QLASTER_ASSIGN_OR_RETURN(const uint64_t length, ParseU64("data_slice", pair.second));
    sub.data_slices.push_back({.offset = offset, .length = length});
    named = true;
  }
  const std::string commitment = absl::GetFlag(FLAGS_commitment);
  if (commitment == "processed") {
    sub.commitment = qlaster::Commitment::kProcessed;
  } else if (commitment == "confirmed") {
    sub.commitment = qlaster::Commitment::kConfirmed;
    named = true;
  } else if (commitment == "finalized") {
    sub.commitment = qlaster::Commitment::kFinalized;
    named = true;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--commitment: '", commitment, "' is not processed, confirmed or finalized"));
  }
  if (const std::string f = absl::GetFlag(FLAGS_from_slot); !f.empty()) {
    QLASTER_ASSIGN_OR_RETURN(sub.from_slot, ParseU64("from_slot", f));
    named = true;
  }
  if (absl::GetFlag(FLAGS_blocks_meta)) {
    sub.blocks_meta.insert("inspect");
    named = true;
  }
  if (absl::GetFlag(FLAGS_entries)) {
    sub.entries.insert("inspect");
    named = true;
  }
  if (!named) return std::optional<qlaster::Subscription>();

  if (!o.accounts.empty() || !o.owners.empty() || account_predicates) sub.accounts["inspect"] = account;
  if (o.transactions != qlaster::TransactionFilter::kNone || tx_predicates) sub.transactions["inspect"] = tx;
  if (statuses) sub.transaction_statuses["inspect"] = tx;
  return std::optional<qlaster::Subscription>(std::move(sub));
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
  absl::StatusOr<std::optional<qlaster::Subscription>> named = NamedSubscription(o);
  if (!named.ok()) return UsageError(std::string(named.status().message()));
  o.subscription = *std::move(named);
  // Slot updates reach every consumer; with nothing else subscribed they are all there is
  // to see, so they are shown then.
  o.show_slots = absl::GetFlag(FLAGS_slots) ||
                 (o.accounts.empty() && o.owners.empty() &&
                  o.transactions == qlaster::TransactionFilter::kNone && !o.subscription.has_value());

  if (absl::GetFlag(FLAGS_sender_stats)) return qlaster::inspect::RunSenderStats(o);
  return qlaster::inspect::RunWatch(o);
}
