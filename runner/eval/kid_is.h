/* Kernel Inception Distance and Inception Score as torch-fidelity defines them (its defaults:
 * rng_seed 2020, kid_subsets 100, kid_subset_size 1000, isc_splits 10, samples_shuffle on), with
 * numpy's RandomState draws reproduced (runner/eval/np_random.h), so the same features give the same
 * numbers.
 * KID: per subset, `subset_size` rows of each set drawn without replacement (choice(n1), then
 * choice(n2), from one generator), the unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3:
 *   (sum_{i!=j} k(x_i, x_j) + sum_{i!=j} k(y_i, y_j)) / (m (m-1)) - 2 sum_{i,j} k(x_i, y_j) / m^2;
 * the mean and the (population) standard deviation over subsets.
 * IS: rows permuted by permutation(n) (when shuffling), cut into `splits` consecutive chunks
 * (rows i*n/splits .. (i+1)*n/splits - 1); per chunk exp(mean_x KL(p(y|x) || p(y))) with
 * p(y|x) = softmax(logits) and p(y) the chunk's mean of p(y|x); mean and standard deviation. */
#ifndef RUNNER_KID_IS_H
#define RUNNER_KID_IS_H

#include "graph/error.h"

#include <stdbool.h>
#include <stdint.h>

#define KID_DEFAULT_SUBSETS 100
#define KID_DEFAULT_SUBSET_SIZE 1000
#define IS_DEFAULT_SPLITS 10
#define METRICS_DEFAULT_SEED 2020u

typedef struct MeanStd {
    double mean, std;
} MeanStd;

/* f1 (n1 x d) and f2 (n2 x d) row-major features.  The subset size is min(subset_size, n1, n2)
 * (at least 2). */
int kid_compute(const float *f1, int64_t n1, const float *f2, int64_t n2, int d, int subsets,
                int subset_size, uint32_t seed, MeanStd *out, Error *err);

/* The unbiased MMD^2 of two sets of m rows each (the value of one KID subset). */
int kid_mmd2(const float *x, const float *y, int m, int d, double *out, Error *err);

/* logits: n x classes row-major; n >= splits. */
int inception_score(const float *logits, int64_t n, int classes, int splits, bool shuffle,
                    uint32_t seed, MeanStd *out, Error *err);

#endif
