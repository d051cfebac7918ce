// qlaster_e2e_consumer: a bot for the end-to-end suites. It links libqlaster-consumer like
// any bot, subscribes as its flags say, prints "READY <effective_sequence>" on stdout once
// the sender has acknowledged, and writes one line per event to --out:
//
//   A <seq> <pubkey> <owner> <lamports> <write_version> <data_len> <data_checksum> <compressed>
//   T <seq> <signature> <is_vote>
//   S <seq> <slot> <state>
//   G <seq> <dropped>
//   D <reason>
//   R
//
// It exits 0 after it has seen slot --until_slot, or 3 at --timeout.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "qlaster/consumer.hpp"
#include "tests/stress_records.h"
#include "base/base58.h"

ABSL_FLAG(std::string, socket, "", "sender socket");
ABSL_FLAG(std::string, name, "e2e", "consumer name");
ABSL_FLAG(std::vector<std::string>, account, {}, "pubkeys (base58)");
ABSL_FLAG(std::vector<std::string>, owner, {}, "owners (base58)");
ABSL_FLAG(std::string, transactions, "none", "none, all or nonvote");
ABSL_FLAG(std::string, policy, "evict", "evict or drop");
ABSL_FLAG(int64_t, ring_bytes, 0, "ring size (0: the sender's default)");
ABSL_FLAG(std::string, out, "", "event log file");
ABSL_FLAG(int64_t, until_slot, -1, "exit after this slot update");
ABSL_FLAG(bool, wait_for_stdin_eof, false, "after READY, read nothing until stdin closes");
ABSL_FLAG(int, timeout, 60, "seconds before giving up");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  qlaster::ConsumerOptions options;
  options.name = absl::GetFlag(FLAGS_name);
  options.ring_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_ring_bytes));
  options.overflow = absl::GetFlag(FLAGS_policy) == "drop" ? qlaster::OverflowPolicy::kDropAndCount
                                                           : qlaster::OverflowPolicy::kEvict;
  options.wait_mode = qlaster::WaitMode::kSleep;
  auto consumer = qlaster::Consumer::Connect(absl::GetFlag(FLAGS_socket), options);
  if (!consumer.ok()) {
    std::fprintf(stderr, "connect: %s\n", consumer.status().ToString().c_str());
    return 2;
  }
  std::vector<qlaster::Pubkey> accounts, owners;
  for (const auto& s : absl::GetFlag(FLAGS_account)) accounts.push_back(*qlaster::DecodePubkey(s));
  for (const auto& s : absl::GetFlag(FLAGS_owner)) owners.push_back(*qlaster::DecodePubkey(s));
  const std::string tx = absl::GetFlag(FLAGS_transactions);
  auto filter = tx == "all" ? qlaster::TransactionFilter::kAll
                            : tx == "nonvote" ? qlaster::TransactionFilter::kNonVote
                                              : qlaster::TransactionFilter::kNone;
  auto sub = consumer->Replace(accounts, owners, filter);
  if (!sub.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", sub.status().ToString().c_str());
    return 2;
  }
  FILE* out = std::fopen(absl::GetFlag(FLAGS_out).c_str(), "w");
  if (out == nullptr) return 2;
  std::printf("READY %llu\n", static_cast<unsigned long long>(sub->effective_sequence));
  std::fflush(stdout);
  if (absl::GetFlag(FLAGS_wait_for_stdin_eof)) {
    char c;
    while (::read(0, &c, 1) > 0) {
    }
  }

  const int64_t until = absl::GetFlag(FLAGS_until_slot);
  const absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_timeout));
  bool done = false;
  auto b58 = [](std::span<const uint8_t> k) { return qlaster::Base58Encode(absl::MakeConstSpan(k.data(), k.size())); };
  while (!done) {
    if (absl::Now() > deadline) {
      std::fprintf(stderr, "timed out\n");
      std::fclose(out);
      return 3;
    }
    auto polled = consumer->Poll([&](const qlaster::Event& e) {
      const auto seq = static_cast<unsigned long long>(e.sequence);
      if (const auto* a = e.account()) {
        std::fprintf(out, "A %llu %s %s %llu %llu %zu %llx %d\n", seq, b58(a->pubkey).c_str(),
                     b58(a->owner).c_str(), static_cast<unsigned long long>(a->lamports),
                     static_cast<unsigned long long>(a->write_version), a->data.size(),
                     static_cast<unsigned long long>(
                         qlaster::testing::StressChecksum(a->data.data(), a->data.size())),
                     a->was_compressed ? 1 : 0);
      } else if (const auto* t = e.transaction()) {
        std::fprintf(out, "T %llu %s %d\n", seq, b58(t->signature).c_str(), t->is_vote ? 1 : 0);
      } else if (const auto* s = e.slot()) {
        std::fprintf(out, "S %llu %llu %d\n", seq, static_cast<unsigned long long>(s->slot),
                     static_cast<int>(s->state));
        if (until >= 0 && s->slot == static_cast<uint64_t>(until)) done = true;
      } else if (const auto* g = e.gap()) {
        std::fprintf(out, "G %llu %llu\n", seq, static_cast<unsigned long long>(g->dropped));
      } else if (const auto* d = e.disconnected()) {
        std::fprintf(out, "D %.*s\n", static_cast<int>(d->reason.size()), d->reason.data());
      } else if (e.reconnected()) {
        std::fprintf(out, "R\n");
      }
      std::fflush(out);
    });
    if (!polled.ok()) {
      std::fprintf(stderr, "poll: %s\n", polled.status().ToString().c_str());
      std::fclose(out);
      return 4;
    }
    if (*polled == 0) (void)consumer->Wait(absl::Milliseconds(50));
  }
  std::fclose(out);
  return 0;
}
