/* Group normalisation as PyTorch's GroupNorm: the C channels of an (N, C, *) input fall into
 * `groups` groups of C/groups consecutive channels; each (sample, group) is normalised with its
 * own mean and biased variance over its channels and positions, then scaled and shifted per
 * channel (weight ones, bias zeros, as PyTorch initialises them).  groups = 1 normalises each
 * sample as a whole (layer_norm over (C, *) with per-channel affine), groups = C each channel
 * of each sample (instance norm).
 * Gradients: one group_norm_grad node reads dy and x once for dx, dweight and dbias together
 * (from the statistics the forward node saved); it returns dx and keeps the parameters' gradients
 * in its aux, which two small group_norm_grad nodes (`summed`) hand on.  Like batch norm's, they
 * are not differentiated again. */
#include "graph/ops/eltwise.h"

#include <stdio.h>
#include <string.h>

extern const Op op_group_norm, op_group_norm_grad;

/* (N, C, inner) view of an input (N, C, *). */
static void gn_dims(const Shape *s, int *N, int *C, int *inner)
{
    *N = (int)s->dim[0];
    *C = (int)s->dim[1];
    *inner = (int)(shape_numel(s) / (s->dim[0] * s->dim[1]));
}

static int gn_check_input(const Node *n, const Shape *s, Error *err)
{
    int64_t G = attr_int(n, "groups");
    char a[96];
    if (s->ndim < 2 || shape_numel(s) == 0)
        return err_set(err, "%s expects a non-empty input (N, C, ...), got %s", n->op->name,
                       shape_format(s, a, sizeof a));
    if (s->dim[1] % G != 0)
        return err_set(err, "%s with %lld groups expects an input (N, C, ...) whose channel count C is "
                       "divisible by %lld, got C = %lld", n->op->name, (long long)G, (long long)G,
                       (long long)s->dim[1]);
    return 0;
}

/* The statistics aux: mean and 1/std per (sample, group). */
static Shape stats_shape(const Node *n, const Shape *x)
{
    return shape_of(2, (int64_t)2, x->dim[0] * attr_int(n, "groups"));
}

/* ---- group_norm(x, [weight, bias]) ---- */

static const AttrSchema group_norm_attrs[] = {
    {.name = "groups", .type = ATTR_INT, .min = 1, .max = 1 << 30,
     .doc = "number of groups; the channel count must be divisible by it"},
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1,
     .doc = "added to the variance"},
    {.name = "affine", .type = ATTR_BOOL, .default_text = "true",
     .doc = "learnable per-channel weight (ones) and bias (zeros)"},
};

/* Only what the parameters' shape needs: infer reports the rest with the input shapes. */
static int group_norm_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    char a[96];
    if (s->ndim < 2)
        return err_set(err, "group_norm expects an input (N, C, ...), got %s", shape_format(s, a, sizeof a));
    *n_decls = 0;
    if (!attr_int(n, "affine")) return 0;
    for (int k = 0; k < 2; k++) {
        ParamDecl *d = &decls[k];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", k ? "bias" : "weight");
        d->shape = shape_of(1, s->dim[1]);
        d->init.kind = k ? INIT_ZEROS : INIT_ONES;
        d->fan_in = d->fan_out = s->dim[1];
        d->is_weight = !k;
        d->is_bias = k;
    }
    *n_decls = 2;
    return 0;
}

static int group_norm_infer(Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    if (gn_check_input(n, s, err)) return -1;
    int want = attr_int(n, "affine") ? 3 : 1;
    if (n->n_in != want)
        return err_set(err, "group_norm expects %d inputs (data and parameters), got %d", want, n->n_in);
    for (int i = 1; i < n->n_in; i++)
        if (shape_numel(&n->in[i]->out.shape) != s->dim[1])
            return err_set(err, "group_norm parameter %d has %lld values, expected one per channel (%lld)",
                           i, (long long)shape_numel(&n->in[i]->out.shape), (long long)s->dim[1]);
    n->out.shape = *s;
    n->n_aux = 1;
    n->aux_shape[0] = stats_shape(n, s);
    return 0;
}

static void group_norm_forward(Graph *g, Node *n)
{
    int N, C, inner, G = (int)attr_int(n, "groups");
    gn_dims(&n->out.shape, &N, &C, &inner);
    float *stats = n->aux[0].data;
    bool affine = n->n_in == 3;
    g->be->group_norm_forward(n->in[0]->out.data, affine ? n->in[1]->out.data : NULL,
                              affine ? n->in[2]->out.data : NULL, n->out.data, stats, stats + N * G, N,
                              C, inner, G, (float)attr_float(n, "eps"));
}

