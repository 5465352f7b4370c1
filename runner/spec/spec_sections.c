/* The spec's sections other than `models`: their keys, types, ranges and defaults (one table per
 * section, or per type where a `type:` key selects the keys that apply), and the checks that
 * relate sections to each other (optimizers and losses name models). */
#include "runner/spec/spec.h"
#include "graph/suggest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (int)(sizeof a / sizeof a[0])

/* ---- name, seed, backend ---- */

typedef struct TopArgs {
    char name[SPEC_TEXT_MAX];
    int seed;
    char backend[SPEC_WORD_MAX];
} TopArgs;

static const char *const backends[] = {"cpu", "cuda", "auto", NULL};
static const Field top_f[] = {
    {"name", F_TEXT, offsetof(TopArgs, name), "", 1, 0, NULL, "results go to `results/<name>` (empty: the file's name)"},
    {"seed", F_INT, offsetof(TopArgs, seed), "0", 0, 2147483647, NULL, "drives every random stream"},
    {"backend", F_WORD, offsetof(TopArgs, backend), "auto", 1, 0, backends, "`auto`: cuda when available"},
};
static const FieldTable top_t = {"top level", top_f, N(top_f)};

static void default_name(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".yaml"))
        n -= 5;
    else if (n > 4 && !strcmp(base + n - 4, ".yml"))
        n -= 4;
    snprintf(out, len, "%.*s", (int)n, base);
}

int spec_parse_top_values(Spec *spec, const YNode *root, Error *err)
{
    /* Only the top level's own keys: each section has its parser. */
    TopArgs a;
    memset(&a, 0, sizeof a);
    YNode only = *root;
    YNode *keys[3], *vals[3];
    only.n = 0, only.keys = keys, only.vals = vals;
    for (int i = 0; i < root->n; i++)
        for (int k = 0; k < N(top_f); k++)
            if (!strcmp(root->keys[i]->text, top_f[k].key)) keys[only.n] = root->keys[i], vals[only.n++] = root->vals[i];
    const FieldTable *t = &top_t;
    if (fields_defaults(t, &a, err) || fields_parse(&only, &t, 1, &a, "the spec", root, err)) return -1;
    if (!a.name[0]) default_name(spec->path, a.name, sizeof a.name);
    if (strlen(a.name) >= sizeof spec->name || strchr(a.name, '/') || !strcmp(a.name, ".") || !strcmp(a.name, ".."))
        return yerr(err, ymap_get(root, "name") ? ymap_get(root, "name") : root,
                    "'name' must be a folder name (no '/') of at most %d characters", (int)sizeof spec->name - 1);
    memcpy(spec->name, a.name, strlen(a.name) + 1); /* length checked above */
    spec->seed = (uint64_t)a.seed;
    snprintf(spec->backend, sizeof spec->backend, "%s", a.backend);
    return 0;
}

/* ---- data ---- */

static const char *const datasets[] = {"mnist", "fashion_mnist", "kmnist", "idx", "cifar10", "folder", NULL};
static const char *const splits[] = {"train", "test", NULL};
static const char *const fits[] = {"stretch", "crop", NULL};
static const char *const flips[] = {"none", "horizontal", NULL};
#define DA(x) offsetof(SpecData, x)
#define MAX_SIDE 16384 /* pixels, as the dataset readers accept */
static const Field data_f[] = {
    {"dataset", F_WORD, DA(dataset), "fashion_mnist", 1, 0, datasets,
     "which dataset (fashion_mnist needs no download; `folder`: the PNG images in `root`)"},
    {"root", F_TEXT, DA(root), "", 1, 0, NULL,
     "folder of the dataset's standard files; empty: /usr/share/datasets/fashion-mnist for fashion_mnist, "
     "`data/<dataset>` otherwise; `folder`: the folder of `.png` files (required), read in byte order of their "
     "names"},
    {"split", F_WORD, DA(split), "train", 1, 0, splits,
     "which split to train on; `folder` has none: all its images train, and are FID's reference"},
    {"images", F_TEXT, DA(images), "", 1, 0, NULL, "`idx`: the image file (IDX, gzip'd or raw)"},
    {"labels", F_TEXT, DA(labels), "", 1, 0, NULL, "`idx`: the label file (empty: no labels)"},
    {"channels", F_INT, DA(channels), "0", 0, 3, NULL,
     "1 (gray) or 3 (RGB), converted as PIL's `convert('L')` / `convert('RGB')`; 0: as stored (`folder`: 3)"},
    {"resize", F_PAIR, DA(resize), "[0, 0]", 0, MAX_SIDE, NULL,
     "`[height, width]`: every image resized as torchvision's `Resize` does on PIL images (Pillow's bilinear, "
     "antialiased when shrinking); `[0, 0]`: the stored size (a folder's images must then share one)"},
    {"fit", F_WORD, DA(fit), "crop", 1, 0, fits,
     "for another aspect ratio than `resize`'s: `crop` scales to cover it and keeps the centre (torchvision's "
     "`Resize(side)` + `CenterCrop`), `stretch` scales each axis (`Resize([h, w])`)"},
    {"pad", F_INT, DA(pad), "0", 0, 1024, NULL,
     "pixels of zeros added on every side after resizing (torchvision's `Pad(n)`: the range's low end after "
     "`normalize`); 28x28 with `pad: 2` gives 32x32"},
    {"flip", F_WORD, DA(flip), "none", 1, 0, flips,
     "`horizontal`: each training example mirrored with probability 1/2, drawn per (seed, epoch, example); "
     "never evaluation data or FID's reference"},
    {"batch_size", F_INT, DA(batch_size), "64", 1, 1 << 20, NULL, "samples per training step"},
    {"shuffle", F_BOOL, DA(shuffle), "true", 1, 0, NULL, "reshuffle every epoch (driven by `seed`)"},
    {"drop_last", F_BOOL, DA(drop_last), "false", 1, 0, NULL, "drop the last incomplete batch of an epoch"},
    {"normalize", F_PAIR, DA(normalize), "[-1, 1]", 1, 0, NULL, "pixel range: `[-1, 1]` or `[0, 1]`"},
};
static const FieldTable data_t = {"data", data_f, N(data_f)};

