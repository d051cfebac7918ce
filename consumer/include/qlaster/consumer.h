/* qlaster/consumer.h: the C ABI of libqlaster-consumer, for C, Rust, Python (ctypes) and
 * anything else that can call C. It wraps the C++ qlaster::Consumer (qlaster/consumer.hpp)
 * and behaves the same way; read that header for the semantics of subscriptions, events,
 * sequence numbers, gaps and reconnection.
 *
 *   uint8_t key[32];
 *   qlaster_pubkey_from_base58("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", key);
 *   qlaster_options opts;
 *   qlaster_options_default(&opts);
 *   opts.name = "my-bot";
 *   qlaster_consumer* c = qlaster_connect_with("/run/qlaster/sender.sock", &opts);
 *   if (c == NULL) { fprintf(stderr, "%s\n", qlaster_last_error()); return 1; }
 *   qlaster_subscribe(c, NULL, 0, key, 1, QLASTER_TX_NON_VOTE);  -- the accounts it owns
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
 * Keys are 32 raw bytes each, passed as one array of n * 32 bytes; signatures are 64.
 *
 * Stability: this C ABI is the library's stable surface. A program compiled against an
 * older version of this header keeps working with a newer library: released functions
 * keep their symbol version (libqlaster-consumer.map), structs the caller allocates and
 * passes in carry their own size (qlaster_options.struct_size, qlaster_get_stats_sized),
 * so the library reads only what the caller's header knew, and subscriptions are opaque
 * handles built with setters. Structs the library fills for the caller to read
 * (qlaster_event) only grow at their end. The C++ API (qlaster/consumer.hpp) makes no such
 * promise: it passes Abseil types, so a C++ program must be built against the same
 * Abseil as the library. Prefer this header from other languages and across upgrades. */
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

/* Connection options of the first version, kept as they are for programs built against
 * it; new programs use the sized qlaster_options below. Always start from
 * qlaster_options_init. Durations are in microseconds. */
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

/* ---- Sized options (since QLASTER_CONSUMER_1): the same settings as
 * qlaster_consumer_options, in a struct whose first field says how large the caller's
 * copy is, so that fields added later leave older callers working.
 *
 *   qlaster_options o;
 *   qlaster_options_default(&o);        (sets struct_size and every default)
 *   o.name = "my-bot";
 *   qlaster_consumer* c = qlaster_connect_with(path, &o);
 */
typedef struct qlaster_options {
  size_t struct_size; /* sizeof(qlaster_options) as the caller was compiled with */
  const char* name;
  uint64_t ring_bytes;
  int32_t overflow_policy;
  int32_t wait_mode;
  int64_t spin_us;
  int32_t auto_reconnect;
  int64_t reconnect_initial_backoff_us;
  int64_t reconnect_max_backoff_us;
  int64_t connect_timeout_us;
  int64_t request_timeout_us;
  /* Fields added later go here, at the end. */
} qlaster_options;

/* Fills the first `struct_size` bytes of `options` with the defaults and sets
 * options->struct_size. Use the macro. */
void qlaster_options_default_sized(qlaster_options* options, size_t struct_size);
#define qlaster_options_default(options) \
  qlaster_options_default_sized((options), sizeof(*(options)))

/* qlaster_connect with sized options (NULL for the defaults). Fields beyond
 * options->struct_size take their defaults; a struct_size smaller than the first
 * version's, or larger than this library knows with nonzero bytes past what it knows,
 * is an error (invalid argument). */
qlaster_consumer* qlaster_connect_with(const char* path, const qlaster_options* options);

/* Fills min(size, sizeof(qlaster_stats)) bytes of `stats`: qlaster_stats may grow. */
int qlaster_get_stats_sized(const qlaster_consumer* c, qlaster_stats* stats, size_t size);

/* ---- Subscriptions in Yellowstone's vocabulary (since QLASTER_CONSUMER_1): named
 * filters for accounts, transactions, transaction statuses, slots, block metadata and
 * entries; data slices; commitment; replay from a slot. See qlaster/subscription.hpp for
 * the semantics. Build one with the setters, then qlaster_set_subscription replaces the
 * consumer's whole subscription with it.
 *
 *   qlaster_subscription* s = qlaster_subscription_new();
 *   qlaster_subscription_account(s, "pool", NULL, 0, token_program, 1);
 *   qlaster_subscription_account_memcmp(s, "pool", 0, mint, 32);
 *   qlaster_subscription_commitment(s, QLASTER_COMMITMENT_CONFIRMED);
 *   if (qlaster_set_subscription(c, s, NULL) != 0) ... qlaster_last_error() ...
 *   qlaster_subscription_free(s);
 *
 * Setters return 0, or -1 for a NULL handle or name, or a value out of its enum; the
 * sender checks the limits (keys, filters, memcmp length, slices) when the subscription
 * is set, and refuses it with a message naming the limit. Names are NUL-terminated and
 * copied. A handle is used by one thread at a time. */
typedef struct qlaster_subscription qlaster_subscription;

/* Commitment levels. */
enum {
  QLASTER_COMMITMENT_PROCESSED = 0,
  QLASTER_COMMITMENT_CONFIRMED = 1,
  QLASTER_COMMITMENT_FINALIZED = 2,
};

/* Lamports comparisons: the account's lamports OP value. */
enum {
  QLASTER_LAMPORTS_EQ = 0,
  QLASTER_LAMPORTS_NE = 1,
  QLASTER_LAMPORTS_LT = 2,
  QLASTER_LAMPORTS_GT = 3,
};

