#!/usr/bin/python3
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

And the other half of issue 11's proof, exact gaps when the replay buffer is outrun on
purpose: the path to B is cut (the proxy's SIGUSR1) for 7 s, longer than the relay's PONG
timeout and several times what a 256 KiB --replay_bytes holds, then restored; on a clean
path, on the lossy one, and on the lossy one with a 32 KiB --link_buffer_bytes (so that the
class streams also drop what they cannot hold, as GAPs, all along). B sees at least one
gap; per class B's updates are a subsequence of A's, never repeated; and every gap is
exact: each stretch of A's updates of a class that B skipped is accounted for, update for
update, by the gaps B saw between its two updates of that class around the stretch, with
no gap unit left over (B's consumer gets a gap's count but not its class, and may get
gaps published back to back as one). The gateway's relay[NAME].gap_updates counts exactly the
gaps B saw (at least, when the link buffer keeps dropping after the compared window).
A gateway killed and restarted is not a case of this: it forgets the session, and the
protocol reports nothing for what was in flight (docs/relay-protocol.md).

The relay's --metrics_address serves its counters and each link's to Prometheus, as
prometheus_client's parser reads them (grpc_testing.scrape).

Usage: relay_test.py SENDER RELAY INSPECT MAKE_TEST_CERTS UDP_IMPAIR
Runs with Debian's /usr/bin/python3 (python3-prometheus-client, and python3-grpcio for
grpc_testing).
"""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from grpc_testing import scrape, value  # the metrics endpoint by prometheus_client's parser

SENDER, RELAY, INSPECT, MAKE_CERTS, PROXY = sys.argv[1:6]
del sys.argv[1:6]

TIMEOUT = 30.0  # seconds, for any one thing to happen
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
FILTER = ["--owner", TOKEN_PROGRAM, "--transactions", "nonvote", "--slots"]
# The lossy path of issue 11: 5% loss, 20 ms delay, some reordering and duplicates.
LOSSY = ["--drop", "0.05", "--delay", "20ms", "--jitter", "5ms", "--reorder", "0.01",
         "--duplicate", "0.01"]
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

    def drain(self):
        """Every event queued so far, without waiting for more."""
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

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

    def until(self, predicate, timeout=TIMEOUT):
        """Every event up to and including the first that matches."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out.append(self.events.get(timeout=0.05))
            except queue.Empty:
                continue
            if predicate(out[-1]):
                return out
        raise TimeoutError("no matching event")

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

    def relay_stats(self):
        """The relay's last stats line in the log."""
        lines = [l for l in self.logs().splitlines() if "qlaster-relay: relay: updates=" in l]
        return lines[-1] if lines else ""

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


def per_class(test, a_events, b_events):
    """A's and B's updates of each class, B's non-empty, with where each of A's first is
    (identity -> index in A), after checking that both inspectors printed only good lines."""
    for e in a_events + b_events:
        test.assertNotEqual(e["kind"], "unparsable", f"an inspector printed a bad line: {e}")
    a_all, b_all = by_class(a_events), by_class(b_events)
    test.assertTrue(any(b_all.values()), "B received nothing")
    out = []
    for cls in CLASS.values():
        index = {}
        for i, x in enumerate(a_all[cls]):
            index.setdefault(x, i)
        out.append((cls, a_all[cls], b_all[cls], index))
    return a_all, b_all, out


def assert_subsequence(test, a_events, b_events):
    """Per class (the relay keeps order within a class, not across: docs/relay-protocol.md),
    B's updates are A's, in A's order, each once: B may start and end later than A, and skip
    a stretch where the link was down, but never repeats or reorders."""
    a_all, b_all, classes = per_class(test, a_events, b_events)
    for cls, _, b, index in classes:
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


def assert_merge_of_paths(test, a_events, b_events, paths):
    """B is fed by `paths` relays of A's stream and the gateway publishes the first copy
    of each update (docs/relay-protocol.md, "Redundant paths"): per class, B has each
    update once, B's updates are the merge of `paths` sequences each in A's order (a path
    that joins late or comes back after a cut may deliver updates the other path has not
    reached yet), and from B's earliest update in A's window on, none of A's is missing."""
    for cls, a, b, index in per_class(test, a_events, b_events)[2]:
        test.assertEqual(len(set(b)), len(b), f"B delivered an update of {cls} twice")
        # Fewest increasing runs B's indices split into (patience sorting, greedy).
        tails = []
        for x in b:
            i = index.get(x)
            if i is None:
                continue  # after A's window ended, or before it began
            below = [t for t in range(len(tails)) if tails[t] < i]
            if below:
                tails[max(below, key=lambda t: tails[t])] = i
            else:
                tails.append(i)
            test.assertLessEqual(len(tails), paths,
                                 f"B's {cls} are no merge of {paths} ordered paths: {x[:3]}")
        got = {index[x] for x in b if x in index}
        test.assertGreater(len(got), 10, f"too little overlap in {cls} to compare")
        missing = [i for i in range(min(got), len(a)) if i not in got]
        test.assertFalse(missing, f"B lacks {len(missing)} of A's {cls}, from A's #{missing[:1]}")


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


