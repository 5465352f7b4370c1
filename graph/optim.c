/* Optimizers.  The arithmetic lives in the backend's fused updates (kernels/cpu/cpu_optim.c
 * documents each formula); this file owns state, step counts, bias corrections and clipping. */
#include "graph/optim.h"
#include "graph/suggest.h"

#include "graph/graph.h" /* backend_status */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[OPTIM_TYPE_COUNT] = {"sgd", "adam", "adamw", "rmsprop"};

CHOICE_FUNCTIONS(optim_type, OptimType, type_names, OPTIM_TYPE_COUNT, "optimizer")

void optim_config_defaults(OptimConfig *c, OptimType type)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->alpha = 0.99;
    switch (type) {
    case OPTIM_SGD: c->lr = 1e-3; break;
    case OPTIM_ADAM: c->lr = 1e-3; break;
    case OPTIM_ADAMW: c->lr = 1e-3; c->weight_decay = 1e-2; break;
    case OPTIM_RMSPROP: c->lr = 1e-2; break;
    case OPTIM_TYPE_COUNT: break;
    }
}

int optim_config_check(const OptimConfig *c, const char *where, Error *err)
{
    const char *w = where ? where : "";
    const char *sep = where ? ": " : "";
    const char *t = optim_type_name(c->type);
    if (c->type < 0 || c->type >= OPTIM_TYPE_COUNT)
        return err_set(err, "%s%sunknown optimizer type %d", w, sep, (int)c->type);
    if (!(c->lr >= 0)) return err_set(err, "%s%s%s: lr must be >= 0, got %g", w, sep, t, c->lr);
    if (!(c->eps >= 0)) return err_set(err, "%s%s%s: eps must be >= 0, got %g", w, sep, t, c->eps);
    if (!(c->weight_decay >= 0))
        return err_set(err, "%s%s%s: weight_decay must be >= 0, got %g", w, sep, t, c->weight_decay);
    if (!(c->momentum >= 0))
        return err_set(err, "%s%s%s: momentum must be >= 0, got %g", w, sep, t, c->momentum);
    if (!(c->clip_weights >= 0))
        return err_set(err, "%s%s%s: clip_weights must be >= 0 (0: off), got %g", w, sep, t,
                       c->clip_weights);
    if (!(c->clip_grad_norm >= 0))
        return err_set(err, "%s%s%s: clip_grad_norm must be >= 0 (0: off), got %g", w, sep, t,
                       c->clip_grad_norm);
    if ((c->type == OPTIM_ADAM || c->type == OPTIM_ADAMW) &&
        (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1)))
        return err_set(err, "%s%s%s: betas must be in [0, 1), got [%g, %g]", w, sep, t, c->beta1,
                       c->beta2);
    if (c->type == OPTIM_RMSPROP && !(c->alpha >= 0 && c->alpha <= 1))
        return err_set(err, "%s%s%s: alpha must be in [0, 1], got %g", w, sep, t, c->alpha);
    if (c->type == OPTIM_SGD && c->nesterov && (c->momentum <= 0 || c->dampening != 0))
        return err_set(err, "%s%s%s: nesterov needs momentum > 0 and dampening 0 (got momentum "
                       "%g, dampening %g)", w, sep, t, c->momentum, c->dampening);
    return 0;
}

/* Which state tensors each type keeps, under PyTorch's state_dict keys. */
static int slots_for(const OptimConfig *c, const char **names)
{
    int k = 0;
    switch (c->type) {
    case OPTIM_SGD:
        if (c->momentum != 0) names[k++] = "momentum_buffer";
        break;
    case OPTIM_ADAM:
    case OPTIM_ADAMW:
        names[k++] = "exp_avg";
        names[k++] = "exp_avg_sq";
        break;
    case OPTIM_RMSPROP:
        names[k++] = "square_avg";
        if (c->momentum > 0) names[k++] = "momentum_buffer";
        if (c->centered) names[k++] = "grad_avg";
        break;
    case OPTIM_TYPE_COUNT: break;
    }
    return k;
}

static float *slot(const Optimizer *o, int i, const char *name)
{
    for (int s = 0; s < o->n_slots; s++)
        if (strcmp(o->slot_names[s], name) == 0) return o->state[i * o->n_slots + s];
    return NULL;
}

Optimizer *optim_new(const char *name, const OptimConfig *cfg, Param *const *params, int n,
                     Error *err)
{
    if (optim_config_check(cfg, name, err)) return NULL;
    if (n > 0 && !params[0]->be) {
        err_set(err, "%s: parameter '%s' has no backend", name, params[0]->name);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]->trainable) {
            err_set(err, "%s: '%s' is a buffer, not a trainable parameter; it cannot be optimized",
                    name, params[i]->name);
            return NULL;
        }
        if (params[i]->be != params[0]->be) {
            err_set(err, "%s: parameters '%s' (%s) and '%s' (%s) live on different backends", name,
                    params[0]->name, params[0]->be->name, params[i]->name, params[i]->be->name);
            return NULL;
        }
    }
    Optimizer *o = calloc(1, sizeof *o);
    if (!o) goto oom;
    snprintf(o->name, sizeof o->name, "%s", name);
    o->cfg = *cfg;
    o->be = n > 0 ? params[0]->be : NULL;
    o->n = n;
    o->n_slots = slots_for(cfg, o->slot_names);
    o->params = calloc((size_t)n + 1, sizeof *o->params);
    o->param_steps = calloc((size_t)n + 1, sizeof *o->param_steps);
    o->state = calloc((size_t)n * (size_t)o->n_slots + 1, sizeof *o->state);
    if (!o->params || !o->param_steps || !o->state) goto oom;
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        size_t bytes = tensor_numel(&params[i]->value) * sizeof(float);
        for (int s = 0; s < o->n_slots; s++) {
            float *t = o->be->alloc(bytes);
            if (!t) goto oom;
            o->state[i * o->n_slots + s] = t;
        }
    }
    return o;