static int parse_data(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "data");
    const FieldTable *t = &data_t;
    SpecData *d = &s->data;
    if (fields_defaults(t, d, err) || fields_parse(v, &t, 1, d, "data", root, err)) return -1;
    const YNode *norm = ymap_get(v, "normalize");
    bool ok = (d->normalize[0] == -1 && d->normalize[1] == 1) || (d->normalize[0] == 0 && d->normalize[1] == 1);
    if (!ok) return yerr(err, norm, "'normalize' must be [-1, 1] or [0, 1], found [%g, %g]", d->normalize[0], d->normalize[1]);
    if (d->channels == 2) return yerr(err, ymap_get(v, "channels"), "'channels' must be 1 (gray), 3 (RGB) or 0 (as stored), found 2");
    bool whole = d->resize[0] == floor(d->resize[0]) && d->resize[1] == floor(d->resize[1]);
    if (!whole || (d->resize[0] == 0) != (d->resize[1] == 0))
        return yerr(err, ymap_get(v, "resize"), "'resize' must be [height, width] in whole pixels from 1 to %d, or [0, 0] "
                    "for the stored size, found [%g, %g]", MAX_SIDE, d->resize[0], d->resize[1]);
    bool idx = !strcmp(d->dataset, "idx"), folder = !strcmp(d->dataset, "folder");
    if (idx && !d->images[0]) return yerr(err, v ? v : root, "missing required key 'images' in data (dataset 'idx' reads explicit files)");
    if (!idx && (d->images[0] || d->labels[0])) {
        const YNode *k = ymap_get(v, d->images[0] ? "images" : "labels");
        return yerr(err, k, "'%s' applies to dataset 'idx' only (dataset '%s' reads its standard files from 'root')",
                    d->images[0] ? "images" : "labels", d->dataset);
    }
    if (folder && !d->root[0])
        return yerr(err, v ? v : root, "missing required key 'root' in data (dataset 'folder' reads the .png files of that folder)");
    if (folder && strcmp(d->split, "train"))
        return yerr(err, ymap_get(v, "split"), "dataset 'folder' has no '%s' split: all its images are training data "
                    "(leave 'split' out)", d->split);
    if (!d->root[0]) {
        if (!strcmp(d->dataset, "fashion_mnist"))
            snprintf(d->root, sizeof d->root, "/usr/share/datasets/fashion-mnist");
        else if (!idx)
            snprintf(d->root, sizeof d->root, "data/%s", d->dataset);
    }
    return 0;
}

/* ---- loss ---- */

/* `type` names a training algorithm; the keys that apply to it come with its row of the algorithm
 * table (spec_loss_kind), as do the choices of `type` itself (loss_type_field). */
#define LA(x) offsetof(SpecLoss, x)
static const Field loss_f[] = {{"type", F_WORD, LA(type), NULL, 1, 0, NULL, "the training algorithm"}};
static const FieldTable loss_t = {"loss", loss_f, N(loss_f)};

