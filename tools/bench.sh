#!/usr/bin/env bash
# `make bench`: our CPU backend against PyTorch, under Debian's torch and under the newest torch
# from PyPI (installed into .venv-bench on first use, with diffusers and pytorch-fid), on two networks:
#   the reference GAN (experiments/gan_mnist.yaml) against tests/bench/gan_torch.py:
#     train:  one training iteration (forward and backward of both networks, both Adam updates,
#             batch 64);
#     sample: the trained generator in evaluation mode drawing 1000 samples;
#   the DDPM UNet of experiments/ddpm_fashion.yaml against diffusers' UNet2DModel
#   (tests/bench/unet_torch.py):
#     train:  one training iteration (noise, forward, backward, gradient clipping, AdamW, batch 32);
#     sample: one reverse step of the sampler on 100 images (the network in evaluation mode);
# each with medians, calls (or samples) per second, GFLOP/s and peak RSS, and ratios; then FID's
# Inception feature extraction and Frechet distance against pytorch-fid (end of file).
# Ours runs with THREADS threads (default 2); PyTorch with 1 and THREADS (on 2 cores PyTorch is
# often faster with 1).  STEPS, WARMUP, ROUNDS, THREADS, SAMPLES (the GAN's), UNET_STEPS,
# UNET_WARMUP and BUILD may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
SAMPLES=${SAMPLES:-1000}
UNET_STEPS=${UNET_STEPS:-5}
UNET_WARMUP=${UNET_WARMUP:-1}
VENV=.venv-bench

make -s BUILD="$BUILD" "$BUILD/runner"

if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "bench: installing the newest torch from PyPI into $VENV (once)" >&2
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip torch numpy >&2
fi
if ! "$VENV/bin/python" -c 'import diffusers' 2>/dev/null; then
    echo "bench: installing diffusers from PyPI into $VENV (once)" >&2
    "$VENV/bin/pip" install --quiet diffusers >&2
fi
if ! "$VENV/bin/python" -c 'import pytorch_fid, torch_fidelity, scipy' 2>/dev/null; then
    # The versions tools/setup.sh pins (tests/parity/fid_reference.py imports both), with the
    # torchvision of this torch.
    pins=$(grep -oE '(pytorch-fid|torch-fidelity)==[0-9.]+' tools/setup.sh)
    echo "bench: installing" $pins "and scipy from PyPI into $VENV (once)" >&2
    "$VENV/bin/pip" install --quiet $pins scipy >&2
fi

# What our side runs on (BLAS kernels and who chose them, measured sgemm): a slow configuration shows.
"$BUILD/runner" version --threads "$THREADS"
torch_blas() { "$1" -c 'import torch; print(torch.__version__, torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0])'; }
for py in /usr/bin/python3 "$VENV/bin/python"; do echo "pytorch ($py): $(torch_blas "$py")"; done

# Same thread count for OpenMP, OpenBLAS and MKL in every process.
with_threads() { local t=$1; shift; OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t MKL_NUM_THREADS=$t "$@"; }
torch_threads=$( (echo 1; echo "$THREADS") | sort -nu)

# compare TITLE SAMPLE_TITLE SCRIPT "PYTHONS" OURS_ARGS... -- COMMON_ARGS...: ROUNDS rounds of
# `runner bench OURS_ARGS COMMON_ARGS` and SCRIPT COMMON_ARGS under each Python (its torch) at
# each thread count, then the tables.  Rounds interleave the processes, so a burst of load from
# elsewhere on the machine hits all of them alike; each figure is the median over rounds of a
# process's median.
compare() {
    local title=$1 sample_title=$2 script=$3 pythons=$4 r py t load
    shift 4
    local ours=() common=()
    while [[ $1 != -- ]]; do ours+=("$1"); shift; done
    shift
    common=("$@")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local lines=()
    for ((r = 0; r < ROUNDS; r++)); do
        lines+=("$(with_threads "$THREADS" "$BUILD/runner" bench --threads "$THREADS" "${ours[@]}" "${common[@]}")")
        for py in $pythons; do
            for t in $torch_threads; do
                lines+=("$(with_threads "$t" "$py" "$script" --threads "$t" "${common[@]}")")
            done
        done
    done
    printf '%s\n' "${lines[@]}" | tables "$title" "$sample_title" "$load"
}

