/* Optimizers over a list of trainable parameters: sgd, adam, adamw, rmsprop with PyTorch's
 * defaults and update formulas (torch.optim, single-tensor path), plus gradient norm clipping
 * (before the update, as torch.nn.utils.clip_grad_norm_) and weight clamping (after it, for
 * WGAN critics).  State lives on the parameters' backend, allocated once. */
#ifndef GRAPH_OPTIM_H
#define GRAPH_OPTIM_H

#include "graph/error.h"
#include "graph/param.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum OptimType { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP, OPTIM_TYPE_COUNT } OptimType;

/* What a spec's `optimizers.<network>` says; optim_config_defaults fills PyTorch's defaults. */
typedef struct OptimConfig {
    OptimType type;
    double lr;
    double beta1, beta2;      /* adam, adamw */
    double eps;               /* adam, adamw, rmsprop */
    double weight_decay;      /* L2 added to the gradient; adamw: decoupled decay */
    double momentum;          /* sgd, rmsprop */
    double dampening;         /* sgd */
    bool nesterov;            /* sgd */
    double alpha;             /* rmsprop smoothing */
    bool centered;            /* rmsprop */
    double clip_weights;      /* > 0: clamp every parameter to [-c, c] after the step */
    double clip_grad_norm;    /* > 0: rescale gradients to this global L2 norm at most */
} OptimConfig;

/* "sgd", "adam", "adamw", "rmsprop". */
const char *optim_type_name(OptimType t);
/* Parses a type name; the message lists the accepted names and suggests the closest. */
int optim_type_parse(const char *name, OptimType *out, Error *err);
/* PyTorch's defaults for `type` (sgd: lr 1e-3, since torch requires an explicit value). */
void optim_config_defaults(OptimConfig *c, OptimType type);
/* Checks ranges (lr >= 0, betas in [0, 1), eps >= 0, nesterov needs momentum > 0 and
 * dampening 0, ...); the message starts with `where` when it is not NULL. */
int optim_config_check(const OptimConfig *c, const char *where, Error *err);

#define OPTIM_MAX_STATE 3

typedef struct Optimizer {
    char name[64];            /* the network it trains: state is named "optim.<name>.<param>.<slot>" */
    OptimConfig cfg;
    const Backend *be;
    Param **params;
    int n;
    int n_slots;              /* state tensors per parameter */
    const char *slot_names[OPTIM_MAX_STATE]; /* PyTorch's state keys: "exp_avg", "momentum_buffer" */
    float **state;            /* state[i * n_slots + s]: slot s of params[i] (backend memory) */
    int64_t *param_steps;     /* updates applied to each parameter (PyTorch's per-param "step") */
    int64_t steps;            /* calls to optim_step */
    double last_grad_norm;    /* global gradient norm before clipping (when clip_grad_norm > 0) */
    float *const *last_grads; /* the gradients the last optim_step applied (backend memory, after
                                 clipping; valid until the graph that computed them runs again) */
} Optimizer;

/* An optimizer for `params` (all trainable, all on one backend); state starts at zero. */
Optimizer *optim_new(const char *name, const OptimConfig *cfg, Param *const *params, int n,
                     Error *err);
void optim_free(Optimizer *o);

/* One update with learning rate `lr` (the schedule's value for o->steps).  grads[i] is the
 * gradient of params[i] in backend memory (NULL: no gradient this step, left untouched as
 * PyTorch skips parameters whose .grad is None).  Clipping the gradient norm rescales grads
 * in place. */
int optim_step(Optimizer *o, float *const *grads, double lr, Error *err);

/* Checkpoint hooks.  A state tensor is a parameter's slot, with the parameter's shape. */
int optim_state_count(const Optimizer *o);
/* Writes "optim.<name>.<param>.<slot>" into buf and returns the tensor (backend memory), or
 * NULL when the name does not fit in len; *param_index receives the owning parameter. */
float *optim_state_at(const Optimizer *o, int k, char *buf, size_t len, int *param_index);

#endif
