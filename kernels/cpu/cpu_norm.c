/* Batch normalisation over (N, C, inner) with statistics per channel, as PyTorch's
 * BatchNorm1d/2d.  Statistics are accumulated in double (two passes: mean, then the centred
 * sum of squares) so that large batches keep float accuracy. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

#define PAR_MIN 16384

static double channel_mean(const float *x, int N, int C, int inner, int c)
{
    double s = 0.0;
    for (int n = 0; n < N; n++) {
        const float *xc = x + ((size_t)n * C + c) * inner;
        for (int i = 0; i < inner; i++) s += xc[i];
    }
    return s / ((double)N * inner);
}

static double channel_var(const float *x, int N, int C, int inner, int c, double mean)
{
    double s = 0.0;
    for (int n = 0; n < N; n++) {
        const float *xc = x + ((size_t)n * C + c) * inner;
        for (int i = 0; i < inner; i++) {
            double d = xc[i] - mean;
            s += d * d;
        }
    }
    return s / ((double)N * inner); /* biased, as used for normalising */
}

/* y = (x - mean) * invstd * gamma + beta for one channel. */
static void channel_apply(const float *x, float *y, int N, int C, int inner, int c, float mean,
                          float invstd, const float *gamma, const float *beta)
{
    float a = invstd * (gamma ? gamma[c] : 1.0f);
    float b = (beta ? beta[c] : 0.0f) - mean * a;
    for (int n = 0; n < N; n++) {
        const float *xc = x + ((size_t)n * C + c) * inner;
        float *yc = y + ((size_t)n * C + c) * inner;
        for (int i = 0; i < inner; i++) yc[i] = xc[i] * a + b;
    }
}

void cpu_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd, float *running_mean,
                                 float *running_var, int N, int C, int inner, float eps,
                                 float momentum)
{
    const double count = (double)N * inner;
#pragma omp parallel for schedule(static) if ((size_t)N * C * inner > PAR_MIN)
    for (int c = 0; c < C; c++) {
        double mean = channel_mean(x, N, C, inner, c);
        double var = channel_var(x, N, C, inner, c, mean);
        float invstd = (float)(1.0 / sqrt(var + eps));
        save_mean[c] = (float)mean;
        save_invstd[c] = invstd;
        if (running_mean)
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        if (running_var) {
            /* The running estimate uses the unbiased variance, as PyTorch does. */
            double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        channel_apply(x, y, N, C, inner, c, (float)mean, invstd, gamma, beta);
    }
}

void cpu_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                const float *running_mean, const float *running_var, int N, int C,
                                int inner, float eps)
{
#pragma omp parallel for schedule(static) if ((size_t)N * C * inner > PAR_MIN)
    for (int c = 0; c < C; c++) {
        float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
        channel_apply(x, y, N, C, inner, c, running_mean[c], invstd, gamma, beta);
    }
}

/* Training-mode gradient, with xhat = (x - mean) * invstd:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma),  M = N * inner. */
void cpu_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                            const float *save_mean, const float *save_invstd, float *dx,
                            float *dgamma, float *dbeta, int N, int C, int inner)
{
    const double count = (double)N * inner;
#pragma omp parallel for schedule(static) if ((size_t)N * C * inner > PAR_MIN)
    for (int c = 0; c < C; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * inner;
            const float *dyc = dy + ((size_t)n * C + c) * inner;
            for (int i = 0; i < inner; i++) {
                sdy += dyc[i];
                sdyx += dyc[i] * (xc[i] - mean);
            }
        }
        const double sdxhat = sdyx * invstd; /* sum dy * xhat */
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdxhat;
        if (!dx) continue;
        const double g = gamma ? gamma[c] : 1.0;
        /* dx = a * dy + b * x + d, folded per channel. */
        const float a = (float)(g * invstd);
        const float b = (float)(-g * invstd * invstd * sdxhat / count);
        const float d = (float)(-g * invstd * sdy / count - b * mean);
        for (int n = 0; n < N; n++) {
            const float *xc = x + ((size_t)n * C + c) * inner;
            const float *dyc = dy + ((size_t)n * C + c) * inner;
            float *dxc = dx + ((size_t)n * C + c) * inner;
            for (int i = 0; i < inner; i++) dxc[i] = a * dyc[i] + b * xc[i] + d;
        }
    }
}
