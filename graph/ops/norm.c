/* Batch normalisation as PyTorch's BatchNorm1d ((N, C) or (N, C, L)) and BatchNorm2d
 * ((N, C, H, W)), statistics per channel over (N, inner).  Training (or no running
 * statistics) normalises with the batch's biased variance and updates the running statistics
 * in place with momentum and the unbiased variance; evaluation uses the running statistics.
 * Gradients come from batchnorm_grad, one node per wanted output (dx, dweight, dbias). */
#include "graph/ops/eltwise.h"

#include <stdio.h>
#include <string.h>

extern const Op op_batchnorm1d, op_batchnorm2d, op_batchnorm_grad;

static const AttrSchema batchnorm_attrs[] = {
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1,
     .doc = "added to the variance"},
    {.name = "momentum", .type = ATTR_FLOAT, .default_text = "0.1", .min = 0, .max = 1,
     .doc = "weight of the new batch in the running statistics"},
    {.name = "affine", .type = ATTR_BOOL, .default_text = "true", .doc = "learnable weight and bias"},
    {.name = "track_running_stats", .type = ATTR_BOOL, .default_text = "true",
     .doc = "keep running statistics (used in evaluation)"},
};

/* Where a batchnorm-like node keeps each tensor among its inputs (absent: -1). */
typedef struct BnLayout {
    int weight, bias, running_mean, running_var, counter, saved;
} BnLayout;

static BnLayout bn_layout(const Node *n)
{
    BnLayout l = {-1, -1, -1, -1, -1, -1};
    int k = 1;
    if (attr_int(n, "affine")) l.weight = k++, l.bias = k++;
    if (attr_int(n, "track_running_stats")) l.running_mean = k++, l.running_var = k++, l.counter = k++;
    return l;
}

/* batchnorm_grad's inputs: dy, x, [weight], [running_mean, running_var]. */
static BnLayout bn_grad_layout(const Node *n)
{
    BnLayout l = {-1, -1, -1, -1, -1, -1};
    int k = 2;
    if (attr_int(n, "affine")) l.weight = k++;
    if (attr_int(n, "track_running_stats")) l.running_mean = k++, l.running_var = k++;
    if (attr_int(n, "saved_stats")) l.saved = k++;
    return l;
}

static float *input_data(const Node *n, int i) { return i >= 0 ? n->in[i]->out.data : NULL; }

/* (N, C, inner) view of the input. */
static void bn_dims(const Shape *s, int *N, int *C, int *inner)
{
    *N = (int)s->dim[0];
    *C = (int)s->dim[1];
    *inner = (int)(shape_numel(s) / (s->dim[0] * s->dim[1]));
}

static int batchnorm_check(const Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    char a[96];
    if (n->op == &op_batchnorm2d && s->ndim != 4)
        return err_set(err, "batchnorm2d expects a 4-d input (N, C, H, W), got %s",
                       shape_format(s, a, sizeof a));
    if (n->op == &op_batchnorm1d && s->ndim != 2 && s->ndim != 3)
        return err_set(err, "batchnorm1d expects an input (N, C) or (N, C, L), got %s",
                       shape_format(s, a, sizeof a));
    if (shape_numel(s) == 0) return err_set(err, "%s expects a non-empty input", n->op->name);
    return 0;
}

static void decl(ParamDecl *d, const char *name, int64_t C, InitKind init, bool buffer)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->shape = shape_of(1, C);
    d->init.kind = init;
    d->fan_in = d->fan_out = C;
    d->is_buffer = buffer;
}

static int batchnorm_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    if (batchnorm_check(n, err)) return -1;
    int64_t C = n->in[0]->out.shape.dim[1];
    int k = 0;
    if (attr_int(n, "affine")) {
        decl(&decls[k], "weight", C, INIT_ONES, false);
        decls[k++].is_weight = true;
        decl(&decls[k], "bias", C, INIT_ZEROS, false);
        decls[k++].is_bias = true;
    }
    if (attr_int(n, "track_running_stats")) {
        decl(&decls[k++], "running_mean", C, INIT_ZEROS, true);
        decl(&decls[k++], "running_var", C, INIT_ONES, true);
        decl(&decls[k], "num_batches_tracked", 1, INIT_ZEROS, true);
        decls[k].shape = shape_make(0, NULL); /* a scalar, as PyTorch saves it */
        decls[k++].is_counter = true;
    }
    *n_decls = k;
    return 0;
}

static int batchnorm_infer(Node *n, Error *err)
{
    if (batchnorm_check(n, err)) return -1;
    BnLayout l = bn_layout(n);
    int want = 1 + (l.weight >= 0) * 2 + (l.counter >= 0) * 3;
    if (n->n_in != want)
        return err_set(err, "%s expects %d inputs (data and parameters), got %d", n->op->name,
                       want, n->n_in);
    int64_t C = n->in[0]->out.shape.dim[1];
    for (int i = 1; i < n->n_in; i++) {
        int64_t numel = shape_numel(&n->in[i]->out.shape);
        if (numel != (i == l.counter ? 1 : C))
            return err_set(err, "%s parameter %d has %lld values, expected %lld", n->op->name, i,
                           (long long)numel, (long long)(i == l.counter ? 1 : C));
    }
    n->out.shape = n->in[0]->out.shape;
    n->n_aux = 1;
    n->aux_shape[0] = shape_of(2, (int64_t)2, C); /* batch mean, 1/sqrt(var + eps) */
    return 0;
}