/* group_norm_grad's outputs, in the order of group_norm's inputs. */
static const char *const gn_outputs[] = {"input", "weight", "bias", NULL};

static AttrValue *gn_grad_attrs_of(const Node *n, const char *output, AttrValue *a, Error *err)
{
    const Op *op = &op_group_norm_grad;
    if (attr_defaults(op, a, err)) return NULL;
    attr_set_string(op, a, "output", output);
    attr_set_int(op, a, "groups", attr_int(n, "groups"));
    attr_set_float(op, a, "eps", attr_float(n, "eps"));
    attr_set_int(op, a, "affine", n->n_in == 3);
    return a;
}

/* group_norm_grad(dy, x, [weight], n) for one output ("input", "weight" or "bias"). */
static Node *build_gn_grad(Graph *g, Node *n, Node *dy, const char *output, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (!gn_grad_attrs_of(n, output, a, err)) return NULL;
    attr_set_int(&op_group_norm_grad, a, "saved_stats", 1);
    Node *in[4] = {dy, n->in[0]};
    int k = 2;
    if (n->n_in == 3) in[k++] = n->in[1];
    in[k++] = n; /* its aux holds this step's statistics */
    return graph_op(g, "group_norm_grad", in, k, a, NULL, err);
}

/* The weight's or bias's gradient that the dx node `dxn` summed in its pass. */
static Node *build_gn_summed(Graph *g, Node *n, Node *dxn, const char *output, Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (!gn_grad_attrs_of(n, output, a, err)) return NULL;
    attr_set_int(&op_group_norm_grad, a, "summed", 1);
    return graph_op(g, "group_norm_grad", &dxn, 1, a, NULL, err);
}

static int group_norm_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_gn_grad(g, n, dy, gn_outputs[0], err))) return -1;
    for (int k = 1; k < n->n_in; k++) {
        if (!want[k]) continue;
        /* Without dx (x needs no gradient) each parameter's gradient makes its own pass. */
        dx[k] = want[0] ? build_gn_summed(g, n, dx[0], gn_outputs[k], err) : build_gn_grad(g, n, dy, gn_outputs[k], err);
        if (!dx[k]) return -1;
    }
    return 0;
}

const Op op_group_norm = {
    .name = "group_norm", .summary = "group normalisation of (N, C, ...) as PyTorch's GroupNorm",
    .attrs = group_norm_attrs, .n_attrs = 3, .min_inputs = 1, .max_inputs = 1,
    .declare_params = group_norm_declare, .infer = group_norm_infer,
    .forward = group_norm_forward, .backward = group_norm_backward,
};

/* ---- group_norm_grad(dy, x, [weight], [forward]) or group_norm_grad(dx_node) ----
 * dx, dweight or dbias.  The statistics come from the forward group_norm node (saved_stats, as
 * backward builds it) or are recomputed from x, so the op also stands alone.  The dx node also
 * sums dweight and dbias (affine) into its aux[1] = (2, C); a `summed` node, whose one input is
 * that dx node, copies one of them out. */

static const AttrSchema gn_grad_attrs[] = {
    {.name = "output", .type = ATTR_STRING, .choices = gn_outputs, .doc = "which gradient"},
    {.name = "groups", .type = ATTR_INT, .min = 1, .max = 1 << 30, .doc = "as group_norm"},
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1, .doc = "as group_norm"},
    {.name = "affine", .type = ATTR_BOOL, .default_text = "true", .doc = "a weight input is given"},
    {.name = "saved_stats", .type = ATTR_BOOL, .default_text = "false",
     .doc = "the last input is the forward group_norm node, whose statistics are reused"},
    {.name = "summed", .type = ATTR_BOOL, .default_text = "false",
     .doc = "weight or bias: the only input is the group_norm_grad node of dx, which summed it already"},
};

typedef enum GnOutput { GN_DX, GN_DWEIGHT, GN_DBIAS } GnOutput;

static GnOutput gn_output(const Node *n)
{
    const char *o = attr_get(n, "output")->s;
    return o[0] == 'i' ? GN_DX : o[0] == 'w' ? GN_DWEIGHT : GN_DBIAS;
}

