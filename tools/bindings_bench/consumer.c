/* The C side of the bindings benchmark (run.py): as consumer.cc, through the C ABI. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qlaster/consumer.h"

struct state {
  unsigned long got;
  unsigned long other;
  uint64_t sink;
};

static void on_event(const qlaster_event* e, void* user) {
  struct state* s = (struct state*)user;
  if (e->kind == QLASTER_EVENT_ACCOUNT) {
    s->sink += e->lamports + e->data[0];
    ++s->got;
  } else if (e->kind != QLASTER_EVENT_SLOT) {
    ++s->other;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const unsigned long n = strtoul(argv[2], NULL, 10);
  qlaster_options o;
  qlaster_options_default(&o);
  o.name = "bench-c";
  o.ring_bytes = 64u << 20;
  o.overflow_policy = QLASTER_OVERFLOW_DROP_AND_COUNT;
  o.wait_mode = QLASTER_WAIT_SPIN;
  qlaster_consumer* c = qlaster_connect_with(argv[1], &o);
  if (c == NULL) {
    fprintf(stderr, "%s\n", qlaster_last_error());
    return 1;
  }
  uint8_t owner[32];
  for (int i = 0; i < 32; ++i) owner[i] = 0x22;
  if (qlaster_subscribe(c, NULL, 0, owner, 1, QLASTER_TX_UNCHANGED) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  char line[64];
  struct state s = {0, 0, 0};
  while (fgets(line, sizeof(line), stdin) != NULL) {
    s.got = 0;
    s.other = 0;
    const uint64_t t0 = now_ns();
    while (s.got < n && s.other == 0) { /* a gap ends the round: run.py reports it */
      const int polled = qlaster_poll(c, on_event, &s, 256);
      if (polled < 0) return 1;
      if (polled == 0) break; /* everything was published before "drain": some is missing */
    }
    s.other += n - s.got;
    const uint64_t t1 = now_ns();
    printf("ns %lu other %lu sink %lu\n", (unsigned long)(t1 - t0), s.other,
           (unsigned long)(s.sink & 1));
    fflush(stdout);
  }
  qlaster_close(c);
  return 0;
}
