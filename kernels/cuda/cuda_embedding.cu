/* Embeddings: the sinusoidal timestep embedding (kernels/time_embedding.h, shared with the CPU)
 * and table lookup; the lookup's gradient sums each table entry's rows of dy in order of
 * sample, as the CPU does, so both give the same floats. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/time_embedding.h"

__global__ static void time_embedding_kernel(const float *t, float *y, size_t n, int dim, bool flip,
                                             float shift, float scale, float max_period)
{
    GRID_STRIDE(k, n) y[k] = kf_time_embedding(t[k / dim], (int)(k % dim), dim, flip, shift, scale, max_period);
}

void cuda_time_embedding(const float *t, float *y, int N, int dim, bool flip_sin_to_cos,
                         float downscale_freq_shift, float scale, float max_period)
{
    const size_t n = (size_t)N * dim;
    if (n == 0) return;
    time_embedding_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(t, y, n, dim, flip_sin_to_cos,
                                                            downscale_freq_shift, scale, max_period);
    CUDA_CHECK_LAUNCH("time_embedding_kernel");
}

__global__ static void embedding_forward_kernel(const float *ids, const float *table, float *y, size_t n,
                                                int dim)
{
    GRID_STRIDE(k, n) y[k] = table[(size_t)ids[k / dim] * dim + k % dim];
}

void cuda_embedding_forward(const float *ids, const float *table, float *y, int N, int dim)
{
    const size_t n = (size_t)N * dim;
    if (n == 0) return;
    embedding_forward_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(ids, table, y, n, dim);
    CUDA_CHECK_LAUNCH("embedding_forward_kernel");
}

/* One thread per table element: no atomics, and the CPU's order of summation. */
__global__ static void embedding_backward_kernel(const float *ids, const float *dy, float *dtable,
                                                 size_t n, int N, int dim)
{
    GRID_STRIDE(k, n)
    {
        const size_t row = k / dim, col = k % dim;
        float s = 0.0f;
        for (int i = 0; i < N; i++)
            if ((size_t)ids[i] == row) s += dy[(size_t)i * dim + col];
        dtable[k] = s;
    }
}

void cuda_embedding_backward(const float *ids, const float *dy, float *dtable, int N, int num, int dim)
{
    const size_t n = (size_t)num * dim;
    if (n == 0) return;
    embedding_backward_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(ids, dy, dtable, n, N, dim);
    CUDA_CHECK_LAUNCH("embedding_backward_kernel");
}
