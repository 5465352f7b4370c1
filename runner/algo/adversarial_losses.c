/* Adversarial objectives as graph nodes, all from the discriminator's logits so that no sigmoid
 * or log is ever evaluated where it could round to 0 (see adversarial.h). */
#include "runner/algo/adversarial.h"

#include <stdio.h>
#include <string.h>

/* One term c * mean(fn(a * x + b)); fn NULL is the identity. */
typedef struct Term {
    double a, b;
    const char *fn;
    double c;
} Term;

typedef struct Objective {
    const char *variant; /* gan's loss.variant; NULL for the wgan family */
    Term d_real, d_fake, g;
} Objective;

/* log D(x) = -softplus(-x) and log(1 - D(x)) = -softplus(x) for D(x) = sigmoid(x), so:
 *   non_saturating: D: -log D(r) - log(1 - D(f)),  G: -log D(f)
 *   minimax:        D as above,                    G: log(1 - D(f))
 *   hinge:          D: relu(1 - r) + relu(1 + f),  G: -f
 *   least_squares (Mao et al., a = 0, b = c = 1): D: (r - 1)^2 / 2 + f^2 / 2, G: (f - 1)^2 / 2
 *   wgan, wgan_gp:  D: -r + f,                     G: -f
 * each term averaged over the batch. */
static const Objective objectives[ADV_LOSS_COUNT] = {
    [ADV_NON_SATURATING] = {"non_saturating", {-1, 0, "softplus", 1}, {1, 0, "softplus", 1}, {-1, 0, "softplus", 1}},
    [ADV_MINIMAX] = {"minimax", {-1, 0, "softplus", 1}, {1, 0, "softplus", 1}, {1, 0, "softplus", -1}},
    [ADV_HINGE] = {"hinge", {-1, 1, "relu", 1}, {1, 1, "relu", 1}, {1, 0, NULL, -1}},
    [ADV_LEAST_SQUARES] = {"least_squares", {1, -1, "square", 0.5}, {1, 0, "square", 0.5}, {1, -1, "square", 0.5}},
    [ADV_WGAN] = {NULL, {1, 0, NULL, -1}, {1, 0, NULL, 1}, {1, 0, NULL, -1}},
    [ADV_WGAN_GP] = {NULL, {1, 0, NULL, -1}, {1, 0, NULL, 1}, {1, 0, NULL, -1}},
};

int adv_loss_parse(const SpecLoss *l, AdvLoss *out, Error *err)
{
    if (!strcmp(l->type, "wgan")) return *out = ADV_WGAN, 0;
    if (!strcmp(l->type, "wgan_gp")) return *out = ADV_WGAN_GP, 0;
    if (strcmp(l->type, "gan") != 0)
        return err_set(err, "loss type '%s' is not adversarial (expected gan, wgan or wgan_gp)", l->type);
    const char *v = l->variant[0] ? l->variant : "non_saturating";
    for (int k = 0; k < ADV_LOSS_COUNT; k++)
        if (objectives[k].variant && !strcmp(objectives[k].variant, v)) return *out = (AdvLoss)k, 0;
    return err_set(err, "unknown gan variant '%s' (expected non_saturating, minimax, hinge or least_squares)", v);
}

static Node *scaled(Graph *g, Node *x, double alpha, double shift, const char *name, Error *err)
{
    const Op *op = op_find("scale");
    AttrValue a[OP_MAX_ATTRS];
    if (!op) return err_internal(err, "op 'scale' is not registered"), NULL;
    if (attr_defaults(op, a, err)) return NULL;
    attr_set_float(op, a, "alpha", alpha);
    attr_set_float(op, a, "shift", shift);
    return graph_op(g, "scale", &x, 1, a, name, err);
}

static Node *term(Graph *g, const Term *t, Node *x, const char *name, Error *err)
{
    char buf[NODE_NAME_MAX];
    if (t->a != 1.0 || t->b != 0.0) {
        snprintf(buf, sizeof buf, "%s.affine", name);
        if (!(x = scaled(g, x, t->a, t->b, buf, err))) return NULL;
    }
    if (t->fn) {
        snprintf(buf, sizeof buf, "%s.%s", name, t->fn);
        if (!(x = graph_op(g, t->fn, &x, 1, NULL, buf, err))) return NULL;
    }
    snprintf(buf, sizeof buf, "%s.mean", name);
    if (!(x = graph_op(g, "mean", &x, 1, NULL, t->c == 1.0 ? name : buf, err))) return NULL;
    return t->c == 1.0 ? x : scaled(g, x, t->c, 0.0, name, err);
}

