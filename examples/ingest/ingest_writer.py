#!/usr/bin/env python3
"""An example producer for qlaster's ingest ring, in standard-library Python.

It attaches to a ring that `qlaster-sender --source ingest:NAME` created,
checks the ring's header, and writes account, transaction and slot updates.
It implements the layout of shm/include/qlaster/ingest.h itself with `mmap`
and `struct`; that header is the contract, and this file follows it step by
step. Copy from it.

Usage:
  ingest_writer.py [--timeout SECONDS] [--lap N] [--corrupt KIND]
                   NAME [UPDATE...]

UPDATE, any number of them, written in order (keys in hex: 64 digits for a
pubkey, 128 for a signature):
  account PUBKEY OWNER LAMPORTS WRITE_VERSION DATA_LEN
      DATA_LEN bytes of account data, byte i = (WRITE_VERSION + i) mod 256
  transaction SIGNATURE SLOT INDEX IS_VOTE DATA_LEN
      DATA_LEN bytes of serialized transaction, byte i = (INDEX + i) mod 256
  slot SLOT PARENT STATUS
      STATUS 0 processed, 1 confirmed, 2 rooted, 3 first shred received,
      4 completed, 5 created bank, 6 dead (proto/qlaster.fbs SlotStatus)
With no UPDATE it writes a demo set: three accounts of pubkey 11..11 (hex)
owned by 22..22, one transaction of signature 33..33, and slot 1 (parent 0)
confirmed. All UPDATEs are parsed before anything is written.

Options:
  --timeout SECONDS  how long to wait for room, or for the sender to pass a
                     bad frame (default 10); then give up with exit status 3.
Misbehaving on purpose, for tests (before the updates; every frame they
write is an account of the "mischief" pubkey 4c..4c, owner 4f..4f):
  --lap N            write N accounts (write_version = lamports = 1..N, 100
                     data bytes) without looking at read_pos, as a DMA
                     engine that cannot wait would; with N > slots this
                     overwrites frames the sender has not read.
  --corrupt KIND     write one bad frame: torn (its sequence left 0), length
                     (a payload_len far past the written data), schema
                     (schema_id 77), or payload (an account whose wire_len
                     promises more bytes than follow).
After misbehaving, and before the updates, the writer waits until the sender
has read past everything written: the sender resynchronizes at write_pos, so
a good frame written before it has passed the bad one could be skipped along
with it.

Exit status: 0 written; 1 bad arguments (or not x86-64); 2 no such ring, or
not a valid one; 3 timed out.

Memory ordering. Python has no atomics. The protocol needs two things of the
stores that publish a frame: each 8-byte store of `sequence` and `write_pos`
must be a single store (never seen half-written), and they must become
visible after the payload stores before them (release ordering). This example
relies on what CPython does on x86-64: assigning an item of a memoryview of
the mapping cast to "Q" is one 8-byte `memcpy`, which the C compiler emits as
one store, aligned here because every such field sits at a multiple of 8;
x86 makes stores visible in program order (TSO); and each store is a
separate call into C, so no compiler reorders them. Reading an item is
likewise one aligned 8-byte load. Beware `struct.pack_into`: it zero-fills
its target before packing, so a reader can see 0 in between; a `write_pos`
seen as 0 sends the sender resynchronizing backwards (the end-to-end test
caught exactly that). None of this holds on a weakly-ordered CPU (ARM,
POWER): there a writer must use real release stores (C11 atomics, as the
inline writer in ingest.h does), for example through a small C extension. So
this example refuses to run anywhere but x86-64.
"""

import mmap
import os
import platform
import struct
import sys
import time

MAGIC = 0x315453474E494C51  # b"QLINGST1" as a little-endian u64
VERSION = 1
HEADER_BYTES = 4096
FRAME_HEADER_BYTES = 16

