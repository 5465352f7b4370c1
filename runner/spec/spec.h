/* An experiment spec, resolved: every section's values with defaults filled in (docs/SPEC.md lists
 * each key and default), networks as validated NetDefs, and the YAML tree they came from (includes
 * expanded, --set overrides applied), which keeps every value's file:line:column for later errors
 * and is what a run writes back as its resolved spec. */
#ifndef RUNNER_SPEC_H
#define RUNNER_SPEC_H

#include "graph/network.h"
#include "graph/optim.h"
#include "graph/schedule.h"
#include "runner/spec/spec_fields.h"
#include "runner/spec/spec_yaml.h"

#include <stdbool.h>
#include <stdint.h>

#define SPEC_MAX_MODELS 8

typedef struct SpecData {
    char dataset[SPEC_WORD_MAX];  /* mnist | fashion_mnist | kmnist | idx | cifar10 | folder */
    char root[SPEC_TEXT_MAX];     /* folder of the standard files (folder: of the PNGs); "" = the default */
    char split[SPEC_WORD_MAX];    /* train | test (folder: train, it has no split) */
    char images[SPEC_TEXT_MAX];   /* idx: explicit image file */
    char labels[SPEC_TEXT_MAX];   /* idx: explicit label file ("" = none) */
    int channels;                 /* 1 | 3: converted as PIL does; 0 = as stored (folder: 3) */
    double resize[2];             /* [height, width] in whole pixels; [0, 0] = the stored size */
    char fit[SPEC_WORD_MAX];      /* stretch | crop: how a resize meets another aspect ratio */
    int pad;                      /* zero pixels added on every side, after the resize */
    char flip[SPEC_WORD_MAX];     /* none | horizontal: random mirroring of training batches */
    int batch_size;
    bool shuffle, drop_last;
    double normalize[2];          /* pixel range after scaling: [-1, 1] or [0, 1] */
} SpecData;

typedef struct SpecLoss {
    char type[SPEC_WORD_MAX];     /* a loss type of spec_loss_kind: gan, wgan, wgan_gp, ddpm, classifier */
    char variant[SPEC_WORD_MAX];  /* gan: non_saturating | minimax | hinge | least_squares */
    char order[SPEC_WORD_MAX];    /* gan family: generator_first | discriminator_first */
    char generator[NET_NAME_MAX]; /* gan family: which models play which part */
    char discriminator[NET_NAME_MAX];
    char model[NET_NAME_MAX];     /* one-model types (ddpm, classifier): the trained model ("" = the only one) */
    double clip;                  /* wgan: clamp critic weights to [-clip, clip] after each step */
    int n_critic;                 /* wgan, wgan_gp: critic steps per generator step */
    double lambda;                /* wgan_gp: gradient penalty weight */
    int timesteps;                /* ddpm: T, timesteps 0..T-1 */
    char schedule[SPEC_WORD_MAX]; /* ddpm: linear | cosine (betas) */
    double beta_start, beta_end;  /* ddpm: linear betas */
    char prediction[SPEC_WORD_MAX]; /* ddpm: what the denoiser predicts (epsilon) */
    double label_smoothing;       /* classifier */
} SpecLoss;

/* What a loss type asks of the spec: the keys it adds to `loss:` (fields of SpecLoss) and the
 * models it trains.  Each training algorithm declares its own in its row of the algorithm table
 * (runner/algo/algorithm.c), which defines spec_loss_kind: the spec accepts exactly the loss types
 * that can be trained, and names them in its messages and docs/SPEC.md. */
struct Spec;
typedef struct SpecLossKind {
    const char *type;             /* the value of loss.type */
    const FieldTable *keys[2];    /* its key tables beyond `type`, a family's shared one first; NULL: none */
    bool adversarial;             /* trains loss.generator against loss.discriminator; else loss.model */
    const char *family;           /* reports' table for it: "adversarial", "diffusion" or "classifier" */
    const FieldTable *samples_keys; /* the keys it adds to `samples:` (ddpm: its sampler's); NULL: none */
    /* Optional: checks its values against each other and other sections once all are read (ddpm:
     * beta_end above beta_start, samples.steps within loss.timesteps), errors placed in `root`. */
    int (*check_values)(struct Spec *spec, const YNode *root, Error *err);
} SpecLossKind;

/* The i-th loss type (i from 0), NULL past the last: the algorithm table's rows, in order. */
const SpecLossKind *spec_loss_kind(int i);
#define SPEC_LOSS_TYPES_MAX 16

typedef struct SpecOptimizer {
    char model[NET_NAME_MAX];     /* the network it trains */
    OptimConfig cfg;
} SpecOptimizer;

typedef struct SpecTrain {
    int epochs;
    int steps;                    /* > 0: stop after this many steps (overrides epochs) */
    int checkpoint_every;         /* steps between checkpoints; 0: only at the end */
    int threads;                  /* CPU threads; 0: OpenMP's default */
} SpecTrain;

typedef struct SpecLog {
    int every_steps;
} SpecLog;

typedef struct SpecSamples {
    int every_epochs;             /* 0: only the final grid */
    int count, nrow;
    /* ddpm only: how samples are drawn and the pictures of the two processes. */
    char sampler[SPEC_WORD_MAX];  /* ddpm (ancestral) | ddim */
    int steps;                    /* reverse steps; 0: T for ddpm, min(50, T) for ddim */
    double eta;                   /* ddim: 0 deterministic, 1 as ancestral */
    char variance[SPEC_WORD_MAX]; /* ddpm sampler: beta | posterior */
    bool clip;                    /* clip each predicted x_0 to the data range */
    SpecInts forward_timesteps;   /* forward.png's columns */
    int forward_images, reverse_images, reverse_every; /* reverse_every 0: ceil(steps / 42) */
    /* gan, wgan, wgan_gp only: the generator's batch norms when sampling. */
    char batchnorm[SPEC_WORD_MAX]; /* running (evaluation mode) | batch (each batch's statistics) */
} SpecSamples;

