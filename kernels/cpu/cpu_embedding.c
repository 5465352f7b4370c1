/* Embeddings: the sinusoidal timestep embedding (kernels/time_embedding.h) and table lookup
 * with its gradient, which sums in a fixed order (by sample) so that runs repeat exactly. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/time_embedding.h"

#include <omp.h>
#include <string.h>

#define PAR_MIN 32768      /* floats copied or summed below which one thread is faster */
#define PAR_MIN_COSTLY 512 /* embedding values (an exp and a sin or cos each) likewise */

void cpu_time_embedding(const float *t, float *y, int N, int dim, bool flip_sin_to_cos,
                        float downscale_freq_shift, float scale, float max_period)
{
    const size_t total = (size_t)N * dim;
#pragma omp parallel for schedule(static) if (total > PAR_MIN_COSTLY)
    for (size_t k = 0; k < total; k++)
        y[k] = kf_time_embedding(t[k / dim], (int)(k % dim), dim, flip_sin_to_cos, downscale_freq_shift,
                                 scale, max_period);
}

void cpu_embedding_forward(const float *ids, const float *table, float *y, int N, int dim)
{
#pragma omp parallel for schedule(static) if ((size_t)N * dim > PAR_MIN)
    for (int n = 0; n < N; n++)
        memcpy(y + (size_t)n * dim, table + (size_t)ids[n] * dim, (size_t)dim * sizeof *y);
}

/* Each thread owns a range of columns and adds the rows of dy into it sample by sample. */
void cpu_embedding_backward(const float *ids, const float *dy, float *dtable, int N, int num, int dim)
{
    memset(dtable, 0, (size_t)num * dim * sizeof *dtable);
#pragma omp parallel if ((size_t)N * dim > PAR_MIN)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int lo = (int)((long long)dim * t / nt), hi = (int)((long long)dim * (t + 1) / nt);
        for (int n = 0; n < N; n++) {
            float *row = dtable + (size_t)ids[n] * dim;
            const float *g = dy + (size_t)n * dim;
#pragma omp simd
            for (int j = lo; j < hi; j++) row[j] += g[j];
        }
    }
}