# Header field offsets (ingest.h). From OFF_MAGIC: u64 magic, u32 version,
# u32 header_bytes, u64 capacity, u64 frame_size.
OFF_MAGIC = 0
OFF_WRITE_POS = 128
OFF_READ_POS = 256

# Frame header field offsets, relative to the frame.
OFF_SCHEMA = 0  # u32 schema_id, then u32 payload_len
OFF_SEQUENCE = 8

SCHEMA_SKIP = 0
SCHEMA_ACCOUNT = 1
SCHEMA_TRANSACTION = 2
SCHEMA_SLOT = 3

# The wire structs (proto/qlaster.fbs): little-endian and unpadded ("<"),
# their reserved bytes as pad bytes ("x"), which struct writes as zero.
#   AccountHeader: pubkey, owner, lamports, rent_epoch, slot, write_version,
#     data_len, wire_len, flags, executable, reserved[2], account_data_len,
#     txn_signature
ACCOUNT_HEADER = struct.Struct("<32s32sQQQQIIBB2xI64s")
#   TransactionHeader: slot, index, data_len, is_vote, failed, reserved[2],
#     status_len, signature
TRANSACTION_HEADER = struct.Struct("<QIIBB2xI64s")
#   SlotHeader: slot, parent, status, reserved[7]
SLOT_HEADER = struct.Struct("<QQB7x")
assert ACCOUNT_HEADER.size == 176
assert TRANSACTION_HEADER.size == 88
assert SLOT_HEADER.size == 24

#   magic, version, header_bytes, capacity, frame_size
HEADER_FIELDS = struct.Struct("<QIIQQ")
TWO_U32 = struct.Struct("<II")

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
MAX_DATA_LEN = 10 << 20
MISCHIEF_PUBKEY = b"\x4c" * 32
MISCHIEF_OWNER = b"\x4f" * 32
LAP_DATA_LEN = 100
CORRUPT_KINDS = ("torn", "length", "schema", "payload")

EXIT_USAGE = 1
EXIT_NO_RING = 2
EXIT_TIMEOUT = 3

USAGE = """\
usage: ingest_writer.py [--timeout SECONDS] [--lap N] [--corrupt KIND]
                        NAME [UPDATE...]
  account PUBKEY_HEX OWNER_HEX LAMPORTS WRITE_VERSION DATA_LEN
  transaction SIGNATURE_HEX SLOT INDEX IS_VOTE DATA_LEN
  slot SLOT PARENT STATUS
KIND: torn, length, schema or payload. See the docstring of ingest_writer.py.
"""


