/* Parameters and buffers: persistent tensors owned by a network, shared by every graph that
 * uses the network. */
#ifndef GRAPH_PARAM_H
#define GRAPH_PARAM_H

#include "graph/op.h"
#include "graph/tensor.h"
#include "kernels/backend.h"

typedef struct Param {
    char name[128];       /* "<node>.<param>", e.g. "fc1.weight" (the network name is prepended on save) */
    Tensor value;         /* backend memory */
    const Backend *be;
    bool trainable;       /* false for buffers */
    bool is_buffer;
    bool is_counter;      /* num_batches_tracked: saved as an I64 scalar */
    InitSpec init;        /* resolved initialisation */
    int64_t fan_in, fan_out;
} Param;

typedef struct ParamSet {
    Param **items;
    int n, cap;
} ParamSet;

Param *param_new(const char *name, const Shape *shape, const Backend *be, Error *err);
void param_free(Param *p);
/* Draws the initial value from p->init with a stream seeded by (seed, p->name). */
int param_init(Param *p, uint64_t seed, Error *err);

int paramset_add(ParamSet *ps, Param *p, Error *err);
Param *paramset_find(const ParamSet *ps, const char *name);
int64_t paramset_count_trainable(const ParamSet *ps); /* number of trainable scalars */
void paramset_free(ParamSet *ps);                      /* frees the params too */

#endif
