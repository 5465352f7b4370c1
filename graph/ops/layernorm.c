/* Layer normalisation as PyTorch's LayerNorm: statistics per row over the trailing dimensions
 * given by normalized_shape (D values), then weight/bias per normalised element.  Viewed as
 * (R rows, D), the normalisation is batch normalisation with N = 1, C = R, inner = D, so the
 * backend's batchnorm primitives compute it.
 * Gradients are built from differentiable nodes, so the gradient of a gradient exists (the
 * WGAN-GP penalty differentiates through a critic's layer norms):
 *   layer_norm_grad(g, x) = r (g - mean(g) - xh mean(g xh))   (xh normalised x, r = 1/std)
 *   layer_norm_rstd(x)    = r per row
 *   row_sum(x), row_expand(s, like): sums over, and broadcasts along, the rows or the
 *   normalised columns of the (R, D) view. */
#include "graph/ops/eltwise.h"

#include <stdio.h>
#include <string.h>

extern const Op op_layer_norm, op_layer_norm_grad, op_row_sum, op_row_expand;

/* The (R, D) view of a tensor whose last k dimensions are normalised. */
static void rows_cols(const Shape *s, int k, int *R, int *D)
{
    int64_t d = 1;
    for (int i = s->ndim - k; i < s->ndim; i++) d *= s->dim[i];
    *D = (int)d;
    *R = (int)(shape_numel(s) / (d ? d : 1));
}

/* Number of normalised trailing dimensions of node n (its own attribute or normalized_shape). */
static int norm_dims(const Node *n)
{
    return n->op == &op_layer_norm ? attr_get(n, "normalized_shape")->n : (int)attr_int(n, "dims");
}

static const char *const axes_words[] = {"rows", "cols", NULL};

static bool over_cols(const Node *n) { return strcmp(attr_get(n, "axes")->s, "cols") == 0; }

static int check_dims(const Node *n, const Shape *s, int k, Error *err)
{
    char a[96];
    if (k < 1 || k >= s->ndim)
        return err_set(err, "%s normalises the last %d dimension(s), which needs an input with "
                       "more dimensions than that, got %s", n->op->name, k, shape_format(s, a, sizeof a));
    return 0;
}

/* ---- builders ---- */

static Node *build_rows(Graph *g, const char *op_name, Node *a, Node *b, int k, bool cols,
                        double alpha, Error *err)
{
    const Op *op = op_find(op_name);
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(op, v, err)) return NULL;
    attr_set_int(op, v, "dims", k);
    attr_set_float(op, v, "alpha", alpha);
    attr_set_string(op, v, "axes", cols ? "cols" : "rows");
    Node *in[2] = {a, b};
    return graph_op(g, op_name, in, b ? 2 : 1, v, NULL, err);
}

Node *build_row_sum(Graph *g, Node *x, int k, Error *err)
{
    return build_rows(g, "row_sum", x, NULL, k, false, 1.0, err);
}

/* x normalised over its last k dimensions (no affine). */
static Node *build_xhat(Graph *g, Node *x, int k, double eps, Error *err)
{
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(&op_layer_norm, v, err)) return NULL;
    const Shape *s = &x->out.shape;
    attr_set_ints(&op_layer_norm, v, "normalized_shape", s->dim + s->ndim - k, k);
    attr_set_float(&op_layer_norm, v, "eps", eps);
    attr_set_int(&op_layer_norm, v, "elementwise_affine", 0);
    return graph_op(g, "layer_norm", &x, 1, v, NULL, err);
}

static Node *build_ln_op(Graph *g, const char *op_name, Node *a, Node *b, int k, double eps,
                         Error *err)
{
    const Op *op = op_find(op_name);
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(op, v, err)) return NULL;
    attr_set_int(op, v, "dims", k);
    attr_set_float(op, v, "eps", eps);
    Node *in[2] = {a, b};
    return graph_op(g, op_name, in, b ? 2 : 1, v, NULL, err);
}

