/* Self-attention over the spatial positions of feature maps, as the attention block of Ho et al.'s
 * DDPM UNet and diffusers' Attention, whose q, k and v projections a spec writes as 1x1
 * convolutions.  q, k, v and the output are (N, C, H, W); `heads` splits C into heads of
 * d = C / heads channels, and for every sample and head, over the P = H W positions,
 *   out[:, i] = sum_j softmax_j(scale q[:, i] . k[:, j]) v[:, j].
 * The attention matrices (heads P^2 floats per sample) live only in the graph's workspace: the
 * backward pass computes them again, one product more, rather than keeping N heads P^2 floats
 * from the forward pass to the backward pass.
 * self_attention_grad(dy, q, k, v) computes the gradients of the inputs that `grads` names,
 * stacked along the batch dimension in q, k, v order, which backward slices apart.  Like
 * batchnorm_grad, it is not differentiable itself. */
#include "graph/ops/eltwise.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const Op op_self_attention, op_self_attention_grad;

/* P^2 must fit an int: the kernels index rows of P x P matrices with ints. */
#define MAX_POSITIONS 46340

#define ATTENTION_ATTRS                                                                                 \
    {.name = "heads", .type = ATTR_INT, .default_text = "1", .min = 1, .max = 65536,                   \
     .doc = "attention heads, each over C / heads of the channels (C divisible by heads)"},            \
    {.name = "scale", .type = ATTR_FLOAT, .default_text = "0", .min = 0, .max = 1e6,                   \
     .doc = "multiplies q . k before the softmax; 0 means 1 / sqrt(C / heads)"}

/* The geometry of node n, whose q-shaped inputs are (N, C, H, W): for self_attention all three,
 * for its gradient all four. */
static int geometry(const Node *n, AttnGeom *g, Error *err)
{
    const Shape *s = &n->in[n->n_in - 1]->out.shape;
    int64_t heads = attr_int(n, "heads");
    char a[96];
    if (s->ndim != 4)
        return err_set(err, "%s expects q, k and v shaped (N, C, H, W), got %s", n->op->name,
                       shape_format(s, a, sizeof a));
    if (s->dim[1] < heads || s->dim[1] % heads)
        return err_set(err, "%s with %lld heads needs C, the channels of (N, C, H, W), divisible by %lld, got %s", n->op->name,
                       (long long)heads, (long long)heads, shape_format(s, a, sizeof a));
    int64_t P = s->dim[2] * s->dim[3];
    if (P > MAX_POSITIONS)
        return err_set(err, "%s over %lld positions (%s) needs a %lld x %lld matrix per head; at most %d "
                       "positions are supported", n->op->name, (long long)P, shape_format(s, a, sizeof a),
                       (long long)P, (long long)P, MAX_POSITIONS);
    int d = (int)(s->dim[1] / heads);
    double scale = attr_float(n, "scale");
    *g = (AttnGeom){.batch = (int)(s->dim[0] * heads), .d = d, .P = (int)P,
                    .scale = (float)(scale > 0 ? scale : 1.0 / sqrt((double)d))};
    return 0;
}

static AttnGeom geometry_of(const Node *n)
{
    AttnGeom g;
    Error ignored;
    geometry(n, &g, &ignored); /* infer has checked it */
    return g;
}

static size_t attention_workspace(const Node *n, const Backend *be)
{
    AttnGeom g = geometry_of(n);
    return be->attention_workspace_bytes(&g);
}

/* "1.5 MiB": bytes in the largest binary unit that keeps a number of at least 1. */
static void format_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* ---- self_attention(q, k, v) ---- */

static int attention_infer(Node *n, Error *err)
{
    AttnGeom g;
    return infer_same_shape(n, 0, 2, err) || geometry(n, &g, err) ? -1 : 0;
}

static void attention_forward(Graph *gr, Node *n)
{
    AttnGeom g = geometry_of(n);
    gr->be->attention_forward(&g, n->in[0]->out.data, n->in[1]->out.data, n->in[2]->out.data, n->out.data,
                              gr->workspace, gr->workspace_bytes);
}