/* Tri-state arguments: -1 either, 0 false, 1 true. */
#define QLASTER_EITHER (-1)

/* Which of the two transaction filter kinds qlaster_subscription_transaction sets. */
enum {
  QLASTER_FILTER_TRANSACTIONS = 0,
  QLASTER_FILTER_TRANSACTION_STATUSES = 1,
};

/* NULL when out of memory. Free with qlaster_subscription_free (NULL is allowed). */
qlaster_subscription* qlaster_subscription_new(void);
void qlaster_subscription_free(qlaster_subscription* s);

/* Account filter `name`, created empty when new; adds pubkeys and owners (n * 32 bytes
 * each, NULL when n is 0). An empty filter matches every account. */
int qlaster_subscription_account(qlaster_subscription* s, const char* name,
                                 const uint8_t* pubkeys, size_t n_pubkeys,
                                 const uint8_t* owners, size_t n_owners);
/* Data predicates of account filter `name` (created when new). */
int qlaster_subscription_account_memcmp(qlaster_subscription* s, const char* name,
                                        uint64_t offset, const uint8_t* bytes, size_t len);
int qlaster_subscription_account_datasize(qlaster_subscription* s, const char* name,
                                          uint64_t size);
int qlaster_subscription_account_lamports(qlaster_subscription* s, const char* name, int op,
                                          uint64_t value);
int qlaster_subscription_account_token_account_state(qlaster_subscription* s,
                                                     const char* name);
/* 1: only updates that carry the writing transaction's signature; 0: only those that do
 * not; QLASTER_EITHER: either (the default). */
int qlaster_subscription_account_nonempty_txn_signature(qlaster_subscription* s,
                                                        const char* name, int value);

/* Transaction (or transaction status) filter `name`, replaced when it exists. `vote` and
 * `failed` are tri-state; `signature` is 64 bytes or NULL; the key lists are n * 32
 * bytes: any of `include`, none of `exclude`, all of `required`. */
int qlaster_subscription_transaction(qlaster_subscription* s, int kind, const char* name,
                                     int vote, int failed, const uint8_t* signature,
                                     const uint8_t* include, size_t n_include,
                                     const uint8_t* exclude, size_t n_exclude,
                                     const uint8_t* required, size_t n_required);
/* Slot filter `name` (flags 0 or 1). */
int qlaster_subscription_slots(qlaster_subscription* s, const char* name,
                               int filter_by_commitment, int interslot_updates);
int qlaster_subscription_blocks_meta(qlaster_subscription* s, const char* name);
int qlaster_subscription_entries(qlaster_subscription* s, const char* name);
/* Adds a data slice: only these bytes of account data, the slices concatenated. */
int qlaster_subscription_data_slice(qlaster_subscription* s, uint64_t offset, uint64_t length);
int qlaster_subscription_commitment(qlaster_subscription* s, int commitment);
int qlaster_subscription_from_slot(qlaster_subscription* s, uint64_t slot);

/* Replaces `c`'s whole subscription (its pubkeys, owners and transaction filter too) and
 * blocks until the sender acknowledges it; with `effective_sequence` not NULL, stores
 * the sequence number after which every update is filtered by it. Returns 0, or -1:
 * invalid argument (3) when the sender refuses a filter, out of range (11) for a
 * from_slot older than it keeps (the message names the oldest), and Subscribe's errors. */
int qlaster_set_subscription(qlaster_consumer* c, const qlaster_subscription* s,
                             uint64_t* effective_sequence);

/* The name of the named filter that bit `bit` of `e->filters` stands for, under the
 * subscription in force when `e` was published (so an event read after a later
 * qlaster_set_subscription still gets the names it was matched by). `e` is an event `c`'s
 * handler received. Returns a NUL-terminated name, valid until the next call of
 * qlaster_filter_name on `c` (copy it to keep it), or NULL when bit `bit` is not set in
 * `e->filters` or the kind has no named filters, with the reason in qlaster_last_error.
 * (Since QLASTER_CONSUMER_2.) */
const char* qlaster_filter_name(qlaster_consumer* c, const qlaster_event* e, int bit);

/* ---- Keys and signatures as text: base58, as explorers, RPC and the Solana CLI print
 * them. (Since QLASTER_CONSUMER_1.) */

/* Buffer sizes that hold any spelling with its NUL: 44 (88) characters + 1. */
#define QLASTER_PUBKEY_BASE58_SIZE 45
#define QLASTER_SIGNATURE_BASE58_SIZE 89

/* Decodes `text` (NUL-terminated) into 32 (64) bytes. Returns 0, or -1 with the reason
 * in qlaster_last_error (code 3, invalid argument): a character outside the base58
 * alphabet (0, O, I and l are not in it; the message names it and its position), text
 * that does not decode to exactly 32 (64) bytes, or a NULL argument. `out` is written
 * only on success. */
int qlaster_pubkey_from_base58(const char* text, uint8_t out[32]);
int qlaster_signature_from_base58(const char* text, uint8_t out[64]);

/* Writes the base58 spelling of `key` and a NUL into `out` (`out_size` bytes; pass
 * QLASTER_PUBKEY_BASE58_SIZE / QLASTER_SIGNATURE_BASE58_SIZE to never be short). Returns
 * its length (without the NUL), or -1 when `out_size` is too small (nothing written) or
 * an argument is NULL. */
int qlaster_pubkey_to_base58(const uint8_t key[32], char* out, size_t out_size);
int qlaster_signature_to_base58(const uint8_t sig[64], char* out, size_t out_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* QLASTER_CONSUMER_CONSUMER_H_ */
