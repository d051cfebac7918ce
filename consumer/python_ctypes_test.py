#!/usr/bin/env python3
"""python_ctypes_test: libqlaster-consumer.so used from Python through ctypes, against a
real sender.

Run by ctest as `qlaster_test_publisher --exec python3 python_ctypes_test.py LIB`, where
LIB is the built shared library and QLASTER_SOCKET names the publisher's socket (its feed
is described in consumer/testing/publisher_main.cc). Connects, subscribes to account A,
receives it and checks every field, opts in to non-vote transactions, checks one.
"""
import ctypes
import os
import sys

QLASTER_EVENT_ACCOUNT = 1
QLASTER_EVENT_TRANSACTION = 2
QLASTER_EVENT_SLOT = 3
QLASTER_TX_UNCHANGED = -1
QLASTER_TX_NON_VOTE = 2
QLASTER_WAIT_SLEEP = 2


class Options(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("ring_bytes", ctypes.c_uint64),
        ("overflow_policy", ctypes.c_int32),
        ("wait_mode", ctypes.c_int32),
        ("spin_us", ctypes.c_int64),
        ("auto_reconnect", ctypes.c_int32),
        ("reconnect_initial_backoff_us", ctypes.c_int64),
        ("reconnect_max_backoff_us", ctypes.c_int64),
        ("connect_timeout_us", ctypes.c_int64),
        ("request_timeout_us", ctypes.c_int64),
    ]


U8P = ctypes.POINTER(ctypes.c_uint8)


class Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("sequence", ctypes.c_uint64),
        ("timestamp_ns", ctypes.c_uint64),
        ("slot", ctypes.c_uint64),
        ("pubkey", U8P),
        ("owner", U8P),
        ("lamports", ctypes.c_uint64),
        ("rent_epoch", ctypes.c_uint64),
        ("write_version", ctypes.c_uint64),
        ("txn_signature", U8P),
        ("executable", ctypes.c_int32),
        ("was_compressed", ctypes.c_int32),
        ("data", U8P),
        ("data_len", ctypes.c_size_t),
        ("signature", U8P),
        ("tx_index", ctypes.c_uint32),
        ("is_vote", ctypes.c_int32),
        ("failed", ctypes.c_int32),
        ("parent", ctypes.c_uint64),
        ("slot_status", ctypes.c_int32),
        ("dropped", ctypes.c_uint64),
        ("first_missing", ctypes.c_uint64),
        ("last_missing", ctypes.c_uint64),
        ("reported_by_sender", ctypes.c_int32),
        ("reason", ctypes.c_char_p),
        ("will_reconnect", ctypes.c_int32),
        ("consumer_id", ctypes.c_uint64),
        ("effective_sequence", ctypes.c_uint64),
    ]


HANDLER = ctypes.CFUNCTYPE(None, ctypes.POINTER(Event), ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path)
    lib.qlaster_options_init.argtypes = [ctypes.POINTER(Options)]
    lib.qlaster_options_init.restype = None
    lib.qlaster_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(Options)]
    lib.qlaster_connect.restype = ctypes.c_void_p
    lib.qlaster_subscribe.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                      ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    lib.qlaster_subscribe.restype = ctypes.c_int
    lib.qlaster_set_transactions.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.qlaster_set_transactions.restype = ctypes.c_int
    lib.qlaster_poll.argtypes = [ctypes.c_void_p, HANDLER, ctypes.c_void_p, ctypes.c_int]
    lib.qlaster_poll.restype = ctypes.c_int
    lib.qlaster_wait.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.qlaster_wait.restype = ctypes.c_int
    lib.qlaster_close.argtypes = [ctypes.c_void_p]
    lib.qlaster_close.restype = None
    lib.qlaster_last_error.argtypes = []
    lib.qlaster_last_error.restype = ctypes.c_char_p
    lib.qlaster_last_error_code.argtypes = []
    lib.qlaster_last_error_code.restype = ctypes.c_int
    return lib


