/* The adversarial algorithms on the Algorithm interface: gan (non_saturating, minimax, hinge,
 * least_squares), wgan (weight clipping) and wgan_gp (gradient penalty).
 *
 * Each iteration makes one discriminator (critic) step; the generator steps every n_critic
 * iterations: first in the iteration under generator_first, last under discriminator_first.
 * Up to three graphs, each planned once:
 *   both:      G(z) -> D -> loss_g, D(real) and D(fake) -> loss_d, gradients of each loss w.r.t.
 *              its own network only.  Used for generator_first iterations where G steps: PyTorch
 *              then trains D on the detached fake batch made before G's update, and neither
 *              update changes what the other reads, so one graph is exact (and fastest).
 *   critic:    the discriminator's half alone (iterations where G does not step, and every
 *              iteration under discriminator_first).
 *   generator: the generator's half alone, on fresh noise, after the critic's update
 *              (discriminator_first).
 * Noise is standard normal with the generator's input shape, drawn on the backend from a seed
 * made of (spec seed, step, purpose), and so are dropout's masks (each graph's own stream), so a
 * run is reproducible and resumable from its step.  loss_g is written only when the generator
 * steps: in between, the caller's value (the last generator loss) stays. */
#include "runner/algo/adversarial.h"
#include "runner/algo/random_streams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_CHUNK 1000 /* examples per sampling pass (a multiple of 4): bounds the sampler's memory */

enum { STREAM_CRITIC_NOISE = 1, STREAM_GEN_NOISE = 2, STREAM_EPS = 3 };

typedef struct StepGraph {
    Graph *g;                /* NULL: not used by this configuration */
    Node *z, *real, *eps;    /* real and eps: NULL without a critic step */
    Node *loss_g;            /* NULL without a generator step */
    AdvCritic critic;        /* critic.loss NULL without a critic step */
    Node **g_nodes, **d_nodes;   /* gradients in optimizer parameter order (NULL: no gradient) */
    float **g_grads, **d_grads;  /* their memory, as optim_step takes it */
} StepGraph;

typedef struct Adversarial {
    const Spec *spec;
    const Backend *be;
    AdvLoss kind;
    Network *gen, *disc;
    Network *sampling_gen;   /* the generator's weight average when the spec keeps one, else gen */
    Optimizer *opt_g, *opt_d;
    int n_critic;
    bool gen_first;
    Shape z_shape, x_shape;  /* with the batch dimension */
    StepGraph both, critic, generator;
    Graph *sampler;          /* G in evaluation mode, built on the first sample() */
    Node *sample_z, *sample_x;
    int sample_chunk;
} Adversarial;

static Node *apply(Network *net, Graph *g, Node *x, uint64_t seed, Error *err)
{
    Node *out = NULL;
    if (network_apply(net, g, &x, 1, seed, &out, NULL, err)) return NULL;
    return out;
}

/* d(loss)/d(each parameter o trains), in o's order, into a new array *out. */
static int grads_of(Graph *g, Network *net, Node *loss, const Optimizer *o, const char *why,
                    Node ***out, Error *err)
{
    if (!(*out = calloc((size_t)o->n + 1, sizeof **out))) return err_set(err, "out of memory");
    if (algorithm_gradients(g, net, loss, o, *out, err))
        return err_prefix(err, "%sgradients of network '%s': ", why, net->def.name);
    return 0;
}

static int add_critic_penalty(Adversarial *s, StepGraph *sg, Node *fake, Error *err)
{
    Graph *g = sg->g;
    Node *gp = adv_gradient_penalty(g, s->disc, sg->real, fake, sg->eps, s->spec->loss.lambda,
                                    s->spec->seed, err);
    Node *sum[2] = {sg->critic.loss, gp};
    if (!gp || !(sg->critic.loss = graph_op(g, "add", sum, 2, NULL, "loss_d.total", err))) return -1;
    sg->critic.metric[sg->critic.n_metric++] = gp;
    return 0;
}

