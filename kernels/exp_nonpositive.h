/* exp(x) for x <= 0 in plain arithmetic, shared by the activations (kernels/activations.h: the
 * sigmoid and silu) and the CPU attention's softmax: loops over it vectorise, where a libm expf
 * per element stays a scalar call (glibc's vector expf needs -ffast-math). */
#ifndef KERNELS_EXP_NONPOSITIVE_H
#define KERNELS_EXP_NONPOSITIVE_H

#include "kernels/kernel_fn.h"

#include <stdint.h>

typedef union KfFloatBits {
    float f;
    uint32_t u;
    int32_t i;
} KfFloatBits;

/* All ones when `test` holds, else 0: selects written with it are arithmetic, where a ?: after
 * floating-point operations makes GCC branch (it may not if-convert them while floating-point
 * traps are on), which stops a loop from vectorising. */
KERNEL_FN uint32_t kf_mask(int test) { return 0u - (uint32_t)(test != 0); }

#define KF_NEG_104 0xC2D00000u /* the bits of -104.0f: exp(-104) rounds to 0 */

/* exp(x) for x <= 0, within 1.5 ulp of the exact value where it is a normal float: x = n ln2 + r
 * with |r| <= ln2 / 2 (ln2 split in two, after Cody and Waite), exp(r) by Cephes' expf
 * polynomial, times 2^n in two factors so that results below the smallest normal float go to
 * subnormals and, below exp(-104), to 0 (-inf included); NaN stays NaN.  Only integer
 * comparisons and kf_mask selects, so that loops over it vectorise. */
KERNEL_FN float kf_exp_nonpositive(float x)
{
    KfFloatBits in = {.f = x}, c;
    uint32_t mag = in.u & 0x7FFFFFFFu, keep = kf_mask(mag < (KF_NEG_104 & 0x7FFFFFFFu));
    c.u = (in.u & keep) | (KF_NEG_104 & ~keep);
    KfFloatBits big = {.f = c.f * 1.44269504088896341f + 12582912.0f}; /* + 1.5 * 2^23 rounds to n */
    float n = big.f - 12582912.0f;
    float r = c.f - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = big.i - 0x4B400000, half = e >> 1; /* n, from -150 to 0, and its halves */
    KfFloatBits a = {.i = (half + 127) * (1 << 23)}, b = {.i = (e - half + 127) * (1 << 23)}, out = {.f = p * a.f * b.f};
    uint32_t nan = kf_mask(mag > 0x7F800000u);
    out.u = (in.u & nan) | (out.u & ~nan);
    return out.f;
}

#endif
