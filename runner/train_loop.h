/* The run loop: batches from the dataset into the algorithm, and everything a run leaves in its
 * results folder (metrics.csv, sample grids, the loss plot, checkpoints, summary.csv, and the
 * held-out evaluation of algorithms that have one).  It knows nothing of losses: the algorithm
 * names its metrics. */
#ifndef RUNNER_TRAIN_LOOP_H
#define RUNNER_TRAIN_LOOP_H

#include "runner/dataset.h"
#include "runner/experiment.h"
#include "runner/fid_run.h"
#include "runner/results.h"

/* The noise of every sample grid of a run: the same seed each time, so grids are comparable. */
uint64_t train_grid_seed(const Spec *spec);

/* Draws `count` samples with `seed` and writes them as a grid (nrow per row, padding 2, the
 * data range lo..hi mapped to 0..255) to `path`. */
int train_write_grid(const Experiment *x, int count, int nrow, uint64_t seed, float lo, float hi,
                     const char *path, Error *err);

/* Trains for train.steps (when > 0) or train.epochs over `ds`, writing into `res`.  With `eval`
 * (may be NULL) and an algorithm that evaluates, evaluates on it after every epoch and at the end.
 * A loss that is not finite stops the run with an error naming the step; the last good checkpoint
 * stays.  `fid` (may be NULL), opened by the caller, measures the spec's distances. */
int train_loop_run(Experiment *x, const Dataset *ds, const Dataset *eval, FidRun *fid, const Results *res,
                   Error *err);

#endif
