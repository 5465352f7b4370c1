/* Counter-based random numbers on the CPU: Philox4x32-10 from kernels/philox.h (shared with
 * the CUDA backend).  Element i of a draw is element offset + i of the seed's stream, whose
 * element e is lane e%4 of counter block e/4, so any backend, thread count or chunking of a
 * draw gives the same numbers. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/philox.h"

#define PAR_BLOCKS 4096

void cpu_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset)
{
    const uint64_t first = offset / 4;
    const size_t blocks = n ? (size_t)((offset + n + 3) / 4 - first) : 0;
    const float span = hi - lo;
#pragma omp parallel for schedule(static) if (blocks > PAR_BLOCKS)
    for (size_t k = 0; k < blocks; k++) {
        uint32_t r[4];
        philox4x32_10(first + k, seed, r);
        for (uint64_t l = 0, e = 4 * (first + k); l < 4; l++, e++)
            if (e >= offset && e - offset < n) y[e - offset] = fmaf(span, philox_uniform01(r[l]), lo);
    }
}

void cpu_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset)
{
    const uint64_t first = offset / 4;
    const size_t blocks = n ? (size_t)((offset + n + 3) / 4 - first) : 0;
#pragma omp parallel for schedule(static) if (blocks > PAR_BLOCKS / 4)
    for (size_t k = 0; k < blocks; k++) {
        uint32_t r[4];
        double z[4];
        philox4x32_10(first + k, seed, r);
        philox_box_muller(r, z);
        for (uint64_t l = 0, e = 4 * (first + k); l < 4; l++, e++)
            if (e >= offset && e - offset < n) y[e - offset] = (float)(mean + std * z[l]);
    }
}
