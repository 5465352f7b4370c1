/* The ddpm algorithm (loss type `ddpm`, Ho et al. 2020): each iteration draws a timestep t
 * uniformly from 0..T-1 and standard normal noise eps per example, forms
 * x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps on the backend, and steps the denoiser on the mean
 * squared error between its prediction and eps (F.mse_loss: the mean over every element).  Metric
 * `loss`; evaluate() gives `val_loss`, the same loss on held-out examples with fixed timesteps and
 * noise.  Sampling (ancestral or DDIM, samples.sampler) lives in ddpm_sampler.c, the pictures of
 * both processes in ddpm_figures.c; ddpm.h states the random streams. */
#include "runner/algo/ddpm.h"

#include "runner/algo/random_streams.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "[1, 28, 28]", as a spec writes a shape. */
static const char *yaml_shape(const Shape *s, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)s->dim[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

/* The spec location of `dotted`, else of the model's entry. */
static const char *where_in_model(const Spec *spec, const NetDef *d, const char *dotted, char *buf, size_t len)
{
    char path[NET_NAME_MAX + 64];
    snprintf(path, sizeof path, "models.%s.%s", d->name, dotted);
    spec_where(spec, path, buf, len);
    if (!buf[0]) snprintf(buf, len, "%s", d->where);
    return buf;
}

/* The denoiser of a ddpm spec and the positions of its inputs x and t; errors are placed at the
 * spec's file:line:column. */
static int find_denoiser(const Spec *spec, const NetDef **out, int *xi, int *ti, Error *err)
{
    char where[256], list[256] = "";
    if (spec->n_models != 1) {
        for (int i = 0; i < spec->n_models; i++) {
            size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s'%s'", i ? ", " : "", spec->models[i].name);
        }
        spec_where(spec, "models", where, sizeof where);
        return err_set_at(err, where[0] ? where : spec->path,
                          "loss type 'ddpm' trains one model, the denoiser; the spec defines %d (%s)", spec->n_models,
                          list);
    }
    const NetDef *d = spec_model(spec, spec->loss.model);
    if (!d) return err_internal(err, "loss.model names no model of the spec");
    int x = -1, t = -1;
    for (int i = 0; i < d->n_inputs; i++) {
        if (!strcmp(d->inputs[i].name, "x")) x = i;
        if (!strcmp(d->inputs[i].name, "t")) t = i;
    }
    const Shape *ts = t >= 0 ? &d->inputs[t].shape : NULL;
    if (d->n_inputs == 2 && x >= 0 && t >= 0 && ts->ndim == 1 && ts->dim[0] == 1) {
        *out = d, *xi = x, *ti = t;
        return 0;
    }
    for (int i = 0; i < d->n_inputs; i++) {
        char s[96];
        size_t at = strlen(list);
        snprintf(list + at, sizeof list - at, "%s%s: %s", i ? ", " : "", d->inputs[i].name,
                 yaml_shape(&d->inputs[i].shape, s, sizeof s));
    }
    where_in_model(spec, d, x >= 0 && t >= 0 && d->n_inputs == 2 ? "inputs.t" : d->n_inputs == 1 ? "input" : "inputs",
                   where, sizeof where);
    return err_set_at(err, where, "the denoiser '%s' must declare inputs {x: <the data's shape>, t: [1]}; it declares {%s}",
                      d->name, list);
}

/* The denoiser predicts the noise added to x: its output (named at the node that makes it) must
 * have x's shape. */
static int check_output(const NetDef *d, const Node *x, const Node *out, Error *err)
{
    if (shape_equal(&x->out.shape, &out->out.shape)) return 0;
    const char *where = d->where;
    for (int k = 0; k < d->n_nodes; k++)
        if (d->output[0] ? !strcmp(d->nodes[k].name, d->output) : k == d->n_nodes - 1) where = d->nodes[k].where;
    char a[96], b[96];
    Shape o = out->out.shape, i = x->out.shape;
    o.dim[0] = i.dim[0] = -1;
    return err_set_at(err, where, "the denoiser '%s' outputs %s for x of %s: it predicts the noise added to x, so both "
                      "shapes must be the same", d->name, shape_format(&o, a, sizeof a), shape_format(&i, b, sizeof b));
}

static Node *apply_denoiser(const Ddpm *s, Network *net, Graph *g, Node *x, Node *t, Error *err)
{
    Node *in[2], *out = NULL;
    in[s->x_input] = x, in[s->t_input] = t;
    if (network_apply(net, g, in, 2, s->spec->seed, &out, NULL, err)) return NULL;
    return out;
}

/* coef (batch,) times each example of like (batch, ...). */
static Node *scale_examples(Graph *g, Node *coef, Node *like, Error *err)
{
    const Op *op = op_find("row_expand");
    AttrValue a[OP_MAX_ATTRS];
    if (attr_defaults(op, a, err)) return NULL;
    attr_set_int(op, a, "dims", like->out.shape.ndim - 1);
    Node *in[2] = {coef, like};
    Node *e = graph_op(g, "row_expand", in, 2, a, NULL, err);
    return e ? graph_op2(g, "mul", e, like, err) : NULL;
}

static int build_loss(Ddpm *s, DdpmLossGraph *lg, int batch, bool training, Error *err)
{
    Graph *g = lg->g = graph_new(s->be);
    if (!g) return err_set(err, "out of memory");
    g->training = training;
    lg->batch = batch;
    Shape xs = shape_batched(batch, &s->example), ts = shape_of(2, (int64_t)batch, (int64_t)1),
          cs = shape_of(1, (int64_t)batch);
    Node *xt, *pred, *d;
    if (!(lg->x0 = graph_input(g, "x0", &xs, false, err)) || !(lg->eps = graph_input(g, "eps", &xs, false, err)) ||
        !(lg->t = graph_input(g, "t", &ts, false, err)) || !(lg->signal = graph_input(g, "signal", &cs, false, err)) ||
        !(lg->noise = graph_input(g, "noise", &cs, false, err)))
        return -1;
    Node *a = scale_examples(g, lg->signal, lg->x0, err), *b = a ? scale_examples(g, lg->noise, lg->eps, err) : NULL;
    if (!b || !(xt = graph_op2(g, "add", a, b, err)) || !(pred = apply_denoiser(s, s->net, g, xt, lg->t, err)))
        return err_prefix(err, "denoiser '%s': ", s->net->def.name);
    if (check_output(&s->net->def, lg->x0, pred, err)) return -1;
    if (!(d = graph_op2(g, "sub", pred, lg->eps, err)) || !(d = graph_op2(g, "mul", d, d, err)) ||
        !(lg->loss = graph_op(g, "mean", &d, 1, NULL, "loss", err)))
        return -1;
    return 0;
}

static int build_train(Ddpm *s, int batch, Error *err)
{
    if (build_loss(s, &s->train, batch, true, err)) return -1;
    return algorithm_plan_training(s->train.g, s->net, s->opt, s->train.loss, NULL, 0, "denoiser", &s->grads, err);
}

static void ddpm_destroy(void *state)
{
    Ddpm *s = state;
    if (!s) return;
    graph_free(s->train.g);
    for (int i = 0; i < 2; i++) graph_free(s->eval[i].g);
    ddpm_sampler_free(s);
    diffusion_schedule_free(&s->sched);
    free(s->grads);
    free(s->host_t), free(s->host_signal), free(s->host_noise);
    free(s);
}

/* samples.* as the sampler runs it: steps 0 stand for T (ddpm) or min(50, T) (ddim), as
 * diffusers' DDPMPipeline and DDIMPipeline default to. */
static void sampler_config(Ddpm *s)
{
    const SpecSamples *p = &s->spec->samples;
    int T = s->sched.T;
    SamplerConfig *c = &s->sampler;
    c->kind = strcmp(p->sampler, "ddim") ? SAMPLER_DDPM : SAMPLER_DDIM;
    c->steps = p->steps ? p->steps : c->kind == SAMPLER_DDPM ? T : T < 50 ? T : 50;
    c->posterior = !strcmp(p->variance, "posterior");
    c->eta = p->eta;
    c->clip = p->clip;
    c->lo = (float)s->spec->data.normalize[0], c->hi = (float)s->spec->data.normalize[1];
    s->reverse_every = p->reverse_every ? p->reverse_every : (c->steps + 41) / 42;
}

static int ddpm_create(const TrainContext *ctx, void **state, Error *err)
{
    *state = NULL;
    if (ctx->batch < 1) return err_set(err, "batch size must be at least 1, got %d", ctx->batch);
    Ddpm *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, "out of memory");
    s->spec = ctx->spec;
    s->be = ctx->be;
    const NetDef *def;
    const SpecLoss *l = &ctx->spec->loss;
    if (find_denoiser(ctx->spec, &def, &s->x_input, &s->t_input, err)) goto fail;
    for (int i = 0; i < ctx->n_nets; i++)
        if (!strcmp(ctx->nets[i]->def.name, def->name))
            s->net = ctx->nets[i], s->opt = ctx->optims[i], s->sampling_net = ctx->ema[i] ? ctx->ema[i] : ctx->nets[i];
    if (!s->net || !s->opt) {
        err_set(err, "denoiser '%s' has no optimizer (add optimizers.%s)", def->name, def->name);
        goto fail;
    }
    s->example = ctx->data_shape;
    s->per = (size_t)shape_numel(&s->example);
    if (!shape_equal(&def->inputs[s->x_input].shape, &ctx->data_shape)) {
        char where[256], a[96], b[96];
        err_set_at(err, where_in_model(ctx->spec, def, "inputs.x", where, sizeof where),
                   "the data's examples are %s but the denoiser '%s' takes x of %s", yaml_shape(&ctx->data_shape, a, sizeof a),
                   def->name, yaml_shape(&def->inputs[s->x_input].shape, b, sizeof b));
        goto fail;
    }
    if (diffusion_schedule_init(&s->sched, strcmp(l->schedule, "cosine") ? BETAS_LINEAR : BETAS_COSINE, l->timesteps,
                                l->beta_start, l->beta_end, err))
        goto fail;
    sampler_config(s);
    if (build_train(s, ctx->batch, err)) goto fail;
    size_t n = (size_t)ctx->batch;
    if (!(s->host_t = malloc(n * sizeof *s->host_t)) || !(s->host_signal = malloc(n * sizeof *s->host_signal)) ||
        !(s->host_noise = malloc(n * sizeof *s->host_noise))) {
        err_set(err, "out of memory");
        goto fail;
    }
    *state = s;
    return 0;
fail:
    ddpm_destroy(s);
    return -1;
}

