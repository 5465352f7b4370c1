/* Gaussian statistics of feature sets and the Frechet distance between them, in double precision
 * (as pytorch-fid's calculate_frechet_distance, float64):
 *   mu = mean of the features, sigma = np.cov(features, rowvar=False) (divides by N-1),
 *   FD = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2)).
 * tr(sqrtm(s1 s2)) is computed without a general matrix square root: with A = sqrtm(s1) from a
 * symmetric eigendecomposition (LAPACK dsyevd), s1 s2 is similar to the symmetric A s2 A, so the
 * trace is sum(sqrt(max(lambda_i, 0))) over its eigenvalues.  This equals scipy's sqrtm route where
 * that one is stable and stays finite and correct for singular covariances (N <= d). */
#ifndef RUNNER_FRECHET_H
#define RUNNER_FRECHET_H

#include "graph/error.h"

#include <stdint.h>

typedef struct GaussStats {
    int d;          /* feature dimension */
    int64_t n;      /* samples the statistics came from */
    double *mu;     /* d */
    double *sigma;  /* d x d, row-major, symmetric */
} GaussStats;

/* Allocates mu and sigma (zeroed) for dimension d. */
int gauss_stats_alloc(GaussStats *s, int d, Error *err);
void gauss_stats_free(GaussStats *s);

/* Mean and unbiased covariance of n feature rows (n x d floats, row-major); n >= 2. */
int gauss_stats_compute(const float *features, int64_t n, int d, GaussStats *out, Error *err);

/* The Frechet distance between two Gaussians of the same dimension into *fd. */
int frechet_distance(const GaussStats *a, const GaussStats *b, double *fd, Error *err);

#endif
