/* Reductions: bias add/gradient, batch and group normalisation and sums.  Everything that sums is
 * accumulated in double, in a fixed order (deterministic), with the CPU backend's formulas
 * (kernels/cpu/cpu_norm.c, cpu_reduce.c, cpu_conv.c's bias).
 * Per-channel work over (N, C, inner) uses one block per channel: element j of channel c sits
 * at ((j / inner) * C + c) * inner + j % inner. */
#include "kernels/cuda/cuda_common.cuh"

#define CHANNEL_THREADS 512

__device__ static inline size_t channel_index(size_t j, int C, int c, int inner)
{
    return ((j / inner) * C + c) * inner + j % inner;
}

__global__ static void bias_add_kernel(float *y, const float *b, size_t n, int C, int inner)
{
    GRID_STRIDE(i, n) y[i] += b[(i / inner) % C];
}

void cuda_bias_add(float *y, const float *b, int outer, int C, int inner)
{
    const size_t n = (size_t)outer * C * inner;
    if (n == 0) return;
    bias_add_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(y, b, n, C, inner);
    CUDA_CHECK_LAUNCH("bias_add_kernel");
}

__global__ static void bias_grad_kernel(const float *dy, float *db, int outer, int C, int inner)
{
    __shared__ double shared[CHANNEL_THREADS / 32];
    const int c = blockIdx.x;
    const size_t m = (size_t)outer * inner;
    double s = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) s += dy[channel_index(j, C, c, inner)];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) db[c] = (float)s;
}

void cuda_bias_grad(const float *dy, float *db, int outer, int C, int inner)
{
    if (C <= 0) return;
    bias_grad_kernel<<<C, CHANNEL_THREADS>>>(dy, db, outer, C, inner);
    CUDA_CHECK_LAUNCH("bias_grad_kernel");
}

/* y = x * a + b over one channel, a = invstd * gamma, b = beta - mean * a (as the CPU). */
__device__ static void channel_apply(const float *x, float *y, size_t m, int C, int c, int inner,
                                     float mean, float invstd, const float *gamma,
                                     const float *beta)
{
    const float a = invstd * (gamma ? gamma[c] : 1.0f);
    const float b = (beta ? beta[c] : 0.0f) - mean * a;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        size_t k = channel_index(j, C, c, inner);
        y[k] = x[k] * a + b;
    }
}

/* Two passes (mean, then the centred sum of squares) so large batches keep float accuracy.
 * Every element is read by the thread that writes it, after both reductions, so y may alias x. */
__global__ static void bn_train_kernel(const float *x, const float *gamma, const float *beta,
                                       float *y, float *save_mean, float *save_invstd,
                                       float *running_mean, float *running_var, int N, int C,
                                       int inner, float eps, float momentum)
{
    __shared__ double shared[CHANNEL_THREADS / 32];
    __shared__ double stat[2];
    const int c = blockIdx.x;
    const size_t m = (size_t)N * inner;
    const double count = (double)m;

    double s = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) s += x[channel_index(j, C, c, inner)];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) stat[0] = s / count;
    __syncthreads();
    const double mean = stat[0];

    double q = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        double d = x[channel_index(j, C, c, inner)] - mean;
        q += d * d;
    }
    q = block_sum(q, shared);
    if (threadIdx.x == 0) {
        const double var = q / count; /* biased, as used for normalising */
        const float invstd = (float)(1.0 / sqrt(var + eps));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        if (running_mean)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        if (running_var) {
            /* The running estimate uses the unbiased variance, as PyTorch does. */
            double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        stat[1] = invstd;
    }
    __syncthreads();
    channel_apply(x, y, m, C, c, inner, (float)mean, (float)stat[1], gamma, beta);
}

void cuda_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_invstd, float *running_mean,
                                  float *running_var, int N, int C, int inner, float eps,
                                  float momentum)
{
    if (C <= 0) return;
    bn_train_kernel<<<C, CHANNEL_THREADS>>>(x, gamma, beta, y, save_mean, save_invstd,
                                            running_mean, running_var, N, C, inner, eps,
                                            momentum);
    CUDA_CHECK_LAUNCH("bn_train_kernel");
}