/* Timesteps of n examples, elements offset.. of the uniform stream `seed` (t = floor(u T) with
 * u in [0, 1) from 24 random bits), and their coefficients, into lg's inputs. */
static void set_timesteps(Ddpm *s, DdpmLossGraph *lg, int n, uint64_t seed, uint64_t offset)
{
    const Backend *cpu = backend_cpu(); /* its memory is the host's: the same stream, drawn here */
    cpu->rng_uniform(s->host_t, (size_t)n, 0.0f, 1.0f, seed, offset);
    for (int i = 0; i < n; i++) {
        int t = (int)((double)s->host_t[i] * s->sched.T);
        s->host_t[i] = (float)t;
        s->host_signal[i] = (float)sqrt(s->sched.abar[t]);
        s->host_noise[i] = (float)sqrt(1.0 - s->sched.abar[t]);
    }
    graph_set_input(lg->g, lg->t, s->host_t);
    graph_set_input(lg->g, lg->signal, s->host_signal);
    graph_set_input(lg->g, lg->noise, s->host_noise);
}

/* One pass of lg over n examples: returns the loss. */
static int run_loss(Ddpm *s, DdpmLossGraph *lg, const float *x0, uint64_t t_seed, uint64_t eps_seed, uint64_t first,
                    double *loss, Error *err)
{
    int n = lg->batch;
    set_timesteps(s, lg, n, t_seed, first);
    s->be->rng_normal(lg->eps->out.data, (size_t)n * s->per, 0.0f, 1.0f, eps_seed, first * s->per);
    graph_set_input(lg->g, lg->x0, x0);
    if (graph_run(lg->g, err)) return -1;
    float l = 0;
    graph_get(lg->g, lg->loss, &l);
    *loss = l;
    return 0;
}

