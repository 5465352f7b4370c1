/* A run's position in its checkpoint's metadata (see train_resume.h): integers in decimal, times
 * and metrics with %.17g, so that each reads back to the same bits. */
#include "runner/algo/train_resume.h"

#include "runner/io/checkpoint.h"
#include "runner/io/results.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX 16
#define VALUE_MAX (ALGO_MAX_METRICS * 64)

void train_resume_fresh(TrainResume *r)
{
    memset(r, 0, sizeof *r);
    for (int m = 0; m < ALGO_MAX_METRICS; m++) r->metrics[m] = NAN;
}

/* What makes a checkpoint this run's, as text: keys[i] = values[i]. */
typedef struct Identity {
    const char *keys[4];
    char values[4][128];
} Identity;

static void identity_of(const Experiment *x, Identity *id)
{
    const Shape *d = &x->ctx.data_shape;
    *id = (Identity){.keys = {"name", "algorithm", "seed", "data_shape"}};
    snprintf(id->values[0], sizeof id->values[0], "%s", x->spec->name);
    snprintf(id->values[1], sizeof id->values[1], "%s", x->spec->loss.type);
    snprintf(id->values[2], sizeof id->values[2], "%" PRIu64, x->spec->seed);
    int len = 0;
    for (int i = 0; i < d->ndim; i++)
        len += snprintf(id->values[3] + len, sizeof id->values[3] - (size_t)len, i ? ",%" PRId64 : "%" PRId64,
                        (int64_t)d->dim[i]);
}

static void format_double(char *buf, size_t len, double v)
{
    if (isnan(v)) snprintf(buf, len, "nan"); /* glibc would print a signed "-nan" */
    else snprintf(buf, len, "%.17g", v);
}

/* "name=value,..." over x's metrics: a resumed run checks that the names are its own. */
static int format_list(const Experiment *x, const double *values, char *buf, size_t len, Error *err)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int m = 0; m < x->n_metrics && at < len; m++) {
        char v[32];
        format_double(v, sizeof v, values[m]);
        at += (size_t)snprintf(buf + at, len - at, "%s%s=%s", m ? "," : "", x->metrics[m], v);
    }
    return at < len ? 0 : err_internal(err, "the metrics do not fit a checkpoint's metadata");
}

int train_resume_save(const char *path, const Experiment *x, const TrainResume *r, Error *err)
{
    Identity id;
    identity_of(x, &id);
    char text[6][32], lists[3][VALUE_MAX];
    double counts[ALGO_MAX_METRICS];
    for (int m = 0; m < ALGO_MAX_METRICS; m++) counts[m] = (double)r->epoch_n[m];
    snprintf(text[0], sizeof text[0], "%" PRId64, r->step);
    snprintf(text[1], sizeof text[1], "%" PRId64, r->epoch);
    snprintf(text[2], sizeof text[2], "%" PRId64, r->batch);
    snprintf(text[3], sizeof text[3], "%" PRId64, r->examples);
    format_double(text[4], sizeof text[4], r->time_s);
    if (format_list(x, r->metrics, lists[0], VALUE_MAX, err) || format_list(x, r->epoch_sum, lists[1], VALUE_MAX, err) ||
        format_list(x, counts, lists[2], VALUE_MAX, err))
        return -1;
    /* The iterator's (epoch, batch) and the seed fix the data order from here on; every other
     * random stream is a function of the seed and the step. */
    const char *keys[META_MAX] = {"format",  "runner_version", "step",   "epoch",      "batch_in_epoch",
                                  "examples", "time_s",        "metrics", "epoch_sums", "epoch_counts"};
    const char *vals[META_MAX] = {"runner-checkpoint", RUNNER_VERSION, text[0],  text[1],  text[2],
                                  text[3],             text[4],        lists[0], lists[1], lists[2]};
    int n = 10;
    for (int i = 0; i < 4; i++) keys[n] = id.keys[i], vals[n++] = id.values[i];
    Optimizer *opts[SPEC_MAX_MODELS];
    Network *nets[2 * SPEC_MAX_MODELS];
    int n_opts = experiment_optimizers(x, opts), n_nets = experiment_checkpoint_nets(x, nets);
    return checkpoint_save(path, nets, n_nets, opts, n_opts, keys, vals, n, err);
}

/* ---- loading ---- */

static int meta_int(const StFile *f, const char *path, const char *key, int64_t *out, Error *err)
{
    const char *v = st_meta(f, key);
    if (!v)
        return err_set(err, "%s has no '%s' metadata: it was written by a runner that cannot resume runs; run it "
                       "again from the start with --force", path, key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < 0) return err_set(err, "%s: metadata %s '%s' is not a count", path, key, v);
    *out = x;
    return 0;
}

