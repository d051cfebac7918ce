/* qlaster/ingest.h: the ingest ring, how data gets into qlaster-sender without linking
 * anything. A process (C, C++, Python, a device's DMA engine) writes update frames into a
 * POSIX shared-memory object; `qlaster-sender --source ingest:NAME` reads them and fans them
 * out. This header is the whole contract: the layout below, and a safe inline writer.
 *
 * Layout (all integers little-endian; offsets in bytes):
 *
 *   0      u64  magic          the bytes "QLINGST1" (0x315453474e494c51 as a u64)
 *   8      u32  version        1
 *   12     u32  header_bytes   4096: slots start here
 *   16     u64  capacity       bytes of the slot area = slot_count * frame_size
 *   24     u64  frame_size     bytes per slot: a multiple of 64, at least 64
 *   32..127     reserved, zero
 *   128    u64  write_pos      atomic; slots written. Advanced by the writer, with release
 *                              ordering, after a frame is complete.
 *   136..255    reserved, zero
 *   256    u64  read_pos       atomic; slots consumed. Advanced by the sender.
 *   264..4095   reserved, zero
 *   4096   slot area: slot i at 4096 + i * frame_size, i in [0, slot_count)
 *
 * Positions count slots and only grow; a position p lives in slot p % slot_count. A frame
 * starts at a slot boundary with a 16-byte frame header, then its payload:
 *
 *   +0   u32  schema_id    the qlaster.fbs UpdateKind: 1 account, 2 transaction, 3 slot,
 *                          5 block meta, 6 entry, 7 transaction status;
 *                          0 = skip: the rest of the slot area up to its end is unused
 *   +4   u32  payload_len  payload bytes
 *   +8   u64  sequence     atomic; p + 1 where p is the frame's first position, stored
 *                          (release) after the payload. 0 while the frame is being written.
 *   +16  payload: the update in qlaster's wire encoding (frame version 2), without the
 *        24-byte frame header:
 *          account:     AccountHeader (176 B) then wire_len bytes of data; data_len,
 *                       wire_len and account_data_len (offset 108) equal for raw data
 *          transaction: TransactionHeader (88 B), data_len bytes of the transaction in
 *                       Solana's wire format, then status_len (offset 20) bytes of its
 *                       status (wire/solana/transaction_status.h; 0 for none)
 *          slot:        SlotHeader (24 B)
 *          block meta:  BlockMetaHeader (120 B) then 56 B per reward
 *          entry:       EntryHeader (72 B)
 *          transaction status: TransactionStatusHeader (88 B) then err_len bytes
 *        (see proto/qlaster.fbs for the structs' fields and offsets)
 *
 * A frame of n = ceil((16 + payload_len) / frame_size) slots occupies consecutive slots
 * and never wraps: when it would pass the end of the slot area, the writer first puts a
 * skip frame (schema_id 0, payload_len 0, sequence p + 1) at p and advances to the next
 * multiple of slot_count.
 *
 * Writing a frame at position p (the writer's own copy of write_pos):
 *   1. wait until p + n - read_pos <= slot_count (never overwrite what the sender has not
 *      read; a writer that cannot wait counts a drop instead);
 *   2. store 0 to sequence; write schema_id, payload_len and the payload;
 *   3. store p + 1 to sequence (release), then p + n to write_pos (release).
 *
 * The sender treats everything here as untrusted: it detects and counts a writer that
 * laps it (write_pos - read_pos > slot_count), a torn frame (sequence not p + 1 before and
 * after it copies the frame), a bad length and an unknown schema; it resynchronizes at
 * write_pos and carries on.
 */
#ifndef QLASTER_INGEST_H_
#define QLASTER_INGEST_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#include <atomic>
#define QLASTER_ATOMIC_U64 std::atomic<uint64_t>
#define QLASTER_LOAD_ACQUIRE(p) (p)->load(std::memory_order_acquire)
#define QLASTER_STORE_RELEASE(p, v) (p)->store((v), std::memory_order_release)
#define QLASTER_STORE_RELAXED(p, v) (p)->store((v), std::memory_order_relaxed)
extern "C" {
#else
#include <stdatomic.h>
#define QLASTER_ATOMIC_U64 _Atomic uint64_t
#define QLASTER_LOAD_ACQUIRE(p) atomic_load_explicit((p), memory_order_acquire)
#define QLASTER_STORE_RELEASE(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define QLASTER_STORE_RELAXED(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#endif

/* "QLINGST1" read as a little-endian u64. */
#define QLASTER_INGEST_MAGIC 0x315453474e494c51ULL
#define QLASTER_INGEST_VERSION 1u
#define QLASTER_INGEST_HEADER_BYTES 4096u
#define QLASTER_INGEST_FRAME_HEADER_BYTES 16u
#define QLASTER_INGEST_DEFAULT_NAME "qlaster_ingest"
#define QLASTER_INGEST_DEFAULT_CAPACITY (16u << 20)
#define QLASTER_INGEST_DEFAULT_FRAME_SIZE 1024u

#define QLASTER_INGEST_SCHEMA_SKIP 0u
#define QLASTER_INGEST_SCHEMA_ACCOUNT 1u
#define QLASTER_INGEST_SCHEMA_TRANSACTION 2u
#define QLASTER_INGEST_SCHEMA_SLOT 3u
#define QLASTER_INGEST_SCHEMA_BLOCK_META 5u
#define QLASTER_INGEST_SCHEMA_ENTRY 6u
#define QLASTER_INGEST_SCHEMA_TRANSACTION_STATUS 7u

typedef struct qlaster_ingest_header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;
  uint64_t capacity;
  uint64_t frame_size;
  uint8_t reserved0[96];
  QLASTER_ATOMIC_U64 write_pos;
  uint8_t reserved1[120];
  QLASTER_ATOMIC_U64 read_pos;
  uint8_t reserved2[4096 - 264];
} qlaster_ingest_header;

