#!/usr/bin/env python3
"""qlaster-grpc end to end, with real processes: qlaster-sender (synthetic feed) ->
qlaster-grpc -> this Python grpcio client, written against the Yellowstone stubs the build
generates, as any Yellowstone client would be.

Checks the unary RPCs (Ping, GetVersion, GetSlot, GetBlockHeight, GetLatestBlockhash,
IsBlockhashValid, the gRPC health service), Subscribe with accounts by owner, data size
and memcmp, transactions, transaction statuses, slots, block meta and entries, the filter
names on every update, a request that replaces the subscription and one that only
pings, commitment confirmed, from_slot out of range (OUT_OF_RANGE), the x-token
(UNAUTHENTICATED without it, on TCP and on the Unix socket), bad requests (malformed
keys, `blocks`, an oversized message, bytes that are not protobuf) with clear statuses
while the endpoint keeps serving, and a client that stops reading. And the round trip:
sender A -> qlaster-grpc on A -> sender B with --source=yellowstone: -> a shared-memory
consumer on B gets the same accounts, transactions and slots as a consumer on A, in order.

Usage: grpc_endpoint_test.py SENDER GRPC INSPECT STUBS_DIR
Run with Debian's /usr/bin/python3 (python3-grpcio).
"""
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

SENDER, GRPC, INSPECT, STUBS = sys.argv[1:5]
del sys.argv[1:5]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
import geyser_pb2 as g  # noqa: E402
import geyser_pb2_grpc as gg  # noqa: E402
from base58_text import b58, b58decode  # noqa: E402
from grpc_testing import (TIMEOUT, Stream, kind, scrape, stop_processes,  # noqa: E402
                          unread_subscribe, value)

MAX_STREAMS = 24
TOKEN = "test-token-1"
AUTH = (("x-token", TOKEN),)
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
VOTE_PROGRAM = "Vote111111111111111111111111111111111111111"


