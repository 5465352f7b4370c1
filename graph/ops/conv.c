/* 2-D convolutions and their gradient ops.
 *   conv2d(x, w[, b]):            x (N, C, H, W), w (K, C/groups, R, S) -> y (N, K, OH, OW)
 *   conv_transpose2d(x, w[, b]):  x (N, Cin, H, W), w (Cin, Cout/groups, R, S) -> (N, Cout, OH', OW'),
 *                                 the adjoint of conv2d from (N, Cout, OH', OW') to x's shape
 *   conv2d_grad_input(dy, w, x_like):  dL/dx of conv2d, shaped like x_like
 *   conv2d_grad_weight(x, dy, w_like): dL/dw of conv2d, shaped like w_like
 * The gradient ops share conv2d's attributes (so a conv2d node's attributes copy over) and are
 * linear in each of their data inputs, so their own backward is made of the same three ops:
 * gradients of gradients need nothing else. */
#include "graph/graph.h"

#include <math.h>
#include <string.h>

extern const Op op_conv2d, op_conv_transpose2d, op_conv2d_grad_input, op_conv2d_grad_weight;

#define CONV_ATTR(name, type, count, def, lo, hi, doc) {name, type, count, def, lo, hi, NULL, doc}

static const AttrSchema conv2d_attrs[] = {
    CONV_ATTR("out", ATTR_INT, 0, NULL, 1, 1 << 20, "output channels"),
    CONV_ATTR("kernel", ATTR_INTS, 2, NULL, 1, 1024, "kernel size [height, width] (a scalar: square)"),
    CONV_ATTR("stride", ATTR_INTS, 2, "1", 1, 1024, "stride [height, width]"),
    CONV_ATTR("padding", ATTR_INTS, 2, "0", 0, 1024, "zero padding on each side [height, width]"),
    CONV_ATTR("dilation", ATTR_INTS, 2, "1", 1, 1024, "spacing between kernel taps [height, width]"),
    CONV_ATTR("groups", ATTR_INT, 0, "1", 1, 1 << 20, "channel groups (in and out divisible by it)"),
    CONV_ATTR("bias", ATTR_BOOL, 0, "true", 1, 0, "learn an additive bias per output channel"),
};

static const AttrSchema conv_transpose2d_attrs[] = {
    CONV_ATTR("out", ATTR_INT, 0, NULL, 1, 1 << 20, "output channels"),
    CONV_ATTR("kernel", ATTR_INTS, 2, NULL, 1, 1024, "kernel size [height, width] (a scalar: square)"),
    CONV_ATTR("stride", ATTR_INTS, 2, "1", 1, 1024, "stride [height, width] (the upsampling factor)"),
    CONV_ATTR("padding", ATTR_INTS, 2, "0", 0, 1024, "removed from each side of the output [height, width]"),
    CONV_ATTR("output_padding", ATTR_INTS, 2, "0", 0, 1024,
              "added to one side of the output [height, width]; smaller than the stride"),
    CONV_ATTR("dilation", ATTR_INTS, 2, "1", 1, 1024, "spacing between kernel taps [height, width]"),
    CONV_ATTR("groups", ATTR_INT, 0, "1", 1, 1 << 20, "channel groups (in and out divisible by it)"),
    CONV_ATTR("bias", ATTR_BOOL, 0, "true", 1, 0, "learn an additive bias per output channel"),
};


static int64_t attr_at(const Node *n, const char *name, int i) { return attr_get(n, name)->ints[i]; }

/* ---- geometry ---------------------------------------------------------------------------- */

/* Kernel, stride, padding, dilation and groups from either schema (they share names). */
static void geom_attrs(const Node *n, ConvGeom *g)
{
    g->R = (int)attr_at(n, "kernel", 0);
    g->S = (int)attr_at(n, "kernel", 1);
    g->stride_h = (int)attr_at(n, "stride", 0);
    g->stride_w = (int)attr_at(n, "stride", 1);
    g->pad_h = (int)attr_at(n, "padding", 0);
    g->pad_w = (int)attr_at(n, "padding", 1);
    g->dil_h = (int)attr_at(n, "dilation", 0);
    g->dil_w = (int)attr_at(n, "dilation", 1);
    g->groups = (int)attr_int(n, "groups");
}

