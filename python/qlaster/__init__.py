"""qlaster: read Solana updates from a local qlaster-sender through shared memory.

A thin, typed layer over libqlaster-consumer's C ABI (qlaster/consumer.h), loaded with
ctypes from $QLASTER_LIBRARY, else the dynamic loader's search path.

    with qlaster.connect("/run/qlaster/sender.sock", name="my-bot") as c:
        c.subscribe(owners=["TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"],
                    transactions="nonvote")
        for ev in c.events(timeout=1.0):
            if ev.kind == "account":
                print(ev.pubkey, ev.lamports, len(ev.data))

Every update carries a per-connection sequence number. Nothing is lost silently: updates
the sender dropped for this consumer arrive as a GapEvent, losing the sender as a
DisconnectedEvent, and (with auto_reconnect, the default) the new connection, once the
subscription has been replayed on it, as a ReconnectedEvent.

Errors raise qlaster.Error, carrying the library's message and its absl::StatusCode.

A Consumer is used by one thread at a time.
"""
from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Sequence, Union

from . import _lib

__all__ = [
    "AccountEvent", "BlockMetaEvent", "Pubkey", "Signature", "Consumer", "DisconnectedEvent", "EntryEvent", "Error",
    "Event", "GapEvent", "ReconnectedEvent", "SlotEvent", "Stats", "TransactionEvent",
    "TransactionStatusEvent", "connect", "pubkey_from_base58", "pubkey_to_base58",
    "signature_from_base58", "signature_to_base58", "default_socket_path",
]

# absl::StatusCode names, for messages and Error.code_name.
_CODE_NAMES = {
    0: "ok", 1: "cancelled", 2: "unknown", 3: "invalid_argument", 4: "deadline_exceeded",
    5: "not_found", 6: "already_exists", 7: "permission_denied", 8: "resource_exhausted",
    9: "failed_precondition", 10: "aborted", 11: "out_of_range", 12: "unimplemented",
    13: "internal", 14: "unavailable", 15: "data_loss", 16: "unauthenticated",
}


