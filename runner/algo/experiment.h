/* What `run` and `sample` both build from a spec: the backend, the networks with their
 * parameters, one optimizer per trained network, and the algorithm of loss.type. */
#ifndef RUNNER_EXPERIMENT_H
#define RUNNER_EXPERIMENT_H

#include "graph/ema.h"
#include "runner/algo/algorithm.h"
#include "runner/io/safetensors.h"

typedef struct Experiment {
    const Spec *spec;
    const Backend *be;
    Network *nets[SPEC_MAX_MODELS];   /* spec.models order */
    Optimizer *optims[SPEC_MAX_MODELS];
    Ema *emas[SPEC_MAX_MODELS];       /* with the spec's `ema:`, one per trained network */
    int n_nets;
    TrainContext ctx;
    const Algorithm *algo;
    void *state;                      /* the algorithm's, for batches of ctx.batch */
    const char *const *metrics;       /* the algorithm's metric columns */
    int n_metrics;
} Experiment;

/* cpu, cuda or auto (CUDA when a device is there).  *note says which was chosen and why. */
int experiment_backend(const char *choice, const Backend **be, char *note, size_t note_len, Error *err);

/* Builds everything for batches of `batch` examples of shape `data_shape`: parameters are
 * initialised from spec->seed, optimizers start from zero, weight averages (spec's `ema:`) from
 * the initial weights.  spec must outlive x. */
int experiment_build(Experiment *x, const Spec *spec, const Backend *be, int batch, const Shape *data_shape,
                     Error *err);
/* A second algorithm state over the same networks and optimizers for another batch size (an
 * epoch's smaller last batch). */
int experiment_state_for_batch(const Experiment *x, int batch, void **state, Error *err);
void experiment_free(Experiment *x);

/* The optimizers that exist (trained networks only), in spec.models order; returns how many. */
int experiment_optimizers(const Experiment *x, Optimizer **out);
/* After a training iteration: every weight average whose network's optimizer has updated since
 * follows it. */
void experiment_update_ema(Experiment *x);
/* What a checkpoint holds: the networks, then their weight averages; returns how many. */
int experiment_checkpoint_nets(const Experiment *x, Network **out);
/* Loads a run's checkpoint (already read from `path`) into x: every network, average and
 * optimizer state, nothing missing or extra. */
int experiment_load_checkpoint(Experiment *x, const StFile *f, const char *path, Error *err);
/* Trainable parameters of one network, in parameter order. */
int64_t experiment_param_count(const Experiment *x, int net);

#endif