static int conv_out_size(int in, int k, int stride, int pad, int dil)
{
    int span = dil * (k - 1) + 1;
    return in + 2 * pad < span ? 0 : (in + 2 * pad - span) / stride + 1;
}

/* The geometry of the convolution whose input has shape x (conv2d and both gradient ops):
 * `what` names the op for messages. */
static int conv_geom(const Node *n, const Shape *x, const char *what, ConvGeom *g, Error *err)
{
    char s[96];
    memset(g, 0, sizeof *g);
    geom_attrs(n, g);
    g->K = (int)attr_int(n, "out");
    if (x->ndim != 4 || x->dim[1] % g->groups != 0)
        return err_set(err, "%s expects input (N, C, H, W) with C divisible by groups=%d, got %s", what,
                       g->groups, shape_format(x, s, sizeof s));
    if (g->K % g->groups != 0)
        return err_set(err, "%s expects out=%d divisible by groups=%d", what, g->K, g->groups);
    g->N = (int)x->dim[0];
    g->C = (int)x->dim[1];
    g->H = (int)x->dim[2];
    g->W = (int)x->dim[3];
    g->OH = conv_out_size(g->H, g->R, g->stride_h, g->pad_h, g->dil_h);
    g->OW = conv_out_size(g->W, g->S, g->stride_w, g->pad_w, g->dil_w);
    if (g->OH < 1 || g->OW < 1)
        return err_set(err, "%s: input %s is smaller than the dilated kernel %dx%d (dilation %dx%d) "
                       "after padding %dx%d", what, shape_format(x, s, sizeof s), g->R, g->S, g->dil_h,
                       g->dil_w, g->pad_h, g->pad_w);
    return 0;
}

/* conv_transpose2d's geometry: the convolution that maps its output back to its input x. */
static int transpose_geom(const Node *n, const Shape *x, ConvGeom *g, Error *err)
{
    char s[96];
    memset(g, 0, sizeof *g);
    geom_attrs(n, g);
    int cout = (int)attr_int(n, "out");
    if (x->ndim != 4 || x->dim[1] % g->groups != 0)
        return err_set(err, "conv_transpose2d expects input (N, C, H, W) with C divisible by groups=%d, got %s",
                       g->groups, shape_format(x, s, sizeof s));
    if (cout % g->groups != 0)
        return err_set(err, "conv_transpose2d expects out=%d divisible by groups=%d", cout, g->groups);
    int oph = (int)attr_at(n, "output_padding", 0), opw = (int)attr_at(n, "output_padding", 1);
    /* PyTorch also accepts output_padding < dilation; that output is not the adjoint of a
     * convolution of the same geometry, so it is left out. */
    if (oph >= g->stride_h || opw >= g->stride_w)
        return err_set(err, "conv_transpose2d expects output_padding smaller than stride, got [%d, %d] with stride [%d, %d]",
                       oph, opw, g->stride_h, g->stride_w);
    g->N = (int)x->dim[0];
    g->K = (int)x->dim[1];
    g->C = cout;
    g->OH = (int)x->dim[2];
    g->OW = (int)x->dim[3];
    g->H = (g->OH - 1) * g->stride_h - 2 * g->pad_h + g->dil_h * (g->R - 1) + oph + 1;
    g->W = (g->OW - 1) * g->stride_w - 2 * g->pad_w + g->dil_w * (g->S - 1) + opw + 1;
    if (g->H < 1 || g->W < 1)
        return err_set(err, "conv_transpose2d: padding [%d, %d] leaves no output for input %s", g->pad_h,
                       g->pad_w, shape_format(x, s, sizeof s));
    return 0;
}

static Shape shape4(int a, int b, int c, int d)
{
    return shape_of(4, (int64_t)a, (int64_t)b, (int64_t)c, (int64_t)d);
}

static Shape weight_shape(const ConvGeom *g) { return shape4(g->K, g->C / g->groups, g->R, g->S); }
static Shape input_shape(const ConvGeom *g) { return shape4(g->N, g->C, g->H, g->W); }
static Shape output_shape(const ConvGeom *g) { return shape4(g->N, g->K, g->OH, g->OW); }

