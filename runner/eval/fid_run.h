/* Distances during training (the spec's `fid:` section): the feature network and the reference
 * split's statistics are prepared once before training, then each evaluation draws fid.samples
 * images from the generator, quantised as saved PNGs, and writes a row (epoch, step, metrics) to
 * fid.csv.  The metric is fid_inception or fd_<classifier>, then kid_mean, kid_std, is_mean and
 * is_std when fid.also asks for them. */
#ifndef RUNNER_FID_RUN_H
#define RUNNER_FID_RUN_H

#include "runner/algo/experiment.h"
#include "runner/eval/features.h"
#include "runner/eval/fid_cache.h"
#include "runner/io/metrics_csv.h"
#include "runner/io/results.h"

#define FID_RUN_MAX_METRICS 5

/* The feature network `features` names: "inception" (weights: "" = the default path) or a trained
 * classifier's results folder (its spec.yaml and checkpoints/last.safetensors; features from node
 * `node`, metric fd_ and the run's name up to its first '_'; with want_logits, its last node gives the logits). */
int fid_feature_config(const char *features, const char *weights, const char *node, bool want_logits, int batch,
                       FeatureConfig *cfg, Error *err);

typedef struct FidRun {
    const Spec *spec;
    FeatureNet fn;
    SetStats ref;                 /* the reference split's statistics (and features for KID) */
    int ref_n;
    bool kid, is;
    const char *names[FID_RUN_MAX_METRICS];
    int n_metrics;
    double values[FID_RUN_MAX_METRICS]; /* the latest evaluation's */
    int64_t last_step;            /* step of the latest evaluation, -1: none */
    MetricsLog log;
    bool log_open;
} FidRun;

/* Loads the feature network and the reference statistics (from the cache when it holds them).
 * Fails, before any training, when the network or its weights are missing. */
int fid_run_open(FidRun *f, const Spec *spec, const Backend *be, Error *err);

/* Evaluates the generator of x after `step` steps (images in the data range lo..hi) and appends
 * its row to res's fid.csv; a second call for the same step does nothing. */
int fid_run_eval(FidRun *f, const Experiment *x, float lo, float hi, const Results *res, int64_t epoch,
                 int64_t step, Error *err);

/* A resumed run (before any evaluation): cuts res's fid.csv back to the rows of steps up to
 * `step` and appends to it from then on; the latest kept row stands as the latest evaluation
 * (for the summary).  Nothing to do when there is no fid.csv yet. */
int fid_run_resume(FidRun *f, const Results *res, int64_t step, Error *err);

/* Closes fid.csv (reporting a failed write) and frees everything. */
int fid_run_close(FidRun *f, Error *err);

#endif
