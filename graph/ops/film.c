/* scale_shift(h, e): FiLM-style conditioning of a feature map h (N, C, ...) by a vector per
 * sample e (N, k C), usually a linear map of a time or class embedding:
 *   scale_shift: h * (1 + scale) + shift, with scale, shift = e.chunk(2, dim=1) (diffusers'
 *                ResnetBlock2D with time_embedding_norm="scale_shift");
 *   shift:       h + e[:, :, None, None] (Ho et al.'s DDPM residual block);
 *   scale:       h * (1 + e[:, :, None, None]).
 * Gradients are built from differentiable ops: dh is scale_shift(dy, scale) in mode scale (or dy
 * itself), de sums dy * h and dy over the positions of each (sample, channel). */
#include "graph/ops/eltwise.h"

#include <string.h>

typedef enum FilmMode { FILM_SCALE_SHIFT, FILM_SHIFT, FILM_SCALE } FilmMode;

static const char *const film_modes[] = {"scale_shift", "shift", "scale", NULL};

static const AttrSchema film_attrs[] = {
    {.name = "mode", .type = ATTR_STRING, .choices = film_modes, .default_text = "scale_shift",
     .doc = "scale_shift: h * (1 + e[:, :C]) + e[:, C:], e (N, 2C); shift: h + e, e (N, C); "
            "scale: h * (1 + e), e (N, C); e broadcast over h's positions"},
};

static FilmMode film_mode(const Node *n)
{
    const char *s = attr_get(n, "mode")->s;
    return strcmp(s, "shift") == 0 ? FILM_SHIFT : strcmp(s, "scale") == 0 ? FILM_SCALE : FILM_SCALE_SHIFT;
}

/* (N, C, inner) view of h. */
static void film_dims(const Shape *h, int *N, int *C, int *inner)
{
    *N = (int)h->dim[0];
    *C = (int)h->dim[1];
    *inner = (int)(shape_numel(h) / (h->dim[0] * h->dim[1]));
}

static int film_infer(Node *n, Error *err)
{
    const Shape *h = &n->in[0]->out.shape, *e = &n->in[1]->out.shape;
    char a[96], b[96];
    if (h->ndim < 2)
        return err_set(err, "scale_shift expects a feature map h (N, C, ...) as its first input, got %s",
                       shape_format(h, a, sizeof a));
    FilmMode mode = film_mode(n);
    int64_t per = mode == FILM_SCALE_SHIFT ? 2 * h->dim[1] : h->dim[1];
    if (e->ndim != 2 || e->dim[0] != h->dim[0] || e->dim[1] != per)
        return err_set(err, "scale_shift (mode %s) expects its second input e of shape (%lld, %lld)%s for h %s, "
                       "got %s", attr_get(n, "mode")->s, (long long)h->dim[0], (long long)per,
                       mode == FILM_SCALE_SHIFT ? " (scale and shift per channel)" : " (one value per channel)",
                       shape_format(h, a, sizeof a), shape_format(e, b, sizeof b));
    n->out.shape = *h;
    return 0;
}

static void film_forward(Graph *g, Node *n)
{
    int N, C, inner;
    film_dims(&n->out.shape, &N, &C, &inner);
    const float *e = n->in[1]->out.data;
    FilmMode mode = film_mode(n);
    const float *scale = mode == FILM_SHIFT ? NULL : e;
    const float *shift = mode == FILM_SCALE ? NULL : mode == FILM_SHIFT ? e : e + C;
    g->be->film_forward(n->in[0]->out.data, scale, shift, n->out.data, N, C, inner,
                        (int)n->in[1]->out.shape.dim[1]);
}

static Node *build_film(Graph *g, Node *h, Node *e, const char *mode, Error *err)
{
    const Op *op = op_find("scale_shift");
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(op, a, err)) return NULL;
    attr_set_string(op, a, "mode", mode);
    Node *in[2] = {h, e};
    return graph_op(g, "scale_shift", in, 2, a, NULL, err);
}

/* Per (sample, channel) sums over h's positions: (N, C, ...) -> (N, C). */
static Node *position_sum(Graph *g, Node *x, Error *err)
{
    int k = x->out.shape.ndim - 2;
    return k ? build_row_sum(g, x, k, err) : x;
}

static int film_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    Node *h = n->in[0], *e = n->in[1];
    FilmMode mode = film_mode(n);
    int64_t C = h->out.shape.dim[1];
    if (want[0]) {
        if (mode == FILM_SHIFT) {
            dx[0] = dy;
        } else {
            Node *scale = mode == FILM_SCALE ? e : build_slice(g, e, 1, 0, C, err);
            if (!scale || !(dx[0] = build_film(g, dy, scale, "scale", err))) return -1;
        }
    }
    if (!want[1]) return 0;
    Node *dscale = NULL, *dshift = NULL, *t;
    if (mode != FILM_SHIFT && (!(t = graph_op2(g, "mul", dy, h, err)) || !(dscale = position_sum(g, t, err))))
        return -1;
    if (mode != FILM_SCALE && !(dshift = position_sum(g, dy, err))) return -1;
    dx[1] = mode == FILM_SCALE_SHIFT ? graph_op2(g, "concat", dscale, dshift, err) : dscale ? dscale : dshift;
    return dx[1] ? 0 : -1;
}

const Op op_scale_shift = {
    .name = "scale_shift",
    .summary = "FiLM: h (N, C, ...) scaled and/or shifted per (sample, channel) by e (N, 2C) or (N, C)",
    .attrs = film_attrs, .n_attrs = 1, .min_inputs = 2, .max_inputs = 2,
    .infer = film_infer, .forward = film_forward, .backward = film_backward,
};
