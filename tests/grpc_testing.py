"""What the qlaster-grpc suites share: a Subscribe stream driven from a thread, starting
and stopping the processes, scraping a metrics endpoint with prometheus_client's parser
(relay_test.py scrapes the relay's with it too).

The caller puts the build's Yellowstone stubs on sys.path before importing this.
"""
import os
import queue
import re
import subprocess
import threading
import time
import urllib.request

import grpc
from prometheus_client.parser import text_string_to_metric_families

TIMEOUT = 20.0  # seconds, for any one thing to happen


class Stream:
    """One Subscribe stream: requests go in through a queue, updates come out of one."""

    def __init__(self, stub, first, metadata=()):
        self.requests = queue.Queue()
        self.requests.put(first)
        self.updates = queue.Queue()
        self.error = None
        self.call = stub.Subscribe(self._requests(), metadata=metadata)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _requests(self):
        while True:
            r = self.requests.get()
            if r is None:
                return
            yield r

    def _read(self):
        try:
            for u in self.call:
                self.updates.put(u)
        except grpc.RpcError as e:
            self.error = e
        self.updates.put(None)

    def send(self, request):
        self.requests.put(request)

    def next(self, predicate=lambda u: True):
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching update")
            try:
                u = self.updates.get(timeout=left)
            except queue.Empty:
                continue
            if u is None:
                raise RuntimeError(f"stream ended: {self.error}")
            if predicate(u):
                return u

    def take(self, n, predicate=lambda u: True):
        return [self.next(predicate) for _ in range(n)]

    def wait_error(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                u = self.updates.get(timeout=0.1)
            except queue.Empty:
                continue
            if u is None:
                return self.error
        raise TimeoutError("the stream did not end")

    def close(self):
        self.call.cancel()
        self.requests.put(None)
        self.thread.join(TIMEOUT)


def unread_subscribe(stub, request, metadata=()):
    """A Subscribe call sending `request` whose responses nobody reads until the caller
    iterates it: the client's buffers fill, then the server's. Returns (call, release);
    release() ends the request stream; the caller cancels the call."""
    hold = threading.Event()

    def requests():
        yield request
        hold.wait()
    return stub.Subscribe(requests(), metadata=metadata), hold.set


def stop_processes(processes):
    """SIGTERM each in turn, SIGKILL one that outlasts TIMEOUT."""
    for p in processes:
        p.terminate()
        try:
            p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def kind(u):
    return u.WhichOneof("update_oneof")


def read_log(path):
    with open(path) as f:
        return f.read()


def wait_for_log(proc, path, pattern, what):
    """The first match of `pattern` in the log at `path`, waiting for it."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        m = re.search(pattern, read_log(path))
        if m:
            return m
        assert proc.poll() is None, f"{what} exited: {read_log(path)}"
        assert time.monotonic() < deadline, f"{what}: no '{pattern}' in {read_log(path)}"
        time.sleep(0.01)


class Daemon:
    """A process whose output goes to a log file in `directory`."""

    def __init__(self, args, directory, name, env=None):
        self.log_path = os.path.join(directory, f"{name}.log")
        self.log_file = open(self.log_path, "w")
        self.name = name
        self.proc = subprocess.Popen(args, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=env)

    def log(self):
        self.log_file.flush()
        return read_log(self.log_path)

    def wait_for(self, pattern):
        return wait_for_log(self.proc, self.log_path, pattern, self.name)

    def stop(self):
        stop_processes([self.proc])
        self.log_file.close()


def start_sender(binary, directory, *flags, name="sender"):
    """A synthetic qlaster-sender on a socket in `directory`; returns (Daemon, socket)."""
    socket = os.path.join(directory, f"{name}.sock")
    d = Daemon([binary, "--socket", socket, *flags], directory, name)
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(socket):
        assert d.proc.poll() is None, f"the sender exited: {d.log()}"
        assert time.monotonic() < deadline, "the sender never listened"
        time.sleep(0.01)
    return d, socket


def start_grpc(binary, directory, socket, *flags, name="grpc", env=None):
    """qlaster-grpc on 127.0.0.1:0 (and whatever `flags` add); returns (Daemon, port)."""
    d = Daemon([binary, "--socket", socket, "--listen", "127.0.0.1:0", *flags], directory, name,
               env=env)
    port = int(d.wait_for(r"serving on 127\.0\.0\.1:(\d+)").group(1))
    return d, port


def metrics_address(daemon):
    return daemon.wait_for(r"metrics at http://([0-9.:\[\]]+)/metrics").group(1)


def scrape(address):
    """{sample name: [(labels, value)]} of http://ADDRESS/metrics, by the Prometheus parser."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=TIMEOUT) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        text = r.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(metrics, name, **labels):
    """The sample of `name` whose labels include `labels` (None if there is none)."""
    for l, v in metrics.get(name, []):
        if all(l.get(k) == val for k, val in labels.items()):
            return v
    return None
