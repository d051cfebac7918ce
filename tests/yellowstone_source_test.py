#!/usr/bin/env python3
"""The Yellowstone source end to end, with real processes: a scripted Yellowstone upstream
(Python grpcio, tests/yellowstone_upstream.py) -> qlaster-sender
--source=yellowstone:http://... -> qlaster-inspect --json, a shared-memory consumer.

Checks that accounts (pubkey, owner, lamports, write version, data), mainnet transactions
(signature and account keys in the wire bytes, status) and slots arrive in order; that
the subscription asks for every kind at processed and carries the x-token; that server
pings are answered; that a restarted upstream is resubscribed from the last slot seen,
and an upstream refusing that (OUT_OF_RANGE) is resubscribed live and the loss logged;
that malformed messages are counted and skipped while the stream goes on.

Usage: yellowstone_source_test.py SENDER INSPECT STUBS_DIR TESTDATA_DIR
Run with Debian's /usr/bin/python3 (python3-grpcio).
"""
import base64
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

SENDER, INSPECT, STUBS, TESTDATA = sys.argv[1:5]
del sys.argv[1:5]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import geyser_pb2  # noqa: E402
import grpc_testing  # noqa: E402
import yellowstone_upstream as ys  # noqa: E402
from base58_text import b58  # noqa: E402

TIMEOUT = 20.0  # seconds, for any one thing to happen
TOKEN = "s3cret-token"
OWNER = bytes(range(1, 33))
OTHER_OWNER = bytes([9] * 32)


def key(i):
    return bytes([i]) * 31 + b"\x01"


