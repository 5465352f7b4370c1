/* What `runner run` and `runner resume` share: the options of one training run, and the run. */
#ifndef RUNNER_CMD_RUN_H
#define RUNNER_CMD_RUN_H

#include "graph/error.h"

#include <stdbool.h>

#define RUN_MAX_SETS 64

typedef struct RunOptions {
    const char *spec, *out;     /* out NULL: results/<name> */
    const char *sets[RUN_MAX_SETS];
    int n_sets, threads;        /* threads 0: the spec's train.threads */
    bool force;                 /* replace an existing results folder */
    bool resume;                /* continue the unfinished run in it from its checkpoint */
} RunOptions;

/* Loads o->spec with its overrides and trains it.  A Ctrl-C (or SIGTERM) stops it after the
 * current step with a checkpoint: an ERR_INTERRUPTED error that shows the command resuming it. */
int run_training(const RunOptions *o, Error *err);

#endif