/* loss_f's `type` with its choices, the loss types, in names (NULL-terminated). */
static Field loss_type_field(const char **names)
{
    int n = 0;
    for (const SpecLossKind *k; n < SPEC_LOSS_TYPES_MAX && (k = spec_loss_kind(n)); n++) names[n] = k->type;
    names[n] = NULL;
    Field f = loss_f[0];
    f.choices = names;
    return f;
}

static const SpecLossKind *loss_kind(const char *type)
{
    const SpecLossKind *k;
    for (int i = 0; (k = spec_loss_kind(i)); i++)
        if (!strcmp(k->type, type)) return k;
    return NULL;
}

const char *spec_loss_family(const char *type)
{
    const SpecLossKind *k = loss_kind(type);
    return k ? k->family : NULL;
}

bool spec_samples_key(const char *type, const char *key)
{
    const SpecLossKind *k = loss_kind(type);
    for (int f = 0; k && k->samples_keys && f < k->samples_keys->n; f++)
        if (!strcmp(k->samples_keys->fields[f].key, key)) return true;
    return false;
}

/* loss_t and the tables of `type`'s keys into t (at most 3); returns how many. */
static int loss_tables(const char *type, const FieldTable **t)
{
    int n = 0;
    t[n++] = &loss_t;
    const SpecLossKind *k = loss_kind(type);
    for (int i = 0; k && i < 2 && k->keys[i]; i++) t[n++] = k->keys[i];
    return n;
}

static int model_names(const Spec *s, const char **names)
{
    for (int i = 0; i < s->n_models; i++) names[i] = s->models[i].name;
    return s->n_models;
}

/* A key that must name a model: "did you mean" over the models. */
static int check_model_ref(const Spec *s, const char *key, const char *value, const YNode *at, Error *err)
{
    if (spec_model(s, value)) return 0;
    const char *names[SPEC_MAX_MODELS];
    int n = model_names(s, names);
    const char *hint = suggest_word(value, names, n);
    if (hint) return yerr(err, at, "'%s' names model '%s', which is not in models (did you mean '%s'?)", key, value, hint);
    return yerr(err, at, "'%s' names model '%s', which is not in models", key, value);
}

static int parse_loss(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "loss");
    SpecLoss *l = &s->loss;
    memset(l, 0, sizeof *l);
    if (!v) return 0; /* no training configured: `check` still works, `run` says what is missing */
    const FieldTable *t[3];
    const YNode *type = ymap_get(v, "type");
    const char *names[SPEC_LOSS_TYPES_MAX + 1];
    Field type_f = loss_type_field(names);
    if (v->kind == Y_MAP && !type) {
        char list[256] = "";
        for (int i = 0; names[i]; i++) {
            const char *sep = i == 0 ? "" : names[i + 1] ? ", " : " or ";
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", sep, names[i]);
        }
        return yerr(err, v, "missing required key 'type' in loss (%s)", list);
    }
    if (type && field_parse_node(&type_f, type, l, err)) return -1;
    const SpecLossKind *kind = loss_kind(l->type);
    int n = loss_tables(l->type, t);
    char what[64];
    snprintf(what, sizeof what, l->type[0] ? "loss (type %s)" : "loss", l->type);
    for (int i = 0; i < n; i++)
        if (fields_defaults(t[i], l, err)) return -1;
    if (fields_parse(v, t, n, l, what, root, err)) return -1;
    if (kind && kind->adversarial) {
        if (check_model_ref(s, "generator", l->generator, ymap_get(v, "generator") ? ymap_get(v, "generator") : v, err) ||
            check_model_ref(s, "discriminator", l->discriminator,
                            ymap_get(v, "discriminator") ? ymap_get(v, "discriminator") : v, err))
            return -1;
        if (!strcmp(l->generator, l->discriminator))
            return yerr(err, v, "the generator and the discriminator must be different models");
    } else if (l->model[0]) {
        if (check_model_ref(s, "model", l->model, ymap_get(v, "model"), err)) return -1;
    } else if (s->n_models == 1) {
        snprintf(l->model, sizeof l->model, "%s", s->models[0].name);
    } else {
        return yerr(err, v, "missing required key 'model' in loss: the spec has %d models, which one does '%s' train?",
                    s->n_models, l->type);
    }
    return 0;
}

/* ---- optimizers ---- */

/* The keys are read straight into the config; betas, a pair in the spec, are two fields there. */
typedef struct OptArgs {
    char type[SPEC_WORD_MAX];
    double betas[2];
    OptimConfig cfg;
} OptArgs;

