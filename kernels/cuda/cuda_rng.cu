/* Counter-based random numbers: the same Philox4x32-10 stream as kernels/cpu/cpu_rng.c.
 * Element i of a draw uses counter block offset + i/4, lane i%4, with the 64-bit seed as the
 * key.  One thread per counter block.  Uniforms are bit-identical to the CPU's (exact integer
 * work and one explicit fma); normals use Box-Muller in double, whose log/cos/sin may differ
 * from the host's libm in the last bit of the double, which after rounding to float almost
 * never shows. */
#include "kernels/cuda/cuda_common.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ static void philox4x32_10(uint64_t counter, uint64_t seed, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        uint32_t hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* [0, 1) with 24 random bits: every value is exact in float. */
__device__ static inline float uniform01(uint32_t bits) { return (float)(bits >> 8) * 0x1p-24f; }
/* (0, 1]: safe under log. */
__device__ static inline double uniform01_open(uint32_t bits) { return ((bits >> 8) + 1.0) * 0x1p-24; }

__global__ static void uniform_kernel(float *y, size_t n, size_t blocks, float lo, float span,
                                      uint64_t seed, uint64_t offset)
{
    GRID_STRIDE(b, blocks)
    {
        uint32_t r[4];
        philox4x32_10(offset + b, seed, r);
        for (size_t l = 0; l < 4 && 4 * b + l < n; l++) y[4 * b + l] = fmaf(span, uniform01(r[l]), lo);
    }
}

__global__ static void normal_kernel(float *y, size_t n, size_t blocks, float mean, float std,
                                     uint64_t seed, uint64_t offset)
{
    const double two_pi = 6.283185307179586476925286766559;
    GRID_STRIDE(b, blocks)
    {
        uint32_t r[4];
        double z[4];
        philox4x32_10(offset + b, seed, r);
        /* Lanes (0, 1) and (2, 3) each make one Box-Muller pair. */
        for (int p = 0; p < 2; p++) {
            double radius = sqrt(-2.0 * log(uniform01_open(r[2 * p])));
            double angle = two_pi * uniform01(r[2 * p + 1]);
            z[2 * p] = radius * cos(angle);
            z[2 * p + 1] = radius * sin(angle);
        }
        for (size_t l = 0; l < 4 && 4 * b + l < n; l++) y[4 * b + l] = (float)(mean + std * z[l]);
    }
}

void cuda_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset)
{
    if (n == 0) return;
    const size_t blocks = (n + 3) / 4;
    uniform_kernel<<<cuda_blocks(blocks), CUDA_THREADS>>>(y, n, blocks, lo, hi - lo, seed, offset);
    CUDA_CHECK_LAUNCH("uniform_kernel");
}

void cuda_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset)
{
    if (n == 0) return;
    const size_t blocks = (n + 3) / 4;
    normal_kernel<<<cuda_blocks(blocks), CUDA_THREADS>>>(y, n, blocks, mean, std, seed, offset);
    CUDA_CHECK_LAUNCH("normal_kernel");
}
