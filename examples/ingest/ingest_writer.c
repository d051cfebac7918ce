/* ingest_writer.c: an example producer for qlaster's ingest ring, in plain C11. It needs
 * nothing but the header qlaster/ingest.h (no qlaster library): it attaches to a ring that
 * `qlaster-sender --source ingest:NAME` created, checks the ring's header, and writes
 * account, transaction and slot updates with the header's inline writer. Copy from it.
 *
 * Usage:
 *   qlaster_ingest_writer_c [--timeout SECONDS] [--lap N] [--corrupt KIND] NAME [UPDATE...]
 *
 * UPDATE, any number of them, written in order (keys in hex: 64 digits for a pubkey,
 * 128 for a signature):
 *   account PUBKEY OWNER LAMPORTS WRITE_VERSION DATA_LEN
 *       DATA_LEN bytes of account data, byte i = (WRITE_VERSION + i) mod 256
 *   transaction SIGNATURE SLOT INDEX IS_VOTE DATA_LEN
 *       DATA_LEN bytes of serialized transaction, byte i = (INDEX + i) mod 256
 *   slot SLOT PARENT STATUS
 *       STATUS 0 processed, 1 confirmed, 2 rooted, 3 first shred received, 4 completed,
 *       5 created bank, 6 dead (proto/qlaster.fbs SlotStatus)
 * With no UPDATE it writes a demo set: three accounts of pubkey 11..11 (hex) owned by
 * 22..22, one transaction of signature 33..33, and slot 1 (parent 0) confirmed. All
 * UPDATEs are parsed before anything is written.
 *
 * Options:
 *   --timeout SECONDS  how long to wait for room, or for the sender to pass a bad frame
 *                      (default 10); then give up with exit status 3.
 * Misbehaving on purpose, for tests (before the updates; every frame they write is an
 * account of the "mischief" pubkey 4c..4c, owner 4f..4f):
 *   --lap N            write N accounts (write_version = lamports = 1..N, 100 data bytes)
 *                      without looking at read_pos, as a DMA engine that cannot wait
 *                      would; with N > slots this overwrites frames the sender has not read.
 *   --corrupt KIND     write one bad frame: torn (its sequence left 0), length (a
 *                      payload_len far past the written data), schema (schema_id 77), or
 *                      payload (an account whose wire_len promises more bytes than follow).
 * After misbehaving, and before the updates, the writer waits until the sender has read
 * past everything written: the sender resynchronizes at write_pos, so a good frame written
 * before it has passed the bad one could be skipped along with it.
 *
 * Exit status: 0 written; 1 bad arguments; 2 no such ring or not a valid one; 3 timed out.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qlaster/ingest.h"

/* Byte sizes of the wire structs (proto/qlaster.fbs). The payload is built field by field
 * at fixed offsets, little-endian, so that no C struct padding can creep in. */
#define ACCOUNT_HEADER_BYTES 176u
#define TRANSACTION_HEADER_BYTES 88u
#define SLOT_HEADER_BYTES 24u
#define MAX_PAYLOAD (ACCOUNT_HEADER_BYTES + (10u << 20))

#define EXIT_USAGE 1
#define EXIT_NO_RING 2
#define EXIT_TIMEOUT 3

#define MISCHIEF_PUBKEY_BYTE 0x4c
#define MISCHIEF_OWNER_BYTE 0x4f
#define LAP_DATA_LEN 100u

typedef struct ring {
  qlaster_ingest_writer writer;
  void* base;
  size_t mapped_bytes;
  double timeout_s;
} ring;

static uint8_t g_payload[MAX_PAYLOAD];

static void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waiting is a short sleep, not a spin: an example should not burn a core while the
 * sender catches up. A latency-critical writer would spin here instead. */
static void pause_briefly(void) {
  struct timespec ts = {0, 20000};
  nanosleep(&ts, NULL);
}

/* Payload builders: each returns the payload length in g_payload. */

