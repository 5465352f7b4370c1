/* The run loop (see train_loop.h). */
#include "runner/algo/train_loop.h"

#include "runner/eval/fid_run.h"
#include "runner/io/metrics_csv.h"
#include "runner/io/plot.h"
#include "runner/algo/progress.h"
#include "runner/algo/train_resume.h"
#include "runner/io/sample_grid.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_COLS (3 + SPEC_MAX_MODELS + 2 * ALGO_MAX_METRICS)

uint64_t train_grid_seed(const Spec *spec)
{
    /* Apart from the streams that initialise and train, yet fixed by the spec's seed. */
    return spec->seed ^ 0x9E3779B97F4A7C15ull;
}

int train_check_grid(const Experiment *x, Error *err)
{
    const Shape *s = &x->ctx.data_shape;
    if (!x->algo->sample) return err_set(err, "algorithm '%s' generates no samples", x->algo->loss.type);
    if (s->ndim != 3 || (s->dim[0] != 1 && s->dim[0] != 3))
        return err_set(err, "cannot draw a grid of samples shaped (%lld, ...): grids need C x H x W images with 1 or "
                       "3 channels", (long long)s->dim[0]);
    return 0;
}

/* A sample that is not finite means weights that are not: a grid of it would only look blank. */
static int check_samples_finite(const float *images, size_t n, int count, Error *err)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(images[i]);
    if (bad == 0) return 0;
    return err_set(err, "%zu of the %zu values of %d samples are not finite (NaN or infinite): the sampling "
                   "network's weights are not finite; no grid written", bad, n, count);
}

int train_write_grid(const Experiment *x, int count, int nrow, uint64_t seed, float lo, float hi,
                     const char *path, Error *err)
{
    if (train_check_grid(x, err)) return err_prefix(err, "samples for %s: ", path);
    const Shape *s = &x->ctx.data_shape;
    size_t per = (size_t)shape_numel(s);
    float *images = malloc((size_t)count * per * sizeof *images);
    if (!images) return err_set(err, "out of memory for %d samples", count);
    Image img = {0};
    GridStyle style = {.nrow = nrow, .padding = 2, .lo = lo, .hi = hi};
    int rc = x->algo->sample(x->state, count, seed, images, err);
    if (rc == 0) rc = check_samples_finite(images, (size_t)count * per, count, err);
    if (rc == 0)
        rc = grid_render(images, count, (int)s->dim[0], (int)s->dim[1], (int)s->dim[2], &style, &img, err);
    if (rc == 0) rc = png_write(path, &img, err);
    image_free(&img);
    free(images);
    return rc ? err_prefix(err, "samples for %s: ", path) : 0;
}

/* Everything one run keeps between steps. */
struct TrainLoop {
    Experiment *x;
    const Spec *spec;
    const Dataset *ds;
    const Results *res;
    /* Held-out evaluation (algorithms with `evaluate`): the examples as floats, their metrics. */
    const Dataset *eval;
    float *eval_images;
    const char *const *eval_names;
    int n_eval;
    double eval_metrics[ALGO_MAX_METRICS];
    double *eval_xs, *eval_ys[ALGO_MAX_METRICS];
    int n_eval_rows;
    int64_t last_eval;         /* step of the last evaluation, -1: none */
    BatchIter it;
    int64_t per_epoch, total;
    float *images;
    int32_t *labels;
    void *tail;           /* the algorithm's state for an epoch's smaller last batch */
    int tail_batch;
    MetricsLog log, epochs;     /* metrics.csv, epochs.csv */
    bool log_open, epochs_open;
    double epoch_sum[ALGO_MAX_METRICS]; /* the finite training metrics of the epoch so far */
    int64_t epoch_n[ALGO_MAX_METRICS];
    double metrics[ALGO_MAX_METRICS];          /* the last step's, carried into the next */
    bool seen[ALGO_MAX_METRICS];               /* a finite value has come for that metric */
    /* Logged rows, for the loss plot. */
    double *xs, *ys[ALGO_MAX_METRICS];
    int n_rows, cap_rows, cap_eval_rows;
    int64_t examples;          /* training examples seen */
    int64_t last_checkpoint;   /* step of the last checkpoint written, -1: none */
    double t0;
    Progress progress;
    FidRun *fid;               /* the spec's `fid:` distances; NULL without one */
    TrainResume start;         /* where training starts: step 0, or a resumed run's checkpoint */
    bool resumed;
    bool (*stop_requested)(void); /* polled after every step; NULL: never */
};