static int plan_step(Adversarial *s, StepGraph *sg, Error *err)
{
    int max = 3 + (int)(sizeof sg->critic.metric / sizeof sg->critic.metric[0]) + s->opt_g->n + s->opt_d->n;
    Node **outs = malloc((size_t)max * sizeof *outs);
    if (!outs) return err_set(err, "out of memory");
    int n = 0;
    if (sg->loss_g) outs[n++] = sg->loss_g;
    if (sg->critic.loss) outs[n++] = sg->critic.loss;
    for (int i = 0; i < sg->critic.n_metric; i++) outs[n++] = sg->critic.metric[i];
    for (int k = 0; sg->g_nodes && k < s->opt_g->n; k++)
        if (sg->g_nodes[k]) outs[n++] = sg->g_nodes[k];
    for (int k = 0; sg->d_nodes && k < s->opt_d->n; k++)
        if (sg->d_nodes[k]) outs[n++] = sg->d_nodes[k];
    int rc = graph_plan(sg->g, outs, n, err);
    free(outs);
    if (rc) return -1;
    /* Gradient memory, fixed by the plan. */
    sg->g_grads = calloc((size_t)s->opt_g->n + 1, sizeof *sg->g_grads);
    sg->d_grads = calloc((size_t)s->opt_d->n + 1, sizeof *sg->d_grads);
    if (!sg->g_grads || !sg->d_grads) return err_set(err, "out of memory");
    for (int k = 0; sg->g_nodes && k < s->opt_g->n; k++)
        sg->g_grads[k] = sg->g_nodes[k] ? sg->g_nodes[k]->out.data : NULL;
    for (int k = 0; sg->d_nodes && k < s->opt_d->n; k++)
        sg->d_grads[k] = sg->d_nodes[k] ? sg->d_nodes[k]->out.data : NULL;
    return 0;
}

static int build_step(Adversarial *s, StepGraph *sg, bool train_g, bool train_d, Error *err)
{
    Graph *g = sg->g = graph_new(s->be);
    uint64_t seed = s->spec->seed;
    if (!g) return err_set(err, "out of memory");
    /* Inputs first: the planner lets a value live from its creation on, and inputs are written
     * before the graph runs. */
    Shape es = shape_of(1, s->x_shape.dim[0]);
    if (!(sg->z = graph_input(g, "z", &s->z_shape, false, err)) ||
        (train_d && !(sg->real = graph_input(g, "real", &s->x_shape, false, err))) ||
        (train_d && s->kind == ADV_WGAN_GP && !(sg->eps = graph_input(g, "eps", &es, false, err))))
        return -1;
    Node *fake = apply(s->gen, g, sg->z, seed, err);
    if (!fake) return -1;
    if (!shape_equal(&fake->out.shape, &s->x_shape)) {
        char a[96], b[96];
        return err_set(err, "generator '%s' makes %s but discriminator '%s' takes %s", s->gen->def.name,
                       shape_format(&fake->out.shape, a, sizeof a), s->disc->def.name,
                       shape_format(&s->x_shape, b, sizeof b));
    }
    Node *d_fake = apply(s->disc, g, fake, seed, err);
    if (!d_fake || (train_g && !(sg->loss_g = adv_generator_loss(g, s->kind, d_fake, err)))) return -1;
    if (train_d) {
        Node *d_real;
        if (!(d_real = apply(s->disc, g, sg->real, seed, err)) ||
            adv_critic_loss(g, s->kind, d_real, d_fake, &sg->critic, err))
            return -1;
        if (s->kind == ADV_WGAN_GP && add_critic_penalty(s, sg, fake, err)) return -1;
    }
    /* Each loss is differentiated w.r.t. its own network only: that is what PyTorch's detach of
     * the fake batch (and the generator's optimizer ignoring D's gradients) amounts to. */
    const char *second = s->kind == ADV_WGAN_GP
        ? "wgan_gp differentiates the critic's input gradient again, so each op of the critic needs a "
          "second-order gradient: "
        : "";
    if (train_g && grads_of(g, s->gen, sg->loss_g, s->opt_g, "", &sg->g_nodes, err)) return -1;
    if (train_d && grads_of(g, s->disc, sg->critic.loss, s->opt_d, second, &sg->d_nodes, err)) return -1;
    return plan_step(s, sg, err);
}

static void free_step(StepGraph *sg)
{
    graph_free(sg->g);
    free(sg->g_nodes);
    free(sg->d_nodes);
    free(sg->g_grads);
    free(sg->d_grads);
    memset(sg, 0, sizeof *sg);
}

static void adv_destroy(void *state)
{
    Adversarial *s = state;
    if (!s) return;
    free_step(&s->both);
    free_step(&s->critic);
    free_step(&s->generator);
    graph_free(s->sampler);
    free(s);
}

