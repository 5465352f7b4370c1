/* `runner run SPEC.yaml [--set k=v ...] [--out DIR] [--force | --resume] [--threads N]`: trains an
 * experiment and writes its results folder.  Everything that can fail on the user's input (the
 * spec, the dataset, the backend, the networks, the batches, FID's weights) is checked before the
 * folder is created or an old one replaced, so a failed start leaves everything as it was.
 * With --resume the folder must hold an unfinished run of the same resolved spec: it goes on
 * from the checkpoint, and the folder is touched only once everything, the checkpoint included,
 * has loaded. */
#include "runner/cli/cmd_run.h"

#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/cli/interrupt.h"
#include "runner/algo/run_plan.h"
#include "runner/algo/train_loop.h"
#include "runner/io/results_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE command_usage("run")

static int parse_options(int argc, char **argv, RunOptions *o, Error *err)
{
    memset(o, 0, sizeof *o);
    ArgList sets = {.items = o->sets, .max = RUN_MAX_SETS};
    const ArgOption options[] = {
        OPTION_LIST("--set", &sets),
        OPTION_TEXT("--out", &o->out),
        OPTION_FLAG("--force", &o->force),
        OPTION_FLAG("--resume", &o->resume),
        OPTION_INT("--threads", &o->threads, 1, 1024),
    };
    ArgPositionals spec = {.items = &o->spec, .min = 1, .max = 1, .what = "spec"};
    if (cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &spec, USAGE, err)) return -1;
    o->n_sets = sets.n;
    if (o->force && o->resume)
        return err_set(err, "--force starts the run over and --resume continues it: give one\n%s", USAGE);
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

/* A new folder: an old one given with --force is locked and replaced in one rename by a new one
 * that already holds spec.yaml; until then nothing at its place changes. */
static int create_folder(const RunOptions *o, const Spec *spec, const RunPlan *plan, const char *dir, Results *res,
                         Error *err)
{
    if (interrupt_requested()) return err_interrupted(err, "stopped before training started; nothing was written");
    char path[RESULTS_PATH_MAX + 16];
    if (results_open(res, dir, o->force, err) || results_path(res, "spec.yaml", path, sizeof path, err) ||
        spec_write_resolved(spec, path, RUNNER_VERSION, err) ||
        results_write_plan(res, plan->total_steps, plan->per_epoch, err) || results_publish(res, err))
        return -1;
    fprintf(stderr, "%s: writing %s/\n", spec->name, res->dir);
    return 0;
}

/* The reopened folder of an unfinished run: its checkpoint into the networks and optimizers, and
 * only then what the stopped run left cleared and its logs cut back to the checkpoint's step. */
static int continue_folder(const Spec *spec, Experiment *x, const RunPlan *plan, TrainLoop *loop, Results *res,
                           Error *err)
{
    char path[RESULTS_PATH_MAX + 64];
    TrainResume r;
    if (results_path(res, RESULTS_CHECKPOINT, path, sizeof path, err) || train_resume_load(path, x, plan, &r, err))
        return -1;
    if (interrupt_requested()) return err_interrupted(err, "stopped before training resumed; nothing changed");
    int removed = results_clear_leftovers(res, err);
    if (removed < 0 || train_loop_resume(loop, res, &r, err)) return -1;
    fprintf(stderr, "%s: resuming %s/ after step %lld of %lld", spec->name, res->dir, (long long)r.step,
            (long long)plan->total_steps);
    if (removed) fprintf(stderr, " (removed %d partial file%s)", removed, removed == 1 ? "" : "s");
    fputc('\n', stderr);
    return 0;
}

