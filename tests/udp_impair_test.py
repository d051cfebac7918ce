#!/usr/bin/env python3
"""qlaster-udp-impair as the relay's tests drive it: the real binary between a client
socket and a real UDP echo peer on loopback. Without impairment everything arrives in
order (64 KiB datagrams included); a seeded drop rate loses about its share and exactly
the same datagrams on a rerun; duplicates and reordering are seen; a delay shows up as at
least the delay; the path is cut and restored by control socket and by signal; several
clients each get their own upstream socket; SIGTERM prints the counters; bad flags exit 64
with one line. Nothing is timed against an upper bound: waits are for conditions, with
deadlines.

Usage: udp_impair_test.py PATH/TO/qlaster-udp-impair
"""
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

PROXY = sys.argv[1] if len(sys.argv) > 1 else "qlaster-udp-impair"
DEADLINE = 20.0  # seconds for any one wait; a hang fails the test, not the suite


def wait_for(pred, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)  # polling a condition, bounded by the deadline


class EchoPeer:
    """A UDP socket on loopback that sends every datagram back to where it came from and
    remembers what it saw (the first 4 bytes: the datagram's number) and from where."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.sources = set()
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.seen.append(struct.unpack("<I", data[:4])[0] if len(data) >= 4 else -1)
                self.sources.add(addr)
            self.sock.sendto(data, addr)

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


class Proxy:
    """The real qlaster-udp-impair; its stdout lines go to a queue."""

    def __init__(self, args, control=None):
        cmd = [PROXY] + list(args)
        if control:
            cmd += ["--control_socket", control]
        self.control_path = control
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self.next_line()
        if not first.startswith("listening "):
            raise AssertionError("first line: %r, stderr: %s" % (first, self.proc.stderr.read()))
        host, port = first.split()[1].rsplit(":", 1)
        self.address = (host, int(port))

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self):
        line = self.lines.get(timeout=DEADLINE)
        if line is None:
            raise AssertionError("the proxy exited: %s" % self.proc.stderr.read())
        return line

    def wait_line(self, prefix):
        while True:
            line = self.next_line()
            if line.startswith(prefix):
                return line

    def command(self, text):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(DEADLINE)
            s.connect(self.control_path)
            s.send(text.encode())
            return s.recv(4096).decode()

    def stats(self):
        """{'up': {...}, 'down': {...}, 'proxy': {...}} from the control socket."""
        out = {}
        for line in self.command("stats").splitlines():
            words = line.split()
            self_assert(words[0] == "stats", line)
            out[words[1]] = {k: int(v) for k, v in (w.split("=") for w in words[2:])}
        return out

    def terminate(self):
        """SIGTERM; returns the final stats lines and the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=DEADLINE)
        self.reader.join(timeout=DEADLINE)
        lines = []
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            lines.append(line)
        return lines, rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def self_assert(cond, what):
    if not cond:
        raise AssertionError(what)


class Client:
    def __init__(self, proxy_address):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(proxy_address)
        self.sock.setblocking(False)
        self.received = []  # (number, time)

    def send(self, n, size=64):
        self.sock.send(struct.pack("<I", n) + bytes(size - 4))

    def drain(self):
        while True:
            try:
                data = self.sock.recv(70000)
            except BlockingIOError:
                return
            self.received.append((struct.unpack("<I", data[:4])[0], time.monotonic(), len(data)))

    def numbers(self):
        return [n for n, _, _ in self.received]

    def wait_count(self, count):
        def enough():
            self.drain()
            return len(self.received) >= count
        wait_for(enough, "%d echoes (have %d)" % (count, len(self.received)))

    def close(self):
        self.sock.close()


class UdpImpairTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="qlaster-udp-impair-")
        self.echo = EchoPeer()
        self.to_close = []

    def tearDown(self):
        for thing in reversed(self.to_close):
            thing.close() if isinstance(thing, Client) else thing.kill()
        self.echo.close()
        self.dir.cleanup()

    def start(self, *args):
        control = os.path.join(self.dir.name, "control-%d.sock" % len(self.to_close))
        p = Proxy(["--to", "127.0.0.1:%d" % self.echo.port, *args], control=control)
        self.to_close.append(p)
        c = Client(p.address)
        self.to_close.append(c)
        return p, c

    def settle(self, proxy, sent, client=None):
        """Waits until the proxy has taken `sent` datagrams from the client, the echo peer's
        answers to all it forwarded, and has nothing queued; then until the client holds
        everything the proxy sent it. Returns the stats."""
        def settled():
            s = proxy.stats()
            up, down = s["up"], s["down"]
            up_done = up["received"] == sent and up["received"] == (
                up["forwarded"] - up["duplicated"] + up["dropped"] + up["blackholed"])
            down_done = down["received"] == up["forwarded"] and down["received"] == (
                down["forwarded"] - down["duplicated"] + down["dropped"] + down["blackholed"])
            return s if up_done and down_done else None
        s = wait_for(settled, "the proxy to settle after %d datagrams" % sent)
        (client or self.to_close[-1]).wait_count(s["down"]["forwarded"])
        return s

    def send_and_settle(self, proxy, client, count):
        """Sends datagrams 0 .. count-1 back to back, then settles; returns the stats."""
        for n in range(count):
            client.send(n)
        return self.settle(proxy, count, client)

    def run_lossy(self, seed, count=1000):
        p, c = self.start("--drop", "0.5", "--seed", str(seed))
        s = self.send_and_settle(p, c, count)
        return s, c.numbers()

    def test_no_impairment_forwards_everything_in_order(self):
        p, c = self.start()
        for n in range(2000):
            c.send(n)
        c.send(2000, size=65507)  # the largest UDP payload over IPv4
        s = self.settle(p, 2001)
        self.assertEqual(c.numbers(), list(range(2001)))
        self.assertEqual(c.received[-1][2], 65507)
        self.assertEqual(self.echo.seen, list(range(2001)))
        for d in ("up", "down"):
            self.assertEqual(s[d]["forwarded"], 2001)
            self.assertEqual(s[d]["dropped"] + s[d]["duplicated"] + s[d]["reordered"] + s[d]["delayed"], 0)

    def test_seeded_drop_loses_about_half_and_the_same_ones_again(self):
        first_stats, first = self.run_lossy(seed=7)
        _, again = self.run_lossy(seed=7)
        _, other = self.run_lossy(seed=8)
        # About half lost each way (1000 datagrams, so 500 +- 16 sigma is generous).
        self.assertGreater(first_stats["up"]["dropped"], 400)
        self.assertLess(first_stats["up"]["dropped"], 600)
        self.assertEqual(first_stats["up"]["forwarded"], 1000 - first_stats["up"]["dropped"])
        self.assertEqual(len(first), first_stats["down"]["forwarded"])
        self.assertEqual(first, sorted(first))
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)

    def test_duplicates_are_seen(self):
        p, c = self.start("--up", "duplicate=0.1")
        s = self.send_and_settle(p, c, 1000)
        got = c.numbers()
        twice = sorted({n for n in got if got.count(n) == 2})
        self.assertEqual(sorted(set(got)), list(range(1000)))
        self.assertEqual(len(twice), s["up"]["duplicated"])
        self.assertGreater(len(twice), 50)
        self.assertEqual(len(got), 1000 + len(twice))

    def test_reordering_is_seen_and_nothing_is_lost(self):
        p, c = self.start("--up", "reorder=0.1,reorder_distance=2")
        s = self.send_and_settle(p, c, 1000)
        got = c.numbers()
        self.assertEqual(sorted(got), list(range(1000)))
        late = [i for i in range(1, len(got)) if got[i] < got[i - 1]]
        self.assertGreater(s["up"]["reordered"], 50)
        self.assertGreater(len(late), 50)
        # A held datagram goes out behind at least the next two.
        for i in late:
            self.assertGreaterEqual(got[i - 1] - got[i], 2, got[max(0, i - 3):i + 2])

    def test_delay_is_at_least_the_delay(self):
        p, c = self.start("--up", "delay=30ms", "--down", "delay=20ms,jitter=5ms")
        sent_at = {}
        for n in range(50):
            sent_at[n] = time.monotonic()
            c.send(n)
        s = self.settle(p, 50)
        self.assertEqual(s["up"]["delayed"], 50)
        for n, at, _ in c.received:
            self.assertGreaterEqual(at - sent_at[n], 0.030 + 0.015, n)

    def test_blackhole_and_restore_by_control_socket(self):
        p, c = self.start()
        for n in range(10):
            c.send(n)
        self.settle(p, 10)
        self.assertEqual(p.command("blackhole up"), "ok blackhole up")
        self.assertEqual(p.wait_line("blackhole"), "blackhole up")
        for n in range(10, 20):
            c.send(n)
        s = wait_for(lambda: (lambda s: s if s["up"]["received"] == 20 else None)(p.stats()), "20 received")
        self.assertEqual(s["up"]["blackholed"], 10)
        self.assertEqual(s["up"]["forwarded"], 10)
        self.assertEqual(p.command("restore"), "ok restore both")
        for n in range(20, 30):
            c.send(n)
        s = self.settle(p, 30)
        self.assertEqual(c.numbers(), list(range(10)) + list(range(20, 30)))
        self.assertEqual(self.echo.seen, list(range(10)) + list(range(20, 30)))
        self.assertTrue(p.command("sideways").startswith("error "))
        self.assertTrue(p.command("blackhole left").startswith("error "))

    def test_blackhole_and_restore_by_signal(self):
        p, c = self.start()
        p.proc.send_signal(signal.SIGUSR1)
        self.assertEqual(p.wait_line("blackhole"), "blackhole both")
        for n in range(5):
            c.send(n)
        s = wait_for(lambda: (lambda s: s if s["up"]["received"] == 5 else None)(p.stats()), "5 received")
        self.assertEqual(s["up"]["blackholed"], 5)
        p.proc.send_signal(signal.SIGUSR2)
        self.assertEqual(p.wait_line("restore"), "restore both")
        for n in range(5, 10):
            c.send(n)
        self.settle(p, 10)
        self.assertEqual(c.numbers(), list(range(5, 10)))

    def test_a_cut_downstream_still_forwards_upstream(self):
        p, c = self.start()
        self.assertEqual(p.command("blackhole down"), "ok blackhole down")
        for n in range(10):
            c.send(n)
        s = self.settle(p, 10)
        self.assertEqual(self.echo.seen, list(range(10)))
        self.assertEqual(s["down"]["blackholed"], 10)
        self.assertEqual(c.numbers(), [])

    def test_each_client_has_its_own_upstream_socket(self):
        p, c1 = self.start()
        c2 = Client(p.address)
        self.to_close.append(c2)
        for n in range(100):
            c1.send(n)
            c2.send(1000 + n)
        wait_for(lambda: (c1.drain(), c2.drain(), len(c1.received) == 100 and len(c2.received) == 100)[2],
                 "both clients' echoes")
        self.assertEqual(c1.numbers(), list(range(100)))
        self.assertEqual(c2.numbers(), list(range(1000, 1100)))
        self.assertEqual(len(self.echo.sources), 2)
        self.assertEqual(p.stats()["proxy"]["clients"], 2)

    def test_sigterm_prints_the_counters_and_exits_0(self):
        p, c = self.start("--drop", "0.2", "--seed", "3")
        for n in range(100):
            c.send(n)
        self.settle(p, 100)
        lines, rc = p.terminate()
        self.assertEqual(rc, 0)
        stats = [l for l in lines if l.startswith("stats ")]
        self.assertEqual([l.split()[1] for l in stats], ["up", "down", "proxy"], lines)
        self.assertIn("received=100 ", stats[0])
        for key in ("forwarded=", "dropped=", "duplicated=", "reordered=", "delayed="):
            self.assertIn(key, stats[0])
        self.assertFalse(os.path.exists(p.control_path))

    def test_stats_interval_prints_on_its_own(self):
        p, _ = self.start("--stats_interval", "50ms")
        self.assertTrue(p.wait_line("stats up ").startswith("stats up received=0 "))

    def test_bad_flags_exit_64_with_one_line(self):
        cases = [
            ([], "--to"),
            (["--to", "127.0.0.1"], "HOST:PORT"),
            (["--to", "127.0.0.1:99999"], "HOST:PORT"),
            (["--to", "127.0.0.1:1", "--drop", "2"], "--drop"),
            (["--to", "127.0.0.1:1", "--drop", "often"], "drop"),
            (["--to", "127.0.0.1:1", "--delay", "soon"], "delay"),
            (["--to", "127.0.0.1:1", "--up", "loss=0.1"], "--up"),
            (["--to", "127.0.0.1:1", "--down", "jitter=-1ms"], "--down"),
            (["--to", "127.0.0.1:1", "--max_clients", "0"], "--max_clients"),
            (["--to", "127.0.0.1:1", "--listen", "nowhere"], "--listen"),
            (["--to", "127.0.0.1:1", "--no_such_flag"], "no_such_flag"),
            (["--to", "127.0.0.1:1", "extra"], "unexpected argument"),
        ]
        for args, word in cases:
            p = subprocess.run([PROXY, *args], capture_output=True, text=True, timeout=DEADLINE)
            self.assertEqual(p.returncode, 64, (args, p.stderr))
            self.assertEqual(p.stdout, "", args)
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, (args, p.stderr))
            self.assertIn(word, lines[0], args)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
