/* 2-D pooling as PyTorch's F.max_pool2d, F.avg_pool2d and F.adaptive_avg_pool2d, and their
 * gradient ops.
 *   max_pool2d(x):                  saves each window's argmax in aux[0] (int32) for backward
 *   max_pool2d_grad(dy, x[, fwd]):  dL/dx: dy routed to the argmax; with the forward node as
 *                                   third input its saved indices are reused, else recomputed
 *   avg_pool2d_grad(dy, x_like), adaptive_avg_pool2d_grad(dy, x_like): the adjoints of the
 *                                   (linear) average pools, shaped like x_like
 * A gradient op shares its pool's attributes.  Average pools are linear, so each one and its
 * adjoint are the other's backward: gradients of gradients need nothing else. */
#include "graph/ops/adjoint.h"

#include <string.h>

extern const Op op_max_pool2d, op_max_pool2d_grad, op_avg_pool2d, op_avg_pool2d_grad,
    op_adaptive_avg_pool2d, op_adaptive_avg_pool2d_grad;

#define POOL_ATTR(name, type, count, def, lo, hi, doc) {name, type, count, def, lo, hi, NULL, doc}

static const AttrSchema max_pool_attrs[] = {
    POOL_ATTR("kernel", ATTR_INTS, 2, NULL, 1, 1024, "window size [height, width] (a scalar: square)"),
    POOL_ATTR("stride", ATTR_INTS, 2, "0", 0, 1024, "step [height, width]; 0: the kernel size (PyTorch's default)"),
    POOL_ATTR("padding", ATTR_INTS, 2, "0", 0, 1024,
              "implicit -inf padding on each side [height, width], at most half the kernel"),
    POOL_ATTR("dilation", ATTR_INTS, 2, "1", 1, 1024, "spacing between window taps [height, width]"),
    POOL_ATTR("ceil_mode", ATTR_BOOL, 0, "false", 1, 0,
              "round the output size up (a last window may overhang the input), as PyTorch"),
};

static const AttrSchema avg_pool_attrs[] = {
    POOL_ATTR("kernel", ATTR_INTS, 2, NULL, 1, 1024, "window size [height, width] (a scalar: square)"),
    POOL_ATTR("stride", ATTR_INTS, 2, "0", 0, 1024, "step [height, width]; 0: the kernel size (PyTorch's default)"),
    POOL_ATTR("padding", ATTR_INTS, 2, "0", 0, 1024,
              "implicit zero padding on each side [height, width], at most half the kernel"),
    POOL_ATTR("ceil_mode", ATTR_BOOL, 0, "false", 1, 0,
              "round the output size up (a last window may overhang the input), as PyTorch"),
    POOL_ATTR("count_include_pad", ATTR_BOOL, 0, "true", 1, 0,
              "divide by the window size including padding (false: by the taps inside the input)"),
};

static const AttrSchema adaptive_attrs[] = {
    POOL_ATTR("output_size", ATTR_INTS, 2, NULL, 1, 65536, "output [height, width] (a scalar: square; 1: global average)"),
};

static int64_t attr_at(const Node *n, const char *name, int i) { return attr_get(n, name)->ints[i]; }

static bool is_grad_op(const Node *n)
{
    return n->op == &op_max_pool2d_grad || n->op == &op_avg_pool2d_grad || n->op == &op_adaptive_avg_pool2d_grad;
}

/* The pooled input: x for the pools, input 1 (x or x_like) for their gradient ops. */
static const Shape *pooled_input(const Node *n) { return &n->in[is_grad_op(n) ? 1 : 0]->out.shape; }

static int expect_4d(const Node *n, const Shape *x, Error *err)
{
    char s[96];
    if (x->ndim == 4 && shape_numel(x) > 0) return 0;
    return err_set(err, "%s expects a non-empty input (N, C, H, W), got %s", n->op->name, shape_format(x, s, sizeof s));
}

/* ---- window geometry (max and average pools) ---------------------------------------------- */

/* PyTorch's pooling_output_shape: floor or ceil division, and in ceil mode no window may start
 * beyond the input and its left padding. */
