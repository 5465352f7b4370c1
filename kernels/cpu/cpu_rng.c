/* Counter-based random numbers on the CPU: Philox4x32-10 from kernels/philox.h (shared with
 * the CUDA backend).  Element i of a draw uses counter block offset + i/4, lane i%4, so any
 * backend, thread count or chunking draws the same numbers; a draw of n numbers consumes
 * ceil(n/4) counter blocks. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/philox.h"

#define PAR_BLOCKS 4096

void cpu_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset)
{
    const size_t blocks = (n + 3) / 4;
    const float span = hi - lo;
#pragma omp parallel for schedule(static) if (blocks > PAR_BLOCKS)
    for (size_t b = 0; b < blocks; b++) {
        uint32_t r[4];
        philox4x32_10(offset + b, seed, r);
        for (size_t l = 0; l < 4 && 4 * b + l < n; l++) y[4 * b + l] = fmaf(span, philox_uniform01(r[l]), lo);
    }
}

void cpu_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset)
{
    const size_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (blocks > PAR_BLOCKS / 4)
    for (size_t b = 0; b < blocks; b++) {
        uint32_t r[4];
        double z[4];
        philox4x32_10(offset + b, seed, r);
        philox_box_muller(r, z);
        for (size_t l = 0; l < 4 && 4 * b + l < n; l++) y[4 * b + l] = (float)(mean + std * z[l]);
    }
}
