/* The C ABI header of the first release (QLASTER_CONSUMER_0), kept unchanged as a test
 * fixture: tests/c_abi_v1/c_api_v1_test.c is compiled against it and run against the
 * current library. Do not edit. */
/* qlaster/consumer.h: the C ABI of libqlaster-consumer, for C, Rust, Python (ctypes) and
 * anything else that can call C. It wraps the C++ qlaster::Consumer (qlaster/consumer.hpp)
 * and behaves the same way; read that header for the semantics of subscriptions, events,
 * sequence numbers, gaps and reconnection.
 *
 *   qlaster_consumer_options opts;
 *   qlaster_options_init(&opts);
 *   opts.name = "my-bot";
 *   qlaster_consumer* c = qlaster_connect("/run/qlaster/sender.sock", &opts);
 *   if (c == NULL) { fprintf(stderr, "%s\n", qlaster_last_error()); return 1; }
 *   qlaster_subscribe(c, my_keys, n_keys, NULL, 0, QLASTER_TX_NON_VOTE);
 *   for (;;) {
 *     qlaster_wait(c, 1000000);
 *     qlaster_poll(c, on_event, my_state, 256);
 *   }
 *   qlaster_close(c);
 *
 * Errors: a function that fails returns NULL or -1 and sets a thread-local message
 * (qlaster_last_error) and status code (qlaster_last_error_code, absl::StatusCode values:
 * 14 unavailable, 9 failed precondition, 8 resource exhausted, 15 data loss, ...).
 *
 * Thread-safety: a qlaster_consumer is used by one thread at a time; distinct consumers
 * are independent. No function here calls back into the caller except qlaster_poll.
 *
 * Keys are 32 raw bytes each, passed as one array of n * 32 bytes; signatures are 64. */
#ifndef QLASTER_CONSUMER_CONSUMER_H_
#define QLASTER_CONSUMER_CONSUMER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qlaster_consumer qlaster_consumer;

/* Overflow policies: what the sender does when this consumer's ring is full. */
enum {
  QLASTER_OVERFLOW_EVICT = 0,          /* disconnect the slow consumer (default) */
  QLASTER_OVERFLOW_DROP_AND_COUNT = 1, /* drop updates, report a gap event */
};

/* Wait modes of qlaster_wait. */
enum {
  QLASTER_WAIT_SPIN_THEN_SLEEP = 0, /* default */
  QLASTER_WAIT_SPIN = 1,
  QLASTER_WAIT_SLEEP = 2,
};

/* Transaction filters. QLASTER_TX_UNCHANGED leaves the current filter as it is. */
enum {
  QLASTER_TX_UNCHANGED = -1,
  QLASTER_TX_NONE = 0,
  QLASTER_TX_ALL = 1,
  QLASTER_TX_NON_VOTE = 2,
};

/* Event kinds. */
enum {
  QLASTER_EVENT_ACCOUNT = 1,
  QLASTER_EVENT_TRANSACTION = 2,
  QLASTER_EVENT_SLOT = 3,
  QLASTER_EVENT_GAP = 4,
  QLASTER_EVENT_RECONNECTED = 5,
  QLASTER_EVENT_DISCONNECTED = 6,
  QLASTER_EVENT_BLOCK_META = 7,
  QLASTER_EVENT_ENTRY = 8,
  QLASTER_EVENT_TRANSACTION_STATUS = 9,
};

/* Slot statuses (qlaster_event.slot_status). */
enum {
  QLASTER_SLOT_PROCESSED = 0,
  QLASTER_SLOT_CONFIRMED = 1,
  QLASTER_SLOT_ROOTED = 2,
  QLASTER_SLOT_FIRST_SHRED_RECEIVED = 3,
  QLASTER_SLOT_COMPLETED = 4,
  QLASTER_SLOT_CREATED_BANK = 5,
  QLASTER_SLOT_DEAD = 6,
};

/* Connection options. Always start from qlaster_options_init: fields added later get
 * their defaults there. Durations are in microseconds. */
typedef struct qlaster_consumer_options {
  const char* name;        /* NULL or "": the sender names the consumer; copied */
  uint64_t ring_bytes;     /* 0: the sender's default */
  int32_t overflow_policy; /* QLASTER_OVERFLOW_* */
  int32_t wait_mode;       /* QLASTER_WAIT_* */
  int64_t spin_us;
  int32_t auto_reconnect; /* nonzero: reconnect and replay the subscription (default 1) */
  int64_t reconnect_initial_backoff_us;
  int64_t reconnect_max_backoff_us;
  int64_t connect_timeout_us;
  int64_t request_timeout_us;
} qlaster_consumer_options;

/* One event, valid only during the handler call: every pointer in it points into the
 * ring or into the consumer's buffers. Fields that do not apply to `kind` are zero/NULL.
 * `slot` is set for accounts, transactions and slots. */
