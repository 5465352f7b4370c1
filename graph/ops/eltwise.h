/* Helpers shared by the elementwise, normalisation, layout and reduction op files: shape checks
 * and builders of the small nodes that backward passes are made of. */
#ifndef GRAPH_OPS_ELTWISE_H
#define GRAPH_OPS_ELTWISE_H

#include "graph/graph.h"

/* Fails unless inputs first..last of n have the same shape; sets n->out.shape to it. */
int infer_same_shape(Node *n, int first, int last, Error *err);

/* A backward for ops through which no gradient flows (full_like, detach). */
int no_gradient(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err);

/* y = alpha * x + shift. */
Node *build_scale(Graph *g, Node *x, double alpha, double shift, Error *err);
/* A tensor shaped like `like`, filled with value (no gradient flows through it). */
Node *build_full_like(Graph *g, Node *like, double value, Error *err);
/* dx = dy * f'(.) for activation `kind` (see op unary_grad). */
Node *build_unary_grad(Graph *g, UnaryKind kind, double alpha, Node *dy, Node *x, Node *y,
                       Error *err);
/* y = reshape(x) to `shape` (which includes the batch dimension). */
Node *build_reshape(Graph *g, Node *x, const Shape *shape, Error *err);
/* x[..., start:start+length, ...] along dimension dim (graph/ops/concat.c). */
Node *build_slice(Graph *g, Node *x, int dim, int64_t start, int64_t length, Error *err);
/* The sums over the last k dimensions, (..., d1, ..., dk) -> (...) (graph/ops/layernorm.c). */
Node *build_row_sum(Graph *g, Node *x, int k, Error *err);

#endif
