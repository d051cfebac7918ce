"""Fixtures for the qlaster package's tests: a real sender with a known feed.

ctest runs these with QLASTER_LIBRARY (the built libqlaster-consumer.so) and
QLASTER_TEST_PUBLISHER (consumer/testing/publisher_main.cc: a real qlaster-sender that
publishes slot N, account A = 0x11*32 owned by 0x22*32 with data "qlaster test account",
a non-vote and a vote transaction every 2 ms).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ACCOUNT_A = "29d2S7vB453rNYFdR5Ycwt7y9haRT5fwVwL9zTmBhfV2"  # 0x11 * 32
OWNER_A = "3JF3sEqM796hk5WFqA6EtmEwJQ9quALszsfJyvXNQKy3"    # 0x22 * 32


class Publisher:
    """qlaster_test_publisher --socket PATH, started and stopped on demand."""

    def __init__(self, binary: str, socket_path: str) -> None:
        self.binary = binary
        self.socket_path = socket_path
        self.proc = None

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen([self.binary, "--socket", self.socket_path],
                                     stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()  # "ready" once listening
        assert line.strip() == "ready", f"publisher said {line!r}"
        assert time.monotonic() < deadline

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def publisher(tmp_path):
    binary = os.environ.get("QLASTER_TEST_PUBLISHER")
    if not binary:
        pytest.fail("QLASTER_TEST_PUBLISHER is not set (run through ctest)")
    p = Publisher(binary, str(tmp_path / "sender.sock"))
    p.start()
    yield p
    p.stop()
