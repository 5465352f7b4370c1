/* Matrix products and per-channel sums.
 *   linear(x, w[, b]):  x (..., in), w (out, in), b (out) -> (..., out) = x w^T + b
 *   matmul(a, b[, like]) (internal): op(a) (M, K) . op(b) (K, N), each operand read as the matrix
 *       (numel / last dim, last dim); the result takes like's shape when given, else a's leading
 *       dims + (N) when a is not transposed, else (M, N).  linear's gradients are matmuls.
 *   channel_sum(x) (internal): sums over every axis but `axis` -> (C); bias gradients.
 *   channel_broadcast(c, like) (internal): c (C) repeated along every axis of like but `axis`.
 * Each is linear in its data inputs, so their gradients are built from the same ops again. */
#include "graph/graph.h"

#include <math.h>
#include <string.h>

extern const Op op_linear, op_matmul, op_channel_sum, op_channel_broadcast;


/* The matrix view of a tensor: rows = numel / last dim, cols = last dim. */
static int64_t mat_cols(const Shape *s) { return s->ndim ? s->dim[s->ndim - 1] : 1; }
static int64_t mat_rows(const Shape *s) { return mat_cols(s) ? shape_numel(s) / mat_cols(s) : 0; }

/* ---- matmul ------------------------------------------------------------------------------- */

static const AttrSchema matmul_attrs[] = {
    {"trans_a", ATTR_BOOL, 0, "false", 1, 0, NULL, "use a's transpose"},
    {"trans_b", ATTR_BOOL, 0, "false", 1, 0, NULL, "use b's transpose"},
};

typedef struct MatDims {
    int64_t M, N, K;
    bool ta, tb;
} MatDims;

static MatDims mat_dims(const Shape *a, const Shape *b, bool ta, bool tb)
{
    MatDims d = {.ta = ta, .tb = tb};
    d.M = ta ? mat_cols(a) : mat_rows(a);
    d.K = ta ? mat_rows(a) : mat_cols(a);
    d.N = tb ? mat_rows(b) : mat_cols(b);
    return d;
}

static MatDims matmul_dims(const Node *n)
{
    return mat_dims(&n->in[0]->out.shape, &n->in[1]->out.shape, attr_int(n, "trans_a") != 0,
                    attr_int(n, "trans_b") != 0);
}

/* The result's shape without a third input: a's leading dims + (N) when a is not transposed. */
static Shape natural_shape(const Shape *a, const MatDims *d)
{
    if (d->ta || a->ndim <= 2) return shape_of(2, d->M, d->N);
    Shape s = *a;
    s.dim[a->ndim - 1] = d->N;
    return s;
}