/* Batch statistics when training, when asked for outside training, or without running ones. */
static bool normalises_by_batch(const Graph *g, const float *running_mean)
{
    return g->training || g->batch_statistics || !running_mean;
}

static void batchnorm_forward(Graph *g, Node *n)
{
    const Backend *be = g->be;
    BnLayout l = bn_layout(n);
    int N, C, inner;
    bn_dims(&n->in[0]->out.shape, &N, &C, &inner);
    const float *x = n->in[0]->out.data, *w = input_data(n, l.weight), *b = input_data(n, l.bias);
    float *rm = input_data(n, l.running_mean), *rv = input_data(n, l.running_var);
    float eps = (float)attr_float(n, "eps");
    if (normalises_by_batch(g, rm)) {
        float *stats = n->aux[0].data;
        be->batchnorm_forward_train(x, w, b, n->out.data, stats, stats + C, g->training ? rm : NULL,
                                    g->training ? rv : NULL, N, C, inner, eps,
                                    (float)attr_float(n, "momentum"));
        if (g->training && l.counter >= 0) {
            float *count = input_data(n, l.counter);
            be->scale_shift(1, 1.0f, count, 1.0f, count);
        }
    } else {
        be->batchnorm_forward_eval(x, w, b, n->out.data, rm, rv, N, C, inner, eps);
    }
}

static Node *build_bn_grad(Graph *g, Node *n, Node *dy, const char *output, Error *err)
{
    const Op *op = &op_batchnorm_grad;
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(op, a, err)) return NULL;
    attr_set_string(op, a, "output", output);
    attr_set_float(op, a, "eps", attr_float(n, "eps"));
    attr_set_int(op, a, "affine", attr_int(n, "affine"));
    attr_set_int(op, a, "track_running_stats", attr_int(n, "track_running_stats"));
    attr_set_int(op, a, "saved_stats", 1);
    BnLayout l = bn_layout(n);
    Node *in[6] = {dy, n->in[0]};
    int k = 2;
    if (l.weight >= 0) in[k++] = n->in[l.weight];
    if (l.running_mean >= 0) in[k++] = n->in[l.running_mean], in[k++] = n->in[l.running_var];
    in[k++] = n; /* its aux holds the batch statistics of this step */
    return graph_op(g, "batchnorm_grad", in, k, a, NULL, err);
}

static int batchnorm_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    BnLayout l = bn_layout(n);
    if (want[0] && !(dx[0] = build_bn_grad(g, n, dy, "input", err))) return -1;
    if (l.weight >= 0 && want[l.weight] && !(dx[l.weight] = build_bn_grad(g, n, dy, "weight", err)))
        return -1;
    if (l.bias >= 0 && want[l.bias] && !(dx[l.bias] = build_bn_grad(g, n, dy, "bias", err)))
        return -1;
    return 0;
}

const Op op_batchnorm1d = {
    .name = "batchnorm1d", .summary = "batch normalisation of (N, C) or (N, C, L)",
    .attrs = batchnorm_attrs, .n_attrs = 4, .min_inputs = 1, .max_inputs = 1,
    .declare_params = batchnorm_declare, .infer = batchnorm_infer,
    .forward = batchnorm_forward, .backward = batchnorm_backward,
};

const Op op_batchnorm2d = {
    .name = "batchnorm2d", .summary = "batch normalisation of (N, C, H, W)",
    .attrs = batchnorm_attrs, .n_attrs = 4, .min_inputs = 1, .max_inputs = 1,
    .declare_params = batchnorm_declare, .infer = batchnorm_infer,
    .forward = batchnorm_forward, .backward = batchnorm_backward,
};

/* ---- batchnorm_grad(dy, x, [weight], [running_mean, running_var], [forward]) ----
 * One of dx, dweight, dbias (attr output).  Training-mode statistics come from the forward
 * batchnorm node (saved_stats, as backward builds it) or are recomputed from x (so the op also
 * stands alone); evaluation mode uses the running statistics, with which the normalisation is
 * an affine map per channel. */

static const char *const bn_outputs[] = {"input", "weight", "bias", NULL};

static const AttrSchema bn_grad_attrs[] = {
    {.name = "output", .type = ATTR_STRING, .choices = bn_outputs, .doc = "which gradient"},
    {.name = "eps", .type = ATTR_FLOAT, .default_text = "1e-5", .min = 0, .max = 1, .doc = "as batchnorm"},
    {.name = "affine", .type = ATTR_BOOL, .default_text = "true", .doc = "a weight input is given"},
    {.name = "track_running_stats", .type = ATTR_BOOL, .default_text = "true",
     .doc = "running_mean and running_var inputs are given"},
    {.name = "saved_stats", .type = ATTR_BOOL, .default_text = "false",
     .doc = "the last input is the forward batchnorm node, whose batch statistics are reused"},
};

