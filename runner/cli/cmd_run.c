/* `runner run SPEC.yaml [--set k=v ...] [--out DIR] [--force] [--threads N]`: trains an experiment
 * and writes its results folder.  Everything that can fail on the user's input (the spec, the
 * dataset, the backend, the networks, the batches, FID's weights) is checked before the folder is
 * created or an old one replaced, so a failed start leaves everything as it was. */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/algo/run_plan.h"
#include "runner/algo/train_loop.h"
#include "runner/io/results_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SETS 64
#define USAGE "usage: runner run SPEC.yaml [--set key=value ...] [--out DIR] [--force] [--threads N]"

typedef struct RunOptions {
    const char *spec, *out;
    const char *sets[MAX_SETS];
    int n_sets, threads;
    bool force;
} RunOptions;

static int parse_options(int argc, char **argv, RunOptions *o, Error *err)
{
    memset(o, 0, sizeof *o);
    ArgList sets = {.items = o->sets, .max = MAX_SETS};
    const ArgOption options[] = {
        OPTION_LIST("--set", &sets),
        OPTION_TEXT("--out", &o->out),
        OPTION_FLAG("--force", &o->force),
        OPTION_INT("--threads", &o->threads, 1, 1024),
    };
    ArgPositionals spec = {.items = &o->spec, .min = 1, .max = 1, .what = "spec"};
    if (cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &spec, USAGE, err)) return -1;
    o->n_sets = sets.n;
    return 0;
}

/* The split an evaluating algorithm (classifier) is measured on after every epoch: the test split
 * of a dataset trained on its train split, transformed as the training data but never flipped.
 * None for explicit IDX files, folders or a run on the test split. */
static int load_eval(const Spec *spec, const Experiment *x, Dataset *eval, bool *have, Error *err)
{
    *have = false;
    if (!x->algo->evaluate || strcmp(spec->data.split, "train") != 0 || !dataset_has_splits(spec->data.dataset))
        return 0;
    SpecData held_out = spec->data;
    snprintf(held_out.split, sizeof held_out.split, "test");
    if (dataset_load(&held_out, eval, err)) return err_prefix(err, "evaluation data: ");
    *have = true;
    return 0;
}

static int run(const RunOptions *o, Spec *spec, Error *err)
{
    Dataset ds = {0}, eval = {0};
    bool have_eval = false;
    Experiment x = {0};
    TrainLoop *loop = NULL;
    Results res = {0};
    FidRun fid;
    bool have_fid = false;
    int rc = -1;
    char dir[RESULTS_PATH_MAX];
    snprintf(dir, sizeof dir, o->out ? "%s" : "results/%s", o->out ? o->out : spec->name);
    /* A folder that is there and may not be replaced costs nothing to find: say so at once. */
    bool exists;
    if (results_check_target(dir, o->force, &exists, err)) goto done;
    /* The data next: a missing or damaged file is the commonest problem, and costs nothing yet. */
    if (dataset_load(&spec->data, &ds, err)) {
        err_prefix(err, "data: ");
        goto done;
    }
    /* Steps per epoch, the run's length and what the schedule makes of it, once for all below. */
    RunPlan plan;
    if (run_plan_resolve(spec, ds.n, &plan, err)) goto done;

    const Backend *be;
    char note[384];
    if (experiment_backend(spec->backend, &be, note, sizeof note, err)) goto done;
    int threads = o->threads ? o->threads : spec->train.threads;
    if (threads > 0) be->set_threads(threads);
    fprintf(stderr, "%s: %s, %s %s: %d images of %dx%dx%d\n", spec->name, note, ds.name, ds.split, ds.n, ds.c, ds.h,
            ds.w);

    Shape data_shape = {.ndim = 3, .dim = {ds.c, ds.h, ds.w}};
    if (experiment_build(&x, spec, be, spec->data.batch_size, &data_shape, err) ||
        load_eval(spec, &x, &eval, &have_eval, err))
        goto done;
    /* The feature network and reference statistics before the results folder: missing Inception
     * weights end the run before anything is written.  With no evaluation scheduled nothing loads. */
    if (spec->fid.enabled && (spec->fid.at_end || spec->fid.every_epochs > 0)) {
        if (fid_run_open(&fid, spec, be, err)) goto done;
        have_fid = true;
    }
    /* The batches (drop_last with too few examples), the grids and the buffers, still before. */
    if (!(loop = train_loop_open(&x, &plan, &ds, have_eval ? &eval : NULL, have_fid ? &fid : NULL, err))) goto done;

    /* Only now the folder: an old one given with --force is locked and replaced in one rename by a
     * new one that already holds spec.yaml; until then nothing at its place changes. */
    char path[RESULTS_PATH_MAX + 16];
    if (results_open(&res, dir, o->force, err) || results_path(&res, "spec.yaml", path, sizeof path, err) ||
        spec_write_resolved(spec, path, RUNNER_VERSION, err) ||
        results_write_plan(&res, plan.total_steps, plan.per_epoch, err) || results_publish(&res, err))
        goto done;
    /* From here on the folder holds a real (if interrupted) run: it stays on failure. */
    fprintf(stderr, "%s: writing %s/\n", spec->name, res.dir);
    rc = train_loop_run(loop, &res, err);
done:
    if (have_fid) {
        Error close_err = {0};
        if (fid_run_close(&fid, &close_err) && rc == 0) {
            *err = close_err;
            rc = -1;
        }
    }
    train_loop_close(loop);
    /* A run that stopped on an error says so in its folder (`runner ls`: failed, not interrupted). */
    Error record_err = {0};
    char text[ERROR_TEXT_MAX];
    if (rc && res.published && results_write_failure(&res, err_text(err, text, sizeof text), &record_err))
        err_warn(&record_err, "its folder does not say that the run failed");
    results_close(&res);
    experiment_free(&x);
    dataset_free(&ds);
    dataset_free(&eval);
    return rc;
}

int cmd_run(int argc, char **argv, Error *err)
{
    RunOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    Spec spec;
    if (spec_load(o.spec, o.sets, o.n_sets, &spec, err)) return -1;
    int rc = run(&o, &spec, err);
    spec_free(&spec);
    return rc;
}
