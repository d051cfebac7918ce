#!/usr/bin/env python3
"""The qlaster-grpc benchmark: updates/s and latency through qlaster-grpc for N Subscribe
streams (Python grpcio clients, one process each), beside the shared-memory path
(qlaster-inspect --stats) of the same run, on the synthetic feed.

Latency is publish in the sender (SubscribeUpdate.created_at, the sender's CLOCK_REALTIME
publish time) -> the Python client's receipt of the message (every 16th message is decoded
for it; the others are counted as bytes, so that Python's decoding does not bound the
rate measured). Every stream and
the shared-memory consumer ask for the same updates: accounts owned by the Vote and Token
programs, every transaction, slots.

Usage: run.py --build BUILD_DIR [--streams 1,8] [--seconds 10] [--rate 1.0]
              [--client python|cpp] [--compression none|gzip]
Run with Debian's /usr/bin/python3 (python3-grpcio).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

OWNERS = ["Vote111111111111111111111111111111111111111",
          "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"]

CLIENT = r'''
import json, sys, time, threading
sys.path.insert(0, sys.argv[1])
import grpc, geyser_pb2 as g, geyser_pb2_grpc as gg
target, seconds, owners = sys.argv[2], float(sys.argv[3]), sys.argv[4].split(",")
stub_channel = grpc.insecure_channel(target)
done = threading.Event()
def requests():
    r = g.SubscribeRequest()
    r.accounts["a"].owner.extend(owners)
    r.transactions["t"].SetInParent()
    r.slots["s"].SetInParent()
    yield r
    done.wait()
n, lat = 0, []
start = None
# Raw bytes: the client decodes one message in 16 (for its created_at), so that the
# Python client's protobuf decoding does not bound what is measured.
raw = stub_channel.stream_stream("/geyser.Geyser/Subscribe",
                                 request_serializer=g.SubscribeRequest.SerializeToString,
                                 response_deserializer=lambda b: b)
call = raw(requests())
ended = ""
def updates():
    global ended
    try:
        yield from call
    except grpc.RpcError as e:
        ended = f"{e.code().name}: {e.details()}"
for b in updates():
    now = time.time_ns()
    if start is None:
        start = now
        continue
    n += 1
    if n % 16 == 0 and len(lat) < 200000:
        u = g.SubscribeUpdate.FromString(b)
        lat.append(now - (u.created_at.seconds * 1_000_000_000 + u.created_at.nanos))
    if now - start > seconds * 1e9:
        break
elapsed = (time.time_ns() - start) / 1e9
done.set()
call.cancel()
lat.sort()
print(json.dumps({"n": n, "rate": n / elapsed, "ended": ended,
                  "p50_us": lat[len(lat) // 2] / 1e3, "p99_us": lat[int(len(lat) * 0.99)] / 1e3}))
'''


def wait_for(pred, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--streams", default="1,8")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=1.0)
    ap.add_argument("--client", choices=["python", "cpp"], default="python",
                    help="python: grpcio, one process per stream; cpp: "
                         "tools/grpc_bench/client.cc (gRPC C++), one process per stream")
    ap.add_argument("--compression", choices=["none", "gzip"], default="none",
                    help="qlaster-grpc --compression (gRPC-core clients list gzip, so with "
                         "gzip every stream here is compressed)")
    a = ap.parse_args()
    sender = os.path.join(a.build, "sender/qlaster-sender")
    grpc_bin = os.path.join(a.build, "grpc_server/qlaster-grpc")
    inspect = os.path.join(a.build, "tools/inspect/qlaster-inspect")
    stubs = os.path.join(a.build, "proto/yellowstone_python")
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "s.sock")
        slog = open(os.path.join(d, "sender.log"), "w")
        glog_path = os.path.join(d, "grpc.log")
        glog = open(glog_path, "w")
        sp = subprocess.Popen([sender, "--socket", sock, "--quiet", f"--rate={a.rate}"],
                              stdout=slog, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(sock), "the sender")
        gp = subprocess.Popen([grpc_bin, "--socket", sock, "--listen", "127.0.0.1:0",
                               f"--compression={a.compression}"],
                              stdout=glog, stderr=subprocess.STDOUT)
        port = []

        def listening():
            m = re.search(r"serving on 127\.0\.0\.1:(\d+)", open(glog_path).read())
            if m:
                port.append(m.group(1))
            return bool(m)
        wait_for(listening, "qlaster-grpc")
        target = f"127.0.0.1:{port[0]}"
        try:
            for n in [int(x) for x in a.streams.split(",")]:
                shm = subprocess.Popen(
                    [inspect, "--socket", sock, "--owner", ",".join(OWNERS), "--transactions",
                     "all", "--slots", "--stats", "--duration", str(a.seconds + 2)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                cpp = os.path.join(a.build, "tools/grpc_bench/qlaster_grpc_bench_client")
                command = ([cpp, target] if a.client == "cpp" else
                           [sys.executable, "-c", CLIENT, stubs, target])
                clients = [subprocess.Popen(command + [str(a.seconds), ",".join(OWNERS)],
                                            stdout=subprocess.PIPE, text=True)
                           for _ in range(n)]
                results = [json.loads(c.communicate()[0]) for c in clients]
                shm_out = shm.communicate()[0].strip().splitlines()
                total = sum(r["rate"] for r in results)
                for r in results:
                    if r["ended"]:
                        print(f"    a stream ended after {r['n']:,} updates: {r['ended']}")
                print(f"rate {a.rate}  {a.client} client  {n} gRPC stream(s): {total:,.0f} updates/s in all, "
                      f"{total / n:,.0f}/s per stream; latency p50 "
                      f"{sorted(r['p50_us'] for r in results)[n // 2]:,.0f} us, p99 (worst stream) "
                      f"{max(r['p99_us'] for r in results):,.0f} us")
                line = [s for s in shm_out if "lat p50" in s]
                print(f"    shared memory (qlaster-inspect, same run): {line[-2] if len(line) > 1 else line}")
        finally:
            for line in open(glog_path):
                if "ends:" in line:
                    print("    qlaster-grpc:", line.strip())
            gp.terminate()
            gp.wait()
            sp.terminate()
            sp.wait()


if __name__ == "__main__":
    main()
