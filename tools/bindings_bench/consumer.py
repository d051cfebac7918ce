"""The Python side of the bindings benchmark (run.py): as consumer.cc, through the
qlaster package (poll(), the list of typed events behind events())."""
import sys
import time

import qlaster


def main() -> int:
    socket, n = sys.argv[1], int(sys.argv[2])
    with qlaster.connect(socket, name="bench-py", ring_bytes=64 << 20,
                         overflow="drop_and_count", wait="spin") as c:
        c.subscribe(owners=[b"\x22" * 32])
        print("ready", flush=True)
        sink = 0
        for _ in sys.stdin:
            got = other = 0
            t0 = time.monotonic_ns()
            while got < n and not other:  # a gap ends the round: run.py reports it
                batch = c.poll(256)
                if not batch:  # everything was published before "drain": some is missing
                    break
                for ev in batch:
                    if ev.kind == "account":
                        sink += ev.lamports + ev.data[0]
                        got += 1
                    elif ev.kind != "slot":
                        other += 1
            t1 = time.monotonic_ns()
            other += n - got
            print(f"ns {t1 - t0} other {other} sink {sink & 1}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
