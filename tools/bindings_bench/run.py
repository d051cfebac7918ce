#!/usr/bin/env python3
"""The bindings benchmark: per-update cost of one spinning consumer in C++, C, Python and
Rust, in the same run, against the same real sender.

One consumer per binding is connected to qlaster_bindings_feed (a real sender). Each
round the feed publishes N account updates (165-byte data, an SPL Token account's size)
into every consumer's 64 MiB ring while they wait; then each consumer in turn (the order
rotates) drains its N updates as fast as its binding lets it, spinning, touching each
(lamports and the first data byte), and reports the time. So the number is the
consumer's own cost per update, from a full ring: the library's read path plus what the
binding adds (event conversion, callbacks, objects), not the sender's.

    tools/bindings_bench/run.py [--build build/release] [--updates 50000] [--rounds 9]

Prints, per binding, the median over rounds of updates/s and ns/update (and the spread).
Needs the build's qlaster_bindings_feed, bindings_bench_cpp and bindings_bench_c, the
Python package (python/) and cargo (it builds the Rust example in release mode).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(cmd, env=None):
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env, bufsize=1)


def expect(proc, prefix, what):
    line = proc.stdout.readline()
    if not line.startswith(prefix):
        raise SystemExit(f"{what}: expected {prefix!r}, got {line!r} (exit {proc.poll()})")
    return line.split()


def main() -> int:
    ap = argparse.ArgumentParser(description="per-update cost of each binding")
    ap.add_argument("--build", default=str(ROOT / "build" / "release"))
    ap.add_argument("--updates", type=int, default=50_000,
                    help="updates per round (each consumer's ring is 64 MiB)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=4, help="untimed rounds first")
    ap.add_argument("--only", default="cpp,c,python,rust")
    args = ap.parse_args()
    build = Path(args.build).resolve()
    lib_dir = build / "consumer"
    bench_dir = build / "tools" / "bindings_bench"

    env = dict(os.environ)
    env["QLASTER_LIBRARY"] = str(lib_dir / "libqlaster-consumer.so")
    env["PYTHONPATH"] = str(ROOT / "python")
    env["QLASTER_LIB_DIR"] = str(lib_dir)
    env["CARGO_TARGET_DIR"] = str(build / "rust" / "target")

    consumers = {
        "cpp": [str(bench_dir / "bindings_bench_cpp")],
        "c": [str(bench_dir / "bindings_bench_c")],
        "python": ["/usr/bin/python3", str(ROOT / "tools" / "bindings_bench" / "consumer.py")],
        "rust": [str(build / "rust" / "target" / "release" / "examples" / "bench_consumer")],
    }
    wanted = args.only.split(",")
    if "rust" in wanted:
        subprocess.run(["cargo", "build", "--offline", "--quiet", "--release", "--manifest-path",
                        str(ROOT / "rust" / "Cargo.toml"), "-p", "qlaster", "--example",
                        "bench_consumer"], env=env, check=True)

    # Every consumer is connected at once, so each round's updates go into every ring;
    # then the consumers drain in turn, in an order that rotates, so that a noisy moment
    # of the machine falls on each binding alike.
    results = {name: [] for name in wanted}
    with tempfile.TemporaryDirectory(prefix="qlaster-bindings-bench-") as tmp:
        socket = os.path.join(tmp, "sender.sock")
        feed = start([str(bench_dir / "qlaster_bindings_feed"), socket])
        procs = {}
        try:
            expect(feed, "ready", "feed")
            for name in wanted:
                procs[name] = start(consumers[name] + [socket, str(args.updates)], env=env)
                expect(procs[name], "ready", name)
            for r in range(args.warmup + args.rounds):
                feed.stdin.write(f"{args.updates}\n")
                expect(feed, "published", "feed")
                order = wanted[r % len(wanted):] + wanted[:r % len(wanted)]
                for name in order:
                    procs[name].stdin.write("drain\n")
                    fields = expect(procs[name], "ns", name)
                    ns, other = int(fields[1]), int(fields[3])
                    if other:
                        raise SystemExit(f"{name}: {other} events other than accounts "
                                         "(a gap?): the ring was too small")
                    if r >= args.warmup:  # warm-up rounds fault the ring's pages in
                        results[name].append(ns)
        finally:
            for p in procs.values():
                p.stdin.close()
                p.wait(timeout=30)
            feed.stdin.close()
            feed.wait(timeout=30)

    print(f"bindings: {args.updates} account updates (165 B data) per round, "
          f"median of {args.rounds} rounds after {args.warmup} untimed, each binding's consumer "
          f"draining its full ring in turn")
    print(f"{'binding':<8} {'updates/s':>12} {'ns/update':>10} {'ns min':>8} {'ns max':>8}")
    for name, times in results.items():
        per = [t / args.updates for t in times]
        med = statistics.median(per)
        print(f"{name:<8} {1e9 / med:>12,.0f} {med:>10.1f} {min(per):>8.1f} {max(per):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
