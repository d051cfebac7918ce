"""The qlaster package against a real sender: base58 subscriptions, every field of an
account, transactions by filter, named filters with a data slice, a gap under
drop-and-count, disconnection and reconnection when the sender restarts, and errors that
carry the library's message."""
from __future__ import annotations

import time

import pytest

import qlaster
from conftest import ACCOUNT_A, OWNER_A


def take(events, pred, n=1, deadline_s=10.0):
    """The first `n` events matching `pred` (fails after `deadline_s`)."""
    got = []
    deadline = time.monotonic() + deadline_s
    for ev in events:
        if pred(ev):
            got.append(ev)
            if len(got) == n:
                return got
        assert time.monotonic() < deadline, f"only {len(got)} of {n} events in {deadline_s} s"
    raise AssertionError(f"the stream ended after {len(got)} of {n} events")


def test_base58_round_trip_and_errors():
    assert qlaster.pubkey_from_base58(ACCOUNT_A) == b"\x11" * 32
    assert qlaster.pubkey_to_base58(b"\x11" * 32) == ACCOUNT_A
    sig = qlaster.signature_to_base58(b"\x33" * 64)
    assert qlaster.signature_from_base58(sig) == b"\x33" * 64
    with pytest.raises(qlaster.Error) as e:
        qlaster.pubkey_from_base58("0" + ACCOUNT_A[1:])
    assert "invalid character '0' at position 0" in e.value.message
    assert e.value.code == 3 and e.value.code_name == "invalid_argument"
    with pytest.raises(qlaster.Error, match="expected 32 bytes"):
        qlaster.pubkey_from_base58("2g")


def test_connect_error_carries_the_library_message(tmp_path):
    with pytest.raises(qlaster.Error) as e:
        qlaster.connect(str(tmp_path / "nobody.sock"))
    assert "no qlaster-sender at" in e.value.message
    assert e.value.code == 14


def test_subscribe_by_base58_owner_receives_accounts(publisher):
    with qlaster.connect(publisher.socket_path, name="py-owner", wait="sleep") as c:
        assert c.consumer_id > 0
        c.subscribe(owners=[OWNER_A])
        events = c.events(timeout=5.0)
        (a,) = take(events, lambda ev: ev.kind == "account")
        assert isinstance(a, qlaster.AccountEvent)
        assert str(a.pubkey) == ACCOUNT_A and str(a.owner) == OWNER_A
        assert a.lamports == 1_000_000 + a.slot
        assert a.rent_epoch == 361 and a.write_version == a.slot and not a.executable
        assert a.txn_signature == b"\x33" * 64
        assert isinstance(a.data, memoryview) and bytes(a.data) == b"qlaster test account"
        assert a.account_data_len == 20 and not a.sliced
        assert a.timestamp_ns > 0
        # Transactions only once asked for, and then no votes.
        c.subscribe(transactions="nonvote")
        txs = take(events, lambda ev: ev.kind == "transaction", n=3)
        assert all(not t.is_vote and t.index == 7 and bytes(t.data) == b"\xde\xad\xbe\xef"
                   for t in txs)
        st = c.stats()
        assert st.connected and st.gaps == 0
        with pytest.raises(qlaster.Error, match="transactions is one of"):
            c.subscribe(transactions="votes-please")
        with pytest.raises(qlaster.Error, match="invalid character"):
            c.subscribe(accounts=["not0base58"])


def test_named_filters_with_a_data_slice(publisher):
    with qlaster.connect(publisher.socket_path, name="py-named", wait="sleep") as c:
        c.set_subscription(
            accounts={"a": {"owners": [OWNER_A], "memcmp": [(0, b"qlaster")]},
                      "b": {"owners": [OWNER_A], "datasize": 4096}},
            transactions={"nonvote": {"vote": False}},
            data_slices=[(8, 4)])
        events = c.events(timeout=5.0)
        accounts = take(events, lambda ev: ev.kind == "account", n=3)
        assert all(bytes(a.data) == b"test" and a.sliced and a.account_data_len == 20
                   and a.filters == 1 for a in accounts)
        assert all(c.filter_names(a) == ["a"] for a in accounts)
        txs = take(events, lambda ev: ev.kind == "transaction", n=3)
        assert all(not t.is_vote and t.filters == 1 for t in txs)
        assert all(c.filter_names(t) == ["nonvote"] for t in txs)
        with pytest.raises(qlaster.Error) as e:
            c.set_subscription(accounts={"a": {"owners": [OWNER_A]}}, from_slot=1)
        assert e.value.code_name == "out_of_range" and "oldest" in e.value.message


def test_gap_under_drop_and_count(publisher):
    with qlaster.connect(publisher.socket_path, name="py-slow", ring_bytes=4096,
                         overflow="drop_and_count", wait="sleep") as c:
        c.subscribe(accounts=[ACCOUNT_A], transactions="all")
        # Read nothing until the ring is full: the unread bytes stop growing while the
        # publisher goes on (a round every 2 ms), so the sender is dropping and counting.
        deadline = time.monotonic() + 10
        previous = -1
        while True:
            lag = c.stats().lag_bytes
            if lag > 0 and lag == previous:
                break
            assert time.monotonic() < deadline, "the ring never filled"
            previous = lag
            time.sleep(0.02)  # ten publishing rounds between two looks
        (gap,) = take(c.events(timeout=5.0), lambda ev: ev.kind == "gap")
        assert isinstance(gap, qlaster.GapEvent)
        assert gap.reported_by_sender and gap.dropped >= 1
        assert gap.dropped == gap.last_missing - gap.first_missing + 1
        st = c.stats()
        assert st.gaps >= 1 and st.dropped >= gap.dropped


def test_disconnect_and_reconnect_when_the_sender_restarts(publisher):
    with qlaster.connect(publisher.socket_path, name="py-restart", wait="sleep",
                         reconnect_backoff=0.01) as c:
        c.subscribe(owners=[OWNER_A])
        events = c.events(timeout=10.0)
        take(events, lambda ev: ev.kind == "account")
        first_id = c.consumer_id
        publisher.stop()
        (d,) = take(events, lambda ev: ev.kind == "disconnected")
        assert d.will_reconnect and d.reason
        publisher.start()
        (r,) = take(events, lambda ev: ev.kind == "reconnected")
        assert r.consumer_id > 0
        # The subscription was replayed: account A flows again, sequence numbers from 1.
        (a,) = take(events, lambda ev: ev.kind == "account")
        assert str(a.owner) == OWNER_A and a.sequence >= 1
        st = c.stats()
        assert st.reconnects == 1 and st.disconnects == 1 and st.connected
        assert c.consumer_id == r.consumer_id
        del first_id


def test_named_subscription_is_replayed_after_a_restart(publisher):
    with qlaster.connect(publisher.socket_path, name="py-named-restart", wait="sleep",
                         reconnect_backoff=0.01) as c:
        c.set_subscription(accounts={"a": {"owners": [OWNER_A]}}, data_slices=[(0, 7)])
        events = c.events(timeout=10.0)
        (a,) = take(events, lambda ev: ev.kind == "account")
        assert bytes(a.data) == b"qlaster" and a.sliced
        publisher.stop()
        take(events, lambda ev: ev.kind == "disconnected")
        publisher.start()
        take(events, lambda ev: ev.kind == "reconnected")
        # The named filter and the data slice came back with the new connection.
        (a,) = take(events, lambda ev: ev.kind == "account")
        assert bytes(a.data) == b"qlaster" and a.sliced and a.filters == 1