static int expect_shape(const Node *n, int i, const Shape *want, const char *role, Error *err)
{
    if (shape_equal(&n->in[i]->out.shape, want)) return 0;
    char a[96], b[96];
    return err_set(err, "%s expects %s of shape %s, got %s", n->op->name, role, shape_format(want, a, sizeof a),
                   shape_format(&n->in[i]->out.shape, b, sizeof b));
}

/* Weight (and, when the bias attribute is on, bias) follow the data input. */
static int expect_params(const Node *n, const Shape *w, int channels, Error *err)
{
    int want = 2 + (attr_int(n, "bias") ? 1 : 0);
    if (n->n_in != want)
        return err_set(err, "%s expects its input, weight%s (%d inputs), got %d", n->op->name,
                       want == 3 ? " and bias" : "", want, n->n_in);
    if (expect_shape(n, 1, w, "weight", err)) return -1;
    Shape b = shape_of(1, (int64_t)channels);
    return want == 3 ? expect_shape(n, 2, &b, "bias", err) : 0;
}

/* The geometry of any of the four ops (validated by infer). */
static ConvGeom node_geom(const Node *n)
{
    ConvGeom g;
    Error unused;
    if (n->op == &op_conv_transpose2d)
        transpose_geom(n, &n->in[0]->out.shape, &g, &unused);
    else
        conv_geom(n, &n->in[n->op == &op_conv2d_grad_input ? 2 : 0]->out.shape, n->op->name, &g, &unused);
    return g;
}

/* Every pass of a convolution (forward, either gradient, the transpose) makes the same
 * multiply-adds: one per output element and weight tap of its group. */
static double conv_flops(const Node *n)
{
    ConvGeom g = node_geom(n);
    return 2.0 * g.N * g.K * g.OH * g.OW * (double)(g.C / g.groups) * g.R * g.S;
}

static size_t conv_workspace(const Node *n, const Backend *be)
{
    ConvGeom g = node_geom(n);
    return be->conv2d_workspace_bytes(&g);
}

/* PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight and the same bound for the bias,
 * both U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
static void declare_weight_bias(const Node *n, Shape w, int64_t fan_in, int64_t fan_out, int channels,
                                ParamDecl *decls, int *n_decls)
{
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    ParamDecl *d = &decls[0];
    memset(d, 0, sizeof *d);
    strcpy(d->name, "weight");
    d->shape = w;
    d->init = (InitSpec){INIT_UNIFORM, -bound, bound};
    d->fan_in = fan_in;
    d->fan_out = fan_out;
    d->is_weight = true;
    *n_decls = 1;
    if (!attr_int(n, "bias")) return;
    d = &decls[1];
    memset(d, 0, sizeof *d);
    strcpy(d->name, "bias");
    d->shape = shape_of(1, (int64_t)channels);
    d->init = (InitSpec){INIT_UNIFORM, -bound, bound};
    d->fan_in = fan_in;
    d->fan_out = fan_out;
    d->is_bias = true;
    *n_decls = 2;
}

/* Attributes of conv2d for the convolution behind node n (any of the four ops), bias off. */
static int conv_attrs_of(const Node *n, int out_channels, AttrValue *attrs, Error *err)
{
    if (attr_defaults(&op_conv2d, attrs, err)) return -1;
    static const char *const copied[] = {"kernel", "stride", "padding", "dilation"};
    for (int i = 0; i < 4; i++) {
        const AttrValue *v = attr_get(n, copied[i]);
        attr_set_ints(&op_conv2d, attrs, copied[i], v->ints, v->n);
    }
    attr_set_int(&op_conv2d, attrs, "groups", attr_int(n, "groups"));
    attr_set_int(&op_conv2d, attrs, "out", out_channels);
    attr_set_int(&op_conv2d, attrs, "bias", 0);
    return 0;
}

/* n's attributes with the bias off: gradients are convolutions without bias. */
static void attrs_no_bias(const Node *n, AttrValue *a)
{
    memcpy(a, n->attr, sizeof n->attr);
    attr_set_int(n->op, a, "bias", 0);
}

static Node *op3(Graph *g, const char *op, Node *a, Node *b, Node *c, const AttrValue *attrs, Error *err)
{
    Node *in[3] = {a, b, c};
    return graph_op(g, op, in, c ? 3 : 2, attrs, NULL, err);
}

/* ---- conv2d ------------------------------------------------------------------------------ */