oom:
    err_set(err, "%s: out of memory allocating optimizer state for %d parameters", name, n);
    optim_free(o);
    return NULL;
}

void optim_free(Optimizer *o)
{
    if (!o) return;
    if (o->state)
        for (int k = 0; k < o->n * o->n_slots; k++)
            if (o->state[k]) o->be->free(o->state[k]);
    free(o->state);
    free(o->param_steps);
    free(o->params);
    free(o);
}

/* torch.nn.utils.clip_grad_norm_: total = ||(||g_1||, ..., ||g_n||)||, coef = max/(total + 1e-6),
 * grads scaled by min(coef, 1) (multiplying by 1 changes nothing, so that case is skipped). */
static void clip_grad_norm(Optimizer *o, float *const *grads)
{
    float total_sq = 0.0f;
    for (int i = 0; i < o->n; i++) {
        if (!grads[i]) continue;
        float norm = (float)sqrt(o->be->sum_squares(grads[i], tensor_numel(&o->params[i]->value)));
        total_sq += norm * norm;
    }
    float total = sqrtf(total_sq);
    o->last_grad_norm = total;
    float coef = (float)o->cfg.clip_grad_norm / (total + 1e-6f);
    if (!(coef < 1.0f)) return;
    for (int i = 0; i < o->n; i++)
        if (grads[i])
            o->be->scale_shift(tensor_numel(&o->params[i]->value), coef, grads[i], 0.0f, grads[i]);
}

int optim_step(Optimizer *o, float *const *grads, double lr, Error *err)
{
    const OptimConfig *c = &o->cfg;
    if (!(lr >= 0) || !isfinite(lr))
        return err_set(err, "%s: learning rate must be finite and >= 0, got %g at step %lld",
                       o->name, lr, (long long)o->steps);
    if (c->clip_grad_norm > 0) clip_grad_norm(o, grads);
    o->last_grads = grads;
    const Backend *be = o->be;
    for (int i = 0; i < o->n; i++) {
        if (!grads[i]) continue;
        Param *p = o->params[i];
        size_t n = tensor_numel(&p->value);
        float *w = p->value.data;
        int64_t t = ++o->param_steps[i];
        switch (c->type) {
        case OPTIM_SGD:
            be->sgd_update(w, grads[i], slot(o, i, "momentum_buffer"), n, (float)lr,
                           (float)c->momentum, (float)c->dampening, (float)c->weight_decay,
                           c->nesterov, t == 1);
            break;
        case OPTIM_ADAM:
        case OPTIM_ADAMW: {
            double bc1 = 1.0 - pow(c->beta1, (double)t);
            double bc2 = 1.0 - pow(c->beta2, (double)t);
            be->adam_update(w, grads[i], slot(o, i, "exp_avg"), slot(o, i, "exp_avg_sq"), n,
                            (float)lr, (float)c->beta1, (float)c->beta2, (float)c->eps,
                            (float)c->weight_decay, c->type == OPTIM_ADAMW, (float)bc1, (float)bc2);
            break;
        }
        case OPTIM_RMSPROP:
            be->rmsprop_update(w, grads[i], slot(o, i, "square_avg"), slot(o, i, "momentum_buffer"),
                               slot(o, i, "grad_avg"), n, (float)lr, (float)c->alpha, (float)c->eps,
                               (float)c->weight_decay, (float)c->momentum);
            break;
        case OPTIM_TYPE_COUNT: break;
        }
    }
    /* Every parameter, as the WGAN reference's `for p in D.parameters(): p.data.clamp_(-c, c)`. */
    if (c->clip_weights > 0)
        for (int i = 0; i < o->n; i++)
            be->clamp(o->params[i]->value.data, tensor_numel(&o->params[i]->value),
                      (float)-c->clip_weights, (float)c->clip_weights);
    o->steps++;
    return backend_status(be, err);
}

int optim_state_count(const Optimizer *o) { return o->n * o->n_slots; }

float *optim_state_at(const Optimizer *o, int k, char *buf, size_t len, int *param_index)
{
    int i = k / o->n_slots, s = k % o->n_slots;
    int need = snprintf(buf, len, "optim.%s.%s.%s", o->name, o->params[i]->name, o->slot_names[s]);
    if (param_index) *param_index = i;
    return need >= 0 && (size_t)need < len ? o->state[k] : NULL;
}