__global__ static void bn_eval_kernel(const float *x, const float *gamma, const float *beta,
                                      float *y, const float *running_mean,
                                      const float *running_var, int N, int C, int inner, float eps)
{
    const int c = blockIdx.x;
    const float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
    channel_apply(x, y, (size_t)N * inner, C, c, inner, running_mean[c], invstd, gamma, beta);
}

void cuda_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                 const float *running_mean, const float *running_var, int N,
                                 int C, int inner, float eps)
{
    if (C <= 0) return;
    bn_eval_kernel<<<C, CHANNEL_THREADS>>>(x, gamma, beta, y, running_mean, running_var, N, C,
                                           inner, eps);
    CUDA_CHECK_LAUNCH("bn_eval_kernel");
}

/* Training-mode gradient, with xhat = (x - mean) * invstd and M = N * inner:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma), folded to a*dy + b*x + d. */
__global__ static void bn_backward_kernel(const float *dy, const float *x, const float *gamma,
                                          const float *save_mean, const float *save_invstd,
                                          float *dx, float *dgamma, float *dbeta, int N, int C,
                                          int inner)
{
    __shared__ double shared[CHANNEL_THREADS / 32];
    __shared__ double stat[2];
    const int c = blockIdx.x;
    const size_t m = (size_t)N * inner;
    const double count = (double)m;
    const double mean = save_mean[c], invstd = save_invstd[c];

    double sdy = 0.0, sdyx = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        size_t k = channel_index(j, C, c, inner);
        sdy += dy[k];
        sdyx += dy[k] * (x[k] - mean);
    }
    sdy = block_sum(sdy, shared);
    sdyx = block_sum(sdyx, shared);
    if (threadIdx.x == 0) {
        stat[0] = sdy;
        stat[1] = sdyx * invstd; /* sum dy * xhat */
        if (dbeta) dbeta[c] = (float)stat[0];
        if (dgamma) dgamma[c] = (float)stat[1];
    }
    __syncthreads();
    if (!dx) return;
    const double g = gamma ? gamma[c] : 1.0;
    const float a = (float)(g * invstd);
    const float b = (float)(-g * invstd * invstd * stat[1] / count);
    const float d = (float)(-g * invstd * stat[0] / count - b * mean);
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        size_t k = channel_index(j, C, c, inner);
        dx[k] = a * dy[k] + b * x[k] + d;
    }
}

void cuda_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                             const float *save_mean, const float *save_invstd, float *dx,
                             float *dgamma, float *dbeta, int N, int C, int inner)
{
    if (C <= 0) return;
    bn_backward_kernel<<<C, CHANNEL_THREADS>>>(dy, x, gamma, save_mean, save_invstd, dx, dgamma,
                                               dbeta, N, C, inner);
    CUDA_CHECK_LAUNCH("bn_backward_kernel");
}

/* Group normalisation: one block per row r = n * G + g, the contiguous C/G x inner values of
 * sample n, group g (element j of the row is in channel g * C/G + j / inner).  Two passes for the
 * statistics, as batch norm's; every element is read by the thread that writes it, so y may
 * alias x. */
__global__ static void gn_forward_kernel(const float *x, const float *gamma, const float *beta,
                                         float *y, float *save_mean, float *save_rstd, int G,
                                         int Cg, int inner, float eps)
{
    __shared__ double shared[CHANNEL_THREADS / 32];
    __shared__ double stat[2];
    const int r = blockIdx.x;
    const size_t m = (size_t)Cg * inner;
    const float *xr = x + r * m;
    double s = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) s += xr[j];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) stat[0] = s / (double)m;
    __syncthreads();
    const double mean = stat[0];
    double q = 0.0;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        double d = xr[j] - mean;
        q += d * d;
    }
    q = block_sum(q, shared);
    if (threadIdx.x == 0) {
        const float rstd = (float)(1.0 / sqrt(q / (double)m + eps)); /* biased variance */
        save_mean[r] = (float)mean;
        save_rstd[r] = rstd;
        stat[1] = rstd;
    }
    __syncthreads();
    const float rstd = (float)stat[1], meanf = (float)mean;
    const int ch0 = (r % G) * Cg;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        const int c = ch0 + (int)(j / inner);
        const float a = rstd * (gamma ? gamma[c] : 1.0f);
        const float b = (beta ? beta[c] : 0.0f) - meanf * a;
        y[r * m + j] = xr[j] * a + b;
    }
}

