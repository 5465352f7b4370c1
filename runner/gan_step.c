/* The non-saturating GAN step as one graph (see gan_step.h). */
#include "runner/gan_step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* y = scale(x, factor), for the sign flip in softplus(-x). */
static Node *scaled(Graph *g, Node *x, double factor, const char *name, Error *err)
{
    const Op *op = op_find("scale");
    AttrValue attr[OP_MAX_ATTRS];
    if (!op) return err_set(err, "internal error: op 'scale' is not registered"), NULL;
    if (attr_defaults(op, attr, err)) return NULL;
    attr_set_float(op, attr, "alpha", factor);
    return graph_op(g, "scale", &x, 1, attr, name, err);
}

/* mean(softplus(sign * logits)): binary cross-entropy from logits for label 1 (sign -1) or
 * label 0 (sign +1). */
static Node *bce_logits(Graph *g, Node *logits, double sign, const char *name, Error *err)
{
    char buf[NODE_NAME_MAX];
    Node *x = logits;
    if (sign < 0) {
        snprintf(buf, sizeof buf, "%s.neg", name);
        if (!(x = scaled(g, x, -1.0, buf, err))) return NULL;
    }
    snprintf(buf, sizeof buf, "%s.softplus", name);
    Node *sp = graph_op(g, "softplus", &x, 1, NULL, buf, err);
    if (!sp) return NULL;
    return graph_op(g, "mean", &sp, 1, NULL, name, err);
}

static Node *apply(Network *net, Graph *g, Node *x, uint64_t seed, Error *err)
{
    Node *out = NULL;
    if (network_apply(net, g, &x, 1, seed, &out, NULL, err)) return NULL;
    return out;
}

/* Trainable parameter leaves of `net`, d(loss)/d(each), and room for their data pointers. */
static int grads_of(Graph *g, Network *net, Node *loss, Node ***params, Node ***grads,
                    float ***data, int *n, Error *err)
{
    int cap = net->params.n;
    *params = calloc((size_t)cap + 1, sizeof **params);
    *grads = calloc((size_t)cap + 1, sizeof **grads);
    *data = calloc((size_t)cap + 1, sizeof **data);
    if (!*params || !*grads || !*data) return err_set(err, "out of memory");
    *n = network_param_nodes(net, g, *params, cap);
    if (graph_backward(g, loss, *params, *n, *grads, err))
        return err_prefix(err, "gradients of network '%s': ", net->def.name);
    return 0;
}

static int build(GanStep *s, uint64_t seed, Error *err)
{
    Graph *g = s->g;
    const NetDef *gd = &s->gen->def, *dd = &s->disc->def;
    if (gd->n_inputs != 1 || dd->n_inputs != 1)
        return err_set(err, "a GAN needs a generator and a discriminator with one input each "
                       "('%s' has %d, '%s' has %d)", gd->name, gd->n_inputs, dd->name, dd->n_inputs);
    Shape zs = {.ndim = gd->inputs[0].shape.ndim + 1, .dim = {s->batch}};
    Shape xs = {.ndim = dd->inputs[0].shape.ndim + 1, .dim = {s->batch}};
    memcpy(&zs.dim[1], gd->inputs[0].shape.dim, (size_t)gd->inputs[0].shape.ndim * sizeof zs.dim[0]);
    memcpy(&xs.dim[1], dd->inputs[0].shape.dim, (size_t)dd->inputs[0].shape.ndim * sizeof xs.dim[0]);

    if (!(s->z = graph_input(g, "z", &zs, false, err))) return -1;
    if (!(s->real = graph_input(g, "real", &xs, false, err))) return -1;
    if (!(s->fake = apply(s->gen, g, s->z, seed, err))) return -1;
    if (!shape_equal(&s->fake->out.shape, &xs)) {
        char a[96], b[96];
        return err_set(err, "generator '%s' makes %s but discriminator '%s' takes %s", gd->name,
                       shape_format(&s->fake->out.shape, a, sizeof a), dd->name,
                       shape_format(&xs, b, sizeof b));
    }

    /* D(fake) is computed once and serves both losses: D's update has not happened yet when
     * PyTorch evaluates D(detach(fake)), so the values are the same, and the discriminator's
     * gradients are taken with respect to D's parameters only, which is all the detach ensures. */
    Node *d_fake = apply(s->disc, g, s->fake, seed, err);
    if (!d_fake || !(s->g_loss = bce_logits(g, d_fake, -1.0, "g_loss", err))) return -1;
    Node *d_real = apply(s->disc, g, s->real, seed, err);
    if (!d_real) return -1;
    Node *l_real = bce_logits(g, d_real, -1.0, "d_loss.real", err);
    Node *l_fake = l_real ? bce_logits(g, d_fake, 1.0, "d_loss.fake", err) : NULL;
    Node *sum[2] = {l_real, l_fake};
    if (!l_fake || !(s->d_loss = graph_op(g, "add", sum, 2, NULL, "d_loss", err))) return -1;

    s->first_grad_node = g->n;
    if (grads_of(g, s->gen, s->g_loss, &s->g_params, &s->g_grads, &s->g_grad_data, &s->n_g, err) ||
        grads_of(g, s->disc, s->d_loss, &s->d_params, &s->d_grads, &s->d_grad_data, &s->n_d, err))
        return -1;

    /* Outputs: both losses and every gradient that exists. */
    int n_out = 0;
    Node **outs = malloc((size_t)(2 + s->n_g + s->n_d) * sizeof *outs);
    if (!outs) return err_set(err, "out of memory");
    outs[n_out++] = s->g_loss;
    outs[n_out++] = s->d_loss;
    for (int i = 0; i < s->n_g; i++)
        if (s->g_grads[i]) outs[n_out++] = s->g_grads[i];
    for (int i = 0; i < s->n_d; i++)
        if (s->d_grads[i]) outs[n_out++] = s->d_grads[i];
    int rc = graph_plan(g, outs, n_out, err);
    free(outs);
    if (rc) return -1;
    for (int i = 0; i < s->n_g; i++) s->g_grad_data[i] = s->g_grads[i] ? s->g_grads[i]->out.data : NULL;
    for (int i = 0; i < s->n_d; i++) s->d_grad_data[i] = s->d_grads[i] ? s->d_grads[i]->out.data : NULL;
    return 0;
}