static const char *const optim_types[] = {"sgd", "adam", "adamw", "rmsprop", NULL};
#define OA(x) offsetof(OptArgs, x)
#define F_LR(def) {"lr", F_FLOAT, OA(cfg.lr), def, 0, FIELD_NO_MAX, NULL, "learning rate"}
#define F_BETAS {"betas", F_PAIR, OA(betas), "[0.9, 0.999]", 0, 0.999999, NULL, "running average coefficients"}
#define F_EPS {"eps", F_FLOAT, OA(cfg.eps), "1e-8", 0, FIELD_NO_MAX, NULL, "added to the denominator"}
#define F_WD(def, doc) {"weight_decay", F_FLOAT, OA(cfg.weight_decay), def, 0, FIELD_NO_MAX, NULL, doc}
#define F_MOMENTUM {"momentum", F_FLOAT, OA(cfg.momentum), "0", 0, FIELD_NO_MAX, NULL, "momentum factor"}
static const Field opt_f[] = {
    {"type", F_WORD, OA(type), "adam", 1, 0, optim_types, "the update rule"},
    {"clip_weights", F_FLOAT, OA(cfg.clip_weights), "0", 0, FIELD_NO_MAX, NULL,
     "clamp every weight to [-c, c] after each step (0: off)"},
    {"clip_grad_norm", F_FLOAT, OA(cfg.clip_grad_norm), "0", 0, FIELD_NO_MAX, NULL,
     "rescale gradients to this global L2 norm at most (0: off)"},
};
static const Field sgd_f[] = {
    F_LR("1e-3"), F_MOMENTUM,
    {"dampening", F_FLOAT, OA(cfg.dampening), "0", 0, 1, NULL, "dampening of the momentum"},
    {"nesterov", F_BOOL, OA(cfg.nesterov), "false", 1, 0, NULL, "Nesterov momentum"},
    F_WD("0", "L2 penalty added to the gradient"),
};
static const Field adam_f[] = {F_LR("1e-3"), F_BETAS, F_EPS, F_WD("0", "L2 penalty added to the gradient")};
static const Field adamw_f[] = {F_LR("1e-3"), F_BETAS, F_EPS, F_WD("1e-2", "decoupled weight decay")};
static const Field rmsprop_f[] = {
    F_LR("1e-2"),
    {"alpha", F_FLOAT, OA(cfg.alpha), "0.99", 0, 1, NULL, "smoothing constant"},
    F_EPS, F_MOMENTUM,
    {"centered", F_BOOL, OA(cfg.centered), "false", 1, 0, NULL, "normalise by the estimated variance"},
    F_WD("0", "L2 penalty added to the gradient"),
};
static const FieldTable opt_t = {"optimizers.<model>", opt_f, N(opt_f)};
static const FieldTable opt_type_t[] = {
    {"optimizers.<model> (sgd)", sgd_f, N(sgd_f)},
    {"optimizers.<model> (adam)", adam_f, N(adam_f)},
    {"optimizers.<model> (adamw)", adamw_f, N(adamw_f)},
    {"optimizers.<model> (rmsprop)", rmsprop_f, N(rmsprop_f)},
};

static int parse_one_optimizer(const YNode *v, const char *model, const YNode *key, OptimConfig *cfg, Error *err)
{
    OptArgs a;
    memset(&a, 0, sizeof a);
    const FieldTable *t[2] = {&opt_t, NULL};
    if (fields_defaults(&opt_t, &a, err)) return -1;
    const YNode *type = ymap_get(v, "type");
    if (type && field_parse_node(&opt_f[0], type, &a, err)) return -1;
    OptimType ot;
    if (optim_type_parse(a.type, &ot, err)) return yerr_wrap(err, type ? type : key);
    t[1] = &opt_type_t[ot];
    char what[96];
    snprintf(what, sizeof what, "optimizers.%s (type %s)", model, a.type);
    /* Values this type does not use keep PyTorch's defaults, so configs compare equal. */
    optim_config_defaults(&a.cfg, ot);
    a.betas[0] = a.cfg.beta1, a.betas[1] = a.cfg.beta2;
    if (fields_defaults(&opt_t, &a, err) || fields_defaults(t[1], &a, err) || fields_parse(v, t, 2, &a, what, key, err))
        return -1;
    a.cfg.beta1 = a.betas[0], a.cfg.beta2 = a.betas[1];
    *cfg = a.cfg;
    if (optim_config_check(cfg, NULL, err)) return yerr_wrap(err, v ? v : key);
    return 0;
}

