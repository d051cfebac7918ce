#!/usr/bin/env python3
"""A minimal bot: follow one account (base58) and every non-vote transaction, and print
what arrives. Run by the test suite against a real sender (with --count).

    bot.py [--socket PATH] [--count N] PUBKEY
"""
import argparse
import sys

import qlaster


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pubkey", help="the account to follow, base58")
    ap.add_argument("--socket", default=qlaster.default_socket_path())
    ap.add_argument("--count", type=int, default=0, help="stop after N updates (0: never)")
    args = ap.parse_args()

    try:
        with qlaster.connect(args.socket, name="example-bot-py") as c:
            c.subscribe(accounts=[args.pubkey], transactions="nonvote")
            seen = 0
            for ev in c.events(timeout=None):
                if ev.kind == "account":
                    # ev.data is a view, valid until the next event: bytes(ev.data) keeps it.
                    print(f"seq {ev.sequence} account {ev.pubkey} lamports={ev.lamports} "
                          f"data={len(ev.data)} bytes")
                elif ev.kind == "transaction":
                    print(f"seq {ev.sequence} transaction {ev.signature} slot={ev.slot}")
                elif ev.kind == "gap":
                    print(f"missed {ev.dropped} updates")
                elif ev.kind == "disconnected":
                    print(f"sender gone: {ev.reason}")
                elif ev.kind == "reconnected":
                    print("reconnected; sequence restarted")
                if ev.kind in ("account", "transaction"):
                    seen += 1
                    if args.count and seen >= args.count:
                        return 0
    except qlaster.Error as e:
        print(f"bot.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
