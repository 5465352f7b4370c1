#include "kernels/cpu/cpu_kernels.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 64-byte alignment keeps AVX loads aligned and buffers on separate cache lines. */
void *cpu_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void cpu_free(void *ptr) { free(ptr); }
void cpu_upload(float *dst, const float *src, size_t n) { memcpy(dst, src, n * sizeof *dst); }
void cpu_download(float *dst, const float *src, size_t n) { memcpy(dst, src, n * sizeof *dst); }
void cpu_copy(float *dst, const float *src, size_t n)
{
    if (dst != src) memmove(dst, src, n * sizeof *dst);
}

void cpu_fill(float *y, size_t n, float value)
{
    for (size_t i = 0; i < n; i++) y[i] = value;
}

void cpu_synchronize(void) {}

/* The CPU's primitives report nothing after the fact. */
const char *cpu_last_error(void) { return NULL; }

size_t cpu_cache_bytes(void)
{
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE); /* 0 or -1 where the C library cannot tell */
    return (size_t)(l2 > 0 ? l2 : 1L << 20) * (size_t)omp_get_max_threads();
}

void cpu_set_threads(int threads)
{
    if (threads < 1) threads = 1;
    /* Kernels (ours and oneDNN's primitives) split work into as many parts as there are threads
     * and need a team of that size: no dynamic adjustment, nor more than the thread limit. */
    omp_set_dynamic(0);
    if (threads > omp_get_thread_limit()) threads = omp_get_thread_limit();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}