static int matmul_infer(Node *n, Error *err)
{
    const Shape *a = &n->in[0]->out.shape, *b = &n->in[1]->out.shape;
    char sa[96], sb[96];
    MatDims d = matmul_dims(n);
    int64_t kb = d.tb ? mat_cols(b) : mat_rows(b);
    if (a->ndim < 2 || b->ndim < 2 || d.K != kb)
        return err_set(err, "matmul expects matrices with matching inner sizes (trans_a=%d, trans_b=%d), got %s and %s",
                       d.ta, d.tb, shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
    if (n->n_in == 3) {
        const Shape *like = &n->in[2]->out.shape;
        if (shape_numel(like) != d.M * d.N || mat_cols(like) != d.N)
            return err_set(err, "matmul's result is %lld x %lld, which does not fit the shape %s of its third input",
                           (long long)d.M, (long long)d.N, shape_format(like, sa, sizeof sa));
        n->out.shape = *like;
    } else {
        n->out.shape = natural_shape(a, &d);
    }
    return 0;
}

static void matmul_forward(Graph *g, Node *n)
{
    MatDims d = matmul_dims(n);
    const Shape *a = &n->in[0]->out.shape, *b = &n->in[1]->out.shape;
    g->be->gemm(d.ta, d.tb, (int)d.M, (int)d.N, (int)d.K, 1.0f, n->in[0]->out.data, (int)mat_cols(a),
                n->in[1]->out.data, (int)mat_cols(b), 0.0f, n->out.data, (int)d.N);
}

/* A matmul node shaped like `target` (as a gradient must be). */
static Node *mm(Graph *g, Node *a, Node *b, bool ta, bool tb, Node *target, Error *err)
{
    AttrValue attrs[OP_MAX_ATTRS];
    if (attr_defaults(&op_matmul, attrs, err)) return NULL;
    attr_set_int(&op_matmul, attrs, "trans_a", ta);
    attr_set_int(&op_matmul, attrs, "trans_b", tb);
    Node *in[3] = {a, b, target};
    MatDims d = mat_dims(&a->out.shape, &b->out.shape, ta, tb);
    Shape natural = natural_shape(&a->out.shape, &d);
    return graph_op(g, "matmul", in, shape_equal(&natural, &target->out.shape) ? 2 : 3, attrs, NULL, err);
}

/* C = op(A) op(B); with G = dL/dC: dA and dB by the four transpose cases. */
static int matmul_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    Node *A = n->in[0], *B = n->in[1];
    MatDims d = matmul_dims(n);
    if (want[0]) {
        dx[0] = !d.ta ? mm(g, G, B, false, !d.tb, A, err) : mm(g, B, G, d.tb, true, A, err);
        if (!dx[0]) return -1;
    }
    if (want[1]) {
        dx[1] = !d.tb ? mm(g, A, G, !d.ta, false, B, err) : mm(g, G, A, true, d.ta, B, err);
        if (!dx[1]) return -1;
    }
    return 0;
}

static double matmul_flops(const Node *n)
{
    MatDims d = matmul_dims(n);
    return 2.0 * (double)d.M * (double)d.N * (double)d.K;
}

const Op op_matmul = {
    .name = "matmul",
    .summary = "matrix product op(a) . op(b) with optional transposes (linear's gradients)",
    .attrs = matmul_attrs,
    .n_attrs = N_ATTRS(matmul_attrs),
    .min_inputs = 2,
    .max_inputs = 3,
    .flags = OP_INTERNAL,
    .infer = matmul_infer,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .flops = matmul_flops,
};

/* ---- linear ------------------------------------------------------------------------------- */

static const AttrSchema linear_attrs[] = {
    {"out", ATTR_INT, 0, NULL, 1, 1 << 30, NULL, "output features"},
    {"bias", ATTR_BOOL, 0, "true", 1, 0, NULL, "learn an additive bias"},
};

static int linear_check_input(const Node *n, Error *err)
{
    const Shape *x = &n->in[0]->out.shape;
    char s[96];
    if (x->ndim < 2 || x->dim[x->ndim - 1] < 1)
        return err_set(err, "linear expects input (N, in) or (..., in), got %s", shape_format(x, s, sizeof s));
    return 0;
}

