/* The sinusoidal timestep embedding of diffusers' get_timestep_embedding (DDPM's), one formula
 * for both backends.  Row n of the (N, dim) output holds, for the half = dim / 2 frequencies
 *   f_i = exp(-ln(max_period) * i / (half - downscale_freq_shift)),
 * sin(scale * t_n f_i) for every i and then cos(scale * t_n f_i) for every i (the cosines first
 * with flip_sin_to_cos), and a zero at the end when dim is odd.
 * diffusers computes the exponent and the product t f_i in float32, and so does this, step by
 * step: in double instead, the argument at t = 999 would move by up to 5e-4.  exp, sin and cos
 * are evaluated in double and rounded once, which both backends do alike; PyTorch's float32
 * versions are within an ulp of that, and an ulp of f_i moves the argument at t = 999 by up to
 * 6e-5, the precision to which the reference itself is defined. */
#ifndef KERNELS_TIME_EMBEDDING_H
#define KERNELS_TIME_EMBEDDING_H

#include "kernels/kernel_fn.h"

#include <math.h>
#include <stdbool.h>

KERNEL_FN float kf_time_frequency(int i, int half, float downscale_freq_shift, float max_period)
{
    float exponent = (float)-log((double)max_period) * (float)i;
    exponent = exponent / (float)((double)half - downscale_freq_shift);
    return (float)exp((double)exponent);
}

/* Element j of the embedding of timestep t. */
KERNEL_FN float kf_time_embedding(float t, int j, int dim, bool flip_sin_to_cos,
                                  float downscale_freq_shift, float scale, float max_period)
{
    const int half = dim / 2;
    if (j >= 2 * half) return 0.0f; /* the padding of an odd dim */
    const bool second = j >= half;
    const int i = second ? j - half : j;
    const float arg = scale * (t * kf_time_frequency(i, half, downscale_freq_shift, max_period));
    return second != flip_sin_to_cos ? (float)cos((double)arg) : (float)sin((double)arg);
}

#endif
