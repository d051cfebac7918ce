#!/usr/bin/env python3
"""qlaster-relay and the QUIC gateway end to end, with real processes on loopback:

  sender A (synthetic) -> qlaster-relay -> QUIC, mutual TLS -> sender B --source=quic:
  -> qlaster-inspect on B, compared with qlaster-inspect on A (same subscription).

Checks: B gets exactly A's filtered stream (kind, pubkey, owner, lamports, write version,
data bytes; signatures and transaction bytes; slots) in order; a relay killed with -9 and
restarted never makes B deliver a duplicate or reorder; a gateway killed with -9 and
restarted is reconnected by the relay on its own; a relay with a certificate of another
CA, one without a certificate, and one that does not trust the gateway are refused with a
reason on both sides, and B publishes nothing from them; datagrams that are not QUIC are
counted and ignored while B keeps serving; through the impairment proxy (5% loss, 20 ms
delay, reordering) B still gets A's stream whole; two relays (two paths) deliver each update
once, and B keeps going when one path is cut.

Usage: relay_test.py SENDER RELAY INSPECT MAKE_TEST_CERTS UDP_IMPAIR
"""
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SENDER, RELAY, INSPECT, MAKE_CERTS, PROXY = sys.argv[1:6]
del sys.argv[1:6]

TIMEOUT = 30.0  # seconds, for any one thing to happen
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
FILTER = ["--owner", TOKEN_PROGRAM, "--transactions", "nonvote", "--slots"]
FEED = ["--accounts_per_second=3000", "--transactions_per_second=400", "--synthetic_seed=7"]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def identity(e):
    """What must be equal on both sides (the sequence numbers and timestamps are each
    sender's own)."""
    k = e["kind"]
    if k == "account":
        return (k, e["pubkey"], e["owner"], e["lamports"], e["write_version"], e["slot"],
                e.get("data"))
    if k == "transaction":
        return (k, e["signature"], e["slot"], e["index"], e.get("data"), e.get("status"))
    if k == "slot":
        return (k, e["slot"], e["status"], e["parent"])
    return (k, json.dumps(e, sort_keys=True))


