/* The DDPM schedule and reverse-step coefficients (see diffusion_schedule.h).  Formulas follow
 * diffusers 0.25's DDPMScheduler and DDIMScheduler, evaluated in double. */
#include "runner/algo/diffusion_schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COSINE_S 0.008
#define COSINE_MAX_BETA 0.999
#define MIN_VARIANCE 1e-20 /* diffusers clamps the posterior variance here before its log */

static double cosine_abar(double u) /* u = t / T in [0, 1] */
{
    double c = cos((u + COSINE_S) / (1.0 + COSINE_S) * M_PI / 2.0);
    return c * c;
}

void diffusion_schedule_free(DiffusionSchedule *s)
{
    free(s->betas); /* one block holds every table */
    memset(s, 0, sizeof *s);
}

int diffusion_schedule_init(DiffusionSchedule *s, DiffusionBetas kind, int T, double beta_start, double beta_end,
                            Error *err)
{
    memset(s, 0, sizeof *s);
    if (T < 1) return err_set(err, "a diffusion needs at least one timestep, got %d", T);
    double *block = calloc((size_t)T * 7, sizeof *block);
    if (!block) return err_set(err, "out of memory for a schedule of %d timesteps", T);
    s->T = T;
    double **tables[] = {&s->betas, &s->alphas, &s->abar, &s->abar_prev, &s->posterior_variance, &s->posterior_x0,
                         &s->posterior_xt};
    for (int k = 0; k < 7; k++) *tables[k] = block + (size_t)k * (size_t)T;
    for (int t = 0; t < T; t++) {
        double b;
        if (kind == BETAS_COSINE)
            b = fmin(1.0 - cosine_abar((t + 1.0) / T) / cosine_abar((double)t / T), COSINE_MAX_BETA);
        else
            b = T == 1 ? beta_start : beta_start + (beta_end - beta_start) * t / (T - 1.0);
        s->betas[t] = b;
        s->alphas[t] = 1.0 - b;
        s->abar_prev[t] = t ? s->abar[t - 1] : 1.0;
        s->abar[t] = s->abar_prev[t] * s->alphas[t];
        double one_minus = 1.0 - s->abar[t];
        s->posterior_variance[t] = (1.0 - s->abar_prev[t]) / one_minus * b;
        s->posterior_x0[t] = sqrt(s->abar_prev[t]) * b / one_minus;
        s->posterior_xt[t] = sqrt(s->alphas[t]) * (1.0 - s->abar_prev[t]) / one_minus;
    }
    return 0;
}

void diffusion_timesteps(int T, int steps, int *out)
{
    int ratio = T / steps;
    for (int i = 0; i < steps; i++) out[i] = (steps - 1 - i) * ratio;
}

ReverseStep diffusion_reverse_step(const DiffusionSchedule *s, const SamplerConfig *c, int t)
{
    int prev = t - s->T / c->steps;
    double abar = s->abar[t], abar_prev = prev >= 0 ? s->abar[prev] : 1.0;
    double one_minus = 1.0 - abar, one_minus_prev = 1.0 - abar_prev;
    ReverseStep r = {.x0_x = 1.0 / sqrt(abar), .x0_eps = -sqrt(one_minus) / sqrt(abar)};
    double alpha = abar / abar_prev, beta = 1.0 - alpha; /* of this (possibly skipping) step */
    if (c->kind == SAMPLER_DDPM) {
        r.mean_x0 = sqrt(abar_prev) * beta / one_minus;
        r.mean_x = sqrt(alpha) * one_minus_prev / one_minus;
        double variance = c->posterior ? fmax(one_minus_prev / one_minus * beta, MIN_VARIANCE) : beta;
        r.noise = t > 0 ? sqrt(variance) : 0.0;
    } else {
        double sd = c->eta * sqrt(one_minus_prev / one_minus * beta);
        r.mean_x0 = sqrt(abar_prev);
        r.mean_eps = sqrt(fmax(one_minus_prev - sd * sd, 0.0)); /* >= 0 exactly; rounding may dip below */
        r.noise = c->eta > 0 ? sd : 0.0;
    }
    return r;
}
