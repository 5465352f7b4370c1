/* What the ddpm algorithm reads from a spec: its `loss:` keys, the keys it adds to `samples:` (the
 * sampler and the pictures) and the checks among them, through its row of the algorithm table. */
#include "runner/algo/ddpm.h"

#include <stddef.h>
#include <string.h>

#define N(a) (int)(sizeof a / sizeof a[0])
#define LA(x) offsetof(SpecLoss, x)
#define SM(x) offsetof(SpecSamples, x)

static const char *const schedules[] = {"linear", "cosine", NULL};
static const char *const predictions[] = {"epsilon", NULL};
static const Field loss_f[] = {
    {"model", F_TEXT, LA(model), "", 1, 0, NULL,
     "the denoiser, with inputs `x` (the data's shape) and `t` ([1]) (empty: the only model)"},
    {"timesteps", F_INT, LA(timesteps), "1000", 1, 100000, NULL, "diffusion steps T (timesteps 0 to T-1, as diffusers)"},
    {"schedule", F_WORD, LA(schedule), "linear", 1, 0, schedules,
     "betas: `linear` from beta_start to beta_end, or `cosine` (Nichol & Dhariwal, s = 0.008, capped at 0.999)"},
    {"beta_start", F_FLOAT, LA(beta_start), "1e-4", 0, 1, NULL, "first beta (linear)"},
    {"beta_end", F_FLOAT, LA(beta_end), "0.02", 0, 1, NULL, "last beta (linear), above beta_start"},
    {"prediction", F_WORD, LA(prediction), "epsilon", 1, 0, predictions, "what the denoiser predicts: the noise"},
};
const FieldTable ddpm_loss_keys = {"loss (ddpm)", loss_f, N(loss_f)};

static const char *const samplers[] = {"ddpm", "ddim", NULL};
static const char *const variances[] = {"beta", "posterior", NULL};
static const Field samples_f[] = {
    {"sampler", F_WORD, SM(sampler), "ddpm", 1, 0, samplers,
     "`ddpm`: ancestral sampling; `ddim`: DDIM (diffusers' leading spacing, steps_offset 0, set_alpha_to_one)"},
    {"steps", F_INT, SM(steps), "0", 0, 100000, NULL, "reverse steps, at most loss.timesteps (0: T for ddpm, 50 for ddim)"},
    {"eta", F_FLOAT, SM(eta), "0", 0, 1, NULL, "ddim: 0 is deterministic for a seed, 1 adds the ancestral noise"},
    {"variance", F_WORD, SM(variance), "beta", 1, 0, variances,
     "ddpm: sigma_t^2 = beta_t (diffusers' fixed_large) or the posterior's (fixed_small)"},
    {"clip", F_BOOL, SM(clip), "true", 1, 0, NULL, "clip each predicted x_0 to the data range (diffusers' clip_sample)"},
    {"forward_timesteps", F_INTS, SM(forward_timesteps), "[0, 20, 40, 60]", 0, 99999, NULL,
     "forward.png's columns: q(x_t given x_0) at these t ([]: no forward.png)"},
    {"forward_images", F_INT, SM(forward_images), "4", 1, 16, NULL, "forward.png: training images, one row each"},
    {"reverse_images", F_INT, SM(reverse_images), "8", 0, 64, NULL, "reverse.png: samples, one row each (0: no reverse.png)"},
    {"reverse_every", F_INT, SM(reverse_every), "0", 0, 100000, NULL,
     "reverse.png: reverse steps between snapshots (0: ceil(steps / 42), 24 of 1000)"},
};
const FieldTable ddpm_samples_keys = {"samples (loss type ddpm)", samples_f, N(samples_f)};

/* Linear betas grow; the sampler's steps and the pictured timesteps lie within T.  The default
 * timesteps beyond a short schedule are dropped; one the spec gives is an error. */
int ddpm_check_values(Spec *spec, const YNode *root, Error *err)
{
    const SpecLoss *l = &spec->loss;
    const YNode *loss = ymap_get(root, "loss"), *samples = ymap_get(root, "samples");
    if (!strcmp(l->schedule, "linear") && !(l->beta_end > l->beta_start)) {
        const YNode *at = ymap_get(loss, "beta_end") ? ymap_get(loss, "beta_end") : ymap_get(loss, "beta_start");
        return yerr(err, at ? at : loss, "'beta_end' (%g) must be greater than 'beta_start' (%g): linear betas grow",
                    l->beta_end, l->beta_start);
    }
    int T = l->timesteps;
    SpecSamples *o = &spec->samples;
    if (o->steps > T)
        return yerr(err, ymap_get(samples, "steps"), "'steps' (%d) must be at most loss.timesteps (%d)", o->steps, T);
    const YNode *given = ymap_get(samples, "forward_timesteps");
    SpecInts *f = &o->forward_timesteps;
    int kept = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->v[i] < T) {
            f->v[kept++] = f->v[i];
            continue;
        }
        if (given)
            return yerr(err, given->vals[i], "'forward_timesteps' holds %d, but timesteps run from 0 to %d (loss.timesteps %d)",
                        f->v[i], T - 1, T);
    }
    f->n = kept;
    return 0;
}
