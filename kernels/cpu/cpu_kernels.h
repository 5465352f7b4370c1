/* The CPU backend's primitives (C, OpenMP, OpenBLAS): cpu_<name> for every entry of
 * BACKEND_PRIMITIVES, one file per family (cpu_memory.c, cpu_gemm.c, cpu_conv.c, cpu_norm.c,
 * cpu_eltwise.c, cpu_reduce.c, cpu_layout.c, cpu_pool.c, cpu_resize.c, cpu_softmax.c, cpu_rng.c,
 * cpu_optim.c, cpu_embedding.c, cpu_attention.c, cpu_describe.c); backend_cpu.c gathers them into
 * the table.  Semantics are documented in kernels/backend.h. */
#ifndef KERNELS_CPU_KERNELS_H
#define KERNELS_CPU_KERNELS_H

#include "kernels/backend.h"

/* CPU_HOT marks the loops that elementwise, normalisation, softmax, reduction and optimizer
 * primitives spend their time in.  GCC compiles each twice, for the build's baseline (AVX2,
 * -march=x86-64-v3) and for AVX-512 (x86-64-v4), with a resolver that the loader runs once to
 * pick the one this CPU has (target_clones, an ifunc; the OpenMP regions inside are cloned
 * too): one binary runs on AVX2 machines and uses 512-bit vectors where they exist (the DDPM
 * UNet's training step 8-10% faster, docs/BENCHMARKS.md).  Valgrind's CPU reports no AVX-512,
 * so the baseline runs under it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define CPU_HOT __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define CPU_HOT
#endif

#define CPU_PRIMITIVE(ret, fn, params) ret cpu_##fn params;
BACKEND_PRIMITIVES(CPU_PRIMITIVE)
#undef CPU_PRIMITIVE

#endif