typedef struct qlaster_ingest_frame {
  uint32_t schema_id;
  uint32_t payload_len;
  QLASTER_ATOMIC_U64 sequence;
} qlaster_ingest_frame;

/* Return values of qlaster_ingest_write. */
#define QLASTER_INGEST_OK 0
#define QLASTER_INGEST_FULL (-1)      /* no room now: the sender has not caught up */
#define QLASTER_INGEST_TOO_LARGE (-2) /* the frame can never fit this ring */
#define QLASTER_INGEST_BAD_RING (-3)  /* the header is not a valid ingest ring */

/* The writer's state: the mapped ring and the writer's own position. One writer per ring. */
typedef struct qlaster_ingest_writer {
  qlaster_ingest_header* header; /* the mapping's start: 4096 + capacity bytes */
  uint64_t position;             /* next position to write; start at header->write_pos */
} qlaster_ingest_writer;

/* Checks a mapped header: 0 if it is a ring this header describes. */
static inline int qlaster_ingest_check(const qlaster_ingest_header* h, size_t mapped_bytes) {
  if (mapped_bytes < QLASTER_INGEST_HEADER_BYTES) return QLASTER_INGEST_BAD_RING;
  if (h->magic != QLASTER_INGEST_MAGIC || h->version != QLASTER_INGEST_VERSION ||
      h->header_bytes != QLASTER_INGEST_HEADER_BYTES)
    return QLASTER_INGEST_BAD_RING;
  if (h->frame_size < 64 || h->frame_size % 64 != 0 || h->capacity % h->frame_size != 0 ||
      h->capacity == 0 || h->capacity > mapped_bytes - QLASTER_INGEST_HEADER_BYTES)
    return QLASTER_INGEST_BAD_RING;
  return QLASTER_INGEST_OK;
}

/* Writes one frame, or returns QLASTER_INGEST_FULL without writing if the sender has not
 * yet read enough (it never laps a reader it can see). Not thread-safe: one writer. */
static inline int qlaster_ingest_write(qlaster_ingest_writer* w, uint32_t schema_id,
                                       const void* payload, uint32_t payload_len) {
  qlaster_ingest_header* h = w->header;
  const uint64_t frame_size = h->frame_size;
  const uint64_t slots = h->capacity / frame_size;
  const uint64_t n =
      ((uint64_t)QLASTER_INGEST_FRAME_HEADER_BYTES + payload_len + frame_size - 1) / frame_size;
  if (n > slots) return QLASTER_INGEST_TOO_LARGE;
  uint8_t* area = (uint8_t*)h + QLASTER_INGEST_HEADER_BYTES;
  uint64_t p = w->position;
  const uint64_t index = p % slots;
  const uint64_t skip = index + n > slots ? slots - index : 0;
  if (p + skip + n - QLASTER_LOAD_ACQUIRE(&h->read_pos) > slots) return QLASTER_INGEST_FULL;
  if (skip != 0) {
    qlaster_ingest_frame* f = (qlaster_ingest_frame*)(area + index * frame_size);
    QLASTER_STORE_RELAXED(&f->sequence, 0);
    f->schema_id = QLASTER_INGEST_SCHEMA_SKIP;
    f->payload_len = 0;
    QLASTER_STORE_RELEASE(&f->sequence, p + 1);
    p += skip;
  }
  qlaster_ingest_frame* f = (qlaster_ingest_frame*)(area + (p % slots) * frame_size);
  QLASTER_STORE_RELAXED(&f->sequence, 0);
  f->schema_id = schema_id;
  f->payload_len = payload_len;
  if (payload_len != 0) memcpy((uint8_t*)f + QLASTER_INGEST_FRAME_HEADER_BYTES, payload, payload_len);
  QLASTER_STORE_RELEASE(&f->sequence, p + 1);
  w->position = p + n;
  QLASTER_STORE_RELEASE(&h->write_pos, w->position);
  return QLASTER_INGEST_OK;
}

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* QLASTER_INGEST_H_ */
