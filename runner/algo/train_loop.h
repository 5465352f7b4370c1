/* The run loop: batches from the dataset into the algorithm, and everything a run leaves in its
 * results folder (metrics.csv, sample grids, the loss plot, checkpoints, summary.csv, and the
 * held-out evaluation of algorithms that have one).  It knows nothing of losses: the algorithm
 * names its metrics. */
#ifndef RUNNER_TRAIN_LOOP_H
#define RUNNER_TRAIN_LOOP_H

#include "runner/data/dataset.h"
#include "runner/algo/experiment.h"
#include "runner/eval/fid_run.h"
#include "runner/io/results.h"
#include "runner/algo/run_plan.h"
#include "runner/algo/train_resume.h"

/* The noise of every sample grid of a run: the same seed each time, so grids are comparable. */
uint64_t train_grid_seed(const Spec *spec);

/* 0 when the experiment's samples can be drawn as a grid (an algorithm that samples, C x H x W
 * with 1 or 3 channels). */
int train_check_grid(const Experiment *x, Error *err);

/* Draws `count` samples with `seed` and writes them as a grid (nrow per row, padding 2, the
 * data range lo..hi mapped to 0..255) to `path`.  Samples that are not finite are an error
 * (with their count) and write nothing. */
int train_write_grid(const Experiment *x, int count, int nrow, uint64_t seed, float lo, float hi,
                     const char *path, Error *err);

/* One training run, in two halves so that everything that can fail on the run's input comes
 * before its results folder exists: train_loop_open checks and allocates (the batch iterator, so
 * drop_last with fewer examples than a batch; the grid shape; the held-out set), train_loop_run
 * trains for the plan's steps (run_plan_resolve on `ds`) over `ds`, writing into `res`.
 * With `eval` (may be NULL) and an algorithm that evaluates, evaluates on it after every epoch and
 * at the end.  A loss that is not finite stops the run with an error naming the step; the last
 * good checkpoint stays.  `fid` (may be NULL), opened by the caller, measures the spec's
 * distances. */
typedef struct TrainLoop TrainLoop;
TrainLoop *train_loop_open(Experiment *x, const RunPlan *plan, const Dataset *ds, const Dataset *eval, FidRun *fid,
                           Error *err);
int train_loop_run(TrainLoop *l, const Results *res, Error *err);
/* Before train_loop_run: continue from checkpoint position `r` (train_resume_load, with the
 * networks and optimizers already loaded) in the existing folder `res`.  Cuts metrics.csv,
 * epochs.csv and fid.csv back to the rows of steps up to r->step (a row cut short by a kill goes
 * too), so that
 * the run appends exactly the rows an uninterrupted run would have written after them, and reads
 * them back for the loss plot and the summary. */
int train_loop_resume(TrainLoop *l, const Results *res, const TrainResume *r, Error *err);
/* `requested` (NULL: never) is asked after every step; once it says yes, the run writes a
 * checkpoint of that step and stops with an ERR_INTERRUPTED error naming it. */
void train_loop_stop_when(TrainLoop *l, bool (*requested)(void));
/* Frees what train_loop_open allocated (NULL is fine). */
void train_loop_close(TrainLoop *l);

#endif
