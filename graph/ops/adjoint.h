/* Linear ops paired with their adjoint, the gradient op "<op>_grad"(dy, x_like) -> dx shaped like
 * x_like (avg_pool2d, adaptive_avg_pool2d, resize).  The two share one attribute table and each is
 * the other's backward, so gradients of gradients need nothing else. */
#ifndef GRAPH_OPS_ADJOINT_H
#define GRAPH_OPS_ADJOINT_H

#include "graph/graph.h"

/* The backward of either op of a pair: the adjoint applied to (dy, x), or the op applied to G
 * (x_like gets no gradient). */
int adjoint_pair_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err);

/* The shape rule of a gradient op (dy, x or x_like, ...): dy must have shape y, the op's output
 * for input 1 (`made` says what y is: "pooled", "resized"); dx gets input 1's shape. */
int grad_op_infer(Node *n, const Shape *y, const char *made, Error *err);

/* Defines op_<op> (one input) and op_<op>_grad (dy, x_like), with their shape rules and forwards. */
#define ADJOINT_PAIR(op, attr_table, op_summary, op_infer, op_forward, grad_infer, grad_forward)                  \
    const Op op_##op = {                                                                                           \
        .name = #op, .summary = op_summary, .attrs = attr_table, .n_attrs = N_ATTRS(attr_table),                  \
        .min_inputs = 1, .max_inputs = 1,                                                                          \
        .infer = op_infer, .forward = op_forward, .backward = adjoint_pair_backward,                               \
    };                                                                                                             \
    const Op op_##op##_grad = {                                                                                    \
        .name = #op "_grad", .summary = "gradient of " #op " with respect to its input: (dy, input_like) -> dx", \
        .attrs = attr_table, .n_attrs = N_ATTRS(attr_table), .min_inputs = 2, .max_inputs = 2,                    \
        .flags = OP_INTERNAL, .infer = grad_infer, .forward = grad_forward, .backward = adjoint_pair_backward,     \
    }

#endif