/* a * (s broadcast along the rows' D values). */
static Node *mul_rows(Graph *g, Node *a, Node *s, int k, Error *err)
{
    Node *e = build_rows(g, "row_expand", s, a, k, false, 1.0, err);
    return e ? graph_op2(g, "mul", a, e, err) : NULL;
}

/* ---- layer_norm(x, [weight, bias]) ---- */

static const AttrSchema layer_norm_attrs[] = {
    {.name = "normalized_shape", .type = ATTR_INTS, .count = 0, .min = 1, .max = 1e9,
     .doc = "the trailing dimensions normalised over, e.g. [C, H, W]"},
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1,
     .doc = "added to the variance"},
    {.name = "elementwise_affine", .type = ATTR_BOOL, .default_text = "true",
     .doc = "learnable weight and bias of normalized_shape"},
};

static int layer_norm_check(const Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    const AttrValue *ns = attr_get(n, "normalized_shape");
    bool ok = ns->n < s->ndim;
    for (int i = 0; ok && i < ns->n; i++) ok = ns->ints[i] == s->dim[s->ndim - ns->n + i];
    if (!ok) {
        char a[96], b[128] = "";
        for (int i = 0; i < ns->n; i++)
            snprintf(b + strlen(b), sizeof b - strlen(b), i ? ", %lld" : "%lld", (long long)ns->ints[i]);
        return err_set(err, "layer_norm over [%s] expects an input whose trailing dimensions are "
                       "those (after the batch dimension), got %s", b, shape_format(s, a, sizeof a));
    }
    return 0;
}

static int layer_norm_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    if (layer_norm_check(n, err)) return -1;
    *n_decls = 0;
    if (!attr_int(n, "elementwise_affine")) return 0;
    const AttrValue *ns = attr_get(n, "normalized_shape");
    for (int k = 0; k < 2; k++) {
        ParamDecl *d = &decls[k];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", k ? "bias" : "weight");
        d->shape = shape_make(ns->n, ns->ints);
        d->init.kind = k ? INIT_ZEROS : INIT_ONES;
        d->fan_in = d->fan_out = shape_numel(&d->shape);
        d->is_weight = !k;
        d->is_bias = k;
    }
    *n_decls = 2;
    return 0;
}

static int layer_norm_infer(Node *n, Error *err)
{
    if (layer_norm_check(n, err)) return -1;
    int affine = (int)attr_int(n, "elementwise_affine"), R, D;
    if (n->n_in != 1 + 2 * affine)
        return err_set(err, "layer_norm expects %d inputs (data and parameters), got %d",
                       1 + 2 * affine, n->n_in);
    const Shape *s = &n->in[0]->out.shape;
    rows_cols(s, norm_dims(n), &R, &D);
    for (int i = 1; i < n->n_in; i++)
        if (shape_numel(&n->in[i]->out.shape) != D)
            return err_set(err, "layer_norm parameter %d has %lld values, expected %d", i,
                           (long long)shape_numel(&n->in[i]->out.shape), D);
    n->out.shape = *s;
    n->n_aux = 2;
    n->aux_shape[0] = shape_of(2, (int64_t)2, (int64_t)R); /* mean, 1/std per row */
    n->aux_shape[1] = shape_of(2, (int64_t)2, (int64_t)D); /* zeros, ones */
    return 0;
}

static void layer_norm_forward(Graph *g, Node *n)
{
    const Backend *be = g->be;
    int R, D;
    rows_cols(&n->out.shape, norm_dims(n), &R, &D);
    float *stats = n->aux[0].data, *y = n->out.data;
    be->batchnorm_forward_train(n->in[0]->out.data, NULL, NULL, y, stats, stats + R, NULL, NULL, 1,
                                R, D, (float)attr_float(n, "eps"), 0.0f);
    if (n->n_in == 3) { /* y = xhat * weight + bias: an evaluation-mode batchnorm with mean 0, var 1 */
        float *zeros = n->aux[1].data, *ones = zeros + D;
        be->fill(zeros, (size_t)D, 0.0f);
        be->fill(ones, (size_t)D, 1.0f);
        be->batchnorm_forward_eval(y, n->in[1]->out.data, n->in[2]->out.data, y, zeros, ones, R, D,
                                   1, 0.0f);
    }
}

