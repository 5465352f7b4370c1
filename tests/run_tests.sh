#!/usr/bin/env bash
# Runs each cmocka test program given as an argument, shows its output, and ends with one line
# "N passed, M failed[, K skipped]" counting individual tests.  A program that crashes or exits
# non-zero without reporting a failure (a sanitizer report, say) counts as one failed test.
# Exits non-zero on any failure.
set -uo pipefail

BUILD="${BUILD:-build}"
export FIXTURES_DIR="${FIXTURES_DIR:-$BUILD/fixtures}"
export RUNNER="${RUNNER:-$BUILD/runner}"
# Two threads: the machines that run the suite have two cores, and results must not depend on it.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
TIMEOUT="${TEST_TIMEOUT:-600}"

passed=0 failed=0 skipped=0
broken=()
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

for prog in "$@"; do
    echo "=== $prog"
    timeout "$TIMEOUT" "$prog" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # cmocka's closing lines, one set per group: "[  PASSED  ] N test(s)."
    # "[  FAILED  ] N test(s), listed below:" "[  SKIPPED ] N test(s), listed below:"
    count() { grep -o "\[  $1 *\] [0-9]* test(s)$2" "$log" | awk '{n += $4} END {if (NR) print n}'; }
    p=$(count PASSED '\.')
    f=$(count FAILED ', listed below:')
    s=$(count SKIPPED ', listed below:')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    skipped=$((skipped + ${s:-0}))
    if [ -z "$p" ] || { [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then
        case $rc in
            124) why="timed out after ${TIMEOUT}s" ;;
            0) why="printed no cmocka summary" ;;
            *) why="exit status $rc" ;;
        esac
        echo "$prog: $why" >&2
        broken+=("$prog ($why)")
        failed=$((failed + 1))
    fi
done

for b in "${broken[@]}"; do echo "crashed: $b"; done
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$#" -gt 0 ]