class WriterError(Exception):
    """A reason to stop, with the exit status to stop with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def pattern(start, length):
    """Bytes (start + i) mod 256 for i in [0, length)."""
    one_cycle = bytes((start + i) & 0xFF for i in range(256))
    return (one_cycle * (length // 256 + 1))[:length]


def account_payload(pubkey, owner, lamports, write_version, data_len,
                    wire_len_claimed=None):
    claimed = data_len if wire_len_claimed is None else wire_len_claimed
    # Uncompressed, whole data, so data_len, wire_len and account_data_len
    # are equal; rent_epoch, slot, flags, executable and txn_signature are 0.
    header = ACCOUNT_HEADER.pack(pubkey, owner, lamports, 0, 0,
                                 write_version, claimed, claimed, 0, 0,
                                 claimed, bytes(64))
    return header + pattern(write_version, data_len)


def transaction_payload(signature, slot, index, is_vote, data_len):
    # The sender rejects a bool byte other than 0 or 1.
    # No status after the transaction bytes (status_len 0).
    header = TRANSACTION_HEADER.pack(slot, index, data_len,
                                     1 if is_vote else 0, 0, 0, signature)
    return header + pattern(index, data_len)


def slot_payload(slot, parent, status):
    return SLOT_HEADER.pack(slot, parent, status)


class IngestRing:
    """One writer's view of a mapped ingest ring. One writer per ring."""

    def __init__(self, name, timeout):
        if not name or "/" in name:
            raise WriterError(EXIT_USAGE, f"bad ring name '{name}'")
        # shm_open(NAME) is /dev/shm/NAME on Linux. (multiprocessing's
        # SharedMemory would do the shm_open, but before Python 3.13 its
        # resource tracker unlinks the object when this process exits,
        # taking the sender's ring with it.)
        path = "/dev/shm/" + name
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as e:
            raise WriterError(
                EXIT_NO_RING,
                f"cannot open ingest ring {path}: {e.strerror} (is "
                f"qlaster-sender running with --source ingest:{name}?)",
            ) from None
        try:
            size = os.fstat(fd).st_size
            if size < HEADER_BYTES:
                raise WriterError(
                    EXIT_NO_RING, f"{path} is too small to be an ingest ring")
            self.mm = mmap.mmap(fd, size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the object
        self.timeout = timeout
        try:
            self._check(path, size)
        except WriterError:
            self.mm.close()
            raise
        # The 8-byte words of the ring, in native (little-endian) order: the
        # fields that must be single loads and stores go through it.
        ring_bytes = HEADER_BYTES + self.frame_size * self.slots
        self._words = memoryview(self.mm)[:ring_bytes].cast("Q")
        # Carry on from where the previous writer stopped.
        self.position = self._load(OFF_WRITE_POS)

    def _check(self, path, size):
        # Everything in the header is checked before any of it is trusted,
        # the sizes included: a frame size or capacity that does not fit the
        # object would send writes past it. The checks of
        # qlaster_ingest_check. (These fields do not change once the magic
        # is set, so plain struct reads will do.)
        magic, version, header_bytes, capacity, frame_size = (
            HEADER_FIELDS.unpack_from(self.mm, OFF_MAGIC))
        if (magic != MAGIC or version != VERSION
                or header_bytes != HEADER_BYTES or frame_size < 64
                or frame_size % 64 != 0 or capacity == 0
                or capacity % frame_size != 0
                or capacity > size - HEADER_BYTES):
            raise WriterError(
                EXIT_NO_RING,
                f"{path} is not a version {VERSION} qlaster ingest ring "
                f"(magic {magic:016x}, version {version}, header "
                f"{header_bytes} bytes, capacity {capacity}, frame size "
                f"{frame_size}, object {size} bytes); refusing to write")
        self.frame_size = frame_size
        self.slots = capacity // frame_size

    def close(self):
        self._words.release()  # the mapping cannot close while it is viewed
        self.mm.close()

    # The only accesses that must be single 8-byte loads and stores; see the
    # note on memory ordering at the top of the file.
    def _load(self, offset):
        return self._words[offset // 8]

    def _store(self, offset, value):
        self._words[offset // 8] = value

    def slots_for(self, payload_len):
        return -(-(FRAME_HEADER_BYTES + payload_len) // self.frame_size)

    def _frame_offset(self, position):
        return HEADER_BYTES + (position % self.slots) * self.frame_size

    def _put(self, schema, payload, declared_len=None, torn=False):
        """Steps 2 and 3 of ingest.h, with the faults a test asks for.

        `declared_len` is the payload_len the frame claims; `torn` leaves
        the sequence 0, as a writer that died mid-frame would.
        """
        n = self.slots_for(len(payload))
        p = self.position
        index = p % self.slots
        if index + n > self.slots:
            # A frame never wraps: a skip frame fills the end of the area.
            f = self._frame_offset(p)
            self._store(f + OFF_SEQUENCE, 0)
            TWO_U32.pack_into(self.mm, f + OFF_SCHEMA, SCHEMA_SKIP, 0)
            self._store(f + OFF_SEQUENCE, p + 1)
            p += self.slots - index
        f = self._frame_offset(p)
        self._store(f + OFF_SEQUENCE, 0)
        length = len(payload) if declared_len is None else declared_len
        TWO_U32.pack_into(self.mm, f + OFF_SCHEMA, schema, length)
        start = f + FRAME_HEADER_BYTES
        self.mm[start:start + len(payload)] = payload
        if not torn:
            self._store(f + OFF_SEQUENCE, p + 1)
        self.position = p + n
        self._store(OFF_WRITE_POS, self.position)

    def _has_room(self, payload_len):
        # Step 1 of ingest.h, counting the skip frame a wrap would need.
        n = self.slots_for(payload_len)
        index = self.position % self.slots
        skip = self.slots - index if index + n > self.slots else 0
        unread = self.position + skip + n - self._load(OFF_READ_POS)
        return unread <= self.slots

    def write(self, schema, payload):
        """Writes one frame, waiting (bounded) until the sender makes room.

        It never laps a reader it can see.
        """
        if self.slots_for(len(payload)) > self.slots:
            raise WriterError(EXIT_USAGE, f"a {len(payload)}-byte payload "
                                          "can never fit this ring")
        deadline = time.monotonic() + self.timeout
        while not self._has_room(len(payload)):
            if time.monotonic() > deadline:
                raise WriterError(EXIT_TIMEOUT,
                                  f"ring full for {self.timeout} s: is the "
                                  "sender reading?")
            # A short sleep, not a spin: an example should not burn a core
            # while the sender catches up.
            time.sleep(0.00002)
        self._put(schema, payload)

    def write_unchecked(self, schema, payload, declared_len=None,
                        torn=False):
        """Writes a frame without looking at read_pos: a misbehaving writer.
        """
        self._put(schema, payload, declared_len, torn)

    def wait_until_read(self):
        """Waits until the sender has read (or skipped) all that is written.
        """
        deadline = time.monotonic() + self.timeout
        while self._load(OFF_READ_POS) < self.position:
            if time.monotonic() > deadline:
                raise WriterError(
                    EXIT_TIMEOUT, "the sender did not read past position "
                                  f"{self.position} in {self.timeout} s")
            time.sleep(0.00002)


def lap(ring, count):
    if ring.slots_for(ACCOUNT_HEADER.size + LAP_DATA_LEN) > ring.slots:
        raise WriterError(EXIT_USAGE, "ring too small for --lap frames")
    for i in range(1, count + 1):
        ring.write_unchecked(SCHEMA_ACCOUNT, account_payload(
            MISCHIEF_PUBKEY, MISCHIEF_OWNER, i, i, LAP_DATA_LEN))


def corrupt(ring, kind):
    def mischief(data_len, claimed=None):
        return account_payload(MISCHIEF_PUBKEY, MISCHIEF_OWNER, 1, 1,
                               data_len, claimed)

    if kind == "torn":
        ring.write_unchecked(SCHEMA_ACCOUNT, mischief(LAP_DATA_LEN),
                             torn=True)
    elif kind == "length":
        ring.write_unchecked(SCHEMA_ACCOUNT, mischief(0),
                             declared_len=0x7FFFFFFF)
    elif kind == "schema":
        ring.write_unchecked(77, mischief(LAP_DATA_LEN))
    else:  # "payload"
        ring.write_unchecked(SCHEMA_ACCOUNT,
                             mischief(LAP_DATA_LEN // 2, LAP_DATA_LEN))


def parse_int(text, limit):
    if not (text.isascii() and text.isdigit()) or int(text) > limit:
        raise ValueError(text)
    return int(text)


def parse_hex(text, size):
    if len(text) != 2 * size:
        raise ValueError(text)
    return bytes.fromhex(text)


def parse_update(kind, rest):
    """(schema, payload, argument count) of one UPDATE; ValueError if bad."""
    if kind == "account" and len(rest) >= 5:
        return SCHEMA_ACCOUNT, account_payload(
            parse_hex(rest[0], 32), parse_hex(rest[1], 32),
            parse_int(rest[2], U64_MAX), parse_int(rest[3], U64_MAX),
            parse_int(rest[4], MAX_DATA_LEN)), 6
    if kind == "transaction" and len(rest) >= 5:
        return SCHEMA_TRANSACTION, transaction_payload(
            parse_hex(rest[0], 64), parse_int(rest[1], U64_MAX),
            parse_int(rest[2], U32_MAX), parse_int(rest[3], 1),
            parse_int(rest[4], MAX_DATA_LEN)), 6
    if kind == "slot" and len(rest) >= 3:
        return SCHEMA_SLOT, slot_payload(
            parse_int(rest[0], U64_MAX), parse_int(rest[1], U64_MAX),
            parse_int(rest[2], 6)), 4
    raise ValueError(kind)


def parse_updates(args):
    """[(schema, payload)] for the UPDATE arguments."""
    updates = []
    i = 0
    while i < len(args):
        try:
            schema, payload, used = parse_update(args[i], args[i + 1:])
        except ValueError:
            raise WriterError(EXIT_USAGE, f"cannot parse the update at "
                                          f"'{args[i]}'\n{USAGE}") from None
        updates.append((schema, payload))
        i += used
    return updates


def demo_updates():
    pubkey, owner, signature = b"\x11" * 32, b"\x22" * 32, b"\x33" * 64
    # 3000 bytes of data spans several slots.
    updates = [(SCHEMA_ACCOUNT,
                account_payload(pubkey, owner, 1000000 + i, 1 + i, size))
               for i, size in enumerate((0, 165, 3000))]
    updates.append((SCHEMA_TRANSACTION,
                    transaction_payload(signature, 1, 0, False, 300)))
    updates.append((SCHEMA_SLOT, slot_payload(1, 0, 1)))
    return updates


def parse_options(argv):
    """(timeout, lap count, corrupt kind, index of NAME) from argv."""
    timeout, lap_count, corrupt_kind = 10.0, 0, None
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        if i + 1 >= len(argv):
            raise WriterError(EXIT_USAGE, USAGE)
        option, value = argv[i], argv[i + 1]
        try:
            if option == "--timeout":
                timeout = float(parse_int(value, 86400))
            elif option == "--lap":
                lap_count = parse_int(value, U32_MAX)
            elif option == "--corrupt" and value in CORRUPT_KINDS:
                corrupt_kind = value
            else:
                raise ValueError(option)
        except ValueError:
            raise WriterError(EXIT_USAGE, USAGE) from None
        i += 2
    if i >= len(argv):
        raise WriterError(EXIT_USAGE, USAGE)
    return timeout, lap_count, corrupt_kind, i


def run(argv):
    timeout, lap_count, corrupt_kind, i = parse_options(argv)
    name = argv[i]
    # Parse everything before touching the ring: a typo writes nothing.
    updates = parse_updates(argv[i + 1:])
    misbehaving = lap_count > 0 or corrupt_kind is not None
    if not updates and not misbehaving:
        updates = demo_updates()
    if platform.machine() not in ("x86_64", "AMD64"):
        raise WriterError(EXIT_USAGE,
                          "this example relies on x86-64 store ordering; "
                          "see its note on memory ordering")

    ring = IngestRing(name, timeout)
    try:
        if lap_count > 0:
            lap(ring, lap_count)
        if corrupt_kind is not None:
            corrupt(ring, corrupt_kind)
        # With nothing to write after misbehaving there is nothing to
        # protect: exit at once, so a test can lap a stopped sender.
        if misbehaving and updates:
            ring.wait_until_read()
        for schema, payload in updates:
            ring.write(schema, payload)
        plural = "" if len(updates) == 1 else "s"
        print(f"ingest_writer: wrote {len(updates)} update{plural} to "
              f"{name}; write position {ring.position}")
    finally:
        ring.close()


def main():
    try:
        run(sys.argv[1:])
    except WriterError as e:
        print(f"ingest_writer: {e}", file=sys.stderr)
        return e.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
