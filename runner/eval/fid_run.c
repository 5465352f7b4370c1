/* Distances during training (see fid_run.h). */
#include "runner/eval/fid_run.h"

#include "runner/eval/frechet.h"
#include "runner/eval/image_set.h"
#include "runner/eval/kid_is.h"
#include "runner/spec/spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fid_feature_config(const char *features, const char *weights, const char *node, bool want_logits, int batch,
                       FeatureConfig *cfg, Error *err)
{
    if (!strcmp(features, "inception")) {
        features_inception_config(cfg, weights, want_logits);
        cfg->batch = batch;
        return 0;
    }
    Spec spec;
    char path[FEATURES_PATH_MAX];
    snprintf(path, sizeof path, "%s/spec.yaml", features);
    if (spec_load(path, NULL, 0, &spec, err))
        return err_prefix(err, "features '%s' is neither 'inception' nor a results folder: ", features);
    memset(cfg, 0, sizeof *cfg);
    const char *model = spec.loss.model[0] ? spec.loss.model : spec.models[0].name;
    const NetDef *def = spec_model(&spec, model);
    /* Named after the classifier run's name up to its first '_' (lenet_mnist, lenet_fashion: fd_lenet). */
    snprintf(cfg->metric, sizeof cfg->metric, "fd_%.*s", (int)strcspn(spec.name, "_") < 40 ? (int)strcspn(spec.name, "_") : 40,
             spec.name);
    snprintf(cfg->net_path, sizeof cfg->net_path, "%s", path);
    snprintf(cfg->model, sizeof cfg->model, "%s", model);
    snprintf(cfg->weights, sizeof cfg->weights, "%s/checkpoints/last.safetensors", features);
    snprintf(cfg->features_node, sizeof cfg->features_node, "%s", node);
    /* A classifier's last node is its class logits (what the Inception Score needs). */
    if (want_logits && def && def->n_nodes > 0)
        snprintf(cfg->logits_node, sizeof cfg->logits_node, "%s", def->nodes[def->n_nodes - 1].name);
    cfg->lo = (float)spec.data.normalize[0];
    cfg->hi = (float)spec.data.normalize[1];
    cfg->resize = true;
    cfg->batch = batch;
    spec_free(&spec);
    return 0;
}

int fid_run_open(FidRun *f, const Spec *spec, const Backend *be, Error *err)
{
    memset(f, 0, sizeof *f);
    f->spec = spec;
    f->last_step = -1;
    const SpecFid *s = &spec->fid;
    f->kid = s->also & (1u << 0);
    f->is = s->also & (1u << 1);
    FeatureConfig cfg;
    if (fid_feature_config(s->features, s->weights, "features", f->is, s->batch_size, &cfg, err) ||
        features_open(&f->fn, &cfg, be, err))
        return err_prefix(err, "fid: ");
    f->names[f->n_metrics++] = f->fn.cfg.metric;
    if (f->kid) f->names[f->n_metrics++] = "kid_mean", f->names[f->n_metrics++] = "kid_std";
    if (f->is) f->names[f->n_metrics++] = "is_mean", f->names[f->n_metrics++] = "is_std";
    for (int m = 0; m < f->n_metrics; m++) f->values[m] = NAN;

    /* The reference: the split or its first images, its files where data.root points for the
     * training dataset. */
    const char *dataset = s->ref_dataset[0] ? s->ref_dataset : spec->data.dataset;
    char what[SPEC_TEXT_MAX + 2 * SPEC_WORD_MAX + 32], first[24] = "";
    if (s->ref_count) snprintf(first, sizeof first, ":0-%d", s->ref_count);
    if (!strcmp(dataset, spec->data.dataset) && spec->data.root[0])
        snprintf(what, sizeof what, "%s:%s%s@%s", dataset, s->ref_split, first, spec->data.root);
    else
        snprintf(what, sizeof what, "%s:%s%s", dataset, s->ref_split, first);
    ImageSet ref;
    ImageSetOptions io = {.like = &spec->data}; /* the examples the generator learns to make */
    char cache[FID_CACHE_PATH_MAX];
    fid_cache_default_dir(cache, sizeof cache);
    if (image_set_open(&ref, what, &io, err)) {
        fid_run_close(f, NULL);
        return err_prefix(err, "fid.reference: ");
    }
    int rc = fid_set_stats(&f->fn, &ref, cache, f->kid, false, false, &f->ref, err);
    f->ref_n = ref.n;
    image_set_free(&ref);
    if (rc) {
        fid_run_close(f, NULL);
        return err_prefix(err, "fid.reference %s: ", what);
    }
    return 0;
}

static int open_log(FidRun *f, const Results *res, bool append, Error *err)
{
    const char *cols[2 + FID_RUN_MAX_METRICS] = {"epoch", "step"};
    for (int m = 0; m < f->n_metrics; m++) cols[2 + m] = f->names[m];
    char path[RESULTS_PATH_MAX + 16];
    if (results_path(res, "fid.csv", path, sizeof path, err) ||
        metrics_log_open(&f->log, path, cols, 2 + f->n_metrics, append, err))
        return -1;
    f->log_open = true;
    return 0;
}

