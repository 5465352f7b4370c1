#!/usr/bin/env bash
# `make bench`: one training step of the reference GAN (forward and backward of both networks,
# both Adam updates, batch 64) on our CPU backend with 2 threads, against the same step in
# PyTorch with 1 and 2 threads, under Debian's torch and under the newest torch from PyPI
# (installed into .venv-bench on first use).  Prints medians, peak RSS and the speedups.
# STEPS, WARMUP and BUILD may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
VENV=.venv-bench

make -s BUILD="$BUILD" "$BUILD/runner"

if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "bench: installing the newest torch from PyPI into $VENV (once)" >&2
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip torch numpy >&2
fi

# Same thread count for OpenMP, OpenBLAS and MKL in every process.
with_threads() { local t=$1; shift; OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$@"; }

ours=$(with_threads 2 "$BUILD/runner" bench --threads 2 --steps "$STEPS" --warmup "$WARMUP")
lines=("$ours")
for py in /usr/bin/python3 "$VENV/bin/python"; do
    for t in 1 2; do
        lines+=("$(with_threads "$t" "$py" tests/bench/gan_step_torch.py --threads "$t" \
                   --steps "$STEPS" --warmup "$WARMUP")")
    done
done

# Each line: `<who> <version> threads T median_ms M min_ms M peak_rss_kib K`.
printf '%s\n' "${lines[@]}" | awk -v steps="$STEPS" -v warmup="$WARMUP" '
{ who[NR] = $1 " " $2; thr[NR] = $4; med[NR] = $6; mn[NR] = $8; rss[NR] = $10 }
END {
    printf "GAN training step, batch 64: median of %d steps after %d warm-up\n", steps, warmup
    printf "%-28s %7s %10s %10s %13s\n", "", "threads", "median_ms", "min_ms", "peak_rss_MiB"
    for (i = 1; i <= NR; i++)
        printf "%-28s %7d %10.2f %10.2f %13.1f\n", who[i], thr[i], med[i], mn[i], rss[i] / 1024
    for (i = 2; i <= NR; i += 2) {   # torch lines come in pairs: 1 thread, then 2 threads
        best = med[i] < med[i + 1] ? i : i + 1
        printf "%s: speedup_vs_pytorch: %.3f (vs 2 threads)  speedup_vs_best: %.3f (vs %d thread%s)\n",
               who[i], med[i + 1] / med[1], med[best] / med[1], thr[best], thr[best] > 1 ? "s" : ""
    }
}'