/* `text` as one shell word: as is when it is plain, else in single quotes. */
static void shell_word(const char *text, char *buf, size_t len)
{
    if (text[0] && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%") ==
                       strlen(text)) {
        snprintf(buf, len, "%s", text);
        return;
    }
    size_t n = 0;
    if (n + 1 < len) buf[n++] = '\'';
    for (const char *p = text; *p && n + 5 < len; p++) {
        if (*p == '\'') memcpy(buf + n, "'\\''", 4), n += 4;
        else buf[n++] = *p;
    }
    if (n + 1 < len) buf[n++] = '\'';
    buf[n] = '\0';
}

/* An interrupted run's message ends with the command that continues it. */
static void add_resume_hint(const RunOptions *o, const Results *res, Error *err)
{
    char program[512], dir[RESULTS_PATH_MAX + 64], threads[32] = "";
    shell_word(cli_program, program, sizeof program);
    shell_word(res->dir, dir, sizeof dir);
    if (o->threads) snprintf(threads, sizeof threads, " --threads %d", o->threads);
    size_t at = strlen(err->msg);
    snprintf(err->msg + at, sizeof err->msg - at, "\nresume it with: %s resume %s%s", program, dir, threads);
}

static int run(const RunOptions *o, Spec *spec, Error *err)
{
    Dataset ds = {0}, eval = {0};
    bool have_eval = false, started = false;
    Experiment x = {0};
    TrainLoop *loop = NULL;
    Results res = {0};
    FidRun fid;
    bool have_fid = false;
    int rc = -1;
    char dir[RESULTS_PATH_MAX], spec_path[RESULTS_PATH_MAX + 16];
    snprintf(dir, sizeof dir, o->out ? "%s" : "results/%s", o->out ? o->out : spec->name);
    /* A folder that is there and may not be replaced, or is no run to resume, costs nothing to find:
     * say so at once. */
    bool exists;
    if (o->resume ? results_reopen(&res, dir, err) : results_check_target(dir, o->force, &exists, err)) goto done;
    /* The data next: a missing or damaged file is the commonest problem, and costs nothing yet. */
    if (dataset_load(&spec->data, &ds, err)) {
        err_prefix(err, "data: ");
        goto done;
    }
    /* Steps per epoch, the run's length and what the schedule makes of it, once for all below. */
    RunPlan plan;
    if (run_plan_resolve(spec, ds.n, &plan, err)) goto done;
    /* A resumed run is the run it continues: the same resolved spec, the schedule's length included. */
    if (o->resume && (results_path(&res, "spec.yaml", spec_path, sizeof spec_path, err) ||
                      spec_check_resolved(spec, spec_path, err))) {
        err_prefix(err, "cannot resume '%s': ", res.dir);
        size_t at = strlen(err->msg);
        snprintf(err->msg + at, sizeof err->msg - at, "; run it again from the start with --force, or write "
                 "elsewhere with --out DIR");
        goto done;
    }

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
    if (o->resume ? continue_folder(spec, &x, &plan, loop, &res, err) : create_folder(o, spec, &plan, dir, &res, err))
        goto done;
    /* From here on the folder holds a real (if interrupted) run: it stays on failure. */
    started = true;
    train_loop_stop_when(loop, interrupt_requested);
    rc = train_loop_run(loop, &res, err);
done:
    if (rc && err->kind == ERR_INTERRUPTED && res.published) add_resume_hint(o, &res, err);
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
    if (rc && started && err->kind != ERR_INTERRUPTED &&
        results_write_failure(&res, err_text(err, text, sizeof text), &record_err))
        err_warn(&record_err, "its folder does not say that the run failed");
    results_close(&res);
    experiment_free(&x);
    dataset_free(&ds);
    dataset_free(&eval);
    return rc;
}

int run_training(const RunOptions *o, Error *err)
{
    interrupt_install("stopping after this step, with a checkpoint");
    Spec spec;
    if (spec_load(o->spec, o->sets, o->n_sets, &spec, err)) return -1;
    int rc = run(o, &spec, err);
    spec_free(&spec);
    return rc;
}

int cmd_run(int argc, char **argv, Error *err)
{
    RunOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    return run_training(&o, err);
}