static uint32_t build_account(const uint8_t pubkey[32], const uint8_t owner[32],
                              uint64_t lamports, uint64_t write_version, uint32_t data_len,
                              uint32_t wire_len_claimed) {
  uint8_t* p = g_payload;
  memset(p, 0, ACCOUNT_HEADER_BYTES); /* rent_epoch, slot, flags, reserved, signature: 0 */
  memcpy(p + 0, pubkey, 32);
  memcpy(p + 32, owner, 32);
  put_u64(p + 64, lamports);
  put_u64(p + 88, write_version);
  put_u32(p + 96, wire_len_claimed); /* data_len: uncompressed data, so equal to wire_len */
  put_u32(p + 100, wire_len_claimed);
  put_u32(p + 108, wire_len_claimed); /* account_data_len: the whole data is carried */
  /* p[104] flags = 0 (not compressed, no txn signature), p[105] executable = 0 */
  for (uint32_t i = 0; i < data_len; ++i) {
    p[ACCOUNT_HEADER_BYTES + i] = (uint8_t)(write_version + i);
  }
  return ACCOUNT_HEADER_BYTES + data_len;
}

static uint32_t build_transaction(const uint8_t signature[64], uint64_t slot, uint32_t index,
                                  int is_vote, uint32_t data_len) {
  uint8_t* p = g_payload;
  memset(p, 0, TRANSACTION_HEADER_BYTES);
  put_u64(p + 0, slot);
  put_u32(p + 8, index);
  put_u32(p + 12, data_len);
  p[16] = is_vote ? 1 : 0; /* the sender rejects a bool byte other than 0 or 1 */
  p[17] = 0;               /* failed */
  memcpy(p + 24, signature, 64);
  for (uint32_t i = 0; i < data_len; ++i) p[TRANSACTION_HEADER_BYTES + i] = (uint8_t)(index + i);
  return TRANSACTION_HEADER_BYTES + data_len;
}

static uint32_t build_slot(uint64_t slot, uint64_t parent, uint8_t status) {
  uint8_t* p = g_payload;
  memset(p, 0, SLOT_HEADER_BYTES);
  put_u64(p + 0, slot);
  put_u64(p + 8, parent);
  p[16] = status;
  return SLOT_HEADER_BYTES;
}

static uint32_t build_mischief_account(uint64_t write_version, uint32_t data_len,
                                       uint32_t wire_len_claimed) {
  uint8_t pubkey[32], owner[32];
  memset(pubkey, MISCHIEF_PUBKEY_BYTE, sizeof pubkey);
  memset(owner, MISCHIEF_OWNER_BYTE, sizeof owner);
  return build_account(pubkey, owner, write_version, write_version, data_len, wire_len_claimed);
}

/* Attaching. shm_open(NAME) is /dev/shm/NAME on Linux; the sender created and sized it. */
static int attach(ring* r, const char* name) {
  char shm_name[256];
  if (strlen(name) == 0 || strchr(name, '/') != NULL || strlen(name) + 2 > sizeof shm_name) {
    fprintf(stderr, "ingest_writer: bad ring name '%s'\n", name);
    return EXIT_USAGE;
  }
  snprintf(shm_name, sizeof shm_name, "/%s", name);
  int fd = shm_open(shm_name, O_RDWR, 0);
  if (fd < 0) {
    fprintf(stderr, "ingest_writer: cannot open ingest ring %s: %s (is qlaster-sender running"
                    " with --source ingest:%s?)\n", shm_name, strerror(errno), name);
    return EXIT_NO_RING;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)QLASTER_INGEST_HEADER_BYTES) {
    fprintf(stderr, "ingest_writer: %s is too small to be an ingest ring\n", shm_name);
    close(fd);
    return EXIT_NO_RING;
  }
  r->mapped_bytes = (size_t)st.st_size;
  r->base = mmap(NULL, r->mapped_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd); /* the mapping keeps the object */
  if (r->base == MAP_FAILED) {
    fprintf(stderr, "ingest_writer: mmap %s: %s\n", shm_name, strerror(errno));
    return EXIT_NO_RING;
  }
  qlaster_ingest_header* h = (qlaster_ingest_header*)r->base;
  /* Everything in the header is checked before any of it is trusted, the sizes included:
   * a frame size or capacity that does not fit the object would send writes past it. */
  if (qlaster_ingest_check(h, r->mapped_bytes) != QLASTER_INGEST_OK) {
    fprintf(stderr,
            "ingest_writer: %s is not a version %u qlaster ingest ring (magic %016llx,"
            " version %u, header %u bytes, capacity %llu, frame size %llu, object %zu"
            " bytes); refusing to write\n",
            shm_name, QLASTER_INGEST_VERSION, (unsigned long long)h->magic, h->version,
            h->header_bytes, (unsigned long long)h->capacity,
            (unsigned long long)h->frame_size, r->mapped_bytes);
    return EXIT_NO_RING;
  }
  r->writer.header = h;
  /* One writer per ring: carry on from where the previous writer stopped. */
  r->writer.position = QLASTER_LOAD_ACQUIRE(&h->write_pos);
  return 0;
}

