/* numpy's legacy RandomState (MT19937) for the draws torch-fidelity makes: seeded with an integer
 * (init_genrand), `permutation(n)` and `choice(n, k, replace=False)` (the first k entries of a
 * permutation).  Reproducing them exactly gives KID subsets and Inception Score splits identical
 * to torch-fidelity's for the same seed. */
#ifndef RUNNER_NP_RANDOM_H
#define RUNNER_NP_RANDOM_H

#include <stdint.h>

typedef struct NpRandom {
    uint32_t mt[624];
    int index;
} NpRandom;

void np_random_seed(NpRandom *r, uint32_t seed);
uint32_t np_random_u32(NpRandom *r);
/* Uniform integer in [0, max] by masked rejection, as numpy's legacy random_interval. */
uint64_t np_random_interval(NpRandom *r, uint64_t max);
/* perm[0..n) = RandomState.permutation(n). */
void np_random_permutation(NpRandom *r, int64_t *perm, int64_t n);

#endif
