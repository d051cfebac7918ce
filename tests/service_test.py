#!/usr/bin/python3
"""qlaster-sender run as a service is run: its Prometheus endpoint scraped and parsed by
the Prometheus client library's own parser, and its fairness under a flood of idle
connections (issue 14's proof).

Usage: service_test.py --sender PATH --inspect PATH --dashboard docs/grafana-dashboard.json

Runs with /usr/bin/python3 (python3-prometheus-client). The flood test's "another uid"
needs root, to start the second consumer as nobody (setuid in the child), and is skipped
otherwise; run by another user, the flood test checks what one uid can check: the
flood's own further connections are refused with the reason, and a consumer that
connected before the flood keeps receiving.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

ARGS = None
DEADLINE = 30.0  # seconds for anything to happen; never a sleep


def wait_for(predicate, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def stop_process(p):
    if p.poll() is None:
        p.kill()
    p.communicate()


class Sender:
    """A real qlaster-sender on a socket and a /dev/shm directory of a temporary dir."""

    def __init__(self, *flags):
        self.dir = tempfile.mkdtemp(prefix="qlaster-service-")
        self.shm = tempfile.mkdtemp(prefix="qlaster-service-", dir="/dev/shm")
        os.chmod(self.dir, 0o755)
        os.chmod(self.shm, 0o1777)
        self.socket = os.path.join(self.dir, "sender.sock")
        self.log = open(os.path.join(self.dir, "sender.log"), "w+")
        self.proc = subprocess.Popen(
            [ARGS.sender, "--socket", self.socket, "--socket_mode", "0666",
             "--shm_dir", self.shm, "--metrics_address", "127.0.0.1:0",
             "--source", "synthetic", *flags],
            stdout=subprocess.DEVNULL, stderr=self.log, stdin=subprocess.DEVNULL)
        try:
            self.metrics_url = "http://%s/metrics" % wait_for(self._metrics_address,
                                                              "the metrics address in the log")
            wait_for(lambda: os.path.exists(self.socket), "the socket")
        except BaseException:
            self.stop()  # no cleanup is registered yet
            raise

    def _metrics_address(self):
        if self.proc.poll() is not None:
            raise AssertionError("sender exited: " + self.log_text())
        m = re.search(r"metrics at http://([0-9.:]+)/metrics", self.log_text())
        return m and m.group(1)

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def scrape_text(self):
        with urllib.request.urlopen(self.metrics_url, timeout=DEADLINE) as r:
            self.content_type = r.headers["Content-Type"]
            return r.read().decode()

    def scrape(self):
        """{sample name: [(labels, value)]}, by the Prometheus parser."""
        out = {}
        for family in text_string_to_metric_families(self.scrape_text()):
            for s in family.samples:
                out.setdefault(s.name, []).append((s.labels, s.value))
        return out

    def value(self, metrics, name, **labels):
        for l, v in metrics.get(name, []):
            if all(l.get(k) == val for k, val in labels.items()):
                return v
        return None

    def inspect(self, *flags, user=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
        return subprocess.Popen(
            [ARGS.inspect, "--socket", self.socket, *flags], stdout=stdout,
            stderr=stderr, stdin=subprocess.DEVNULL, text=True, user=user)

    def resources(self):
        """(open fds, mapped rings, files in the shm dir, resident KiB) of the sender."""
        pid = self.proc.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        with open("/proc/%d/maps" % pid) as f:
            rings = sum(1 for line in f if self.shm in line)
        files = len(os.listdir(self.shm))
        # The sender's own memory: RssAnon leaves out the rings it writes into (shared
        # memory, which is the consumers' and grows as their rings are first filled).
        with open("/proc/%d/status" % pid) as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))
        return fds, rings, files, rss

    def sanitized(self):
        """Whether the sender runs under ASan or TSan, whose shadow memory and quarantine
        make its resident memory say nothing about leaks."""
        with open("/proc/%d/maps" % self.proc.pid) as f:
            return any("libasan" in line or "libtsan" in line for line in f)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.sender = Sender()
        self.addCleanup(self.sender.stop)

    def test_scrape_parses_and_counts_what_happened(self):
        s = self.sender
        viewer = s.inspect("--transactions", "all", "--name", 'bot "one"', "--quiet",
                           "--duration", "60")
        self.addCleanup(stop_process, viewer)
        # A connection that sends garbage is refused, and counted by reason.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bad:
            bad.connect(s.socket)
            # A frame of a plausible length that is not a control message.
            bad.sendall(b"\x20\x00\x00\x00" + b"\xff" * 32)
            bad.settimeout(DEADLINE)
            while bad.recv(4096):
                pass

        def delivered():
            m = s.scrape()
            v = s.value(m, "qlaster_consumer_delivered_total", consumer='bot "one"')
            return m if v and v > 0 else None

        m = wait_for(delivered, "updates delivered to the consumer")
        self.assertEqual(s.content_type, "text/plain; version=0.0.4; charset=utf-8")
        self.assertGreater(s.value(m, "qlaster_sender_updates_published_total", kind="transaction"), 0)
        self.assertGreater(s.value(m, "qlaster_sender_updates_published_total", kind="account"), 0)
        self.assertGreater(s.value(m, "qlaster_sender_updates_published_total", kind="slot"), 0)
        self.assertGreater(s.value(m, "qlaster_source_updates_total", source="synthetic"), 0)
        # Its lag: publishing now, the only source, so no slot behind.
        self.assertGreater(s.value(m, "qlaster_source_highest_slot", source="synthetic"), 0)
        self.assertEqual(s.value(m, "qlaster_source_slot_lag", source="synthetic"), 0)
        self.assertLess(s.value(m, "qlaster_source_last_update_age_seconds", source="synthetic"),
                        DEADLINE)
        self.assertGreater(s.value(m, "qlaster_sender_update_log_oldest_slot"), 0)
        self.assertEqual(s.value(m, "qlaster_sender_consumers"), 1)
        self.assertEqual(s.value(m, "qlaster_sender_routing_table_consumers"), 1)
        self.assertGreaterEqual(s.value(m, "qlaster_sender_routing_table_version", state="adopted"), 1)
        self.assertEqual(s.value(m, "qlaster_sender_connections_refused_total", reason="bad_request"), 1)
        for name in ("qlaster_consumer_dropped_total", "qlaster_consumer_gaps_total",
                     "qlaster_consumer_ring_fill_bytes", "qlaster_consumer_lag_records"):
            self.assertIsNotNone(s.value(m, name, consumer='bot "one"'), name)
        self.assertEqual(s.value(m, "qlaster_consumer_ring_size_bytes", consumer='bot "one"'),
                         64 << 20)
        for reason in ("slow", "protocol_violation", "idle", "shutdown"):
            self.assertEqual(s.value(m, "qlaster_sender_evictions_total", reason=reason), 0)
        self.assertGreater(s.value(m, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(s.value(m, "process_open_fds"), 3)
        # (In clock ticks: 0 for the first few milliseconds of a run.)
        wait_for(lambda: s.value(s.scrape(), "process_cpu_seconds_total") > 0, "CPU time counted")
        self.assertAlmostEqual(s.value(m, "process_start_time_seconds"), time.time(), delta=600)

        # The consumer leaves: its series go, the gauge follows.
        viewer.kill()
        viewer.wait()
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 0, "the consumer gone")
        self.assertIsNone(s.value(s.scrape(), "qlaster_consumer_delivered_total", consumer='bot "one"'))

    def test_an_evicted_consumer_is_counted_under_its_name_after_it_has_gone(self):
        s = self.sender
        slow = s.inspect("--transactions", "all", "--name", "slowpoke", "--policy", "evict",
                         "--ring_bytes", "65536", "--quiet", "--duration", "60",
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, slow)
        wait_for(lambda: (s.value(s.scrape(), "qlaster_consumer_delivered_total",
                                  consumer="slowpoke") or 0) > 0, "the consumer receiving")
        os.kill(slow.pid, signal.SIGSTOP)  # it stops reading; its 64 KiB ring fills
        self.addCleanup(lambda: slow.poll() is None and os.kill(slow.pid, signal.SIGCONT))

        # (A 64 KiB ring may overflow in a burst before the stop too: the inspector then
        # reconnects and is evicted again. Stopped, it cannot come back.)
        def evicted():
            m = s.scrape()
            gone = s.value(m, "qlaster_sender_consumers") == 0
            return m if gone and s.value(m, "qlaster_consumer_evictions_total",
                                         consumer="slowpoke", reason="slow") else None

        m = wait_for(evicted, "the stopped consumer evicted")
        by_name = s.value(m, "qlaster_consumer_evictions_total", consumer="slowpoke", reason="slow")
        self.assertGreaterEqual(by_name, 1)
        self.assertEqual(s.value(m, "qlaster_sender_evictions_total", reason="slow"), by_name)
        # Gone from the live consumers' series, still counted under its name.
        self.assertIsNone(s.value(m, "qlaster_consumer_delivered_total", consumer="slowpoke"))
        self.assertIsNone(s.value(m, "qlaster_consumer_evictions_total", reason="idle"))

    def test_example_dashboard_names_only_metrics_that_exist(self):
        with open(ARGS.dashboard) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        used = set(re.findall(r"\b((?:qlaster|process)_[a-z_]+)", " ".join(exprs)))
        self.assertGreater(len(used), 10)
        s = self.sender
        viewer = s.inspect("--slots", "--quiet", "--duration", "60")
        self.addCleanup(stop_process, viewer)
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 1, "a consumer")
        # Sampled, or declared (# TYPE) with no sample yet: an eviction counter by name has
        # a sample only once a consumer was evicted.
        scraped = set(s.scrape()) | set(re.findall(r"^# TYPE (\S+)", s.scrape_text(), re.M))
        for name in sorted(used):
            self.assertIn(name, scraped, "the dashboard uses " + name)

    def test_other_paths_and_methods_are_refused(self):
        s = self.sender
        base = s.metrics_url.rsplit("/", 1)[0]
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/", timeout=DEADLINE)
        self.assertEqual(e.exception.code, 404)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(s.metrics_url, data=b"x", method="POST"),
                                   timeout=DEADLINE)
        self.assertIn(e.exception.code, (405, 400))
        # Garbage instead of HTTP: closed, and the endpoint still answers the next scraper.
        host, port = s.metrics_url.split("/")[2].split(":")
        with socket.create_connection((host, int(port)), timeout=DEADLINE) as raw:
            raw.sendall(b"\x00\x01 not http\r\n\r\n")
            while raw.recv(4096):
                pass
        self.assertIn("qlaster_build_info", s.scrape_text())

    def test_bad_metrics_address_is_a_usage_error(self):
        p = subprocess.run([ARGS.sender, "--metrics_address", "localhost", "--socket",
                            os.path.join(self.sender.dir, "other.sock")],
                           capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("--metrics_address", p.stderr)


class FloodTest(unittest.TestCase):
    FLOOD = 2000
    PER_UID = 32

    def setUp(self):
        # A handshake timeout longer than the test: the flood's connections within the
        # limit stay pending throughout.
        self.sender = Sender("--max_pending_per_uid", str(self.PER_UID), "--quiet",
                             "--handshake_timeout", "120s")
        self.addCleanup(self.sender.stop)

    def flood(self):
        socks = []
        self.addCleanup(lambda: [c.close() for c in socks])
        for _ in range(self.FLOOD):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(self.sender.socket)
            socks.append(c)
        s = self.sender

        def settled():
            m = s.scrape()
            refused = s.value(m, "qlaster_sender_connections_refused_total", reason="pending_per_uid")
            return m if refused == self.FLOOD - self.PER_UID else None

        m = wait_for(settled, "the flood refused beyond --max_pending_per_uid")
        self.assertEqual(s.value(m, "qlaster_sender_connections_pending"), self.PER_UID)
        # Each refused connection was told why before the close (the Error carries the
        # reason as text); the ones within the limit wait, unanswered.
        told = 0
        for c in socks:
            c.setblocking(False)
            try:
                data = c.recv(4096)
            except BlockingIOError:
                continue
            self.assertIn(b"--max_pending_per_uid=32", data)
            told += 1
        self.assertEqual(told, self.FLOOD - self.PER_UID)
        return socks

    def test_flood_of_one_uid_neither_locks_out_others_nor_stalls_consumers(self):
        s = self.sender
        established = s.inspect("--slots", "--quiet", "--name", "established", "--duration", "60")
        self.addCleanup(stop_process, established)
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 1, "the first consumer")
        self.flood()

        # The same uid: refused with the reason, not a dropped connection.
        same = s.inspect("--slots", "--count", "1")
        _, err = same.communicate(timeout=DEADLINE)
        self.assertNotEqual(same.returncode, 0)
        self.assertIn("--max_pending_per_uid", err)
        viewer = s.inspect("--sender-stats")
        _, err = viewer.communicate(timeout=DEADLINE)
        self.assertNotEqual(viewer.returncode, 0)
        self.assertIn("--max_pending_per_uid", err)

        # The consumer that was there all along still receives.
        m = s.scrape()
        before = s.value(m, "qlaster_consumer_delivered_total", consumer="established")
        wait_for(lambda: s.value(s.scrape(), "qlaster_consumer_delivered_total",
                                 consumer="established") > before,
                 "the established consumer receiving during the flood")
        self.assertIsNone(established.poll())

    def test_flood_of_one_uid_does_not_lock_out_another_uid(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to connect as another uid (nobody)")
        self.flood()
        # Another uid connects and receives at once (a slot update every 400 ms).
        start = time.monotonic()
        other = self.sender.inspect("--slots", "--count", "1", user="nobody")
        out, err = other.communicate(timeout=DEADLINE)
        took = time.monotonic() - start
        self.assertEqual(other.returncode, 0, err)
        self.assertIn("slot", out)
        # Printed, not asserted: a timing on a shared machine says nothing about the code.
        print("\nqlaster-inspect as nobody, during a flood of %d idle connections from one "
              "uid: %.3f s from its start until it exited after its first slot update "
              "(process start, handshake, the wait for the next slot of one every 400 ms, "
              "exit)" % (self.FLOOD, took), file=sys.stderr)


class ChurnTest(unittest.TestCase):
    """Consumers come and go (killed with SIGKILL or SIGTERM) while another receives: the
    sender's descriptors, mapped rings and shm files return to where they were, its
    resident memory stays within RSS_BOUND_KIB of where it was, and the other consumer
    sees no gap and no disconnection. The baseline is taken after WARMUP consumers (and
    the update log has filled): what the allocator keeps from the first connections is
    not a leak."""

    CONSUMERS = 1000
    WARMUP = 100
    WAVE = 25  # connected at once
    RSS_BOUND_KIB = 64 * 1024  # measured: +26 MiB over 1,000, flat after (tools/soak.sh)

    def setUp(self):
        # Small rings and a small update log: what the sender holds is the consumers'.
        self.sender = Sender("--quiet", "--max_consumers", "128", "--max_pending_per_uid", "128",
                             "--ring_bytes", str(1 << 20), "--replay_bytes", str(4 << 20),
                             "--commitment_buffer_bytes", str(4 << 20))
        self.addCleanup(self.sender.stop)

    def wave(self, first):
        s = self.sender
        names = ["churn-%d" % (first + i) for i in range(self.WAVE)]
        procs = [s.inspect("--name", n, "--transactions", "all", "--quiet",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in names]
        try:
            def all_received():
                m = s.scrape()
                return all((s.value(m, "qlaster_consumer_delivered_total", consumer=n) or 0) > 0
                           for n in names)
            wait_for(all_received, "a wave of consumers receiving")
        finally:
            for i, p in enumerate(procs):
                if i % 2 == 0:
                    p.kill()
                else:
                    p.terminate()
            for p in procs:
                p.wait(timeout=DEADLINE)

    def run_churn(self, until=None, report=None):
        """Waves until CONSUMERS have come and gone (or, with `until`, until that
        monotonic time, calling report(consumers so far) after each wave)."""
        s = self.sender
        out = open(os.path.join(s.dir, "watcher.jsonl"), "w")
        # Non-vote transactions and slots, into a ring that holds minutes of them: on two
        # shared cores a thousand short-lived processes can starve the watcher for a while,
        # and the point is that the sender loses nothing for it, not that it never waits.
        watcher = s.inspect("--name", "watcher", "--transactions", "nonvote", "--slots",
                            "--json", "--ring_bytes", str(512 << 20), stdout=out)
        self.addCleanup(stop_process, watcher)
        wait_for(lambda: (s.value(s.scrape(), "qlaster_consumer_delivered_total",
                                  consumer="watcher") or 0) > 0, "the watcher receiving")
        # Only the watcher, and the rings of those that left unmapped too: the consumer
        # count falls when a consumer leaves, its ring is released a little later.
        one = lambda: (s.value(s.scrape(), "qlaster_sender_consumers") == 1
                       and s.resources()[1] == 1)
        for first in range(0, self.WARMUP, self.WAVE):
            self.wave(-1 - first)
        log_full = lambda: (s.value(s.scrape(), "qlaster_sender_update_log_bytes") or 0) > 7 << 20
        wait_for(log_full, "the update log full", timeout=120)
        wait_for(one, "only the watcher")
        baseline = s.resources()
        done = 0
        while (done < self.CONSUMERS) if until is None else (time.monotonic() < until):
            self.wave(done)
            done += self.WAVE
            if report:
                report(done, s.resources())
        wait_for(one, "the churned consumers gone")
        # Descriptors back to at most the baseline: the baseline itself may count one in
        # passing (the socket of the scrape just before it, which the metrics thread closes
        # a moment after the answer; under TSan a measurable moment).
        back = lambda: (s.resources()[0] <= baseline[0] and s.resources()[1:3] == baseline[1:3])
        wait_for(back, "descriptors (at most), mapped rings and shm files back to %s (now %s)"
                 % (baseline[:3], s.resources()[:3]))
        after = s.resources()
        if not s.sanitized():
            self.assertLess(after[3] - baseline[3], self.RSS_BOUND_KIB, (baseline, after))
        m = s.scrape()
        self.assertEqual(s.value(m, "qlaster_consumer_gaps_total", consumer="watcher"), 0)
        self.assertEqual(s.value(m, "qlaster_consumer_dropped_total", consumer="watcher"), 0)
        self.assertGreaterEqual(s.value(m, "qlaster_sender_connections_accepted_total"), done + 1)
        watcher.kill()
        watcher.wait()
        out.close()
        seqs = []
        with open(out.name) as f:
            for line in f:
                event = json.loads(line)
                self.assertNotIn(event["kind"], ("gap", "disconnected", "reconnected"), line)
                seqs.append(event["seq"])
        self.assertGreater(len(seqs), 100)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "a gap in the watcher's sequence")
        return baseline, after, done

    def test_consumers_come_and_go_without_leaks_or_gaps(self):
        start = time.monotonic()
        baseline, after, done = self.run_churn()
        print("\n%d consumers in %.1f s; sender fds/rings/shm files/RSS KiB before %s, after %s"
              % (done, time.monotonic() - start, baseline, after), file=sys.stderr)


def soak(seconds):
    """tools/soak.sh: the churn for `seconds`, a line of the curves after each wave."""
    test = ChurnTest("test_consumers_come_and_go_without_leaks_or_gaps")
    test.setUp()
    start = time.monotonic()
    print("seconds consumers fds rings shm_files rss_kib", flush=True)

    def report(done, r):
        print("%7.1f %9d %4d %5d %9d %7d" % (time.monotonic() - start, done, *r), flush=True)

    try:
        baseline, after, done = test.run_churn(until=start + seconds, report=report)
        print("soak: %d consumers in %.0f s; before %s, after %s: OK"
              % (done, time.monotonic() - start, baseline, after))
    finally:
        test.doCleanups()


def parse_args():
    """(the arguments, the rest for unittest); service_limits_test.py takes the same."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sender", required=True)
    parser.add_argument("--inspect", required=True)
    parser.add_argument("--dashboard", required=True)
    parser.add_argument("--soak_seconds", type=float, default=0,
                        help="run only the churn, for this long, printing its curves")
    return parser.parse_known_args()


def main():
    global ARGS
    ARGS, rest = parse_args()
    if ARGS.soak_seconds > 0:
        return soak(ARGS.soak_seconds)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
