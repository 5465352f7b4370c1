#!/usr/bin/env bash
# Runs each fuzz target given after the time budget, one after another:
#   run_fuzz.sh SECONDS TARGET...   (make fuzz FUZZ_SECONDS=N [FUZZ_TARGET=name])
# Inputs libFuzzer finds interesting go to $FUZZ_BUILD/corpus/<target> (the committed seeds in
# tests/fuzz/<target>/corpus stay as they are); a crash, hang, leak or out-of-memory input is
# written to tests/fuzz/<target>/regressions/, where `make test` replays it from then on, so it
# stays failing until the reader is fixed and is kept as a regression case afterwards.
# Each target runs at low priority (the machines are shared) with a 10 s per-input timeout and a
# 2 GiB memory limit.
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds="$1"
shift
build="${FUZZ_BUILD:-build-fuzz}"
status=0
for target in "$@"; do
    dir="tests/fuzz/$target"
    work="$build/corpus/$target"
    mkdir -p "$work" "$dir/regressions"
    dict=()
    [ -f "$dir/$target.dict" ] && dict=("-dict=$dir/$target.dict")
    before=$(ls "$dir/regressions" | wc -l)
    echo "=== fuzz $target for ${seconds}s"
    nice -n 10 "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/regressions/" "${dict[@]}" \
        "$work" "$dir/corpus" "$dir/regressions"
    rc=$?
    if [ "$(ls "$dir/regressions" | wc -l)" -gt "$before" ]; then
        echo "fuzz $target: new failing input in $dir/regressions/ (make test replays it)" >&2
        status=1
    elif [ $rc -ne 0 ]; then
        echo "fuzz $target: stopped with status $rc" >&2
        status=1
    fi
done
exit $status