static int meta_double(const char *path, const char *key, const char *v, double *out, Error *err)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end) return err_set(err, "%s: metadata %s value '%s' is not a number", path, key, v);
    *out = x;
    return 0;
}

/* The list `key` ("name=value,...") with exactly x's metric names, in order. */
static int parse_list(const StFile *f, const char *path, const char *key, const Experiment *x, double *out, Error *err)
{
    const char *v = st_meta(f, key);
    if (!v)
        return err_set(err, "%s has no '%s' metadata: it was written by a runner that cannot resume runs", path, key);
    char buf[VALUE_MAX];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL, *item = strtok_r(buf, ",", &save);
    for (int m = 0; m < x->n_metrics; m++, item = strtok_r(NULL, ",", &save)) {
        char *eq = item ? strchr(item, '=') : NULL;
        if (!eq || (size_t)(eq - item) != strlen(x->metrics[m]) || strncmp(item, x->metrics[m], (size_t)(eq - item)))
            return err_set(err, "%s: metadata %s '%s' does not list this run's metrics in order (%s first)", path,
                           key, v, x->metrics[m]);
        if (meta_double(path, x->metrics[m], eq + 1, &out[m], err)) return -1;
    }
    if (item) return err_set(err, "%s: metadata %s '%s' lists more metrics than this run has", path, key, v);
    return 0;
}

static int check_identity(const StFile *f, const char *path, const Experiment *x, Error *err)
{
    const char *format = st_meta(f, "format");
    if (!format || strcmp(format, "runner-checkpoint") != 0)
        return err_set(err, "%s is not a checkpoint written by `runner run`", path);
    Identity id;
    identity_of(x, &id);
    for (int i = 0; i < 4; i++) {
        const char *v = st_meta(f, id.keys[i]);
        if (!v || strcmp(v, id.values[i]) != 0)
            return err_set(err, "%s is not this run's checkpoint: its %s is '%s', this run's is '%s'", path,
                           id.keys[i], v ? v : "(missing)", id.values[i]);
    }
    const char *version = st_meta(f, "runner_version");
    if (version && strcmp(version, RUNNER_VERSION) != 0) {
        Error why = {0};
        err_set(&why, "%s was written by runner %s, this is runner %s", path, version, RUNNER_VERSION);
        err_warn(&why, "the resumed run may differ from an uninterrupted one");
    }
    return 0;
}

static int read_position(const StFile *f, const char *path, const Experiment *x, const RunPlan *plan, TrainResume *r,
                         Error *err)
{
    train_resume_fresh(r);
    if (meta_int(f, path, "step", &r->step, err) || meta_int(f, path, "epoch", &r->epoch, err) ||
        meta_int(f, path, "batch_in_epoch", &r->batch, err) || meta_int(f, path, "examples", &r->examples, err))
        return -1;
    const char *t = st_meta(f, "time_s");
    if (!t) return err_set(err, "%s has no 'time_s' metadata: it was written by a runner that cannot resume runs", path);
    double counts[ALGO_MAX_METRICS] = {0};
    if (meta_double(path, "time_s", t, &r->time_s, err) || parse_list(f, path, "metrics", x, r->metrics, err) ||
        parse_list(f, path, "epoch_sums", x, r->epoch_sum, err) || parse_list(f, path, "epoch_counts", x, counts, err))
        return -1;
    for (int m = 0; m < x->n_metrics; m++) {
        if (!(counts[m] >= 0 && counts[m] <= (double)r->step))
            return err_set(err, "%s: metadata epoch_counts has %g steps for %s", path, counts[m], x->metrics[m]);
        r->epoch_n[m] = (int64_t)counts[m];
    }
    if (r->step > plan->total_steps)
        return err_set(err, "%s stands at step %" PRId64 ", past this run's %" PRId64 " steps", path, r->step,
                       plan->total_steps);
    if (r->batch > plan->per_epoch || r->epoch * plan->per_epoch + r->batch != r->step)
        return err_set(err, "%s stands at batch %" PRId64 " of epoch %" PRId64 " after step %" PRId64
                       ", which epochs of %" PRId64 " batches do not give: the data is not what the run trained on",
                       path, r->batch, r->epoch + 1, r->step, plan->per_epoch);
    return 0;
}

int train_resume_load(const char *path, Experiment *x, const RunPlan *plan, TrainResume *r, Error *err)
{
    StFile f;
    if (st_read(path, &f, err)) return -1;
    int rc = check_identity(&f, path, x, err) || read_position(&f, path, x, plan, r, err) ||
                     experiment_load_checkpoint(x, &f, path, err)
                 ? -1
                 : 0;
    st_free(&f);
    return rc;
}
