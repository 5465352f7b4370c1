/* The softmax family, as PyTorch's F.softmax, F.log_softmax and F.cross_entropy (class indices,
 * mean reduction, label smoothing).  Forward and first-order gradients are fused backend
 * primitives; the gradients of those gradients are built from differentiable nodes, so every op
 * here can be differentiated twice:
 *   softmax_grad(g, y)       = y (g - S(g y))            (softmax: y its output)
 *                            = g - exp(y) S(g)           (log: y = log_softmax output)
 *   cross_entropy_grad(d, x, t) = d / N (softmax(x) - q)  (q: the smoothed one-hot targets)
 *   dim_sum(x)               = S(x): the sum along dim, broadcast back to x's shape. */
#include "graph/ops/eltwise.h"

#include <stdio.h>
#include <string.h>

extern const Op op_softmax, op_log_softmax, op_softmax_grad, op_dim_sum, op_cross_entropy,
    op_cross_entropy_grad;

/* ---- shapes ---- */

/* The (outer, D, inner) view of shape s around dimension `dim` (negative: from the end). */
static int dim_geometry(const Node *n, const Shape *s, int *outer, int *D, int *inner, Error *err)
{
    int64_t dim = attr_int(n, "dim");
    if (dim < 0) dim += s->ndim;
    if (dim < 0 || dim >= s->ndim) {
        char a[96];
        return err_set(err, "%s over dim %lld needs an input with more dimensions, got %s", n->op->name,
                       (long long)attr_int(n, "dim"), shape_format(s, a, sizeof a));
    }
    int64_t o = 1, in = 1;
    for (int i = 0; i < dim; i++) o *= s->dim[i];
    for (int i = (int)dim + 1; i < s->ndim; i++) in *= s->dim[i];
    *outer = (int)o, *D = (int)s->dim[dim], *inner = (int)in;
    return 0;
}

static void geometry(const Node *n, int *outer, int *D, int *inner)
{
    Error ignored;
    dim_geometry(n, &n->out.shape, outer, D, inner, &ignored); /* infer has checked it */
}

static bool takes_log(const Node *n)
{
    return n->op == &op_log_softmax || (n->op == &op_softmax_grad && attr_int(n, "log"));
}

/* ---- builders ---- */

static Node *build_dim_op(Graph *g, const char *op_name, Node *a, Node *b, int64_t dim, bool log, Error *err)
{
    const Op *op = op_find(op_name);
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(op, v, err)) return NULL;
    attr_set_int(op, v, "dim", dim);
    if (attr_index(op, "log") >= 0) attr_set_int(op, v, "log", log);
    Node *in[2] = {a, b};
    return graph_op(g, op_name, in, b ? 2 : 1, v, NULL, err);
}

static Node *build_ce_grad(Graph *g, Node *dy, Node *logits, Node *target, double smoothing, Error *err)
{
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(&op_cross_entropy_grad, v, err)) return NULL;
    attr_set_float(&op_cross_entropy_grad, v, "label_smoothing", smoothing);
    Node *in[3] = {dy, logits, target};
    return graph_op(g, "cross_entropy_grad", in, 3, v, NULL, err);
}

/* ---- softmax(x), log_softmax(x) ---- */

static const AttrSchema softmax_attrs[] = {
    {.name = "dim", .type = ATTR_INT, .default_text = "-1", .min = -TENSOR_MAX_DIMS, .max = TENSOR_MAX_DIMS - 1,
     .doc = "the dimension normalised over (negative: counted from the end, batch included)"},
};

static int softmax_infer(Node *n, Error *err)
{
    int outer = 0, D = 0, inner = 0;
    if (dim_geometry(n, &n->in[0]->out.shape, &outer, &D, &inner, err)) return -1;
    n->out.shape = n->in[0]->out.shape;
    return 0;
}

