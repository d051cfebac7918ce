#!/usr/bin/env python3
"""qlaster-grpc as a service, with real processes (qlaster-sender, synthetic feed ->
qlaster-grpc -> Python grpcio clients on the build's Yellowstone stubs):

- per-stream drops and gaps in the metrics endpoint, for a stream whose client stops
  reading under --overflow=drop (the sender's own metrics say when it dropped);
- TLS (--tls_cert/--tls_key, certificates from tools/make_test_certs.sh): a client that
  trusts the test CA is served, a plaintext one is not; and the round trip through TLS:
  a second sender with --source=yellowstone:https://... receives the stream;
- gzip: through a TCP proxy that reads the HTTP/2 frames, a client asking for gzip gets
  compressed messages and one that accepts only identity gets none;
- Yellowstone's filter limits (--limit_*): each refused with INVALID_ARGUMENT naming it.

Usage: grpc_service_test.py SENDER GRPC INSPECT STUBS_DIR MAKE_TEST_CERTS
Run with Debian's /usr/bin/python3 (python3-grpcio, python3-prometheus-client).
"""
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SENDER, GRPC, INSPECT, STUBS, MAKE_CERTS = sys.argv[1:6]
del sys.argv[1:6]
sys.path.insert(0, STUBS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
import geyser_pb2 as g  # noqa: E402
import geyser_pb2_grpc as gg  # noqa: E402
from base58_text import b58  # noqa: E402
from grpc_testing import (TIMEOUT, Stream, kind, metrics_address, scrape, start_grpc,  # noqa: E402
                          start_sender, unread_subscribe, value)

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
VOTE_PROGRAM = "Vote111111111111111111111111111111111111111"


def slots_request():
    r = g.SubscribeRequest()
    r.slots["s"].SetInParent()
    return r


class Fixture(unittest.TestCase):
    """A temporary directory, and processes stopped at the end (last started, first)."""

    def setUp(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        self.dir = d.name
        self.daemons = []
        self.addCleanup(lambda: [x.stop() for x in reversed(self.daemons)])

    def sender(self, *flags, name="sender"):
        d, sock = start_sender(SENDER, self.dir, "--quiet", *flags, name=name)
        self.daemons.append(d)
        return d, sock

    def grpc(self, sock, *flags, name="grpc", env=None):
        d, port = start_grpc(GRPC, self.dir, sock, *flags, name=name, env=env)
        self.daemons.append(d)
        return d, port

    def stream(self, stub, request):
        s = Stream(stub, request)
        self.addCleanup(s.close)
        return s

    def channel(self, target, **kw):
        ch = grpc.insecure_channel(target, **kw)
        self.addCleanup(ch.close)
        return ch


class Drops(Fixture):
    def test_stream_drops_and_gaps_are_counted(self):
        sender, sock = self.sender("--metrics_address=127.0.0.1:0")
        sender_metrics = metrics_address(sender)
        grpcd, port = self.grpc(sock, "--overflow=drop", "--slow_client_timeout=600s",
                                "--ring_bytes=1048576", "--metrics_address=127.0.0.1:0")
        endpoint_metrics = metrics_address(grpcd)
        stub = gg.GeyserStub(self.channel(f"127.0.0.1:{port}"))
        r = g.SubscribeRequest()
        r.accounts["all"].SetInParent()
        r.transactions["all"].SetInParent()
        call, release = unread_subscribe(stub, r)
        self.addCleanup(release)
        self.addCleanup(call.cancel)
        # Nobody reads: gRPC's buffers fill, then the stream's queue, then its ring; the
        # sender drops for its consumer (and says so in its own metrics).
        deadline = time.monotonic() + 6 * TIMEOUT
        while True:
            m = scrape(sender_metrics)
            dropped = [v for l, v in m.get("qlaster_consumer_dropped_total", [])
                       if l["consumer"].startswith("grpc ")]
            if dropped and max(dropped) > 0:
                break
            self.assertLess(time.monotonic(), deadline, "the sender never dropped for the stream")
            time.sleep(0.1)
        # Read again: the stream's consumer reaches the gap record and counts it.
        got = {"n": 0}

        def read():
            try:
                for _ in call:
                    got["n"] += 1
            except grpc.RpcError:  # cancelled at the end of the test
                pass
        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 6 * TIMEOUT
        while True:
            m = scrape(endpoint_metrics)
            d = m.get("qlaster_grpc_stream_dropped_total", [])
            gaps = m.get("qlaster_grpc_stream_gaps_total", [])
            if d and d[0][1] > 0 and gaps and gaps[0][1] > 0:
                break
            self.assertLess(time.monotonic(), deadline, f"no drops counted: {d} {gaps}")
            time.sleep(0.1)
        # The gap is told as soon as the stream's ring has room (not with the next update),
        # so the counters may move before the client has a message: wait for one.
        deadline = time.monotonic() + 6 * TIMEOUT
        while got["n"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreater(got["n"], 0)
        self.assertEqual(value(m, "qlaster_grpc_streams_open"), 1)


class Tls(Fixture):
    def setUp(self):
        super().setUp()
        self.certs = os.path.join(self.dir, "certs")
        subprocess.run(["sh", MAKE_CERTS, self.certs], check=True, timeout=60)

    def cert(self, name):
        return os.path.join(self.certs, name)

    def tls_endpoint(self, *flags):
        """A sender and a qlaster-grpc serving TLS with the test CA's server certificate;
        returns (the sender's socket, the TLS port)."""
        _, sock = self.sender(name="a")
        _, port = self.grpc(sock, f"--tls_cert={self.cert('server.pem')}",
                            f"--tls_key={self.cert('server.key')}", *flags)
        return sock, port

    def test_tls(self):
        unix = os.path.join(self.dir, "grpc.sock")
        _, port = self.tls_endpoint("--listen", f"unix:{unix}")
        with open(self.cert("ca.pem"), "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        secure = grpc.secure_channel(f"localhost:{port}", creds)
        self.addCleanup(secure.close)
        stub = gg.GeyserStub(secure)
        self.assertEqual(stub.Ping(g.PingRequest(count=4), timeout=TIMEOUT).count, 4)
        self.stream(stub, slots_request()).next(lambda u: kind(u) == "slot")
        # Plaintext to the TLS port: refused.
        with self.assertRaises(grpc.RpcError) as e:
            gg.GeyserStub(self.channel(f"127.0.0.1:{port}")).Ping(g.PingRequest(count=1), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # gRPC's own line about it is in qlaster's log format, as is every other line.
        endpoint = self.daemons[-1]
        endpoint.wait_for(r"W qlaster-grpc: grpc: [a-z_]+\.cc:\d+: .*[Hh]andshake")
        for line in endpoint.log().splitlines():
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [DIWE] qlaster-grpc: ")
        # A CA that did not sign the server's certificate: refused.
        with open(self.cert("other-ca.pem"), "rb") as f:
            other = grpc.secure_channel(f"localhost:{port}",
                                        grpc.ssl_channel_credentials(root_certificates=f.read()))
        self.addCleanup(other.close)
        with self.assertRaises(grpc.RpcError) as e:
            gg.GeyserStub(other).Ping(g.PingRequest(count=1), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # The Unix socket stays plaintext.
        stub = gg.GeyserStub(self.channel(f"unix:{unix}"))
        self.assertEqual(stub.Ping(g.PingRequest(count=6), timeout=TIMEOUT).count, 6)

    def test_untrusted_upstream_is_not_used(self):
        # The sender verifies the upstream against --yellowstone_tls_ca: a CA that did not
        # sign it gets nothing through (the source keeps retrying; the test reads its count).
        _, port = self.tls_endpoint()
        _, b_sock = self.sender(f"--source=yellowstone:https://localhost:{port}",
                                f"--yellowstone_tls_ca={self.cert('other-ca.pem')}", name="b")
        deadline = time.monotonic() + 3 * TIMEOUT
        while True:
            out = subprocess.run([INSPECT, "--socket", b_sock, "--sender-stats", "--json"],
                                 capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
            c = {x["name"]: x["value"] for x in json.loads(out)["source_counters"]}
            if c.get("stream_errors", 0) >= 2:
                break
            self.assertLess(time.monotonic(), deadline, c)
            time.sleep(0.1)
        self.assertEqual(c.get("messages", 0), 0, c)

    def test_round_trip_through_tls(self):
        _, port = self.tls_endpoint()
        b, b_sock = self.sender(f"--source=yellowstone:https://localhost:{port}",
                                f"--yellowstone_tls_ca={self.cert('ca.pem')}", name="b")
        inspect = subprocess.Popen([INSPECT, "--socket", b_sock, "--json", "--owner", VOTE_PROGRAM,
                                    "--slots", "--transactions", "all"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: (inspect.kill(), inspect.wait(), inspect.stdout.close()))
        events = queue.Queue()

        def read():
            for line in inspect.stdout:
                if line.endswith("\n"):
                    events.put(json.loads(line))
        threading.Thread(target=read, daemon=True).start()
        kinds = set()
        deadline = time.monotonic() + 3 * TIMEOUT
        while kinds != {"account", "transaction", "slot"}:
            self.assertLess(time.monotonic(), deadline, f"B got only {kinds}: {b.log()}")
            try:
                e = events.get(timeout=1)
            except queue.Empty:
                continue
            self.assertNotEqual(e["kind"], "gap", e)
            kinds.add(e["kind"])


class FrameCountingProxy:
    """A TCP proxy in front of qlaster-grpc that reads the server's HTTP/2 frames and
    records the compressed flag of every gRPC message in them (DATA frames carry
    messages as `u8 compressed | u32 length | bytes`)."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.flags = []
        self.lock = threading.Lock()
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump_and_read, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump_and_read(self, src, dst):
        buf = b""
        messages = {}  # stream id -> bytes of its DATA not yet split into messages
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
                buf += b
                while len(buf) >= 9:
                    length = int.from_bytes(buf[0:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, fflags = buf[3], buf[4]
                    sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                    payload = buf[9:9 + length]
                    buf = buf[9 + length:]
                    if ftype != 0:
                        continue
                    if fflags & 0x8:  # PADDED
                        payload = payload[1:len(payload) - payload[0]]
                    data = messages.get(sid, b"") + payload
                    while len(data) >= 5:
                        n = struct.unpack(">I", data[1:5])[0]
                        if len(data) < 5 + n:
                            break
                        with self.lock:
                            self.flags.append(data[0])
                        data = data[5 + n:]
                    messages[sid] = data
        except OSError:
            pass

    def take_flags(self):
        with self.lock:
            out, self.flags = self.flags, []
        return out

    def close(self):
        self.listener.close()
        for s in self.sockets:
            s.close()


class Gzip(Fixture):
    def through_proxy(self, *grpc_flags):
        """A sender and a qlaster-grpc with `grpc_flags`, behind a FrameCountingProxy."""
        _, sock = self.sender()
        _, port = self.grpc(sock, *grpc_flags)
        proxy = FrameCountingProxy(port)
        self.addCleanup(proxy.close)
        return proxy

    def flags_of_200_accounts(self, proxy, **channel_args):
        """The compressed flags of the messages of a stream of 200 token accounts."""
        r = g.SubscribeRequest()
        r.accounts["tokens"].owner.append(TOKEN_PROGRAM)
        s = self.stream(gg.GeyserStub(self.channel(f"127.0.0.1:{proxy.port}", **channel_args)), r)
        for u in s.take(200, lambda u: kind(u) == "account"):
            self.assertEqual(b58(u.account.account.owner), TOKEN_PROGRAM)
        s.close()
        flags = proxy.take_flags()
        self.assertGreaterEqual(len(flags), 200)
        return flags

    def test_gzip_when_the_client_asks(self):
        proxy = self.through_proxy("--compression=gzip")
        # A client asking for gzip (it sends gzip and its grpc-accept-encoding lists it).
        flags = self.flags_of_200_accounts(proxy, compression=grpc.Compression.Gzip)
        self.assertIn(1, flags)  # gRPC sends a message that gzip would grow uncompressed
        self.assertTrue(set(flags) <= {0, 1}, set(flags))
        # A client that accepts identity alone (bit 0 of the enabled set): nothing compressed.
        # Through a proxy of its own, so that frames still in flight to the first client
        # are not counted as this one's.
        flags = self.flags_of_200_accounts(
            self.through_proxy("--compression=gzip"),
            options=[("grpc.compression_enabled_algorithms_bitset", 1)])
        self.assertEqual(set(flags), {0})

    def test_compression_none(self):
        proxy = self.through_proxy()  # the default
        flags = self.flags_of_200_accounts(proxy, compression=grpc.Compression.Gzip)
        self.assertEqual(set(flags), {0})


K1 = b58(bytes([1] * 32))
K2 = b58(bytes([2] * 32))
K3 = b58(bytes([3] * 32))
K4 = b58(bytes([4] * 32))


class Limits(Fixture):
    @classmethod
    def setUpClass(cls):
        cls.limit_flags = [
            "--limit_accounts_max=2", "--limit_accounts_any=false",
            "--limit_accounts_account_max=2", f"--limit_accounts_account_reject={K1}",
            "--limit_accounts_owner_max=1", f"--limit_accounts_owner_reject={K2}",
            "--limit_accounts_data_slice_max=1", "--limit_slots_max=1",
            "--limit_transactions_max=1", "--limit_transactions_any=false",
            "--limit_transactions_account_include_max=1",
            f"--limit_transactions_account_include_reject={K3}",
            "--limit_transactions_account_exclude_max=1",
            "--limit_transactions_account_required_max=1",
            "--limit_transactions_status_max=1", "--limit_transactions_status_any=false",
            "--limit_transactions_status_account_include_max=1",
            f"--limit_transactions_status_account_include_reject={K3}",
            "--limit_transactions_status_account_exclude_max=1",
            "--limit_transactions_status_account_required_max=1",
            "--limit_blocks_meta_max=1", "--limit_entry_max=1",
        ]

    def test_each_limit(self):
        _, sock = self.sender()
        grpcd, port = self.grpc(sock, *self.limit_flags, "--metrics_address=127.0.0.1:0")
        stub = gg.GeyserStub(self.channel(f"127.0.0.1:{port}"))
        # Within every limit: served.
        ok = g.SubscribeRequest()
        ok.accounts["a"].owner.append(VOTE_PROGRAM)
        ok.accounts["b"].account.extend([K4, b58(bytes([5] * 32))])
        ok.accounts_data_slice.add(offset=0, length=8)
        ok.slots["s"].SetInParent()
        ok.transactions["t"].account_include.append(VOTE_PROGRAM)
        ok.transactions_status["t"].account_required.append(VOTE_PROGRAM)
        ok.blocks_meta["m"].SetInParent()
        ok.entry["e"].SetInParent()
        s = self.stream(stub, ok)
        s.next(lambda u: kind(u) == "slot")
        s.next(lambda u: kind(u) == "account")
        s.close()

        def case(flag, edit):
            r = g.SubscribeRequest()
            r.slots["s"].SetInParent()
            edit(r)
            return flag, r

        def accounts(n):
            return lambda r: [r.accounts[f"a{i}"].owner.append(VOTE_PROGRAM) for i in range(n)]

        def txs(field, edit):
            return lambda r: edit(getattr(r, field)["t"])

        cases = [
            case("limit_accounts_max", accounts(3)),
            case("limit_accounts_any=false", lambda r: r.accounts["a"].SetInParent()),
            case("limit_accounts_account_max",
                 lambda r: r.accounts["a"].account.extend([K4, K3, b58(bytes([6] * 32))])),
            case("limit_accounts_account_reject", lambda r: r.accounts["a"].account.append(K1)),
            case("limit_accounts_owner_max", lambda r: r.accounts["a"].owner.extend([K3, K4])),
            case("limit_accounts_owner_reject", lambda r: r.accounts["a"].owner.append(K2)),
            case("limit_accounts_data_slice_max",
                 lambda r: [r.accounts_data_slice.add(offset=i, length=1) for i in range(2)]),
            case("limit_slots_max", lambda r: r.slots["s2"].SetInParent()),
            case("limit_blocks_meta_max",
                 lambda r: [r.blocks_meta[n].SetInParent() for n in ("m1", "m2")]),
            case("limit_entry_max", lambda r: [r.entry[n].SetInParent() for n in ("e1", "e2")]),
        ]
        for field in ("transactions", "transactions_status"):
            cases += [
                case(f"limit_{field}_max", lambda r, f=field: [
                    getattr(r, f)[n].account_include.append(K4) for n in ("t1", "t2")]),
                case(f"limit_{field}_any=false",
                     txs(field, lambda t: t.SetInParent())),
                case(f"limit_{field}_account_include_max",
                     txs(field, lambda t: t.account_include.extend([K4, K2]))),
                case(f"limit_{field}_account_include_reject",
                     txs(field, lambda t: t.account_include.append(K3))),
                case(f"limit_{field}_account_exclude_max",
                     txs(field, lambda t: t.account_exclude.extend([K4, K2]))),
                case(f"limit_{field}_account_required_max",
                     txs(field, lambda t: t.account_required.extend([K4, K2]))),
            ]
        for flag, request in cases:
            with self.subTest(flag=flag):
                e = self.stream(stub, request).wait_error()
                self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT, e.details())
                self.assertIn(f"--{flag}", e.details())
                self.assertIn("failed to create filter", e.details())
        m = scrape(metrics_address(grpcd))
        self.assertEqual(value(m, "qlaster_grpc_requests_rejected_total", reason="filter_limit"),
                         len(cases))
        # A replacing request over a limit ends the stream the same way.
        s = self.stream(stub, slots_request())
        s.next(lambda u: kind(u) == "slot")
        s.send(cases[0][1])
        self.assertEqual(s.wait_error().code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_bad_limit_flags(self):
        for flags in (["--limit_accounts_max=-2"], [f"--limit_accounts_owner_reject=notakey0"],
                      ["--tls_cert=/nonexistent"], ["--compression=zstd"],
                      ["--tls_cert=/nonexistent", "--tls_key=/nonexistent"],
                      ["--metrics_address=nowhere"]):
            p = subprocess.run([GRPC, "--socket", "/nonexistent", *flags], capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 64, (flags, p.stderr))
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
