// A minimal bot: connect to the local sender, follow one account and every non-vote
// transaction, and print what arrives. Built with the test suite so that it stays true to
// the API; README.md quotes it.
//
//   bot SOCKET PUBKEY [COUNT]   (PUBKEY in base58, as explorers print it; COUNT: stop
//                               after that many updates)
#include <cstdio>
#include <cstdlib>

#include "qlaster/consumer.hpp"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s SOCKET PUBKEY [COUNT]\n", argv[0]);
    return 2;
  }
  absl::StatusOr<qlaster::Pubkey> account = qlaster::Pubkey::FromBase58(argv[2]);
  if (!account.ok()) {  // e.g. "base58: invalid character '0' at position 3"
    std::fprintf(stderr, "%s\n", account.status().ToString().c_str());
    return 2;
  }
  const unsigned long count = argc == 4 ? std::strtoul(argv[3], nullptr, 10) : 0;

  qlaster::ConsumerOptions options;
  options.name = "example-bot";
  options.wait_mode = qlaster::WaitMode::kSpinThenSleep;
  auto consumer = qlaster::Consumer::Connect(argv[1], options);
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  auto subscribed = consumer->Subscribe({&*account, 1}, {}, qlaster::TransactionFilter::kNonVote);
  if (!subscribed.ok()) {
    std::fprintf(stderr, "%s\n", subscribed.status().ToString().c_str());
    return 1;
  }

  unsigned long seen = 0;
  while (count == 0 || seen < count) {
    (void)consumer->Wait(absl::Seconds(1));
    auto polled = consumer->Poll([&seen](const qlaster::Event& e) {
      if (const auto* a = e.account()) {
        // a->data points into shared memory: valid only inside this callback.
        std::printf("seq %lu account %s lamports=%lu data=%zu bytes\n", e.sequence,
                    a->pubkey.ToBase58().c_str(), a->lamports, a->data.size());
        ++seen;
      } else if (const auto* t = e.transaction()) {
        std::printf("seq %lu transaction %s slot=%lu\n", e.sequence,
                    t->signature.ToBase58().c_str(), t->slot);
        ++seen;
      } else if (const auto* g = e.gap()) {
        std::printf("missed %lu updates\n", g->dropped);
      } else if (const auto* d = e.disconnected()) {
        std::printf("sender gone: %.*s\n", static_cast<int>(d->reason.size()), d->reason.data());
      } else if (e.reconnected()) {
        std::printf("reconnected; sequence restarted\n");
      }
    });
    if (!polled.ok()) {
      std::fprintf(stderr, "%s\n", polled.status().ToString().c_str());
      return 1;
    }
  }
}