static int conv2d_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    ConvGeom g;
    if (conv_geom(n, &n->in[0]->out.shape, "conv2d", &g, err)) return -1;
    int64_t rs = (int64_t)g.R * g.S;
    declare_weight_bias(n, weight_shape(&g), g.C / g.groups * rs, g.K * rs, g.K, decls, n_decls);
    return 0;
}

static int conv2d_infer(Node *n, Error *err)
{
    ConvGeom g;
    if (conv_geom(n, &n->in[0]->out.shape, "conv2d", &g, err)) return -1;
    Shape w = weight_shape(&g);
    if (expect_params(n, &w, g.K, err)) return -1;
    n->out.shape = output_shape(&g);
    return 0;
}

static void conv2d_forward(Graph *gr, Node *n)
{
    ConvGeom g = node_geom(n);
    const float *bias = n->n_in > 2 ? n->in[2]->out.data : NULL;
    gr->be->conv2d_forward(&g, n->in[0]->out.data, n->in[1]->out.data, bias, n->out.data, gr->workspace);
}

static int conv2d_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    attrs_no_bias(n, a);
    if (want[0] && !(dx[0] = op3(g, "conv2d_grad_input", dy, n->in[1], n->in[0], a, err))) return -1;
    if (want[1] && !(dx[1] = op3(g, "conv2d_grad_weight", n->in[0], dy, n->in[1], a, err))) return -1;
    if (n->n_in > 2 && want[2] && !(dx[2] = graph_op1(g, "channel_sum", dy, err))) return -1;
    return 0;
}

const Op op_conv2d = {
    .name = "conv2d",
    .summary = "2-D convolution (PyTorch's Conv2d): kernel, stride, padding, dilation, groups, bias",
    .attrs = conv2d_attrs,
    .n_attrs = N_ATTRS(conv2d_attrs),
    .min_inputs = 1,
    .max_inputs = 1,
    .declare_params = conv2d_declare,
    .infer = conv2d_infer,
    .forward = conv2d_forward,
    .backward = conv2d_backward,
    .workspace = conv_workspace,
    .flops = conv_flops,
};

/* ---- conv2d_grad_input(dy, w, x_like) ---------------------------------------------------- */

static int grad_input_infer(Node *n, Error *err)
{
    ConvGeom g;
    if (n->n_in != 3) return err_set(err, "conv2d_grad_input expects (dy, weight, input_like), got %d inputs", n->n_in);
    if (conv_geom(n, &n->in[2]->out.shape, "conv2d_grad_input", &g, err)) return -1;
    Shape y = output_shape(&g), w = weight_shape(&g);
    if (expect_shape(n, 0, &y, "dy", err) || expect_shape(n, 1, &w, "weight", err)) return -1;
    n->out.shape = input_shape(&g);
    return 0;
}

static void grad_input_forward(Graph *gr, Node *n)
{
    ConvGeom g = node_geom(n);
    gr->be->conv2d_backward_data(&g, n->in[0]->out.data, n->in[1]->out.data, n->out.data, gr->workspace);
}

/* out = conv^T(dy, w): d/d(dy) = conv(G, w), d/dw = grad_weight(G, dy). */
static int grad_input_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    attrs_no_bias(n, a);
    if (want[0] && !(dx[0] = op3(g, "conv2d", G, n->in[1], NULL, a, err))) return -1;
    if (want[1] && !(dx[1] = op3(g, "conv2d_grad_weight", G, n->in[0], n->in[1], a, err))) return -1;
    return 0;
}

const Op op_conv2d_grad_input = {
    .name = "conv2d_grad_input",
    .summary = "gradient of conv2d with respect to its input: (dy, weight, input_like) -> dx",
    .attrs = conv2d_attrs,
    .n_attrs = N_ATTRS(conv2d_attrs),
    .min_inputs = 3,
    .max_inputs = 3,
    .flags = OP_INTERNAL,
    .infer = grad_input_infer,
    .forward = grad_input_forward,
    .backward = grad_input_backward,
    .workspace = conv_workspace,
    .flops = conv_flops,
};

/* ---- conv2d_grad_weight(x, dy, w_like) --------------------------------------------------- */

