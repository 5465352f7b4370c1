/* The CPU backend's primitives (C, OpenMP, OpenBLAS): cpu_<name> for every entry of
 * BACKEND_PRIMITIVES, one file per family (cpu_memory.c, cpu_gemm.c, cpu_conv.c, cpu_norm.c,
 * cpu_eltwise.c, cpu_reduce.c, cpu_layout.c, cpu_pool.c, cpu_resize.c, cpu_softmax.c, cpu_rng.c,
 * cpu_optim.c, cpu_embedding.c, cpu_attention.c, cpu_describe.c); backend_cpu.c gathers them into
 * the table.  Semantics are documented in kernels/backend.h. */
#ifndef KERNELS_CPU_KERNELS_H
#define KERNELS_CPU_KERNELS_H

#include "kernels/backend.h"

#define CPU_PRIMITIVE(ret, fn, params) ret cpu_##fn params;
BACKEND_PRIMITIVES(CPU_PRIMITIVE)
#undef CPU_PRIMITIVE

#endif
