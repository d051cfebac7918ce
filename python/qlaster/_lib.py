"""The C ABI of libqlaster-consumer (qlaster/consumer.h) declared for ctypes.

Private to the package: the structs mirror the header field for field, and every function
gets its argtypes and restype here, once, so that a wrong call fails in Python rather
than in C. The library is found through $QLASTER_LIBRARY, else the dynamic loader.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import Optional

U8P = ctypes.POINTER(ctypes.c_uint8)


class Options(ctypes.Structure):
    """qlaster_options: sized, so a newer library reads only what this copy declares."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
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


class Event(ctypes.Structure):
    """qlaster_event, as the library fills it (valid during the handler call only)."""

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
        ("data", ctypes.c_void_p),
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
        ("filters", ctypes.c_uint32),
        ("account_data_len", ctypes.c_uint64),
        ("sliced", ctypes.c_int32),
        ("status", ctypes.c_void_p),
        ("status_len", ctypes.c_size_t),
        ("blockhash", U8P),
        ("parent_blockhash", U8P),
        ("block_height", ctypes.c_uint64),
        ("has_block_height", ctypes.c_int32),
        ("block_time", ctypes.c_int64),
        ("has_block_time", ctypes.c_int32),
        ("executed_transaction_count", ctypes.c_uint64),
        ("entries_count", ctypes.c_uint64),
        ("rewards", ctypes.c_void_p),
        ("reward_count", ctypes.c_size_t),
        ("entry_index", ctypes.c_uint64),
        ("num_hashes", ctypes.c_uint64),
        ("starting_transaction_index", ctypes.c_uint64),
    ]


class Stats(ctypes.Structure):
    _fields_ = [
        ("received", ctypes.c_uint64),
        ("gaps", ctypes.c_uint64),
        ("dropped", ctypes.c_uint64),
        ("lag_bytes", ctypes.c_uint64),
        ("reconnects", ctypes.c_uint64),
        ("disconnects", ctypes.c_uint64),
        ("last_sequence", ctypes.c_uint64),
        ("connected", ctypes.c_int32),
    ]


HANDLER = ctypes.CFUNCTYPE(None, ctypes.POINTER(Event), ctypes.c_void_p)

_c = ctypes
_P = ctypes.c_void_p
_S = ctypes.c_size_t
_SIGNATURES = {
    "qlaster_options_default_sized": (None, [ctypes.POINTER(Options), _S]),
    "qlaster_connect_with": (_P, [_c.c_char_p, ctypes.POINTER(Options)]),
    "qlaster_subscribe": (_c.c_int, [_P, _c.c_char_p, _S, _c.c_char_p, _S, _c.c_int]),
    "qlaster_unsubscribe": (_c.c_int, [_P, _c.c_char_p, _S, _c.c_char_p, _S, _c.c_int]),
    "qlaster_replace": (_c.c_int, [_P, _c.c_char_p, _S, _c.c_char_p, _S, _c.c_int]),
    "qlaster_set_transactions": (_c.c_int, [_P, _c.c_int]),
    "qlaster_poll": (_c.c_int, [_P, HANDLER, _P, _c.c_int]),
    "qlaster_wait": (_c.c_int, [_P, _c.c_int64]),
    "qlaster_get_stats_sized": (_c.c_int, [_P, ctypes.POINTER(Stats), _S]),
    "qlaster_consumer_id": (_c.c_uint64, [_P]),
    "qlaster_ring_bytes": (_c.c_uint64, [_P]),
    "qlaster_close": (None, [_P]),
    "qlaster_last_error": (_c.c_char_p, []),
    "qlaster_last_error_code": (_c.c_int, []),
    "qlaster_pubkey_from_base58": (_c.c_int, [_c.c_char_p, _c.c_char_p]),
    "qlaster_pubkey_to_base58": (_c.c_int, [_c.c_char_p, _c.c_char_p, _S]),
    "qlaster_signature_from_base58": (_c.c_int, [_c.c_char_p, _c.c_char_p]),
    "qlaster_signature_to_base58": (_c.c_int, [_c.c_char_p, _c.c_char_p, _S]),
    "qlaster_subscription_new": (_P, []),
    "qlaster_subscription_free": (None, [_P]),
    "qlaster_subscription_account": (_c.c_int, [_P, _c.c_char_p, _c.c_char_p, _S, _c.c_char_p, _S]),
    "qlaster_subscription_account_memcmp": (_c.c_int, [_P, _c.c_char_p, _c.c_uint64, _c.c_char_p, _S]),
    "qlaster_subscription_account_datasize": (_c.c_int, [_P, _c.c_char_p, _c.c_uint64]),
    "qlaster_subscription_account_lamports": (_c.c_int, [_P, _c.c_char_p, _c.c_int, _c.c_uint64]),
    "qlaster_subscription_transaction": (
        _c.c_int,
        [_P, _c.c_int, _c.c_char_p, _c.c_int, _c.c_int, _c.c_char_p,
         _c.c_char_p, _S, _c.c_char_p, _S, _c.c_char_p, _S]),
    "qlaster_subscription_data_slice": (_c.c_int, [_P, _c.c_uint64, _c.c_uint64]),
    "qlaster_subscription_commitment": (_c.c_int, [_P, _c.c_int]),
    "qlaster_subscription_from_slot": (_c.c_int, [_P, _c.c_uint64]),
    "qlaster_set_subscription": (_c.c_int, [_P, _P, ctypes.POINTER(_c.c_uint64)]),
    "qlaster_filter_name": (_c.c_char_p, [_P, ctypes.POINTER(Event), _c.c_int]),
}

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None


def _candidates() -> list:
    explicit = os.environ.get("QLASTER_LIBRARY")
    if explicit:
        return [explicit]
    found = ctypes.util.find_library("qlaster-consumer")
    names = ["libqlaster-consumer.so.0", "libqlaster-consumer.so"]
    return names + ([found] if found else [])


def lib() -> ctypes.CDLL:
    """The loaded library, declared; loaded on first use."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        errors = []
        for name in _candidates():
            try:
                loaded = ctypes.CDLL(name)
                break
            except OSError as e:
                errors.append(f"{name}: {e}")
        else:
            raise OSError(
                "cannot load libqlaster-consumer (set QLASTER_LIBRARY to its path, or "
                "install it where the dynamic loader looks): " + "; ".join(errors))
        for fn, (restype, argtypes) in _SIGNATURES.items():
            f = getattr(loaded, fn)
            f.restype = restype
            f.argtypes = argtypes
        _lib = loaded
        return _lib