# Each line: `<train|sample> <who> <version> threads T median_ms M min_ms M peak_rss_kib K count N`,
# ours followed by `gflop F`: the GFLOP of one call as our graphs count them (Op.flops), which
# gives every row's GFLOP/s.
tables() {
    awk -v rounds="$ROUNDS" -v threads="$THREADS" -v title="$1" -v sample_title="$2" -v load="$3" '
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
    if ($14 == "gflop") gflop[$1] = $15
}
# The table of one measurement and, per torch build, our rate over its rate at our thread count
# and at its faster setting.
# per_item: the rate counts items (samples) per second rather than calls (steps) per second.
function table(w, title, unit, prefix, per_item,    i, ours, best, tv, j) {
    printf "\n%s\n", title
    printf "%-28s %7s %10s %10s %14s %9s %13s\n", "", "threads", "median_ms", "min_ms", unit, "GFLOP/s", "peak_rss_MiB"
    ours = 0
    for (i = 1; i <= n; i++) {
        if (what[i] != w) continue
        med[i] = median(meds[i])
        printf "%-28s %7d %10.2f %10.2f %14.1f %9.1f %13.1f\n", who[i], thr[i], med[i], mn[i],
               (per_item ? count[i] : 1) * 1000 / med[i], gflop[w] * 1000 / med[i], rss[i] / 1024
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
    printf "\n%s, our CPU backend at %d threads: median over %d rounds of each process'"'"'s median\n", title, threads, rounds
    printf "load average before the first round: %s\n", load
    for (i = 1; i <= n; i++) if (what[i] == "train") { c = count[i]; break }
    table("train", "training step, batch " c " (speedup = our steps per second / PyTorch'"'"'s)", "steps_per_s", "", 0)
    c = 0
    for (i = 1; i <= n; i++) if (what[i] == "sample") { c = count[i]; break }
    if (c) table("sample", sprintf(sample_title, c), "samples_per_s", "sampling_", 1)
}'
}

compare "reference GAN (experiments/gan_mnist.yaml), $STEPS calls after $WARMUP warm-up" \
    "sampling, %d samples per call, generator in evaluation mode" tests/bench/gan_torch.py \
    "/usr/bin/python3 $VENV/bin/python" -- --steps "$STEPS" --warmup "$WARMUP" --samples "$SAMPLES"

# The UNet: diffusers' UNet2DModel under Debian's torch (.venv of tools/setup.sh) and PyPI's; the
# two networks must be the same one.
UNET_SPEC=experiments/ddpm_fashion.yaml
ours_params=$("$BUILD/runner" check "$UNET_SPEC" | awk '/trainable parameters/ { gsub(",", "", $3); print $3; exit }')
theirs_params=$("$VENV/bin/python" tests/bench/unet_torch.py --params)
if [[ $ours_params != "$theirs_params" ]]; then
    echo "bench: $UNET_SPEC's network has $ours_params parameters, tests/bench/unet_torch.py's $theirs_params" >&2
    exit 1
fi
unet_pythons="$VENV/bin/python"
if .venv/bin/python -c 'import diffusers' 2>/dev/null; then
    unet_pythons=".venv/bin/python $unet_pythons"
else
    echo "bench: UNet under Debian's torch skipped: diffusers is not installed in .venv (run make setup)" >&2
fi
compare "DDPM UNet ($UNET_SPEC, $ours_params parameters), $UNET_STEPS calls after $UNET_WARMUP warm-up" \
    "sampling, one reverse step on %d samples per call, network in evaluation mode" tests/bench/unet_torch.py \
    "$unet_pythons" --spec "$UNET_SPEC" -- --steps "$UNET_STEPS" --warmup "$UNET_WARMUP" --batch 32 --samples 100

# FID: Inception feature extraction (images per second) and the Frechet distance of 2048-d
# statistics, ours against pytorch-fid under Debian's torch (the .venv of tools/setup.sh) and under
# PyPI's (.venv-bench), on the same threads.  FID_IMAGES (default 64: with fewer the first batch's start-up weighs) images per measurement.
FID_IMAGES=${FID_IMAGES:-64}
value() { awk -v k="$1:" '$1 == k { print $2 }'; }
ours=$(with_threads "$THREADS" "$BUILD/runner" fid --bench --threads "$THREADS" --images "$FID_IMAGES" --batch 16)
printf '\nFID, %d threads, %d images (ours, then pytorch-fid under each torch)\n%s\n' "$THREADS" "$FID_IMAGES" "$ours"
for py in .venv/bin/python "$VENV/bin/python"; do
    if ! "$py" -c 'import pytorch_fid' 2>/dev/null; then
        echo "bench: FID comparison under $py skipped: pytorch-fid is not installed there (run make setup)" >&2
        continue
    fi
    theirs=$(with_threads "$THREADS" "$py" tests/bench/fid_bench_torch.py --threads "$THREADS" \
        --images "$FID_IMAGES" --batch 16)
    printf '%s\n' "$theirs"
    awk -v a="$(value inception_images_per_s <<<"$ours")" -v b="$(value inception_images_per_s <<<"$theirs")" \
        -v fa="$(value frechet_2048d_ms <<<"$ours")" -v fb="$(value frechet_2048d_ms <<<"$theirs")" \
        'BEGIN { printf "inception_speedup_vs_pytorch: %.3f\nfrechet_speedup_vs_pytorch_fid: %.3f\n", a / b, fb / fa }'
done