static int layer_norm_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    int k = norm_dims(n);
    double eps = attr_float(n, "eps");
    Node *x = n->in[0];
    bool affine = n->n_in == 3;
    Node *xh = affine ? NULL : n;
    if (affine && want[1] && !(xh = build_xhat(g, x, k, eps, err))) return -1;
    if (affine && want[2] && !(dx[2] = build_rows(g, "row_sum", G, NULL, k, true, 1.0, err)))
        return -1;
    if (affine && want[1]) {
        Node *t = graph_op2(g, "mul", G, xh, err);
        if (!t || !(dx[1] = build_rows(g, "row_sum", t, NULL, k, true, 1.0, err))) return -1;
    }
    if (!want[0]) return 0;
    Node *gw = G;
    if (affine) {
        Node *w = build_rows(g, "row_expand", n->in[1], x, k, true, 1.0, err);
        if (!w || !(gw = graph_op2(g, "mul", G, w, err))) return -1;
    }
    return (dx[0] = build_ln_op(g, "layer_norm_grad", gw, x, k, eps, err)) ? 0 : -1;
}

const Op op_layer_norm = {
    .name = "layer_norm", .summary = "layer normalisation over the trailing normalized_shape",
    .attrs = layer_norm_attrs, .n_attrs = 3, .min_inputs = 1, .max_inputs = 1,
    .declare_params = layer_norm_declare, .infer = layer_norm_infer,
    .forward = layer_norm_forward, .backward = layer_norm_backward,
};

/* ---- layer_norm_grad(g, x) and layer_norm_rstd(x) ---- */

static const AttrSchema ln_attrs[] = {
    {.name = "dims", .type = ATTR_INT, .min = 1, .max = 5, .doc = "normalised trailing dimensions"},
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1, .doc = "as layer_norm"},
};

static int ln_grad_infer(Node *n, Error *err)
{
    if (infer_same_shape(n, 0, 1, err) || check_dims(n, &n->out.shape, norm_dims(n), err)) return -1;
    int R, D;
    rows_cols(&n->out.shape, norm_dims(n), &R, &D);
    n->n_aux = 1;
    n->aux_shape[0] = shape_of(2, (int64_t)2, (int64_t)R);
    return 0;
}

static void ln_grad_forward(Graph *g, Node *n)
{
    int R, D;
    rows_cols(&n->out.shape, norm_dims(n), &R, &D);
    const float *x = n->in[1]->out.data;
    float *mean = n->aux[0].data, *rstd = mean + R;
    /* The statistics of x (its normalised values land in the output, overwritten next). */
    g->be->batchnorm_forward_train(x, NULL, NULL, n->out.data, mean, rstd, NULL, NULL, 1, R, D,
                                   (float)attr_float(n, "eps"), 0.0f);
    g->be->batchnorm_backward(n->in[0]->out.data, x, NULL, mean, rstd, n->out.data, NULL, NULL, 1,
                              R, D);
}

/* z = r (g - mean(g) - xh c), c = mean(g xh).  For an upstream H:
 *   d/dg = layer_norm_grad(H, x)   (the map g -> z is symmetric);
 *   d/dx = -r [ c layer_norm_grad(H, x) + mean(H z) xh + mean(H xh) z ]   (per-row means). */