def raw(ptr, n):
    return bytes(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8 * n)).contents) if ptr else None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python_ctypes_test.py path/to/libqlaster-consumer.so")
    lib = load(sys.argv[1])
    path = os.environ["QLASTER_SOCKET"].encode()

    assert not lib.qlaster_connect(b"/nonexistent/qlaster.sock", None)
    assert b"no qlaster-sender at" in lib.qlaster_last_error(), lib.qlaster_last_error()
    assert lib.qlaster_last_error_code() == 14

    opts = Options()
    lib.qlaster_options_init(ctypes.byref(opts))
    assert opts.auto_reconnect == 1
    opts.name = b"python-ctypes-test"
    opts.ring_bytes = 1 << 20
    opts.wait_mode = QLASTER_WAIT_SLEEP
    c = lib.qlaster_connect(path, ctypes.byref(opts))
    assert c, lib.qlaster_last_error()

    key = b"\x11" * 32
    assert lib.qlaster_subscribe(c, key, 1, None, 0, QLASTER_TX_UNCHANGED) == 0, \
        lib.qlaster_last_error()

    got = []

    def on_event(ev_ptr, _user):
        e = ev_ptr.contents
        # Copy out now: the pointers die when the callback returns.
        item = {"kind": e.kind, "sequence": e.sequence, "slot": e.slot,
                "timestamp_ns": e.timestamp_ns}
        if e.kind == QLASTER_EVENT_ACCOUNT:
            item.update(pubkey=raw(e.pubkey, 32), owner=raw(e.owner, 32),
                        lamports=e.lamports, rent_epoch=e.rent_epoch,
                        write_version=e.write_version, executable=e.executable,
                        txn_signature=raw(e.txn_signature, 64), data=raw(e.data, e.data_len))
        elif e.kind == QLASTER_EVENT_TRANSACTION:
            item.update(signature=raw(e.signature, 64), index=e.tx_index, is_vote=e.is_vote,
                        failed=e.failed, data=raw(e.data, e.data_len))
        elif e.kind == QLASTER_EVENT_SLOT:
            item.update(parent=e.parent, status=e.slot_status)
        got.append(item)

    handler = HANDLER(on_event)  # keep a reference while the library may call it

    def poll_until(pred):
        for _ in range(1000):
            if pred():
                return True
            assert lib.qlaster_wait(c, 10000) >= 0, lib.qlaster_last_error()
            assert lib.qlaster_poll(c, handler, None, 256) >= 0, lib.qlaster_last_error()
        return pred()

    assert poll_until(lambda: any(g["kind"] == QLASTER_EVENT_ACCOUNT for g in got))
    acc = next(g for g in got if g["kind"] == QLASTER_EVENT_ACCOUNT)
    assert acc["pubkey"] == b"\x11" * 32
    assert acc["owner"] == b"\x22" * 32
    assert acc["lamports"] == 1_000_000 + acc["slot"]
    assert acc["rent_epoch"] == 361
    assert acc["write_version"] == acc["slot"]
    assert acc["executable"] == 0
    assert acc["txn_signature"] == b"\x33" * 64
    assert acc["data"] == b"qlaster test account", acc["data"]
    assert acc["timestamp_ns"] > 0
    assert not any(g["kind"] == QLASTER_EVENT_TRANSACTION for g in got)
    slots = [g for g in got if g["kind"] == QLASTER_EVENT_SLOT]
    assert slots and all(s["parent"] == s["slot"] - 1 and s["status"] == 1 for s in slots)

    assert lib.qlaster_set_transactions(c, QLASTER_TX_NON_VOTE) == 0, lib.qlaster_last_error()
    assert poll_until(lambda: any(g["kind"] == QLASTER_EVENT_TRANSACTION for g in got))
    txs = [g for g in got if g["kind"] == QLASTER_EVENT_TRANSACTION]
    assert all(not t["is_vote"] for t in txs)
    t = txs[0]
    assert t["signature"] == b"\x44" * 64 and t["index"] == 7 and not t["failed"]
    assert t["data"] == b"\xde\xad\xbe\xef"

    seqs = [g["sequence"] for g in got]
    assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers must be 1, 2, 3, ..."

    lib.qlaster_close(c)
    print(f"python_ctypes_test: ok ({len(got)} events)")


if __name__ == "__main__":
    main()
