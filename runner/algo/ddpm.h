/* The ddpm algorithm's state, shared by its parts: training and validation (algo_ddpm.c), the
 * reverse process (ddpm_sampler.c) and the pictures of both processes (ddpm_figures.c).
 *
 * The denoiser declares inputs {x: <data shape>, t: [1]} and outputs the data's shape: the noise
 * it predicts.  Random streams (runner/algo/random_streams.h) under the spec's seed: training
 * step k draws its timesteps from stream (k, 2) and its noise from stream (k, 1); validation
 * reads fixed timesteps from stream (0, 3) and noise from stream (1, 3), element i of each for
 * example i, so every epoch measures the same problems.  Sampling under a sample seed: x_T from
 * stream (0, 1), the draw of reverse step k (1-based) from stream (k, 2); sample i takes elements
 * [i*D, (i+1)*D) of each, so samples do not depend on how many are drawn at once. */
#ifndef RUNNER_DDPM_H
#define RUNNER_DDPM_H

#include "runner/algo/algorithm.h"
#include "runner/algo/diffusion_schedule.h"

enum { DDPM_STREAM_NOISE = 1, DDPM_STREAM_TIMESTEPS = 2, DDPM_STREAM_VALIDATION = 3 };

extern const Algorithm algo_ddpm;

/* Its spec (ddpm_spec.c): the `loss:` keys, the keys it adds to `samples:`, their checks. */
extern const FieldTable ddpm_loss_keys, ddpm_samples_keys;
int ddpm_check_values(Spec *spec, const YNode *root, Error *err);

/* One planned loss graph: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps from inputs x_0, eps and
 * the per-example coefficients, then mean((denoiser(x_t, t) - eps)^2). */
typedef struct DdpmLossGraph {
    Graph *g;
    Node *x0, *eps, *t, *signal, *noise, *loss;
    int batch;
} DdpmLossGraph;

typedef struct Ddpm {
    const Spec *spec;
    const Backend *be;
    Network *net;                 /* the denoiser being trained */
    Network *sampling_net;        /* its weight average when the spec keeps one, else net */
    Optimizer *opt;
    int x_input, t_input;         /* positions of x and t among the denoiser's inputs */
    Shape example;                /* one example (the data's shape) */
    size_t per;                   /* its element count */
    DiffusionSchedule sched;
    SamplerConfig sampler;
    int reverse_every;            /* reverse.png: steps between snapshots */
    DdpmLossGraph train, eval[2]; /* eval: full chunks and one remainder, built on first use */
    float **grads;                /* the optimizer's gradients, in its parameter order */
    float *host_t, *host_signal, *host_noise; /* per-example inputs, max(batch, chunk) each */
    /* The reverse process: the sampling network on (x, t) for chunks of `chunk`, and its buffers. */
    Graph *sampler_g;
    Node *s_x, *s_t, *s_eps;
    int chunk;
    int max_chunk;                /* the most samples per pass (ddpm_sampler.c); 0: not yet known */
    float *x_cur, *x0_pred, *z;   /* backend memory, chunk x per each */
} Ddpm;

/* Runs the reverse process for `count` samples from the noise of `seed` into images (host,
 * count x per; NULL: none kept).  With snaps (host, count x n_snaps x per) it also keeps each
 * sample's x_T, its value after every `every` steps and the final one (n_snaps of them). */
int ddpm_reverse(Ddpm *s, int count, uint64_t seed, int every, float *snaps, int n_snaps, float *images, Error *err);
/* One reverse step on n values on the backend: x becomes x_prev from the predicted noise eps and
 * the draw z (read only when r->noise > 0); x0 receives the predicted x_0. */
void ddpm_apply_step(const Backend *be, const SamplerConfig *c, const ReverseStep *r, size_t n, float *x,
                     const float *eps, const float *z, float *x0);
/* Snapshots ddpm_reverse keeps for a chain of `steps` with one every `every`. */
int ddpm_snapshot_count(int steps, int every);
void ddpm_sampler_free(Ddpm *s);

/* The `figures` hook: forward.png and reverse.png. */
int ddpm_figures(void *state, const float *examples, int n_examples, uint64_t seed, AlgoFigure *out, int max,
                 Error *err);

#endif