static int attention_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    char grads[4] = "";
    int count = 0;
    for (int i = 0; i < 3; i++)
        if (want[i]) grads[count++] = "qkv"[i];
    if (!count) return 0;
    const Op *op = &op_self_attention_grad;
    AttrValue v[OP_MAX_ATTRS];
    if (attr_defaults(op, v, err)) return -1;
    attr_set_int(op, v, "heads", attr_int(n, "heads"));
    attr_set_float(op, v, "scale", attr_float(n, "scale"));
    snprintf(v[attr_index(op, "grads")].s, ATTR_STR_MAX, "%s", grads);
    Node *in[4] = {dy, n->in[0], n->in[1], n->in[2]};
    Node *stacked = graph_op(g, op->name, in, 4, v, NULL, err);
    if (!stacked) return -1;
    int64_t N = dy->out.shape.dim[0];
    for (int i = 0, at = 0; i < 3; i++) {
        if (!want[i]) continue;
        if (!(dx[i] = count == 1 ? stacked : build_slice(g, stacked, 0, at++ * N, N, err))) return -1;
    }
    return 0;
}

/* The attention matrices' size, which grows with the square of the positions. */
static void attention_describe(const Node *n, char *buf, size_t len)
{
    AttnGeom g = geometry_of(n);
    int64_t heads = attr_int(n, "heads"), batch = n->out.shape.dim[0];
    double sample = (double)heads * g.P * g.P * sizeof(float);
    char one[32], all[32];
    format_bytes(sample, one, sizeof one);
    format_bytes(sample * (double)batch, all, sizeof all);
    snprintf(buf, len, "attention: %lld head%s x %d x %d floats = %s per sample, %s at batch %lld (in the "
             "workspace; the backward pass recomputes it)", (long long)heads, heads == 1 ? "" : "s", g.P, g.P,
             one, all, (long long)batch);
}

static const AttrSchema attention_attrs[] = {ATTENTION_ATTRS};

/* One product of 2 d P^2 flops per block: the scores q^T k, and their weights applied to v. */
static double block_product_flops(const Node *n)
{
    AttnGeom g = geometry_of(n);
    return 2.0 * g.batch * g.d * (double)g.P * g.P;
}

static double attention_flops(const Node *n) { return 2 * block_product_flops(n); }

const Op op_self_attention = {
    .name = "self_attention",
    .summary = "softmax(scale q^T k) attention of v over the H*W positions of (N, C, H, W) maps, per head",
    .attrs = attention_attrs, .n_attrs = 2, .min_inputs = 3, .max_inputs = 3,
    .infer = attention_infer, .forward = attention_forward, .backward = attention_backward,
    .workspace = attention_workspace, .describe = attention_describe, .flops = attention_flops,
};

/* ---- self_attention_grad(dy, q, k, v): the gradients `grads` names, stacked along the batch ---- */

static const char *const grads_words[] = {"q", "k", "v", "qk", "qv", "kv", "qkv", NULL};

static const AttrSchema attention_grad_attrs[] = {
    ATTENTION_ATTRS,
    {.name = "grads", .type = ATTR_STRING, .default_text = "qkv", .choices = grads_words,
     .doc = "the inputs whose gradients are computed, in q, k, v order"},
};

static int attention_grad_infer(Node *n, Error *err)
{
    AttnGeom g;
    if (infer_same_shape(n, 0, 3, err) || geometry(n, &g, err)) return -1;
    n->out.shape.dim[0] *= (int64_t)strlen(attr_get(n, "grads")->s);
    return 0;
}

static void attention_grad_forward(Graph *gr, Node *n)
{
    AttnGeom g = geometry_of(n);
    const char *grads = attr_get(n, "grads")->s;
    float *next = n->out.data, *d[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        if (strchr(grads, "qkv"[i])) {
            d[i] = next;
            next += (size_t)g.batch * g.d * g.P;
        }
    gr->be->attention_backward(&g, n->in[1]->out.data, n->in[2]->out.data, n->in[3]->out.data,
                               n->in[0]->out.data, d[0], d[1], d[2], gr->workspace, gr->workspace_bytes);
}

/* The scores again, one product per gradient, and dA = dy^T v when q's or k's is wanted. */
static double attention_grad_flops(const Node *n)
{
    const char *grads = attr_get(n, "grads")->s;
    size_t products = 1 + strlen(grads) + (strchr(grads, 'q') || strchr(grads, 'k'));
    return (double)products * block_product_flops(n);
}

const Op op_self_attention_grad = {
    .name = "self_attention_grad",
    .summary = "gradients of self_attention for q, k and/or v from (dy, q, k, v), stacked along the batch",
    .attrs = attention_grad_attrs, .n_attrs = 3, .min_inputs = 4, .max_inputs = 4, .flags = OP_INTERNAL,
    .infer = attention_grad_infer, .forward = attention_grad_forward, .workspace = attention_workspace,
    .flops = attention_grad_flops,
};
