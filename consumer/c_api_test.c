/* c_api_test: the C ABI (qlaster/consumer.h) used from C, against a real sender.
 *
 * Run by ctest under qlaster_test_publisher --exec, which serves QLASTER_SOCKET and
 * publishes a known feed (see consumer/testing/publisher_main.cc). Checks: connecting to a
 * missing socket fails with a message; connect; subscribe to account A; receive it with
 * the expected fields; no transactions before opting in; non-vote transactions after
 * opting in; slots always; stats; close. Then what QLASTER_CONSUMER_1 added: base58 keys
 * and signatures (good input, bad alphabet, wrong length, short buffers), sized options
 * (qlaster_connect_with, struct_size checks), and a subscription of named filters with a
 * memcmp, a data slice and a transaction filter, each update saying which filters
 * matched; a from_slot older than the sender keeps is refused. Exits 0 on success. */
#include <stddef.h>
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

/* Base58: the spellings the publisher's keys have, and every kind of bad input. */
static void test_base58(void) {
  static const char kA[] = "29d2S7vB453rNYFdR5Ycwt7y9haRT5fwVwL9zTmBhfV2"; /* 0x11 * 32 */
  static const char kSig[] =
      "22NZnfeBVDSeqE4euuTyVt2KxUidYAHUAGLLTKU8gY2hm4twGud2FCwtboXvxD8AJEMdkYBSESbmhCkCK51dpyMt";
  uint8_t key[32];
  CHECK(qlaster_pubkey_from_base58(kA, key) == 0);
  CHECK(all_bytes(key, 32, 0x11));
  char text[QLASTER_PUBKEY_BASE58_SIZE];
  CHECK(qlaster_pubkey_to_base58(key, text, sizeof(text)) == (int)strlen(kA));
  CHECK(strcmp(text, kA) == 0);
  CHECK(qlaster_pubkey_from_base58("11111111111111111111111111111111", key) == 0);
  CHECK(all_bytes(key, 32, 0));
  CHECK(qlaster_pubkey_to_base58(key, text, sizeof(text)) == 32);

  memset(key, 0x77, sizeof(key));
  CHECK(qlaster_pubkey_from_base58("29d2S7vB453rNYFdR5Ycwt7y9haRT5fwVwL9zTmBhf0", key) == -1);
  CHECK(strstr(qlaster_last_error(), "invalid character '0' at position 42") != NULL);
  CHECK(qlaster_last_error_code() == 3); /* absl::StatusCode::kInvalidArgument */
  CHECK(all_bytes(key, 32, 0x77));       /* untouched on error */
  CHECK(qlaster_pubkey_from_base58("2g", key) == -1);
  CHECK(strstr(qlaster_last_error(), "expected 32 bytes, got 1") != NULL);
  CHECK(qlaster_pubkey_from_base58(kSig, key) == -1); /* a signature is not a key */
  CHECK(qlaster_pubkey_from_base58(NULL, key) == -1);
  CHECK(qlaster_pubkey_to_base58(key, text, 10) == -1);
  CHECK(strstr(qlaster_last_error(), "too small") != NULL);

  uint8_t sig[64];
  char sig_text[QLASTER_SIGNATURE_BASE58_SIZE];
  CHECK(qlaster_signature_from_base58(kSig, sig) == 0);
  CHECK(all_bytes(sig, 64, 0x33));
  CHECK(qlaster_signature_to_base58(sig, sig_text, sizeof(sig_text)) == (int)strlen(kSig));
  CHECK(strcmp(sig_text, kSig) == 0);
  CHECK(qlaster_signature_from_base58(kA, sig) == -1);
  CHECK(strstr(qlaster_last_error(), "expected 64 bytes, got 32") != NULL);
  CHECK(qlaster_pubkey_from_base58(kA, key) == 0);
  CHECK(qlaster_last_error()[0] == '\0'); /* success clears the error */
}