/* Writes one frame, waiting (bounded) while the sender has not made room. */
static int write_frame(ring* r, uint32_t schema, uint32_t len) {
  const double deadline = now_s() + r->timeout_s;
  for (;;) {
    int rc = qlaster_ingest_write(&r->writer, schema, g_payload, len);
    if (rc == QLASTER_INGEST_OK) return 0;
    if (rc == QLASTER_INGEST_TOO_LARGE) {
      fprintf(stderr, "ingest_writer: a %u-byte payload can never fit this ring\n", len);
      return EXIT_USAGE;
    }
    if (now_s() > deadline) {
      fprintf(stderr, "ingest_writer: ring full for %.1f s: is the sender reading?\n",
              r->timeout_s);
      return EXIT_TIMEOUT;
    }
    pause_briefly();
  }
}

/* The misbehaving writer: the steps of qlaster_ingest_write without its room check, and
 * with the faults a test asks for. `declared_len` is what the frame header claims;
 * `torn` leaves the sequence 0, as a writer that died mid-frame would. */
static void write_frame_unchecked(ring* r, uint32_t schema, uint32_t len, uint32_t declared_len,
                                  int torn) {
  qlaster_ingest_header* h = r->writer.header;
  const uint64_t frame_size = h->frame_size;
  const uint64_t slots = h->capacity / frame_size;
  const uint64_t n =
      (QLASTER_INGEST_FRAME_HEADER_BYTES + (uint64_t)len + frame_size - 1) / frame_size;
  uint8_t* area = (uint8_t*)h + QLASTER_INGEST_HEADER_BYTES;
  uint64_t p = r->writer.position;
  const uint64_t index = p % slots;
  if (index + n > slots) {
    qlaster_ingest_frame* skip = (qlaster_ingest_frame*)(area + index * frame_size);
    QLASTER_STORE_RELAXED(&skip->sequence, 0);
    skip->schema_id = QLASTER_INGEST_SCHEMA_SKIP;
    skip->payload_len = 0;
    QLASTER_STORE_RELEASE(&skip->sequence, p + 1);
    p += slots - index;
  }
  qlaster_ingest_frame* f = (qlaster_ingest_frame*)(area + (p % slots) * frame_size);
  QLASTER_STORE_RELAXED(&f->sequence, 0);
  f->schema_id = schema;
  f->payload_len = declared_len;
  memcpy((uint8_t*)f + QLASTER_INGEST_FRAME_HEADER_BYTES, g_payload, len);
  if (!torn) QLASTER_STORE_RELEASE(&f->sequence, p + 1);
  r->writer.position = p + n;
  QLASTER_STORE_RELEASE(&h->write_pos, r->writer.position);
}

/* Waits until the sender has read (or skipped) everything written so far. */
static int wait_until_read(ring* r) {
  const double deadline = now_s() + r->timeout_s;
  while (QLASTER_LOAD_ACQUIRE(&r->writer.header->read_pos) < r->writer.position) {
    if (now_s() > deadline) {
      fprintf(stderr, "ingest_writer: the sender did not read past position %llu in %.1f s\n",
              (unsigned long long)r->writer.position, r->timeout_s);
      return EXIT_TIMEOUT;
    }
    pause_briefly();
  }
  return 0;
}

static int lap(ring* r, uint64_t count) {
  const uint64_t slots = r->writer.header->capacity / r->writer.header->frame_size;
  const uint32_t len = build_mischief_account(1, LAP_DATA_LEN, LAP_DATA_LEN);
  if ((QLASTER_INGEST_FRAME_HEADER_BYTES + len + r->writer.header->frame_size - 1) /
          r->writer.header->frame_size > slots) {
    fprintf(stderr, "ingest_writer: ring too small for --lap frames\n");
    return EXIT_USAGE;
  }
  for (uint64_t i = 1; i <= count; ++i) {
    build_mischief_account(i, LAP_DATA_LEN, LAP_DATA_LEN);
    write_frame_unchecked(r, QLASTER_INGEST_SCHEMA_ACCOUNT, len, len, 0);
  }
  return 0;
}

