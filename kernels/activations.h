/* Every activation, defined once: the op table (graph/ops/ops.def, graph/ops/activation.c), the
 * UnaryKind enum (kernels/backend.h) and both backends' kernels (kernels/cpu/cpu_eltwise.c,
 * kernels/cuda/cuda_eltwise.cu) are generated from this list, so they cannot drift apart.
 *
 * ACTIVATION(KIND, name, summary, forward, backward, reads, param, forward_cost, backward_cost)
 *   forward:  y from x (a is the op's parameter, see `param`);
 *   backward: dx from dy, x, y = f(x) and a, in the order of operations PyTorch rounds with;
 *   reads:    X or Y, the value the derivative reads (unary_grad differentiates through it);
 *             FLAT for a piecewise-constant derivative (no second-order term);
 *   param:    NO_PARAM, or NEGATIVE_SLOPE (attribute negative_slope, default 0.01, passed as a);
 *   costs:    CHEAP (vectorised loop, threads above 32768 elements), VECTOR (vectorised, but tens
 *             of operations per element: threads above 4096) or COSTLY (a libm call per
 *             element: threads above 4096).
 * Adding one: a line here (and a KERNEL_FN below if its formula needs one), its cases in
 * tests/parity/cases_eltwise.py, `make docs` for docs/SPEC.md, and a case in
 * second_derivative() in graph/ops/activation.c if WGAN-GP critics may use it. */
#ifndef KERNELS_ACTIVATIONS_H
#define KERNELS_ACTIVATIONS_H

#include "kernels/exp_nonpositive.h"
#include "kernels/kernel_fn.h"

#include <math.h>

#define ACTIVATIONS(ACTIVATION)                                                                     \
    ACTIVATION(RELU, relu, "max(x, 0)",                                                             \
               x > 0.0f ? x : 0.0f, x > 0.0f ? dy : 0.0f, FLAT, NO_PARAM, CHEAP, CHEAP)             \
    ACTIVATION(LEAKY_RELU, leaky_relu, "x for x > 0, negative_slope * x otherwise",                 \
               x > 0.0f ? x : a * x, x > 0.0f ? dy : a * dy, FLAT, NEGATIVE_SLOPE, CHEAP, CHEAP)    \
    ACTIVATION(TANH, tanh, "tanh(x)",                                                               \
               tanhf(x), dy * (1.0f - y * y), Y, NO_PARAM, COSTLY, CHEAP)                           \
    ACTIVATION(SIGMOID, sigmoid, "1 / (1 + exp(-x))",                                               \
               kf_sigmoid(x), dy * y * (1.0f - y), Y, NO_PARAM, VECTOR, CHEAP)                      \
    ACTIVATION(SILU, silu, "x * sigmoid(x) (swish)",                                                \
               x * kf_sigmoid(x), kf_silu_grad(x, dy), X, NO_PARAM, VECTOR, VECTOR)                 \
    ACTIVATION(GELU, gelu, "x * Phi(x), Phi the standard normal CDF (exact, as PyTorch's default)", \
               kf_gelu(x), kf_gelu_grad(x, dy), X, NO_PARAM, COSTLY, COSTLY)                        \
    ACTIVATION(SOFTPLUS, softplus, "log(1 + exp(x))",                                               \
               fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))), dy * kf_sigmoid(x), X, NO_PARAM, COSTLY,   \
               COSTLY)                                                                              \
    ACTIVATION(EXP, exp, "exp(x)", expf(x), dy * y, Y, NO_PARAM, COSTLY, CHEAP)                     \
    ACTIVATION(LOG, log, "natural logarithm", logf(x), dy / x, X, NO_PARAM, COSTLY, CHEAP)          \
    ACTIVATION(SQUARE, square, "x * x", x * x, 2.0f * x * dy, X, NO_PARAM, CHEAP, CHEAP)            \
    ACTIVATION(SQRT, sqrt, "square root", sqrtf(x), dy / (2.0f * y), Y, NO_PARAM, CHEAP, CHEAP)     \
    ACTIVATION(ABS, abs, "|x|",                                                                     \
               fabsf(x), x > 0.0f ? dy : (x < 0.0f ? -dy : 0.0f), FLAT, NO_PARAM, CHEAP, CHEAP)

/* 1 / (1 + exp(-x)) from e = exp(-|x|), which never overflows: 1 / (1 + e) for x >= 0, e / (1 + e)
 * below.  Both are formed from one reciprocal (a division costs as much as the rest of the
 * formula; the product adds at most half an ulp) and one is selected by the sign bit, so that
 * loops over it vectorise (kernels/exp_nonpositive.h). */
KERNEL_FN float kf_sigmoid(float x)
{
    KfFloatBits b = {.f = x}, below, above;
    float e = kf_exp_nonpositive(-fabsf(x)), r = 1.0f / (1.0f + e);
    below.f = e * r, above.f = r;
    uint32_t negative = kf_mask((int)(b.u >> 31));
    b.u = (below.u & negative) | (above.u & ~negative);
    return b.f;
}

/* x * Phi(x) and dy * (Phi(x) + x phi(x)), with Phi(x) = erfc(-x / sqrt 2) / 2: PyTorch's
 * 1 + erf(x / sqrt 2) cancels to 0 in the left tail (x < -5.5), erfc keeps its digits. */
KERNEL_FN float kf_gelu(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
KERNEL_FN float kf_gelu_grad(float x, float dy)
{
    float cdf = 0.5f * erfcf(-x * 0.70710678118654752f);
    float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
    return dy * (cdf + x * pdf);
}

/* dy * silu'(x) = dy * s * (1 + x * (1 - s)), s = sigmoid(x). */
KERNEL_FN float kf_silu_grad(float x, float dy)
{
    float s = kf_sigmoid(x);
    return dy * s * (1.0f + x * (1.0f - s));
}

#endif