static int find_net(const TrainContext *ctx, const char *name, const char *role, int *index, Error *err)
{
    for (int i = 0; i < ctx->n_nets; i++)
        if (!strcmp(ctx->nets[i]->def.name, name)) {
            if (!ctx->optims[i])
                return err_set(err, "%s '%s' has no optimizer: loss type '%s' trains it (add optimizers.%s)",
                               role, name, ctx->spec->loss.type, name);
            if (ctx->nets[i]->def.n_inputs != 1)
                return err_set(err, "%s '%s' must take one input, it takes %d", role, name,
                               ctx->nets[i]->def.n_inputs);
            *index = i;
            return 0;
        }
    return err_set(err, "loss.%s names model '%s', which the spec does not define", role, name);
}

/* wgan's clip acts through the critic's optimizer (its clip_weights clamps every parameter after
 * each update), the one clamping mechanism there is. */
static int set_clip(Adversarial *s, Error *err)
{
    double clip = s->spec->loss.clip;
    if (s->kind != ADV_WGAN || clip <= 0) return 0;
    OptimConfig *c = &s->opt_d->cfg;
    if (c->clip_weights > 0 && c->clip_weights != clip)
        return err_set(err, "loss.clip is %g but optimizers.%s.clip_weights is %g: set one of them",
                       clip, s->disc->def.name, c->clip_weights);
    c->clip_weights = clip;
    return 0;
}

static int adv_create(const TrainContext *ctx, void **state, Error *err)
{
    const SpecLoss *l = &ctx->spec->loss;
    Adversarial *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, "out of memory");
    *state = NULL;
    s->spec = ctx->spec;
    s->be = ctx->be;
    int gi = 0, di = 0;
    if (ctx->batch < 1) {
        err_set(err, "batch size must be at least 1, got %d", ctx->batch);
        goto fail;
    }
    if (adv_loss_parse(l, &s->kind, err) || find_net(ctx, l->generator, "generator", &gi, err) ||
        find_net(ctx, l->discriminator, "discriminator", &di, err))
        goto fail;
    s->gen = ctx->nets[gi], s->disc = ctx->nets[di];
    s->sampling_gen = ctx->ema[gi] ? ctx->ema[gi] : s->gen;
    s->opt_g = ctx->optims[gi], s->opt_d = ctx->optims[di];
    s->n_critic = s->kind == ADV_WGAN || s->kind == ADV_WGAN_GP ? l->n_critic : 1;
    if (s->n_critic < 1) s->n_critic = 1;
    s->gen_first = strcmp(l->order, "discriminator_first") != 0;
    s->z_shape = shape_batched(ctx->batch, &s->gen->def.inputs[0].shape);
    s->x_shape = shape_batched(ctx->batch, &s->disc->def.inputs[0].shape);
    if (!shape_equal(&ctx->data_shape, &s->disc->def.inputs[0].shape)) {
        char a[96], b[96];
        err_set(err, "the data's examples are %s but discriminator '%s' takes %s",
                shape_format(&ctx->data_shape, a, sizeof a), s->disc->def.name,
                shape_format(&s->disc->def.inputs[0].shape, b, sizeof b));
        goto fail;
    }
    if (set_clip(s, err) ||
        (s->gen_first && build_step(s, &s->both, true, true, err)) ||
        ((!s->gen_first || s->n_critic > 1) && build_step(s, &s->critic, false, true, err)) ||
        (!s->gen_first && build_step(s, &s->generator, true, false, err)))
        goto fail;
    *state = s;
    return 0;
fail:
    adv_destroy(s);
    return -1;
}

static void fill_noise(Adversarial *s, Node *in, int64_t step, int stream)
{
    if (!in || !in->out.data) return; /* an input nothing reads has no memory */
    size_t n = tensor_numel(&in->out);
    uint64_t seed = stream_seed(s->spec->seed, step, stream);
    if (stream == STREAM_EPS) s->be->rng_uniform(in->out.data, n, 0.0f, 1.0f, seed, 0);
    else s->be->rng_normal(in->out.data, n, 0.0f, 1.0f, seed, 0);
}

static float read_scalar(Graph *g, const Node *n)
{
    float v = 0;
    graph_get(g, n, &v);
    return v;
}

/* Runs one graph and applies the updates it computes; metrics[0] and [2..] come from a critic
 * step. */