typedef struct qlaster_event {
  int32_t kind;          /* QLASTER_EVENT_* */
  uint64_t sequence;     /* per connection, from 1; a gap's last_missing; 0 otherwise */
  uint64_t timestamp_ns; /* sender's CLOCK_REALTIME at publish; 0 where none */
  uint64_t slot;

  /* account */
  const uint8_t* pubkey; /* 32 bytes */
  const uint8_t* owner;  /* 32 bytes */
  uint64_t lamports;
  uint64_t rent_epoch;
  uint64_t write_version;
  const uint8_t* txn_signature; /* 64 bytes, or NULL when the sender does not know it */
  int32_t executable;
  int32_t was_compressed;

  /* account data or serialized transaction */
  const uint8_t* data;
  size_t data_len;

  /* transaction */
  const uint8_t* signature; /* 64 bytes */
  uint32_t tx_index;
  int32_t is_vote;
  int32_t failed;

  /* slot */
  uint64_t parent;
  int32_t slot_status; /* QLASTER_SLOT_* */

  /* gap: sequence numbers [first_missing, last_missing] never arrived */
  uint64_t dropped;
  uint64_t first_missing;
  uint64_t last_missing;
  int32_t reported_by_sender;

  /* disconnected: NUL-terminated reason; reconnected: the new consumer id */
  const char* reason;
  int32_t will_reconnect;
  uint64_t consumer_id;
  uint64_t effective_sequence;

  /* Fields below were added after the first release; the library fills the struct, so a
   * caller built against an older header simply does not see them. */

  /* bit i: the subscription's i-th named filter of this kind matched */
  uint32_t filters;
  /* account: the account's whole data size (data_len is less with data slices) */
  uint64_t account_data_len;
  int32_t sliced;
  /* transaction: its status in qlaster's encoding, when the source had one; transaction
   * status: the error's bincode (empty on success) */
  const uint8_t* status;
  size_t status_len;
  /* block meta (slot, parent) and entry (slot) use the fields above */
  const uint8_t* blockhash;        /* 32 bytes; entry: its hash */
  const uint8_t* parent_blockhash; /* 32 bytes */
  uint64_t block_height;
  int32_t has_block_height;
  int64_t block_time;
  int32_t has_block_time;
  uint64_t executed_transaction_count;
  uint64_t entries_count;
  const uint8_t* rewards; /* reward_count entries of 56 bytes (proto/qlaster.fbs RewardEntry) */
  size_t reward_count;
  /* entry */
  uint64_t entry_index;
  uint64_t num_hashes;
  uint64_t starting_transaction_index;
} qlaster_event;

typedef void (*qlaster_handler)(const qlaster_event* event, void* user);

typedef struct qlaster_stats {
  uint64_t received;
  uint64_t gaps;
  uint64_t dropped;
  uint64_t lag_bytes;
  uint64_t reconnects;
  uint64_t disconnects;
  uint64_t last_sequence;
  int32_t connected;
} qlaster_stats;

/* Fills `options` with the defaults. */
void qlaster_options_init(qlaster_consumer_options* options);

/* Connects to the sender at `path` (options may be NULL for the defaults). Returns NULL on
 * error (see qlaster_last_error). The result is owned by the caller: qlaster_close it. */
qlaster_consumer* qlaster_connect(const char* path, const qlaster_consumer_options* options);

/* Subscription changes; each blocks until the sender acknowledges it. `pubkeys` and
 * `owners` are n * 32 bytes (may be NULL when n is 0). `transactions` is QLASTER_TX_*.
 * Return 0, or -1 on error. */
int qlaster_subscribe(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                      const uint8_t* owners, size_t n_owners, int transactions);
int qlaster_unsubscribe(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                        const uint8_t* owners, size_t n_owners, int transactions);
/* Replaces the whole subscription; QLASTER_TX_UNCHANGED counts as QLASTER_TX_NONE. */
int qlaster_replace(qlaster_consumer* c, const uint8_t* pubkeys, size_t n_pubkeys,
                    const uint8_t* owners, size_t n_owners, int transactions);
int qlaster_set_transactions(qlaster_consumer* c, int transactions);

/* Calls `handler` (with `user`) for up to `max` ring records' events; returns the number
 * of events delivered (0 if none), or -1 on error (e.g. the sender is gone and
 * auto_reconnect is off). The handler must not call qlaster_poll, qlaster_wait or
 * qlaster_close on `c`. */
int qlaster_poll(qlaster_consumer* c, qlaster_handler handler, void* user, int max);

/* Waits up to `timeout_us` (negative: forever) for something to poll. Returns 1 when
 * ready, 0 on timeout, -1 on error. */
int qlaster_wait(qlaster_consumer* c, int64_t timeout_us);

/* Fills `stats`; returns 0, or -1 if an argument is NULL. */
int qlaster_get_stats(const qlaster_consumer* c, qlaster_stats* stats);
uint64_t qlaster_consumer_id(const qlaster_consumer* c);
uint64_t qlaster_ring_bytes(const qlaster_consumer* c);

/* Leaves the sender and frees `c` (NULL is allowed). */
void qlaster_close(qlaster_consumer* c);

/* The message of this thread's last error ("" if none); valid until this thread's next
 * call into the library. */
const char* qlaster_last_error(void);
/* The absl::StatusCode of this thread's last error (0 if none). */
int qlaster_last_error_code(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QLASTER_CONSUMER_CONSUMER_H_ */
