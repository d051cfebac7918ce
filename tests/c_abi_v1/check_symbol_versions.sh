#!/bin/sh
# Checks that a program built against the first C ABI header binds every qlaster_ symbol
# at version QLASTER_CONSUMER_0 (the version node it was released under), and that it
# binds some: a library that moved an old symbol to a newer node would break such
# programs at load time.
#   check_symbol_versions.sh PROGRAM
set -eu
syms=$(objdump -T "$1" | grep ' qlaster_' || true)
[ -n "$syms" ] || { echo "no qlaster_ symbols imported by $1" >&2; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '(QLASTER_CONSUMER_0) ' || true)
if [ -n "$bad" ]; then
  echo "symbols not at QLASTER_CONSUMER_0:" >&2
  printf '%s\n' "$bad" >&2
  exit 1
fi
echo "check_symbol_versions: ok ($(printf '%s\n' "$syms" | wc -l) symbols at QLASTER_CONSUMER_0)"