static void softmax_forward(Graph *g, Node *n)
{
    int outer = 0, D = 0, inner = 0;
    geometry(n, &outer, &D, &inner);
    g->be->softmax_forward(n->in[0]->out.data, n->out.data, outer, D, inner, takes_log(n));
}

static int softmax_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_dim_op(g, "softmax_grad", G, n, attr_int(n, "dim"), takes_log(n), err)))
        return -1;
    return 0;
}

const Op op_softmax = {
    .name = "softmax", .summary = "exp(x) / sum(exp(x)) along dim",
    .attrs = softmax_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1,
    .infer = softmax_infer, .forward = softmax_forward, .backward = softmax_backward,
};

const Op op_log_softmax = {
    .name = "log_softmax", .summary = "x - log(sum(exp(x))) along dim",
    .attrs = softmax_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1,
    .infer = softmax_infer, .forward = softmax_forward, .backward = softmax_backward,
};

/* ---- softmax_grad(g, y) ---- */

static const AttrSchema softmax_grad_attrs[] = {
    {.name = "dim", .type = ATTR_INT, .default_text = "-1", .min = -TENSOR_MAX_DIMS, .max = TENSOR_MAX_DIMS - 1,
     .doc = "as the forward op"},
    {.name = "log", .type = ATTR_BOOL, .default_text = "false", .doc = "y is log_softmax's output"},
};

static int softmax_grad_infer(Node *n, Error *err)
{
    int outer = 0, D = 0, inner = 0;
    if (infer_same_shape(n, 0, 1, err)) return -1;
    return dim_geometry(n, &n->out.shape, &outer, &D, &inner, err);
}

static void softmax_grad_forward(Graph *g, Node *n)
{
    int outer = 0, D = 0, inner = 0;
    geometry(n, &outer, &D, &inner);
    g->be->softmax_backward(n->in[1]->out.data, n->in[0]->out.data, n->out.data, outer, D, inner,
                            takes_log(n));
}

/* Upstream H.  softmax (symmetric Jacobian diag(y) - y y^T in g):
 *   d/dg = softmax_grad(H, y),  d/dy = H (g - S(g y)) - g S(H y);
 * log:  d/dg = H - S(H exp(y)),  d/dy = -H exp(y) S(g). */
static int softmax_grad_backward(Graph *g, Node *n, Node *H, const bool *want, Node **dx, Error *err)
{
    Node *gin = n->in[0], *y = n->in[1];
    int64_t dim = attr_int(n, "dim");
    if (!takes_log(n)) {
        if (want[0] && !(dx[0] = build_dim_op(g, "softmax_grad", H, y, dim, false, err))) return -1;
        if (!want[1]) return 0;
        Node *gy, *s, *a, *t, *hy, *u;
        if (!(gy = graph_op2(g, "mul", gin, y, err)) || !(s = build_dim_op(g, "dim_sum", gy, NULL, dim, false, err)) ||
            !(a = graph_op2(g, "sub", gin, s, err)) || !(t = graph_op2(g, "mul", H, a, err)) ||
            !(hy = graph_op2(g, "mul", H, y, err)) || !(s = build_dim_op(g, "dim_sum", hy, NULL, dim, false, err)) ||
            !(u = graph_op2(g, "mul", gin, s, err)))
            return -1;
        return (dx[1] = graph_op2(g, "sub", t, u, err)) ? 0 : -1;
    }
    Node *e = graph_op1(g, "exp", y, err), *he, *s;
    if (!e || !(he = graph_op2(g, "mul", H, e, err))) return -1;
    if (want[0] && (!(s = build_dim_op(g, "dim_sum", he, NULL, dim, false, err)) ||
                    !(dx[0] = graph_op2(g, "sub", H, s, err))))
        return -1;
    if (want[1] && (!(s = build_dim_op(g, "dim_sum", gin, NULL, dim, false, err)) ||
                    !(s = graph_op2(g, "mul", he, s, err)) || !(dx[1] = build_scale(g, s, -1.0, 0.0, err))))
        return -1;
    return 0;
}