int fid_run_resume(FidRun *f, const Results *res, int64_t step, Error *err)
{
    char path[RESULTS_PATH_MAX + 16];
    struct stat st;
    if (results_path(res, "fid.csv", path, sizeof path, err)) return -1;
    if (stat(path, &st) != 0) return 0;
    MetricsTable t;
    if (metrics_log_keep_through(path, 1, step, err) || metrics_table_read(path, &t, err)) return -1;
    int rc = 0, last = t.n_rows - 1;
    double v;
    if (last >= 0 && (rc = metrics_table_num(&t, last, 1, &v, err)) == 0) f->last_step = (int64_t)v;
    for (int m = 0; rc == 0 && last >= 0 && m < f->n_metrics; m++) {
        int c = metrics_table_col(&t, f->names[m]);
        rc = c < 0 ? err_set(err, "%s has no column %s", path, f->names[m]) : metrics_table_num(&t, last, c, &f->values[m], err);
    }
    metrics_table_free(&t);
    return rc ? err_prefix(err, "%s: ", path) : open_log(f, res, true, err);
}

/* The distances of the generated set g against the reference. */
static int measure(FidRun *f, const ImageSet *g, const SetStats *st, Error *err)
{
    int m = 0;
    if (frechet_distance(&f->ref.stats, &st->stats, &f->values[m++], err)) return -1;
    MeanStd ms;
    if (f->kid) {
        if (kid_compute(st->features, g->n, f->ref.features, f->ref_n, f->fn.feature_dim, KID_DEFAULT_SUBSETS,
                        KID_DEFAULT_SUBSET_SIZE, METRICS_DEFAULT_SEED, &ms, err))
            return -1;
        f->values[m++] = ms.mean, f->values[m++] = ms.std;
    }
    if (f->is) {
        if (inception_score(st->logits, g->n, f->fn.logits_dim, IS_DEFAULT_SPLITS, true, METRICS_DEFAULT_SEED, &ms,
                            err))
            return -1;
        f->values[m++] = ms.mean, f->values[m++] = ms.std;
    }
    return 0;
}

int fid_run_eval(FidRun *f, const Experiment *x, float lo, float hi, const Results *res, int64_t epoch,
                 int64_t step, Error *err)
{
    if (f->last_step == step) return 0;
    const Shape *s = &x->ctx.data_shape;
    if (!x->algo->sample) return err_set(err, "fid: algorithm '%s' generates no samples", x->algo->loss.type);
    if (s->ndim != 3) return err_set(err, "fid: samples must be C x H x W images");
    int n = f->spec->fid.samples;
    ImageSet g;
    SetStats st = {0};
    float *samples = malloc((size_t)n * (size_t)shape_numel(s) * sizeof *samples);
    int rc = -1;
    if (image_set_alloc(&g, IMAGES_GENERATOR, "samples", n, (int)s->dim[0], (int)s->dim[1], (int)s->dim[2], err))
        goto done;
    if (!samples) {
        err_set(err, "out of memory for %d samples", n);
        goto done;
    }
    /* The same noise at every evaluation: values differ only by what training changed. */
    if (x->algo->sample(x->state, n, f->spec->seed ^ 0xD1B54A32D192ED03ull, samples, err)) goto done;
    image_set_quantise(&g, samples, lo, hi);
    if (fid_set_stats(&f->fn, &g, NULL, f->kid, f->is, false, &st, err) || measure(f, &g, &st, err)) goto done;
    if (!f->log_open && open_log(f, res, false, err)) goto done;
    Cell cells[2 + FID_RUN_MAX_METRICS] = {cell_int(epoch), cell_int(step)};
    for (int m = 0; m < f->n_metrics; m++) cells[2 + m] = cell_double(f->values[m]);
    if (metrics_log_row(&f->log, cells, 2 + f->n_metrics, err)) goto done;
    fprintf(stderr, "step %lld, %s: %.6f (%d samples vs %d images of %s %s)\n", (long long)step, f->names[0],
            f->values[0], n, f->ref_n, f->spec->fid.ref_dataset[0] ? f->spec->fid.ref_dataset : f->spec->data.dataset,
            f->spec->fid.ref_split);
    f->last_step = step;
    rc = 0;
done:
    free(samples);
    image_set_free(&g);
    set_stats_free(&st);
    return rc ? err_prefix(err, "fid after step %lld: ", (long long)step) : 0;
}

int fid_run_close(FidRun *f, Error *err)
{
    int rc = 0;
    if (f->log_open) {
        Error e = {0};
        rc = metrics_log_close(&f->log, err ? err : &e);
        f->log_open = false;
    }
    set_stats_free(&f->ref);
    features_close(&f->fn);
    return rc;
}