def max_flow(supply, demand, edges, shared=(), shared_cap=0):
    """The largest flow from the supply nodes (node -> amount) to the demand nodes (node ->
    amount) along `edges` (supply node -> demand nodes): it carries every supply and fills
    every demand exactly when it equals both totals. The demand nodes in `shared` also
    share one cap of `shared_cap` between them. Augmenting paths, breadth first."""
    cap = {}

    def add(u, v, c):
        cap.setdefault(u, {})[v] = cap.get(u, {}).get(v, 0) + c
        cap.setdefault(v, {}).setdefault(u, 0)

    for g, amount in supply.items():
        add("source", ("g", g), amount)
        for j in edges.get(g, ()):
            add(("g", g), ("j", j), amount)
    for j, amount in demand.items():
        if j in shared:
            add(("j", j), "shared", amount)
        else:
            add(("j", j), "sink", amount)
    if shared:
        add("shared", "sink", shared_cap)
    flow = 0
    while True:
        parent = {"source": None}
        todo = ["source"]
        while todo and "sink" not in parent:
            u = todo.pop(0)
            for v, c in cap.get(u, {}).items():
                if c > 0 and v not in parent:
                    parent[v] = u
                    todo.append(v)
        if "sink" not in parent:
            return flow
        path, v = [], "sink"
        while parent[v] is not None:
            path.append((parent[v], v))
            v = parent[v]
        push = min(cap[u][v] for u, v in path)
        for u, v in path:
            cap[u][v] -= push
            cap[v][u] += push
        flow += push