static int ddpm_step(void *state, const float *batch, const int32_t *labels, int64_t step, double *metrics, Error *err)
{
    Ddpm *s = state;
    (void)labels;
    if (!batch) return err_internal(err, "the ddpm step needs a data batch");
    uint64_t seed = s->spec->seed;
    stream_seed_graph(s->train.g, seed, step, DDPM_STREAM_NOISE); /* dropout's masks, if the denoiser has any */
    if (run_loss(s, &s->train, batch, stream_seed(seed, step, DDPM_STREAM_TIMESTEPS),
                 stream_seed(seed, step, DDPM_STREAM_NOISE), 0, &metrics[0], err))
        return err_prefix(err, "training step %lld: ", (long long)step);
    return algorithm_update(s->spec, s->opt, s->grads, err);
}

/* The loss on held-out examples in batches of the training batch (whose memory is known to fit),
 * in evaluation mode, example i always with the same timestep and noise. */
static int ddpm_evaluate(void *state, const float *images, const int32_t *labels, int count, double *metrics,
                         Error *err)
{
    Ddpm *s = state;
    (void)labels;
    if (count < 1) return err_set(err, "evaluation needs at least one example, got %d", count);
    int chunk = s->train.batch;
    uint64_t seed = s->spec->seed, t_seed = stream_seed(seed, 0, DDPM_STREAM_VALIDATION),
             eps_seed = stream_seed(seed, 1, DDPM_STREAM_VALIDATION);
    double sum = 0.0;
    for (int start = 0; start < count; start += chunk) {
        int n = count - start < chunk ? count - start : chunk;
        DdpmLossGraph *lg = &s->eval[n == chunk ? 0 : 1];
        if (lg->g && lg->batch != n) {
            graph_free(lg->g);
            memset(lg, 0, sizeof *lg);
        }
        if (!lg->g && (build_loss(s, lg, n, false, err) || graph_plan(lg->g, &lg->loss, 1, err)))
            return err_prefix(err, "validating denoiser '%s': ", s->net->def.name);
        double loss = 0;
        if (run_loss(s, lg, images + (size_t)start * s->per, t_seed, eps_seed, (uint64_t)start, &loss, err))
            return err_prefix(err, "validating examples %d to %d: ", start, start + n - 1);
        sum += loss * n;
    }
    metrics[0] = sum / count;
    return 0;
}

