/* Parameters: allocation on a backend and PyTorch-style initialisation. */
#include "graph/param.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Param *param_new(const char *name, const Shape *shape, const Backend *be, Error *err)
{
    Param *p = calloc(1, sizeof *p);
    if (!p) return err_set(err, "out of memory for parameter '%s'", name), NULL;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->value.shape = *shape;
    p->be = be;
    p->trainable = true;
    p->value.data = be->alloc((size_t)shape_numel(shape) * sizeof(float));
    if (!p->value.data) {
        free(p);
        return err_set(err, "out of memory for parameter '%s'", name), NULL;
    }
    return p;
}

void param_free(Param *p)
{
    if (!p) return;
    if (p->value.data) p->be->free(p->value.data);
    free(p);
}

/* FNV-1a: a stable stream per parameter name, so inserting a layer leaves others' values alone. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int param_init(Param *p, uint64_t seed, Error *err)
{
    const Backend *be = p->be;
    size_t n = (size_t)shape_numel(&p->value.shape);
    uint64_t stream = seed * 0x9E3779B97F4A7C15ull ^ name_hash(p->name);
    double fan_in = (double)(p->fan_in > 0 ? p->fan_in : 1);
    double fan_out = (double)(p->fan_out > 0 ? p->fan_out : 1);
    const InitSpec *in = &p->init;
    switch (in->kind) {
    case INIT_DEFAULT:
    case INIT_ZEROS: be->fill(p->value.data, n, 0.0f); break;
    case INIT_ONES: be->fill(p->value.data, n, 1.0f); break;
    case INIT_CONSTANT: be->fill(p->value.data, n, (float)in->a); break;
    case INIT_UNIFORM: be->rng_uniform(p->value.data, n, (float)in->a, (float)in->b, stream, 0); break;
    case INIT_NORMAL: be->rng_normal(p->value.data, n, (float)in->a, (float)in->b, stream, 0); break;
    case INIT_XAVIER_UNIFORM: {
        double bound = in->a * sqrt(6.0 / (fan_in + fan_out));
        be->rng_uniform(p->value.data, n, (float)-bound, (float)bound, stream, 0);
        break;
    }
    case INIT_XAVIER_NORMAL:
        be->rng_normal(p->value.data, n, 0.0f, (float)(in->a * sqrt(2.0 / (fan_in + fan_out))), stream, 0);
        break;
    case INIT_KAIMING_UNIFORM:
    case INIT_KAIMING_NORMAL: {
        /* torch.nn.init: gain = sqrt(2 / (1 + a^2)) for leaky_relu; fan by mode. */
        double gain = sqrt(2.0 / (1.0 + in->a * in->a));
        double fan = in->b != 0 ? fan_out : fan_in;
        if (in->kind == INIT_KAIMING_UNIFORM) {
            double bound = gain * sqrt(3.0 / fan);
            be->rng_uniform(p->value.data, n, (float)-bound, (float)bound, stream, 0);
        } else {
            be->rng_normal(p->value.data, n, 0.0f, (float)(gain / sqrt(fan)), stream, 0);
        }
        break;
    }
    default: return err_set(err, "parameter '%s': unknown initialisation", p->name);
    }
    return 0;
}

int paramset_add(ParamSet *ps, Param *p, Error *err)
{
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        Param **items = realloc(ps->items, (size_t)cap * sizeof *items);
        if (!items) return err_set(err, "out of memory");
        ps->items = items;
        ps->cap = cap;
    }
    ps->items[ps->n++] = p;
    return 0;
}

Param *paramset_find(const ParamSet *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->items[i]->name, name) == 0) return ps->items[i];
    return NULL;
}

int64_t paramset_count_trainable(const ParamSet *ps)
{
    int64_t total = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->items[i]->trainable) total += shape_numel(&ps->items[i]->value.shape);
    return total;
}

void paramset_free(ParamSet *ps)
{
    for (int i = 0; i < ps->n; i++) param_free(ps->items[i]);
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}
