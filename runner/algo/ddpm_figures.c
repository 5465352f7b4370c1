/* The ddpm algorithm's pictures of its two processes, as the reference report draws them:
 *   forward.png  one row per training image (samples.forward_images) with q(x_t | x_0) in closed
 *                form at each of samples.forward_timesteps, then one row of the same first image
 *                taken there step by step, x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) z_s:
 *                the two rows agree in distribution, which is what the closed form says;
 *   reverse.png  one row per sample (samples.reverse_images): x_T, the chain after every
 *                reverse_every steps of the configured sampler, and the final sample (the same
 *                noise as the sample grids, so its last column is their first samples).
 * The forward process is computed on the host in double, its noise drawn from the CPU backend's
 * stream (the same numbers as any backend's): closed-form cell (i, j) from stream (i, 1) at
 * offset j*D, chain step s from stream (s, 3). */
#include "runner/algo/ddpm.h"

#include "runner/algo/random_streams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int forward_figure(const Ddpm *s, const float *examples, int n_examples, uint64_t seed, AlgoFigure *f,
                          Error *err)
{
    const SpecInts *ts = &s->spec->samples.forward_timesteps;
    int rows = n_examples < s->spec->samples.forward_images ? n_examples : s->spec->samples.forward_images;
    int cols = ts->n, t_max = 0;
    size_t D = s->per;
    for (int j = 0; j < cols; j++) t_max = ts->v[j] > t_max ? ts->v[j] : t_max;
    float *img = malloc((size_t)(rows + 1) * (size_t)cols * D * sizeof *img), *z = malloc(D * sizeof *z);
    double *x = malloc(D * sizeof *x);
    if (!img || !z || !x) {
        free(img), free(z), free(x);
        return err_set(err, "out of memory for forward.png");
    }
    const Backend *cpu = backend_cpu(); /* host memory */
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double a = sqrt(s->sched.abar[ts->v[j]]), b = sqrt(1.0 - s->sched.abar[ts->v[j]]);
            cpu->rng_normal(z, D, 0.0f, 1.0f, stream_seed(seed, i, DDPM_STREAM_NOISE), (uint64_t)j * D);
            float *out = img + ((size_t)i * cols + (size_t)j) * D;
            for (size_t e = 0; e < D; e++) out[e] = (float)(a * examples[(size_t)i * D + e] + b * z[e]);
        }
    for (size_t e = 0; e < D; e++) x[e] = examples[e];
    for (int t = 0; t <= t_max; t++) {
        double a = sqrt(s->sched.alphas[t]), b = sqrt(s->sched.betas[t]);
        cpu->rng_normal(z, D, 0.0f, 1.0f, stream_seed(seed, t, DDPM_STREAM_VALIDATION), 0);
        for (size_t e = 0; e < D; e++) x[e] = a * x[e] + b * z[e];
        for (int j = 0; j < cols; j++)
            if (ts->v[j] == t)
                for (size_t e = 0; e < D; e++) img[((size_t)rows * cols + (size_t)j) * D + e] = (float)x[e];
    }
    free(z), free(x);
    *f = (AlgoFigure){.name = "forward", .images = img, .count = (rows + 1) * cols, .nrow = cols};
    return 0;
}

static int reverse_figure(Ddpm *s, uint64_t seed, AlgoFigure *f, Error *err)
{
    int rows = s->spec->samples.reverse_images;
    int n_snaps = ddpm_snapshot_count(s->sampler.steps, s->reverse_every);
    float *snaps = malloc((size_t)rows * (size_t)n_snaps * s->per * sizeof *snaps);
    if (!snaps) return err_set(err, "out of memory for reverse.png");
    if (ddpm_reverse(s, rows, seed, s->reverse_every, snaps, n_snaps, NULL, err)) {
        free(snaps);
        return err_prefix(err, "reverse.png: ");
    }
    *f = (AlgoFigure){.name = "reverse", .images = snaps, .count = rows * n_snaps, .nrow = n_snaps};
    return 0;
}

int ddpm_figures(void *state, const float *examples, int n_examples, uint64_t seed, AlgoFigure *out, int max,
                 Error *err)
{
    Ddpm *s = state;
    int n = 0;
    if (n < max && n_examples > 0 && s->spec->samples.forward_timesteps.n > 0) {
        if (forward_figure(s, examples, n_examples, seed, &out[n], err)) return -1;
        n++;
    }
    if (n < max && s->spec->samples.reverse_images > 0) {
        if (reverse_figure(s, seed, &out[n], err)) {
            for (int i = 0; i < n; i++) free(out[i].images);
            return -1;
        }
        n++;
    }
    return n;
}
