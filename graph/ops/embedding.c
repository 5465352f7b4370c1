/* Embeddings of one number per sample, given as (N, 1) (a network input declared [1]) or (N):
 *   time_embedding(t): the sinusoidal embedding (N, dim) of timesteps, diffusers'
 *       get_timestep_embedding (kernels/time_embedding.h).  A timestep is data: no gradient
 *       flows into t.
 *   embedding(ids): rows of a learned table (num, dim), PyTorch's Embedding (weights N(0, 1));
 *       the ids are integers stored as floats (class labels).  Their gradient is zero; the
 *       table's sums the rows of dy per id (embedding_grad).  An id outside [0, num) stops the
 *       run with a message naming it. */
#include "graph/ops/eltwise.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern const Op op_embedding_grad;

static int scalar_per_sample(const Node *n, const Shape *s, const char *what, Error *err)
{
    char a[96];
    if (s->ndim < 1 || s->ndim > 2 || (s->ndim == 2 && s->dim[1] != 1) || s->dim[0] < 1)
        return err_set(err, "%s expects %s as (N, 1) or (N), one value per sample, got %s", n->op->name, what,
                       shape_format(s, a, sizeof a));
    return 0;
}

/* ---- time_embedding(t) ---- */

static const AttrSchema time_embedding_attrs[] = {
    {.name = "dim", .type = ATTR_INT, .min = 1, .max = 1 << 20,
     .doc = "embedding size (odd: a zero is appended, as diffusers does)"},
    {.name = "flip_sin_to_cos", .type = ATTR_BOOL, .default_text = "false",
     .doc = "cosines first, then sines (diffusers' UNet2DModel default is true)"},
    {.name = "downscale_freq_shift", .type = ATTR_FLOAT, .default_text = "1", .min = 1, .max = 0,
     .doc = "s in f_i = exp(-ln(max_period) i / (dim/2 - s)); 1 is DDPM's (Ho et al.)"},
    {.name = "max_period", .type = ATTR_FLOAT, .default_text = "10000", .min = 1, .max = 1e30,
     .doc = "the longest period, 2 pi max_period"},
    {.name = "scale", .type = ATTR_FLOAT, .default_text = "1", .min = 1, .max = 0,
     .doc = "factor on t f_i before sin and cos"},
};

static int time_embedding_infer(Node *n, Error *err)
{
    const Shape *t = &n->in[0]->out.shape;
    if (scalar_per_sample(n, t, "the timestep t", err)) return -1;
    int64_t dim = attr_int(n, "dim");
    double shift = attr_float(n, "downscale_freq_shift");
    if (dim >= 2 && (float)((double)(dim / 2) - shift) == 0.0f)
        return err_set(err, "time_embedding with dim %lld and downscale_freq_shift %g divides by "
                       "dim/2 - downscale_freq_shift = 0: use a larger dim or another shift",
                       (long long)dim, shift);
    n->out.shape = shape_of(2, t->dim[0], dim);
    return 0;
}

static void time_embedding_forward(Graph *g, Node *n)
{
    g->be->time_embedding(n->in[0]->out.data, n->out.data, (int)n->out.shape.dim[0], (int)attr_int(n, "dim"),
                          attr_int(n, "flip_sin_to_cos") != 0, (float)attr_float(n, "downscale_freq_shift"),
                          (float)attr_float(n, "scale"), (float)attr_float(n, "max_period"));
}

const Op op_time_embedding = {
    .name = "time_embedding",
    .summary = "sinusoidal embedding (N, dim) of timesteps t (N, 1), as diffusers' get_timestep_embedding "
               "(no gradient flows into t)",
    .attrs = time_embedding_attrs, .n_attrs = 5, .min_inputs = 1, .max_inputs = 1,
    .infer = time_embedding_infer, .forward = time_embedding_forward, .backward = no_gradient,
};

/* ---- embedding(ids, weight) ---- */

static const AttrSchema embedding_attrs[] = {
    {.name = "num", .type = ATTR_INT, .min = 1, .max = 1 << 30, .doc = "number of ids (classes): 0 .. num-1"},
    {.name = "dim", .type = ATTR_INT, .min = 1, .max = 1 << 20, .doc = "embedding size"},
};

static int embedding_declare(const Node *n, ParamDecl *decls, int *n_decls, Error *err)
{
    if (scalar_per_sample(n, &n->in[0]->out.shape, "the ids", err)) return -1;
    ParamDecl *d = &decls[0];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "weight");
    d->shape = shape_of(2, attr_int(n, "num"), attr_int(n, "dim"));
    d->init = (InitSpec){INIT_NORMAL, 0.0, 1.0};
    d->fan_in = attr_int(n, "dim"); /* PyTorch's fans of a (num, dim) matrix */
    d->fan_out = attr_int(n, "num");
    d->is_weight = true;
    *n_decls = 1;
    return 0;
}

