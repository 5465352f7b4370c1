/* Weight averages (see ema.h).  Each update is one fused axpby per tensor on the parameters'
 * backend: ema = decay * ema + (1 - decay) * w, rounded once per element. */
#include "graph/ema.h"

#include <stdlib.h>
#include <string.h>

#define EMA_PREFIX "ema."

void ema_free(Ema *e)
{
    if (!e) return;
    network_free(e->shadow);
    free(e);
}

/* A parameter shaped, flagged and valued like p. */
static Param *copy_param(const Param *p, Error *err)
{
    Param *c = param_new(p->name, &p->value.shape, p->be, err);
    if (!c) return NULL;
    c->trainable = p->trainable;
    c->is_buffer = p->is_buffer;
    c->is_counter = p->is_counter;
    c->init = p->init;
    c->fan_in = p->fan_in;
    c->fan_out = p->fan_out;
    p->be->copy(c->value.data, p->value.data, tensor_numel(&p->value));
    return c;
}

Ema *ema_new(const Network *source, double decay, int64_t start_step, Error *err)
{
    if (!source->params_ready)
        return err_internal(err, "network '%s' has no parameters to average yet", source->def.name), NULL;
    if (strlen(EMA_PREFIX) + strlen(source->def.name) >= NET_NAME_MAX)
        return err_set(err, "network name '%s' is too long for its average '" EMA_PREFIX "%s' (at most %d characters)",
                       source->def.name, source->def.name, NET_NAME_MAX - 1 - (int)strlen(EMA_PREFIX)),
               NULL;
    Ema *e = calloc(1, sizeof *e);
    if (!e) return err_set(err, "out of memory"), NULL;
    *e = (Ema){.source = source, .decay = decay, .start_step = start_step};
    if (!(e->shadow = network_new(&source->def, err))) goto fail;
    char *name = e->shadow->def.name; /* fits: checked above */
    memcpy(name, EMA_PREFIX, strlen(EMA_PREFIX));
    memcpy(name + strlen(EMA_PREFIX), source->def.name, strlen(source->def.name) + 1);
    for (int i = 0; i < source->params.n; i++) {
        Param *c = copy_param(source->params.items[i], err);
        if (!c) goto fail;
        if (paramset_add(&e->shadow->params, c, err)) {
            param_free(c);
            goto fail;
        }
    }
    e->shadow->params_ready = true;
    return e;
fail:
    err_prefix(err, "averaging the weights of '%s': ", source->def.name);
    ema_free(e);
    return NULL;
}

void ema_update(Ema *e, int64_t update)
{
    bool average = update > e->start_step;
    float keep = (float)e->decay, take = (float)(1.0 - e->decay);
    for (int i = 0; i < e->source->params.n; i++) {
        const Param *w = e->source->params.items[i];
        Param *a = e->shadow->params.items[i];
        size_t n = tensor_numel(&w->value);
        if (average && w->trainable)
            w->be->axpby(n, keep, a->value.data, take, w->value.data, a->value.data);
        else
            w->be->copy(a->value.data, w->value.data, n);
    }
    e->updates = update;
}
