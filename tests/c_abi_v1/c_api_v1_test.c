/* c_api_v1_test: consumer/c_api_test.c as it was at the first C ABI (QLASTER_CONSUMER_0),
 * compiled against that version's header (qlaster/consumer.h beside this file, a copy of
 * it) and run against the current library: a program built for the old ABI keeps
 * working. Neither file changes again; new functions get tests of their own.
 *
 * Originally: the C ABI (qlaster/consumer.h) used from C, against a real sender.
 *
 * Run by ctest under qlaster_test_publisher --exec, which serves QLASTER_SOCKET and
 * publishes a known feed (see consumer/testing/publisher_main.cc). Checks: connecting to a
 * missing socket fails with a message; connect; subscribe to account A; receive it with
 * the expected fields; no transactions before opting in; non-vote transactions after
 * opting in; slots always; stats; close. Exits 0 on success. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlaster/consumer.h"

static int failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

struct seen {
  int accounts;
  int accounts_ok;
  int transactions;
  int votes;
  int transactions_ok;
  int slots;
  int gaps;
  int disconnects;
  uint64_t last_sequence;
  int out_of_order;
};

static int all_bytes(const uint8_t* p, size_t n, uint8_t v) {
  if (p == NULL) return 0;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != v) return 0;
  }
  return 1;
}

static void on_event(const qlaster_event* e, void* user) {
  struct seen* s = (struct seen*)user;
  if (e->kind == QLASTER_EVENT_ACCOUNT || e->kind == QLASTER_EVENT_TRANSACTION ||
      e->kind == QLASTER_EVENT_SLOT) {
    if (e->sequence != s->last_sequence + 1) ++s->out_of_order;
    s->last_sequence = e->sequence;
  }
  switch (e->kind) {
    case QLASTER_EVENT_ACCOUNT: {
      static const char kText[] = "qlaster test account";
      ++s->accounts;
      if (all_bytes(e->pubkey, 32, 0x11) && all_bytes(e->owner, 32, 0x22) &&
          all_bytes(e->txn_signature, 64, 0x33) && e->lamports == 1000000 + e->slot &&
          e->rent_epoch == 361 && e->write_version == e->slot && !e->executable &&
          e->data_len == sizeof(kText) - 1 && memcmp(e->data, kText, e->data_len) == 0 &&
          e->timestamp_ns > 0) {
        ++s->accounts_ok;
      }
      break;
    }
    case QLASTER_EVENT_TRANSACTION:
      ++s->transactions;
      if (e->is_vote) ++s->votes;
      if (!e->is_vote && all_bytes(e->signature, 64, 0x44) && e->tx_index == 7 &&
          e->data_len == 4 && e->data[0] == 0xde && e->data[3] == 0xef && !e->failed) {
        ++s->transactions_ok;
      }
      break;
    case QLASTER_EVENT_SLOT:
      ++s->slots;
      break;
    case QLASTER_EVENT_GAP:
      ++s->gaps;
      break;
    case QLASTER_EVENT_DISCONNECTED:
      ++s->disconnects;
      break;
    default:
      break;
  }
}

/* Polls until `*counter` reaches `target` or ~10 s pass. */
static int poll_until(qlaster_consumer* c, struct seen* s, const int* counter, int target) {
  for (int i = 0; i < 1000 && *counter < target; ++i) {
    if (qlaster_wait(c, 10000) < 0) return -1;
    if (qlaster_poll(c, on_event, s, 256) < 0) return -1;
  }
  return *counter >= target ? 0 : -1;
}

int main(void) {
  const char* path = getenv("QLASTER_SOCKET");
  if (path == NULL) {
    fprintf(stderr, "QLASTER_SOCKET is not set (run under qlaster_test_publisher --exec)\n");
    return 2;
  }

  /* A missing sender is an error with a message, not a crash. */
  CHECK(qlaster_connect("/nonexistent/qlaster.sock", NULL) == NULL);
  CHECK(strstr(qlaster_last_error(), "no qlaster-sender at") != NULL);
  CHECK(qlaster_last_error_code() == 14); /* absl::StatusCode::kUnavailable */

  qlaster_consumer_options options;
  qlaster_options_init(&options);
  options.name = "c-api-test";
  options.ring_bytes = 1 << 20;
  options.wait_mode = QLASTER_WAIT_SLEEP;
  qlaster_consumer* c = qlaster_connect(path, &options);
  if (c == NULL) {
    fprintf(stderr, "qlaster_connect: %s\n", qlaster_last_error());
    return 1;
  }
  CHECK(qlaster_consumer_id(c) != 0);
  CHECK(qlaster_ring_bytes(c) == (1u << 20));

  uint8_t key[32];
  memset(key, 0x11, sizeof(key));
  CHECK(qlaster_subscribe(c, key, 1, NULL, 0, QLASTER_TX_UNCHANGED) == 0);

  struct seen s;
  memset(&s, 0, sizeof(s));
  CHECK(poll_until(c, &s, &s.accounts, 3) == 0);
  CHECK(s.accounts_ok == s.accounts);
  CHECK(s.transactions == 0); /* not opted in */
  CHECK(s.slots > 0);         /* always delivered */

  CHECK(qlaster_set_transactions(c, QLASTER_TX_NON_VOTE) == 0);
  CHECK(poll_until(c, &s, &s.transactions, 3) == 0);
  CHECK(s.votes == 0);
  CHECK(s.transactions_ok == s.transactions);

  CHECK(qlaster_set_transactions(c, 7) == -1); /* not a filter */
  CHECK(qlaster_last_error()[0] != '\0');

  qlaster_stats stats;
  CHECK(qlaster_get_stats(c, &stats) == 0);
  CHECK(stats.connected == 1);
  CHECK(stats.received == (uint64_t)(s.accounts + s.transactions + s.slots));
  CHECK(stats.last_sequence == s.last_sequence);
  CHECK(s.gaps == 0);
  CHECK(s.out_of_order == 0);
  CHECK(s.disconnects == 0);

  qlaster_close(c);
  qlaster_close(NULL);
  if (failures != 0) {
    fprintf(stderr, "c_api_test: %d check(s) failed\n", failures);
    return 1;
  }
  printf("c_api_test: ok (%d accounts, %d transactions, %d slots)\n", s.accounts, s.transactions,
         s.slots);
  return 0;
}