static int parse_optimizers(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "optimizers");
    char buf[96];
    if (v && !ynode_is_null(v) && v->kind != Y_MAP)
        return yerr(err, v, "'optimizers' expects a mapping of model names to optimizers, found %s",
                    ynode_describe(v, buf, sizeof buf));
    if (v && v->kind != Y_MAP) v = NULL;
    for (int i = 0; v && i < v->n; i++) {
        const YNode *key = v->keys[i];
        if (check_model_ref(s, "optimizers", key->text, key, err)) return -1;
        SpecOptimizer *o = &s->optimizers[s->n_optimizers++];
        snprintf(o->model, sizeof o->model, "%s", key->text);
        if (parse_one_optimizer(v->vals[i], key->text, key, &o->cfg, err)) return -1;
    }
    /* A trained model without an entry gets the defaults (Adam, PyTorch's settings). */
    const char *trained[2] = {NULL, NULL};
    const SpecLossKind *kind = loss_kind(s->loss.type);
    if (kind && kind->adversarial)
        trained[0] = s->loss.generator, trained[1] = s->loss.discriminator;
    else if (s->loss.type[0])
        trained[0] = s->loss.model;
    for (int k = 0; k < 2; k++) {
        if (!trained[k] || spec_optimizer(s, trained[k])) continue;
        SpecOptimizer *o = &s->optimizers[s->n_optimizers++];
        snprintf(o->model, sizeof o->model, "%s", trained[k]);
        if (parse_one_optimizer(NULL, trained[k], root, &o->cfg, err)) return -1;
    }
    return 0;
}

/* ---- schedule ---- */

typedef struct SchedArgs {
    char type[SPEC_WORD_MAX], after[SPEC_WORD_MAX];
    int warmup_steps, step_size, t_max;
    double start_factor, gamma, eta_min;
} SchedArgs;

static const char *const sched_types[] = {"constant", "step", "cosine", "linear_warmup", NULL};
static const char *const after_types[] = {"constant", "step", "cosine", NULL};
#define SA(x) offsetof(SchedArgs, x)
static const Field sched_f[] = {{"type", F_WORD, SA(type), "constant", 1, 0, sched_types, "how the learning rate changes with the step"}};
static const Field step_f[] = {
    {"step_size", F_INT, SA(step_size), "1", 1, 2e9, NULL, "steps between decays"},
    {"gamma", F_FLOAT, SA(gamma), "0.1", 0, FIELD_NO_MAX, NULL, "decay factor"},
};
static const Field cosine_f[] = {
    {"t_max", F_INT, SA(t_max), "0", 0, 2e9, NULL, "steps of the half cosine period (0: the whole run)"},
    {"eta_min", F_FLOAT, SA(eta_min), "0", 0, FIELD_NO_MAX, NULL, "final learning rate"},
};
static const Field warmup_f[] = {
    {"warmup_steps", F_INT, SA(warmup_steps), "0", 0, 2e9, NULL, "steps of linear warm-up"},
    {"start_factor", F_FLOAT, SA(start_factor), "0.3333333333333333", 1e-12, 1, NULL, "fraction of lr at step 0"},
    {"after", F_WORD, SA(after), "constant", 1, 0, after_types, "the schedule after warm-up (its keys apply too)"},
};
static const FieldTable sched_t = {"schedule", sched_f, N(sched_f)};
static const FieldTable step_t = {"schedule (step)", step_f, N(step_f)};
static const FieldTable cosine_t = {"schedule (cosine)", cosine_f, N(cosine_f)};
static const FieldTable warmup_t = {"schedule (linear_warmup)", warmup_f, N(warmup_f)};

static int parse_schedule(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "schedule");
    SchedArgs a;
    memset(&a, 0, sizeof a);
    const FieldTable *all[] = {&sched_t, &step_t, &cosine_t, &warmup_t};
    for (int i = 0; i < 4; i++)
        if (fields_defaults(all[i], &a, err)) return -1;
    const YNode *type = ymap_get(v, "type"), *after = ymap_get(v, "after");
    if (type && field_parse_node(&sched_f[0], type, &a, err)) return -1;
    if (after && field_parse_node(&warmup_f[2], after, &a, err)) return -1;
    SchedType st, sa;
    if (schedule_type_parse(a.type, &st, err) || schedule_type_parse(a.after, &sa, err)) return yerr_wrap(err, v);
    const FieldTable *t[3] = {&sched_t};
    int n = 1;
    SchedType base = st == SCHED_LINEAR_WARMUP ? sa : st;
    if (st == SCHED_LINEAR_WARMUP) t[n++] = &warmup_t;
    if (base == SCHED_STEP) t[n++] = &step_t;
    if (base == SCHED_COSINE) t[n++] = &cosine_t;
    char what[64];
    snprintf(what, sizeof what, "schedule (type %s)", a.type);
    if (fields_parse(v, t, n, &a, what, root, err)) return -1;
    ScheduleConfig *c = &s->schedule;
    schedule_config_defaults(c, st);
    c->after = sa;
    c->warmup_steps = a.warmup_steps;
    c->start_factor = a.start_factor;
    c->step_size = a.step_size;
    c->gamma = a.gamma;
    c->t_max = a.t_max;
    c->eta_min = a.eta_min;
    ScheduleConfig probe = *c; /* t_max 0 stands for the run's length, known only when it runs */
    if (probe.t_max == 0) probe.t_max = 1;
    if (schedule_config_check(&probe, NULL, err)) return yerr_wrap(err, v);
    return 0;
}