const Op op_softmax_grad = {
    .name = "softmax_grad", .summary = "input gradient of softmax or log_softmax from (dy, output)",
    .attrs = softmax_grad_attrs, .n_attrs = 2, .min_inputs = 2, .max_inputs = 2, .flags = OP_INTERNAL,
    .infer = softmax_grad_infer, .forward = softmax_grad_forward, .backward = softmax_grad_backward,
};

/* ---- dim_sum(x): S(x), two matrix products with a vector of ones ---- */

static int dim_sum_infer(Node *n, Error *err)
{
    int outer = 0, D = 0, inner = 0;
    if (dim_geometry(n, &n->in[0]->out.shape, &outer, &D, &inner, err)) return -1;
    n->out.shape = n->in[0]->out.shape;
    n->n_aux = 1;
    n->aux_shape[0] = shape_of(1, (int64_t)D + (int64_t)outer * inner); /* ones, then the sums */
    return 0;
}

static void dim_sum_forward(Graph *g, Node *n)
{
    const Backend *be = g->be;
    int outer = 0, D = 0, inner = 0;
    geometry(n, &outer, &D, &inner);
    float *ones = n->aux[0].data, *s = ones + D, *y = n->out.data;
    const float *x = n->in[0]->out.data;
    be->fill(ones, (size_t)D, 1.0f);
    if (inner == 1) { /* rows of D: s = X 1, Y = s 1^T */
        be->gemm(false, false, outer, 1, D, 1.0f, x, D, ones, 1, 0.0f, s, 1);
        be->gemm(false, false, outer, D, 1, 1.0f, s, 1, ones, D, 0.0f, y, D);
        return;
    }
    for (int o = 0; o < outer; o++) { /* per outer block (D, inner): s = 1^T X, Y = 1 s */
        size_t off = (size_t)o * D * inner;
        be->gemm(false, false, 1, inner, D, 1.0f, ones, D, x + off, inner, 0.0f, s + (size_t)o * inner, inner);
        be->gemm(false, false, D, inner, 1, 1.0f, ones, 1, s + (size_t)o * inner, inner, 0.0f, y + off, inner);
    }
}

/* S is symmetric (a block of ones), so it is its own adjoint. */
static int dim_sum_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_dim_op(g, "dim_sum", G, NULL, attr_int(n, "dim"), false, err))) return -1;
    return 0;
}

const Op op_dim_sum = {
    .name = "dim_sum", .summary = "sum along dim, broadcast back to the input's shape",
    .attrs = softmax_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1, .flags = OP_INTERNAL,
    .infer = dim_sum_infer, .forward = dim_sum_forward, .backward = dim_sum_backward,
};

/* ---- cross_entropy(logits, target) and cross_entropy_grad(dy, logits, target) ---- */

static const AttrSchema ce_attrs[] = {
    {.name = "label_smoothing", .type = ATTR_FLOAT, .default_text = "0", .min = 0, .max = 1,
     .doc = "weight of the uniform distribution mixed into the targets"},
};

/* logits (N, K) and target (N,) at inputs first, first + 1. */
static int check_ce_inputs(const Node *n, int first, Error *err)
{
    const Shape *x = &n->in[first]->out.shape, *t = &n->in[first + 1]->out.shape;
    char a[96], b[96];
    if (x->ndim != 2 || x->dim[1] < 1)
        return err_set(err, "%s expects logits shaped (N, K classes), got %s", n->op->name,
                       shape_format(x, a, sizeof a));
    if (t->ndim != 1 || t->dim[0] != x->dim[0])
        return err_set(err, "%s expects targets shaped (%lld,) (one class index per row of the logits), got %s",
                       n->op->name, (long long)x->dim[0], shape_format(t, b, sizeof b));
    return 0;
}

