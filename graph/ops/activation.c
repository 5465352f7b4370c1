/* The activations of kernels/activations.h as ops on the backend's unary primitives, and their
 * gradient op unary_grad(dy, x, y) = dy * f'(.), which is itself differentiable so that
 * gradients of gradients (WGAN-GP) can be built. */
#include "graph/ops/eltwise.h"

#include <string.h>

extern const Op op_unary_grad;

/* Op names in UnaryKind order (also the choices of unary_grad's `kind`). */
static const char *const kind_names[UNARY_COUNT + 1] = {
#define KIND_NAME(KIND, name, ...) #name,
    ACTIVATIONS(KIND_NAME)
#undef KIND_NAME
    NULL,
};

static UnaryKind kind_of(const char *name)
{
    for (int k = 0; k < UNARY_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0) return (UnaryKind)k;
    return UNARY_COUNT;
}

static float slope_of(const Node *n)
{
    return attr_index(n->op, "negative_slope") >= 0 ? (float)attr_float(n, "negative_slope") : 0.0f;
}

static int unary_infer(Node *n, Error *err)
{
    (void)err;
    n->out.shape = n->in[0]->out.shape;
    return 0;
}

static void unary_forward(Graph *g, Node *n)
{
    g->be->unary(kind_of(n->op->name), n->in[0]->out.data, n->out.data, tensor_numel(&n->out),
                 slope_of(n));
}

static int unary_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (want[0] && !(dx[0] = build_unary_grad(g, kind_of(n->op->name), slope_of(n), dy, n->in[0],
                                               n, err)))
        return -1;
    return 0;
}

static const AttrSchema negative_slope_attrs[] = {
    {.name = "negative_slope", .type = ATTR_FLOAT, .default_text = "0.01", .min = 1, .max = 0,
     .doc = "slope for x < 0"},
};
#define ATTRS_NO_PARAM .attrs = NULL, .n_attrs = 0
#define ATTRS_NEGATIVE_SLOPE .attrs = negative_slope_attrs, .n_attrs = 1

#define ACTIVATION_OP(KIND, op_name, text, f_expr, df_expr, reads, param, ...)            \
    const Op op_##op_name = {                                                                 \
        .name = #op_name, .summary = text, ATTRS_##param, .min_inputs = 1, .max_inputs = 1,   \
        .infer = unary_infer, .forward = unary_forward, .backward = unary_backward,           \
    };
ACTIVATIONS(ACTIVATION_OP)
#undef ACTIVATION_OP

/* ---- unary_grad(dy, x, y): dx = dy * f'(x), where y = f(x) ---- */

static const AttrSchema unary_grad_attrs[] = {
    {.name = "kind", .type = ATTR_STRING, .choices = kind_names, .doc = "the activation"},
    {.name = "alpha", .type = ATTR_FLOAT, .default_text = "0", .min = 1, .max = 0,
     .doc = "negative slope of leaky_relu"},
};

Node *build_unary_grad(Graph *g, UnaryKind kind, double alpha, Node *dy, Node *x, Node *y,
                       Error *err)
{
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(&op_unary_grad, a, err)) return NULL;
    AttrValue *k = &a[attr_index(&op_unary_grad, "kind")];
    strcpy(k->s, kind_names[kind]);
    k->n = 1, k->set = true;
    attr_set_float(&op_unary_grad, a, "alpha", alpha);
    Node *in[3] = {dy, x, y};
    return graph_op(g, "unary_grad", in, 3, a, NULL, err);
}

static int unary_grad_infer(Node *n, Error *err) { return infer_same_shape(n, 0, 2, err); }

static void unary_grad_forward(Graph *g, Node *n)
{
    g->be->unary_backward(kind_of(attr_get(n, "kind")->s), n->in[1]->out.data, n->in[2]->out.data,
                          n->in[0]->out.data, n->out.data, tensor_numel(&n->out),
                          (float)attr_float(n, "alpha"));
}

/* The primitive reads x for some kinds and y for others; each is an independent input here,
 * so the gradient goes to whichever one the formula uses (autodiff then carries a gradient
 * on y back through the activation to x).  With G the upstream gradient and dy the input:
 *   d/d(dy) = G * f'           for every kind (the op is linear in dy);
 *   relu, leaky_relu, abs: f' is piecewise constant, nothing else;
 *   square  (2x dy):       d/dx = 2 G dy;
 *   log     (dy / x):      d/dx = -G dy / x^2;
 *   softplus (dy s(x)):    d/dx = G dy s(1 - s);
 *   silu (dy s (1 + x (1 - s))): d/dx = G dy s (1 - s) (2 + x (1 - 2s));
 *   tanh    (dy (1-y^2)):  d/dy = -2 G dy y;
 *   sigmoid (dy y (1-y)):  d/dy = G dy (1 - 2y);
 *   exp     (dy y):        d/dy = G dy;
 *   sqrt    (dy / (2y)):   d/dy = -G dy / (2 y^2). */