Node *adv_generator_loss(Graph *g, AdvLoss kind, Node *fake_logits, Error *err)
{
    return term(g, &objectives[kind].g, fake_logits, "loss_g", err);
}

static Node *mean_sigmoid(Graph *g, Node *logits, const char *name, Error *err)
{
    char buf[NODE_NAME_MAX];
    snprintf(buf, sizeof buf, "%s.sigmoid", name);
    Node *s = graph_op(g, "sigmoid", &logits, 1, NULL, buf, err);
    return s ? graph_op(g, "mean", &s, 1, NULL, name, err) : NULL;
}

int adv_critic_loss(Graph *g, AdvLoss kind, Node *real_logits, Node *fake_logits, AdvCritic *out,
                    Error *err)
{
    const Objective *o = &objectives[kind];
    memset(out, 0, sizeof *out);
    Node *t[2] = {term(g, &o->d_real, real_logits, "loss_d.real", err), NULL};
    if (!t[0] || !(t[1] = term(g, &o->d_fake, fake_logits, "loss_d.fake", err)) ||
        !(out->loss = graph_op(g, "add", t, 2, NULL, "loss_d", err)))
        return -1;
    if (o->variant) {
        out->n_metric = 2;
        out->metric[0] = mean_sigmoid(g, real_logits, "d_real", err);
        out->metric[1] = out->metric[0] ? mean_sigmoid(g, fake_logits, "d_fake", err) : NULL;
        return out->metric[1] ? 0 : -1;
    }
    /* The critic's estimate mean D(real) - mean D(fake) is minus its loss. */
    out->n_metric = 1;
    return (out->metric[0] = scaled(g, out->loss, -1.0, 0.0, "wasserstein", err)) ? 0 : -1;
}

/* An op from the layer-norm family that sums over, or broadcasts along, the trailing `dims`
 * dimensions of each sample. */
static Node *per_sample(Graph *g, const char *op_name, Node *a, Node *like, int dims, Error *err)
{
    const Op *op = op_find(op_name);
    AttrValue v[OP_MAX_ATTRS];
    if (!op) return err_internal(err, "op '%s' is not registered", op_name), NULL;
    if (attr_defaults(op, v, err)) return NULL;
    attr_set_int(op, v, "dims", dims);
    Node *in[2] = {a, like};
    return graph_op(g, op_name, in, like ? 2 : 1, v, NULL, err);
}

Node *adv_gradient_penalty(Graph *g, Network *critic, Node *real, Node *fake, Node *eps,
                           double lambda, uint64_t seed, Error *err)
{
    int dims = real->out.shape.ndim - 1;
    if (dims < 1) return err_set(err, "the gradient penalty needs batched examples, got a %d-d input",
                                 real->out.shape.ndim), NULL;
    Node *e = per_sample(g, "row_expand", eps, real, dims, err);
    Node *diff = e ? graph_op2(g, "sub", real, fake, err) : NULL;
    Node *step = diff ? graph_op2(g, "mul", e, diff, err) : NULL;
    Node *x_hat = step ? graph_op2(g, "add", fake, step, err) : NULL;
    if (!x_hat) return NULL;
    snprintf(x_hat->name, sizeof x_hat->name, "x_hat");

    Node *out = NULL, *grad = NULL;
    if (network_apply(critic, g, &x_hat, 1, seed, &out, NULL, err)) return NULL;
    Node *total = graph_op1(g, "sum", out, err);
    if (!total) return NULL;
    if (graph_backward(g, total, &x_hat, 1, &grad, err))
        return err_prefix(err, "gradient penalty, d %s(x_hat)/d x_hat: ", critic->def.name), NULL;
    if (!grad) return err_set(err, "the gradient penalty is zero: critic '%s' does not depend on its input",
                              critic->def.name), NULL;

    Node *sq = graph_op1(g, "square", grad, err);
    Node *norm2 = sq ? per_sample(g, "row_sum", sq, NULL, dims, err) : NULL;
    Node *norm = norm2 ? graph_op1(g, "sqrt", norm2, err) : NULL;
    Node *dev = norm ? scaled(g, norm, 1.0, -1.0, "gp.deviation", err) : NULL;
    Node *dev2 = dev ? graph_op1(g, "square", dev, err) : NULL;
    Node *mean = dev2 ? graph_op1(g, "mean", dev2, err) : NULL;
    return mean ? scaled(g, mean, lambda, 0.0, "gp", err) : NULL;
}