/* ---- train, log, samples, fid ---- */

#define TA(x) offsetof(SpecTrain, x)
static const Field train_f[] = {
    {"epochs", F_INT, TA(epochs), "1", 1, 1e6, NULL, "passes over the data"},
    {"steps", F_INT, TA(steps), "0", 0, 2e9, NULL, "stop after this many steps instead (0: use epochs)"},
    {"checkpoint_every", F_INT, TA(checkpoint_every), "500", 0, 2e9, NULL, "steps between checkpoints (0: only at the end)"},
    {"threads", F_INT, TA(threads), "0", 0, 1024, NULL, "CPU threads (0: OpenMP's default, OMP_NUM_THREADS)"},
};
static const FieldTable train_t = {"train", train_f, N(train_f)};

static const Field log_f[] = {{"every_steps", F_INT, offsetof(SpecLog, every_steps), "50", 1, 2e9, NULL, "steps between metric rows"}};
static const FieldTable log_t = {"log", log_f, N(log_f)};

#define SM(x) offsetof(SpecSamples, x)
static const Field samples_f[] = {
    {"every_epochs", F_INT, SM(every_epochs), "1", 0, 1e6, NULL, "epochs between sample grids (0: only the final grid)"},
    {"count", F_INT, SM(count), "100", 1, 10000, NULL, "images per grid (from one fixed noise batch)"},
    {"nrow", F_INT, SM(nrow), "10", 1, 1000, NULL, "images per grid row"},
};
static const FieldTable samples_t = {"samples", samples_f, N(samples_f)};

/* The samples section, with the keys the loss type adds to it (a diffusion's sampler). */
static int parse_samples(Spec *s, const YNode *root, Error *err)
{
    const SpecLossKind *k = loss_kind(s->loss.type);
    const FieldTable *t[2] = {&samples_t, k ? k->samples_keys : NULL};
    int n = t[1] ? 2 : 1;
    char what[64];
    snprintf(what, sizeof what, n == 2 ? "samples (loss type %s)" : "samples", s->loss.type);
    for (int i = 0; i < n; i++)
        if (fields_defaults(t[i], &s->samples, err)) return -1;
    return fields_parse(ymap_get(root, "samples"), t, n, &s->samples, what, root, err);
}

const char *const fid_also_names[] = {"kid", "is", NULL};
#define FA(x) offsetof(SpecFid, x)
static const Field fid_f[] = {
    {"features", F_TEXT, FA(features), "inception", 1, 0, NULL, "`inception`, or the results folder of a trained classifier"},
    {"samples", F_INT, FA(samples), "10000", 2, 1e7, NULL, "generated images compared with the reference"},
    {"every_epochs", F_INT, FA(every_epochs), "0", 0, 1e6, NULL, "epochs between evaluations during training (0: never)"},
    {"at_end", F_BOOL, FA(at_end), "true", 1, 0, NULL, "evaluate once training ends"},
    {"also", F_WORDS, FA(also), "[]", 1, 0, fid_also_names, "further metrics from the same features: `kid`, `is`"},
    {"weights", F_TEXT, FA(weights), "", 1, 0, NULL, "converted Inception weights (empty: the default path)"},
    {"batch_size", F_INT, FA(batch_size), "100", 1, 1 << 16, NULL, "images per feature-extraction batch"},
};
/* `reference: {dataset, split, count}` is a nested mapping with its own table. */
static const FieldTable fid_t = {"fid", fid_f, N(fid_f)};
static const Field fid_ref_f[] = {
    {"dataset", F_WORD, FA(ref_dataset), "", 1, 0, datasets,
     "reference dataset (empty: data.dataset), its images given data's channels, resize, fit and pad (no flips)"},
    {"split", F_WORD, FA(ref_split), "test", 1, 0, splits, "reference split"},
    {"count", F_INT, FA(ref_count), "0", 0, 1e7, NULL, "the split's first `count` images (0: all of them)"},
};
static const FieldTable fid_ref_t = {"fid.reference", fid_ref_f, N(fid_ref_f)};

static int parse_simple(const YNode *root, const char *key, const FieldTable *t, void *out, Error *err)
{
    return fields_defaults(t, out, err) || fields_parse(ymap_get(root, key), &t, 1, out, key, root, err) ? -1 : 0;
}