class Consumer:
    """qlaster-inspect --json as a subprocess; its events on a queue."""

    def __init__(self, socket, log):
        self.proc = subprocess.Popen(
            [INSPECT, "--socket", socket, "--json", "--data", "--owner", b58(OWNER),
             "--transactions", "all", "--slots", "--name", "ys-test"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def next(self, predicate=lambda e: True):
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("consumer: no matching event")
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(e):
                return e

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class SenderFixture(unittest.TestCase):
    """An upstream, the sender on it, and a consumer that has seen the first slot."""

    EXTRA_FLAGS = []

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.socket = os.path.join(self.dir.name, "sender.sock")
        self.upstream = ys.Upstream(x_token=TOKEN)
        self.port = self.upstream.port
        self.log_path = os.path.join(self.dir.name, "sender.log")
        self.log = open(self.log_path, "w")
        self.sender = subprocess.Popen(
            [SENDER, "--socket", self.socket, f"--source=yellowstone:{self.upstream.url}",
             f"--yellowstone_x_token={TOKEN}", "--yellowstone_max_backoff=300ms",
             "--metrics_address=127.0.0.1:0", *self.EXTRA_FLAGS],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.socket):
            self.assertIsNone(self.sender.poll(), self.sender_log())
            self.assertLess(time.monotonic(), deadline, "the sender never listened")
            time.sleep(0.01)
        self.consumer = Consumer(self.socket, self.log)
        self.stream = self.upstream.wait_stream(1)
        self.warm_up(self.stream, 100)

    def tearDown(self):
        self.consumer.close()
        self.sender.terminate()
        try:
            self.sender.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.sender.kill()
            self.sender.wait()
        self.upstream.stop()
        self.log.close()
        self.dir.cleanup()

    def sender_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def warm_up(self, stream, number):
        """Sends slot `number` until the consumer sees it: it is subscribed from then on."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            self.upstream.send(ys.slot(number), stream)
            try:
                e = self.consumer.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if e["kind"] == "slot" and e["slot"] == number:
                return
        self.fail("the consumer never saw the warm-up slot\n" + self.sender_log())

    def source_counters(self):
        """The Yellowstone source's counters, from the sender's Stats reply."""
        out = subprocess.run([INSPECT, "--socket", self.socket, "--sender-stats", "--json"],
                             capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
        stats = json.loads(out)
        source = f"yellowstone:{self.upstream.url}"
        return {c["name"]: c["value"] for c in stats["source_counters"] if c["source"] == source}

    def expect_slot(self, number, status="processed"):
        e = self.consumer.next(lambda e: e["kind"] != "slot" or e["slot"] != 100)
        self.assertEqual((e["kind"], e["slot"], e["status"]), ("slot", number, status))



class YellowstoneSourceTest(SenderFixture):
    def test_subscribes_to_everything_at_processed_with_the_x_token(self):
        self.assertEqual(self.stream.metadata.get("x-token"), TOKEN)
        first = self.stream.requests[0]
        for kind in ("accounts", "transactions", "slots", "blocks_meta", "entry"):
            self.assertEqual(len(getattr(first, kind)), 1, kind)
        self.assertEqual(first.commitment, geyser_pb2.PROCESSED)
        self.assertFalse(first.HasField("from_slot"))

    def test_accounts_transactions_and_slots_arrive_in_order(self):
        block = ys.load_block(os.path.join(TESTDATA, "mainnet_block_43200000.pb"))
        txs = list(block.transactions)
        per_slot = (len(txs) + 2) // 3
        expected = []
        wv = 1000
        for s in (101, 102, 103):
            for i in range(3):
                wv += 1
                pubkey, lamports, data = key(s - 100 + 10 * i), s * 1000 + i, bytes([i]) * (i * 50)
                self.upstream.send(ys.account(pubkey, OWNER, lamports, s, wv, data))
                expected.append(("account", b58(pubkey), b58(OWNER), lamports, wv,
                                 base64.b64encode(data).decode()))
                # Not subscribed: must not arrive.
                self.upstream.send(ys.account(key(200 + i), OTHER_OWNER, 1, s, wv, b"x"))
            for index, tx in enumerate(txs[(s - 101) * per_slot:(s - 100) * per_slot]):
                self.upstream.send(ys.transaction(tx, s, index))
                expected.append(("transaction", b58(tx.transaction.signatures[0]),
                                 base64.b64encode(ys.wire_bytes(tx.transaction)).decode(),
                                 tx.meta.HasField("err")))
            self.upstream.send(ys.slot(s, parent=s - 1))
            expected.append(("slot", s, "processed"))
        got = []
        while len(got) < len(expected):
            e = self.consumer.next(lambda e: not (e["kind"] == "slot" and e["slot"] == 100))
            if e["kind"] == "account":
                got.append(("account", e["pubkey"], e["owner"], e["lamports"],
                            e["write_version"], e["data"]))
            elif e["kind"] == "transaction":
                self.assertGreater(e["status_len"], 0)
                got.append(("transaction", e["signature"], e["data"], e["failed"]))
            elif e["kind"] == "slot":
                got.append(("slot", e["slot"], e["status"]))
            else:
                self.fail(f"unexpected event {e}")
        self.assertEqual(got, expected)
        self.assertTrue(any(t[3] for t in expected if t[0] == "transaction"),
                        "the sample should hold a failed transaction")

    def test_server_pings_are_answered_with_the_same_subscription(self):
        self.upstream.send(ys.ping())
        answer = self.stream.wait_request(lambda r: r.HasField("ping"), TIMEOUT)
        self.assertEqual(len(answer.accounts), 1)
        self.assertEqual(len(answer.transactions), 1)
        self.assertFalse(answer.HasField("from_slot"))
        self.assertEqual(self.source_counters()["pings"], 1)

    def test_restarted_upstream_is_resubscribed_from_the_last_slot(self):
        self.upstream.send(ys.account(key(1), OWNER, 5, 105, 1, b"before"))
        self.upstream.send(ys.slot(105))
        self.assertEqual(self.consumer.next(lambda e: e["kind"] == "account")["lamports"], 5)
        self.expect_slot(105)
        self.upstream.stop()
        self.upstream = ys.Upstream(port=self.port, x_token=TOKEN)
        stream = self.upstream.wait_stream(1)
        self.assertEqual(stream.requests[0].from_slot, 105)
        self.assertEqual(stream.metadata.get("x-token"), TOKEN)
        self.upstream.send(ys.account(key(1), OWNER, 6, 106, 2, b"after"))
        self.upstream.send(ys.slot(106))
        e = self.consumer.next(lambda e: e["kind"] == "account")
        self.assertEqual((e["lamports"], e["slot"]), (6, 106))
        self.expect_slot(106)
        self.assertIn("resubscribing from slot 105", self.sender_log())
        counters = self.source_counters()
        # Attempts while no upstream listened count too: each failed, each asked to resume.
        self.assertGreaterEqual(counters["resumes"], 1, counters)
        self.assertEqual(counters["connects"], counters["stream_errors"] + 1, counters)
        self.assertEqual(counters["resumes"], counters["stream_errors"], counters)

    def events_until(self, slot):
        """(kind, write_version, slot) of each event up to slot `slot`'s status."""
        got = []
        while not got or got[-1] != ("slot", None, slot):
            e = self.consumer.next(lambda e: not (e["kind"] == "slot" and e["slot"] == 100))
            got.append((e["kind"], e.get("write_version"), e.get("slot")))
        return got

    def test_a_resumed_stream_publishes_nothing_twice(self):
        # The first stream: two accounts and a transaction of slot 105, its status.
        block = ys.load_block(os.path.join(TESTDATA, "mainnet_block_43200000.pb"))
        tx = block.transactions[0]
        sent = [ys.account(key(1), OWNER, 5, 105, 1, b"one"),
                ys.account(key(2), OWNER, 6, 105, 2, b"two"), ys.transaction(tx, 105, 0),
                ys.slot(105)]
        for u in sent:
            self.upstream.send(u)
        first = self.events_until(105)
        self.upstream.stop()
        self.upstream = ys.Upstream(port=self.port, x_token=TOKEN)
        stream = self.upstream.wait_stream(1)
        self.assertEqual(stream.requests[0].from_slot, 105)
        # The upstream replays slot 105 from its start, then what is new: a third account
        # of slot 105 (write version 3) and slot 106.
        for u in sent + [ys.account(key(3), OWNER, 7, 105, 3, b"three"), ys.slot(106)]:
            self.upstream.send(u, stream)
        self.assertEqual(first + self.events_until(106),
                         [("account", 1, 105), ("account", 2, 105), ("transaction", None, 105),
                          ("slot", None, 105), ("account", 3, 105), ("slot", None, 106)])
        self.assertEqual(self.source_counters()["resume_duplicates"], 4)

    def test_refused_resume_resubscribes_live_and_says_so(self):
        self.upstream.send(ys.slot(107))
        self.expect_slot(107)
        self.upstream.stop()
        self.upstream = ys.Upstream(port=self.port, x_token=TOKEN, refuse_from_slot=True)
        stream = self.upstream.wait_stream(1)
        self.assertEqual(self.upstream.refused[0].from_slot, 107)
        self.assertFalse(stream.requests[0].HasField("from_slot"))
        self.upstream.send(ys.slot(300))
        self.expect_slot(300)
        self.assertIn("cannot replay from slot 107", self.sender_log())
        self.assertEqual(self.source_counters()["resume_refused"], 1)

    def test_malformed_messages_are_counted_and_skipped(self):
        bad = []
        u = ys.account(b"\x01" * 31, OWNER, 1, 110, 1, b"")  # 31-byte pubkey
        bad.append(u)
        bad.append(ys.account(key(3), OWNER[:5], 1, 110, 1, b""))  # short owner
        u = ys.slot(110)
        u.slot.status = 42  # unknown status
        bad.append(u)
        u = geyser_pb2.SubscribeUpdate()
        u.entry.slot, u.entry.hash = 110, b"short"
        bad.append(u)
        u = geyser_pb2.SubscribeUpdate()
        u.transaction.slot = 110  # no transaction info
        bad.append(u)
        u = geyser_pb2.SubscribeUpdate()
        u.block_meta.slot, u.block_meta.blockhash = 110, "not base58 0OIl"
        bad.append(u)
        bad.append(geyser_pb2.SubscribeUpdate())  # nothing at all
        for u in bad:
            self.upstream.send(u)
        self.upstream.send(ys.account(key(4), OWNER, 77, 110, 9, b"good"))
        self.upstream.send(ys.slot(110))
        e = self.consumer.next(lambda e: e["kind"] == "account")
        self.assertEqual((e["pubkey"], e["lamports"]), (b58(key(4)), 77))
        self.expect_slot(110)
        counters = self.source_counters()
        self.assertEqual(counters["malformed"], len(bad), counters)
        self.assertEqual(counters["last_slot"], 110, counters)
        self.assertEqual(counters["stream_errors"], 0, counters)
        # The same counts reach Prometheus, as the source's updates and rejects.
        address = re.search(r"metrics at http://([0-9.:]+)/metrics", self.sender_log()).group(1)
        metrics = grpc_testing.scrape(address)
        source = f"yellowstone:{self.upstream.url}"
        self.assertEqual(grpc_testing.value(metrics, "qlaster_source_rejects_total", source=source,
                                            reason="malformed"), len(bad), metrics)
        self.assertEqual(grpc_testing.value(metrics, "qlaster_source_updates_total", source=source),
                         counters["published"], metrics)
        log = self.sender_log()
        self.assertEqual(log.count("message skipped"), len(bad), log)
        self.assertIn("account pubkey is 31 bytes", log)
        self.assertIsNone(self.sender.poll())


class YellowstoneSourceStallTest(SenderFixture):
    EXTRA_FLAGS = ["--yellowstone_idle_timeout=1s"]

    def test_a_silent_upstream_is_reconnected(self):
        # The first stream stays open and sends nothing more.
        second = self.upstream.wait_stream(2, TIMEOUT)
        self.assertEqual(second.requests[0].from_slot, 100)
        self.upstream.send(ys.slot(120), second)
        self.expect_slot(120)
        counters = self.source_counters()
        self.assertGreaterEqual(counters["stalls"], 1, counters)
        self.assertIn("nothing received for", self.sender_log())


class YellowstoneSourceFlagsTest(unittest.TestCase):
    def test_a_url_that_is_not_http_host_port_exits_64(self):
        with tempfile.TemporaryDirectory() as d:
            for url in ("127.0.0.1:10000", "http://127.0.0.1", "http://:10000",
                        "ftp://h:1", "http://h:99999", "http://h:1/path"):
                p = subprocess.run([SENDER, "--socket", os.path.join(d, "s.sock"),
                                    f"--source=yellowstone:{url}"],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 64, (url, p.stderr))
                self.assertIn("is not http://HOST:PORT or https://HOST:PORT", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
