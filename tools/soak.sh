#!/usr/bin/env bash
# On demand (not in CI): tests/service_test.py's churn for longer. Consumers connect,
# subscribe to every transaction, receive and are killed (SIGKILL for half, SIGTERM for
# the rest), 25 at a time, while a watcher receives; prints a line per wave (elapsed
# seconds, consumers so far, and the sender's open descriptors, mapped rings, shm files
# and resident KiB), then checks what the test checks: descriptors, rings and files back
# to where they started, RSS within the stated bound, no gap for the watcher.
#
#   tools/soak.sh --duration 30m      # also 90s, 2h; the default is 30m
#   tools/soak.sh --duration 10m > curves.txt
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30m
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --duration=*) duration=${1#--duration=}; shift ;;
    *) echo "soak.sh: unknown argument '$1' (usage: tools/soak.sh [--duration 30m])" >&2; exit 64 ;;
  esac
done
case "$duration" in
  *h) seconds=$(( ${duration%h} * 3600 )) ;;
  *m) seconds=$(( ${duration%m} * 60 )) ;;
  *s) seconds=${duration%s} ;;
  *[!0-9]*|'') echo "soak.sh: --duration: '$duration' is not N, Ns, Nm or Nh" >&2; exit 64 ;;
  *) seconds=$duration ;;
esac

BUILD=${BUILD_DIR:-build/release}
cmake --build "$BUILD" --target qlaster-sender qlaster-inspect >/dev/null
exec /usr/bin/python3 tests/service_test.py --sender "$BUILD/sender/qlaster-sender" \
  --inspect "$BUILD/tools/inspect/qlaster-inspect" --dashboard docs/grafana-dashboard.json \
  --soak_seconds "$seconds"
