/* Elementwise primitives: activations and their derivatives, linear combinations, FiLM, clamping.
 * Activations come from kernels/activations.h, as on the CPU; the build turns off
 * multiply-add contraction (--fmad=false) so that plain arithmetic rounds exactly as on the
 * CPU; the transcendental functions (expf, tanhf, logf, log1pf) may differ by an ulp or two. */
#include "kernels/cuda/cuda_common.cuh"

/* The formulas of kernels/activations.h (shared with the CPU); the kind is the same for every
 * thread, so the switch does not diverge. */
__device__ static inline float unary_f(UnaryKind kind, float x, float a)
{
    switch (kind) {
#define FORWARD_CASE(KIND, name, summary, forward, ...) \
    case UNARY_##KIND: return (forward);
        ACTIVATIONS(FORWARD_CASE)
#undef FORWARD_CASE
    default: return x;
    }
}

/* dy * f'(x), using y = f(x) where the derivative is cheaper from it (as PyTorch does). */
__device__ static inline float unary_grad_f(UnaryKind kind, float x, float y, float dy, float a)
{
    switch (kind) {
#define BACKWARD_CASE(KIND, name, summary, forward, backward, ...) \
    case UNARY_##KIND: return (backward);
        ACTIVATIONS(BACKWARD_CASE)
#undef BACKWARD_CASE
    default: return dy;
    }
}

__global__ static void unary_kernel(UnaryKind kind, const float *x, float *y, size_t n, float alpha)
{
    GRID_STRIDE(i, n) y[i] = unary_f(kind, x[i], alpha);
}

__global__ static void unary_backward_kernel(UnaryKind kind, const float *x, const float *y,
                                             const float *dy, float *dx, size_t n, float alpha)
{
    GRID_STRIDE(i, n) dx[i] = unary_grad_f(kind, x[i], y[i], dy[i], alpha);
}

void cuda_unary(UnaryKind kind, const float *x, float *y, size_t n, float alpha)
{
    if (n == 0 || kind < 0 || kind >= UNARY_COUNT) return;
    unary_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(kind, x, y, n, alpha);
    CUDA_CHECK_LAUNCH("unary_kernel");
}

void cuda_unary_backward(UnaryKind kind, const float *x, const float *y, const float *dy,
                         float *dx, size_t n, float alpha)
{
    if (n == 0 || kind < 0 || kind >= UNARY_COUNT) return;
    unary_backward_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(kind, x, y, dy, dx, n, alpha);
    CUDA_CHECK_LAUNCH("unary_backward_kernel");
}

__global__ static void axpby_kernel(size_t n, float alpha, const float *a, float beta,
                                    const float *b, float *y)
{
    GRID_STRIDE(i, n) y[i] = alpha * a[i] + beta * b[i];
}

void cuda_axpby(size_t n, float alpha, const float *a, float beta, const float *b, float *y)
{
    if (n == 0) return;
    axpby_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(n, alpha, a, beta, b, y);
    CUDA_CHECK_LAUNCH("axpby_kernel");
}

__global__ static void mul_kernel(size_t n, const float *a, const float *b, float *y)
{
    GRID_STRIDE(i, n) y[i] = a[i] * b[i];
}

void cuda_mul(size_t n, const float *a, const float *b, float *y)
{
    if (n == 0) return;
    mul_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(n, a, b, y);
    CUDA_CHECK_LAUNCH("mul_kernel");
}

__global__ static void scale_shift_kernel(size_t n, float alpha, const float *x, float beta,
                                          float *y)
{
    GRID_STRIDE(i, n) y[i] = alpha * x[i] + beta;
}

void cuda_scale_shift(size_t n, float alpha, const float *x, float beta, float *y)
{
    if (n == 0) return;
    scale_shift_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(n, alpha, x, beta, y);
    CUDA_CHECK_LAUNCH("scale_shift_kernel");
}

/* FiLM: row (n, c) of (N, C, inner) becomes x * (1 + scale) + shift, as on the CPU. */
__global__ static void film_kernel(const float *x, const float *scale, const float *shift, float *y,
                                   size_t n, int C, int inner, int ld)
{
    GRID_STRIDE(i, n)
    {
        const size_t row = i / inner, at = (row / C) * ld + row % C;
        const float a = 1.0f + (scale ? scale[at] : 0.0f), b = shift ? shift[at] : 0.0f;
        y[i] = a * x[i] + b;
    }
}

void cuda_film_forward(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, int inner, int ld)
{
    const size_t n = (size_t)N * C * inner;
    if (n == 0) return;
    film_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(x, scale, shift, y, n, C, inner, ld);
    CUDA_CHECK_LAUNCH("film_kernel");
}

__global__ static void clamp_kernel(float *p, size_t n, float lo, float hi)
{
    GRID_STRIDE(i, n) p[i] = fminf(fmaxf(p[i], lo), hi);
}

void cuda_clamp(float *p, size_t n, float lo, float hi)
{
    if (n == 0) return;
    clamp_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, n, lo, hi);
    CUDA_CHECK_LAUNCH("clamp_kernel");
}