typedef struct SpecEma {
    bool enabled;                 /* the spec has an `ema:` section */
    double decay;
    int start_step;               /* updates before it copy the weights */
} SpecEma;

typedef struct SpecFid {
    bool enabled;                 /* the spec has a `fid:` section */
    char features[SPEC_TEXT_MAX]; /* inception, or a classifier's results folder */
    int samples;
    char ref_dataset[SPEC_WORD_MAX]; /* "" = data.dataset */
    char ref_split[SPEC_WORD_MAX];
    int ref_count;                /* the split's first ref_count images; 0: all */
    int every_epochs;             /* 0: never during training */
    bool at_end;
    unsigned also;                /* bit set over fid_also_names: kid, is */
    char weights[SPEC_TEXT_MAX];  /* converted Inception weights; "" = the default path */
    int batch_size;
} SpecFid;

typedef struct Spec {
    char path[SPEC_TEXT_MAX];
    char name[NET_NAME_MAX];
    uint64_t seed;
    char backend[SPEC_WORD_MAX];  /* cpu | cuda | auto */
    SpecData data;
    NetDef models[SPEC_MAX_MODELS];
    int n_models;
    SpecLoss loss;
    SpecOptimizer optimizers[SPEC_MAX_MODELS];
    int n_optimizers;
    ScheduleConfig schedule;      /* t_max 0 (cosine): the run's total steps, resolved by the run */
    SpecTrain train;
    SpecLog log;
    SpecSamples samples;
    SpecEma ema;
    SpecFid fid;

    YNode *tree;                  /* the resolved document */
    YPool pool;                   /* file names the tree's nodes point to */
} Spec;

extern const char *const fid_also_names[]; /* "kid", "is", NULL */

/* The family of a loss type (its SpecLossKind's); NULL for an unknown type. */
const char *spec_loss_family(const char *type);
/* Whether a spec of this loss type accepts `key` in its samples: section (the keys the type adds). */
bool spec_samples_key(const char *type, const char *key);

/* Loads and validates a spec file, then applies `--set` overrides (each "dotted.path=value",
 * typed and validated like the file).  On error *spec is left empty (spec_free is safe). */
int spec_load(const char *path, const char *const *sets, int n_sets, Spec *spec, Error *err);

/* An override given as a YAML value that has a place of its own (a sweep file's entry): a copy of
 * `value` goes to the dotted `path`; a problem with the path is reported at `at` (the entry's key),
 * one with the value at the value. */
typedef struct SpecSet {
    const char *path;
    const YNode *value, *at;
} SpecSet;
/* spec_load with such overrides, applied in order. */
int spec_load_sets(const char *path, const SpecSet *sets, int n_sets, Spec *spec, Error *err);
/* Same from text; `label` names it in messages and includes resolve against its folder. */
int spec_load_text(const char *label, const char *text, const char *const *sets, int n_sets,
                   Spec *spec, Error *err);
void spec_free(Spec *spec);

const NetDef *spec_model(const Spec *spec, const char *name);
const SpecOptimizer *spec_optimizer(const Spec *spec, const char *model);
/* "file:line:col" of a dotted path's value in the resolved tree ("" when absent). */
const char *spec_where(const Spec *spec, const char *dotted, char *buf, size_t len);

/* Section parsers (spec_sections.c) and tables for docs/SPEC.md. */
int spec_parse_top_values(Spec *spec, const YNode *root, Error *err); /* name, seed, backend */
int spec_parse_sections(Spec *spec, const YNode *root, Error *err);
/* Adds every key the resolved values imply but `root` (the spec's tree) lacks: defaults made
 * explicit, so a run's spec.yaml says everything it ran with. */
int spec_fill_defaults(const Spec *spec, YNode *root, Error *err);
/* The resolved spec as YAML text (defaults filled in, overrides applied), malloc'ed. */
int spec_resolved_text(const Spec *spec, char **text, size_t *len, Error *err);
/* Writes the resolved spec (defaults filled in, overrides applied) to `path` atomically, headed
 * by a comment naming the program version. */
int spec_write_resolved(const Spec *spec, const char *path, const char *version, Error *err);
/* 0 when the file `path` that spec_write_resolved wrote (its heading comment aside) holds what
 * `spec` resolves to now; otherwise an error quoting the first line that differs, both ways. */
int spec_check_resolved(const Spec *spec, const char *path, Error *err);
/* Writes the key reference of every section as Markdown. */
void spec_keys_markdown(FILE *out);

/* Networks (spec_net.c): `models:` into NetDefs, includes expanded in place (spec_include.c). */
int spec_parse_models(Spec *spec, YNode *models, Error *err);
int spec_expand_include(YPool *pool, YNode *entry, const char *model, YNode **net, Error *err);
/* After network_apply: every `init:` / `bias_init:` must have met a weight / bias (an op such as
 * relu has none, and silently ignoring the request would hide a mistake). */
int spec_check_inits(const Network *net, Error *err);

/* --set (spec_override.c): applies "a.b.c=value" to the tree. */
int spec_apply_override(YPool *pool, YNode *root, const char *set, Error *err);
/* Puts `value` (owned from now on, freed on failure) at the dotted `path`; keys it creates and
 * messages about the path are placed at `at`. */
int spec_apply_set(YPool *pool, YNode *root, const char *path, YNode *value, const YNode *at, Error *err);

#endif