void cuda_group_norm_forward(const float *x, const float *gamma, const float *beta, float *y,
                             float *save_mean, float *save_rstd, int N, int C, int inner, int G,
                             float eps)
{
    if (N * G <= 0) return;
    gn_forward_kernel<<<N * G, CHANNEL_THREADS>>>(x, gamma, beta, y, save_mean, save_rstd, G, C / G,
                                                  inner, eps);
    CUDA_CHECK_LAUNCH("gn_forward_kernel");
}

/* Row r = (sample, group) per block, the CPU's formulas: each warp sums channels of the row,
 * s1 = sum dy and s2 = sum dy * x (into the work arrays, [n * C + c]); then, with gw = gamma * dy
 * and count = C/G * inner, dx = a * dy + b * (x - mean) + d, a = rstd gamma,
 * b = -rstd^2 sum(gw xhat) / count, d = -rstd sum(gw) / count. */
__global__ static void gn_backward_rows_kernel(const float *dy, const float *x, const float *gamma,
                                               const float *save_mean, const float *save_rstd, float *dx,
                                               double *s1, double *s2, int G, int Cg, int inner)
{
    __shared__ double shared[CHANNEL_THREADS / 32];
    __shared__ double stat[2];
    const int r = blockIdx.x, ch0 = (r % G) * Cg;
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const size_t m = (size_t)Cg * inner, at = r * m;
    double *r1 = s1 + (size_t)r * Cg, *r2 = s2 + (size_t)r * Cg;
    for (int c = (int)warp; c < Cg; c += (int)warps) {
        const float *dyc = dy + at + (size_t)c * inner, *xc = x + at + (size_t)c * inner;
        double a = 0.0, b = 0.0;
        for (int i = (int)lane; i < inner; i += 32) {
            a += dyc[i];
            b += (double)dyc[i] * xc[i];
        }
        for (int off = 16; off > 0; off >>= 1) {
            a += __shfl_down_sync(0xffffffffu, a, off);
            b += __shfl_down_sync(0xffffffffu, b, off);
        }
        if (lane == 0) r1[c] = a, r2[c] = b;
    }
    __syncthreads(); /* the block's global writes are visible to it after the barrier */
    if (!dx) return;
    double sg = 0.0, sgx = 0.0;
    for (int c = (int)threadIdx.x; c < Cg; c += (int)blockDim.x) {
        const double g = gamma ? gamma[ch0 + c] : 1.0;
        sg += g * r1[c];
        sgx += g * r2[c];
    }
    sg = block_sum(sg, shared);
    sgx = block_sum(sgx, shared);
    const double mean = save_mean[r], rstd = save_rstd[r];
    if (threadIdx.x == 0) stat[0] = sg, stat[1] = (sgx - mean * sg) * rstd; /* sum gw, sum gw * xhat */
    __syncthreads();
    const float b = (float)(-rstd * rstd * stat[1] / (double)m), d = (float)(-rstd * stat[0] / (double)m);
    const float meanf = (float)mean;
    for (size_t j = threadIdx.x; j < m; j += blockDim.x) {
        const float a = (float)(rstd * (gamma ? gamma[ch0 + j / inner] : 1.0f));
        dx[at + j] = a * dy[at + j] + b * (x[at + j] - meanf) + d;
    }
}

