#!/usr/bin/env bash
# The README's first command: takes a fresh Debian 12 machine to a running system.
# Installs what is needed, builds qlaster-sender and qlaster-inspect, starts the sender on
# its synthetic Solana-like feed, and attaches `qlaster-inspect --stats` (vote and token
# accounts, all transactions) until Ctrl-C or --duration. Cleans up after itself.
#
#   tools/demo.sh                  # until Ctrl-C
#   tools/demo.sh --duration 10    # ten seconds; any qlaster-inspect flag may follow
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
BUILD=${BUILD_DIR:-build/release}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target qlaster-sender qlaster-inspect

dir=$(mktemp -d /tmp/qlaster-demo-XXXXXX)
sock="$dir/sender.sock"
"$BUILD/sender/qlaster-sender" --socket="$sock" --quiet &
sender=$!
cleanup() {
  kill "$sender" 2>/dev/null || true
  wait "$sender" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 200); do
  [ -S "$sock" ] && break
  kill -0 "$sender" 2>/dev/null || { echo "demo: qlaster-sender did not start" >&2; exit 1; }
  sleep 0.05
done

VOTE=Vote111111111111111111111111111111111111111
TOKEN=TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA
"$BUILD/tools/inspect/qlaster-inspect" --socket="$sock" --owner="$VOTE" --owner="$TOKEN" \
  --transactions=all --stats "$@"
