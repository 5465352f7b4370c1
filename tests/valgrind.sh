#!/usr/bin/env bash
# Runs test programs under valgrind memcheck (`make valgrind`): tests/valgrind.sh BUILD PROG...
# Each program, and every `runner` the tests start ($RUNNER), runs through a wrapper in
# BUILD/valgrind/.  A test program with a memcheck error exits 99, which tests/run_tests.sh counts
# as a failure; the runner's reports go to BUILD/valgrind/logs/ instead (a test may expect the
# runner to fail, which must not hide an error), and any there fail the run at the end.
# VALGRIND_QUICK=1 tells the tests to skip what is far too slow under valgrind.
set -uo pipefail

BUILD="$1"
shift
here="$(cd "$(dirname "$0")/.." && pwd)"
wrap="$BUILD/valgrind"
logs="$wrap/logs"
rm -rf "$wrap"
mkdir -p "$logs"

# Definite leaks count as errors; possible and reachable ones (thread pools, library caches) do
# not.  Children of fork() (the lock test's holder) exit without freeing and stay silent.
memcheck="valgrind --tool=memcheck -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --child-silent-after-fork=yes --num-callers=40 \
--suppressions=$here/tests/valgrind.supp"

wrapper() { # wrapper NAME PROGRAM [valgrind options]
    local name="$1" prog="$2"
    shift 2
    printf '#!/bin/sh\nexec %s %s "%s" "$@"\n' "$memcheck" "$*" "$(realpath "$prog")" >"$wrap/$name"
    chmod +x "$wrap/$name"
    echo "$wrap/$name"
}

export RUNNER
RUNNER="$(wrapper runner "$BUILD/runner" "--log-file=$(realpath "$logs")/runner.%p.log")"
progs=()
for prog in "$@"; do progs+=("$(wrapper "$(basename "$prog")" "$prog")"); done

export VALGRIND_QUICK=1
# Valgrind runs one thread at a time: threads that spin while they wait only take turns away.
export OMP_WAIT_POLICY=passive
BUILD="$BUILD" bash "$here/tests/run_tests.sh" "${progs[@]}"
rc=$?

reports=$(find "$logs" -name 'runner.*.log' -size +0 | sort)
if [ -n "$reports" ]; then
    for r in $reports; do
        echo "=== memcheck report of a runner started by the tests: $r"
        cat "$r"
    done
    echo "valgrind: $(echo "$reports" | wc -l) runner process(es) with memcheck errors"
    rc=1
fi
exit $rc
