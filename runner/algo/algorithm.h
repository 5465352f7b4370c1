/* Training algorithms (gan and its variants, wgan, wgan_gp, ddpm, classifier): what one training
 * iteration does with a batch of data, and which keys of the spec's `loss:` section it reads.  The
 * run loop (runner/algo/train_loop.c) owns data, logging, samples and checkpoints and knows nothing
 * of losses; an algorithm owns its graphs and optimizer steps and knows nothing of files. */
#ifndef RUNNER_ALGORITHM_H
#define RUNNER_ALGORITHM_H

#include "graph/network.h"
#include "graph/optim.h"
#include "runner/spec/spec.h"

#define ALGO_MAX_METRICS 8
#define ALGO_FIGURE_EXAMPLES 16 /* training examples the run loop lends to `figures` */
#define ALGO_MAX_FIGURES 4

/* A picture an algorithm draws besides its sample grids: count images (each of the data's shape)
 * in a grid of nrow per row, written as samples/<name>.png. */
typedef struct AlgoFigure {
    char name[32];
    float *images;                    /* malloc'd by the algorithm, freed by the run loop */
    int count, nrow;
} AlgoFigure;

typedef struct TrainContext {
    const Spec *spec;
    const Backend *be;
    Network *nets[SPEC_MAX_MODELS];   /* in spec.models order, parameters already created */
    Optimizer *optims[SPEC_MAX_MODELS];/* the optimizer of nets[i]; NULL for an untrained net */
    Network *ema[SPEC_MAX_MODELS];    /* the weight average of nets[i] (spec's `ema:`), which sampling
                                         applies; NULL without one */
    int n_nets;
    int batch;                        /* the data batch size */
    Shape data_shape;                 /* one example, e.g. (1, 28, 28) */
} TrainContext;

typedef struct Algorithm {
    /* Its name (the spec's loss.type), the `loss:` keys it reads and the models it trains: the
     * spec validates `loss:` against the rows of the table (spec_loss_kind). */
    SpecLossKind loss;
    /* Builds and plans the algorithm's graphs; *state is passed to the calls below. */
    int (*create)(const TrainContext *ctx, void **state, Error *err);
    /* Metric columns, in order, up to the first NULL: e.g. loss_d, loss_g, d_real, d_fake (gan),
     * wasserstein (wgan). */
    const char *metrics[ALGO_MAX_METRICS + 1];
    /* One iteration on a host batch (batch x data_shape floats, labels may be NULL): every
     * network update the algorithm makes per batch (for wgan: one critic step; the generator
     * steps every n_critic iterations).  `step` counts iterations from 0.  On entry `metrics`
     * holds the previous iteration's values (NaN before the first); the algorithm writes those
     * it computes and leaves the others (wgan's loss_g between generator steps), so the caller
     * owns what carries over, and a resumed run restores it.  Every random number it draws is a
     * function of (spec seed, step) alone (runner/algo/random_streams.h). */
    int (*step)(void *state, const float *batch, const int32_t *labels, int64_t step,
                double *metrics, Error *err);
    /* NULL for algorithms that generate nothing (classifier): no sample grids.
     * Generates count samples into host memory (count x data_shape) from noise drawn with
     * `seed`: the same seed gives the same noise, so grids of one run are comparable. */
    int (*sample)(void *state, int count, uint64_t seed, float *images, Error *err);
    void (*destroy)(void *state);
    /* Optional (NULL if absent), for profilers: the planned graphs step() may run, in its order;
     * returns how many it stored (at most max).  Running one alone updates no weights. */
    int (*graphs)(void *state, Graph **out, int max);
    /* Optional: checks on CPU graphs, before anything runs, what the algorithm asks of the spec's
     * networks together (a GAN's generator output fits its discriminator) for batches of
     * `batch`; may describe what it checked in `summary` (`runner check` prints it). */
    int (*check)(const Spec *spec, int batch, char *summary, size_t len, Error *err);
    /* Optional (NULL if absent): held-out evaluation, e.g. the test split once per epoch.
     * eval_metrics names its columns (classifier: test_loss, test_accuracy); evaluate fills
     * them for `count` host examples (count x data_shape floats, their labels; any count, batched
     * inside) in evaluation mode (batch norms on running statistics, no dropout), changing
     * nothing. */
    const char *eval_metrics[ALGO_MAX_METRICS + 1];
    int (*evaluate)(void *state, const float *images, const int32_t *labels, int count, double *metrics,
                    Error *err);
    /* Optional: pictures drawn once training ends (ddpm: the forward and the reverse process),
     * from the first n_examples (at most ALGO_FIGURE_EXAMPLES) training examples and the noise of
     * `seed`.  Fills out[0 .. returned count). */
    int (*figures)(void *state, const float *examples, int n_examples, uint64_t seed, AlgoFigure *out, int max,
                   Error *err);
} Algorithm;

/* How many names `names` (an Algorithm's metrics or eval_metrics) holds before its NULL. */
int algorithm_count_names(const char *const *names);

/* Appends to g the gradient of `loss` with respect to each parameter that optimizer `o` of network
 * `net` trains, in o's order: out[k] for o->params[k] (NULL when the loss does not depend on it).
 * out holds o->n entries. */
int algorithm_gradients(Graph *g, Network *net, Node *loss, const Optimizer *o, Node **out, Error *err);

/* A one-network training graph, planned: the gradients of `loss` with respect to what optimizer o
 * of net trains, planned with the loss and `extra` outputs.  *grads (calloc'd, o->n entries, in
 * o's order, NULL where the loss does not reach a parameter) receives their memory, as optim_step
 * takes it.  `role` names the network in messages ("classifier", "denoiser"). */
int algorithm_plan_training(Graph *g, Network *net, const Optimizer *o, Node *loss, Node *const *extra, int n_extra,
                            const char *role, float ***grads, Error *err);
/* One step of optimizer o with gradients `grads` at the spec schedule's learning rate for o's step;
 * a failure names the network ("updating 'generator': ..."). */
int algorithm_update(const Spec *spec, Optimizer *o, float *const *grads, Error *err);

/* The algorithm for a loss type, or NULL (spec_load accepts only the table's loss types). */
const Algorithm *algorithm_find(const char *loss_type);

#endif