class Endpoint(unittest.TestCase):
    """One sender and one qlaster-grpc for every test (they are independent streams)."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.socket = os.path.join(d, "sender.sock")
        cls.unix = os.path.join(d, "grpc.sock")
        cls.sender_log = open(os.path.join(d, "sender.log"), "w+")
        cls.sender = subprocess.Popen([SENDER, "--socket", cls.socket, "--quiet"],
                                      stdout=cls.sender_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(cls.socket):
            assert cls.sender.poll() is None, "the sender exited"
            assert time.monotonic() < deadline, "the sender never listened"
            time.sleep(0.01)
        cls.grpc_log_path = os.path.join(d, "grpc.log")
        cls.grpc_log = open(cls.grpc_log_path, "w")
        cls.grpc = subprocess.Popen(
            [GRPC, "--socket", cls.socket, "--listen", "127.0.0.1:0", "--listen",
             f"unix:{cls.unix}", f"--x_token={TOKEN}", "--slow_client_timeout=2s",
             "--ring_bytes=4194304", "--max_request_bytes=1048576",
             f"--max_streams={MAX_STREAMS}", "--metrics_address=127.0.0.1:0"],
            stdout=cls.grpc_log, stderr=subprocess.STDOUT)
        port = None
        while port is None:
            assert cls.grpc.poll() is None, f"qlaster-grpc exited: {cls.log()}"
            assert time.monotonic() < deadline, f"qlaster-grpc never listened: {cls.log()}"
            m = re.search(r"serving on 127\.0\.0\.1:(\d+)", cls.log())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.01)
        cls.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        cls.stub = gg.GeyserStub(cls.channel)
        m = None
        while m is None:
            assert time.monotonic() < deadline, f"no metrics address: {cls.log()}"
            m = re.search(r"metrics at http://([0-9.:]+)/metrics", cls.log())
            if m is None:
                time.sleep(0.01)
        cls.metrics = m.group(1)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        stop_processes([cls.grpc, cls.sender])
        cls.grpc_log.close()
        cls.sender_log.close()
        cls.dir.cleanup()

    @classmethod
    def log(cls):
        cls.grpc_log.flush()
        with open(cls.grpc_log_path) as f:
            return f.read()

    def stream(self, request, metadata=AUTH):
        s = Stream(self.stub, request, metadata)
        self.addCleanup(s.close)
        return s

    def retry(self, fn):
        """Calls fn until it stops raising UNAVAILABLE (the endpoint has seen nothing yet)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                return fn()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # ------------------------------------------------------------------ unary
    def test_unary(self):
        self.assertEqual(self.stub.Ping(g.PingRequest(count=42), metadata=AUTH).count, 42)
        v = json.loads(self.stub.GetVersion(g.GetVersionRequest(), metadata=AUTH).version)
        self.assertEqual(v["version"]["package"], "qlaster-grpc")
        slot = self.retry(lambda: self.stub.GetSlot(g.GetSlotRequest(), metadata=AUTH)).slot
        self.assertGreater(slot, 0)
        confirmed = self.retry(lambda: self.stub.GetSlot(
            g.GetSlotRequest(commitment=g.CONFIRMED), metadata=AUTH)).slot
        self.assertLessEqual(confirmed, slot + 1)
        latest = self.retry(lambda: self.stub.GetLatestBlockhash(
            g.GetLatestBlockhashRequest(), metadata=AUTH))
        self.assertEqual(len(b58decode(latest.blockhash)), 32)
        height = self.stub.GetBlockHeight(g.GetBlockHeightRequest(), metadata=AUTH).block_height
        self.assertGreaterEqual(height, latest.last_valid_block_height - 150)
        self.assertEqual(latest.last_valid_block_height - 150 > 0, True)
        valid = self.stub.IsBlockhashValid(
            g.IsBlockhashValidRequest(blockhash=latest.blockhash), metadata=AUTH)
        self.assertTrue(valid.valid)
        invalid = self.stub.IsBlockhashValid(
            g.IsBlockhashValidRequest(blockhash=b58(bytes([7] * 32))), metadata=AUTH)
        self.assertFalse(invalid.valid)
        self.stub.SubscribeReplayInfo(g.SubscribeReplayInfoRequest(), metadata=AUTH)

    def test_health(self):
        # grpc.health.v1.Health/Check with service "": HealthCheckResponse{status: SERVING}.
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        self.assertEqual(check(b"", timeout=TIMEOUT), b"\x08\x01")

    # ------------------------------------------------------------------ metrics
    def test_metrics(self):
        """The counters move with what this test does (the suite's tests run one at a time;
        streams of earlier tests may still be ending, hence the >= where it matters)."""
        before = scrape(self.metrics)
        self.assertEqual(value(before, "qlaster_grpc_build_info")
                         if "qlaster_grpc_build_info" in before else None, 1)
        for name in ("process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total",
                     "process_start_time_seconds", "process_threads"):
            self.assertGreater(value(before, name), 0, name)
        # Two refused calls, one malformed request, one stream that gets slots and one that
        # gets accounts, both still open at the second scrape.
        with self.assertRaises(grpc.RpcError):
            self.stub.Ping(g.PingRequest(count=1), timeout=TIMEOUT)
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        self.assertEqual(self.stream(r, metadata=()).wait_error().code(),
                         grpc.StatusCode.UNAUTHENTICATED)
        bad = g.SubscribeRequest()
        bad.accounts["a"].owner.append("0OIl")
        self.assertEqual(self.stream(bad).wait_error().code(), grpc.StatusCode.INVALID_ARGUMENT)
        slots = self.stream(r)
        slots.take(3, lambda u: kind(u) == "slot")
        acc = g.SubscribeRequest()
        acc.accounts["tokens"].owner.append(TOKEN_PROGRAM)
        accounts = self.stream(acc)
        accounts.take(20, lambda u: kind(u) == "account")
        after = scrape(self.metrics)

        def delta(name, **labels):
            return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)
        # The refused stream is counted as ended when gRPC is done with the call (OnDone),
        # which may come after the client saw its status: wait for it.
        deadline = time.monotonic() + TIMEOUT
        while delta("qlaster_grpc_streams_ended_total", code="INVALID_ARGUMENT") < 1:
            self.assertLess(time.monotonic(), deadline, "the refused stream never counted as ended")
            time.sleep(0.05)  # polling the counter, with the deadline above
            after = scrape(self.metrics)
        self.assertEqual(delta("qlaster_grpc_auth_refusals_total"), 2)
        self.assertEqual(delta("qlaster_grpc_requests_rejected_total", reason="invalid_argument"), 1)
        self.assertEqual(delta("qlaster_grpc_streams_opened_total"), 3)  # the refused one is not
        self.assertGreaterEqual(value(after, "qlaster_grpc_streams_open"), 2)
        self.assertGreaterEqual(delta("qlaster_grpc_streams_ended_total", code="INVALID_ARGUMENT"), 1)
        self.assertGreaterEqual(delta("qlaster_grpc_messages_sent_total", kind="slot"), 3)
        self.assertGreaterEqual(delta("qlaster_grpc_messages_sent_total", kind="account"), 20)
        # An account update is more than its 165 bytes of data.
        self.assertGreater(delta("qlaster_grpc_bytes_sent_total", kind="account"), 20 * 165)
        # The two live streams, each with its own series.
        live = [l for l, _ in after["qlaster_grpc_stream_messages_sent_total"]]
        self.assertGreaterEqual(len(live), 2)
        for l in live:
            self.assertRegex(l["peer"], r"^ipv4:127\.0\.0\.1:\d+$")
            self.assertTrue(l["stream"].isdigit())
        sent = sorted(v for _, v in after["qlaster_grpc_stream_messages_sent_total"])
        self.assertGreaterEqual(sent[-1], 20)
        self.assertEqual(len(after["qlaster_grpc_stream_dropped_total"]), len(live))
        # Closed, they leave the per-stream families and count as ended.
        slots.close()
        accounts.close()
        deadline = time.monotonic() + TIMEOUT
        while True:
            now = scrape(self.metrics)
            ended = sum(v for _, v in now["qlaster_grpc_streams_ended_total"])
            if ended - sum(v for _, v in after["qlaster_grpc_streams_ended_total"]) >= 2:
                break
            self.assertLess(time.monotonic(), deadline, now)
            time.sleep(0.05)
        self.assertGreaterEqual(value(now, "qlaster_grpc_streams_ended_total", code="CANCELLED") -
                                value(after, "qlaster_grpc_streams_ended_total", code="CANCELLED"), 2)
        # Not HTTP for metrics: 404.
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://{self.metrics}/other", timeout=TIMEOUT)
        self.assertEqual(e.exception.code, 404)

    # ------------------------------------------------------------------ auth
    def test_x_token(self):
        for md in ((), (("x-token", "wrong"),)):
            with self.assertRaises(grpc.RpcError) as e:
                self.stub.Ping(g.PingRequest(count=1), metadata=md, timeout=TIMEOUT)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            r = g.SubscribeRequest()
            r.slots["s"].SetInParent()
            s = self.stream(r, metadata=md)
            self.assertEqual(s.wait_error().code(), grpc.StatusCode.UNAUTHENTICATED)
        with grpc.insecure_channel(f"unix:{self.unix}") as ch:
            stub = gg.GeyserStub(ch)
            self.assertEqual(stub.Ping(g.PingRequest(count=5), metadata=AUTH).count, 5)
            with self.assertRaises(grpc.RpcError) as e:
                stub.GetSlot(g.GetSlotRequest(), timeout=TIMEOUT)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)

    # ------------------------------------------------------------------ Subscribe
    def test_accounts_memcmp_and_replace(self):
        r = g.SubscribeRequest()
        f = r.accounts["tokens"]
        f.owner.append(TOKEN_PROGRAM)
        f.filters.add().datasize = 165
        s = self.stream(r)
        first = s.take(20, lambda u: kind(u) == "account")
        for u in first:
            self.assertEqual(list(u.filters), ["tokens"])
            self.assertEqual(b58(u.account.account.owner), TOKEN_PROGRAM)
            self.assertEqual(len(u.account.account.data), 165)
            self.assertEqual(len(u.account.account.pubkey), 32)
            self.assertGreater(u.account.slot, 0)
            self.assertTrue(u.HasField("created_at"))
        # Replace: the accounts whose mint starts as the first one's, under a new name.
        prefix = first[0].account.account.data[:1]
        r2 = g.SubscribeRequest()
        f2 = r2.accounts["mint"]
        f2.owner.append(TOKEN_PROGRAM)
        m = f2.filters.add().memcmp
        m.offset = 0
        m.base58 = b58(prefix) if prefix != b"\0" else "1"
        s.send(r2)
        u = s.next(lambda u: kind(u) == "account" and list(u.filters) == ["mint"])
        for u in [u] + s.take(10, lambda u: kind(u) == "account"):
            self.assertEqual(list(u.filters), ["mint"])
            self.assertEqual(u.account.account.data[:1], prefix)

    def test_data_slices_and_lamports(self):
        r = g.SubscribeRequest()
        f = r.accounts["big"]
        f.owner.append(TOKEN_PROGRAM)
        f.filters.add().lamports.gt = 1
        f.nonempty_txn_signature = True
        sl = r.accounts_data_slice.add()
        sl.offset, sl.length = 32, 32  # the token account's owner
        s = self.stream(r)
        for u in s.take(20, lambda u: kind(u) == "account"):
            a = u.account.account
            self.assertEqual(len(a.data), 32)
            self.assertGreater(a.lamports, 1)
            self.assertEqual(len(a.txn_signature), 64)

    def test_transactions_and_statuses(self):
        r = g.SubscribeRequest()
        r.transactions["nonvote"].vote = False
        r.transactions_status["all"].SetInParent()
        s = self.stream(r)
        tx = s.take(10, lambda u: kind(u) == "transaction")
        for u in tx:
            self.assertEqual(list(u.filters), ["nonvote"])
            info = u.transaction.transaction
            self.assertFalse(info.is_vote)
            self.assertEqual(len(info.signature), 64)
            self.assertEqual(info.transaction.signatures[0], info.signature)
            self.assertGreater(len(info.transaction.message.account_keys), 0)
            self.assertEqual(len(info.transaction.message.recent_blockhash), 32)
            self.assertGreater(info.meta.fee, 0)
        st = s.take(10, lambda u: kind(u) == "transaction_status")
        for u in st:
            self.assertEqual(list(u.filters), ["all"])
            self.assertEqual(len(u.transaction_status.signature), 64)
        self.assertTrue(any(u.transaction_status.is_vote for u in
                            s.take(200, lambda u: kind(u) == "transaction_status")))

    def test_slots_block_meta_entries(self):
        r = g.SubscribeRequest()
        r.slots["slots"].SetInParent()
        r.blocks_meta["meta"].SetInParent()
        r.entry["entries"].SetInParent()
        s = self.stream(r)
        slot = s.next(lambda u: kind(u) == "slot")
        self.assertEqual(list(slot.filters), ["slots"])
        meta = s.next(lambda u: kind(u) == "block_meta")
        self.assertEqual(list(meta.filters), ["meta"])
        self.assertEqual(len(b58decode(meta.block_meta.blockhash)), 32)
        self.assertGreater(meta.block_meta.block_height.block_height, 0)
        self.assertGreater(meta.block_meta.executed_transaction_count, 0)
        entry = s.next(lambda u: kind(u) == "entry")
        self.assertEqual(list(entry.filters), ["entries"])
        self.assertEqual(len(entry.entry.hash), 32)

    def test_ping_only_keeps_the_subscription(self):
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        s = self.stream(r)
        s.next(lambda u: kind(u) == "slot")
        p = g.SubscribeRequest()
        p.ping.id = 7
        s.send(p)
        self.assertEqual(s.next(lambda u: kind(u) == "pong").pong.id, 7)
        u = s.next(lambda u: kind(u) == "slot")
        self.assertEqual(list(u.filters), ["s"])

    def test_commitment_confirmed(self):
        # At processed an account update comes before its slot is processed; at confirmed
        # only after the slot is confirmed, so its processed status came first.
        def first_seen(commitment):
            r = g.SubscribeRequest()
            r.accounts["votes"].owner.append(VOTE_PROGRAM)
            r.slots["s"].SetInParent()
            r.commitment = commitment
            s = self.stream(r)
            processed, early, late = set(), 0, 0
            while early + late < 300:
                u = s.next()
                if kind(u) == "slot" and u.slot.status == g.SLOT_PROCESSED:
                    processed.add(u.slot.slot)
                elif kind(u) == "account" and processed and u.account.slot > min(processed):
                    # (a slot that began before the stream is left out)
                    if u.account.slot in processed:
                        late += 1
                    else:
                        early += 1
            s.close()
            return early, late
        early, late = first_seen(g.PROCESSED)
        self.assertGreater(early, 0)
        early, late = first_seen(g.CONFIRMED)
        self.assertEqual(early, 0)
        self.assertEqual(late, 300)

    def test_from_slot_out_of_range(self):
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        r.from_slot = 1
        s = self.stream(r)
        e = s.wait_error()
        self.assertEqual(e.code(), grpc.StatusCode.OUT_OF_RANGE, e.details())

    def test_replay_info_names_the_oldest_slot_a_from_slot_may_name(self):
        """SubscribeReplayInfo.first_available is the oldest slot the sender keeps whole: a
        from_slot just after it replays from the past (not at it: the oldest slot may leave
        the log between the two calls), one before it is OUT_OF_RANGE."""
        info = self.retry(lambda: self.stub.SubscribeReplayInfo(
            g.SubscribeReplayInfoRequest(), metadata=AUTH))
        self.assertTrue(info.HasField("first_available"), info)
        first = info.first_available
        deadline = time.monotonic() + TIMEOUT
        while True:  # until a slot after the oldest kept one is under way
            slot = self.retry(lambda: self.stub.GetSlot(g.GetSlotRequest(), metadata=AUTH)).slot
            if slot > first + 2:
                break
            self.assertLess(time.monotonic(), deadline, f"the slot stays at {slot}")
            time.sleep(0.05)
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        r.from_slot = first + 1
        replayed = self.stream(r).next(lambda u: kind(u) == "slot").slot.slot
        self.assertGreaterEqual(replayed, first + 1)
        self.assertLess(replayed, slot, "the replay did not start in the past")
        if first > 0:
            r.from_slot = first - 1
            e = self.stream(r).wait_error()
            self.assertEqual(e.code(), grpc.StatusCode.OUT_OF_RANGE, e.details())

    # ------------------------------------------------------------------ bad input
    def test_bad_requests(self):
        cases = []
        r = g.SubscribeRequest()
        r.accounts["a"].owner.append("not-base58-0OIl")
        cases.append((r, grpc.StatusCode.INVALID_ARGUMENT, "accounts[a].owner"))
        r = g.SubscribeRequest()
        r.blocks["b"].SetInParent()
        cases.append((r, grpc.StatusCode.UNIMPLEMENTED, "blocks"))
        r = g.SubscribeRequest()
        r.accounts["a"].account.extend([b58(bytes([1] * 32))] * 40000)  # > 1 MiB
        cases.append((r, grpc.StatusCode.RESOURCE_EXHAUSTED, ""))
        for request, code, text in cases:
            s = self.stream(request)
            e = s.wait_error()
            self.assertEqual(e.code(), code, e.details())
            self.assertIn(text, e.details())
        # Bytes that are not a SubscribeRequest.
        raw = self.channel.stream_stream("/geyser.Geyser/Subscribe",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
        with self.assertRaises(grpc.RpcError) as e:
            for _ in raw(iter([b"\xff\xff\xff\xff"]), metadata=AUTH, timeout=TIMEOUT):
                pass
        self.assertNotEqual(e.exception.code(), grpc.StatusCode.OK)
        # The endpoint keeps serving.
        self.assertEqual(self.stub.Ping(g.PingRequest(count=9), metadata=AUTH).count, 9)
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        self.stream(r).next(lambda u: kind(u) == "slot")

    def test_too_many_streams(self):
        r = g.SubscribeRequest()
        r.slots["s"].SetInParent()
        rejected = value(scrape(self.metrics), "qlaster_grpc_requests_rejected_total",
                         reason="too_many_streams")
        streams = [Stream(self.stub, r, AUTH) for _ in range(4 * MAX_STREAMS)]
        try:
            served, refused = 0, 0
            for s in streams:
                try:
                    s.next(lambda u: kind(u) == "slot")
                    served += 1
                except RuntimeError:
                    self.assertEqual(s.error.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
                    self.assertIn(f"at most {MAX_STREAMS}", s.error.details())
                    refused += 1
            self.assertLessEqual(served, MAX_STREAMS)
            self.assertGreaterEqual(refused, 3 * MAX_STREAMS)
            self.assertEqual(value(scrape(self.metrics), "qlaster_grpc_requests_rejected_total",
                                   reason="too_many_streams") - rejected, refused)
            self.assertEqual(self.stub.Ping(g.PingRequest(count=1), metadata=AUTH).count, 1)
        finally:
            for s in streams:
                s.close()
        # Once they are gone, streams are served again.
        deadline = time.monotonic() + TIMEOUT
        while True:
            s = Stream(self.stub, r, AUTH)
            try:
                s.next(lambda u: kind(u) == "slot")
                s.close()
                break
            except RuntimeError:
                s.close()
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.1)

    def test_slow_client_is_ended_and_others_go_on(self):
        r = g.SubscribeRequest()
        r.accounts["all"].SetInParent()
        r.transactions["all"].SetInParent()
        slow, release = unread_subscribe(self.stub, r, AUTH)
        self.addCleanup(release)
        self.addCleanup(slow.cancel)
        fast_r = g.SubscribeRequest()
        fast_r.slots["s"].SetInParent()
        fast = self.stream(fast_r)
        deadline = time.monotonic() + 3 * TIMEOUT
        while not re.search(r"ends: RESOURCE_EXHAUSTED", self.log()):
            self.assertLess(time.monotonic(), deadline, self.log())
            fast.next(lambda u: kind(u) == "slot")
        self.assertEqual(self.stub.Ping(g.PingRequest(count=3), metadata=AUTH).count, 3)
        fast.next(lambda u: kind(u) == "slot")
        m = scrape(self.metrics)
        self.assertGreaterEqual(sum(v for _, v in m["qlaster_grpc_slow_client_ends_total"]), 1)
        # The stream is counted as ended when gRPC is done with the call (OnDone), which
        # for a cancelled write comes some time after the line above: wait for it.
        while (value(m, "qlaster_grpc_streams_ended_total", code="RESOURCE_EXHAUSTED") or 0) < 1:
            self.assertLess(time.monotonic(), deadline, "the slow stream never counted as ended")
            time.sleep(0.05)  # polling the counter, with the deadline above
            m = scrape(self.metrics)


class Inspect:
    """qlaster-inspect --json on a sender; its events on a queue."""

    def __init__(self, socket, log):
        self.proc = subprocess.Popen(
            [INSPECT, "--socket", socket, "--json", "--data", "--owner", VOTE_PROGRAM,
             "--transactions", "all", "--slots", "--ring_bytes", str(512 << 20)],
            stdout=subprocess.PIPE, stderr=log, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self.proc.stdout:
                if not line.endswith("\n"):
                    return  # cut short when the process is killed
                self.events.put(json.loads(line))
        except ValueError:  # the pipe closed under the reader by close()
            return

    def next(self):
        return self.events.get(timeout=TIMEOUT)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def identity(e):
    if e["kind"] == "account":
        return ("account", e["pubkey"], e["write_version"])
    if e["kind"] == "transaction":
        return ("transaction", e["signature"])
    if e["kind"] == "slot":
        return ("slot", e["slot"], e["status"])
    return None


ACCOUNT_FIELDS = ("slot", "pubkey", "owner", "lamports", "write_version", "data",
                  "txn_signature", "executable", "rent_epoch")
TRANSACTION_FIELDS = ("slot", "index", "signature", "is_vote", "failed", "data", "status")


class RoundTrip(unittest.TestCase):
    """With the x-token from a file (--x_token_file), as the source sends it."""

    def test_sender_grpc_sender(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        log = open(os.path.join(d.name, "log"), "w+")
        self.addCleanup(log.close)
        procs = []

        def start(args):
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            procs.append(p)
            return p

        self.addCleanup(lambda: stop_processes(reversed(procs)))

        def wait_path(path):
            deadline = time.monotonic() + TIMEOUT
            while not os.path.exists(path):
                self.assertLess(time.monotonic(), deadline, f"no {path}")
                time.sleep(0.01)
        a, b = os.path.join(d.name, "a.sock"), os.path.join(d.name, "b.sock")
        start([SENDER, "--socket", a, "--quiet"])
        wait_path(a)
        on_a = Inspect(a, log)
        self.addCleanup(on_a.close)
        # The watcher on A prints only once subscribed: its first event means everything B
        # can get from here on reaches it too.
        early_a = [on_a.next()]
        grpc_sock = os.path.join(d.name, "grpc.sock")
        token_file = os.path.join(d.name, "token")
        with open(token_file, "w") as f:
            f.write("round-trip-token\n")
        start([GRPC, "--socket", a, "--listen", "127.0.0.1:0", "--listen", f"unix:{grpc_sock}",
               f"--x_token_file={token_file}"])
        wait_path(grpc_sock)
        log.flush()
        deadline = time.monotonic() + TIMEOUT
        port = None
        while port is None:
            self.assertLess(time.monotonic(), deadline)
            log.seek(0)
            m = re.search(r"serving on 127\.0\.0\.1:(\d+)", log.read())
            port = m.group(1) if m else time.sleep(0.01)
        start([SENDER, "--socket", b, "--quiet", f"--source=yellowstone:http://127.0.0.1:{port}",
               "--yellowstone_x_token=round-trip-token"])
        wait_path(b)
        on_b = Inspect(b, log)
        self.addCleanup(on_b.close)
        # A watcher that fell behind would never see what it missed: a gap fails the test
        # at once, and the whole comparison has a deadline.
        # Generous: under a sanitizer, on two shared cores, the chain of three processes
        # takes minutes for what release does in seconds.
        deadline = time.monotonic() + 10 * TIMEOUT
        got = {"account": [], "transaction": [], "slot": []}
        got_ids = set()
        while min(len(v) for v in got.values()) < 50:
            self.assertLess(time.monotonic(), deadline, "B did not get 50 of each kind")
            e = on_b.next()
            self.assertNotEqual(e["kind"], "gap", e)
            # After the source resumes a stream with from_slot, updates of the resumed slot
            # can come twice (documented): the first of each is compared.
            if identity(e) and identity(e) not in got_ids:
                got_ids.add(identity(e))
                got[e["kind"]].append(e)
        # Every kind arrives on B in A's order and with A's values.
        seen = {"account": [], "transaction": [], "slot": []}
        want = {k: [identity(e) for e in v] for k, v in got.items()}
        index = {k: {identity(e): e for e in v} for k, v in got.items()}
        deadline = time.monotonic() + 6 * TIMEOUT  # A's watcher has queued them already
        while any(len(seen[k]) < len(want[k]) for k in want):
            self.assertLess(time.monotonic(), deadline, "A's stream lacks some of what B got")
            e = early_a.pop() if early_a else on_a.next()
            self.assertNotEqual(e["kind"], "gap", e)
            i = identity(e)
            if i is None or i not in index[e["kind"]]:
                continue
            seen[e["kind"]].append(i)
            other = index[e["kind"]][i]
            fields = {"account": ACCOUNT_FIELDS, "transaction": TRANSACTION_FIELDS,
                      "slot": ("slot", "status", "parent")}[e["kind"]]
            for f in fields:
                self.assertEqual(e.get(f), other.get(f), f"{e['kind']} {f}")
        for k in want:
            self.assertEqual(seen[k], want[k], k)


if __name__ == "__main__":
    unittest.main(verbosity=2)
