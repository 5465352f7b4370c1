/* Counter-based random numbers: Philox4x32-10 (Salmon et al. 2011, as in Random123 and
 * cuRAND) and the transforms to floats, shared by kernels/cpu/cpu_rng.c and
 * kernels/cuda/cuda_rng.cu so both backends draw the same stream.  The stream of a 64-bit seed
 * (the key) has element e in lane e%4 of counter block e/4.  Uniforms take the top
 * 24 bits with an explicit fma; normals use Box-Muller in double, rounded once to float. */
#ifndef KERNELS_PHILOX_H
#define KERNELS_PHILOX_H

#include "kernels/kernel_fn.h"

#include <math.h>
#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

KERNEL_FN void philox4x32_10(uint64_t counter, uint64_t seed, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
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
KERNEL_FN float philox_uniform01(uint32_t bits) { return (float)(bits >> 8) * 0x1p-24f; }
/* (0, 1]: safe under log. */
KERNEL_FN double philox_uniform01_open(uint32_t bits) { return ((bits >> 8) + 1.0) * 0x1p-24; }

/* Four standard normals from one counter block: lanes (0, 1) and (2, 3) each make one
 * Box-Muller pair. */
KERNEL_FN void philox_box_muller(const uint32_t r[4], double z[4])
{
    const double two_pi = 6.283185307179586476925286766559;
    for (int p = 0; p < 2; p++) {
        double radius = sqrt(-2.0 * log(philox_uniform01_open(r[2 * p])));
        double angle = two_pi * philox_uniform01(r[2 * p + 1]);
        z[2 * p] = radius * cos(angle);
        z[2 * p + 1] = radius * sin(angle);
    }
}

#endif