/* PyTorch's default: weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
static int linear_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    if (linear_check_input(n, err)) return -1;
    int64_t in = mat_cols(&n->in[0]->out.shape), out = attr_int(n, "out");
    double bound = 1.0 / sqrt((double)in);
    memset(decls, 0, 2 * sizeof *decls);
    strcpy(decls[0].name, "weight");
    decls[0].shape = shape_of(2, out, in);
    decls[0].is_weight = true;
    strcpy(decls[1].name, "bias");
    decls[1].shape = shape_of(1, out);
    decls[1].is_bias = true;
    for (int i = 0; i < 2; i++) {
        decls[i].init = (InitSpec){INIT_UNIFORM, -bound, bound};
        decls[i].fan_in = in;
        decls[i].fan_out = out;
    }
    *n_decls = attr_int(n, "bias") ? 2 : 1;
    return 0;
}

static int linear_infer(Node *n, Error *err)
{
    if (linear_check_input(n, err)) return -1;
    const Shape *x = &n->in[0]->out.shape;
    int64_t in = mat_cols(x), out = attr_int(n, "out");
    bool bias = attr_int(n, "bias") != 0;
    char a[96], b[96];
    if (n->n_in != (bias ? 3 : 2))
        return err_set(err, "linear expects its input, weight%s (%d inputs), got %d", bias ? " and bias" : "",
                       bias ? 3 : 2, n->n_in);
    Shape w = shape_of(2, out, in), bs = shape_of(1, out);
    if (!shape_equal(&n->in[1]->out.shape, &w))
        return err_set(err, "linear expects weight of shape %s, got %s", shape_format(&w, a, sizeof a),
                       shape_format(&n->in[1]->out.shape, b, sizeof b));
    if (bias && !shape_equal(&n->in[2]->out.shape, &bs))
        return err_set(err, "linear expects bias of shape %s, got %s", shape_format(&bs, a, sizeof a),
                       shape_format(&n->in[2]->out.shape, b, sizeof b));
    n->out.shape = *x;
    n->out.shape.dim[x->ndim - 1] = out;
    return 0;
}

static void linear_forward(Graph *g, Node *n)
{
    const Shape *x = &n->in[0]->out.shape;
    int in = (int)mat_cols(x), rows = (int)mat_rows(x), out = (int)attr_int(n, "out");
    g->be->gemm(false, true, rows, out, in, 1.0f, n->in[0]->out.data, in, n->in[1]->out.data, in, 0.0f,
                n->out.data, out);
    if (n->n_in > 2) g->be->bias_add(n->out.data, n->in[2]->out.data, rows, out, 1);
}

/* y = x w^T + b: dx = dy w, dw = dy^T x, db = column sums of dy. */
static int linear_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    Node *x = n->in[0], *w = n->in[1];
    if (want[0] && !(dx[0] = mm(g, dy, w, false, false, x, err))) return -1;
    if (want[1] && !(dx[1] = mm(g, dy, x, true, false, w, err))) return -1;
    if (n->n_in > 2 && want[2]) {
        AttrValue attrs[OP_MAX_ATTRS];
        if (attr_defaults(&op_channel_sum, attrs, err)) return -1;
        attr_set_int(&op_channel_sum, attrs, "axis", -1);
        if (!(dx[2] = graph_op(g, "channel_sum", &dy, 1, attrs, NULL, err))) return -1;
    }
    return 0;
}

static double linear_flops(const Node *n)
{
    const Shape *x = &n->in[0]->out.shape;
    return 2.0 * (double)mat_rows(x) * (double)mat_cols(x) * (double)attr_int(n, "out");
}

const Op op_linear = {
    .name = "linear",
    .summary = "fully connected layer (PyTorch's Linear): y = x w^T + b over the last axis",
    .attrs = linear_attrs,
    .n_attrs = N_ATTRS(linear_attrs),
    .min_inputs = 1,
    .max_inputs = 1,
    .declare_params = linear_declare,
    .infer = linear_infer,
    .forward = linear_forward,
    .backward = linear_backward,
    .flops = linear_flops,
};

/* ---- channel_sum / channel_broadcast ----------------------------------------------------- */

static const AttrSchema channel_attrs[] = {
    {"axis", ATTR_INT, 0, "1", -TENSOR_MAX_DIMS, TENSOR_MAX_DIMS - 1, NULL,
     "the kept axis (negative counts from the end)"},
};

/* The (outer, C, inner) view of shape s around the node's axis. */
static int channel_view(const Node *n, const Shape *s, int *outer, int *C, int *inner, Error *err)
{
    int axis = (int)attr_int(n, "axis");
    if (axis < 0) axis += s->ndim;
    char buf[96];
    if (axis < 0 || axis >= s->ndim)
        return err_set(err, "%s: axis %d is out of range for shape %s", n->op->name, (int)attr_int(n, "axis"),
                       shape_format(s, buf, sizeof buf));
    int64_t o = 1, i = 1;
    for (int d = 0; d < axis; d++) o *= s->dim[d];
    for (int d = axis + 1; d < s->ndim; d++) i *= s->dim[d];
    *outer = (int)o;
    *C = (int)s->dim[axis];
    *inner = (int)i;
    return 0;
}