static int ce_infer(Node *n, Error *err)
{
    if (check_ce_inputs(n, 0, err)) return -1;
    n->out.shape = shape_of(1, (int64_t)1);
    return 0;
}

static void ce_forward(Graph *g, Node *n)
{
    const Shape *x = &n->in[0]->out.shape;
    g->be->cross_entropy_forward(n->in[0]->out.data, n->in[1]->out.data, n->out.data, (int)x->dim[0],
                                 (int)x->dim[1], (float)attr_float(n, "label_smoothing"));
}

/* Class indices are not differentiable: no gradient reaches the targets. */
static int ce_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_ce_grad(g, G, n->in[0], n->in[1], attr_float(n, "label_smoothing"), err)))
        return -1;
    return 0;
}

const Op op_cross_entropy = {
    .name = "cross_entropy", .summary = "mean cross-entropy of logits (N, K) against class indices (N,)",
    .attrs = ce_attrs, .n_attrs = 1, .min_inputs = 2, .max_inputs = 2,
    .infer = ce_infer, .forward = ce_forward, .backward = ce_backward,
};

static int ce_grad_infer(Node *n, Error *err)
{
    if (shape_numel(&n->in[0]->out.shape) != 1) {
        char a[96];
        return err_set(err, "cross_entropy_grad expects a one-element upstream gradient, got %s",
                       shape_format(&n->in[0]->out.shape, a, sizeof a));
    }
    if (check_ce_inputs(n, 1, err)) return -1;
    n->out.shape = n->in[1]->out.shape;
    return 0;
}

static void ce_grad_forward(Graph *g, Node *n)
{
    const Shape *x = &n->out.shape;
    g->be->cross_entropy_backward(n->in[1]->out.data, n->in[2]->out.data, n->in[0]->out.data, n->out.data,
                                  (int)x->dim[0], (int)x->dim[1], (float)attr_float(n, "label_smoothing"));
}

/* z = d / N (p - q), p = softmax(x).  Upstream H:
 *   d/dd = sum(H z / d) = sum(H * cross_entropy_grad(1, x, t));
 *   d/dx = d / N * softmax_grad(H, p)   (dp/dx is softmax's symmetric Jacobian). */
static int ce_grad_backward(Graph *g, Node *n, Node *H, const bool *want, Node **dx, Error *err)
{
    Node *d = n->in[0], *x = n->in[1], *t = n->in[2];
    double smoothing = attr_float(n, "label_smoothing");
    if (want[0]) {
        Node *one = build_full_like(g, d, 1.0, err), *unit, *prod;
        if (!one || !(unit = build_ce_grad(g, one, x, t, smoothing, err)) || !(prod = graph_op2(g, "mul", H, unit, err)) ||
            !(dx[0] = graph_op1(g, "sum", prod, err)))
            return -1;
    }
    if (want[1]) {
        Node *p, *sg, *e;
        AttrValue v[OP_MAX_ATTRS];
        const Op *expand = op_find("expand_scalar");
        if (attr_defaults(expand, v, err)) return -1;
        attr_set_float(expand, v, "alpha", 1.0 / (double)x->out.shape.dim[0]);
        Node *in[2] = {d, x};
        if (!(p = build_dim_op(g, "softmax", x, NULL, -1, false, err)) ||
            !(sg = build_dim_op(g, "softmax_grad", H, p, -1, false, err)) ||
            !(e = graph_op(g, "expand_scalar", in, 2, v, NULL, err)) || !(dx[1] = graph_op2(g, "mul", sg, e, err)))
            return -1;
    }
    return 0;
}

const Op op_cross_entropy_grad = {
    .name = "cross_entropy_grad", .summary = "logits gradient of cross_entropy from (dy, logits, target)",
    .attrs = ce_attrs, .n_attrs = 1, .min_inputs = 3, .max_inputs = 3, .flags = OP_INTERNAL,
    .infer = ce_grad_infer, .forward = ce_grad_forward, .backward = ce_grad_backward,
};
