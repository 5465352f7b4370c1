/* Batch normalisation over (N, C, inner) with statistics per channel, as PyTorch's
 * BatchNorm1d/2d.  Sums are accumulated in double in one pass (sum and sum of squares, or of
 * dy and dy*x), which keeps float accuracy unless |mean| exceeds the standard deviation by
 * ~1e6.  Channels are processed in blocks: each thread owns a contiguous range of channels,
 * and within a block the loops run along memory (over channels when inner == 1, as in
 * BatchNorm1d on (N, C); over the inner extent otherwise), so they vectorise. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <omp.h>

#define BLOCK 256        /* channels whose sums live on the stack at once */
#define PAR_MIN 32768    /* elements below which one thread is faster */

/* s1[c - c0] = sum a, s2[c - c0] = sum a * b over (N, inner), for c in [c0, c1). */
static void channel_sums(const float *a, const float *b, int N, int C, int inner, int c0, int c1,
                         double *s1, double *s2)
{
    int nc = c1 - c0;
    for (int k = 0; k < nc; k++) s1[k] = s2[k] = 0.0;
    for (int n = 0; n < N; n++) {
        size_t base = ((size_t)n * C + c0) * inner;
        const float *ra = a + base, *rb = b + base;
        if (inner == 1) {
#pragma omp simd
            for (int k = 0; k < nc; k++) {
                s1[k] += ra[k];
                s2[k] += (double)ra[k] * rb[k];
            }
            continue;
        }
        for (int k = 0; k < nc; k++, ra += inner, rb += inner) {
            double t1 = 0.0, t2 = 0.0;
#pragma omp simd reduction(+ : t1, t2)
            for (int i = 0; i < inner; i++) {
                t1 += ra[i];
                t2 += (double)ra[i] * rb[i];
            }
            s1[k] += t1;
            s2[k] += t2;
        }
    }
}

/* out = p[c] * u + q[c] * v + r[c] over channels [c0, c1) (v may be NULL when q is unused). */
static void channel_affine(float *out, const float *u, const float *v, int N, int C, int inner,
                           int c0, int c1, const float *p, const float *q, const float *r)
{
    int nc = c1 - c0;
    for (int n = 0; n < N; n++) {
        size_t base = ((size_t)n * C + c0) * inner;
        float *ro = out + base;
        const float *ru = u + base, *rv = v ? v + base : NULL;
        if (inner == 1) {
            if (rv) {
#pragma omp simd
                for (int k = 0; k < nc; k++) ro[k] = p[k] * ru[k] + q[k] * rv[k] + r[k];
            } else {
#pragma omp simd
                for (int k = 0; k < nc; k++) ro[k] = p[k] * ru[k] + r[k];
            }
            continue;
        }
        for (int k = 0; k < nc; k++, ro += inner, ru += inner) {
            float pk = p[k], rk = r[k];
            if (rv) {
                float qk = q[k];
#pragma omp simd
                for (int i = 0; i < inner; i++) ro[i] = pk * ru[i] + qk * rv[i] + rk;
                rv += inner;
            } else {
#pragma omp simd
                for (int i = 0; i < inner; i++) ro[i] = pk * ru[i] + rk;
            }
        }
    }
}

/* This thread's contiguous share of the C channels. */
static void my_channels(int C, int *c0, int *c1)
{
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    *c0 = (int)((long long)C * t / nt);
    *c1 = (int)((long long)C * (t + 1) / nt);
}

void cpu_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd, float *running_mean,
                                 float *running_var, int N, int C, int inner, float eps,
                                 float momentum)
{
    const double count = (double)N * inner;
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    {
        int lo, hi;
        my_channels(C, &lo, &hi);
        for (int c0 = lo; c0 < hi; c0 += BLOCK) {
            int c1 = c0 + BLOCK < hi ? c0 + BLOCK : hi;
            double s1[BLOCK], s2[BLOCK];
            float a[BLOCK], b[BLOCK];
            channel_sums(x, x, N, C, inner, c0, c1, s1, s2);
            for (int c = c0; c < c1; c++) {
                double mean = s1[c - c0] / count;
                double var = s2[c - c0] / count - mean * mean; /* biased, for normalising */
                if (var < 0.0) var = 0.0;
                float invstd = (float)(1.0 / sqrt(var + eps));
                save_mean[c] = (float)mean;
                save_invstd[c] = invstd;
                if (running_mean)
                    running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
                if (running_var) { /* the running estimate is unbiased, as PyTorch's */
                    double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
                    running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
                }
                a[c - c0] = invstd * (gamma ? gamma[c] : 1.0f);
                b[c - c0] = (beta ? beta[c] : 0.0f) - (float)mean * a[c - c0];
            }
            channel_affine(y, x, NULL, N, C, inner, c0, c1, a, NULL, b);
        }
    }
}

void cpu_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                const float *running_mean, const float *running_var, int N, int C,
                                int inner, float eps)
{
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    {
        int lo, hi;
        my_channels(C, &lo, &hi);
        for (int c0 = lo; c0 < hi; c0 += BLOCK) {
            int c1 = c0 + BLOCK < hi ? c0 + BLOCK : hi;
            float a[BLOCK], b[BLOCK];
            for (int c = c0; c < c1; c++) {
                float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
                a[c - c0] = invstd * (gamma ? gamma[c] : 1.0f);
                b[c - c0] = (beta ? beta[c] : 0.0f) - running_mean[c] * a[c - c0];
            }
            channel_affine(y, x, NULL, N, C, inner, c0, c1, a, NULL, b);
        }
    }
}

/* Training-mode gradient, with xhat = (x - mean) * invstd and M = N * inner:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma),
 * folded per channel into dx = a * dy + b * x + d. */
void cpu_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                            const float *save_mean, const float *save_invstd, float *dx,
                            float *dgamma, float *dbeta, int N, int C, int inner)
{
    const double count = (double)N * inner;
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    {
        int lo, hi;
        my_channels(C, &lo, &hi);
        for (int c0 = lo; c0 < hi; c0 += BLOCK) {
            int c1 = c0 + BLOCK < hi ? c0 + BLOCK : hi;
            double sdy[BLOCK], sdyx[BLOCK];
            float a[BLOCK], b[BLOCK], d[BLOCK];
            channel_sums(dy, x, N, C, inner, c0, c1, sdy, sdyx);
            for (int c = c0; c < c1; c++) {
                const double mean = save_mean[c], invstd = save_invstd[c], s = sdy[c - c0];
                const double sdxhat = (sdyx[c - c0] - mean * s) * invstd; /* sum dy * xhat */
                if (dbeta) dbeta[c] = (float)s;
                if (dgamma) dgamma[c] = (float)sdxhat;
                const double g = gamma ? gamma[c] : 1.0;
                const double bc = -g * invstd * invstd * sdxhat / count;
                a[c - c0] = (float)(g * invstd);
                b[c - c0] = (float)bc;
                d[c - c0] = (float)(-g * invstd * s / count - bc * mean);
            }
            if (dx) channel_affine(dx, dy, x, N, C, inner, c0, c1, a, b, d);
        }
    }
}
