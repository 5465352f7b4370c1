/* KERNEL_FN marks the static inline per-element functions that the C backend and the CUDA
 * backend share, so both compute the same formula from one definition. */
#ifndef KERNELS_KERNEL_FN_H
#define KERNELS_KERNEL_FN_H

#ifdef __CUDACC__
#define KERNEL_FN __host__ __device__ static inline
#else
#define KERNEL_FN static inline
#endif

#endif
