/* Where a training run stands between two steps, as its checkpoint records it beside the
 * networks, their weight averages and the optimizers' state (moments, step counts, and so the
 * schedule's position), so that a resumed run goes on exactly as an uninterrupted one: the data
 * order follows from the batch iterator's (epoch, batch) and the seed, every other random stream
 * from (seed, step) (runner/algo/random_streams.h), the metrics an algorithm carries between
 * steps (wgan's loss_g) from the last step's values, and epochs.csv's means from the epoch's
 * running sums. */
#ifndef RUNNER_TRAIN_RESUME_H
#define RUNNER_TRAIN_RESUME_H

#include "runner/algo/experiment.h"
#include "runner/algo/run_plan.h"

typedef struct TrainResume {
    int64_t step;                     /* steps done */
    int64_t epoch, batch;             /* the batch iterator: batches done of epoch `epoch` (from 0) */
    int64_t examples;                 /* training examples seen */
    double time_s;                    /* training time so far, in seconds */
    double metrics[ALGO_MAX_METRICS]; /* the last step's metrics (NaN: not computed yet) */
    double epoch_sum[ALGO_MAX_METRICS]; /* the epoch under way: its finite metrics summed, */
    int64_t epoch_n[ALGO_MAX_METRICS];  /* and how many (epochs.csv's means) */
} TrainResume;

/* A run about to take its first step. */
void train_resume_fresh(TrainResume *r);

/* Writes x's networks, their weight averages and optimizers to path (atomically) with r and what
 * identifies the run (name, algorithm, seed, example shape, runner version) as metadata. */
int train_resume_save(const char *path, const Experiment *x, const TrainResume *r, Error *err);

/* Reads the checkpoint at path: its position into r, then every tensor of x's networks, weight
 * averages and optimizers, and nothing else (experiment_load_checkpoint).  Refused, before
 * anything changes, when it is not from a run of x's spec (name, algorithm, seed, example shape),
 * holds no position (an older runner's), or stands where `plan` cannot (past its steps, or
 * another number of batches per epoch). */
int train_resume_load(const char *path, Experiment *x, const RunPlan *plan, TrainResume *r, Error *err);

#endif