static int ln_grad_backward(Graph *g, Node *n, Node *H, const bool *want, Node **dx, Error *err)
{
    int k = norm_dims(n), R, D;
    double eps = attr_float(n, "eps");
    Node *gin = n->in[0], *x = n->in[1];
    rows_cols(&x->out.shape, k, &R, &D);
    Node *L = build_ln_op(g, "layer_norm_grad", H, x, k, eps, err);
    if (!L) return -1;
    if (want[0]) dx[0] = L;
    if (!want[1]) return 0;
    Node *xh = build_xhat(g, x, k, eps, err), *gx, *hz, *hx, *c, *p, *q, *t, *u, *r;
    if (!xh || !(gx = graph_op2(g, "mul", gin, xh, err)) || !(hz = graph_op2(g, "mul", H, n, err)) ||
        !(hx = graph_op2(g, "mul", H, xh, err)))
        return -1;
    double inv = 1.0 / D;
    if (!(c = build_rows(g, "row_sum", gx, NULL, k, false, inv, err)) ||
        !(p = build_rows(g, "row_sum", hz, NULL, k, false, inv, err)) ||
        !(q = build_rows(g, "row_sum", hx, NULL, k, false, inv, err)))
        return -1;
    if (!(t = mul_rows(g, L, c, k, err)) || !(u = mul_rows(g, xh, p, k, err)) ||
        !(t = graph_op2(g, "add", t, u, err)) || !(u = mul_rows(g, n, q, k, err)) ||
        !(t = graph_op2(g, "add", t, u, err)))
        return -1;
    if (!(r = build_ln_op(g, "layer_norm_rstd", x, NULL, k, eps, err)) || !(t = mul_rows(g, t, r, k, err)))
        return -1;
    return (dx[1] = build_scale(g, t, -1.0, 0.0, err)) ? 0 : -1;
}

const Op op_layer_norm_grad = {
    .name = "layer_norm_grad", .summary = "input gradient of layer normalisation without affine",
    .attrs = ln_attrs, .n_attrs = 2, .min_inputs = 2, .max_inputs = 2, .flags = OP_INTERNAL,
    .infer = ln_grad_infer, .forward = ln_grad_forward, .backward = ln_grad_backward,
};

static int rstd_infer(Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    int k = norm_dims(n);
    if (check_dims(n, s, k, err)) return -1;
    n->out.shape = shape_make(s->ndim - k, s->dim);
    n->n_aux = 1;
    n->aux_shape[0] = n->out.shape; /* row means */
    n->workspace_bytes = (size_t)shape_numel(s) * sizeof(float);
    return 0;
}

static void rstd_forward(Graph *g, Node *n)
{
    int R, D;
    rows_cols(&n->in[0]->out.shape, norm_dims(n), &R, &D);
    g->be->batchnorm_forward_train(n->in[0]->out.data, NULL, NULL, g->workspace, n->aux[0].data,
                                   n->out.data, NULL, NULL, 1, R, D, (float)attr_float(n, "eps"), 0.0f);
}

/* dr/dx = -r^3 (x - mean) / D = -(r^2 / D) xh. */
static int rstd_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    int k = norm_dims(n), R, D;
    Node *x = n->in[0];
    rows_cols(&x->out.shape, k, &R, &D);
    Node *r2 = graph_op1(g, "square", n, err), *t, *e, *xh;
    if (!r2 || !(t = graph_op2(g, "mul", G, r2, err)) ||
        !(e = build_rows(g, "row_expand", t, x, k, false, -1.0 / D, err)) ||
        !(xh = build_xhat(g, x, k, attr_float(n, "eps"), err)))
        return -1;
    return (dx[0] = graph_op2(g, "mul", e, xh, err)) ? 0 : -1;
}

const Op op_layer_norm_rstd = {
    .name = "layer_norm_rstd", .summary = "1/sqrt(var + eps) per row of the trailing dims",
    .attrs = ln_attrs, .n_attrs = 2, .min_inputs = 1, .max_inputs = 1, .flags = OP_INTERNAL,
    .infer = rstd_infer, .forward = rstd_forward, .backward = rstd_backward,
};

/* ---- row_sum(x) and row_expand(s, like) on the (R, D) view ---- */