static int grad_weight_infer(Node *n, Error *err)
{
    ConvGeom g;
    if (n->n_in != 3) return err_set(err, "conv2d_grad_weight expects (input, dy, weight_like), got %d inputs", n->n_in);
    if (conv_geom(n, &n->in[0]->out.shape, "conv2d_grad_weight", &g, err)) return -1;
    Shape y = output_shape(&g), w = weight_shape(&g);
    if (expect_shape(n, 1, &y, "dy", err) || expect_shape(n, 2, &w, "weight_like", err)) return -1;
    n->out.shape = w;
    return 0;
}

static void grad_weight_forward(Graph *gr, Node *n)
{
    ConvGeom g = node_geom(n);
    gr->be->conv2d_backward_filter(&g, n->in[0]->out.data, n->in[1]->out.data, n->out.data, gr->workspace);
}

/* out = sum_n dy (x) x: d/dx = grad_input(dy, G), d/d(dy) = conv(x, G). */
static int grad_weight_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    attrs_no_bias(n, a);
    if (want[0] && !(dx[0] = op3(g, "conv2d_grad_input", n->in[1], G, n->in[0], a, err))) return -1;
    if (want[1] && !(dx[1] = op3(g, "conv2d", n->in[0], G, NULL, a, err))) return -1;
    return 0;
}

const Op op_conv2d_grad_weight = {
    .name = "conv2d_grad_weight",
    .summary = "gradient of conv2d with respect to its weight: (input, dy, weight_like) -> dw",
    .attrs = conv2d_attrs,
    .n_attrs = N_ATTRS(conv2d_attrs),
    .min_inputs = 3,
    .max_inputs = 3,
    .flags = OP_INTERNAL,
    .infer = grad_weight_infer,
    .forward = grad_weight_forward,
    .backward = grad_weight_backward,
    .workspace = conv_workspace,
    .flops = conv_flops,
};

/* ---- conv_transpose2d -------------------------------------------------------------------- */

static int transpose_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    ConvGeom g;
    if (transpose_geom(n, &n->in[0]->out.shape, &g, err)) return -1;
    /* PyTorch's fan_in reads the weight's dimension 1: out/groups * R * S. */
    int64_t rs = (int64_t)g.R * g.S;
    declare_weight_bias(n, weight_shape(&g), g.C / g.groups * rs, g.K * rs, g.C, decls, n_decls);
    return 0;
}

static int transpose_infer(Node *n, Error *err)
{
    ConvGeom g;
    if (transpose_geom(n, &n->in[0]->out.shape, &g, err)) return -1;
    Shape w = weight_shape(&g);
    if (expect_params(n, &w, g.C, err)) return -1;
    n->out.shape = input_shape(&g);
    return 0;
}

static void transpose_forward(Graph *gr, Node *n)
{
    ConvGeom g = node_geom(n);
    gr->be->conv2d_backward_data(&g, n->in[0]->out.data, n->in[1]->out.data, n->out.data, gr->workspace);
    if (n->n_in > 2) gr->be->bias_add(n->out.data, n->in[2]->out.data, g.N, g.C, g.H * g.W);
}

/* y = conv^T(x, w) + b: dx = conv(dy, w), dw = grad_weight(dy, x), db = channel sums of dy. */
static int transpose_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (conv_attrs_of(n, (int)n->in[0]->out.shape.dim[1], a, err)) return -1;
    if (want[0] && !(dx[0] = op3(g, "conv2d", dy, n->in[1], NULL, a, err))) return -1;
    if (want[1] && !(dx[1] = op3(g, "conv2d_grad_weight", dy, n->in[0], n->in[1], a, err))) return -1;
    if (n->n_in > 2 && want[2] && !(dx[2] = graph_op1(g, "channel_sum", dy, err))) return -1;
    return 0;
}

const Op op_conv_transpose2d = {
    .name = "conv_transpose2d",
    .summary = "2-D transposed convolution (PyTorch's ConvTranspose2d), the adjoint of conv2d",
    .attrs = conv_transpose2d_attrs,
    .n_attrs = N_ATTRS(conv_transpose2d_attrs),
    .min_inputs = 1,
    .max_inputs = 1,
    .declare_params = transpose_declare,
    .infer = transpose_infer,
    .forward = transpose_forward,
    .backward = transpose_backward,
    .workspace = conv_workspace,
    .flops = conv_flops,
};
