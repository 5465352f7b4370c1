#!/usr/bin/env bash
# `make conv-bench`: times every CPU convolution implementation (im2col + OpenBLAS, oneDNN, the
# backend's choice between them) and PyTorch (Debian's, whose convolutions are oneDNN 2.6.3) on
# tests/bench/conv_shapes.txt, forward, backward-data and backward-filter, with 1 and 2 threads,
# and prints a markdown table of ms per call.  Each figure is the fastest call over ROUNDS
# interleaved rounds of REPS calls: the machine is shared, and the fastest call is the figure
# that other processes' load disturbs least.  ROUNDS, REPS, ONLY (a geometry name prefix) and
# BUILD may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
REPS=${REPS:-5}
ONLY=${ONLY:-}

make -s BUILD="$BUILD" "$BUILD/conv_bench"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((r = 0; r < ROUNDS; r++)); do
    for t in 1 2; do
        OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$BUILD/conv_bench" --threads "$t" --reps "$REPS" \
            --only "$ONLY" >> "$out"
        OMP_NUM_THREADS=$t /usr/bin/python3 tests/bench/conv_bench_torch.py --threads "$t" --reps "$REPS" \
            --only "$ONLY" >> "$out"
    done
done

# Lines: `<impl> <name> <pass> threads T ms M min_ms L` and `check <name> <pass> maxrel E`.
awk -v rounds="$ROUNDS" -v reps="$REPS" '
$1 == "check" { k = $2 " " $3; if (!(k in err) || $5 > err[k]) err[k] = $5; next }
$4 == "threads" {
    k = $2 " " $3
    if (!(k in seen)) { seen[k] = 1; order[n++] = k }
    c = k SUBSEP $1 SUBSEP $5
    if (!(c in best) || $9 + 0 < best[c]) best[c] = $9 + 0
}
END {
    printf "ms per call, fastest of %d rounds x %d calls; backend = what the CPU backend runs; last column:\n", rounds, reps
    printf "oneDNN against im2col, relative to the largest value\n\n"
    printf "| geometry | pass | im2col 1t | oneDNN 1t | backend 1t | PyTorch 1t | im2col 2t | oneDNN 2t | backend 2t | PyTorch 2t | oneDNN max rel. diff |\n"
    printf "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    split("im2col onednn backend torch", impl, " ")
    for (i = 0; i < n; i++) {
        split(order[i], kp, " ")
        printf "| %s | %s |", kp[1], kp[2]
        for (t = 1; t <= 2; t++)
            for (j = 1; j <= 4; j++) {
                c = order[i] SUBSEP impl[j] SUBSEP t
                if (c in best) printf " %.3f |", best[c]; else printf " - |"
            }
        printf " %s |\n", (order[i] in err) ? err[order[i]] : "-"
    }
}' "$out"
