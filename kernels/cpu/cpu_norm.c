/* Batch normalisation over (N, C, inner) with statistics per channel, as PyTorch's
 * BatchNorm1d/2d; group normalisation, whose statistics are per (sample, group) of C/G
 * contiguous channels; and FiLM, a per-(sample, channel) affine map.  Sums are accumulated in
 * double in one pass (sum and sum of squares, or of dy and dy*x), which keeps float accuracy
 * unless |mean| exceeds the standard deviation by ~1e6.  Channels are processed in blocks: each
 * thread owns a contiguous range of channels (of groups, for group norm), and within a block
 * the loops run along memory (over channels when inner == 1, as in BatchNorm1d on (N, C); over
 * the inner extent otherwise), so they vectorise. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <omp.h>

#define BLOCK 256        /* channels whose sums live on the stack at once */
#define PAR_MIN 32768    /* elements below which one thread is faster */

/* s1[c - c0] = sum a, s2[c - c0] = sum a * b over (N, inner), for c in [c0, c1). */
CPU_HOT static void channel_sums(const float *a, const float *b, int N, int C, int inner, int c0, int c1,
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
CPU_HOT static void channel_affine(float *out, const float *u, const float *v, int N, int C, int inner,
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

/* Block i, [*c0, *c1), of at most BLOCK channels of this thread's contiguous share of the C
 * channels; false when the share has fewer blocks. */
static bool my_block(int C, int i, int *c0, int *c1)
{
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int lo = (int)((long long)C * t / nt), hi = (int)((long long)C * (t + 1) / nt);
    *c0 = lo + i * BLOCK;
    *c1 = *c0 + BLOCK < hi ? *c0 + BLOCK : hi;
    return *c0 < hi;
}

CPU_HOT void cpu_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                         float *save_mean, float *save_invstd, float *running_mean,
                                         float *running_var, int N, int C, int inner, float eps,
                                         float momentum)
{
    const double count = (double)N * inner;
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    for (int i = 0, c0, c1; my_block(C, i, &c0, &c1); i++) {
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

CPU_HOT void cpu_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                        const float *running_mean, const float *running_var, int N, int C,
                                        int inner, float eps)
{
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    for (int i = 0, c0, c1; my_block(C, i, &c0, &c1); i++) {
        float a[BLOCK], b[BLOCK];
        for (int c = c0; c < c1; c++) {
            float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
            a[c - c0] = invstd * (gamma ? gamma[c] : 1.0f);
            b[c - c0] = (beta ? beta[c] : 0.0f) - running_mean[c] * a[c - c0];
        }
        channel_affine(y, x, NULL, N, C, inner, c0, c1, a, NULL, b);
    }
}

/* Training-mode gradient, with xhat = (x - mean) * invstd and M = N * inner:
 *   dbeta = sum dy, dgamma = sum dy * xhat,
 *   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma),
 * folded per channel into dx = a * dy + b * x + d. */
CPU_HOT void cpu_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                                    const float *save_mean, const float *save_invstd, float *dx,
                                    float *dgamma, float *dbeta, int N, int C, int inner)
{
    const double count = (double)N * inner;
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    for (int i = 0, c0, c1; my_block(C, i, &c0, &c1); i++) {
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

/* ---- group normalisation: row r = n * G + g is the contiguous (C/G, inner) block of sample n,
 * group g; per-channel work inside a row reuses the batch-norm helpers with N = 1. ---- */

CPU_HOT void cpu_group_norm_forward(const float *x, const float *gamma, const float *beta, float *y,
                                    float *save_mean, float *save_rstd, int N, int C, int inner, int G,
                                    float eps)
{
    const int Cg = C / G, rows = N * G;
    const size_t D = (size_t)Cg * inner;
#pragma omp parallel for schedule(static) if ((size_t)N * C * inner > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        double s1, s2;
        channel_sums(xr, xr, 1, 1, (int)D, 0, 1, &s1, &s2);
        double mean = s1 / (double)D, var = s2 / (double)D - mean * mean; /* biased */
        if (var < 0.0) var = 0.0;
        const float rstd = (float)(1.0 / sqrt(var + eps));
        save_mean[r] = (float)mean;
        save_rstd[r] = rstd;
        const int ch0 = (r % G) * Cg;
        for (int c0 = 0; c0 < Cg; c0 += BLOCK) {
            int c1 = c0 + BLOCK < Cg ? c0 + BLOCK : Cg;
            float a[BLOCK], b[BLOCK];
            for (int c = c0; c < c1; c++) {
                a[c - c0] = rstd * (gamma ? gamma[ch0 + c] : 1.0f);
                b[c - c0] = (beta ? beta[ch0 + c] : 0.0f) - (float)mean * a[c - c0];
            }
            channel_affine(y + r * D, xr, NULL, 1, Cg, inner, c0, c1, a, NULL, b);
        }
    }
}

/* dx of one row from its channels' sums s1 = sum dy, s2 = sum dy * x, with gw = gamma * dy,
 * xhat = (x - mean) * rstd, D values per row:
 *   dx = rstd (gw - mean(gw) - xhat mean(gw xhat)) = a * dy + b * (x - mean) + d per channel.
 * Centring x before scaling keeps the digits that a * dy + b * x + d' loses to cancellation
 * when a group's spread is small against its mean (groups of a few values). */
CPU_HOT static void group_norm_dx_row(const float *dy, const float *x, const float *gamma, const double *s1,
                                      const double *s2, double mean, double rstd, float *dx, int Cg, int inner)
{
    const double count = (double)Cg * inner;
    double sg = 0.0, sgx = 0.0; /* sums of gw and gw * x */
    for (int c = 0; c < Cg; c++) {
        double g = gamma ? gamma[c] : 1.0;
        sg += g * s1[c];
        sgx += g * s2[c];
    }
    const double sgxhat = (sgx - mean * sg) * rstd; /* sum gw * xhat */
    const float b = (float)(-rstd * rstd * sgxhat / count), d = (float)(-rstd * sg / count);
    const float m = (float)mean;
    for (int c = 0; c < Cg; c++) {
        const float a = (float)(rstd * (gamma ? gamma[c] : 1.0f));
        const float *dyc = dy + (size_t)c * inner, *xc = x + (size_t)c * inner;
        float *dxc = dx + (size_t)c * inner;
#pragma omp simd
        for (int i = 0; i < inner; i++) dxc[i] = a * dyc[i] + b * (xc[i] - m) + d;
    }
}

/* One pass per row: the channels' sums while the row's dy and x come into cache, then its dx from
 * them (a row is C/G x inner values, usually a few tens of KiB).  The sums stay in `work`, so
 * dgamma and dbeta need no pass of their own:
 *   dbeta[c] = sum_n s1[n, c],  dgamma[c] = sum_n rstd (s2[n, c] - mean s1[n, c]),
 * with the statistics of c's group in sample n, added in order of n. */
CPU_HOT void cpu_group_norm_backward(const float *dy, const float *x, const float *gamma,
                                     const float *save_mean, const float *save_rstd, float *dx,
                                     float *dgamma, float *dbeta, void *work, int N, int C, int inner, int G)
{
    const int Cg = C / G, rows = N * G;
    const size_t D = (size_t)Cg * inner, total = (size_t)N * C * inner;
    double *s1 = work, *s2 = s1 + (size_t)N * C; /* [n * C + c], so row r's channels start at r * Cg */
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        double *r1 = s1 + (size_t)r * Cg, *r2 = s2 + (size_t)r * Cg;
        channel_sums(dy + r * D, x + r * D, 1, Cg, inner, 0, Cg, r1, r2);
        if (dx)
            group_norm_dx_row(dy + r * D, x + r * D, gamma ? gamma + (r % G) * Cg : NULL, r1, r2, save_mean[r],
                              save_rstd[r], dx + r * D, Cg, inner);
    }
    if (!dgamma && !dbeta) return;
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN)
    for (int c = 0; c < C; c++) {
        double sb = 0.0, sw = 0.0;
        for (int n = 0; n < N; n++) {
            const size_t k = (size_t)n * C + c;
            const int r = n * G + c / Cg;
            sb += s1[k];
            sw += (s2[k] - (double)save_mean[r] * s1[k]) * save_rstd[r];
        }
        if (dbeta) dbeta[c] = (float)sb;
        if (dgamma) dgamma[c] = (float)sw;
    }
}

/* ---- FiLM: the affine map of row (n, c) is 1 + scale and shift ---- */

CPU_HOT void cpu_film_forward(const float *x, const float *scale, const float *shift, float *y, int N,
                              int C, int inner, int ld)
{
#pragma omp parallel if ((size_t)N * C * inner > PAR_MIN)
    for (int n = 0; n < N; n++) {
        size_t at = (size_t)n * C * inner;
        for (int i = 0, c0, c1; my_block(C, i, &c0, &c1); i++) {
            float a[BLOCK], b[BLOCK];
            for (int c = c0; c < c1; c++) {
                a[c - c0] = 1.0f + (scale ? scale[(size_t)n * ld + c] : 0.0f);
                b[c - c0] = shift ? shift[(size_t)n * ld + c] : 0.0f;
            }
            channel_affine(y + at, x + at, NULL, 1, C, inner, c0, c1, a, NULL, b);
        }
    }
}
