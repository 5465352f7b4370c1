#!/usr/bin/env bash
# `make bench-shared`: the reference GAN's training step when the cores are shared, under OpenMP's
# spinning wait (libgomp's default, GOMP_SPINCOUNT=300000), sleeping at once
# (OMP_WAIT_POLICY=passive) and the runner's default (GOMP_SPINCOUNT=1000, a short spin), with 1
# and 2 threads: alone, beside a busy loop, and two runs at once.  Prints steps per second per case (two runs at once: each run's).  STEPS (default 20) and
# BUILD may be set.  Run it on an otherwise quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-20}
make -s BUILD="$BUILD" "$BUILD/runner"

# Steps per second of one `runner bench` (median step time), with the given wait setting.
rate() {
    local wait=$1 threads=$2
    env $wait OMP_NUM_THREADS="$threads" "$BUILD/runner" bench --threads "$threads" --steps "$STEPS" --warmup 3 \
        --samples 0 | awk '$1 == "train" { printf "%.1f", 1000 / $7 }'
}

busy_pid=
busy() { (while :; do :; done) & busy_pid=$!; }
stop_busy() { kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; }
trap stop_busy EXIT

printf '%-26s %-8s %10s %14s %16s\n' "wait" threads alone "beside a loop" "two at once (each)"
for wait in GOMP_SPINCOUNT=300000 OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=1000; do
    for threads in 1 2; do
        alone=$(rate "$wait" "$threads")
        busy
        loop=$(rate "$wait" "$threads")
        stop_busy
        tmp=$(mktemp)
        rate "$wait" "$threads" > "$tmp" &
        second=$(rate "$wait" "$threads")
        wait
        pair="$(cat "$tmp") / $second"
        rm -f "$tmp"
        printf '%-26s %-8s %10s %14s %16s\n' "$wait" "$threads" "$alone" "$loop" "$pair"
    done
done
echo "steps per second of the reference GAN's training step (batch 64), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
