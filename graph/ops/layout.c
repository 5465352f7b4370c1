/* Layout ops: views (reshape, flatten, detach: the planner points their output at the input's
 * memory, so forward does nothing) and pixel_shuffle/pixel_unshuffle.  concat and slice live in
 * graph/ops/concat.c. */
#include "graph/ops/eltwise.h"

#include <stdio.h>

extern const Op op_pixel_shuffle, op_pixel_unshuffle;

static void view_forward(Graph *g, Node *n) { (void)g, (void)n; }

/* Views go back to the input's shape. */
static int view_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_reshape(g, dy, &n->in[0]->out.shape, err))) return -1;
    return 0;
}

/* ---- reshape: (N, ...) -> (N, shape...), one entry may be -1 ---- */

static const AttrSchema reshape_attrs[] = {
    {.name = "shape", .type = ATTR_INTS, .count = 0, .min = -1, .max = 1e12,
     .doc = "output shape without the batch dimension; one entry may be -1"},
};

static int reshape_infer(Node *n, Error *err)
{
    const Shape *in = &n->in[0]->out.shape;
    const AttrValue *s = attr_get(n, "shape");
    char a[96], b[96];
    if (in->ndim < 1 || s->n + 1 > TENSOR_MAX_DIMS)
        return err_set(err, "reshape supports up to %d dimensions", TENSOR_MAX_DIMS);
    int64_t per_sample = shape_numel(in) / (in->dim[0] ? in->dim[0] : 1), known = 1;
    int infer_at = -1;
    Shape out = {.ndim = s->n + 1, .dim = {in->dim[0]}};
    for (int i = 0; i < s->n; i++) {
        out.dim[i + 1] = s->ints[i];
        if (s->ints[i] == -1) {
            if (infer_at >= 0) return err_set(err, "reshape accepts at most one -1 in its shape");
            infer_at = i + 1;
        } else if (s->ints[i] <= 0) {
            return err_set(err, "reshape expects positive sizes (or one -1), got %lld",
                           (long long)s->ints[i]);
        } else {
            known *= s->ints[i];
        }
    }
    if (infer_at >= 0 && known > 0 && per_sample % known == 0) out.dim[infer_at] = per_sample / known;
    if (shape_numel(&out) != shape_numel(in) || (infer_at >= 0 && per_sample % known))
        return err_set(err, "reshape expects a shape holding %lld values per sample (input %s), "
                       "got %s", (long long)per_sample, shape_format(in, a, sizeof a),
                       shape_format(&out, b, sizeof b));
    n->out.shape = out;
    return 0;
}

const Op op_reshape = {
    .name = "reshape", .summary = "view with a new shape (batch dimension kept)",
    .attrs = reshape_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1, .flags = OP_VIEW,
    .infer = reshape_infer, .forward = view_forward, .backward = view_backward,
};

/* ---- flatten: merges dimensions start_dim..end_dim ---- */

static const AttrSchema flatten_attrs[] = {
    {.name = "start_dim", .type = ATTR_INT, .default_text = "1", .min = 1, .max = 5,
     .doc = "first dimension merged (the batch dimension 0 is kept)"},
    {.name = "end_dim", .type = ATTR_INT, .default_text = "-1", .min = -5, .max = 5,
     .doc = "last dimension merged; negative counts from the end"},
};

static int flatten_infer(Node *n, Error *err)
{
    const Shape *in = &n->in[0]->out.shape;
    int start = (int)attr_int(n, "start_dim"), end = (int)attr_int(n, "end_dim");
    if (end < 0) end += in->ndim;
    if (start >= in->ndim || end < start || end >= in->ndim) {
        char a[96];
        return err_set(err, "flatten(start_dim=%d, end_dim=%d) does not fit an input of shape %s",
                       (int)attr_int(n, "start_dim"), (int)attr_int(n, "end_dim"),
                       shape_format(in, a, sizeof a));
    }
    Shape out = {.ndim = 0};
    for (int i = 0; i < in->ndim; i++) {
        if (i <= start || i > end) out.dim[out.ndim++] = in->dim[i];
        else out.dim[out.ndim - 1] *= in->dim[i];
    }
    n->out.shape = out;
    return 0;
}