static int run_step(Adversarial *s, StepGraph *sg, const float *batch, int64_t step, double *metrics,
                    Error *err)
{
    int stream = sg == &s->generator ? STREAM_GEN_NOISE : STREAM_CRITIC_NOISE;
    fill_noise(s, sg->z, step, stream);
    fill_noise(s, sg->eps, step, STREAM_EPS);
    stream_seed_graph(sg->g, s->spec->seed, step, stream);
    if (sg->real) graph_set_input(sg->g, sg->real, batch);
    if (graph_run(sg->g, err)) return -1;
    if (sg->loss_g) {
        metrics[1] = read_scalar(sg->g, sg->loss_g);
        if (algorithm_update(s->spec, s->opt_g, sg->g_grads, err)) return -1;
    }
    if (sg->critic.loss) {
        metrics[0] = read_scalar(sg->g, sg->critic.loss);
        for (int i = 0; i < sg->critic.n_metric; i++) metrics[2 + i] = read_scalar(sg->g, sg->critic.metric[i]);
        if (algorithm_update(s->spec, s->opt_d, sg->d_grads, err)) return -1;
    }
    return 0;
}

static int adv_step(void *state, const float *batch, const int32_t *labels, int64_t step, double *metrics,
                    Error *err)
{
    Adversarial *s = state;
    (void)labels;
    if (!batch) return err_internal(err, "the adversarial step needs a data batch");
    bool gen_turn = s->gen_first ? step % s->n_critic == 0 : (step + 1) % s->n_critic == 0;
    int rc;
    if (s->gen_first && gen_turn) {
        rc = run_step(s, &s->both, batch, step, metrics, err);
    } else {
        rc = run_step(s, &s->critic, batch, step, metrics, err);
        if (rc == 0 && gen_turn) rc = run_step(s, &s->generator, batch, step, metrics, err);
    }
    return rc ? err_prefix(err, "training step %lld: ", (long long)step) : 0;
}

static int build_sampler(Adversarial *s, int chunk, Error *err)
{
    graph_free(s->sampler);
    s->sampler = graph_new(s->be);
    s->sample_chunk = 0;
    if (!s->sampler) return err_set(err, "out of memory");
    s->sampler->training = false; /* batch norms update nothing; dropout keeps everything */
    s->sampler->batch_statistics = !strcmp(s->spec->samples.batchnorm, "batch");
    Shape zs = shape_batched(chunk, &s->gen->def.inputs[0].shape);
    if (!(s->sample_z = graph_input(s->sampler, "z", &zs, false, err)) ||
        !(s->sample_x = apply(s->sampling_gen, s->sampler, s->sample_z, s->spec->seed, err)) ||
        graph_plan(s->sampler, &s->sample_x, 1, err))
        return err_prefix(err, "sampling from '%s': ", s->gen->def.name);
    s->sample_chunk = chunk;
    return 0;
}

static int adv_sample(void *state, int count, uint64_t seed, float *images, Error *err)
{
    Adversarial *s = state;
    if (count < 1) return err_set(err, "sample count must be at least 1, got %d", count);
    int chunk = count < SAMPLE_CHUNK ? count : SAMPLE_CHUNK;
    if (s->sample_chunk != chunk && build_sampler(s, chunk, err)) return -1;
    size_t nz = (size_t)shape_numel(&s->gen->def.inputs[0].shape);
    size_t nx = tensor_numel(&s->sample_x->out) / (size_t)chunk;
    /* Noise of sample i is elements [i*nz, (i+1)*nz) of one stream, however it is chunked. */
    for (int start = 0; start < count; start += chunk) {
        s->be->rng_normal(s->sample_z->out.data, (size_t)chunk * nz, 0.0f, 1.0f, seed,
                          (uint64_t)start * nz);
        if (graph_run(s->sampler, err)) return err_prefix(err, "sampling: ");
        int take = count - start < chunk ? count - start : chunk;
        s->be->download(images + (size_t)start * nx, s->sample_x->out.data, (size_t)take * nx);
    }
    return 0;
}

static int adv_graphs(void *state, Graph **out, int max)
{
    Adversarial *s = state;
    Graph *all[] = {s->both.g, s->critic.g, s->generator.g};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] && n < max) out[n++] = all[i];
    return n;
}

