#!/usr/bin/env bash
# Builds qlaster and runs every suite:
#   1. release build: all tests (including the 10-million-record multi-process stress);
#   2. ASan+UBSan build: all tests (qlaster-bench's scenarios included);
#   3. TSan build: the concurrency suites (label "concurrency"), and only what they run;
#   4. clang libFuzzer build: every fuzz target for a bounded number of runs;
#   5. a short run of the qlaster-bench micro-benchmarks, so they cannot rot (every
#      scenario runs, --quick, in the bench_cli_test suite of steps 1 and 2).
# Build trees live under build/ (override with BUILD_ROOT). JOBS defaults to the core count.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_ROOT=${BUILD_ROOT:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
FUZZ_RUNS=${FUZZ_RUNS:-200000}
# Debug information in the test builds: line tables (-g1) are what sanitizer reports and
# backtraces need, and compile in about 0.7x the time of full -g (the gRPC endpoint's
# server.cc: 13.0 s against 18.1 s, its object 2.7 MB against 9.6 MB). DEBUG_INFO=-g for more.
DEBUG_INFO=${DEBUG_INFO:--g1}
export CTEST_OUTPUT_ON_FAILURE=1

passed=0
failed=0
step() { printf '\n=== %s\n' "$*"; }

configure_build() {  # DIR CMAKE_ARGS... (TARGET=name in the environment builds only that)
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DQLASTER_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$JOBS" ${TARGET:+--target "$TARGET"}
}

run_ctest() {  # DIR CTEST_ARGS...
  local dir=$1
  shift
  local log="$dir.ctest.log" rc=0
  ctest --test-dir "$dir" -j "$JOBS" "$@" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    local total fails
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
  else
    failed=$((failed + 1))
  fi
  return $rc
}

mkdir -p "$BUILD_ROOT"
status=0

step "release build and all tests"
configure_build "$BUILD_ROOT/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG"
run_ctest "$BUILD_ROOT/release" || status=1

step "ASan+UBSan build and all tests"
# Debug (assertions on) at -O1, as ASan's own documentation advises: at -O0 the suite took
# several times longer (the synthetic feed's test alone 12 minutes) and the relay's lossy
# handshakes ran into their timeout; -O1 keeps every check.
configure_build "$BUILD_ROOT/asan" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=$DEBUG_INFO -O1" \
  "-DCMAKE_C_FLAGS_DEBUG=$DEBUG_INFO -O1" -DQLASTER_SANITIZE=address
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest "$BUILD_ROOT/asan" || status=1

step "TSan build and the concurrency suites"
# Only what the concurrency suites run is built (the relay, the gRPC endpoint and the
# bindings are not among them).
TARGET=qlaster_concurrency_suites configure_build "$BUILD_ROOT/tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG" \
  -DQLASTER_SANITIZE=thread -DQLASTER_BUILD_BENCH=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest "$BUILD_ROOT/tsan" -L concurrency || status=1

step "libFuzzer targets, $FUZZ_RUNS runs each"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD_ROOT/fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQLASTER_WERROR=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 $DEBUG_INFO -DNDEBUG" \
  -DQLASTER_FUZZ=ON -DQLASTER_BUILD_BENCH=OFF >"$BUILD_ROOT/fuzz.configure.log" 2>&1 ||
  { cat "$BUILD_ROOT/fuzz.configure.log"; exit 1; }
cmake --build "$BUILD_ROOT/fuzz" -j "$JOBS" --target qlaster_fuzzers
run_fuzzer() {  # FUZZER: runs it on its corpus; its verdict goes to $BUILD_ROOT/fuzz/NAME.verdict
  local fuzzer=$1 name corpus
  name=$(basename "$fuzzer")
  corpus="$BUILD_ROOT/fuzz/corpus/$name"
  mkdir -p "$corpus"
  if "$fuzzer" -runs="$FUZZ_RUNS" -max_len=70000 -timeout=10 -rss_limit_mb=4096 "$corpus" \
      >"$BUILD_ROOT/fuzz/$name.log" 2>&1; then
    echo "ok ($(grep -Eo 'Done [0-9]+ runs' "$BUILD_ROOT/fuzz/$name.log" | tail -1))" >"$BUILD_ROOT/fuzz/$name.verdict"
  else
    echo FAILED >"$BUILD_ROOT/fuzz/$name.verdict"
  fi
}
# JOBS fuzzers at a time (each is one process on one core).
fuzzers=()
for fuzzer in "$BUILD_ROOT"/fuzz/tests/fuzz/fuzz_*; do
  [ -x "$fuzzer" ] && fuzzers+=("$fuzzer")
done
running=0
for fuzzer in "${fuzzers[@]}"; do
  rm -f "$BUILD_ROOT/fuzz/$(basename "$fuzzer").verdict"
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_fuzzer "$fuzzer" &
  running=$((running + 1))
done
wait || true
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer")
  verdict=$(cat "$BUILD_ROOT/fuzz/$name.verdict" 2>/dev/null || echo "FAILED (no verdict)")
  if [[ $verdict == ok* ]]; then
    echo "$name: $verdict"
    passed=$((passed + 1))
  else
    tail -40 "$BUILD_ROOT/fuzz/$name.log"
    echo "$name: $verdict"
    failed=$((failed + 1))
    status=1
  fi
done

if [ -x "$BUILD_ROOT/release/tools/qlaster-bench" ]; then
  step "qlaster-bench micro-benchmarks, smoke run (the scenarios run in bench_cli_test)"
  if "$BUILD_ROOT/release/tools/qlaster-bench" micro --benchmark_min_time=0.01 >"$BUILD_ROOT/bench-smoke.log" 2>&1; then
    passed=$((passed + 1))
    echo "qlaster-bench: ok"
  else
    tail -20 "$BUILD_ROOT/bench-smoke.log"
    failed=$((failed + 1))
    status=1
  fi
fi

echo
echo "test.sh: $passed passed, $failed failed"
exit $status