static int embedding_infer(Node *n, Error *err)
{
    const Shape *ids = &n->in[0]->out.shape;
    if (scalar_per_sample(n, ids, "the ids", err)) return -1;
    Shape table = shape_of(2, attr_int(n, "num"), attr_int(n, "dim"));
    char a[96], b[96];
    if (n->n_in != 2 || !shape_equal(&n->in[1]->out.shape, &table))
        return err_set(err, "embedding expects its ids and a weight of shape %s, got %d inputs%s%s",
                       shape_format(&table, a, sizeof a), n->n_in, n->n_in == 2 ? ", weight " : "",
                       n->n_in == 2 ? shape_format(&n->in[1]->out.shape, b, sizeof b) : "");
    n->out.shape = shape_of(2, ids->dim[0], table.dim[1]);
    return 0;
}

/* The ids come from data, so they are checked before the table is read with them (a copy to
 * the host of N floats, in pieces so that nothing is allocated). */
static void embedding_forward(Graph *g, Node *n)
{
    int N = (int)n->out.shape.dim[0], num = (int)attr_int(n, "num"), dim = (int)attr_int(n, "dim");
    const float *ids = n->in[0]->out.data;
    float chunk[256];
    for (int s = 0; s < N; s += 256) {
        int k = N - s < 256 ? N - s : 256;
        g->be->download(chunk, ids + s, (size_t)k);
        for (int i = 0; i < k; i++)
            if (!(chunk[i] >= 0.0f && chunk[i] < (float)num && chunk[i] == floorf(chunk[i]))) {
                graph_fail(g, n, "id %g of sample %d is not one of the %d ids 0 .. %d", chunk[i], s + i, num,
                           num - 1);
                return;
            }
    }
    g->be->embedding_forward(ids, n->in[1]->out.data, n->out.data, N, dim);
}

static int embedding_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[1]) return 0; /* ids get none */
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_embedding_grad, a, err)) return -1;
    attr_set_int(&op_embedding_grad, a, "num", attr_int(n, "num"));
    Node *in[2] = {n->in[0], dy};
    return (dx[1] = graph_op(g, "embedding_grad", in, 2, a, NULL, err)) ? 0 : -1;
}

const Op op_embedding = {
    .name = "embedding",
    .summary = "learned vectors (N, dim) of integer ids (N, 1) in 0 .. num-1 (class labels), as PyTorch's Embedding",
    .attrs = embedding_attrs, .n_attrs = 2, .min_inputs = 1, .max_inputs = 1,
    .declare_params = embedding_declare, .infer = embedding_infer,
    .forward = embedding_forward, .backward = embedding_backward,
};

/* ---- embedding_grad(ids, dy): the table's gradient (num, dim), rows of dy summed per id ---- */

static const AttrSchema embedding_grad_attrs[] = {
    {.name = "num", .type = ATTR_INT, .min = 1, .max = 1 << 30, .doc = "rows of the table"},
};

static int embedding_grad_infer(Node *n, Error *err)
{
    const Shape *ids = &n->in[0]->out.shape, *dy = &n->in[1]->out.shape;
    if (scalar_per_sample(n, ids, "the ids", err)) return -1;
    char a[96], b[96];
    if (dy->ndim != 2 || dy->dim[0] != ids->dim[0])
        return err_set(err, "embedding_grad expects dy (N, dim) for ids %s, got %s", shape_format(ids, a, sizeof a),
                       shape_format(dy, b, sizeof b));
    n->out.shape = shape_of(2, attr_int(n, "num"), dy->dim[1]);
    return 0;
}

/* The forward embedding node has checked the ids of this run. */
static void embedding_grad_forward(Graph *g, Node *n)
{
    g->be->embedding_backward(n->in[0]->out.data, n->in[1]->out.data, n->out.data, (int)n->in[1]->out.shape.dim[0],
                              (int)attr_int(n, "num"), (int)n->in[1]->out.shape.dim[1]);
}

/* Linear in dy: its adjoint is the lookup of dtable's upstream gradient. */
static int embedding_grad_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx, Error *err)
{
    if (!want[1]) return 0;
    AttrValue a[OP_MAX_ATTRS];
    const Op *op = op_find("embedding");
    if (attr_defaults(op, a, err)) return -1;
    attr_set_int(op, a, "num", attr_int(n, "num"));
    attr_set_int(op, a, "dim", n->in[1]->out.shape.dim[1]);
    Node *in[2] = {n->in[0], G};
    return (dx[1] = graph_op(g, "embedding", in, 2, a, NULL, err)) ? 0 : -1;
}

const Op op_embedding_grad = {
    .name = "embedding_grad", .summary = "gradient of embedding's table: rows of dy summed per id",
    .attrs = embedding_grad_attrs, .n_attrs = 1, .min_inputs = 2, .max_inputs = 2, .flags = OP_INTERNAL,
    .infer = embedding_grad_infer, .forward = embedding_grad_forward, .backward = embedding_grad_backward,
};