class Inspector:
    """qlaster-inspect --json --data as a subprocess; its events on a queue. Every one made
    is killed at the end of its test, whatever happened (RelayFixture.tearDown)."""

    live = []

    def __init__(self, sock, log, name):
        self.proc = subprocess.Popen(
            [INSPECT, "--socket", sock, "--json", "--data", "--name", name, "--policy", "drop",
             "--ring_bytes", str(64 << 20), *FILTER],
            stdout=subprocess.PIPE, stderr=log, text=True)
        Inspector.live.append(self)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except json.JSONDecodeError:
                # Kept as an event the comparisons fail on, so that a bad line is seen.
                self.events.put({"kind": "unparsable", "line": line[:200]})

    def take(self, seconds):
        """Every event of the next `seconds`."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                out.append(self.events.get(timeout=0.05))
            except queue.Empty:
                pass
        return out

    def first(self, predicate, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if predicate(e):
                return e
        raise TimeoutError("no matching event")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


def data_events(events):
    return [e for e in events if e["kind"] in ("account", "transaction", "slot")]


class RelayFixture(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        subprocess.run(["sh", MAKE_CERTS, os.path.join(d, "certs")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.certs = os.path.join(d, "certs")
        self.sock_a = os.path.join(d, "a.sock")
        self.sock_b = os.path.join(d, "b.sock")
        self.log_path = os.path.join(d, "log")
        self.log = open(self.log_path, "w")
        self.port = free_udp_port()
        self.procs = []
        self.files = []
        self.sender_a = self.start_sender(self.sock_a, ["--source=synthetic", *FEED])
        self.sender_b = self.start_gateway()
        self.relay = None

    def tearDown(self):
        while Inspector.live:
            Inspector.live.pop().close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for f in self.files:
            f.close()
        self.log.close()
        self.dir.cleanup()

    def cert(self, name):
        return os.path.join(self.certs, name)

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def spawn(self, argv, log_path=None):
        out = self.log
        if log_path:
            out = open(log_path, "w")
            self.files.append(out)
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def start_sender(self, sock, flags, log_path=None):
        if os.path.exists(sock):
            os.unlink(sock)
        p = self.spawn([SENDER, "--socket", sock, *flags], log_path)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(sock):
            self.assertIsNone(p.poll(), self.logs())
            self.assertLess(time.monotonic(), deadline, "a sender never listened\n" + self.logs())
            time.sleep(0.01)
        return p

    def start_gateway(self, log_path=None):
        return self.start_sender(self.sock_b, [
            f"--source=quic:127.0.0.1:{self.port}", "--tls_cert", self.cert("server.pem"),
            "--tls_key", self.cert("server.key"), "--tls_ca", self.cert("ca.pem")], log_path)

    def start_proxy(self, *impairments):
        """qlaster-udp-impair in front of the gateway; returns (process, its port)."""
        p = subprocess.Popen([PROXY, "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{self.port}",
                              "--seed", "11", *impairments],
                             stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        self.assertTrue(line.startswith("listening 127.0.0.1:"), line)
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
        return p, int(line.split(":")[-1])

    def start_relay(self, leaf="client", ca="ca", extra=(), log_path=None, to=None,
                    name="test-relay"):
        tls = ["--tls_ca", self.cert(f"{ca}.pem")]
        if leaf:
            tls += ["--tls_cert", self.cert(f"{leaf}.pem"), "--tls_key", self.cert(f"{leaf}.key")]
        return self.spawn([RELAY, "--socket", self.sock_a, "--to", to or f"127.0.0.1:{self.port}",
                           "--server_name", "localhost", "--name", name, "--stats_interval=1s",
                           *tls, *FILTER, *extra],
                          log_path)

    def gateway_counters(self, sock=None):
        out = subprocess.run([INSPECT, "--socket", sock or self.sock_b, "--sender-stats", "--json"],
                             capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
        stats = json.loads(out)
        return {c["name"]: c["value"] for c in stats["source_counters"]
                if c["source"].startswith("quic:")}

    def wait_counter(self, name, at_least, sock=None):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.gateway_counters(sock).get(name, 0) >= at_least:
                return
            time.sleep(0.1)
        self.fail(f"gateway counter {name} never reached {at_least}: "
                  f"{self.gateway_counters(sock)}\n{self.logs()[-4000:]}")


CLASS = {"account": "accounts", "transaction": "transactions", "slot": "slots"}


def by_class(events):
    out = {c: [] for c in CLASS.values()}
    for e in data_events(events):
        out[CLASS[e["kind"]]].append(identity(e))
    return out


def assert_subsequence(test, a_events, b_events):
    """Per class (the relay keeps order within a class, not across: docs/relay-protocol.md),
    B's updates are A's, in A's order, each once: B may start and end later than A, and skip
    a stretch where the link was down, but never repeats or reorders."""
    for e in a_events + b_events:
        test.assertNotEqual(e["kind"], "unparsable", f"an inspector printed a bad line: {e}")
    a_all, b_all = by_class(a_events), by_class(b_events)
    test.assertTrue(any(b_all.values()), "B received nothing")
    for cls in CLASS.values():
        a, b = a_all[cls], b_all[cls]
        index = {}
        for i, x in enumerate(a):
            index.setdefault(x, i)
        last = -1
        seen = set()
        for x in b:
            test.assertNotIn(x, seen, f"B delivered twice: {x[:3]}")
            seen.add(x)
            i = index.get(x)
            if i is None:
                continue  # after A's window ended, or before it began
            test.assertGreater(i, last, f"B reordered {cls}: {x[:3]}")
            last = i
    return a_all, b_all


def assert_contiguous(test, a, b):
    """B has every one of A's updates from B's first one that A saw to the end of A's
    window (or from A's first, if B began earlier)."""
    if b and b[0] in a:
        overlap = a[a.index(b[0]):]
    else:
        test.assertIn(a[0], b, "A's and B's windows do not overlap")
        b = b[b.index(a[0]):]
        overlap = a
    test.assertEqual(b[:len(overlap)], overlap)
    return overlap


class RelayStreamTest(RelayFixture):
    def test_b_gets_exactly_the_filtered_stream_of_a_in_order(self):
        a = Inspector(self.sock_a, self.log, "inspect-a")
        b = Inspector(self.sock_b, self.log, "inspect-b")
        a.first(lambda e: e["kind"] == "account")
        self.start_relay()
        b.first(lambda e: e["kind"] == "account")
        a_events = a.take(4.0)
        # Everything B shows during and a moment after A's window.
        b_events = b.take(4.5)
        a.close()
        b.close()
        self.assertFalse([e for e in a_events if e["kind"] == "gap"], "A itself had a gap")
        self.assertFalse([e for e in b_events if e["kind"] == "gap"], "B had a gap")
        a_cls, b_cls = assert_subsequence(self, a_events, b_events)
        for cls in CLASS.values():
            overlap = assert_contiguous(self, a_cls[cls], b_cls[cls])
            self.assertGreater(len(overlap), 10, f"too little overlap in {cls} to compare")
        self.assertGreater(len(a_cls["accounts"]), 1000)
        c = self.gateway_counters()
        self.assertEqual(c["relay[test-relay].connected"], 1)
        self.assertGreater(c["relay[test-relay].updates"], 1000)
        self.assertEqual(c["malformed"], 0)

    def compare_whole(self, a_events, b_events):
        self.assertFalse([e for e in a_events if e["kind"] == "gap"], "A itself had a gap")
        self.assertFalse([e for e in b_events if e["kind"] == "gap"], "B had a gap")
        a_cls, b_cls = assert_subsequence(self, a_events, b_events)
        for cls in CLASS.values():
            overlap = assert_contiguous(self, a_cls[cls], b_cls[cls])
            self.assertGreater(len(overlap), 10, f"too little overlap in {cls} to compare")

    @unittest.skipIf(os.environ.get("QLASTER_SANITIZED"),
                     "under ASan the lossy handshake runs into the 5 s handshake timeout "
                     "again and again; this case runs in the release build")
    def test_loss_delay_and_reordering_lose_nothing(self):
        _, port = self.start_proxy("--drop", "0.05", "--delay", "20ms", "--jitter", "5ms",
                                   "--reorder", "0.01", "--duplicate", "0.01")
        a = Inspector(self.sock_a, self.log, "inspect-a")
        b = Inspector(self.sock_b, self.log, "inspect-b")
        a.first(lambda e: e["kind"] == "account")
        self.start_relay(to=f"127.0.0.1:{port}")
        try:
            # A lossy path can cost the handshake a few retransmissions on a busy machine.
            b.first(lambda e: e["kind"] == "account", timeout=90)
        except TimeoutError:
            self.fail("B got nothing through the lossy path\n" + self.logs()[-6000:])
        a_events = a.take(4.0)
        b_events = b.take(5.0)
        a.close()
        b.close()
        self.compare_whole(a_events, b_events)

    def test_two_paths_deliver_each_update_once_and_survive_one_cut(self):
        proxy, port = self.start_proxy()
        a = Inspector(self.sock_a, self.log, "inspect-a")
        b = Inspector(self.sock_b, self.log, "inspect-b")
        a.first(lambda e: e["kind"] == "account")
        self.start_relay(name="path-1")
        self.start_relay(to=f"127.0.0.1:{port}", name="path-2")
        self.wait_counter("relay[path-1].updates", 100)
        self.wait_counter("relay[path-2].updates", 100)
        b.first(lambda e: e["kind"] == "account")
        a_events = a.take(1.5)
        proxy.send_signal(signal.SIGUSR1)  # path 2 goes dark mid-run
        a_events += a.take(3.0)
        b_events = b.take(3.5)
        a.close()
        b.close()
        self.compare_whole(a_events, b_events)
        self.assertGreater(self.gateway_counters()["duplicates"], 100)

    def test_a_relay_killed_and_restarted_never_makes_b_repeat_or_reorder(self):
        a = Inspector(self.sock_a, self.log, "inspect-a")
        b = Inspector(self.sock_b, self.log, "inspect-b")
        a.first(lambda e: e["kind"] == "account")
        relay = self.start_relay()
        b.first(lambda e: e["kind"] == "account")
        a_events = a.take(1.5)
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        a_events += a.take(0.5)
        self.start_relay()
        a_events += a.take(3.0)
        b_events = b.take(3.5)
        a.close()
        b.close()
        assert_subsequence(self, a_events, b_events)
        self.wait_counter("connections", 2)

    def test_a_restarted_gateway_is_reconnected_by_the_relay(self):
        self.start_relay()
        self.wait_counter("relay[test-relay].updates", 100)
        self.sender_b.send_signal(signal.SIGKILL)
        self.sender_b.wait()
        if os.path.exists(self.sock_b):
            os.unlink(self.sock_b)
        self.sender_b = self.start_gateway()
        b = Inspector(self.sock_b, self.log, "inspect-b")
        b.first(lambda e: e["kind"] == "account")
        b.close()
        self.wait_counter("relay[test-relay].connected", 1)

    def test_garbage_datagrams_are_counted_and_b_keeps_serving(self):
        self.start_relay()
        self.wait_counter("relay[test-relay].updates", 100)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(200):
                s.sendto(bytes([i % 256]) * (1 + i * 7 % 1400), ("127.0.0.1", self.port))
        before = self.gateway_counters()["relay[test-relay].updates"]
        deadline = time.monotonic() + TIMEOUT
        while self.gateway_counters()["relay[test-relay].updates"] < before + 1000:
            self.assertLess(time.monotonic(), deadline, self.logs()[-3000:])
            time.sleep(0.1)
        self.assertIsNone(self.sender_b.poll())


class RelayRefusalTest(RelayFixture):
    def refused(self, leaf, ca, relay_says, gateway_says):
        relay_log = os.path.join(self.dir.name, "relay.log")
        gateway_log = os.path.join(self.dir.name, "gateway.log")
        self.sender_b.terminate()
        self.sender_b.wait()
        if os.path.exists(self.sock_b):
            os.unlink(self.sock_b)
        self.sender_b = self.start_gateway(gateway_log)
        self.start_relay(leaf, ca, log_path=relay_log)
        deadline = time.monotonic() + TIMEOUT
        while True:
            with open(relay_log) as f:
                r = f.read()
            with open(gateway_log) as f:
                g = f.read()
            if relay_says in r and gateway_says in g:
                break
            self.assertLess(time.monotonic(), deadline, f"relay:\n{r}\ngateway:\n{g}")
            time.sleep(0.1)
        c = self.gateway_counters()
        self.assertEqual(c["published"], 0)
        self.assertNotIn("relay[test-relay].updates", c)

    def test_a_relay_of_another_ca_is_refused(self):
        self.refused("untrusted", "ca", "TLS refused by the peer", "UNAUTHENTICATED")

    def test_a_relay_without_a_certificate_is_refused(self):
        self.refused(None, "ca", "TLS refused by the peer", "UNAUTHENTICATED")

    def test_a_relay_that_does_not_trust_the_gateway_refuses_it(self):
        self.refused("client", "other-ca", "UNAUTHENTICATED", "TLS refused by the peer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