const Op op_flatten = {
    .name = "flatten", .summary = "merges dimensions start_dim..end_dim (a view)",
    .attrs = flatten_attrs, .n_attrs = 2, .min_inputs = 1, .max_inputs = 1, .flags = OP_VIEW,
    .infer = flatten_infer, .forward = view_forward, .backward = view_backward,
};

/* ---- detach: the same values, no gradient ---- */

static int same_infer(Node *n, Error *err)
{
    (void)err;
    n->out.shape = n->in[0]->out.shape;
    return 0;
}

const Op op_detach = {
    .name = "detach", .summary = "the input's values with no gradient flowing back",
    .min_inputs = 1, .max_inputs = 1, .flags = OP_VIEW,
    .infer = same_infer, .forward = view_forward, .backward = no_gradient,
};

/* ---- pixel_shuffle (N, C*r*r, H, W) -> (N, C, H*r, W*r) and its inverse ---- */

static const AttrSchema shuffle_attrs[] = {
    {.name = "upscale_factor", .type = ATTR_INT, .min = 1, .max = 64, .doc = "r"},
};
static const AttrSchema unshuffle_attrs[] = {
    {.name = "downscale_factor", .type = ATTR_INT, .min = 1, .max = 64, .doc = "r"},
};

static int factor_of(const Node *n)
{
    return (int)(n->op == &op_pixel_shuffle ? attr_int(n, "upscale_factor")
                                            : attr_int(n, "downscale_factor"));
}

static int shuffle_infer(Node *n, Error *err)
{
    const Shape *in = &n->in[0]->out.shape;
    int64_t r = factor_of(n);
    char a[96];
    if (in->ndim != 4)
        return err_set(err, "%s expects a 4-d input (N, C, H, W), got %s", n->op->name,
                       shape_format(in, a, sizeof a));
    if (n->op == &op_pixel_shuffle) {
        if (in->dim[1] % (r * r))
            return err_set(err, "pixel_shuffle(%lld) expects channels divisible by %lld, got %lld",
                           (long long)r, (long long)(r * r), (long long)in->dim[1]);
        n->out.shape = shape_of(4, in->dim[0], in->dim[1] / (r * r), in->dim[2] * r, in->dim[3] * r);
    } else {
        if (in->dim[2] % r || in->dim[3] % r)
            return err_set(err, "pixel_unshuffle(%lld) expects height and width divisible by %lld, "
                           "got %lldx%lld", (long long)r, (long long)r, (long long)in->dim[2],
                           (long long)in->dim[3]);
        n->out.shape = shape_of(4, in->dim[0], in->dim[1] * r * r, in->dim[2] / r, in->dim[3] / r);
    }
    return 0;
}

static void shuffle_forward(Graph *g, Node *n)
{
    int r = factor_of(n);
    const Shape *y = &n->out.shape, *x = &n->in[0]->out.shape;
    if (n->op == &op_pixel_shuffle)
        g->be->pixel_shuffle(n->in[0]->out.data, n->out.data, (int)x->dim[0], (int)y->dim[1],
                             (int)x->dim[2], (int)x->dim[3], r);
    else
        g->be->pixel_unshuffle(n->in[0]->out.data, n->out.data, (int)x->dim[0], (int)x->dim[1],
                               (int)y->dim[2], (int)y->dim[3], r);
}

/* A permutation: the gradient is the inverse permutation. */
static int shuffle_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    const Op *inv = n->op == &op_pixel_shuffle ? &op_pixel_unshuffle : &op_pixel_shuffle;
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(inv, a, err)) return -1;
    attr_set_int(inv, a, inv->attrs[0].name, factor_of(n));
    return (dx[0] = graph_op(g, inv->name, &dy, 1, a, NULL, err)) ? 0 : -1;
}

const Op op_pixel_shuffle = {
    .name = "pixel_shuffle", .summary = "(N, C*r*r, H, W) -> (N, C, H*r, W*r) as PyTorch",
    .attrs = shuffle_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1,
    .infer = shuffle_infer, .forward = shuffle_forward, .backward = shuffle_backward,
};

const Op op_pixel_unshuffle = {
    .name = "pixel_unshuffle", .summary = "(N, C, H*r, W*r) -> (N, C*r*r, H, W), inverse of pixel_shuffle",
    .attrs = unshuffle_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 1,
    .infer = shuffle_infer, .forward = shuffle_forward, .backward = shuffle_backward,
};