static int ddpm_sample(void *state, int count, uint64_t seed, float *images, Error *err)
{
    if (count < 1) return err_set(err, "sample count must be at least 1, got %d", count);
    return ddpm_reverse(state, count, seed, 0, NULL, 0, images, err);
}

static int ddpm_graphs(void *state, Graph **out, int max)
{
    Ddpm *s = state;
    if (max < 1) return 0;
    out[0] = s->train.g;
    return 1;
}

/* The denoiser's inputs and output on CPU graphs, before anything runs. */
static int ddpm_check(const Spec *spec, int batch, char *summary, size_t len, Error *err)
{
    const NetDef *d;
    int xi, ti;
    if (find_denoiser(spec, &d, &xi, &ti, err)) return -1;
    Network *net = network_new(d, err);
    Graph *g = graph_new(backend_cpu());
    Node *in[NET_MAX_INPUTS], *out = NULL;
    int rc = -1;
    if (!net) goto done;
    if (!g) {
        err_set(err, "out of memory");
        goto done;
    }
    if (network_input_leaves(g, d, batch, in, err) || network_apply(net, g, in, 2, spec->seed, &out, NULL, err) ||
        check_output(d, in[xi], out, err))
        goto done;
    const SpecLoss *l = &spec->loss;
    const SpecSamples *p = &spec->samples;
    char x[96], betas[96];
    if (!strcmp(l->schedule, "cosine"))
        snprintf(betas, sizeof betas, "cosine betas");
    else
        snprintf(betas, sizeof betas, "linear betas %g to %g", l->beta_start, l->beta_end);
    int steps = p->steps ? p->steps : !strcmp(p->sampler, "ddim") && l->timesteps > 50 ? 50 : l->timesteps;
    snprintf(summary, len, "ddpm: denoiser '%s' predicts the noise of x %s at t; T = %d, %s; sampler %s, %d steps%s",
             d->name, yaml_shape(&d->inputs[xi].shape, x, sizeof x), l->timesteps, betas, p->sampler, steps,
             spec->ema.enabled ? "; samples from the weight average (ema)" : "");
    rc = 0;
done:
    graph_free(g);
    network_free(net);
    return rc;
}

const Algorithm algo_ddpm = {
    .loss = {"ddpm", {&ddpm_loss_keys, NULL}, false, "diffusion", &ddpm_samples_keys, ddpm_check_values},
    .create = ddpm_create, .metrics = {"loss"}, .step = ddpm_step,
    .sample = ddpm_sample, .destroy = ddpm_destroy, .graphs = ddpm_graphs, .check = ddpm_check,
    .eval_metrics = {"val_loss"}, .evaluate = ddpm_evaluate, .figures = ddpm_figures,
};