/* G's output must be a valid input of D (one sample shape, batch first). */
static int adv_check(const Spec *spec, int batch, char *summary, size_t len, Error *err)
{
    const NetDef *gd = spec_model(spec, spec->loss.generator), *dd = spec_model(spec, spec->loss.discriminator);
    if (!gd || !dd) return err_set(err, "loss.generator and loss.discriminator must name models of the spec");
    if (dd->n_inputs != 1)
        return err_set_at(err, dd->where, "discriminator '%s' must take one input (the image), it takes %d",
                          dd->name, dd->n_inputs);
    Network *gn = network_new(gd, err), *dn = gn ? network_new(dd, err) : NULL;
    Graph *g = graph_new(backend_cpu());
    Node *in[NET_MAX_INPUTS], *fake = NULL, *score = NULL;
    int rc = -1;
    if (!gn || !dn) goto done;
    if (!g) {
        err_set(err, "out of memory");
        goto done;
    }
    if (network_input_leaves(g, gd, batch, in, err) ||
        network_apply(gn, g, in, gd->n_inputs, spec->seed, &fake, NULL, err))
        goto done;
    if (network_apply(dn, g, &fake, 1, spec->seed, &score, NULL, err)) {
        err_prefix(err, "the generator's output does not fit the discriminator: ");
        goto done;
    }
    /* Shapes print with -1 for the batch, as torchsummary does. */
    Shape f = fake->out.shape, s = score->out.shape;
    f.dim[0] = s.dim[0] = -1;
    char a[96], b[96];
    snprintf(summary, len, "%s -> %s: %s -> %s", gd->name, dd->name, shape_format(&f, a, sizeof a),
             shape_format(&s, b, sizeof b));
    rc = 0;
done:
    graph_free(g);
    network_free(gn);
    network_free(dn);
    return rc;
}

/* ---- the `loss:` keys of the family and of each member ---- */

#define LA(x) offsetof(SpecLoss, x)
static const char *const orders[] = {"generator_first", "discriminator_first", NULL};
static const char *const gan_variants[] = {"non_saturating", "minimax", "hinge", "least_squares", NULL};
static const Field family_f[] = {
    {"order", F_WORD, LA(order), "generator_first", 1, 0, orders,
     "which network steps first (the other sees the fake batch detached)"},
    {"generator", F_TEXT, LA(generator), "generator", 1, 0, NULL, "the model that generates"},
    {"discriminator", F_TEXT, LA(discriminator), "discriminator", 1, 0, NULL, "the model that judges (the critic)"},
};
static const Field gan_f[] = {
    {"variant", F_WORD, LA(variant), "non_saturating", 1, 0, gan_variants, "the GAN objective"}};
static const Field wgan_f[] = {
    {"clip", F_FLOAT, LA(clip), "0.01", 0, FIELD_NO_MAX, NULL,
     "clamp the critic's weights to [-clip, clip] after each step (0: off)"},
    {"n_critic", F_INT, LA(n_critic), "5", 1, 1000, NULL, "critic steps per generator step"},
};
static const Field wgan_gp_f[] = {
    {"lambda", F_FLOAT, LA(lambda), "10", 0, FIELD_NO_MAX, NULL, "weight of the gradient penalty"},
    {"n_critic", F_INT, LA(n_critic), "5", 1, 1000, NULL, "critic steps per generator step"},
};
#define KEYS(f, section) {section, f, (int)(sizeof f / sizeof f[0])}
static const FieldTable family_keys = KEYS(family_f, "loss (gan, wgan, wgan_gp)");
static const FieldTable gan_keys = KEYS(gan_f, "loss (gan)");
static const FieldTable wgan_keys = KEYS(wgan_f, "loss (wgan)");
static const FieldTable wgan_gp_keys = KEYS(wgan_gp_f, "loss (wgan_gp)");

static const char *const batchnorm_modes[] = {"running", "batch", NULL};
static const Field samples_f[] = {
    {"batchnorm", F_WORD, offsetof(SpecSamples, batchnorm), "running", 1, 0, batchnorm_modes,
     "the generator's batch norms when it samples: their `running` statistics (evaluation mode, as after "
     "PyTorch's `G.eval()`), or each sampling batch's own (`batch`: a PyTorch script that samples without "
     "`G.eval()`); sampling never changes the running statistics"},
};
static const FieldTable samples_keys = KEYS(samples_f, "samples (gan, wgan, wgan_gp)");

#define ADVERSARIAL(type, ...)                                                                   \
    const Algorithm algo_##type = {                                                              \
        .loss = {#type, {&family_keys, &type##_keys}, true, "adversarial", &samples_keys},       \
        .create = adv_create, .metrics = {__VA_ARGS__}, .step = adv_step,                        \
        .sample = adv_sample, .destroy = adv_destroy, .graphs = adv_graphs, .check = adv_check,  \
    };

ADVERSARIAL(gan, "loss_d", "loss_g", "d_real", "d_fake")
ADVERSARIAL(wgan, "loss_d", "loss_g", "wasserstein")
ADVERSARIAL(wgan_gp, "loss_d", "loss_g", "wasserstein", "gp") /* its gradient penalty */
