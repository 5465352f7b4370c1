/* Frechet distance in double precision through symmetric eigendecompositions (see frechet.h). */
#include "runner/eval/frechet.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows converted to double per dsyrk call: large enough for BLAS to run at full speed, small
 * enough that the copy stays in cache-friendly sizes. */
#define STATS_CHUNK 512

int gauss_stats_alloc(GaussStats *s, int d, Error *err)
{
    memset(s, 0, sizeof *s);
    if (d < 1) return err_set(err, "feature dimension must be at least 1, got %d", d);
    s->d = d;
    s->mu = calloc((size_t)d, sizeof *s->mu);
    s->sigma = calloc((size_t)d * (size_t)d, sizeof *s->sigma);
    if (!s->mu || !s->sigma) {
        gauss_stats_free(s);
        return err_set(err, "out of memory for %d-dimensional feature statistics", d);
    }
    return 0;
}

void gauss_stats_free(GaussStats *s)
{
    free(s->mu);
    free(s->sigma);
    memset(s, 0, sizeof *s);
}

int gauss_stats_compute(const float *x, int64_t n, int d, GaussStats *out, Error *err)
{
    if (n < 2) return err_set(err, "a covariance needs at least 2 samples, got %lld", (long long)n);
    if (gauss_stats_alloc(out, d, err)) return -1;
    out->n = n;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) out->mu[j] += x[i * d + j];
    for (int j = 0; j < d; j++) {
        out->mu[j] /= (double)n;
        if (!isfinite(out->mu[j])) {
            gauss_stats_free(out);
            return err_set(err, "feature %d is not finite (NaN or Inf in the features)", j);
        }
    }
    double *chunk = malloc((size_t)STATS_CHUNK * (size_t)d * sizeof *chunk);
    if (!chunk) {
        gauss_stats_free(out);
        return err_set(err, "out of memory for covariance accumulation");
    }
    /* Centred exactly as np.cov does, then sigma = X^T X (upper triangle) chunk by chunk. */
    for (int64_t r0 = 0; r0 < n; r0 += STATS_CHUNK) {
        int rows = (int)(n - r0 < STATS_CHUNK ? n - r0 : STATS_CHUNK);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                chunk[(size_t)r * d + j] = (double)x[(r0 + r) * d + j] - out->mu[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, chunk, d, 1.0, out->sigma, d);
    }
    free(chunk);
    double scale = 1.0 / (double)(n - 1);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double v = out->sigma[(size_t)i * d + j] * scale;
            out->sigma[(size_t)i * d + j] = v;
            out->sigma[(size_t)j * d + i] = v;
        }
    return 0;
}

static int check_stats(const GaussStats *s, const char *which, Error *err)
{
    size_t dd = (size_t)s->d * (size_t)s->d;
    for (int i = 0; i < s->d; i++)
        if (!isfinite(s->mu[i])) return err_set(err, "%s statistics: mean[%d] is not finite", which, i);
    for (size_t i = 0; i < dd; i++)
        if (!isfinite(s->sigma[i]))
            return err_set(err, "%s statistics: covariance[%zu][%zu] is not finite", which,
                           i / (size_t)s->d, i % (size_t)s->d);
    return 0;
}

/* tr(sqrtm(s1 s2)): with s1 = V diag(w) V^T, s1 s2 is similar to D V^T s2 V D, D = diag(sqrt(w)),
 * which is symmetric positive semi-definite; its eigenvalues' square roots sum to the trace. */
static int trace_sqrt_product(const double *s1, const double *s2, int d, double *out, Error *err)
{
    size_t dd = (size_t)d * (size_t)d;
    double *v = malloc(dd * sizeof *v), *t = malloc(dd * sizeof *t), *c = malloc(dd * sizeof *c);
    double *w = malloc((size_t)d * sizeof *w);
    int rc = -1;
    if (!v || !t || !c || !w) {
        err_set(err, "out of memory for the Frechet distance of %d-dimensional features", d);
        goto done;
    }
    memcpy(v, s1, dd * sizeof *v);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, v, d, w);
    if (info != 0) {
        err_set(err, "eigendecomposition of the first covariance failed (LAPACK dsyevd info %d)", (int)info);
        goto done;
    }
    /* c = V^T s2 V (eigenvectors are the columns of the row-major v). */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, v, d, s2, d, 0.0, t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, v, d, 0.0, c, d);
    /* Rounding leaves tiny negative eigenvalues of a singular s1: its square root there is 0. */
    for (int i = 0; i < d; i++) w[i] = sqrt(w[i] > 0 ? w[i] : 0);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double m = 0.5 * (c[(size_t)i * d + j] + c[(size_t)j * d + i]) * w[i] * w[j];
            c[(size_t)i * d + j] = m;
            c[(size_t)j * d + i] = m;
        }
    info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', d, c, d, w);
    if (info != 0) {
        err_set(err, "eigendecomposition in the Frechet distance failed (LAPACK dsyevd info %d)", (int)info);
        goto done;
    }
    double sum = 0;
    for (int i = 0; i < d; i++) sum += sqrt(w[i] > 0 ? w[i] : 0);
    *out = sum;
    rc = 0;
done:
    free(v);
    free(t);
    free(c);
    free(w);
    return rc;
}

int frechet_distance(const GaussStats *a, const GaussStats *b, double *fd, Error *err)
{
    if (a->d != b->d)
        return err_set(err, "Frechet distance of features with different dimensions (%d and %d)", a->d, b->d);
    if (check_stats(a, "first", err) || check_stats(b, "second", err)) return -1;
    int d = a->d;
    double diff = 0, tr = 0, tr_covmean;
    for (int i = 0; i < d; i++) {
        double m = a->mu[i] - b->mu[i];
        diff += m * m;
        tr += a->sigma[(size_t)i * d + i] + b->sigma[(size_t)i * d + i];
    }
    if (trace_sqrt_product(a->sigma, b->sigma, d, &tr_covmean, err)) return -1;
    *fd = diff + tr - 2.0 * tr_covmean;
    return 0;
}