static Node *second_derivative(Graph *g, UnaryKind k, Node *G, Node *dy, Node *x, Node *y,
                               Error *err)
{
    Node *gdy = graph_op2(g, "mul", G, dy, err), *t;
    if (!gdy) return NULL;
    switch (k) {
    case UNARY_SQUARE: return build_scale(g, gdy, 2.0, 0.0, err);
    case UNARY_LOG:
        t = build_unary_grad(g, UNARY_LOG, 0, gdy, x, y, err); /* G dy / x */
        t = t ? build_unary_grad(g, UNARY_LOG, 0, t, x, y, err) : NULL;
        return t ? build_scale(g, t, -1.0, 0.0, err) : NULL;
    case UNARY_SOFTPLUS:
        t = graph_op1(g, "sigmoid", x, err);
        return t ? build_unary_grad(g, UNARY_SIGMOID, 0, gdy, x, t, err) : NULL;
    case UNARY_TANH:
        t = graph_op2(g, "mul", gdy, y, err);
        return t ? build_scale(g, t, -2.0, 0.0, err) : NULL;
    case UNARY_SIGMOID:
        t = build_scale(g, y, -2.0, 1.0, err);
        return t ? graph_op2(g, "mul", gdy, t, err) : NULL;
    case UNARY_SILU: /* f'' = s (1 - s) (2 + x (1 - 2s)) */
        t = graph_op1(g, "sigmoid", x, err);
        Node *a = t ? build_unary_grad(g, UNARY_SIGMOID, 0, gdy, x, t, err) : NULL;
        t = a ? build_scale(g, t, -2.0, 1.0, err) : NULL;
        t = t ? graph_op2(g, "mul", x, t, err) : NULL;
        t = t ? build_scale(g, t, 1.0, 2.0, err) : NULL;
        return t ? graph_op2(g, "mul", a, t, err) : NULL;
    case UNARY_EXP: return gdy;
    case UNARY_SQRT:
        t = build_unary_grad(g, UNARY_SQRT, 0, gdy, x, y, err); /* G dy / (2y) */
        t = t ? build_unary_grad(g, UNARY_SQRT, 0, t, x, y, err) : NULL;
        return t ? build_scale(g, t, -2.0, 0.0, err) : NULL;
    default:
        err_set(err, "activation '%s' has no second-order gradient (a gradient penalty differentiates its "
                     "gradient again)", kind_names[k]);
        return NULL;
    }
}

/* The `reads` column of kernels/activations.h: Y, X, or FLAT (a piecewise-constant derivative). */
enum { READS_X, READS_Y, READS_FLAT };
static int reads(UnaryKind k)
{
    static const int table[UNARY_COUNT] = {
#define ACTIVATION_READS(KIND, name, summary, f_expr, df_expr, reads, ...) READS_##reads,
        ACTIVATIONS(ACTIVATION_READS)
#undef ACTIVATION_READS
    };
    return table[k];
}

static int unary_grad_backward(Graph *g, Node *n, Node *G, const bool *want, Node **dx,
                               Error *err)
{
    UnaryKind k = kind_of(attr_get(n, "kind")->s);
    Node *dy = n->in[0], *x = n->in[1], *y = n->in[2];
    if (want[0] && !(dx[0] = build_unary_grad(g, k, attr_float(n, "alpha"), G, x, y, err)))
        return -1;
    int target = reads(k) == READS_Y ? 2 : 1;
    if (!want[target] || reads(k) == READS_FLAT) return 0;
    return (dx[target] = second_derivative(g, k, G, dy, x, y, err)) ? 0 : -1;
}

const Op op_unary_grad = {
    .name = "unary_grad",
    .summary = "dy * f'(x) for an activation f, given x and y = f(x)",
    .attrs = unary_grad_attrs, .n_attrs = 2,
    .min_inputs = 3, .max_inputs = 3, .flags = OP_INTERNAL,
    .infer = unary_grad_infer, .forward = unary_grad_forward, .backward = unary_grad_backward,
};
