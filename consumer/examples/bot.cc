// A minimal bot: connect to the local sender, follow one account and every non-vote
// transaction, and print what arrives. Built with the test suite so that it stays true to
// the API; README.md quotes it.
//
//   bot SOCKET PUBKEY_HEX32
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qlaster/consumer.hpp"

int main(int argc, char** argv) {
  if (argc != 3 || std::strlen(argv[2]) != 64) {
    std::fprintf(stderr, "usage: %s SOCKET PUBKEY_HEX32\n", argv[0]);
    return 2;
  }
  qlaster::Pubkey account{};
  for (size_t i = 0; i < account.size(); ++i) {
    account[i] = static_cast<uint8_t>(std::strtoul(std::string(argv[2] + 2 * i, 2).c_str(), nullptr, 16));
  }

  qlaster::ConsumerOptions options;
  options.name = "example-bot";
  options.wait_mode = qlaster::WaitMode::kSpinThenSleep;
  auto consumer = qlaster::Consumer::Connect(argv[1], options);
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  auto subscribed = consumer->Subscribe({&account, 1}, {}, qlaster::TransactionFilter::kNonVote);
  if (!subscribed.ok()) {
    std::fprintf(stderr, "%s\n", subscribed.status().ToString().c_str());
    return 1;
  }

  for (;;) {
    (void)consumer->Wait(absl::Seconds(1));
    auto polled = consumer->Poll([](const qlaster::Event& e) {
      if (const auto* a = e.account()) {
        // a->data points into shared memory: valid only inside this callback.
        std::printf("seq %lu account lamports=%lu data=%zu bytes\n", e.sequence, a->lamports,
                    a->data.size());
      } else if (const auto* t = e.transaction()) {
        std::printf("seq %lu transaction slot=%lu %zu bytes\n", e.sequence, t->slot, t->data.size());
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