typedef enum { BN_DX, BN_DWEIGHT, BN_DBIAS } BnOutput;

static BnOutput bn_output(const Node *n)
{
    const char *s = attr_get(n, "output")->s;
    return s[0] == 'i' ? BN_DX : s[0] == 'w' ? BN_DWEIGHT : BN_DBIAS;
}

static int bn_grad_infer(Node *n, Error *err)
{
    BnLayout l = bn_grad_layout(n);
    int want = 2 + (l.weight >= 0) + (l.running_mean >= 0) * 2 + (l.saved >= 0);
    if (n->n_in != want)
        return err_set(err, "batchnorm_grad expects %d inputs, got %d", want, n->n_in);
    if (l.saved >= 0) {
        const Node *f = n->in[l.saved];
        if (f->kind != NODE_OP || (f->op != &op_batchnorm1d && f->op != &op_batchnorm2d) ||
            f->in[0] != n->in[1])
            return err_set(err, "batchnorm_grad's last input must be the batchnorm node of x "
                           "(saved_stats)");
    }
    if (infer_same_shape(n, 0, 1, err)) return -1;
    const Shape *s = &n->in[1]->out.shape;
    char a[96];
    if (s->ndim < 2)
        return err_set(err, "batchnorm_grad expects (N, C, ...) inputs, got %s", shape_format(s, a, sizeof a));
    int64_t C = s->dim[1];
    for (int i = 2; i < n->n_in && i != l.saved; i++)
        if (shape_numel(&n->in[i]->out.shape) != C)
            return err_set(err, "batchnorm_grad input %d has shape %s, expected (%lld,)", i,
                           shape_format(&n->in[i]->out.shape, a, sizeof a), (long long)C);
    if (bn_output(n) != BN_DX) n->out.shape = shape_of(1, C);
    n->n_aux = 2;
    n->aux_shape[0] = shape_of(2, (int64_t)2, C); /* mean, invstd */
    n->aux_shape[1] = shape_of(2, (int64_t)2, C); /* zeros, ones */
    /* Normalising the batch for its statistics needs a full-size scratch unless dx is it. */
    if (bn_output(n) == BN_DWEIGHT && l.saved < 0) n->workspace_bytes = (size_t)shape_numel(s) * sizeof(float);
    return 0;
}

static void bn_grad_forward(Graph *g, Node *n)
{
    const Backend *be = g->be;
    BnLayout l = bn_grad_layout(n);
    BnOutput what = bn_output(n);
    int N, C, inner;
    bn_dims(&n->in[1]->out.shape, &N, &C, &inner);
    const float *dy = n->in[0]->out.data, *x = n->in[1]->out.data, *w = input_data(n, l.weight);
    const float *rm = input_data(n, l.running_mean), *rv = input_data(n, l.running_var);
    float eps = (float)attr_float(n, "eps");
    float *mean = n->aux[0].data, *invstd = mean + C, *zeros = n->aux[1].data, *ones = zeros + C;
    float *out = n->out.data;
    be->fill(zeros, (size_t)C, 0.0f);
    be->fill(ones, (size_t)C, 1.0f);

    if (what == BN_DBIAS) { /* sum of dy per channel: no statistics involved */
        be->batchnorm_backward(dy, x, NULL, zeros, ones, NULL, NULL, out, N, C, inner);
        return;
    }
    if (normalises_by_batch(g, rm)) {
        if (l.saved >= 0) {
            mean = n->in[l.saved]->aux[0].data;
            invstd = mean + C;
        } else {
            float *scratch = what == BN_DX ? out : g->workspace;
            be->batchnorm_forward_train(x, NULL, NULL, scratch, mean, invstd, NULL, NULL, N, C,
                                        inner, eps, 0.0f);
        }
        be->batchnorm_backward(dy, x, w, mean, invstd, what == BN_DX ? out : NULL,
                               what == BN_DWEIGHT ? out : NULL, NULL, N, C, inner);
    } else if (what == BN_DX) { /* dx = dy * weight / sqrt(running_var + eps) */
        be->batchnorm_forward_eval(dy, w, NULL, out, zeros, rv, N, C, inner, eps);
    } else { /* dweight = sum dy * (x - running_mean) / sqrt(running_var + eps) */
        be->batchnorm_forward_eval(ones, NULL, NULL, invstd, zeros, rv, 1, C, 1, eps);
        be->batchnorm_backward(dy, x, NULL, rm, invstd, NULL, out, NULL, N, C, inner);
    }
}

const Op op_batchnorm_grad = {
    .name = "batchnorm_grad", .summary = "gradient of batch normalisation for x, weight or bias",
    .attrs = bn_grad_attrs, .n_attrs = 5, .min_inputs = 2, .max_inputs = 6, .flags = OP_INTERNAL,
    .infer = bn_grad_infer, .forward = bn_grad_forward,
};