#define EA(x) offsetof(SpecEma, x)
static const Field ema_f[] = {
    {"decay", F_FLOAT, EA(decay), "0.9999", 0, 1, NULL, "ema = decay * ema + (1 - decay) * w after each optimizer update"},
    {"start_step", F_INT, EA(start_step), "0", 0, 2e9, NULL, "updates before averaging starts: until then ema = w"},
};
static const FieldTable ema_t = {"ema", ema_f, N(ema_f)};

static int parse_ema(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "ema");
    s->ema.enabled = v && !ynode_is_null(v);
    return parse_simple(root, "ema", &ema_t, &s->ema, err);
}

static int parse_fid(Spec *s, const YNode *root, Error *err)
{
    const YNode *v = ymap_get(root, "fid");
    SpecFid *f = &s->fid;
    const FieldTable *t = &fid_t, *rt = &fid_ref_t;
    if (fields_defaults(t, f, err) || fields_defaults(rt, f, err)) return -1;
    f->enabled = v && !ynode_is_null(v);
    if (!f->enabled) return 0;
    /* `reference` is the one nested mapping: check it, then the rest without it. */
    YNode copy = *v;
    int at = ymap_index(v, "reference");
    YNode *keys[64], *vals[64];
    if (at >= 0) {
        if (fields_parse(v->vals[at], &rt, 1, f, "fid.reference", v->keys[at], err)) return -1;
        if (v->n > 64) return yerr(err, v, "too many keys in fid");
        for (int i = 0, j = 0; i < v->n; i++)
            if (i != at) keys[j] = v->keys[i], vals[j++] = v->vals[i];
        copy.keys = keys, copy.vals = vals, copy.n = v->n - 1;
    }
    if (fields_parse(v->kind == Y_MAP ? &copy : v, &t, 1, f, "fid", root, err)) return -1;
    if (!f->ref_dataset[0]) snprintf(f->ref_dataset, sizeof f->ref_dataset, "%s", s->data.dataset);
    return 0;
}

int spec_parse_sections(Spec *s, const YNode *root, Error *err)
{
    if (parse_data(s, root, err) || parse_loss(s, root, err) || parse_optimizers(s, root, err) ||
        parse_schedule(s, root, err) || parse_simple(root, "train", &train_t, &s->train, err) ||
        parse_simple(root, "log", &log_t, &s->log, err) || parse_samples(s, root, err) || parse_ema(s, root, err) ||
        parse_fid(s, root, err))
        return -1;
    const SpecLossKind *k = loss_kind(s->loss.type);
    return k && k->check_values ? k->check_values(s, root, err) : 0;
}

/* ---- the resolved spec: every default made explicit ---- */

/* The mapping under `key` in `parent`, created (or replacing a null) when absent. */
static YNode *section_map(YNode *parent, const char *key, Error *err)
{
    int at = ymap_index(parent, key);
    if (at >= 0 && parent->vals[at]->kind == Y_MAP) return parent->vals[at];
    YNode *m = ynode_new_map("(default)", 0, 0);
    if (!m) return err_set(err, "out of memory"), NULL;
    if (at >= 0) {
        ynode_free(parent->vals[at]);
        parent->vals[at] = m;
    } else if (ynode_map_add(parent, key, m, "(default)", 0, 0)) {
        ynode_free(m);
        return err_set(err, "out of memory"), NULL;
    }
    return m;
}

static int fill_section(YNode *root, const char *key, const FieldTable *const *t, int n, const void *in, Error *err)
{
    YNode *m = section_map(root, key, err);
    if (!m) return -1;
    for (int i = 0; i < n; i++)
        if (fields_fill(t[i], in, m, err)) return -1;
    return 0;
}

static int fill_loss(const Spec *s, YNode *root, Error *err)
{
    const FieldTable *t[3];
    int n = loss_tables(s->loss.type, t);
    return fill_section(root, "loss", t, n, &s->loss, err);
}

static int fill_optimizers(const Spec *s, YNode *root, Error *err)
{
    YNode *opts = section_map(root, "optimizers", err);
    if (!opts) return -1;
    for (int i = 0; i < s->n_optimizers; i++) {
        const OptimConfig *c = &s->optimizers[i].cfg;
        OptArgs a = {.betas = {c->beta1, c->beta2}, .cfg = *c};
        snprintf(a.type, sizeof a.type, "%s", optim_type_name(c->type));
        const FieldTable *t[2] = {&opt_t, &opt_type_t[c->type]};
        if (fill_section(opts, s->optimizers[i].model, t, 2, &a, err)) return -1;
    }
    return 0;
}