static AttrValue *with_axis_of(const Node *n, const Op *op, AttrValue *attrs, Error *err)
{
    if (attr_defaults(op, attrs, err)) return NULL;
    attr_set_int(op, attrs, "axis", attr_int(n, "axis"));
    return attrs;
}

static int channel_sum_infer(Node *n, Error *err)
{
    int outer = 0, C = 0, inner = 0;
    if (channel_view(n, &n->in[0]->out.shape, &outer, &C, &inner, err)) return -1;
    n->out.shape = shape_of(1, (int64_t)C);
    return 0;
}

static void channel_sum_forward(Graph *g, Node *n)
{
    int outer = 0, C = 0, inner = 0;
    Error unused; /* validated by infer */
    channel_view(n, &n->in[0]->out.shape, &outer, &C, &inner, &unused);
    g->be->bias_grad(n->in[0]->out.data, n->out.data, outer, C, inner);
}

static int channel_sum_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    AttrValue attrs[OP_MAX_ATTRS];
    Node *in[2] = {G, n->in[0]};
    if (!want[0]) return 0;
    if (!with_axis_of(n, &op_channel_broadcast, attrs, err)) return -1;
    return (dx[0] = graph_op(g, "channel_broadcast", in, 2, attrs, NULL, err)) ? 0 : -1;
}

const Op op_channel_sum = {
    .name = "channel_sum",
    .summary = "sum over every axis but one (bias gradients)",
    .attrs = channel_attrs,
    .n_attrs = N_ATTRS(channel_attrs),
    .min_inputs = 1,
    .max_inputs = 1,
    .flags = OP_INTERNAL,
    .infer = channel_sum_infer,
    .forward = channel_sum_forward,
    .backward = channel_sum_backward,
};

static int channel_broadcast_infer(Node *n, Error *err)
{
    int outer = 0, C = 0, inner = 0;
    const Shape *c = &n->in[0]->out.shape;
    char a[96], b[96];
    if (channel_view(n, &n->in[1]->out.shape, &outer, &C, &inner, err)) return -1;
    if (c->ndim != 1 || c->dim[0] != C)
        return err_set(err, "channel_broadcast expects a vector of %d values for shape %s, got %s", C,
                       shape_format(&n->in[1]->out.shape, a, sizeof a), shape_format(c, b, sizeof b));
    n->out.shape = n->in[1]->out.shape;
    return 0;
}

static void channel_broadcast_forward(Graph *g, Node *n)
{
    int outer = 0, C = 0, inner = 0;
    Error unused; /* validated by infer */
    channel_view(n, &n->out.shape, &outer, &C, &inner, &unused);
    g->be->fill(n->out.data, tensor_numel(&n->out), 0.0f);
    g->be->bias_add(n->out.data, n->in[0]->out.data, outer, C, inner);
}

static int channel_broadcast_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    AttrValue attrs[OP_MAX_ATTRS];
    if (!want[0]) return 0; /* the second input gives only a shape */
    if (!with_axis_of(n, &op_channel_sum, attrs, err)) return -1;
    return (dx[0] = graph_op(g, "channel_sum", &G, 1, attrs, NULL, err)) ? 0 : -1;
}

const Op op_channel_broadcast = {
    .name = "channel_broadcast",
    .summary = "repeats a per-channel vector over the shape of its second input (channel_sum's adjoint)",
    .attrs = channel_attrs,
    .n_attrs = N_ATTRS(channel_attrs),
    .min_inputs = 2,
    .max_inputs = 2,
    .flags = OP_INTERNAL,
    .infer = channel_broadcast_infer,
    .forward = channel_broadcast_forward,
    .backward = channel_broadcast_backward,
};