/* Sized options: defaults through the macro, and struct sizes the library refuses. */
static void test_sized_options(const char* path) {
  qlaster_options o;
  qlaster_options_default(&o);
  CHECK(o.struct_size == sizeof(o));
  CHECK(o.auto_reconnect == 1);
  CHECK(o.overflow_policy == QLASTER_OVERFLOW_EVICT);

  o.struct_size = sizeof(size_t) + 4; /* smaller than the first version */
  CHECK(qlaster_connect_with(path, &o) == NULL);
  CHECK(strstr(qlaster_last_error(), "struct_size") != NULL);

  /* A caller from the future whose extra field is set: refused, not ignored. */
  struct {
    qlaster_options known;
    uint64_t future_field;
  } bigger;
  qlaster_options_default_sized(&bigger.known, sizeof(bigger));
  CHECK(bigger.known.struct_size == sizeof(bigger));
  CHECK(bigger.future_field == 0);
  bigger.known.name = "c-api-future";
  bigger.future_field = 1;
  CHECK(qlaster_connect_with(path, &bigger.known) == NULL);
  CHECK(strstr(qlaster_last_error(), "does not know") != NULL);
  bigger.future_field = 0; /* zero: the library knows what to do with that */
  qlaster_consumer* c = qlaster_connect_with(path, &bigger.known);
  CHECK(c != NULL);
  qlaster_close(c);

  qlaster_options_default(&o);
  o.name = "c-api-sized";
  o.ring_bytes = 1 << 20;
  o.wait_mode = QLASTER_WAIT_SLEEP;
  c = qlaster_connect_with(path, &o);
  CHECK(c != NULL);
  if (c == NULL) return;
  CHECK(qlaster_ring_bytes(c) == (1u << 20));
  qlaster_stats st;
  memset(&st, 0xff, sizeof(st));
  CHECK(qlaster_get_stats_sized(c, &st, offsetof(qlaster_stats, lag_bytes)) == 0);
  CHECK(st.received == 0 && st.gaps == 0 && st.dropped == 0);
  CHECK(st.lag_bytes == UINT64_MAX); /* past the size given: untouched */
  CHECK(qlaster_get_stats_sized(c, &st, sizeof(st)) == 0);
  CHECK(st.connected == 1);
  qlaster_close(c);
}

struct named_seen {
  qlaster_consumer* c;
  int names_ok;
  int accounts;
  int accounts_ok;
  int transactions;
  int transactions_ok;
  int other;
};

static void on_named(const qlaster_event* e, void* user) {
  struct named_seen* s = (struct named_seen*)user;
  if (e->kind == QLASTER_EVENT_ACCOUNT) {
    ++s->accounts;
    /* Filters "a-owner" (bit 0) matches, "b-big" (bit 1) does not; the data is the slice
     * [8, 12) of "qlaster test account". */
    if (e->filters == 1u && e->sliced && e->account_data_len == 20 && e->data_len == 4 &&
        memcmp(e->data, "test", 4) == 0 && all_bytes(e->pubkey, 32, 0x11)) {
      ++s->accounts_ok;
    }
    const char* name = qlaster_filter_name(s->c, e, 0);
    if (name != NULL && strcmp(name, "a-owner") == 0 && qlaster_filter_name(s->c, e, 1) == NULL &&
        qlaster_last_error_code() == 3) {
      ++s->names_ok;
    }
  } else if (e->kind == QLASTER_EVENT_TRANSACTION) {
    ++s->transactions;
    if (!e->is_vote && e->filters == 1u && all_bytes(e->signature, 64, 0x44)) ++s->transactions_ok;
    const char* name = qlaster_filter_name(s->c, e, 0);
    if (name != NULL && strcmp(name, "nonvote") == 0) ++s->names_ok;
  } else if (e->kind != QLASTER_EVENT_SLOT) {
    ++s->other;
  }
}