static int pool_out_size(int in, int k, int stride, int pad, int dil, bool ceil_mode)
{
    int num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    if (num < 0) return 0;
    int out = num / stride + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

static int pool_geom(const Node *n, const Shape *x, PoolGeom *g, Error *err)
{
    memset(g, 0, sizeof *g);
    if (expect_4d(n, x, err)) return -1;
    bool dilated = attr_index(n->op, "dilation") >= 0, ceil_mode = attr_int(n, "ceil_mode") != 0;
    g->N = (int)x->dim[0], g->C = (int)x->dim[1], g->H = (int)x->dim[2], g->W = (int)x->dim[3];
    g->kh = (int)attr_at(n, "kernel", 0), g->kw = (int)attr_at(n, "kernel", 1);
    g->stride_h = (int)attr_at(n, "stride", 0), g->stride_w = (int)attr_at(n, "stride", 1);
    if (g->stride_h == 0) g->stride_h = g->kh;
    if (g->stride_w == 0) g->stride_w = g->kw;
    g->pad_h = (int)attr_at(n, "padding", 0), g->pad_w = (int)attr_at(n, "padding", 1);
    g->dil_h = dilated ? (int)attr_at(n, "dilation", 0) : 1;
    g->dil_w = dilated ? (int)attr_at(n, "dilation", 1) : 1;
    g->count_include_pad = !dilated && attr_int(n, "count_include_pad");
    if (2 * g->pad_h > g->kh || 2 * g->pad_w > g->kw)
        return err_set(err, "%s expects padding at most half the kernel, got padding [%d, %d] with kernel [%d, %d]",
                       n->op->name, g->pad_h, g->pad_w, g->kh, g->kw);
    g->OH = pool_out_size(g->H, g->kh, g->stride_h, g->pad_h, g->dil_h, ceil_mode);
    g->OW = pool_out_size(g->W, g->kw, g->stride_w, g->pad_w, g->dil_w, ceil_mode);
    if (g->OH < 1 || g->OW < 1) {
        char s[96];
        return err_set(err, "%s: input %s is smaller than the window %dx%d (dilation %dx%d) after padding %dx%d",
                       n->op->name, shape_format(x, s, sizeof s), g->kh, g->kw, g->dil_h, g->dil_w, g->pad_h,
                       g->pad_w);
    }
    return 0;
}

/* The geometry of any window op node (validated by infer). */
static PoolGeom node_geom(const Node *n)
{
    PoolGeom g;
    Error unused;
    pool_geom(n, pooled_input(n), &g, &unused);
    return g;
}

/* ---- output shapes and the shared shape rules ---------------------------------------------- */

static int adaptive_shape(const Node *n, const Shape *x, Shape *y, Error *err)
{
    if (expect_4d(n, x, err)) return -1;
    *y = shape_of(4, x->dim[0], x->dim[1], attr_at(n, "output_size", 0), attr_at(n, "output_size", 1));
    return 0;
}

/* The pool's output shape for input x (any of the six ops). */
static int pooled_shape(const Node *n, const Shape *x, Shape *y, Error *err)
{
    if (n->op == &op_adaptive_avg_pool2d || n->op == &op_adaptive_avg_pool2d_grad) return adaptive_shape(n, x, y, err);
    PoolGeom g;
    if (pool_geom(n, x, &g, err)) return -1;
    *y = shape_of(4, (int64_t)g.N, (int64_t)g.C, (int64_t)g.OH, (int64_t)g.OW);
    return 0;
}

static int pool_infer(Node *n, Error *err) { return pooled_shape(n, &n->in[0]->out.shape, &n->out.shape, err); }

/* Gradient ops: (dy, x or x_like, ...) -> x's shape, dy shaped like the pool's output. */
static int grad_infer(Node *n, Error *err)
{
    Shape y;
    if (pooled_shape(n, &n->in[1]->out.shape, &y, err)) return -1;
    return grad_op_infer(n, &y, "pooled", err);
}

/* ---- max_pool2d -------------------------------------------------------------------------- */

static int max_infer(Node *n, Error *err)
{
    if (pool_infer(n, err)) return -1;
    n->n_aux = 1;
    n->aux_shape[0] = n->out.shape; /* argmax per output, int32 */
    return 0;
}

static void max_forward(Graph *gr, Node *n)
{
    PoolGeom g = node_geom(n);
    gr->be->max_pool2d_forward(&g, n->in[0]->out.data, n->out.data, (int32_t *)n->aux[0].data);
}

static int max_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    Node *in[3] = {dy, n->in[0], n}; /* n's aux holds the argmax of this step */
    return (dx[0] = graph_op(g, "max_pool2d_grad", in, 3, n->attr, NULL, err)) ? 0 : -1;
}

