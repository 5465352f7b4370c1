/* Elementwise primitives: activations and their derivatives, linear combinations, clamping. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768

/* One loop per kind (the switch sits outside) so that the compiler can vectorise each.  The
 * formulas are kernels/activations.h's: x, y, dy and a name the element's values there. */
#define LOOP_CHEAP _Pragma("omp parallel for simd if (n > PAR_MIN)")
#define LOOP_VECTOR _Pragma("omp parallel for simd if (n > PAR_MIN / 8)")
#define LOOP_COSTLY _Pragma("omp parallel for if (n > PAR_MIN / 8)")

CPU_HOT void cpu_unary(UnaryKind kind, const float *xs, float *ys, size_t n, float a)
{
    (void)a;
    switch (kind) {
#define FORWARD_CASE(KIND, name, summary, forward, backward, reads, param, forward_cost, backward_cost) \
    case UNARY_##KIND:                                                                                 \
        LOOP_##forward_cost for (size_t i = 0; i < n; i++) {                                           \
            const float x = xs[i];                                                                     \
            ys[i] = (forward);                                                                         \
        }                                                                                              \
        break;
        ACTIVATIONS(FORWARD_CASE)
#undef FORWARD_CASE
    case UNARY_COUNT:
        break;
    }
}

/* dx = dy * f'(x); y = f(x) is used where the derivative is cheaper from it (as PyTorch does). */
CPU_HOT void cpu_unary_backward(UnaryKind kind, const float *xs, const float *ys, const float *dys, float *dxs,
                                size_t n, float a)
{
    (void)a;
    switch (kind) {
#define BACKWARD_CASE(KIND, name, summary, forward, backward, reads, param, forward_cost, backward_cost) \
    case UNARY_##KIND:                                                                                  \
        LOOP_##backward_cost for (size_t i = 0; i < n; i++) {                                           \
            const float x = xs[i], y = ys[i], dy = dys[i];                                              \
            (void)x, (void)y;                                                                           \
            dxs[i] = (backward);                                                                        \
        }                                                                                               \
        break;
        ACTIVATIONS(BACKWARD_CASE)
#undef BACKWARD_CASE
    case UNARY_COUNT:
        break;
    }
}

CPU_HOT void cpu_axpby(size_t n, float alpha, const float *a, float beta, const float *b, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = alpha * a[i] + beta * b[i];
}

CPU_HOT void cpu_mul(size_t n, const float *a, const float *b, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
}

CPU_HOT void cpu_scale_shift(size_t n, float alpha, const float *x, float beta, float *y)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta;
}

CPU_HOT void cpu_clamp(float *p, size_t n, float lo, float hi)
{
#pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) p[i] = fminf(fmaxf(p[i], lo), hi);
}
