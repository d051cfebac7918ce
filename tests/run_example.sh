#!/bin/sh
# Runs an example bot against the sender of qlaster_test_publisher --exec and checks it:
#   run_example.sh PATTERN PROGRAM ARGS...
# Every argument "@SOCKET@" becomes $QLASTER_SOCKET. Succeeds when PROGRAM exits 0 and its
# output (printed here too) has a line matching PATTERN (grep -E).
set -eu
pattern=$1
shift
prog=$1
shift
for a in "$@"; do
  shift
  if [ "$a" = "@SOCKET@" ]; then set -- "$@" "$QLASTER_SOCKET"; else set -- "$@" "$a"; fi
done
rc=0
out=$("$prog" "$@") || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
  echo "run_example.sh: $prog exited $rc" >&2
  exit 1
fi
printf '%s\n' "$out" | grep -Eq "$pattern" || { echo "run_example.sh: no line matches '$pattern'" >&2; exit 1; }
