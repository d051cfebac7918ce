/* A minimal bot in C: connect to the local sender, follow one account (base58) and every
 * non-vote transaction, and print what arrives. The C twin of bot.cc, built and run by
 * the test suite; README.md quotes it.
 *
 *   bot_c SOCKET PUBKEY [COUNT]     (COUNT: stop after that many updates) */
#include <stdio.h>
#include <stdlib.h>

#include "qlaster/consumer.h"

struct bot {
  unsigned long seen;
};

static void on_event(const qlaster_event* e, void* user) {
  struct bot* b = (struct bot*)user;
  char text[QLASTER_SIGNATURE_BASE58_SIZE];
  switch (e->kind) {
    case QLASTER_EVENT_ACCOUNT: /* e->data points into shared memory: valid in this call */
      qlaster_pubkey_to_base58(e->pubkey, text, sizeof(text));
      printf("seq %llu account %s lamports=%llu data=%zu bytes\n",
             (unsigned long long)e->sequence, text, (unsigned long long)e->lamports, e->data_len);
      ++b->seen;
      break;
    case QLASTER_EVENT_TRANSACTION:
      qlaster_signature_to_base58(e->signature, text, sizeof(text));
      printf("seq %llu transaction %s slot=%llu\n", (unsigned long long)e->sequence, text,
             (unsigned long long)e->slot);
      ++b->seen;
      break;
    case QLASTER_EVENT_GAP:
      printf("missed %llu updates\n", (unsigned long long)e->dropped);
      break;
    case QLASTER_EVENT_DISCONNECTED:
      printf("sender gone: %s\n", e->reason);
      break;
    case QLASTER_EVENT_RECONNECTED:
      printf("reconnected; sequence restarted\n");
      break;
    default:
      break;
  }
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s SOCKET PUBKEY [COUNT]\n", argv[0]);
    return 2;
  }
  uint8_t account[32];
  if (qlaster_pubkey_from_base58(argv[2], account) != 0) {
    fprintf(stderr, "%s: %s\n", argv[2], qlaster_last_error());
    return 2;
  }
  const unsigned long count = argc == 4 ? strtoul(argv[3], NULL, 10) : 0;

  qlaster_options options;
  qlaster_options_default(&options);
  options.name = "example-bot-c";
  qlaster_consumer* c = qlaster_connect_with(argv[1], &options);
  if (c == NULL) {
    fprintf(stderr, "%s\n", qlaster_last_error());
    return 1;
  }
  if (qlaster_subscribe(c, account, 1, NULL, 0, QLASTER_TX_NON_VOTE) != 0) {
    fprintf(stderr, "%s\n", qlaster_last_error());
    qlaster_close(c);
    return 1;
  }
  struct bot b = {0};
  while (count == 0 || b.seen < count) {
    qlaster_wait(c, 1000000);
    if (qlaster_poll(c, on_event, &b, 256) < 0) {
      fprintf(stderr, "%s\n", qlaster_last_error());
      qlaster_close(c);
      return 1;
    }
  }
  qlaster_close(c);
  return 0;
}
