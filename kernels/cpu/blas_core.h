/* Which OpenBLAS kernels run, and which should.  OpenBLAS picks its kernels once, when it loads,
 * from a table of CPU models; a release older than the CPU does not find it there and falls back
 * to its SSE3 "Prescott" kernels (Debian's 0.3.21 on Emerald Rapids: sgemm 6x slower), although
 * the CPU's instruction sets say which kernels fit.  The runner compares the two at start and,
 * when the library under-uses the CPU, starts itself again with OPENBLAS_CORETYPE set
 * (runner/cli/main.c); `runner version` and `make bench` print what runs and how fast. */
#ifndef KERNELS_CPU_BLAS_CORE_H
#define KERNELS_CPU_BLAS_CORE_H

/* Vector instruction levels, as OpenBLAS's kernel families use them. */
typedef enum CpuIsa {
    CPU_ISA_SSE,    /* SSE3: Prescott, Core2, Nehalem, ... */
    CPU_ISA_AVX,    /* Sandybridge, Bulldozer, ... */
    CPU_ISA_AVX2,   /* AVX2 with FMA: Haswell, Zen, ... */
    CPU_ISA_AVX512, /* AVX-512 F, CD, BW, DQ and VL: SkylakeX, Cooperlake, ... */
} CpuIsa;

/* The highest level this CPU and the operating system (saved vector state) support. */
CpuIsa cpu_isa_detect(void);
const char *cpu_isa_name(CpuIsa isa);

/* The level an OpenBLAS core name (openblas_get_corename()'s answer, any case) uses; -1 for a
 * name this table does not know (a newer library's: it is trusted). */
int blas_core_isa(const char *core);

/* The OPENBLAS_CORETYPE whose kernels use `isa` when the library's `core` uses a lower level;
 * NULL when `core` already fits or is unknown. */
const char *blas_core_upgrade(const char *core, CpuIsa isa);

/* The library's build configuration ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...") and its core in use. */
const char *blas_config(void);
const char *blas_core(void);

/* sgemm throughput in GFLOP/s as the CPU backend multiplies (cpu_gemm, `threads` threads): the
 * best of a few n x n x n products. */
double blas_sgemm_gflops(int n, int threads);

#endif