static int fill_schedule(const Spec *s, YNode *root, Error *err)
{
    const ScheduleConfig *c = &s->schedule;
    SchedArgs a = {.warmup_steps = (int)c->warmup_steps, .step_size = (int)c->step_size, .t_max = (int)c->t_max,
                   .start_factor = c->start_factor, .gamma = c->gamma, .eta_min = c->eta_min};
    snprintf(a.type, sizeof a.type, "%s", schedule_type_name(c->type));
    snprintf(a.after, sizeof a.after, "%s", schedule_type_name(c->after));
    const FieldTable *t[3] = {&sched_t};
    int n = 1;
    SchedType base = c->type == SCHED_LINEAR_WARMUP ? c->after : c->type;
    if (c->type == SCHED_LINEAR_WARMUP) t[n++] = &warmup_t;
    if (base == SCHED_STEP) t[n++] = &step_t;
    if (base == SCHED_COSINE) t[n++] = &cosine_t;
    return fill_section(root, "schedule", t, n, &a, err);
}

int spec_fill_defaults(const Spec *s, YNode *root, Error *err)
{
    TopArgs top = {.seed = (int)s->seed};
    snprintf(top.name, sizeof top.name, "%s", s->name);
    snprintf(top.backend, sizeof top.backend, "%s", s->backend);
    const FieldTable *tt = &top_t, *dt = &data_t, *trt = &train_t, *lt = &log_t, *et = &ema_t;
    const SpecLossKind *k = loss_kind(s->loss.type);
    const FieldTable *st[2] = {&samples_t, k ? k->samples_keys : NULL};
    if (fields_fill(tt, &top, root, err) || fill_section(root, "data", &dt, 1, &s->data, err)) return -1;
    if (s->loss.type[0] && fill_loss(s, root, err)) return -1;
    if (fill_optimizers(s, root, err) || fill_schedule(s, root, err) ||
        fill_section(root, "train", &trt, 1, &s->train, err) || fill_section(root, "log", &lt, 1, &s->log, err) ||
        fill_section(root, "samples", st, st[1] ? 2 : 1, &s->samples, err) ||
        (s->ema.enabled && fill_section(root, "ema", &et, 1, &s->ema, err)))
        return -1;
    if (s->fid.enabled) {
        const FieldTable *ft = &fid_t, *rt = &fid_ref_t;
        YNode *fid = section_map(root, "fid", err);
        if (!fid || fill_section(fid, "reference", &rt, 1, &s->fid, err) || fields_fill(ft, &s->fid, fid, err))
            return -1;
    }
    return 0;
}

static void table_markdown(const FieldTable *t, FILE *out)
{
    fprintf(out, "\n**%s**\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n", t->section);
    fields_markdown(t, out);
}

/* Tables that several loss types share (a family's keys) are documented once. */
typedef struct TablesShown {
    const FieldTable *t[3 * SPEC_LOSS_TYPES_MAX];
    int n;
} TablesShown;

static void table_markdown_once(const FieldTable *t, TablesShown *shown, FILE *out)
{
    if (!t) return;
    for (int i = 0; i < shown->n; i++)
        if (shown->t[i] == t) return;
    if (shown->n < N(shown->t)) shown->t[shown->n++] = t;
    table_markdown(t, out);
}

void spec_keys_markdown(FILE *out)
{
    const FieldTable *before[] = {&top_t, &data_t};
    const FieldTable *after[] = {&opt_t,   &opt_type_t[0], &opt_type_t[1], &opt_type_t[2], &opt_type_t[3],
                                 &sched_t, &warmup_t,      &step_t,        &cosine_t,      &train_t,
                                 &log_t,   &samples_t};
    const FieldTable *last[] = {&ema_t, &fid_t, &fid_ref_t};
    for (int i = 0; i < N(before); i++) table_markdown(before[i], out);
    /* `loss`, then each loss type's keys in the algorithm table's order, a family's shared table once. */
    const char *names[SPEC_LOSS_TYPES_MAX + 1];
    Field type_f = loss_type_field(names);
    table_markdown(&(FieldTable){"loss", &type_f, 1}, out);
    TablesShown shown = {.n = 0};
    const SpecLossKind *k;
    for (int i = 0; (k = spec_loss_kind(i)); i++)
        for (int j = 0; j < 2; j++) table_markdown_once(k->keys[j], &shown, out);
    for (int i = 0; i < N(after); i++) table_markdown(after[i], out);
    /* The keys loss types add to `samples` (a family's once), then the sections after it. */
    for (int i = 0; (k = spec_loss_kind(i)); i++) table_markdown_once(k->samples_keys, &shown, out);
    for (int i = 0; i < N(last); i++) table_markdown(last[i], out);
}
