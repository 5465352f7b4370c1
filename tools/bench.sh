#!/usr/bin/env bash
# `make bench`: the reference GAN (experiments/gan_mnist.yaml) on our CPU backend against PyTorch,
# under Debian's torch and under the newest torch from PyPI (installed into .venv-bench on first
# use).  Two measurements per process, each beside PyTorch's with ratios:
#   train:  one training iteration (forward and backward of both networks, both Adam updates,
#           batch 64): medians, training steps per second and peak RSS;
#   sample: the trained generator in evaluation mode drawing 1000 samples: samples per second;
# then FID's Inception feature extraction and Frechet distance against pytorch-fid (end of file).
# Ours runs with THREADS threads (default 2); PyTorch with 1 and THREADS (on 2 cores PyTorch is
# often faster with 1).  STEPS, WARMUP, ROUNDS, THREADS, SAMPLES and BUILD may be set in the
# environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
SAMPLES=${SAMPLES:-1000}
VENV=.venv-bench

make -s BUILD="$BUILD" "$BUILD/runner"

if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "bench: installing the newest torch from PyPI into $VENV (once)" >&2
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip torch numpy >&2
fi

# What our side runs on (BLAS kernels and who chose them, measured sgemm): a slow configuration shows.
"$BUILD/runner" version --threads "$THREADS"
torch_blas() { "$1" -c 'import torch; print(torch.__version__, torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0])'; }
for py in /usr/bin/python3 "$VENV/bin/python"; do echo "pytorch ($py): $(torch_blas "$py")"; done

# Same thread count for OpenMP, OpenBLAS and MKL in every process.
with_threads() { local t=$1; shift; OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$@"; }
torch_threads=$( (echo 1; echo "$THREADS") | sort -nu)
common=(--steps "$STEPS" --warmup "$WARMUP" --samples "$SAMPLES")

# Rounds interleave the processes, so a burst of load from elsewhere on the machine hits all of
# them alike; each figure below is the median over rounds of a process's median.
load=$(cut -d' ' -f1-3 /proc/loadavg)
lines=()
for ((r = 0; r < ROUNDS; r++)); do
    lines+=("$(with_threads "$THREADS" "$BUILD/runner" bench --threads "$THREADS" "${common[@]}")")
    for py in /usr/bin/python3 "$VENV/bin/python"; do
        for t in $torch_threads; do
            lines+=("$(with_threads "$t" "$py" tests/bench/gan_torch.py --threads "$t" "${common[@]}")")
        done
    done
done

# Each line: `<train|sample> <who> <version> threads T median_ms M min_ms M peak_rss_kib K count N`.
printf '%s\n' "${lines[@]}" | awk -v steps="$STEPS" -v warmup="$WARMUP" -v rounds="$ROUNDS" \
    -v threads="$THREADS" -v load="$load" '
function median(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{
    key = $1 " " $2 " " $3 " " $5
    if (!(key in row)) {
        row[key] = ++n; what[n] = $1; who[n] = $2 " " $3; thr[n] = $5; mn[n] = $9; count[n] = $13
    }
    k = row[key]
    meds[k] = meds[k] " " $7
    if ($9 + 0 < mn[k] + 0) mn[k] = $9
    if ($11 + 0 > rss[k] + 0) rss[k] = $11
}
# The table of one measurement and, per torch build, our rate over its rate at our thread count
# and at its faster setting.
# per_item: the rate counts items (samples) per second rather than calls (steps) per second.
function table(w, title, unit, prefix, per_item,    i, ours, best, tv, j) {
    printf "\n%s\n", title
    printf "%-28s %7s %10s %10s %14s %13s\n", "", "threads", "median_ms", "min_ms", unit, "peak_rss_MiB"
    ours = 0
    for (i = 1; i <= n; i++) {
        if (what[i] != w) continue
        med[i] = median(meds[i])
        printf "%-28s %7d %10.2f %10.2f %14.1f %13.1f\n", who[i], thr[i], med[i], mn[i], (per_item ? count[i] : 1) * 1000 / med[i], rss[i] / 1024
        if (who[i] ~ /^runner /) ours = i
    }
    if (!ours) return
    for (i = 1; i <= n; i++) {
        if (what[i] != w || who[i] ~ /^runner / || (who[i] in done_)) continue
        done_[who[i]] = 1
        best = 0; tv = 0
        for (j = 1; j <= n; j++) {
            if (what[j] != w || who[j] != who[i]) continue
            if (!best || med[j] < med[best]) best = j
            if (thr[j] == thr[ours]) tv = j
        }
        printf "%s: %sspeedup_vs_pytorch: %.3f (vs %d threads)  %sspeedup_vs_best: %.3f (vs %d thread%s)\n", who[i],
               prefix, tv ? med[tv] / med[ours] : 0, thr[ours], prefix, med[best] / med[ours], thr[best],
               (thr[best] > 1 ? "s" : "")
    }
    delete done_
}
END {
    printf "reference GAN (experiments/gan_mnist.yaml), our CPU backend at %d threads: median over %d rounds of the median of %d calls after %d warm-up\n", threads, rounds, steps, warmup
    printf "load average before the first round: %s\n", load
    table("train", "training step, batch " count[1] " (speedup = our steps per second / PyTorch'"'"'s)", "steps_per_s", "", 0)
    for (i = 1; i <= n; i++) if (what[i] == "sample") { c = count[i]; break }
    if (c) table("sample", "sampling, " c " samples per call, generator in evaluation mode", "samples_per_s", "sampling_", 1)
}'

# FID: Inception feature extraction (images per second) and the Frechet distance of 2048-d
# statistics, ours against pytorch-fid (Debian's torch, in the .venv of tools/setup.sh) on the
# same threads.  FID_IMAGES (default 32) images per measurement.
FID_IMAGES=${FID_IMAGES:-32}
if .venv/bin/python -c 'import pytorch_fid' 2>/dev/null; then
    ours=$(with_threads "$THREADS" "$BUILD/runner" fid --bench --threads "$THREADS" --images "$FID_IMAGES" --batch 16)
    theirs=$(with_threads "$THREADS" .venv/bin/python tests/bench/fid_bench_torch.py --threads "$THREADS" \
        --images "$FID_IMAGES" --batch 16)
    printf '\nFID, %d threads, %d images (ours, then pytorch-fid)\n%s\n%s\n' "$THREADS" "$FID_IMAGES" "$ours" "$theirs"
    value() { awk -v k="$1:" '$1 == k { print $2 }'; }
    awk -v a="$(value inception_images_per_s <<<"$ours")" -v b="$(value inception_images_per_s <<<"$theirs")" \
        -v fa="$(value frechet_2048d_ms <<<"$ours")" -v fb="$(value frechet_2048d_ms <<<"$theirs")" \
        'BEGIN { printf "inception_speedup_vs_pytorch: %.3f\nfrechet_speedup_vs_pytorch_fid: %.3f\n", a / b, fb / fa }'
else
    echo "bench: FID comparison skipped: pytorch-fid is not installed in .venv (run make setup)" >&2
fi