class Error(Exception):
    """A failure the library reported: `message` is its text, `code` its absl::StatusCode
    (14 unavailable: no sender; 3 invalid argument: bad input; 8 resource exhausted: a
    limit; 11 out of range: from_slot too old; ...)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(f"{message} [{_CODE_NAMES.get(code, code)}]")
        self.message = message
        self.code = code

    @property
    def code_name(self) -> str:
        return _CODE_NAMES.get(self.code, str(self.code))


def _raise(lib: ctypes.CDLL) -> None:
    raise Error((lib.qlaster_last_error() or b"").decode("utf-8", "replace"),
                lib.qlaster_last_error_code())


# --------------------------------------------------------------------------- keys

KeyLike = Union[str, bytes, bytearray, memoryview]


def pubkey_from_base58(text: str) -> bytes:
    """The 32 bytes of a base58 pubkey. Raises Error (invalid argument) for a character
    outside the alphabet (0, O, I, l) or text that is not exactly 32 bytes."""
    lib = _lib.lib()
    out = ctypes.create_string_buffer(32)
    if lib.qlaster_pubkey_from_base58(text.encode(), out) != 0:
        _raise(lib)
    return out.raw


def signature_from_base58(text: str) -> bytes:
    """The 64 bytes of a base58 signature (as pubkey_from_base58)."""
    lib = _lib.lib()
    out = ctypes.create_string_buffer(64)
    if lib.qlaster_signature_from_base58(text.encode(), out) != 0:
        _raise(lib)
    return out.raw


def _to_base58(fn_name: str, raw: bytes, size: int, cap: int) -> str:
    if len(raw) != size:
        raise Error(f"expected {size} bytes, got {len(raw)}", 3)
    lib = _lib.lib()
    out = ctypes.create_string_buffer(cap)
    n = getattr(lib, fn_name)(bytes(raw), out, cap)
    if n < 0:
        _raise(lib)
    return out.raw[:n].decode()


def pubkey_to_base58(raw: bytes) -> str:
    """The base58 spelling of a 32-byte pubkey."""
    return _to_base58("qlaster_pubkey_to_base58", raw, 32, 45)


def signature_to_base58(raw: bytes) -> str:
    """The base58 spelling of a 64-byte signature."""
    return _to_base58("qlaster_signature_to_base58", raw, 64, 89)


def _key_bytes(keys: Optional[Iterable[KeyLike]]) -> bytes:
    if not keys:
        return b""
    out = bytearray()
    for k in keys:
        if isinstance(k, str):
            out += pubkey_from_base58(k)
        elif len(k) == 32:
            out += bytes(k)
        else:
            raise Error(f"a pubkey is 32 bytes or base58 text, not {len(k)} bytes", 3)
    return bytes(out)


def default_socket_path() -> str:
    """Where a sender listens unless told otherwise: $QLASTER_SOCKET, else
    $XDG_RUNTIME_DIR/qlaster/sender.sock, else /run/qlaster/sender.sock."""
    if os.environ.get("QLASTER_SOCKET"):
        return os.environ["QLASTER_SOCKET"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "qlaster", "sender.sock")
    return "/run/qlaster/sender.sock"


# ------------------------------------------------------------------------- events

@dataclass
class Event:
    """Fields every event has. `kind` names the subclass."""

    kind: str
    sequence: int      # per connection, from 1; a gap's last_missing; 0 for lifecycle events
    timestamp_ns: int  # when the sender published it (CLOCK_REALTIME); 0 where none


@dataclass
class AccountEvent(Event):
    pubkey: "Pubkey"   # bytes; str(pubkey) is base58
    owner: "Pubkey"
    lamports: int
    slot: int
    write_version: int
    rent_epoch: int
    executable: bool
    txn_signature: Optional["Signature"]  # None when the sender does not know it
    data: memoryview   # the account data (or its data slices); valid until the next event
    account_data_len: int  # the whole data size (more than len(data) with data slices)
    sliced: bool
    filters: int       # bit i: the subscription's i-th named account filter matched


@dataclass
class TransactionEvent(Event):
    signature: "Signature"
    slot: int
    index: int
    is_vote: bool
    failed: bool
    data: memoryview   # the transaction in Solana's wire format; valid until the next event
    status: memoryview  # its status in qlaster's encoding; empty when the source had none
    filters: int


@dataclass
class TransactionStatusEvent(Event):
    signature: "Signature"
    slot: int
    index: int
    is_vote: bool
    failed: bool
    error: bytes       # the TransactionError's bincode; empty on success
    filters: int


@dataclass
class SlotEvent(Event):
    slot: int
    parent: int
    status: str        # "processed", "confirmed", "rooted", ...


@dataclass
class BlockMetaEvent(Event):
    slot: int
    parent_slot: int
    blockhash: "Pubkey"
    parent_blockhash: "Pubkey"
    block_height: Optional[int]
    block_time: Optional[int]
    executed_transaction_count: int
    entries_count: int


@dataclass
class EntryEvent(Event):
    slot: int
    index: int
    num_hashes: int
    hash: "Pubkey"
    executed_transaction_count: int
    starting_transaction_index: int


@dataclass
class GapEvent(Event):
    """Updates with sequence numbers first_missing..last_missing never arrived."""

    dropped: int
    first_missing: int
    last_missing: int
    reported_by_sender: bool  # the sender said so (drop-and-count)


@dataclass
class DisconnectedEvent(Event):
    reason: str
    will_reconnect: bool


@dataclass
class ReconnectedEvent(Event):
    """A new connection is up with the subscription replayed; sequence numbers restart."""

    consumer_id: int
    effective_sequence: int


@dataclass
class Stats:
    received: int
    gaps: int
    dropped: int
    lag_bytes: int
    reconnects: int
    disconnects: int
    last_sequence: int
    connected: bool


_SLOT_STATUS = ["processed", "confirmed", "rooted", "first_shred_received", "completed",
                "created_bank", "dead"]
_TX = {None: -1, "none": 0, "all": 1, "nonvote": 2, "non_vote": 2}
_OVERFLOW = {"evict": 0, "drop_and_count": 1}
_WAIT = {"spin_then_sleep": 0, "spin": 1, "sleep": 2}
_COMMITMENT = {"processed": 0, "confirmed": 1, "finalized": 2}


def _raw(ptr, n: int) -> bytes:
    return ctypes.string_at(ptr, n) if ptr else b""


class Pubkey(bytes):
    """A 32-byte key (or 32-byte hash); str() and .base58 give its base58 spelling."""

    @property
    def base58(self) -> str:
        return _encode58(self)

    def __str__(self) -> str:
        return _encode58(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{_encode58(self)}')"


class Signature(Pubkey):
    """A 64-byte transaction signature; str() and .base58 give its base58 spelling."""


def _b58(ptr, n: int) -> Pubkey:
    # The bytes now, the text when asked for.
    raw = ctypes.string_at(ptr, n)
    return Signature(raw) if n == 64 else Pubkey(raw)


_ALPHABET = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _encode58(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = bytearray()
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    zeros = len(raw) - len(raw.lstrip(b"\0"))
    return ("1" * zeros) + out[::-1].decode()


_KIND_CODES = {"account": 1, "transaction": 2, "slot": 3, "block_meta": 7, "entry": 8,
               "transaction_status": 9}


def _convert(e: "_lib.Event") -> Event:
    k = e.kind
    if k == 1:
        return AccountEvent(
            "account", e.sequence, e.timestamp_ns, _b58(e.pubkey, 32), _b58(e.owner, 32),
            e.lamports, e.slot, e.write_version, e.rent_epoch, bool(e.executable),
            _b58(e.txn_signature, 64) if e.txn_signature else None,
            memoryview(_raw(e.data, e.data_len)), e.account_data_len, bool(e.sliced), e.filters)
    if k == 2:
        return TransactionEvent(
            "transaction", e.sequence, e.timestamp_ns, _b58(e.signature, 64), e.slot,
            e.tx_index, bool(e.is_vote), bool(e.failed), memoryview(_raw(e.data, e.data_len)),
            memoryview(_raw(e.status, e.status_len)), e.filters)
    if k == 3:
        status = _SLOT_STATUS[e.slot_status] if 0 <= e.slot_status < len(_SLOT_STATUS) else "unknown"
        return SlotEvent("slot", e.sequence, e.timestamp_ns, e.slot, e.parent, status)
    if k == 4:
        return GapEvent("gap", e.sequence, e.timestamp_ns, e.dropped, e.first_missing,
                        e.last_missing, bool(e.reported_by_sender))
    if k == 5:
        return ReconnectedEvent("reconnected", e.sequence, e.timestamp_ns, e.consumer_id,
                                e.effective_sequence)
    if k == 6:
        return DisconnectedEvent("disconnected", e.sequence, e.timestamp_ns,
                                 (e.reason or b"").decode("utf-8", "replace"),
                                 bool(e.will_reconnect))
    if k == 7:
        return BlockMetaEvent(
            "block_meta", e.sequence, e.timestamp_ns, e.slot, e.parent, _b58(e.blockhash, 32),
            _b58(e.parent_blockhash, 32), e.block_height if e.has_block_height else None,
            e.block_time if e.has_block_time else None, e.executed_transaction_count,
            e.entries_count)
    if k == 8:
        return EntryEvent("entry", e.sequence, e.timestamp_ns, e.slot, e.entry_index,
                          e.num_hashes, _b58(e.blockhash, 32), e.executed_transaction_count,
                          e.starting_transaction_index)
    if k == 9:
        return TransactionStatusEvent(
            "transaction_status", e.sequence, e.timestamp_ns, _b58(e.signature, 64), e.slot,
            e.tx_index, bool(e.is_vote), bool(e.failed), _raw(e.status, e.status_len),
            e.filters)
    return Event(f"unknown({k})", e.sequence, e.timestamp_ns)


# ----------------------------------------------------------------------- consumer

class Consumer:
    """One connection to a qlaster-sender (and, with auto_reconnect, its successors).
    Create it with connect(); close it with close() or a `with` block."""

    def __init__(self, handle: int) -> None:
        self._lib = _lib.lib()
        self._c: Optional[int] = handle
        self._batch: List[Event] = []

        def on_event(ev_ptr, _user) -> None:
            self._batch.append(_convert(ev_ptr.contents))

        self._handler = _lib.HANDLER(on_event)  # kept alive as long as the consumer

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Leaves the sender and releases the ring. Idempotent."""
        if self._c is not None:
            self._lib.qlaster_close(self._c)
            self._c = None

    def _handle(self) -> int:
        if self._c is None:
            raise Error("the consumer is closed", 9)
        return self._c

    def _change(self, fn: str, accounts, owners, transactions: Optional[str]) -> None:
        if transactions not in _TX:
            raise Error(f"transactions is one of {sorted(k for k in _TX if k)} or None, "
                        f"not {transactions!r}", 3)
        pk = _key_bytes(accounts)
        ow = _key_bytes(owners)
        tx = _TX[transactions]
        if fn == "qlaster_replace" and tx < 0:
            tx = 0
        if getattr(self._lib, fn)(self._handle(), pk or None, len(pk) // 32, ow or None,
                                  len(ow) // 32, tx) != 0:
            _raise(self._lib)

    def subscribe(self, accounts: Sequence[KeyLike] = (), owners: Sequence[KeyLike] = (),
                  transactions: Optional[str] = None) -> None:
        """Adds account pubkeys and owners (base58 text or 32 bytes each) and, unless
        `transactions` is None, sets the transaction filter ("all", "nonvote", "none").
        Blocks until the sender acknowledges; every later update is filtered by it."""
        self._change("qlaster_subscribe", accounts, owners, transactions)

    def unsubscribe(self, accounts: Sequence[KeyLike] = (), owners: Sequence[KeyLike] = (),
                    transactions: Optional[str] = None) -> None:
        """Removes pubkeys and owners (and sets the transaction filter unless None)."""
        self._change("qlaster_unsubscribe", accounts, owners, transactions)

    def replace(self, accounts: Sequence[KeyLike] = (), owners: Sequence[KeyLike] = (),
                transactions: Optional[str] = "none") -> None:
        """Replaces the whole subscription."""
        self._change("qlaster_replace", accounts, owners, transactions)

    def set_subscription(self, *, accounts: Optional[dict] = None,
                         transactions: Optional[dict] = None,
                         data_slices: Sequence[tuple] = (),
                         commitment: str = "processed",
                         from_slot: Optional[int] = None) -> int:
        """Replaces the whole subscription with named filters, Yellowstone's way, and
        returns the sequence number after which every update is filtered by it.

        accounts: {name: {"pubkeys": [...], "owners": [...], "memcmp": [(offset, bytes)],
                   "datasize": n, "lamports": [("gt", n)]}}
        transactions: {name: {"vote": bool|None, "failed": bool|None,
                       "include": [...], "exclude": [...], "required": [...]}}
        data_slices: [(offset, length)]; commitment: processed|confirmed|finalized;
        from_slot: replay what the sender keeps from that slot on (Error out_of_range
        when older)."""
        lib = self._lib
        s = lib.qlaster_subscription_new()
        if not s:
            raise MemoryError("qlaster_subscription_new")
        try:
            def check(rc: int) -> None:
                if rc != 0:
                    _raise(lib)

            ops = {"eq": 0, "ne": 1, "lt": 2, "gt": 3}
            for name, f in (accounts or {}).items():
                n = name.encode()
                pk, ow = _key_bytes(f.get("pubkeys")), _key_bytes(f.get("owners"))
                check(lib.qlaster_subscription_account(s, n, pk or None, len(pk) // 32,
                                                       ow or None, len(ow) // 32))
                for off, raw in f.get("memcmp", ()):
                    raw = pubkey_from_base58(raw) if isinstance(raw, str) else bytes(raw)
                    check(lib.qlaster_subscription_account_memcmp(s, n, off, raw, len(raw)))
                if f.get("datasize") is not None:
                    check(lib.qlaster_subscription_account_datasize(s, n, f["datasize"]))
                for op, value in f.get("lamports", ()):
                    check(lib.qlaster_subscription_account_lamports(s, n, ops[op], value))
            tri = {None: -1, False: 0, True: 1}
            for name, f in (transactions or {}).items():
                inc, exc, req = (_key_bytes(f.get(k)) for k in ("include", "exclude", "required"))
                sig = f.get("signature")
                sig = signature_from_base58(sig) if isinstance(sig, str) else sig
                check(lib.qlaster_subscription_transaction(
                    s, 0, name.encode(), tri[f.get("vote")], tri[f.get("failed")], sig,
                    inc or None, len(inc) // 32, exc or None, len(exc) // 32,
                    req or None, len(req) // 32))
            for off, length in data_slices:
                check(lib.qlaster_subscription_data_slice(s, off, length))
            if commitment not in _COMMITMENT:
                raise Error(f"commitment is one of {list(_COMMITMENT)}, not {commitment!r}", 3)
            check(lib.qlaster_subscription_commitment(s, _COMMITMENT[commitment]))
            if from_slot is not None:
                check(lib.qlaster_subscription_from_slot(s, from_slot))
            effective = ctypes.c_uint64(0)
            check(lib.qlaster_set_subscription(self._handle(), s, ctypes.byref(effective)))
            return effective.value
        finally:
            lib.qlaster_subscription_free(s)

    def filter_names(self, event: Event) -> List[str]:
        """The names of the named filters `event` matched (its `filters` bits), under
        the subscription in force when it was published. Ask before reading many more
        events: the library keeps the names of earlier subscriptions only while updates
        filtered by them may still be in the ring."""
        bits = getattr(event, "filters", 0)
        kind = _KIND_CODES.get(event.kind)
        if not bits or kind is None:
            return []
        raw = _lib.Event()
        raw.kind, raw.sequence, raw.filters = kind, event.sequence, bits
        names = []
        for bit in range(32):
            if bits & (1 << bit):
                name = self._lib.qlaster_filter_name(self._handle(), ctypes.byref(raw), bit)
                if name is not None:
                    names.append(name.decode("utf-8", "replace"))
        return names

    def poll(self, max: int = 256) -> List[Event]:
        """The events of up to `max` ring records that are waiting (an empty list when
        none); never blocks for long. Raises Error once the sender is gone for good
        (auto_reconnect off), after the DisconnectedEvent."""
        self._batch = []
        if self._lib.qlaster_poll(self._handle(), self._handler, None, max) < 0:
            _raise(self._lib)
        return self._batch

    def wait(self, timeout: Optional[float]) -> bool:
        """Waits up to `timeout` seconds (None: forever) for something to poll; True
        when something is ready."""
        us = -1 if timeout is None else int(timeout * 1e6)
        rc = self._lib.qlaster_wait(self._handle(), us)
        if rc < 0:
            _raise(self._lib)
        return rc == 1

    def events(self, timeout: Optional[float] = 1.0, max: int = 256) -> Iterator[Event]:
        """Yields events as they arrive, and ends when none has arrived for `timeout`
        seconds (None: never ends). An event's memoryviews stay valid until the next
        event is taken; bytes(ev.data) keeps a copy."""
        quiet_since = time.monotonic()
        while True:
            batch = self.poll(max)
            if batch:
                yield from batch
                quiet_since = time.monotonic()
                continue
            if timeout is None:
                self.wait(None)
                continue
            left = timeout - (time.monotonic() - quiet_since)
            if left <= 0 or not self.wait(left):
                if not self.poll(max):
                    return
                yield from self._batch
                quiet_since = time.monotonic()

    def stats(self) -> Stats:
        """Counters of this consumer (across reconnections)."""
        st = _lib.Stats()
        if self._lib.qlaster_get_stats_sized(self._handle(), ctypes.byref(st), ctypes.sizeof(st)) != 0:
            _raise(self._lib)
        return Stats(st.received, st.gaps, st.dropped, st.lag_bytes, st.reconnects,
                     st.disconnects, st.last_sequence, bool(st.connected))

    @property
    def consumer_id(self) -> int:
        """The sender's id for the current connection (changes on reconnection)."""
        return self._lib.qlaster_consumer_id(self._handle())

    @property
    def ring_bytes(self) -> int:
        """The ring size the sender granted."""
        return self._lib.qlaster_ring_bytes(self._handle())


def connect(path: Optional[str] = None, *, name: Optional[str] = None, ring_bytes: int = 0,
            overflow: str = "evict", wait: str = "spin_then_sleep",
            auto_reconnect: bool = True, connect_timeout: Optional[float] = None,
            request_timeout: Optional[float] = None,
            reconnect_backoff: Optional[float] = None) -> Consumer:
    """Connects to the sender at `path` (default: default_socket_path()).

    overflow: "evict" (the sender disconnects a consumer that falls behind) or
    "drop_and_count" (it drops updates and says how many: a GapEvent).
    wait: "spin_then_sleep", "spin" or "sleep". Durations are in seconds.
    Raises Error: unavailable (14) when no sender listens there, failed precondition (9)
    for another protocol version, resource exhausted (8) when it is full, invalid
    argument (3) for bad options."""
    lib = _lib.lib()
    if overflow not in _OVERFLOW:
        raise Error(f"overflow is one of {list(_OVERFLOW)}, not {overflow!r}", 3)
    if wait not in _WAIT:
        raise Error(f"wait is one of {list(_WAIT)}, not {wait!r}", 3)
    o = _lib.Options()
    lib.qlaster_options_default_sized(ctypes.byref(o), ctypes.sizeof(o))
    name_b = name.encode() if name else None
    o.name = name_b
    o.ring_bytes = ring_bytes
    o.overflow_policy = _OVERFLOW[overflow]
    o.wait_mode = _WAIT[wait]
    o.auto_reconnect = 1 if auto_reconnect else 0
    if connect_timeout is not None:
        o.connect_timeout_us = int(connect_timeout * 1e6)
    if request_timeout is not None:
        o.request_timeout_us = int(request_timeout * 1e6)
    if reconnect_backoff is not None:
        o.reconnect_initial_backoff_us = int(reconnect_backoff * 1e6)
    handle = lib.qlaster_connect_with((path or default_socket_path()).encode(), ctypes.byref(o))
    if not handle:
        _raise(lib)
    return Consumer(handle)