const Op op_max_pool2d = {
    .name = "max_pool2d",
    .summary = "2-D max pooling (PyTorch's MaxPool2d): kernel, stride, padding, dilation, ceil_mode",
    .attrs = max_pool_attrs,
    .n_attrs = N_ATTRS(max_pool_attrs),
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = max_infer,
    .forward = max_forward,
    .backward = max_backward,
};

/* ---- max_pool2d_grad(dy, x[, forward]) ------------------------------------------------------ */

static int max_grad_infer(Node *n, Error *err)
{
    if (grad_infer(n, err)) return -1;
    if (n->n_in == 3) {
        const Node *f = n->in[2];
        if (f->kind != NODE_OP || f->op != &op_max_pool2d || f->in[0] != n->in[1])
            return err_set(err, "max_pool2d_grad's third input must be the max_pool2d node of x");
        n->n_aux = 0;
        return 0;
    }
    n->n_aux = 2; /* pooled values (unused) and argmax, recomputed from x */
    n->aux_shape[0] = n->in[0]->out.shape;
    n->aux_shape[1] = n->in[0]->out.shape;
    return 0;
}

static void max_grad_forward(Graph *gr, Node *n)
{
    PoolGeom g = node_geom(n);
    int32_t *idx;
    if (n->n_in == 3) {
        idx = (int32_t *)n->in[2]->aux[0].data;
    } else {
        idx = (int32_t *)n->aux[1].data;
        gr->be->max_pool2d_forward(&g, n->in[1]->out.data, n->aux[0].data, idx);
    }
    gr->be->max_pool2d_backward(&g, n->in[0]->out.data, idx, n->out.data);
}

const Op op_max_pool2d_grad = {
    .name = "max_pool2d_grad",
    .summary = "gradient of max_pool2d with respect to its input: (dy, x[, max_pool2d node]) -> dx",
    .attrs = max_pool_attrs,
    .n_attrs = N_ATTRS(max_pool_attrs),
    .min_inputs = 2,
    .max_inputs = 3,
    .flags = OP_INTERNAL,
    .infer = max_grad_infer,
    .forward = max_grad_forward,
};

/* ---- avg_pool2d and avg_pool2d_grad(dy, x_like) ---------------------------------------------- */

static void avg_forward(Graph *gr, Node *n)
{
    PoolGeom g = node_geom(n);
    gr->be->avg_pool2d_forward(&g, n->in[0]->out.data, n->out.data);
}

static void avg_grad_forward(Graph *gr, Node *n)
{
    PoolGeom g = node_geom(n);
    gr->be->avg_pool2d_backward(&g, n->in[0]->out.data, n->out.data);
}

ADJOINT_PAIR(avg_pool2d, avg_pool_attrs,
             "2-D average pooling (PyTorch's AvgPool2d): kernel, stride, padding, ceil_mode, count_include_pad",
             pool_infer, avg_forward, grad_infer, avg_grad_forward);

/* ---- adaptive_avg_pool2d and adaptive_avg_pool2d_grad(dy, x_like) ------------------------------ */

static void adaptive_forward(Graph *gr, Node *n)
{
    const Shape *x = &n->in[0]->out.shape, *y = &n->out.shape;
    gr->be->adaptive_avg_pool2d_forward(n->in[0]->out.data, n->out.data, (int)(x->dim[0] * x->dim[1]),
                                        (int)x->dim[2], (int)x->dim[3], (int)y->dim[2], (int)y->dim[3]);
}

static void adaptive_grad_forward(Graph *gr, Node *n)
{
    const Shape *dy = &n->in[0]->out.shape, *x = &n->out.shape;
    gr->be->adaptive_avg_pool2d_backward(n->in[0]->out.data, n->out.data, (int)(x->dim[0] * x->dim[1]),
                                         (int)x->dim[2], (int)x->dim[3], (int)dy->dim[2], (int)dy->dim[3]);
}

ADJOINT_PAIR(adaptive_avg_pool2d, adaptive_attrs,
             "average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d); output_size 1: global",
             pool_infer, adaptive_forward, grad_infer, adaptive_grad_forward);
