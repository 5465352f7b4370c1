/* What a spec's training amounts to, resolved once between loading the spec and running it, by
 * every command that trains (run, bench) and the training loop: batches per epoch, total steps,
 * and the schedule's "whole run" length (cosine's t_max 0). */
#ifndef RUNNER_RUN_PLAN_H
#define RUNNER_RUN_PLAN_H

#include "runner/data/dataset.h" /* batches_per_epoch */
#include "runner/spec/spec.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct RunPlan {
    int64_t per_epoch;   /* batches per epoch: the smaller last one too, unless drop_last */
    int64_t total_steps; /* train.steps, or train.epochs epochs */
} RunPlan;

/* The plan of `spec` on a dataset of n_examples; sets spec->schedule.t_max to the total steps
 * where a cosine schedule asks for the whole run.  -1 when no batch can be made (drop_last with
 * fewer examples than a batch, or no examples). */
int run_plan_resolve(Spec *spec, int64_t n_examples, RunPlan *plan, Error *err);

#endif
