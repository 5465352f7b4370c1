#!/usr/bin/env bash
# `make bench`: one training step of the reference GAN (forward and backward of both networks,
# both Adam updates, batch 64) on our CPU backend with 2 threads, against the same step in
# PyTorch with 1 and 2 threads, under Debian's torch and under the newest torch from PyPI
# (installed into .venv-bench on first use).  Prints medians, peak RSS and the speedups.
# STEPS, WARMUP, ROUNDS and BUILD may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
VENV=.venv-bench

make -s BUILD="$BUILD" "$BUILD/runner"

if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "bench: installing the newest torch from PyPI into $VENV (once)" >&2
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip torch numpy >&2
fi

# Same thread count for OpenMP, OpenBLAS and MKL in every process.
with_threads() { local t=$1; shift; OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$@"; }

# Rounds interleave the five processes, so a burst of load from elsewhere on the machine hits
# all of them alike; each figure below is the median over rounds of a process's median.
lines=()
for ((r = 0; r < ROUNDS; r++)); do
    lines+=("$(with_threads 2 "$BUILD/runner" bench --threads 2 --steps "$STEPS" --warmup "$WARMUP")")
    for py in /usr/bin/python3 "$VENV/bin/python"; do
        for t in 1 2; do
            lines+=("$(with_threads "$t" "$py" tests/bench/gan_step_torch.py --threads "$t" \
                       --steps "$STEPS" --warmup "$WARMUP")")
        done
    done
done

# Each line: `<who> <version> threads T median_ms M min_ms M peak_rss_kib K`.
printf '%s\n' "${lines[@]}" | awk -v steps="$STEPS" -v warmup="$WARMUP" -v rounds="$ROUNDS" \
    -v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
function median(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    key = $1 " " $2 " " $4
    if (!(key in meds)) { order[++n] = key; who[n] = $1 " " $2; thr[n] = $4; mn[n] = $8 }
    meds[key] = meds[key] " " $6
    k = 0; for (i = 1; i <= n; i++) if (order[i] == key) k = i
    if ($8 + 0 < mn[k] + 0) mn[k] = $8
    if ($10 + 0 > rss[k] + 0) rss[k] = $10
}
END {
    for (i = 1; i <= n; i++) med[i] = median(meds[order[i]])
    printf "GAN training step, batch 64: median over %d rounds of the median of %d steps after %d warm-up\n", rounds, steps, warmup
    printf "load average before the first round: %s\n", load
    printf "%-28s %7s %10s %10s %13s\n", "", "threads", "median_ms", "min_ms", "peak_rss_MiB"
    for (i = 1; i <= n; i++)
        printf "%-28s %7d %10.2f %10.2f %13.1f\n", who[i], thr[i], med[i], mn[i], rss[i] / 1024
    for (i = 2; i <= n; i += 2) {   # torch comes in pairs: 1 thread, then 2 threads
        best = med[i] < med[i + 1] ? i : i + 1
        printf "%s: speedup_vs_pytorch: %.3f (vs 2 threads)  speedup_vs_best: %.3f (vs %d thread%s)\n",
               who[i], med[i + 1] / med[1], med[best] / med[1], thr[best], (thr[best] > 1 ? "s" : "")
    }
}'