static int path_of(const TrainLoop *l, char *buf, size_t len, Error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int path_of(const TrainLoop *l, char *buf, size_t len, Error *err, const char *fmt, ...)
{
    char rel[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    return results_path(l->res, rel, buf, len, err);
}

/* The learning rate of each optimizer's most recent update. */
static double current_lr(const TrainLoop *l, const Optimizer *o)
{
    return schedule_lr(&l->spec->schedule, o->cfg.lr, o->steps > 0 ? o->steps - 1 : 0);
}

static int open_log(TrainLoop *l, bool append, Error *err)
{
    const char *cols[MAX_COLS];
    char lr_names[SPEC_MAX_MODELS][NET_NAME_MAX + 4];
    int n = 0;
    cols[n++] = "step", cols[n++] = "epoch", cols[n++] = "time_s";
    for (int i = 0; i < l->x->n_nets; i++) {
        if (!l->x->optims[i]) continue;
        snprintf(lr_names[i], sizeof lr_names[i], "lr_%s", l->x->nets[i]->def.name);
        cols[n++] = lr_names[i];
    }
    for (int m = 0; m < l->x->n_metrics; m++) cols[n++] = l->x->metrics[m];
    for (int m = 0; m < l->n_eval; m++) cols[n++] = l->eval_names[m];
    char path[RESULTS_PATH_MAX + 64];
    if (path_of(l, path, sizeof path, err, "metrics.csv") || metrics_log_open(&l->log, path, cols, n, append, err))
        return -1;
    l->log_open = true;
    /* epochs.csv: epoch, step, the training metrics' means over the epoch, the evaluation's. */
    int e = 0;
    cols[e++] = "epoch", cols[e++] = "step";
    for (int m = 0; m < l->x->n_metrics; m++) cols[e++] = l->x->metrics[m];
    for (int m = 0; m < l->n_eval; m++) cols[e++] = l->eval_names[m];
    if (path_of(l, path, sizeof path, err, "epochs.csv") || metrics_log_open(&l->epochs, path, cols, e, append, err))
        return -1;
    l->epochs_open = true;
    return 0;
}


/* Appends (step, values) to a history of n_ys series; *cap grows in powers of two. */
static int remember(double **xs, double **ys, int n_ys, int *n, int *cap, int64_t step, const double *values,
                    Error *err)
{
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 256;
        double *x = realloc(*xs, (size_t)c * sizeof *x);
        if (!x) return err_set(err, "out of memory");
        *xs = x;
        for (int m = 0; m < n_ys; m++) {
            double *y = realloc(ys[m], (size_t)c * sizeof *y);
            if (!y) return err_set(err, "out of memory");
            ys[m] = y;
        }
        *cap = c;
    }
    (*xs)[*n] = (double)step;
    for (int m = 0; m < n_ys; m++) ys[m][*n] = values[m];
    (*n)++;
    return 0;
}

/* The shortest text that reads back as v: learning rates show as 0.0002, not 0.00020000000000000001. */
static Cell short_number(char *buf, size_t len, double v)
{
    for (int digits = 6; digits < 17; digits++) {
        snprintf(buf, len, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cell_text(buf);
}

/* Metrics are float32 values from the graph: %.9g keeps every bit.  Not computed yet: empty. */
static Cell metric_cell(double v)
{
    return isnan(v) ? cell_empty() : cell_float((float)v);
}

/* Adds a step's finite metrics to the epoch's means. */
static void epoch_add(TrainLoop *l)
{
    for (int m = 0; m < l->x->n_metrics; m++)
        if (isfinite(l->metrics[m])) l->epoch_sum[m] += l->metrics[m], l->epoch_n[m]++;
}

/* The epochs.csv row of the epoch that `step` ends (or, the run's last step, cuts short). */
static int epoch_row(TrainLoop *l, int64_t epoch, int64_t step, Error *err)
{
    Cell cells[MAX_COLS];
    int n = 0;
    cells[n++] = cell_int(epoch);
    cells[n++] = cell_int(step);
    for (int m = 0; m < l->x->n_metrics; m++)
        cells[n++] = l->epoch_n[m] ? cell_double(l->epoch_sum[m] / (double)l->epoch_n[m]) : cell_empty();
    for (int m = 0; m < l->n_eval; m++) cells[n++] = l->last_eval == step ? metric_cell(l->eval_metrics[m]) : cell_empty();
    memset(l->epoch_sum, 0, sizeof l->epoch_sum);
    memset(l->epoch_n, 0, sizeof l->epoch_n);
    return metrics_log_row(&l->epochs, cells, n, err);
}

/* One metrics.csv row; the evaluation's columns are filled on the row of the step it followed. */
static int log_row(TrainLoop *l, int64_t step, int64_t epoch, Error *err)
{
    Cell cells[MAX_COLS];
    char text[SPEC_MAX_MODELS + 1][32];
    int n = 0, t = 0;
    cells[n++] = cell_int(step);
    cells[n++] = cell_int(epoch);
    snprintf(text[t], sizeof text[t], "%.3f", progress_now() - l->t0);
    cells[n++] = cell_text(text[t++]);
    for (int i = 0; i < l->x->n_nets; i++, t++)
        if (l->x->optims[i]) cells[n++] = short_number(text[t], sizeof text[t], current_lr(l, l->x->optims[i]));
    for (int m = 0; m < l->x->n_metrics; m++) cells[n++] = metric_cell(l->metrics[m]);
    for (int m = 0; m < l->n_eval; m++) cells[n++] = l->last_eval == step ? metric_cell(l->eval_metrics[m]) : cell_empty();
    if (metrics_log_row(&l->log, cells, n, err)) return -1;
    return remember(&l->xs, l->ys, l->x->n_metrics, &l->n_rows, &l->cap_rows, step, l->metrics, err);
}

static int write_plot(const TrainLoop *l, Error *err)
{
    if (l->n_rows == 0) return 0;
    PlotSeries series[2 * ALGO_MAX_METRICS];
    int n = 0;
    for (int m = 0; m < l->x->n_metrics; m++)
        series[n++] = (PlotSeries){.name = l->x->metrics[m], .xs = l->xs, .ys = l->ys[m], .n = l->n_rows};
    for (int m = 0; m < l->n_eval; m++)
        series[n++] = (PlotSeries){.name = l->eval_names[m], .xs = l->eval_xs, .ys = l->eval_ys[m], .n = l->n_eval_rows};
    char path[RESULTS_PATH_MAX + 64], title[160];
    snprintf(title, sizeof title, "%s (%s)", l->spec->name, l->spec->loss.type);
    if (path_of(l, path, sizeof path, err, "plots/losses.png")) return -1;
    return plot_lines(path, title, "step", "value", series, n, err);
}

static int write_grid(const TrainLoop *l, const char *rel, Error *err)
{
    if (!l->x->algo->sample) return 0; /* a classifier draws nothing */
    char path[RESULTS_PATH_MAX + 64];
    if (path_of(l, path, sizeof path, err, "samples/%s", rel)) return -1;
    const SpecSamples *s = &l->spec->samples;
    return train_write_grid(l->x, s->count, s->nrow, train_grid_seed(l->spec), l->ds->lo, l->ds->hi, path, err);
}

/* The algorithm's own pictures (ddpm: forward.png, reverse.png) from the first training examples. */
static int write_figures(const TrainLoop *l, Error *err)
{
    const Algorithm *a = l->x->algo;
    if (!a->figures) return 0;
    const Shape *d = &l->x->ctx.data_shape;
    size_t per = (size_t)shape_numel(d);
    int k = l->ds->n < ALGO_FIGURE_EXAMPLES ? l->ds->n : ALGO_FIGURE_EXAMPLES;
    float *examples = malloc(((size_t)k * per + 1) * sizeof *examples);
    if (!examples) return err_set(err, "out of memory for %d examples", k);
    dataset_slice(l->ds, 0, k, examples, NULL);
    AlgoFigure figs[ALGO_MAX_FIGURES];
    int n = a->figures(l->x->state, examples, k, train_grid_seed(l->spec), figs, ALGO_MAX_FIGURES, err);
    free(examples);
    if (n < 0) return err_prefix(err, "pictures of %s: ", a->loss.type);
    GridStyle style = {.padding = 2, .lo = l->ds->lo, .hi = l->ds->hi};
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[RESULTS_PATH_MAX + 64];
        Image img = {0};
        style.nrow = figs[i].nrow;
        if (rc == 0) rc = path_of(l, path, sizeof path, err, "samples/%s.png", figs[i].name);
        if (rc == 0) rc = check_samples_finite(figs[i].images, (size_t)figs[i].count * per, figs[i].count, err);
        if (rc == 0)
            rc = grid_render(figs[i].images, figs[i].count, (int)d->dim[0], (int)d->dim[1], (int)d->dim[2], &style, &img, err);
        if (rc == 0) rc = png_write(path, &img, err);
        if (rc) err_prefix(err, "samples/%s.png: ", figs[i].name);
        image_free(&img);
        free(figs[i].images);
    }
    return rc;
}

/* The networks, the optimizers and where the run stands: all a resumed run needs. */
static int write_checkpoint(TrainLoop *l, int64_t step, Error *err)
{
    char path[RESULTS_PATH_MAX + 64];
    if (path_of(l, path, sizeof path, err, "checkpoints/last.safetensors")) return -1;
    TrainResume now = {.step = step, .epoch = l->it.epoch, .batch = l->it.batch, .examples = l->examples,
                       .time_s = progress_now() - l->t0};
    memcpy(now.metrics, l->metrics, sizeof now.metrics);
    memcpy(now.epoch_sum, l->epoch_sum, sizeof now.epoch_sum);
    memcpy(now.epoch_n, l->epoch_n, sizeof now.epoch_n);
    if (train_resume_save(path, l->x, &now, err)) return -1;
    l->last_checkpoint = step;
    return 0;
}

static int write_summary(const TrainLoop *l, int64_t steps, double wall, Error *err)
{
    const char *cols[MAX_COLS + 2 * SPEC_MAX_MODELS + 8 + FID_RUN_MAX_METRICS];
    Cell cells[MAX_COLS + 2 * SPEC_MAX_MODELS + 8 + FID_RUN_MAX_METRICS];
    char names[SPEC_MAX_MODELS + 2 * ALGO_MAX_METRICS][NET_NAME_MAX + 16];
    int n = 0, k = 0;
    cols[n] = "name", cells[n++] = cell_text(l->spec->name);
    cols[n] = "algorithm", cells[n++] = cell_text(l->spec->loss.type);
    cols[n] = "dataset", cells[n++] = cell_text(l->spec->data.dataset);
    cols[n] = "epochs", cells[n++] = cell_float((float)((double)steps / (double)l->per_epoch));
    cols[n] = "steps", cells[n++] = cell_int(steps);
    for (int i = 0; i < l->x->n_nets; i++, k++) {
        snprintf(names[k], sizeof names[k], "params_%s", l->x->nets[i]->def.name);
        cols[n] = names[k], cells[n++] = cell_int(experiment_param_count(l->x, i));
    }
    for (int m = 0; m < l->x->n_metrics; m++, k++) {
        snprintf(names[k], sizeof names[k], "final_%s", l->x->metrics[m]);
        cols[n] = names[k], cells[n++] = metric_cell(l->metrics[m]);
    }
    for (int m = 0; m < l->n_eval; m++, k++) {
        snprintf(names[k], sizeof names[k], "final_%s", l->eval_names[m]);
        cols[n] = names[k], cells[n++] = metric_cell(l->eval_metrics[m]);
    }
    for (int m = 0; l->fid && m < l->fid->n_metrics; m++)
        cols[n] = l->fid->names[m], cells[n++] = isnan(l->fid->values[m]) ? cell_empty() : cell_double(l->fid->values[m]);
    double per_s = wall > 0 ? (double)steps / wall : 0;
    char text[3][32];
    snprintf(text[0], sizeof text[0], "%.3f", wall);
    snprintf(text[1], sizeof text[1], "%.3f", per_s);
    snprintf(text[2], sizeof text[2], "%.1f", wall > 0 ? (double)l->examples / wall : 0.0);
    cols[n] = "wall_time_s", cells[n++] = cell_text(text[0]);
    cols[n] = "steps_per_s", cells[n++] = cell_text(text[1]);
    cols[n] = "samples_per_s", cells[n++] = cell_text(text[2]);
    char path[RESULTS_PATH_MAX + 64];
    if (path_of(l, path, sizeof path, err, "summary.csv")) return -1;
    return metrics_write_single(path, cols, cells, n, err);
}

/* The algorithm's state for a batch of n (an epoch's last batch may be smaller). */
static void *state_for(TrainLoop *l, int n, Error *err)
{
    if (n == l->x->ctx.batch) return l->x->state;
    if (l->tail && l->tail_batch == n) return l->tail;
    if (l->tail) l->x->algo->destroy(l->tail);
    l->tail = NULL;
    if (experiment_state_for_batch(l->x, n, &l->tail, err)) return NULL;
    l->tail_batch = n;
    return l->tail;
}

/* A metric stays NaN until an algorithm first computes it (a generator loss before the
 * generator's first turn, when critics step first).  So a NaN is "not yet" until a finite value
 * has come for that metric; after that, and for any infinity, the run has diverged. */
static int check_finite(TrainLoop *l, int64_t step, Error *err)
{
    for (int m = 0; m < l->x->n_metrics; m++) {
        double v = l->metrics[m];
        if (isfinite(v)) {
            l->seen[m] = true;
            continue;
        }
        if (isnan(v) && !l->seen[m]) continue;
        progress_break(&l->progress);
        const char *what = isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf";
        if (l->last_checkpoint >= 0)
            return err_set(err, "step %lld: %s is %s; training stopped.  The last good checkpoint (step %lld) "
                           "is %s/checkpoints/last.safetensors", (long long)step, l->x->metrics[m], what,
                           (long long)l->last_checkpoint, l->res->dir);
        return err_set(err, "step %lld: %s is %s; training stopped before the first checkpoint "
                       "(train.checkpoint_every: %d)", (long long)step, l->x->metrics[m], what,
                       l->spec->train.checkpoint_every);
    }
    return 0;
}

/* The held-out evaluation after `step` steps (once per epoch and at the end). */
static int evaluate(TrainLoop *l, int64_t step, Error *err)
{
    if (!l->eval || l->last_eval == step) return 0;
    const Dataset *e = l->eval;
    if (l->x->algo->evaluate(l->x->state, l->eval_images, e->labels, e->n, l->eval_metrics, err))
        return err_prefix(err, "evaluating on %s %s after step %lld: ", e->name, e->split, (long long)step);
    l->last_eval = step;
    progress_break(&l->progress);
    fprintf(stderr, "step %lld, %s %s:", (long long)step, e->name, e->split);
    for (int m = 0; m < l->n_eval; m++) fprintf(stderr, "  %s %.4g", l->eval_names[m], l->eval_metrics[m]);
    fputc('\n', stderr);
    return remember(&l->eval_xs, l->eval_ys, l->n_eval, &l->n_eval_rows, &l->cap_eval_rows, step, l->eval_metrics, err);
}

/* After the last batch of epoch `done` (1-based): its grid when due, and a fresh plot. */
static int end_epoch(TrainLoop *l, int64_t done, Error *err)
{
    int every = l->spec->samples.every_epochs;
    if (every > 0 && done % every == 0) {
        char rel[64];
        snprintf(rel, sizeof rel, "epoch_%04lld.png", (long long)done);
        if (write_grid(l, rel, err)) return -1;
    }
    return write_plot(l, err);
}

/* The spec's `fid:` distances of the generator as it is after `step` steps. */
static int measure_fid(TrainLoop *l, int64_t epoch, int64_t step, Error *err)
{
    if (!l->fid) return 0;
    progress_break(&l->progress);
    return fid_run_eval(l->fid, l->x, l->ds->lo, l->ds->hi, l->res, epoch, step, err);
}

/* Stopped on request (Ctrl-C) after `step`: its checkpoint, so that nothing done is lost. */
static int stop_early(TrainLoop *l, int64_t step, Error *err)
{
    progress_break(&l->progress);
    if (l->last_checkpoint != step && write_checkpoint(l, step, err)) return -1;
    return err_interrupted(err, "stopped after step %lld of %lld; its checkpoint is %s/checkpoints/last.safetensors",
                           (long long)step, (long long)l->total, l->res->dir);
}

static int train(TrainLoop *l, Error *err)
{
    const Spec *spec = l->spec;
    Experiment *x = l->x;
    const TrainResume *start = &l->start;
    int64_t every_log = spec->log.every_steps, every_ckpt = spec->train.checkpoint_every;
    /* The starting point, for comparison with every later grid. */
    if (!l->resumed && spec->samples.every_epochs > 0 && write_grid(l, "epoch_0000.png", err)) return -1;
    if (open_log(l, l->resumed, err)) return -1;
    progress_init(&l->progress, stderr, l->total, every_log, start->step);
    l->t0 = progress_now() - start->time_s;
    batch_iter_seek(&l->it, start->epoch, start->batch);
    int64_t step = start->step;
    while (step < l->total) {
        int n = batch_iter_next(&l->it, l->images, l->labels);
        if (n == 0) {
            batch_iter_seek(&l->it, l->it.epoch + 1, 0);
            continue;
        }
        void *state = state_for(l, n, err);
        if (!state) return -1;
        if (x->algo->step(state, l->images, l->ds->labels ? l->labels : NULL, step, l->metrics, err))
            return err_prefix(err, "step %lld: ", (long long)step + 1);
        experiment_update_ema(x);
        step++;
        l->examples += n;
        if (check_finite(l, step, err)) return -1;
        epoch_add(l);
        int64_t epoch = l->it.epoch + 1;
        bool epoch_done = l->it.batch == l->per_epoch;
        progress_update(&l->progress, step, l->it.epoch, x->metrics, l->metrics, x->n_metrics);
        if ((epoch_done || step == l->total) && (evaluate(l, step, err) || epoch_row(l, epoch, step, err))) return -1;
        if ((step % every_log == 0 || step == l->total || l->last_eval == step) && log_row(l, step, epoch, err))
            return -1;
        if (epoch_done && end_epoch(l, epoch, err)) return -1;
        if (epoch_done && spec->fid.every_epochs > 0 && epoch % spec->fid.every_epochs == 0 &&
            measure_fid(l, epoch, step, err))
            return -1;
        /* Last, so that a checkpoint at a step means everything of that step is written. */
        if (every_ckpt > 0 && step % every_ckpt == 0 && step < l->total && write_checkpoint(l, step, err)) return -1;
        if (l->stop_requested && l->stop_requested()) return stop_early(l, step, err);
    }
    double wall = progress_now() - l->t0;
    progress_break(&l->progress);
    if (spec->fid.at_end && measure_fid(l, l->it.epoch + 1, step, err)) return -1;
    if (write_checkpoint(l, step, err) || write_grid(l, "final.png", err) || write_figures(l, err) ||
        write_plot(l, err) || write_summary(l, step, wall, err))
        return -1;
    fprintf(stderr, "%lld steps in %.1f s (%.1f steps/s); results in %s\n", (long long)step, wall,
            wall > 0 ? (double)step / wall : 0.0, l->res->dir);
    return 0;
}

/* The evaluation set as floats once, and its metric names. */
static int prepare_eval(TrainLoop *l, const Dataset *eval, Error *err)
{
    if (!eval || !l->x->algo->evaluate) return 0;
    l->eval = eval;
    l->eval_names = l->x->algo->eval_metrics;
    l->n_eval = algorithm_count_names(l->eval_names);
    size_t per = (size_t)eval->c * (size_t)eval->h * (size_t)eval->w;
    if (!(l->eval_images = malloc((size_t)eval->n * per * sizeof *l->eval_images)))
        return err_set(err, "out of memory for %d evaluation images", eval->n);
    dataset_slice(eval, 0, eval->n, l->eval_images, NULL);
    return 0;
}

TrainLoop *train_loop_open(Experiment *x, const RunPlan *plan, const Dataset *ds, const Dataset *eval, FidRun *fid,
                           Error *err)
{
    TrainLoop *l = calloc(1, sizeof *l);
    if (!l) {
        err_set(err, "out of memory");
        return NULL;
    }
    *l = (TrainLoop){.x = x, .spec = x->spec, .ds = ds, .fid = fid, .last_checkpoint = -1, .last_eval = -1};
    train_resume_fresh(&l->start);
    memcpy(l->metrics, l->start.metrics, sizeof l->metrics);
    const Spec *spec = x->spec;
    int batch = x->ctx.batch;
    size_t per = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    BatchOptions bo = batch_options(&spec->data, batch, spec->seed);
    if (batch_iter_init(&l->it, ds, &bo, err) ||
        (x->algo->sample && train_check_grid(x, err)))
        goto fail;
    l->per_epoch = plan->per_epoch;
    l->total = plan->total_steps;
    l->images = malloc((size_t)batch * per * sizeof *l->images);
    l->labels = malloc((size_t)batch * sizeof *l->labels);
    if (!l->images || !l->labels) {
        err_set(err, "out of memory for a batch of %d", batch);
        goto fail;
    }
    if (prepare_eval(l, eval, err)) goto fail;
    return l;
fail:
    train_loop_close(l);
    return NULL;
}

/* A metrics.csv cell as a number: empty (not computed) is NaN. */
static double cell_value(const MetricsTable *t, int row, const char *column)
{
    int c = metrics_table_col(t, column);
    const char *v = c >= 0 ? metrics_table_get(t, row, c) : "";
    char *end;
    double d = strtod(v, &end);
    return *v && !*end ? d : NAN;
}

/* A resumed run's history from the rows metrics.csv kept: the loss plot's points, and the
 * evaluations with the latest of them for the summary. */
static int replay_log(TrainLoop *l, const char *path, Error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size == 0) return 0; /* nothing logged: the log starts over */
    MetricsTable t;
    if (metrics_table_read(path, &t, err)) return -1;
    int rc = 0;
    for (int r = 0; rc == 0 && r < t.n_rows; r++) {
        double step = cell_value(&t, r, "step"), values[ALGO_MAX_METRICS], evals[ALGO_MAX_METRICS];
        bool evaluated = l->n_eval > 0;
        for (int m = 0; m < l->x->n_metrics; m++) values[m] = cell_value(&t, r, l->x->metrics[m]);
        for (int m = 0; m < l->n_eval; m++) evaluated &= !isnan(evals[m] = cell_value(&t, r, l->eval_names[m]));
        if (isnan(step)) rc = err_set(err, "%s: data row %d has no step", path, r + 1);
        if (rc == 0) rc = remember(&l->xs, l->ys, l->x->n_metrics, &l->n_rows, &l->cap_rows, (int64_t)step, values, err);
        if (rc == 0 && evaluated) {
            memcpy(l->eval_metrics, evals, sizeof evals);
            l->last_eval = (int64_t)step;
            rc = remember(&l->eval_xs, l->eval_ys, l->n_eval, &l->n_eval_rows, &l->cap_eval_rows, l->last_eval, evals,
                          err);
        }
    }
    metrics_table_free(&t);
    return rc;
}

int train_loop_resume(TrainLoop *l, const Results *res, const TrainResume *r, Error *err)
{
    l->res = res;
    l->start = *r;
    l->resumed = true;
    l->examples = r->examples;
    l->last_checkpoint = r->step;
    memcpy(l->metrics, r->metrics, sizeof l->metrics);
    memcpy(l->epoch_sum, r->epoch_sum, sizeof l->epoch_sum);
    memcpy(l->epoch_n, r->epoch_n, sizeof l->epoch_n);
    for (int m = 0; m < ALGO_MAX_METRICS; m++) l->seen[m] = isfinite(r->metrics[m]);
    char path[RESULTS_PATH_MAX + 64];
    if (path_of(l, path, sizeof path, err, "epochs.csv") || metrics_log_keep_through(path, 1, r->step, err) ||
        path_of(l, path, sizeof path, err, "metrics.csv") || metrics_log_keep_through(path, 0, r->step, err) ||
        replay_log(l, path, err))
        return -1;
    return l->fid ? fid_run_resume(l->fid, res, r->step, err) : 0;
}

void train_loop_stop_when(TrainLoop *l, bool (*requested)(void)) { l->stop_requested = requested; }

int train_loop_run(TrainLoop *l, const Results *res, Error *err)
{
    l->res = res;
    int rc = train(l, err);
    MetricsLog *logs[2] = {&l->log, &l->epochs};
    bool *open[2] = {&l->log_open, &l->epochs_open};
    for (int i = 0; i < 2; i++) {
        if (!*open[i]) continue;
        Error close_err = {0};
        *open[i] = false;
        if (metrics_log_close(logs[i], &close_err) && rc == 0) {
            *err = close_err;
            rc = -1;
        }
    }
    return rc;
}

void train_loop_close(TrainLoop *l)
{
    if (!l) return;
    Error ignored;
    if (l->log_open) metrics_log_close(&l->log, &ignored);
    if (l->epochs_open) metrics_log_close(&l->epochs, &ignored);
    if (l->tail) l->x->algo->destroy(l->tail);
    batch_iter_free(&l->it);
    free(l->images);
    free(l->labels);
    free(l->xs);
    free(l->eval_images);
    free(l->eval_xs);
    for (int m = 0; m < ALGO_MAX_METRICS; m++) free(l->ys[m]), free(l->eval_ys[m]);
    free(l);
}
