#!/usr/bin/python3
"""qlaster-sender's limits, endings and logs, with the real binaries (issue 14's proof):
--max_pending and --max_consumers_per_uid refuse with the reason and free their places;
--exit_when_source_ends tells the consumers and exits 0, and without it the sender keeps
serving; the log is one format (human, or JSON lines with --log_format=json), failures to
start included, and refusals are logged with their reason and rate-limited, the lines held
back counted.

Usage: service_limits_test.py --sender PATH --inspect PATH --dashboard PATH

Runs with /usr/bin/python3 (python3-prometheus-client), with the Sender of service_test.py.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

import service_test
from service_test import DEADLINE, Sender, stop_process, wait_for


def refused(s, reason):
    return s.value(s.scrape(), "qlaster_sender_connections_refused_total", reason=reason) or 0


def connect(path, socks):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    socks.append(c)
    c.connect(path)
    return c


def answer(c):
    """What the sender wrote to a connection it refused, read until it closed."""
    c.settimeout(DEADLINE)
    data = b""
    while True:
        chunk = c.recv(4096)
        if not chunk:
            return data
        data += chunk


class LimitsTest(unittest.TestCase):
    def sockets(self):
        socks = []
        self.addCleanup(lambda: [c.close() for c in socks])
        return socks

    def test_max_pending_counts_every_uid_and_frees_its_places(self):
        s = Sender("--max_pending_per_uid", "100", "--max_pending", "8",
                   "--handshake_timeout", "120s")
        self.addCleanup(s.stop)
        socks = self.sockets()
        pending = [connect(s.socket, socks) for _ in range(8)]
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_connections_pending") == 8,
                 "8 connections pending")
        over = [connect(s.socket, socks) for _ in range(12)]
        for c in over:
            self.assertIn(b"--max_pending=8", answer(c))
        self.assertEqual(refused(s, "pending"), 12)
        # A real consumer is refused the same way, with the reason...
        p = s.inspect("--slots", "--count", "1")
        _, err = p.communicate(timeout=DEADLINE)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--max_pending=8", err)
        # ... and connects once the pending connections are gone.
        for c in pending:
            c.close()
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_connections_pending") == 0,
                 "the pending connections gone")
        p = s.inspect("--slots", "--count", "1")
        out, err = p.communicate(timeout=DEADLINE)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("slot", out)

    def test_max_consumers_per_uid_refuses_with_the_reason_and_frees_on_leaving(self):
        s = Sender("--max_consumers_per_uid", "2")
        self.addCleanup(s.stop)
        first = s.inspect("--slots", "--quiet", "--name", "first", "--duration", "120")
        self.addCleanup(stop_process, first)
        second = s.inspect("--slots", "--quiet", "--name", "second", "--duration", "120")
        self.addCleanup(stop_process, second)
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 2, "two consumers")
        third = s.inspect("--slots", "--count", "1")
        _, err = third.communicate(timeout=DEADLINE)
        self.assertNotEqual(third.returncode, 0)
        self.assertIn("already has 2 consumers (--max_consumers_per_uid=2)", err)
        self.assertEqual(refused(s, "consumers_per_uid"), 1)
        # Monitoring (--sender-stats, no Hello) is not a consumer and is not refused.
        stats = s.inspect("--sender-stats")
        _, err = stats.communicate(timeout=DEADLINE)
        self.assertEqual(stats.returncode, 0, err)
        # The two that are there still receive; one leaves and its place is free.
        self.assertIsNone(first.poll())
        first.kill()
        first.wait()
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 1, "one consumer left")
        third = s.inspect("--slots", "--count", "1")
        out, err = third.communicate(timeout=DEADLINE)
        self.assertEqual(third.returncode, 0, err)
        self.assertIn("slot", out)


class EndingsTest(unittest.TestCase):
    # Long enough that the consumer connects before the feed ends, even under a sanitizer.
    FEED = "8s"

    def test_exit_when_source_ends_tells_consumers_and_exits_0(self):
        s = Sender("--synthetic_duration", self.FEED, "--exit_when_source_ends")
        self.addCleanup(s.stop)
        out = open(os.path.join(s.dir, "consumer.jsonl"), "w+")
        self.addCleanup(out.close)
        consumer = s.inspect("--json", "--slots", "--name", "to-the-end", "--duration", "120",
                             stdout=out)
        self.addCleanup(stop_process, consumer)
        wait_for(lambda: s.value(s.scrape(), "qlaster_sender_consumers") == 1, "the consumer")
        self.assertEqual(s.proc.wait(timeout=DEADLINE + 8), 0, s.log_text())
        log = s.log_text()
        self.assertIn("source synthetic ended", log)
        self.assertIn("shutting down", log)

        def told():
            with open(out.name) as f:
                events = [json.loads(line) for line in f if line.strip()]
            ends = [e for e in events if e["kind"] == "disconnected"]
            return ends and (events, ends[0])

        events, end = wait_for(told, "the consumer told that the sender ended")
        self.assertIn("shutting down", end["reason"])
        before = events[:events.index(end)]
        self.assertTrue(any(e["kind"] == "slot" for e in before), "no slot before the end")
        # Everything published reached it: no gap reported before the goodbye.
        self.assertFalse([e for e in before if e["kind"] == "gap"])

    def test_without_it_the_sender_keeps_serving_after_the_feed(self):
        s = Sender("--synthetic_duration", "1s")
        self.addCleanup(s.stop)
        wait_for(lambda: "source synthetic ended" in s.log_text(), "the feed's end in the log")
        for _ in range(2):  # a consumer and a viewer connect after the end
            p = s.inspect("--duration", "0.5", "--quiet")
            _, err = p.communicate(timeout=DEADLINE)
            self.assertEqual(p.returncode, 0, err)
        p = s.inspect("--sender-stats")
        _, err = p.communicate(timeout=DEADLINE)
        self.assertEqual(p.returncode, 0, err)
        self.assertIsNone(s.proc.poll())
        self.assertEqual(s.value(s.scrape(), "qlaster_sender_consumers"), 0)  # still scraped


HUMAN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [DIWE] qlaster-sender: \S")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class LogTest(unittest.TestCase):
    def json_lines(self, text):
        lines = []
        for line in text.splitlines():
            event = json.loads(line)  # every line is one JSON object
            self.assertRegex(event["time"], TIME)
            self.assertIn(event["level"], ("debug", "info", "warning", "error"))
            self.assertEqual(event["program"], "qlaster-sender")
            self.assertIsInstance(event["message"], str)
            lines.append(event)
        return lines

    def test_human_by_default(self):
        s = Sender()
        self.addCleanup(s.stop)
        wait_for(lambda: "serving " in s.log_text(), "the serving line")
        lines = s.log_text().splitlines()
        self.assertGreaterEqual(len(lines), 2)
        for line in lines:
            self.assertRegex(line, HUMAN)

    def test_json_lines_and_refusals_rate_limited_with_the_count_held_back(self):
        PER_UID, FLOOD = 4, 300
        s = Sender("--log_format", "json", "--max_pending_per_uid", str(PER_UID),
                   "--handshake_timeout", "120s")
        self.addCleanup(s.stop)
        socks = []
        self.addCleanup(lambda: [c.close() for c in socks])
        start = time.monotonic()
        for _ in range(FLOOD):
            connect(s.socket, socks)
        wait_for(lambda: refused(s, "pending_per_uid") == FLOOD - PER_UID, "the flood refused")

        def refusals():
            return [e for e in self.json_lines(s.log_text())
                    if "refused [pending_per_uid]" in e["message"]]

        # One more refused connection at a time until a line says how many it held back
        # (the limiter lets one through per second once its burst is spent).
        def one_more():
            connect(s.socket, socks)
            lines = refusals()
            return lines if any(e.get("suppressed", 0) > 0 for e in lines) else None

        lines = wait_for(one_more, "a refusal line with the count it held back")
        elapsed = time.monotonic() - start
        total = refused(s, "pending_per_uid")
        for e in lines:
            self.assertEqual(e["level"], "warning")
            self.assertIn("--max_pending_per_uid=%d" % PER_UID, e["message"])
        # A burst of 20, then one a second: a few lines for hundreds of refusals, and
        # every refusal either logged or counted as held back (those after the last line
        # are counted by the next one).
        self.assertLessEqual(len(lines), 20 + 2 * (elapsed + 1), lines)
        self.assertLessEqual(len(lines) + sum(e.get("suppressed", 0) for e in lines), total)
        self.assertGreater(sum(e.get("suppressed", 0) for e in lines), 0)

    def test_a_failure_to_start_is_logged_in_the_format_chosen(self):
        missing = os.path.join(os.path.dirname(service_test.ARGS.sender), "no-such-replay")
        p = subprocess.run([service_test.ARGS.sender, "--log_format", "json",
                            "--socket", "/tmp/qlaster-unused-%d.sock" % os.getpid(),
                            "--source", "replay:" + missing],
                           capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(p.returncode, 2, p.stderr)
        errors = [e for e in self.json_lines(p.stderr) if e["level"] == "error"]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn("no-such-replay", errors[0]["message"])


def main():
    service_test.ARGS, rest = service_test.parse_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