static const AttrSchema rows_attrs[] = {
    {.name = "dims", .type = ATTR_INT, .min = 1, .max = 5, .doc = "trailing dimensions forming D"},
    {.name = "axes", .type = ATTR_STRING, .choices = axes_words, .default_text = "rows",
     .doc = "rows: one value per row (sum over D); cols: one value per column (sum over R)"},
    {.name = "alpha", .type = ATTR_FLOAT, .default_text = "1", .min = 1, .max = 0, .doc = "factor"},
};

/* The reduced shape of `full`: its leading dims (rows) or trailing k dims (cols). */
static Shape reduced_shape(const Shape *full, int k, bool cols)
{
    return cols ? shape_make(k, full->dim + full->ndim - k) : shape_make(full->ndim - k, full->dim);
}

static int row_sum_infer(Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    if (check_dims(n, s, norm_dims(n), err)) return -1;
    n->out.shape = reduced_shape(s, norm_dims(n), over_cols(n));
    return 0;
}

static void row_sum_forward(Graph *g, Node *n)
{
    int R, D;
    rows_cols(&n->in[0]->out.shape, norm_dims(n), &R, &D);
    if (over_cols(n)) g->be->bias_grad(n->in[0]->out.data, n->out.data, R, D, 1);
    else g->be->bias_grad(n->in[0]->out.data, n->out.data, 1, R, D);
    float alpha = (float)attr_float(n, "alpha");
    if (alpha != 1.0f) g->be->scale_shift(tensor_numel(&n->out), alpha, n->out.data, 0.0f, n->out.data);
}

static int row_sum_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_rows(g, "row_expand", G, n->in[0], norm_dims(n), over_cols(n),
                                        attr_float(n, "alpha"), err)))
        return -1;
    return 0;
}

const Op op_row_sum = {
    .name = "row_sum", .summary = "alpha * sums over the rows or columns of the (R, D) view",
    .attrs = rows_attrs, .n_attrs = 3, .min_inputs = 1, .max_inputs = 1, .flags = OP_INTERNAL,
    .infer = row_sum_infer, .forward = row_sum_forward, .backward = row_sum_backward,
};

static int row_expand_infer(Node *n, Error *err)
{
    const Shape *like = &n->in[1]->out.shape;
    int k = norm_dims(n);
    if (check_dims(n, like, k, err)) return -1;
    Shape want = reduced_shape(like, k, over_cols(n));
    if (shape_numel(&n->in[0]->out.shape) != shape_numel(&want)) {
        char a[96], b[96];
        return err_set(err, "row_expand expects %s values to broadcast, got %s",
                       shape_format(&want, a, sizeof a), shape_format(&n->in[0]->out.shape, b, sizeof b));
    }
    n->out.shape = *like;
    return 0;
}

static void row_expand_forward(Graph *g, Node *n)
{
    int R, D;
    rows_cols(&n->out.shape, norm_dims(n), &R, &D);
    size_t count = tensor_numel(&n->out);
    g->be->fill(n->out.data, count, 0.0f);
    if (over_cols(n)) g->be->bias_add(n->out.data, n->in[0]->out.data, R, D, 1);
    else g->be->bias_add(n->out.data, n->in[0]->out.data, 1, R, D);
    float alpha = (float)attr_float(n, "alpha");
    if (alpha != 1.0f) g->be->scale_shift(count, alpha, n->out.data, 0.0f, n->out.data);
}

/* The adjoint of a broadcast is the sum; `like` only gives the shape. */
static int row_expand_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    Node *s = build_rows(g, "row_sum", G, NULL, norm_dims(n), over_cols(n), attr_float(n, "alpha"), err);
    if (s && !shape_equal(&s->out.shape, &n->in[0]->out.shape))
        s = build_reshape(g, s, &n->in[0]->out.shape, err);
    return (dx[0] = s) ? 0 : -1;
}

const Op op_row_expand = {
    .name = "row_expand", .summary = "alpha * s broadcast along the rows or columns of like",
    .attrs = rows_attrs, .n_attrs = 3, .min_inputs = 2, .max_inputs = 2, .flags = OP_INTERNAL,
    .infer = row_expand_infer, .forward = row_expand_forward, .backward = row_expand_backward,
};