static Optimizer *optimizer_for(const Network *net, Node *const *params, int n, const OptimConfig *cfg,
                                Error *err)
{
    Param **ps = malloc((size_t)(n + 1) * sizeof *ps);
    if (!ps) return err_set(err, "out of memory"), NULL;
    for (int i = 0; i < n; i++) ps[i] = params[i]->param;
    Optimizer *o = optim_new(net->def.name, cfg, ps, n, err);
    free(ps);
    return o;
}

int gan_step_init(GanStep *s, const Backend *be, Network *gen, Network *disc, int batch,
                  uint64_t seed, const OptimConfig *opt_g, const OptimConfig *opt_d, Error *err)
{
    memset(s, 0, sizeof *s);
    s->gen = gen;
    s->disc = disc;
    s->batch = batch;
    if (batch < 1) return err_set(err, "batch size must be at least 1, got %d", batch);
    if (!(s->g = graph_new(be))) return err_set(err, "out of memory");
    if (build(s, seed, err) ||
        !(s->opt_g = optimizer_for(gen, s->g_params, s->n_g, opt_g, err)) ||
        !(s->opt_d = optimizer_for(disc, s->d_params, s->n_d, opt_d, err))) {
        gan_step_free(s);
        return -1;
    }
    return 0;
}

int gan_step_update(GanStep *s, Error *err)
{
    if (optim_step(s->opt_g, s->g_grad_data, s->opt_g->cfg.lr, err))
        return err_prefix(err, "updating '%s': ", s->gen->def.name);
    if (optim_step(s->opt_d, s->d_grad_data, s->opt_d->cfg.lr, err))
        return err_prefix(err, "updating '%s': ", s->disc->def.name);
    return 0;
}

int gan_step_run(GanStep *s, const float *z, const float *real, float *g_loss, float *d_loss,
                 Error *err)
{
    graph_set_input(s->g, s->z, z);
    graph_set_input(s->g, s->real, real);
    graph_run(s->g);
    if (g_loss) graph_get(s->g, s->g_loss, g_loss);
    if (d_loss) graph_get(s->g, s->d_loss, d_loss);
    return gan_step_update(s, err);
}

void gan_step_free(GanStep *s)
{
    optim_free(s->opt_g);
    optim_free(s->opt_d);
    graph_free(s->g);
    free(s->g_params);
    free(s->g_grads);
    free(s->g_grad_data);
    free(s->d_params);
    free(s->d_grads);
    free(s->d_grad_data);
    memset(s, 0, sizeof *s);
}

int gan_reference_load(const char *experiments_dir, GanReference *r, Error *err)
{
    memset(r, 0, sizeof *r);
    char text[1024];
    snprintf(text, sizeof text,
             "name: reference_gan\n"
             "models:\n"
             "  generator: {include: %s/nets/pixelshuffle_generator.yaml}\n"
             "  discriminator: {include: %s/nets/conv_discriminator.yaml}\n"
             "optimizers:\n"
             "  generator: {type: adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n"
             "  discriminator: {type: adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n",
             experiments_dir, experiments_dir);
    if (spec_load_text("reference GAN", text, NULL, 0, &r->spec, err)) return -1;
    const SpecOptimizer *og = spec_optimizer(&r->spec, "generator");
    const SpecOptimizer *od = spec_optimizer(&r->spec, "discriminator");
    const NetDef *gd = spec_model(&r->spec, "generator"), *dd = spec_model(&r->spec, "discriminator");
    if (!og || !od || !gd || !dd) {
        gan_reference_free(r);
        return err_set(err, "internal error: the reference GAN spec lacks a model or optimizer");
    }
    r->opt_g = og->cfg;
    r->opt_d = od->cfg;
    if (!(r->gen = network_new(gd, err)) || !(r->disc = network_new(dd, err))) {
        gan_reference_free(r);
        return -1;
    }
    return 0;
}

void gan_reference_free(GanReference *r)
{
    network_free(r->gen);
    network_free(r->disc);
    spec_free(&r->spec);
    memset(r, 0, sizeof *r);
}