static bool is_dx_node(const Node *n)
{
    return n->kind == NODE_OP && n->op == &op_group_norm_grad && gn_output(n) == GN_DX && !attr_int(n, "summed");
}

static int gn_summed_infer(Node *n, Error *err)
{
    const Node *src = n->in[0];
    if (n->n_in != 1 || gn_output(n) == GN_DX || !is_dx_node(src) || src->n_aux < 2)
        return err_set(err, "group_norm_grad (summed) takes the weight or bias gradient from one input, the "
                       "group_norm_grad node of an affine group_norm's dx");
    n->out.shape = shape_of(1, src->out.shape.dim[1]);
    return 0;
}

static int gn_grad_infer(Node *n, Error *err)
{
    if (attr_int(n, "summed")) return gn_summed_infer(n, err);
    bool affine = attr_int(n, "affine"), saved = attr_int(n, "saved_stats");
    int want = 2 + affine + saved;
    if (n->n_in != want) return err_set(err, "group_norm_grad expects %d inputs, got %d", want, n->n_in);
    const Node *f = saved ? n->in[n->n_in - 1] : NULL;
    if (f && (f->kind != NODE_OP || f->op != &op_group_norm || f->in[0] != n->in[1]))
        return err_set(err, "group_norm_grad's last input must be the group_norm node of x (saved_stats)");
    if (infer_same_shape(n, 0, 1, err) || gn_check_input(n, &n->out.shape, err)) return -1;
    const Shape *x = &n->in[1]->out.shape;
    int64_t C = x->dim[1];
    if (affine && shape_numel(&n->in[2]->out.shape) != C) {
        char a[96];
        return err_set(err, "group_norm_grad expects a weight of %lld values, got %s", (long long)C,
                       shape_format(&n->in[2]->out.shape, a, sizeof a));
    }
    if (gn_output(n) != GN_DX) n->out.shape = shape_of(1, C);
    n->n_aux = 1;
    n->aux_shape[0] = stats_shape(n, x);
    if (gn_output(n) == GN_DX && affine) n->aux_shape[n->n_aux++] = shape_of(2, (int64_t)2, C); /* dweight, dbias */
    /* The sums per (sample, channel); before them, recomputed statistics normalise x into scratch:
     * dx's own memory, or the workspace. */
    size_t work = GROUP_NORM_WORK_BYTES(x->dim[0], C), y = (size_t)shape_numel(x) * sizeof(float);
    n->workspace_bytes = !saved && gn_output(n) != GN_DX && y > work ? y : work;
    return 0;
}

static void gn_grad_forward(Graph *g, Node *n)
{
    if (attr_int(n, "summed")) {
        const Node *src = n->in[0];
        int64_t C = src->out.shape.dim[1];
        g->be->copy(n->out.data, src->aux[1].data + (gn_output(n) == GN_DBIAS ? C : 0), (size_t)C);
        return;
    }
    int N, C, inner, G = (int)attr_int(n, "groups");
    gn_dims(&n->in[1]->out.shape, &N, &C, &inner);
    const float *x = n->in[1]->out.data, *w = attr_int(n, "affine") ? n->in[2]->out.data : NULL;
    float *stats = n->aux[0].data, *out = n->out.data;
    GnOutput what = gn_output(n);
    if (attr_int(n, "saved_stats"))
        stats = n->in[n->n_in - 1]->aux[0].data;
    else
        g->be->group_norm_forward(x, NULL, NULL, what == GN_DX ? out : g->workspace, stats, stats + N * G, N, C,
                                  inner, G, (float)attr_float(n, "eps"));
    float *dweight = what == GN_DWEIGHT ? out : NULL, *dbias = what == GN_DBIAS ? out : NULL;
    if (what == GN_DX && n->n_aux > 1) dweight = n->aux[1].data, dbias = dweight + C;
    g->be->group_norm_backward(n->in[0]->out.data, x, w, stats, stats + N * G, what == GN_DX ? out : NULL, dweight,
                               dbias, g->workspace, N, C, inner, G);
}

const Op op_group_norm_grad = {
    .name = "group_norm_grad", .summary = "gradient of group normalisation for x, weight or bias",
    .attrs = gn_grad_attrs, .n_attrs = 6, .min_inputs = 1, .max_inputs = 4, .flags = OP_INTERNAL,
    .infer = gn_grad_infer, .forward = gn_grad_forward,
};
