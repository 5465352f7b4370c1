/* Reductions to one value: sum and mean of all elements (shape (1,)), and their adjoint
 * expand_scalar(g, like) = alpha * g[0] broadcast to like's shape. */
#include "graph/ops/eltwise.h"

extern const Op op_expand_scalar, op_mean;

static int scalar_infer(Node *n, Error *err)
{
    (void)err;
    n->out.shape = shape_of(1, (int64_t)1);
    return 0;
}

static float reduce_factor(const Node *n)
{
    if (n->op == &op_expand_scalar) return (float)attr_float(n, "alpha");
    if (n->op == &op_mean) return 1.0f / (float)tensor_numel(&n->in[0]->out);
    return 1.0f;
}

static void reduce_forward(Graph *g, Node *n)
{
    g->be->sum_to_scalar(n->in[0]->out.data, tensor_numel(&n->in[0]->out), reduce_factor(n),
                         n->out.data);
}

static Node *build_expand(Graph *g, Node *scalar, Node *like, double alpha, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_expand_scalar, a, err)) return NULL;
    attr_set_float(&op_expand_scalar, a, "alpha", alpha);
    Node *in[2] = {scalar, like};
    return graph_op(g, "expand_scalar", in, 2, a, NULL, err);
}

static int reduce_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_expand(g, dy, n->in[0], reduce_factor(n), err))) return -1;
    return 0;
}

const Op op_sum = {
    .name = "sum", .summary = "sum of all elements, shape (1,)",
    .min_inputs = 1, .max_inputs = 1,
    .infer = scalar_infer, .forward = reduce_forward, .backward = reduce_backward,
};

const Op op_mean = {
    .name = "mean", .summary = "mean of all elements, shape (1,)",
    .min_inputs = 1, .max_inputs = 1,
    .infer = scalar_infer, .forward = reduce_forward, .backward = reduce_backward,
};

/* ---- expand_scalar(g, like): alpha * g[0] everywhere in like's shape ---- */

static const AttrSchema expand_attrs[] = {
    {.name = "alpha", .type = ATTR_FLOAT, .default_text = "1", .min = 1, .max = 0,
     .doc = "factor applied to the scalar"},
};

static int expand_infer(Node *n, Error *err)
{
    if (shape_numel(&n->in[0]->out.shape) != 1) {
        char s[96];
        return err_set(err, "expand_scalar expects a one-element first input, got %s",
                       shape_format(&n->in[0]->out.shape, s, sizeof s));
    }
    n->out.shape = n->in[1]->out.shape;
    return 0;
}

static void expand_forward(Graph *g, Node *n)
{
    size_t count = tensor_numel(&n->out);
    /* The scalar stays on the device: broadcast it as a bias over one channel. */
    g->be->fill(n->out.data, count, 0.0f);
    g->be->bias_add(n->out.data, n->in[0]->out.data, 1, 1, (int)count);
    float alpha = (float)attr_float(n, "alpha");
    if (alpha != 1.0f) g->be->scale_shift(count, alpha, n->out.data, 0.0f, n->out.data);
}

/* The adjoint of a broadcast is a sum; `like` only gives the shape. */
static int expand_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    Node *s = graph_op1(g, "sum", dy, err);
    double alpha = attr_float(n, "alpha");
    if (s && alpha != 1.0) s = build_scale(g, s, alpha, 0.0, err);
    return (dx[0] = s) ? 0 : -1;
}

const Op op_expand_scalar = {
    .name = "expand_scalar", .summary = "alpha * g[0] broadcast to the shape of like",
    .attrs = expand_attrs, .n_attrs = 1,
    .min_inputs = 2, .max_inputs = 2, .flags = OP_INTERNAL,
    .infer = expand_infer, .forward = expand_forward, .backward = expand_backward,
};
