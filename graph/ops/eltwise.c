/* Elementwise arithmetic: add, sub, mul (same shapes), scale (alpha * x + shift) and full_like
 * (a constant shaped like its input; autodiff seeds d(loss)/d(loss) = 1 with it). */
#include "graph/ops/eltwise.h"

#include <stdio.h>

extern const Op op_scale, op_full_like, op_reshape;

int infer_same_shape(Node *n, int first, int last, Error *err)
{
    for (int i = first + 1; i <= last; i++)
        if (!shape_equal(&n->in[first]->out.shape, &n->in[i]->out.shape)) {
            char a[96], b[96];
            return err_set(err, "%s expects inputs of the same shape, got %s and %s", n->op->name,
                           shape_format(&n->in[first]->out.shape, a, sizeof a),
                           shape_format(&n->in[i]->out.shape, b, sizeof b));
        }
    n->out.shape = n->in[first]->out.shape;
    return 0;
}

Node *build_scale(Graph *g, Node *x, double alpha, double shift, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_scale, a, err)) return NULL;
    attr_set_float(&op_scale, a, "alpha", alpha);
    attr_set_float(&op_scale, a, "shift", shift);
    return graph_op(g, "scale", &x, 1, a, NULL, err);
}

Node *build_full_like(Graph *g, Node *like, double value, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_full_like, a, err)) return NULL;
    attr_set_float(&op_full_like, a, "value", value);
    return graph_op(g, "full_like", &like, 1, a, NULL, err);
}

Node *build_reshape(Graph *g, Node *x, const Shape *shape, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_reshape, a, err)) return NULL;
    attr_set_ints(&op_reshape, a, "shape", shape->dim + 1, shape->ndim - 1);
    return graph_op(g, "reshape", &x, 1, a, NULL, err);
}

/* ---- add, sub, mul: y = a (+ - *) b ---- */

static int binary_infer(Node *n, Error *err) { return infer_same_shape(n, 0, 1, err); }

static void add_forward(Graph *g, Node *n)
{
    g->be->axpby(tensor_numel(&n->out), 1.0f, n->in[0]->out.data, 1.0f, n->in[1]->out.data,
                 n->out.data);
}

static void sub_forward(Graph *g, Node *n)
{
    g->be->axpby(tensor_numel(&n->out), 1.0f, n->in[0]->out.data, -1.0f, n->in[1]->out.data,
                 n->out.data);
}

static void mul_forward(Graph *g, Node *n)
{
    g->be->mul(tensor_numel(&n->out), n->in[0]->out.data, n->in[1]->out.data, n->out.data);
}

static int add_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    (void)g, (void)n, (void)err;
    if (want[0]) dx[0] = dy;
    if (want[1]) dx[1] = dy;
    return 0;
}

static int sub_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    (void)n;
    if (want[0]) dx[0] = dy;
    if (want[1] && !(dx[1] = build_scale(g, dy, -1.0, 0.0, err))) return -1;
    return 0;
}

static int mul_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    for (int i = 0; i < 2; i++)
        if (want[i] && !(dx[i] = graph_op2(g, "mul", dy, n->in[1 - i], err))) return -1;
    return 0;
}

const Op op_add = {
    .name = "add",
    .summary = "a + b (same shapes)",
    .min_inputs = 2, .max_inputs = 2,
    .infer = binary_infer, .forward = add_forward, .backward = add_backward,
};

const Op op_sub = {
    .name = "sub",
    .summary = "a - b (same shapes)",
    .min_inputs = 2, .max_inputs = 2,
    .infer = binary_infer, .forward = sub_forward, .backward = sub_backward,
};

const Op op_mul = {
    .name = "mul",
    .summary = "a * b elementwise (same shapes)",
    .min_inputs = 2, .max_inputs = 2,
    .infer = binary_infer, .forward = mul_forward, .backward = mul_backward,
};

/* ---- scale: y = alpha * x + shift ---- */

static const AttrSchema scale_attrs[] = {
    {.name = "alpha", .type = ATTR_FLOAT, .default_text = "1", .min = 1, .max = 0,
     .doc = "factor"},
    {.name = "shift", .type = ATTR_FLOAT, .default_text = "0", .min = 1, .max = 0,
     .doc = "added after scaling"},
};

static int unary_same_infer(Node *n, Error *err)
{
    (void)err;
    n->out.shape = n->in[0]->out.shape;
    return 0;
}

static void scale_forward(Graph *g, Node *n)
{
    g->be->scale_shift(tensor_numel(&n->out), (float)attr_float(n, "alpha"), n->in[0]->out.data,
                       (float)attr_float(n, "shift"), n->out.data);
}

static int scale_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_scale(g, dy, attr_float(n, "alpha"), 0.0, err))) return -1;
    return 0;
}

const Op op_scale = {
    .name = "scale",
    .summary = "alpha * x + shift",
    .attrs = scale_attrs, .n_attrs = 2,
    .min_inputs = 1, .max_inputs = 1,
    .infer = unary_same_infer, .forward = scale_forward, .backward = scale_backward,
};

/* ---- full_like: a constant with x's shape; x's values are never read ---- */

static const AttrSchema full_like_attrs[] = {
    {.name = "value", .type = ATTR_FLOAT, .default_text = "0", .min = 1, .max = 0,
     .doc = "fill value"},
};

static void full_like_forward(Graph *g, Node *n)
{
    g->be->fill(n->out.data, tensor_numel(&n->out), (float)attr_float(n, "value"));
}

/* Constants and detached values: every input gradient is zero (left NULL). */
int no_gradient(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    (void)g, (void)n, (void)dy, (void)want, (void)dx, (void)err;
    return 0;
}

const Op op_full_like = {
    .name = "full_like",
    .summary = "a tensor shaped like x filled with value",
    .attrs = full_like_attrs, .n_attrs = 1,
    .min_inputs = 1, .max_inputs = 1,
    .infer = unary_same_infer, .forward = full_like_forward, .backward = no_gradient,
};
