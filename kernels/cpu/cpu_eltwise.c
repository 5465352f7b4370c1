/* Elementwise primitives: activations and their derivatives, linear combinations, clamping.
 * Each kind has its own loop (the switch sits outside) so the compiler can vectorise it. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768

static inline float sigmoidf(float x)
{
    /* Two branches so that exp never overflows. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void cpu_unary(UnaryKind kind, const float *x, float *y, size_t n, float alpha)
{
    switch (kind) {
    case UNARY_RELU:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case UNARY_LEAKY_RELU:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
        break;
    case UNARY_TANH:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case UNARY_SIGMOID:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = sigmoidf(x[i]);
        break;
    case UNARY_SILU:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf(x[i]);
        break;
    case UNARY_SOFTPLUS:
        /* max(x, 0) + log1p(exp(-|x|)): exact for large |x| without overflow. */
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
        break;
    case UNARY_EXP:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
        break;
    case UNARY_LOG:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) y[i] = logf(x[i]);
        break;
    case UNARY_SQUARE:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] * x[i];
        break;
    case UNARY_SQRT:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = sqrtf(x[i]);
        break;
    case UNARY_ABS:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
        break;
    case UNARY_COUNT:
        break;
    }
}

/* dx = dy * f'(x); y = f(x) is used where the derivative is cheaper from it (as PyTorch does). */
void cpu_unary_backward(UnaryKind kind, const float *x, const float *y, const float *dy, float *dx,
                        size_t n, float alpha)
{
    switch (kind) {
    case UNARY_RELU:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case UNARY_LEAKY_RELU:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
        break;
    case UNARY_TANH:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case UNARY_SIGMOID:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case UNARY_SILU:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) {
            float s = sigmoidf(x[i]);
            dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
    case UNARY_SOFTPLUS:
#pragma omp parallel for if (n > PAR_MIN / 8)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * sigmoidf(x[i]);
        break;
    case UNARY_EXP:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * y[i];
        break;
    case UNARY_LOG:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] / x[i];
        break;
    case UNARY_SQUARE:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = 2.0f * x[i] * dy[i];
        break;
    case UNARY_SQRT:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] / (2.0f * y[i]);
        break;
    case UNARY_ABS:
#pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++)
            dx[i] = x[i] > 0.0f ? dy[i] : (x[i] < 0.0f ? -dy[i] : 0.0f);
        break;
    case UNARY_COUNT:
        break;
    }
}

void cpu_axpby(size_t n, float alpha, const float *a, float beta, const float *b, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = alpha * a[i] + beta * b[i];
}

void cpu_mul(size_t n, const float *a, const float *b, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

void cpu_scale_shift(size_t n, float alpha, const float *x, float beta, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta;
}

void cpu_clamp(float *p, size_t n, float lo, float hi)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) p[i] = fminf(fmaxf(p[i], lo), hi);
}
