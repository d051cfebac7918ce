#!/usr/bin/env python3
"""The Yellowstone source's added latency and its throughput, with real processes:

  a Python grpcio Yellowstone upstream (tests/yellowstone_upstream.py)
    -> qlaster-sender --source=yellowstone:http://127.0.0.1:PORT
    -> qlaster-upstream-probe (libqlaster-consumer, tools/bench/upstream_probe.cc)

Each account's lamports carry the time the upstream handed it to gRPC; the probe
reports, per account: total (upstream send -> consumer callback), upstream (-> the
sender's publish: gRPC, protobuf parse, conversion, the source's queue) and local (the
sender's publish -> callback, the shared-memory path).

Two phases: `paced` sends --rate accounts/s (absolute deadlines) for --paced_count
accounts; `max` queues --max_count accounts at once and lets gRPC go as fast as it can
(then the Python upstream, one core of two, is the limit, not the source: the sender's
CPU time is reported beside it).

Usage (Debian's python3, which has python3-grpcio):
  /usr/bin/python3 tools/bench/yellowstone_source_bench.py --build build/release [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OWNER = bytes(range(1, 33))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(ys, upstream, socket, probe, sender_pid, count, rate, size):
    p = subprocess.Popen([probe, socket, OWNER.hex(), str(count)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    if p.stdout.readline().strip() != "READY":
        raise RuntimeError("probe did not start")
    stream = upstream.wait_stream(1)
    cpu0, t0 = cpu_seconds(sender_pid), time.monotonic()
    data = bytes(size)
    start = time.monotonic()
    for i in range(count):
        if rate:
            due = start + i / rate
            while (left := due - time.monotonic()) > 0:
                time.sleep(left)
        key = i.to_bytes(4, "little") + bytes(28)
        upstream.send(ys.Stamped(ys.account(key, OWNER, 0, 1000 + i // 400, i, data)), stream)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.stdin.close()  # the probe reports what it has and exits
        p.wait(timeout=10)
    out = p.stdout.read()
    result = json.loads(out.strip().splitlines()[-1])
    result["sender_cpu_s"] = cpu_seconds(sender_pid) - cpu0
    result["wall_s"] = time.monotonic() - t0
    span = (result["last_ns"] - result["first_ns"]) / 1e9
    result["rate_per_s"] = (result["received"] - 1) / span if span > 0 else 0
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--rate", type=float, default=2000, help="paced phase, accounts/s")
    ap.add_argument("--paced_count", type=int, default=10000)
    ap.add_argument("--max_count", type=int, default=100000)
    ap.add_argument("--size", type=int, default=165, help="account data bytes")
    ap.add_argument("--json", action="store_true", help="one JSON object per phase")
    ap.add_argument("--sender_flag", action="append", default=[],
                    help="a flag for qlaster-sender (repeatable), e.g. --sender_flag=--ingest_poll=0")
    args = ap.parse_args()
    sender = os.path.join(args.build, "sender", "qlaster-sender")
    probe = os.path.join(args.build, "tools", "qlaster-upstream-probe")
    sys.path.insert(0, os.path.join(args.build, "proto", "yellowstone_python"))
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import yellowstone_upstream as ys

    with tempfile.TemporaryDirectory() as tmp:
        socket = os.path.join(tmp, "sender.sock")
        upstream = ys.Upstream()
        log = open(os.path.join(tmp, "sender.log"), "w")
        s = subprocess.Popen([sender, "--socket", socket, f"--source=yellowstone:{upstream.url}",
                              "--quiet", *args.sender_flag], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(socket):
                if time.monotonic() > deadline or s.poll() is not None:
                    raise RuntimeError("the sender did not start")
                time.sleep(0.01)
            results = {
                "paced": run_phase(ys, upstream, socket, probe, s.pid, args.paced_count,
                                   args.rate, args.size),
                "max": run_phase(ys, upstream, socket, probe, s.pid, args.max_count, 0,
                                 args.size),
            }
            inspect = os.path.join(args.build, "tools", "inspect", "qlaster-inspect")
            stats = json.loads(subprocess.run(
                [inspect, "--socket", socket, "--sender-stats", "--json"], capture_output=True,
                text=True, check=True, timeout=20).stdout)
            counters = {c["name"]: c["value"] for c in stats["source_counters"]}
        finally:
            s.terminate()
            s.wait(20)
            upstream.stop()
            log.close()
    if args.json:
        print(json.dumps({"source_counters": counters}))
    else:
        print("source counters: " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    for phase, r in results.items():
        r["phase"] = phase
        if args.json:
            print(json.dumps(r))
            continue
        us = lambda d, k: f"{d[k] / 1000:.1f}"  # noqa: E731
        print(f"{phase}: {r['received']} accounts of {args.size} B, {r['rate_per_s']:.0f}/s, "
              f"gaps {r['gaps']}, sender CPU {r['sender_cpu_s']:.2f}s over {r['wall_s']:.2f}s")
        for part in ("total_ns", "upstream_ns", "local_ns"):
            d = r[part]
            print(f"  {part[:-3]:9s} p50 {us(d, 'p50')} us  p90 {us(d, 'p90')}  p99 {us(d, 'p99')}"
                  f"  p99.9 {us(d, 'p999')}  max {us(d, 'max')}")


if __name__ == "__main__":
    main()
