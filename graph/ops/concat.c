/* concat(x0, x1, ...) along one dimension, and its adjoint slice(x) (a contiguous range of one
 * dimension), both as strided block copies: with the shape split as (outer, D, rest) around the
 * dimension, each input is `outer` rows of D_i * rest floats. */
#include "graph/ops/eltwise.h"

#include <stdio.h>

extern const Op op_concat, op_slice;

/* Dimension `d` (negative counts from the end) of an ndim-d tensor, or -1 if out of range. */
static int resolve_dim(int64_t d, int ndim)
{
    if (d < 0) d += ndim;
    return d >= 0 && d < ndim ? (int)d : -1;
}

static int64_t prod(const Shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= s->dim[i];
    return p;
}

/* ---- concat ---- */

static const AttrSchema concat_attrs[] = {
    {.name = "dim", .type = ATTR_INT, .default_text = "1", .min = -6, .max = 5,
     .doc = "dimension to join along (1: channels); negative counts from the end"},
};

static int concat_infer(Node *n, Error *err)
{
    const Shape *s0 = &n->in[0]->out.shape;
    int d = resolve_dim(attr_int(n, "dim"), s0->ndim);
    char a[96], b[96];
    if (d < 0)
        return err_set(err, "concat along dimension %lld needs inputs with more dimensions, got %s",
                       (long long)attr_int(n, "dim"), shape_format(s0, a, sizeof a));
    Shape out = *s0;
    for (int i = 1; i < n->n_in; i++) {
        const Shape *si = &n->in[i]->out.shape;
        bool ok = si->ndim == s0->ndim;
        for (int k = 0; ok && k < s0->ndim; k++) ok = k == d || si->dim[k] == s0->dim[k];
        if (!ok)
            return err_set(err, "concat expects inputs that match except in dimension %d, got %s "
                           "and %s", d, shape_format(s0, a, sizeof a), shape_format(si, b, sizeof b));
        out.dim[d] += si->dim[d];
    }
    n->out.shape = out;
    return 0;
}

static void concat_forward(Graph *g, Node *n)
{
    const Shape *s = &n->out.shape;
    int d = resolve_dim(attr_int(n, "dim"), s->ndim);
    int64_t outer = prod(s, 0, d), rest = prod(s, d + 1, s->ndim), at = 0;
    for (int i = 0; i < n->n_in; i++) {
        int64_t cols = n->in[i]->out.shape.dim[d] * rest;
        g->be->copy_block(n->out.data + at, (int)(s->dim[d] * rest), n->in[i]->out.data, (int)cols,
                          (int)outer, (int)cols);
        at += cols;
    }
}

Node *build_slice(Graph *g, Node *x, int dim, int64_t start, int64_t length, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_slice, a, err)) return NULL;
    attr_set_int(&op_slice, a, "dim", dim);
    attr_set_int(&op_slice, a, "start", start);
    attr_set_int(&op_slice, a, "length", length);
    return graph_op(g, "slice", &x, 1, a, NULL, err);
}

static int concat_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    int d = resolve_dim(attr_int(n, "dim"), n->out.shape.ndim);
    int64_t start = 0;
    for (int i = 0; i < n->n_in; i++) {
        int64_t len = n->in[i]->out.shape.dim[d];
        if (want[i] && !(dx[i] = build_slice(g, dy, d, start, len, err))) return -1;
        start += len;
    }
    return 0;
}

const Op op_concat = {
    .name = "concat", .summary = "joins its inputs along dimension dim",
    .attrs = concat_attrs, .n_attrs = 1, .min_inputs = 2, .max_inputs = NODE_MAX_INPUTS,
    .infer = concat_infer, .forward = concat_forward, .backward = concat_backward,
};

/* ---- slice: x[..., start:start+length, ...] along dim ---- */

static const AttrSchema slice_attrs[] = {
    {.name = "dim", .type = ATTR_INT, .default_text = "1", .min = -6, .max = 5, .doc = "dimension"},
    {.name = "start", .type = ATTR_INT, .default_text = "0", .min = 0, .max = 1e12, .doc = "first index"},
    {.name = "length", .type = ATTR_INT, .min = 1, .max = 1e12, .doc = "number of indices"},
};

static int slice_infer(Node *n, Error *err)
{
    const Shape *in = &n->in[0]->out.shape;
    int d = resolve_dim(attr_int(n, "dim"), in->ndim);
    int64_t start = attr_int(n, "start"), len = attr_int(n, "length");
    char a[96];
    if (d < 0 || start + len > in->dim[d])
        return err_set(err, "slice [%lld, %lld) of dimension %lld does not fit an input of shape %s",
                       (long long)start, (long long)(start + len), (long long)attr_int(n, "dim"),
                       shape_format(in, a, sizeof a));
    n->out.shape = *in;
    n->out.shape.dim[d] = len;
    return 0;
}

static void slice_forward(Graph *g, Node *n)
{
    const Shape *in = &n->in[0]->out.shape;
    int d = resolve_dim(attr_int(n, "dim"), in->ndim);
    int64_t outer = prod(in, 0, d), rest = prod(in, d + 1, in->ndim);
    int64_t cols = attr_int(n, "length") * rest;
    g->be->copy_block(n->out.data, (int)cols, n->in[0]->out.data + attr_int(n, "start") * rest,
                      (int)(in->dim[d] * rest), (int)outer, (int)cols);
}

/* The adjoint of a slice puts the gradient back between zeros: concat(0, G, 0). */
static int slice_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    Node *x = n->in[0];
    int d = resolve_dim(attr_int(n, "dim"), x->out.shape.ndim);
    int64_t start = attr_int(n, "start"), len = attr_int(n, "length"), full = x->out.shape.dim[d];
    if (start == 0 && len == full) return (dx[0] = G) ? 0 : -1;
    Node *zero = build_full_like(g, x, 0.0, err);
    if (!zero) return -1;
    Node *parts[3];
    int k = 0;
    if (start > 0 && !(parts[k++] = build_slice(g, zero, d, 0, start, err))) return -1;
    parts[k++] = G;
    if (start + len < full && !(parts[k++] = build_slice(g, zero, d, start + len, full - start - len, err)))
        return -1;
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_concat, a, err)) return -1;
    attr_set_int(&op_concat, a, "dim", d);
    return (dx[0] = graph_op(g, "concat", parts, k, a, NULL, err)) ? 0 : -1;
}

const Op op_slice = {
    .name = "slice", .summary = "a contiguous range [start, start+length) of dimension dim",
    .attrs = slice_attrs, .n_attrs = 3, .min_inputs = 1, .max_inputs = 1, .flags = OP_INTERNAL,
    .infer = slice_infer, .forward = slice_forward, .backward = slice_backward,
};
