/* What a results folder says about its run, read without disturbing it (`runner ls`, sweeps
 * deciding which points to skip, reports): whether it is running (another process holds its
 * lock), finished (summary.csv), failed (failed.txt, the error that stopped it) or interrupted
 * (none of these: stopped by a signal or a crash), how far it got and its headline metric.
 * `runner run` leaves two records for this beside spec.yaml: plan.csv (the planned steps, written
 * before the first step) and failed.txt. */
#ifndef RUNNER_RESULTS_STATE_H
#define RUNNER_RESULTS_STATE_H

#include "runner/io/metrics_csv.h"
#include "runner/io/results.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RESULTS_PLAN "plan.csv"     /* total_steps, batches_per_epoch */
#define RESULTS_FAILED "failed.txt" /* the message of the error that stopped the run */

typedef enum RunState { RUN_RUNNING, RUN_FINISHED, RUN_INTERRUPTED, RUN_FAILED } RunState;

typedef struct RunStatus {
    RunState state;
    long pid;              /* RUN_RUNNING: the process holding the lock (-1: unknown) */
    int64_t step, total;   /* the latest step logged (the last, when finished) and the planned
                            * total; -1 when unknown */
    char metric[64];       /* the headline metric's name, "" when there is none yet */
    double value;
    double wall_s;         /* finished: the training's wall time; otherwise -1 */
    time_t updated;        /* the newest modification among the run's files */
    char failure[256];     /* RUN_FAILED: the first line of failed.txt */
    bool checkpoint;       /* it holds RESULTS_CHECKPOINT: an unfinished run can resume */
} RunStatus;

/* "running", "finished", "interrupted", "failed". */
const char *run_state_name(RunState s);

/* Whether dir holds a results folder made by `runner run` (its marker). */
bool results_is_folder(const char *dir);
/* Reads the state of the results folder dir. */
int results_status(const char *dir, RunStatus *st, Error *err);
/* The headline metric of a summary.csv: the sample distance (fid_inception, fd_*, kid_mean),
 * else the (held-out) accuracy, else the first final metric.  False when it has none. */
bool results_headline(const MetricsTable *summary, int row, char *name, size_t len, double *value);

/* Every results folder at or below root (root itself when it is one), hidden names skipped,
 * sorted by path: *dirs is a malloc'ed list of malloc'ed paths (results_list_free). */
int results_find(const char *root, char ***dirs, int *n, Error *err);
void results_list_free(char **dirs, int n);

/* The records `runner run` leaves (see above). */
int results_write_plan(const Results *r, int64_t total_steps, int64_t per_epoch, Error *err);
int results_write_failure(const Results *r, const char *message, Error *err);

/* ---- continuing an unfinished run in its folder (results_resume.c) ---- */

/* Opens the results folder `dir` for a resumed run: it must be a results folder made by
 * `runner run` (its marker) whose run has not finished (no summary.csv) and that holds a
 * checkpoint; its lock is taken, so a folder in use by another run is refused.  Nothing in it
 * changes.  r counts as published: results_close keeps the folder and releases the lock. */
int results_reopen(Results *r, const char *dir, Error *err);
/* The first of results_reopen's checks, which reads nothing in the folder: it is a results folder. */
int results_check_resumable(const char *dir, Error *err);
/* Removes what the stopped run left that a resumed one must not find: the temporary files of
 * writes it did not finish (NAME.tmp.PID, atomic_file.h) in the folder and its subfolders, and
 * failed.txt of a failure.  Returns how many temporary files went, or -1. */
int results_clear_leftovers(const Results *r, Error *err);

#endif
