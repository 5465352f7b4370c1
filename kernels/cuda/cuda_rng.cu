/* Counter-based random numbers: the same Philox4x32-10 stream as kernels/cpu/cpu_rng.c.
 * Element i of a draw is element offset + i of the seed's stream, whose element e is lane e%4
 * of counter block e/4.  One thread per counter block.  Uniforms are bit-identical to the CPU's (exact integer
 * work and one explicit fma); normals use Box-Muller in double, whose log/cos/sin may differ
 * from the host's libm in the last bit of the double, which after rounding to float almost
 * never shows. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/philox.h"

__global__ static void uniform_kernel(float *y, size_t n, size_t blocks, float lo, float span,
                                      uint64_t seed, uint64_t offset)
{
    GRID_STRIDE(k, blocks)
    {
        uint32_t r[4];
        uint64_t b = offset / 4 + k;
        philox4x32_10(b, seed, r);
        for (uint64_t l = 0, e = 4 * b; l < 4; l++, e++)
            if (e >= offset && e - offset < n) y[e - offset] = fmaf(span, philox_uniform01(r[l]), lo);
    }
}

__global__ static void normal_kernel(float *y, size_t n, size_t blocks, float mean, float std,
                                     uint64_t seed, uint64_t offset)
{
    GRID_STRIDE(k, blocks)
    {
        uint32_t r[4];
        double z[4];
        uint64_t b = offset / 4 + k;
        philox4x32_10(b, seed, r);
        philox_box_muller(r, z);
        for (uint64_t l = 0, e = 4 * b; l < 4; l++, e++)
            if (e >= offset && e - offset < n) y[e - offset] = (float)(mean + std * z[l]);
    }
}

void cuda_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset)
{
    if (n == 0) return;
    const size_t blocks = (size_t)((offset + n + 3) / 4 - offset / 4);
    uniform_kernel<<<cuda_blocks(blocks), CUDA_THREADS>>>(y, n, blocks, lo, hi - lo, seed, offset);
    CUDA_CHECK_LAUNCH("uniform_kernel");
}

void cuda_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset)
{
    if (n == 0) return;
    const size_t blocks = (size_t)((offset + n + 3) / 4 - offset / 4);
    normal_kernel<<<cuda_blocks(blocks), CUDA_THREADS>>>(y, n, blocks, mean, std, seed, offset);
    CUDA_CHECK_LAUNCH("normal_kernel");
}
