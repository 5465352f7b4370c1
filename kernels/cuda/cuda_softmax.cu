/* Softmax, log-softmax and cross-entropy with the CPU backend's formulas (kernels/cpu/cpu_softmax.c):
 * one warp per line of D values (inner apart), float exponentials summed in double.  The
 * cross-entropy's mean adds the per-row losses in row order in one block, so it is deterministic. */
#include "kernels/cuda/cuda_common.cuh"

#include <math.h>

#define WARPS_PER_BLOCK (CUDA_THREADS / 32)

__device__ static inline float warp_max(float m)
{
    for (int off = 16; off > 0; off >>= 1) {
        float o = __shfl_xor_sync(0xffffffffu, m, off);
        if (o > m || isnan(o)) m = o;
    }
    return m;
}

__device__ static inline double warp_sum(double s)
{
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    return s;
}

/* log(sum_d exp(x_d)) of one line, the same in every lane. */
__device__ static inline double line_logsumexp(const float *x, int D, int inner, unsigned lane)
{
    float m = -INFINITY;
    for (int d = lane; d < D; d += 32) {
        float v = x[(size_t)d * inner];
        if (v > m || isnan(v)) m = v;
    }
    m = warp_max(m);
    if (isinf(m) && m < 0) return -INFINITY;
    double s = 0.0;
    for (int d = lane; d < D; d += 32) s += expf(x[(size_t)d * inner] - m);
    return (double)m + log(warp_sum(s));
}

/* Warp w of the grid handles lines w, w + warps, ... */
#define WARP_LINES(l, lines)                                                                  \
    const unsigned lane = threadIdx.x & 31u;                                                  \
    for (size_t l = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32; l < (lines);        \
         l += (size_t)gridDim.x * blockDim.x / 32)

static unsigned line_blocks(size_t lines)
{
    size_t b = (lines + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
    return b < 1 ? 1u : b > 4096 ? 4096u : (unsigned)b;
}

__global__ static void softmax_kernel(const float *x, float *y, int D, int inner, size_t lines, bool take_log)
{
    WARP_LINES(l, lines)
    {
        size_t base = l / inner * D * inner + l % inner;
        float lse = (float)line_logsumexp(x + base, D, inner, lane);
        for (int d = lane; d < D; d += 32) {
            size_t k = base + (size_t)d * inner;
            float z = x[k] - lse;
            y[k] = take_log ? z : expf(z);
        }
    }
}

__global__ static void softmax_backward_kernel(const float *y, const float *dy, float *dx, int D, int inner,
                                               size_t lines, bool take_log)
{
    WARP_LINES(l, lines)
    {
        size_t base = l / inner * D * inner + l % inner;
        double s = 0.0;
        for (int d = lane; d < D; d += 32) {
            size_t k = base + (size_t)d * inner;
            s += take_log ? (double)dy[k] : (double)dy[k] * y[k];
        }
        float sf = (float)warp_sum(s);
        for (int d = lane; d < D; d += 32) {
            size_t k = base + (size_t)d * inner;
            dx[k] = take_log ? dy[k] - expf(y[k]) * sf : y[k] * (dy[k] - sf);
        }
    }
}

void cuda_softmax_forward(const float *x, float *y, int outer, int D, int inner, bool take_log)
{
    size_t lines = (size_t)outer * inner;
    if (lines == 0 || D == 0) return;
    softmax_kernel<<<line_blocks(lines), CUDA_THREADS>>>(x, y, D, inner, lines, take_log);
    CUDA_CHECK_LAUNCH("softmax_kernel");
}

void cuda_softmax_backward(const float *y, const float *dy, float *dx, int outer, int D, int inner, bool take_log)
{
    size_t lines = (size_t)outer * inner;
    if (lines == 0 || D == 0) return;
    softmax_backward_kernel<<<line_blocks(lines), CUDA_THREADS>>>(y, dy, dx, D, inner, lines, take_log);
    CUDA_CHECK_LAUNCH("softmax_backward_kernel");
}

/* ---- cross-entropy ---- */

__device__ static inline int target_class(float t, int K)
{
    return t >= 0.0f && t < (float)K && t == floorf(t) ? (int)t : -1;
}

/* row_loss[n] = -(1 - s) logp[t] - (s / K) sum_k logp[k]. */
__global__ static void ce_rows_kernel(const float *logits, const float *target, double *row_loss, int N, int K,
                                      float smoothing)
{
    WARP_LINES(n, (size_t)N)
    {
        const float *x = logits + n * K;
        double lse = line_logsumexp(x, K, 1, lane), sum_x = 0.0;
        for (int k = lane; k < K; k += 32) sum_x += x[k];
        sum_x = warp_sum(sum_x);
        if (lane == 0) {
            int t = target_class(target[n], K);
            double nll = t < 0 ? (double)NAN : lse - x[t];
            row_loss[n] = (1.0 - smoothing) * nll + smoothing * (lse - sum_x / K);
        }
    }
}

__global__ static void ce_mean_kernel(const double *row_loss, int N, float *loss)
{
    __shared__ double shared[CUDA_THREADS / 32];
    double s = 0.0;
    for (int i = threadIdx.x; i < N; i += blockDim.x) s += row_loss[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) loss[0] = (float)(s / N);
}

__global__ static void ce_backward_kernel(const float *logits, const float *target, const float *dloss, float *dx,
                                          int N, int K, float smoothing)
{
    WARP_LINES(n, (size_t)N)
    {
        const float *x = logits + n * K;
        float *d = dx + n * K;
        int t = target_class(target[n], K);
        float lse = (float)line_logsumexp(x, K, 1, lane);
        float scale = dloss[0] / (float)N, off = smoothing / (float)K, hit = 1.0f - smoothing;
        for (int k = lane; k < K; k += 32) {
            float q = off + (k == t ? hit : 0.0f);
            d[k] = t < 0 ? NAN : scale * (expf(x[k] - lse) - q);
        }
    }
}

void cuda_cross_entropy_forward(const float *logits, const float *target, float *loss, int N, int K,
                                float smoothing)
{
    if (N == 0) return;
    double *rows = (double *)cuda_scratch((size_t)N * sizeof(double));
    if (!rows) return;
    ce_rows_kernel<<<line_blocks((size_t)N), CUDA_THREADS>>>(logits, target, rows, N, K, smoothing);
    if (!CUDA_CHECK_LAUNCH("ce_rows_kernel")) return;
    ce_mean_kernel<<<1, CUDA_THREADS>>>(rows, N, loss);
    CUDA_CHECK_LAUNCH("ce_mean_kernel");
}

void cuda_cross_entropy_backward(const float *logits, const float *target, const float *dloss, float *dx,
                                 int N, int K, float smoothing)
{
    if (N == 0) return;
    ce_backward_kernel<<<line_blocks((size_t)N), CUDA_THREADS>>>(logits, target, dloss, dx, N, K, smoothing);
    CUDA_CHECK_LAUNCH("ce_backward_kernel");
}
