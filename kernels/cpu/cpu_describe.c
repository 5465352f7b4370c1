/* What the CPU backend runs on: the CPU's vector level, OpenBLAS's kernels (and who chose them)
 * with their measured sgemm throughput, and oneDNN's instruction set.  A slow configuration, such
 * as a library that does not know the CPU, shows here (`runner version`, `make bench`).  Also the
 * settings its libraries read only when they load (backend_cpu_load_time_env). */
#include "kernels/backend.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/cpu/cpu_kernels.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 VNNI";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 BF16";
    case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 AMX";
    default: return "other";
    }
}

/* Who chose the core: the library by itself, the user's OPENBLAS_CORETYPE, or the runner, which
 * records the library's own choice in RUNNER_OPENBLAS_DETECTED when it restarts (runner/cli/main.c). */
static void core_origin(char *buf, size_t len)
{
    const char *forced = getenv("OPENBLAS_CORETYPE"), *detected = getenv("RUNNER_OPENBLAS_DETECTED");
    if (forced && detected)
        snprintf(buf, len, "chosen by the runner: the library picked %s", detected);
    else if (forced)
        snprintf(buf, len, "OPENBLAS_CORETYPE=%s", forced);
    else
        snprintf(buf, len, "the library's choice");
}

void cpu_describe(char *buf, size_t len, int threads)
{
    CpuIsa isa = cpu_isa_detect();
    char origin[160], rate[96] = "";
    core_origin(origin, sizeof origin);
    if (threads > 0)
        snprintf(rate, sizeof rate, ", sgemm %.0f GFLOP/s on %d thread%s", blas_sgemm_gflops(1024, threads), threads,
                 threads == 1 ? "" : "s");
    const dnnl_version_t *dv = dnnl_version();
    const char *upgrade = blas_core_upgrade(blas_core(), isa);
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    snprintf(buf, len,
             "cpu: %s, %d OpenMP threads, wait policy %s%s\nblas: %s; kernels %s (%s)%s%s%s\nonednn: %d.%d.%d, %s",
             cpu_isa_name(isa), omp_get_max_threads(), wait ? wait : spin ? "spin count " : "default (spinning)",
             !wait && spin ? spin : "", blas_config(), blas_core(), origin, rate,
             upgrade ? "; slower than this CPU allows: unset OPENBLAS_CORETYPE or set it to " : "",
             upgrade ? upgrade : "", dv->major, dv->minor, dv->patch, dnnl_isa_name(dnnl_get_effective_cpu_isa()));
}

int backend_cpu_load_time_env(EnvSetting *out, int max)
{
    int n = 0;
    const char *upgrade = getenv("OPENBLAS_CORETYPE") ? NULL : blas_core_upgrade(blas_core(), cpu_isa_detect());
    if (upgrade && n + 2 <= max) {
        out[n++] = (EnvSetting){"OPENBLAS_CORETYPE", upgrade};
        out[n++] = (EnvSetting){"RUNNER_OPENBLAS_DETECTED", blas_core()};
    }
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT") && n < max)
        out[n++] = (EnvSetting){"GOMP_SPINCOUNT", OMP_SPIN_COUNT};
    return n;
}