/* A subscription of named filters, set through the opaque handle. */
static void test_subscription(const char* path) {
  qlaster_options o;
  qlaster_options_default(&o);
  o.name = "c-api-named";
  o.ring_bytes = 1 << 20;
  o.wait_mode = QLASTER_WAIT_SLEEP;
  qlaster_consumer* c = qlaster_connect_with(path, &o);
  CHECK(c != NULL);
  if (c == NULL) return;

  uint8_t owner[32];
  CHECK(qlaster_pubkey_from_base58("3JF3sEqM796hk5WFqA6EtmEwJQ9quALszsfJyvXNQKy3", owner) == 0);
  qlaster_subscription* s = qlaster_subscription_new();
  CHECK(s != NULL);
  CHECK(qlaster_subscription_account(s, "a-owner", NULL, 0, owner, 1) == 0);
  CHECK(qlaster_subscription_account_memcmp(s, "a-owner", 0, (const uint8_t*)"qlaster", 7) == 0);
  CHECK(qlaster_subscription_account_lamports(s, "a-owner", QLASTER_LAMPORTS_GT, 1000) == 0);
  CHECK(qlaster_subscription_account(s, "b-big", NULL, 0, owner, 1) == 0);
  CHECK(qlaster_subscription_account_datasize(s, "b-big", 4096) == 0);
  CHECK(qlaster_subscription_transaction(s, QLASTER_FILTER_TRANSACTIONS, "nonvote", 0,
                                         QLASTER_EITHER, NULL, NULL, 0, NULL, 0, NULL, 0) == 0);
  CHECK(qlaster_subscription_data_slice(s, 8, 4) == 0);
  CHECK(qlaster_subscription_account_lamports(s, "a-owner", 9, 0) == -1);
  CHECK(qlaster_subscription_commitment(s, 7) == -1);
  CHECK(qlaster_subscription_account(NULL, "x", NULL, 0, NULL, 0) == -1);
  uint64_t effective = 0;
  CHECK(qlaster_set_subscription(c, s, &effective) == 0);
  if (qlaster_last_error()[0] != '\0') fprintf(stderr, "set_subscription: %s\n", qlaster_last_error());

  struct named_seen seen;
  memset(&seen, 0, sizeof(seen));
  seen.c = c;
  for (int i = 0; i < 1000 && (seen.accounts < 3 || seen.transactions < 3); ++i) {
    if (qlaster_wait(c, 10000) < 0 || qlaster_poll(c, on_named, &seen, 256) < 0) break;
  }
  CHECK(seen.accounts >= 3 && seen.accounts_ok == seen.accounts);
  CHECK(seen.transactions >= 3 && seen.transactions_ok == seen.transactions);
  CHECK(seen.other == 0);
  CHECK(seen.names_ok == seen.accounts + seen.transactions);
  CHECK(qlaster_filter_name(NULL, NULL, 0) == NULL);

  /* Replay from a slot the sender no longer keeps: refused, naming the oldest. */
  qlaster_subscription* old = qlaster_subscription_new();
  CHECK(qlaster_subscription_account(old, "all-of-a", NULL, 0, owner, 1) == 0);
  CHECK(qlaster_subscription_from_slot(old, 1) == 0);
  CHECK(qlaster_set_subscription(c, old, NULL) == -1);
  CHECK(qlaster_last_error_code() == 11); /* absl::StatusCode::kOutOfRange */
  CHECK(strstr(qlaster_last_error(), "oldest") != NULL);
  if (qlaster_last_error_code() != 11) fprintf(stderr, "from_slot: %s\n", qlaster_last_error());
  qlaster_subscription_free(old);
  qlaster_subscription_free(s);
  qlaster_subscription_free(NULL);
  qlaster_close(c);
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

  test_base58();
  test_sized_options(path);
  test_subscription(path);
  if (failures != 0) {
    fprintf(stderr, "c_api_test: %d check(s) failed\n", failures);
    return 1;
  }
  printf("c_api_test: ok (%d accounts, %d transactions, %d slots)\n", s.accounts, s.transactions,
         s.slots);
  return 0;
}
