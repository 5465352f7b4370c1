/* KID and Inception Score (see kid_is.h). */
#include "runner/eval/kid_is.h"

#include "runner/eval/np_random.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static MeanStd mean_std(const double *v, int n)
{
    MeanStd r = {0, 0};
    for (int i = 0; i < n; i++) r.mean += v[i];
    r.mean /= n;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (v[i] - r.mean) * (v[i] - r.mean);
    r.std = sqrt(ss / n); /* np.std: ddof 0 */
    return r;
}

/* Sum of (g/d + 1)^3 over the m x m Gram matrix g, without its diagonal when off_diag. */
static double kernel_sum(const float *g, int m, int d, bool off_diag)
{
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int i = 0; i < m; i++) {
        double row = 0;
        for (int j = 0; j < m; j++) {
            if (off_diag && i == j) continue;
            double k = (double)g[(size_t)i * m + j] / d + 1.0;
            row += k * k * k;
        }
        total += row;
    }
    return total;
}

int kid_mmd2(const float *x, const float *y, int m, int d, double *out, Error *err)
{
    if (m < 2) return err_set(err, "KID needs at least 2 samples per subset, got %d", m);
    float *g = malloc((size_t)m * (size_t)m * sizeof *g);
    if (!g) return err_set(err, "out of memory for a %d x %d KID kernel matrix", m, m);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f, x, d, x, d, 0.0f, g, m);
    double xx = kernel_sum(g, m, d, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f, y, d, y, d, 0.0f, g, m);
    double yy = kernel_sum(g, m, d, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0f, x, d, y, d, 0.0f, g, m);
    double xy = kernel_sum(g, m, d, false);
    free(g);
    *out = (xx + yy) / ((double)m * (m - 1)) - 2.0 * xy / ((double)m * m);
    return 0;
}

static void gather_rows(const float *src, const int64_t *rows, int m, int d, float *dst)
{
    for (int i = 0; i < m; i++) memcpy(dst + (size_t)i * d, src + rows[i] * d, (size_t)d * sizeof *dst);
}

int kid_compute(const float *f1, int64_t n1, const float *f2, int64_t n2, int d, int subsets,
                int subset_size, uint32_t seed, MeanStd *out, Error *err)
{
    if (subsets < 1) return err_set(err, "KID needs at least 1 subset, got %d", subsets);
    int64_t m64 = subset_size;
    if (n1 < m64) m64 = n1;
    if (n2 < m64) m64 = n2;
    if (m64 < 2)
        return err_set(err, "KID needs at least 2 samples on each side (got %lld and %lld)", (long long)n1,
                       (long long)n2);
    int m = (int)m64;
    int64_t *perm = malloc((size_t)(n1 > n2 ? n1 : n2) * sizeof *perm);
    float *x = malloc((size_t)m * d * sizeof *x), *y = malloc((size_t)m * d * sizeof *y);
    double *mmd = malloc((size_t)subsets * sizeof *mmd);
    int rc = -1;
    if (!perm || !x || !y || !mmd) {
        err_set(err, "out of memory for KID subsets of %d samples", m);
        goto done;
    }
    NpRandom rng;
    np_random_seed(&rng, seed);
    for (int s = 0; s < subsets; s++) {
        np_random_permutation(&rng, perm, n1);
        gather_rows(f1, perm, m, d, x);
        np_random_permutation(&rng, perm, n2);
        gather_rows(f2, perm, m, d, y);
        if (kid_mmd2(x, y, m, d, &mmd[s], err)) goto done;
    }
    *out = mean_std(mmd, subsets);
    rc = 0;
done:
    free(perm);
    free(x);
    free(y);
    free(mmd);
    return rc;
}

/* exp(mean KL(p(y|x) || p(y))) over the given rows of logits. */
static double split_score(const float *logits, const int64_t *rows, int64_t count, int classes,
                          double *logp, double *q)
{
    memset(q, 0, (size_t)classes * sizeof *q);
    for (int64_t r = 0; r < count; r++) {
        const float *z = logits + rows[r] * classes;
        double *lp = logp + r * classes;
        double mx = z[0];
        for (int c = 1; c < classes; c++) mx = z[c] > mx ? z[c] : mx;
        double s = 0;
        for (int c = 0; c < classes; c++) s += exp((double)z[c] - mx);
        double lse = mx + log(s);
        for (int c = 0; c < classes; c++) {
            lp[c] = (double)z[c] - lse;
            q[c] += exp(lp[c]);
        }
    }
    for (int c = 0; c < classes; c++) q[c] = log(q[c] / (double)count);
    double kl = 0;
    for (int64_t r = 0; r < count; r++) {
        const double *lp = logp + r * classes;
        double row = 0;
        for (int c = 0; c < classes; c++) {
            double p = exp(lp[c]);
            if (p > 0) row += p * (lp[c] - q[c]); /* 0 log 0 = 0 */
        }
        kl += row;
    }
    return exp(kl / (double)count);
}

int inception_score(const float *logits, int64_t n, int classes, int splits, bool shuffle,
                    uint32_t seed, MeanStd *out, Error *err)
{
    if (splits < 1 || n < splits)
        return err_set(err, "Inception Score needs at least as many samples as splits (%lld samples, %d splits)",
                       (long long)n, splits);
    if (classes < 2) return err_set(err, "Inception Score needs at least 2 classes, got %d", classes);
    int64_t *rows = malloc((size_t)n * sizeof *rows);
    double *logp = malloc(((size_t)(n / splits) + 1) * (size_t)classes * sizeof *logp);
    double *q = malloc((size_t)classes * sizeof *q);
    double *scores = malloc((size_t)splits * sizeof *scores);
    int rc = -1;
    if (!rows || !logp || !q || !scores) {
        err_set(err, "out of memory for the Inception Score of %lld samples", (long long)n);
        goto done;
    }
    if (shuffle) {
        NpRandom rng;
        np_random_seed(&rng, seed);
        np_random_permutation(&rng, rows, n);
    } else {
        for (int64_t i = 0; i < n; i++) rows[i] = i;
    }
    for (int s = 0; s < splits; s++) {
        int64_t lo = s * n / splits, hi = (s + 1) * n / splits;
        scores[s] = split_score(logits, rows + lo, hi - lo, classes, logp, q);
        if (!isfinite(scores[s])) {
            err_set(err, "Inception Score of split %d is not finite (NaN or Inf in the logits?)", s);
            goto done;
        }
    }
    *out = mean_std(scores, splits);
    rc = 0;
done:
    free(rows);
    free(logp);
    free(q);
    free(scores);
    return rc;
}