/* dbeta[c] = sum_n s1[n, c], dgamma[c] = sum_n rstd (s2[n, c] - mean s1[n, c]), in order of n. */
__global__ static void gn_param_grads_kernel(const double *s1, const double *s2, const float *save_mean,
                                             const float *save_rstd, float *dgamma, float *dbeta, int N, int C,
                                             int G)
{
    GRID_STRIDE(c, (size_t)C)
    {
        double sb = 0.0, sw = 0.0;
        for (int n = 0; n < N; n++) {
            const size_t k = (size_t)n * C + c;
            const int r = n * G + (int)c / (C / G);
            sb += s1[k];
            sw += (s2[k] - (double)save_mean[r] * s1[k]) * save_rstd[r];
        }
        if (dbeta) dbeta[c] = (float)sb;
        if (dgamma) dgamma[c] = (float)sw;
    }
}

void cuda_group_norm_backward(const float *dy, const float *x, const float *gamma,
                              const float *save_mean, const float *save_rstd, float *dx,
                              float *dgamma, float *dbeta, void *work, int N, int C, int inner, int G)
{
    if (N * G <= 0) return;
    double *s1 = (double *)work, *s2 = s1 + (size_t)N * C;
    gn_backward_rows_kernel<<<N * G, CHANNEL_THREADS>>>(dy, x, gamma, save_mean, save_rstd, dx, s1, s2, G, C / G,
                                                        inner);
    if (!CUDA_CHECK_LAUNCH("gn_backward_rows_kernel") || (!dgamma && !dbeta)) return;
    gn_param_grads_kernel<<<cuda_blocks((size_t)C), CUDA_THREADS>>>(s1, s2, save_mean, save_rstd, dgamma, dbeta, N,
                                                                    C, G);
    CUDA_CHECK_LAUNCH("gn_param_grads_kernel");
}

/* Sums: each block writes its partial sum, then one block adds the partials in order. */
#define SUM_MAX_BLOCKS 1024

__global__ static void partial_sum_kernel(const float *x, size_t n, bool squares, double *partial)
{
    __shared__ double shared[CUDA_THREADS / 32];
    double s = 0.0;
    GRID_STRIDE(i, n)
    {
        double v = x[i];
        s += squares ? v * v : v;
    }
    s = block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* total = sum of partial[0..count); also y[0] = (float)(alpha * total) when y != NULL. */
__global__ static void final_sum_kernel(const double *partial, unsigned count, double *total,
                                        float alpha, float *y)
{
    __shared__ double shared[CUDA_THREADS / 32];
    double s = 0.0;
    for (unsigned i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) {
        *total = s;
        if (y) y[0] = (float)(alpha * s);
    }
}

/* Launches both passes; the total lands in the returned device double (NULL on failure). */
static double *device_sum(const float *x, size_t n, bool squares, float alpha, float *y)
{
    unsigned blocks = cuda_blocks(n);
    if (blocks > SUM_MAX_BLOCKS) blocks = SUM_MAX_BLOCKS;
    double *partial = (double *)cuda_scratch((blocks + 1) * sizeof(double));
    if (!partial) return NULL;
    partial_sum_kernel<<<blocks, CUDA_THREADS>>>(x, n, squares, partial);
    if (!CUDA_CHECK_LAUNCH("partial_sum_kernel")) return NULL;
    final_sum_kernel<<<1, CUDA_THREADS>>>(partial, blocks, partial + blocks, alpha, y);
    if (!CUDA_CHECK_LAUNCH("final_sum_kernel")) return NULL;
    return partial + blocks;
}

static double host_sum(const float *x, size_t n, bool squares)
{
    double total = 0.0;
    double *d = device_sum(x, n, squares, 0.0f, NULL);
    if (d) CUDA_CHECK(cudaMemcpy(&total, d, sizeof total, cudaMemcpyDeviceToHost));
    return total;
}

double cuda_sum(const float *x, size_t n) { return host_sum(x, n, false); }
double cuda_sum_squares(const float *x, size_t n) { return host_sum(x, n, true); }

void cuda_sum_to_scalar(const float *x, size_t n, float alpha, float *y)
{
    device_sum(x, n, false, alpha, y);
}
