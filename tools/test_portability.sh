#!/usr/bin/env bash
# `make test-portability`: the numeric tests once per kernel family a user's machine may select,
# since OpenBLAS and oneDNN pick kernels (and so summation orders) by CPU: OpenBLAS's generic SSE3
# kernels (Prescott: what a CPU newer than the library gets), its AVX2 (Haswell) and AVX-512
# (SkylakeX) kernels, oneDNN capped at AVX2, and OpenMP capped at one thread while two are asked
# for (teams smaller than the split).  Every parity test must hold under each.  A
# configuration this CPU cannot run (SkylakeX without AVX-512) is skipped with the reason.  Ends
# with one line, "portability: N passed, M failed[, K skipped]", summed over the configurations.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
NUMERIC=(test_ops test_kernels_conv test_kernels_misc test_graph test_init test_optim test_adversarial
         test_classifier test_fid test_fid_classifier test_run)
progs=("${NUMERIC[@]/#/$BUILD/tests/}")

cpu_has() { grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -qx "$1"; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
passed=0 failed=0 skipped=0 status=0
for config in OPENBLAS_CORETYPE=Prescott OPENBLAS_CORETYPE=Haswell OPENBLAS_CORETYPE=SkylakeX \
              ONEDNN_MAX_CPU_ISA=AVX2 OMP_THREAD_LIMIT=1; do
    echo "##### $config"
    if [ "$config" = OPENBLAS_CORETYPE=SkylakeX ] && ! { cpu_has avx512f && cpu_has avx512bw && cpu_has avx512vl; }; then
        echo "skipped: $config needs AVX-512, which this CPU lacks"
        continue
    fi
    env "$config" BUILD="$BUILD" bash tests/run_tests.sh "${progs[@]}" | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    # run_tests.sh's last line: "N passed, M failed[, K skipped]".
    read -r p f s < <(tail -1 "$log" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/')
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1})) skipped=$((skipped + ${s:-0}))
done

line="portability: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line+=", $skipped skipped"
echo "$line"
exit $status