static int corrupt(ring* r, const char* kind) {
  uint32_t len;
  if (strcmp(kind, "torn") == 0) {
    len = build_mischief_account(1, LAP_DATA_LEN, LAP_DATA_LEN);
    write_frame_unchecked(r, QLASTER_INGEST_SCHEMA_ACCOUNT, len, len, 1);
  } else if (strcmp(kind, "length") == 0) {
    len = build_mischief_account(1, 0, 0);
    write_frame_unchecked(r, QLASTER_INGEST_SCHEMA_ACCOUNT, len, 0x7fffffffu, 0);
  } else if (strcmp(kind, "schema") == 0) {
    len = build_mischief_account(1, LAP_DATA_LEN, LAP_DATA_LEN);
    write_frame_unchecked(r, 77, len, len, 0);
  } else if (strcmp(kind, "payload") == 0) {
    len = build_mischief_account(1, LAP_DATA_LEN / 2, LAP_DATA_LEN);
    write_frame_unchecked(r, QLASTER_INGEST_SCHEMA_ACCOUNT, len, len, 0);
  } else {
    fprintf(stderr, "ingest_writer: --corrupt takes torn, length, schema or payload, not '%s'\n",
            kind);
    return EXIT_USAGE;
  }
  return 0;
}

/* Argument parsing. */