def assert_exact_gaps(test, a_events, b_events, gaps_go_on=False):
    """What the relay protocol promises about gaps, checked as strictly as what B's consumer
    sees allows. Each GAP message the gateway gets covers an exact count of one class's
    updates, and the gateway publishes it in that class's order: after B's last update of
    the class before the missing ones, before its first one after them. B's consumer sees
    Dispatcher::PublishGap(count) without the class (and may see gaps published back to back
    as one gap event with their sum). So: walk B's stream; wherever B's next update of a class is
    k of A's updates further on than the previous one, k updates of that class were skipped
    there; the gap events B saw between those two updates must account for each such skip
    exactly, every gap unit for one skipped update, none left over (an exact assignment of
    gap counts to skips, found as a flow).

    The compared window is B's stream until its first update that A's window does not hold
    (B runs behind A). A gap after a class's last update in the window may be that class's
    next skip, which the window does not show: unless `gaps_go_on`, there must be none (the
    gaps are all well inside the window); with it, such gaps are only required to fit
    after the last update of some class. Returns (gap events, gap units, skips)."""
    a_index = {cls: {} for cls in CLASS.values()}
    for cls, items in by_class(a_events).items():
        for i, x in enumerate(items):
            a_index[cls].setdefault(x, i)
    last = {}  # class -> (index in A, position in B) of B's previous update of the class
    gaps = {}  # position in B -> count
    skips = {}  # (class, position of the update before, position of the update after) -> k
    updates = {cls: 0 for cls in CLASS.values()}
    first = {}
    for pos, e in enumerate(b_events):
        kind = e["kind"]
        if kind == "gap":
            test.assertGreater(e["dropped"], 0, f"a gap of nothing: {e}")
            gaps[pos] = e["dropped"]
            continue
        test.assertIn(kind, CLASS, f"B's consumer saw {e}")
        cls = CLASS[kind]
        i = a_index[cls].get(identity(e))
        if i is None:
            end = pos
            break  # past A's window
        updates[cls] += 1
        first.setdefault(cls, i)
        if cls in last:
            before, at = last[cls]
            test.assertGreater(i, before, f"B reordered or repeated {cls}")
            if i > before + 1:
                skips[(cls, at, pos)] = i - before - 1
        last[cls] = (i, pos)
    else:
        test.fail("B's stream never went past the end of A's window: the window is too "
                  "short to tell a late gap from none")
    gaps = {g: n for g, n in gaps.items() if g < end}
    # Where each gap may belong: a skip it sits in, or (the tail) a class it comes after
    # the last update of.
    tail = {cls: at for cls, (_, at) in last.items()}
    edges = {g: [s for s in skips if s[1] < g < s[2]] +
                [("tail", cls) for cls, at in tail.items() if g > at] for g in gaps}
    in_tail = {g: n for g, n in gaps.items() if any(j[0] == "tail" for j in edges[g])}
    if not gaps_go_on:
        test.assertFalse(in_tail, f"gaps (position: count) after the last update of a class "
                                  f"in the window, {tail}: {in_tail}; skips {skips}")
    unexplained = {g: n for g, n in gaps.items() if not edges[g]}
    test.assertFalse(unexplained, f"gaps (position: count) between no two updates of one "
                                  f"class that skip any: {unexplained}; skips {skips}")
    unit_gaps, unit_skips = sum(gaps.values()), sum(skips.values())
    if not gaps_go_on:
        # Over the compared window (per class, from B's first update to its last), A's
        # updates are B's updates plus the updates B's gaps count...
        a_window = sum(i - first[cls] + 1 for cls, (i, _) in last.items())
        test.assertEqual(a_window, sum(updates.values()) + unit_gaps,
                         f"A has {a_window} updates in the window, B {sum(updates.values())} "
                         f"and gaps of {unit_gaps}: gaps {gaps}, skips {skips}")
    # ... and each gap is where its updates were skipped: every skip filled exactly, every
    # gap unit used; the tail takes what is left over (nothing, unless gaps_go_on).
    test.assertGreaterEqual(unit_gaps, unit_skips, f"gaps {gaps}, skips {skips}")
    demand = dict(skips)
    for cls in tail:
        demand[("tail", cls)] = unit_gaps - unit_skips
    flow = max_flow(gaps, demand, edges, shared={("tail", cls) for cls in tail},
                    shared_cap=unit_gaps - unit_skips)
    test.assertEqual(flow, unit_gaps,
                     f"the gap counts do not match the skips they sit between: gaps {gaps}, "
                     f"skips {skips}")
    return len(gaps), unit_gaps, skips


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

    def test_loss_delay_and_reordering_lose_nothing(self):
        _, port = self.start_proxy(*LOSSY)
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
        self.assertFalse([e for e in a_events if e["kind"] == "gap"], "A itself had a gap")
        self.assertFalse([e for e in b_events if e["kind"] == "gap"], "B had a gap")
        assert_merge_of_paths(self, a_events, b_events, paths=2)
        self.assertGreater(self.gateway_counters()["duplicates"], 100)

    def outrun_the_replay_buffer(self, *impairments, link_buffer_bytes=None):
        """The path is cut for longer than the relay's (small) replay buffer lasts: after it
        comes back the relay resumes the session, and B gets, from the gateway's last
        published sequence on, an exact GAP for what left the buffer and then what the
        buffer still holds, never a duplicate. (Cutting the path is what resume covers: a
        gateway killed and restarted forgets the session, and the protocol reports no gap
        for what was in flight then, docs/relay-protocol.md.) With `link_buffer_bytes`
        too small for the path, the class streams also drop what they cannot hold, as
        exact GAPs, all along."""
        proxy, port = self.start_proxy(*impairments)
        a = Inspector(self.sock_a, self.log, "inspect-a")
        b = Inspector(self.sock_b, self.log, "inspect-b")
        a.first(lambda e: e["kind"] == "account")
        flags = ["--replay_bytes=262144"]
        if link_buffer_bytes:
            flags.append(f"--link_buffer_bytes={link_buffer_bytes}")
        self.start_relay(to=f"127.0.0.1:{port}", extra=flags)
        try:
            b.first(lambda e: e["kind"] == "account", timeout=90)
        except TimeoutError:
            self.fail("B got nothing through the path\n" + self.logs()[-6000:])
        self.wait_counter("relay[test-relay].updates", 1000)
        proxy.send_signal(signal.SIGUSR1)
        # The stimulus: longer than the relay's PONG timeout (5 s), so that the link is
        # declared dead and the session resumed on a new connection; at the feed's rate
        # (about 250 KiB/s of messages) several times the 256 KiB the buffer keeps.
        time.sleep(7.0)
        proxy.send_signal(signal.SIGUSR2)
        self.wait_counter("relay[test-relay].gap_updates", 1)
        self.wait_counter("relay[test-relay].connected", 1)
        resumed = self.gateway_counters()["relay[test-relay].updates"]
        self.wait_counter("relay[test-relay].updates", resumed + 2000)
        a_events = a.drain() + a.take(1.0)
        a.close()
        # B runs behind A: its events until its first update A's window does not hold.
        a_ids = {identity(e) for e in data_events(a_events)}
        b_events = b.drain()
        if not [e for e in data_events(b_events) if identity(e) not in a_ids]:
            try:
                b_events += b.until(lambda e: e["kind"] in CLASS and identity(e) not in a_ids)
            except TimeoutError:
                self.fail("B never got past A's window\n" + self.logs()[-6000:])
        b.close()
        self.assertFalse([e for e in a_events if e["kind"] == "gap"], "A itself had a gap")
        assert_subsequence(self, a_events, b_events)
        n_gaps, gap_units, skips = assert_exact_gaps(self, a_events, b_events,
                                                     gaps_go_on=bool(link_buffer_bytes))
        self.assertGreater(n_gaps, 0, "B saw no gap: the buffer was not outrun")
        b_gaps = sum(e["dropped"] for e in b_events if e["kind"] == "gap")
        self.wait_counter("relay[test-relay].gap_updates", b_gaps)
        c = self.gateway_counters()
        if link_buffer_bytes:
            # The gaps go on after B's last event here: the gateway counted at least B's.
            self.assertGreaterEqual(c["relay[test-relay].gap_updates"], b_gaps, c)
            link = re.search(r" gaps=(\d+) dropped=(\d+)", self.relay_stats())
            self.assertTrue(link and int(link.group(1)) > 0,
                            f"the link buffer never overflowed: {self.relay_stats()}")
        else:
            # Every gap the gateway counted is one B's consumer saw (its own ring never
            # overflowed), and there were no others.
            self.assertEqual(c["relay[test-relay].gap_updates"], b_gaps, c)
        self.assertGreaterEqual(c["relay[test-relay].connections"], 2, c)
        self.assertEqual(c["duplicates"], 0, c)
        self.assertEqual(c["queue_drops"], 0, c)
        self.assertEqual(c["protocol_errors"], 0, c)

    def test_an_outrun_replay_buffer_makes_exact_gaps(self):
        self.outrun_the_replay_buffer()

    def test_an_outrun_replay_buffer_on_a_lossy_path_makes_exact_gaps(self):
        self.outrun_the_replay_buffer(*LOSSY)

    def test_an_outrun_replay_buffer_and_an_overflowing_link_buffer_make_exact_gaps(self):
        # 32 KiB unsent per class: the lossy path cannot carry the feed through that.
        self.outrun_the_replay_buffer(*LOSSY, link_buffer_bytes=32768)

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

    def test_the_relay_serves_its_counters_to_prometheus(self):
        log_path = os.path.join(self.dir.name, "relay-metrics.log")
        self.start_relay(extra=["--metrics_address", "127.0.0.1:0"], log_path=log_path)
        self.wait_counter("relay[test-relay].updates", 100)
        address = None
        deadline = time.monotonic() + TIMEOUT
        while address is None and time.monotonic() < deadline:
            with open(log_path) as f:
                m = re.search(r"metrics at http://(127\.0\.0\.1:\d+)/metrics", f.read())
            address = m.group(1) if m else None
            if address is None:
                time.sleep(0.05)
        with open(log_path) as f:
            self.assertIsNotNone(address, f.read())
        target = f"127.0.0.1:{self.port}"
        metrics = {}
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            metrics = scrape(address)  # by the Prometheus parser
            # The path's figures are read at the link's tick, a quarter of the ping interval.
            if (value(metrics, "qlaster_relay_link_up", target=target) == 1
                    and (value(metrics, "qlaster_relay_link_cwnd_bytes", target=target) or 0) > 0):
                break
            time.sleep(0.1)
        self.assertEqual(value(metrics, "qlaster_relay_link_up", target=target), 1, metrics)
        self.assertGreaterEqual(value(metrics, "qlaster_relay_updates_total"), 100)
        self.assertGreaterEqual(
            value(metrics, "qlaster_relay_link_updates_sent_total", target=target), 100)
        self.assertEqual(value(metrics, "qlaster_relay_link_welcomes_total", target=target), 1)
        self.assertGreater(value(metrics, "qlaster_relay_link_cwnd_bytes", target=target), 0)
        self.assertIn("process_resident_memory_bytes", metrics)
        # A steady feed from the first connection on: no protocol error, no reconnect.
        self.assertEqual(self.gateway_counters().get("protocol_errors", 0), 0)
        self.assertEqual(self.gateway_counters()["relay[test-relay].connections"], 1)

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
