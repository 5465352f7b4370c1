/* The DDPM noise schedule in double precision and the coefficients of one reverse step.
 * Timesteps are 0-indexed as diffusers': t = 0 .. T-1, x_t = sqrt(abar[t]) x_0 + sqrt(1 - abar[t]) eps
 * with abar[t] = prod_{s <= t} (1 - betas[s]).  Betas are linear (beta_start to beta_end, Ho et
 * al. 2020) or cosine (Nichol & Dhariwal 2021 with s = 0.008 and betas capped at 0.999, diffusers'
 * squaredcos_cap_v2).  A reverse step is written as
 *     x0     = clip(x0_x * x + x0_eps * eps)                         (the predicted x_0)
 *     x_prev = mean_x0 * x0 + mean_x * x + mean_eps * eps + noise * z,  z ~ N(0, I),
 * which covers diffusers' DDPMScheduler.step and DDIMScheduler.step (prediction_type epsilon). */
#ifndef RUNNER_DIFFUSION_SCHEDULE_H
#define RUNNER_DIFFUSION_SCHEDULE_H

#include "graph/error.h"

#include <stdbool.h>

typedef enum DiffusionBetas { BETAS_LINEAR, BETAS_COSINE } DiffusionBetas;

typedef struct DiffusionSchedule {
    int T;
    double *betas, *alphas, *abar;
    double *abar_prev;          /* abar[t - 1]; 1 at t = 0 */
    double *posterior_variance; /* beta~_t = (1 - abar_prev) / (1 - abar) * beta */
    double *posterior_x0;       /* the posterior mean's coefficient of x_0: sqrt(abar_prev) beta / (1 - abar) */
    double *posterior_xt;       /* and of x_t: sqrt(alpha) (1 - abar_prev) / (1 - abar) */
} DiffusionSchedule;

/* The tables for T steps (beta_start and beta_end: linear only).  Free with diffusion_schedule_free. */
int diffusion_schedule_init(DiffusionSchedule *s, DiffusionBetas kind, int T, double beta_start, double beta_end,
                            Error *err);
void diffusion_schedule_free(DiffusionSchedule *s);

typedef enum DiffusionSampler { SAMPLER_DDPM, SAMPLER_DDIM } DiffusionSampler;

typedef struct SamplerConfig {
    DiffusionSampler kind;
    int steps;            /* reverse steps, 1..T */
    bool posterior;       /* ddpm: sigma^2 = the posterior variance (else beta) */
    double eta;           /* ddim */
    bool clip;            /* clip the predicted x_0 to [lo, hi] */
    float lo, hi;
} SamplerConfig;

/* The timesteps a chain of `steps` reverse steps visits, noisiest first: diffusers' "leading"
 * spacing with steps_offset 0, t_i = (steps - 1 - i) * (T / steps) (integer division). */
void diffusion_timesteps(int T, int steps, int *out);

typedef struct ReverseStep {
    double x0_x, x0_eps;               /* predicted x_0 */
    double mean_x0, mean_x, mean_eps;  /* x_prev's mean */
    double noise;                      /* its standard deviation (0: no draw) */
} ReverseStep;

/* The step from timestep t to t - T / c->steps (below 0: the chain's end, where abar is 1, as
 * diffusers' `one` and set_alpha_to_one). */
ReverseStep diffusion_reverse_step(const DiffusionSchedule *s, const SamplerConfig *c, int t);

#endif
