/* OpenBLAS's kernel choice against the CPU's instruction sets (see blas_core.h). */
#include "kernels/cpu/blas_core.h"

#include "kernels/cpu/cpu_kernels.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

CpuIsa cpu_isa_detect(void)
{
    /* libgcc's answers include the operating system's support (XGETBV), not only CPUID's. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return CPU_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CPU_ISA_AVX2;
    if (__builtin_cpu_supports("avx")) return CPU_ISA_AVX;
    return CPU_ISA_SSE;
}

const char *cpu_isa_name(CpuIsa isa)
{
    static const char *const names[] = {"SSE", "AVX", "AVX2", "AVX-512"};
    return isa >= CPU_ISA_SSE && isa <= CPU_ISA_AVX512 ? names[isa] : "?";
}

/* OpenBLAS's x86-64 core names (DYNAMIC_ARCH builds, 0.3.x) by the level their kernels use. */
static const struct {
    const char *name;
    CpuIsa isa;
} cores[] = {
    {"Prescott", CPU_ISA_SSE},     {"Core2", CPU_ISA_SSE},         {"Penryn", CPU_ISA_SSE},
    {"Dunnington", CPU_ISA_SSE},   {"Nehalem", CPU_ISA_SSE},       {"Atom", CPU_ISA_SSE},
    {"Opteron", CPU_ISA_SSE},      {"Opteron_SSE3", CPU_ISA_SSE},  {"Barcelona", CPU_ISA_SSE},
    {"Nano", CPU_ISA_SSE},         {"Sandybridge", CPU_ISA_AVX},   {"Bulldozer", CPU_ISA_AVX},
    {"Piledriver", CPU_ISA_AVX},   {"Steamroller", CPU_ISA_AVX},   {"Haswell", CPU_ISA_AVX2},
    {"Excavator", CPU_ISA_AVX2},   {"Zen", CPU_ISA_AVX2},          {"SkylakeX", CPU_ISA_AVX512},
    {"Cooperlake", CPU_ISA_AVX512}, {"SapphireRapids", CPU_ISA_AVX512},
};

/* The core to force for each level (the first of its family that every such CPU runs). */
static const char *const core_for_isa[] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};

int blas_core_isa(const char *core)
{
    for (size_t i = 0; core && i < sizeof cores / sizeof cores[0]; i++)
        if (!strcasecmp(core, cores[i].name)) return (int)cores[i].isa;
    return -1;
}

const char *blas_core_upgrade(const char *core, CpuIsa isa)
{
    int have = blas_core_isa(core);
    if (have < 0 || have >= (int)isa || isa < CPU_ISA_SSE || isa > CPU_ISA_AVX512) return NULL;
    return core_for_isa[isa];
}

const char *blas_config(void) { return openblas_get_config(); }
const char *blas_core(void) { return openblas_get_corename(); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double blas_sgemm_gflops(int n, int threads)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = cpu_alloc(nn * sizeof *a), *b = cpu_alloc(nn * sizeof *b), *c = cpu_alloc(nn * sizeof *c);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) a[i] = (float)(i % 7) * 0.25f, b[i] = (float)(i % 5) * 0.5f;
        int before = omp_get_max_threads();
        cpu_set_threads(threads);
        /* The best call after the first (which also warms caches and threads), over at least 0.2 s:
         * a new thread can start on its parent's core until the scheduler moves it, and a few
         * milliseconds of calls then measured half the rate. */
        double start = now_s();
        for (int rep = 0; rep < 4 || now_s() - start < 0.2; rep++) {
            double t0 = now_s();
            cpu_gemm(false, false, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double dt = now_s() - t0, rate = 2.0 * n * (double)nn / dt * 1e-9;
            if (rep > 0 && rate > best) best = rate;
        }
        cpu_set_threads(before);
    }
    cpu_free(a);
    cpu_free(b);
    cpu_free(c);
    return best;
}