static int parse_u64(const char* s, uint64_t max, uint64_t* out) {
  char* end;
  errno = 0;
  if (s[0] == '-' || s[0] == '\0') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_hex(const char* s, uint8_t* out, size_t n) {
  if (strlen(s) != 2 * n) return -1;
  for (size_t i = 0; i < 2 * n; ++i) {
    const char c = s[i];
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return -1;
    if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
    else out[i / 2] |= (uint8_t)v;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: qlaster_ingest_writer_c [--timeout SECONDS] [--lap N] [--corrupt KIND] NAME"
          " [UPDATE...]\n"
          "  account PUBKEY_HEX OWNER_HEX LAMPORTS WRITE_VERSION DATA_LEN\n"
          "  transaction SIGNATURE_HEX SLOT INDEX IS_VOTE DATA_LEN\n"
          "  slot SLOT PARENT STATUS\n"
          "KIND: torn, length, schema or payload. See the comment atop ingest_writer.c.\n");
}

/* Parses the updates argv[0..argc) and, unless `r` is NULL, writes them; returns an exit
 * status. main parses them all once before it writes any: a typo writes nothing. */
static int write_updates(ring* r, int argc, char** argv, int* frames) {
  int i = 0;
  while (i < argc) {
    const char* kind = argv[i];
    uint64_t a, b, c, d;
    uint8_t key1[32], key2[32], sig[64];
    uint32_t len;
    uint32_t schema;
    if (strcmp(kind, "account") == 0 && i + 5 < argc && parse_hex(argv[i + 1], key1, 32) == 0 &&
        parse_hex(argv[i + 2], key2, 32) == 0 && parse_u64(argv[i + 3], UINT64_MAX, &a) == 0 &&
        parse_u64(argv[i + 4], UINT64_MAX, &b) == 0 &&
        parse_u64(argv[i + 5], MAX_PAYLOAD - ACCOUNT_HEADER_BYTES, &c) == 0) {
      len = build_account(key1, key2, a, b, (uint32_t)c, (uint32_t)c);
      schema = QLASTER_INGEST_SCHEMA_ACCOUNT;
      i += 6;
    } else if (strcmp(kind, "transaction") == 0 && i + 5 < argc &&
               parse_hex(argv[i + 1], sig, 64) == 0 &&
               parse_u64(argv[i + 2], UINT64_MAX, &a) == 0 &&
               parse_u64(argv[i + 3], UINT32_MAX, &b) == 0 &&
               parse_u64(argv[i + 4], 1, &c) == 0 &&
               parse_u64(argv[i + 5], MAX_PAYLOAD - TRANSACTION_HEADER_BYTES, &d) == 0) {
      len = build_transaction(sig, a, (uint32_t)b, (int)c, (uint32_t)d);
      schema = QLASTER_INGEST_SCHEMA_TRANSACTION;
      i += 6;
    } else if (strcmp(kind, "slot") == 0 && i + 3 < argc &&
               parse_u64(argv[i + 1], UINT64_MAX, &a) == 0 &&
               parse_u64(argv[i + 2], UINT64_MAX, &b) == 0 &&
               parse_u64(argv[i + 3], 6, &c) == 0) {
      len = build_slot(a, b, (uint8_t)c);
      schema = QLASTER_INGEST_SCHEMA_SLOT;
      i += 4;
    } else {
      fprintf(stderr, "ingest_writer: cannot parse the update at '%s'\n", kind);
      usage();
      return EXIT_USAGE;
    }
    if (r == NULL) continue;
    int rc = write_frame(r, schema, len);
    if (rc != 0) return rc;
    ++*frames;
  }
  return 0;
}

static int write_demo(ring* r, int* frames) {
  uint8_t pubkey[32], owner[32], sig[64];
  memset(pubkey, 0x11, sizeof pubkey);
  memset(owner, 0x22, sizeof owner);
  memset(sig, 0x33, sizeof sig);
  static const uint32_t sizes[3] = {0, 165, 3000}; /* 3000 bytes spans several slots */
  for (uint32_t i = 0; i < 3; ++i) {
    int rc = write_frame(r, QLASTER_INGEST_SCHEMA_ACCOUNT,
                         build_account(pubkey, owner, 1000000 + i, 1 + i, sizes[i], sizes[i]));
    if (rc != 0) return rc;
  }
  int rc = write_frame(r, QLASTER_INGEST_SCHEMA_TRANSACTION, build_transaction(sig, 1, 0, 0, 300));
  if (rc == 0) rc = write_frame(r, QLASTER_INGEST_SCHEMA_SLOT, build_slot(1, 0, 1));
  if (rc == 0) *frames += 5;
  return rc;
}

int main(int argc, char** argv) {
  ring r;
  memset(&r, 0, sizeof r);
  r.timeout_s = 10;
  uint64_t lap_count = 0;
  const char* corrupt_kind = NULL;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    uint64_t v;
    if (i + 1 >= argc) {
      usage();
      return EXIT_USAGE;
    }
    if (strcmp(argv[i], "--timeout") == 0 && parse_u64(argv[i + 1], 86400, &v) == 0) {
      r.timeout_s = (double)v;
    } else if (strcmp(argv[i], "--lap") == 0 && parse_u64(argv[i + 1], UINT32_MAX, &v) == 0) {
      lap_count = v;
    } else if (strcmp(argv[i], "--corrupt") == 0 &&
               (strcmp(argv[i + 1], "torn") == 0 || strcmp(argv[i + 1], "length") == 0 ||
                strcmp(argv[i + 1], "schema") == 0 || strcmp(argv[i + 1], "payload") == 0)) {
      corrupt_kind = argv[i + 1];
    } else {
      usage();
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage();
    return EXIT_USAGE;
  }
  const int updates = argc - i - 1;
  int frames = 0;
  int rc = write_updates(NULL, updates, argv + i + 1, &frames);
  if (rc == 0) rc = attach(&r, argv[i]);
  if (rc != 0) return rc;

  if (lap_count > 0) rc = lap(&r, lap_count);
  if (rc == 0 && corrupt_kind != NULL) rc = corrupt(&r, corrupt_kind);
  const int misbehaved = lap_count > 0 || corrupt_kind != NULL;
  /* With --lap or --corrupt and no updates, there is nothing to protect: exit at once, so
   * a test can write a lap while the sender is stopped. */
  if (rc == 0 && misbehaved && updates > 0) rc = wait_until_read(&r);
  if (rc == 0) {
    if (updates > 0) {
      rc = write_updates(&r, updates, argv + i + 1, &frames);
    } else if (!misbehaved) {
      rc = write_demo(&r, &frames);
    }
  }
  if (rc == 0) {
    printf("ingest_writer: wrote %d update%s to %s; write position %llu\n", frames,
           frames == 1 ? "" : "s", argv[i], (unsigned long long)r.writer.position);
  }
  munmap(r.base, r.mapped_bytes);
  return rc;
}
