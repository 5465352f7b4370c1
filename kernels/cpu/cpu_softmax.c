/* Softmax, log-softmax and cross-entropy (semantics in kernels/backend.h).  Each (outer, inner)
 * pair is one independent line of D values, inner apart; lines run in parallel.  Exponentials
 * are float, their sums double, so a line of thousands of classes keeps float accuracy. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

#define PAR_MIN 16384 /* elements below which threads cost more than they save */

static float line_max(const float *x, int D, int inner)
{
    float m = -INFINITY;
    for (int d = 0; d < D; d++) {
        float v = x[(size_t)d * inner];
        if (v > m || isnan(v)) m = v;
    }
    return m;
}

/* log(sum_d exp(x_d)), the maximum taken out first so nothing overflows. */
static double line_logsumexp(const float *x, int D, int inner)
{
    float m = line_max(x, D, inner);
    if (isinf(m) && m < 0) return -INFINITY; /* every entry is -inf */
    double s = 0.0;
    for (int d = 0; d < D; d++) s += expf(x[(size_t)d * inner] - m);
    return m + log(s);
}

CPU_HOT void cpu_softmax_forward(const float *x, float *y, int outer, int D, int inner, bool take_log)
{
    int64_t lines = (int64_t)outer * inner;
#pragma omp parallel for if (lines * D > PAR_MIN)
    for (int64_t l = 0; l < lines; l++) {
        size_t base = (size_t)(l / inner) * D * inner + (size_t)(l % inner);
        const float *xl = x + base;
        float *yl = y + base;
        float lse = (float)line_logsumexp(xl, D, inner);
        for (int d = 0; d < D; d++) {
            float z = xl[(size_t)d * inner] - lse;
            yl[(size_t)d * inner] = take_log ? z : expf(z);
        }
    }
}

CPU_HOT void cpu_softmax_backward(const float *y, const float *dy, float *dx, int outer, int D, int inner, bool take_log)
{
    int64_t lines = (int64_t)outer * inner;
#pragma omp parallel for if (lines * D > PAR_MIN)
    for (int64_t l = 0; l < lines; l++) {
        size_t base = (size_t)(l / inner) * D * inner + (size_t)(l % inner);
        const float *yl = y + base, *gl = dy + base;
        float *dl = dx + base;
        double s = 0.0;
        for (int d = 0; d < D; d++) {
            size_t k = (size_t)d * inner;
            s += take_log ? (double)gl[k] : (double)gl[k] * yl[k];
        }
        float sf = (float)s;
        for (int d = 0; d < D; d++) {
            size_t k = (size_t)d * inner;
            dl[k] = take_log ? gl[k] - expf(yl[k]) * sf : yl[k] * (gl[k] - sf);
        }
    }
}

/* The class of a target value, or -1 when it is not an index in [0, K). */
static int target_class(float t, int K)
{
    return t >= 0.0f && t < (float)K && t == floorf(t) ? (int)t : -1;
}

void cpu_cross_entropy_forward(const float *logits, const float *target, float *loss, int N, int K,
                               float smoothing)
{
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) if ((int64_t)N * K > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * K;
        int t = target_class(target[n], K);
        double lse = line_logsumexp(x, K, 1), sum_x = 0.0;
        for (int k = 0; k < K; k++) sum_x += x[k];
        /* -(1 - s) logp[t] - (s / K) sum_k logp[k], with logp = x - lse. */
        double nll = t < 0 ? NAN : lse - x[t];
        total += (1.0 - smoothing) * nll + smoothing * (lse - sum_x / K);
    }
    loss[0] = (float)(total / N);
}

void cpu_cross_entropy_backward(const float *logits, const float *target, const float *dloss, float *dx,
                                int N, int K, float smoothing)
{
    float scale = dloss[0] / (float)N, off = smoothing / (float)K, hit = 1.0f - smoothing;
#pragma omp parallel for if ((int64_t)N * K > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * K;
        float *d = dx + (size_t)n * K;
        int t = target_class(target[n], K);
        float lse = (float)line_logsumexp(x, K, 1);
        for (int k = 0; k < K; k++) {
            float q = off + (k == t ? hit : 0.0f);
            d[k] = t < 0 ? NAN : scale * (expf(x[k] - lse) - q);
        }
    }
}
