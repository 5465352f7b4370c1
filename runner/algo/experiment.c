/* Networks, optimizers and the algorithm of a spec (see experiment.h). */
#include "runner/algo/experiment.h"

#include "runner/io/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int experiment_backend(const char *choice, const Backend **be, char *note, size_t note_len, Error *err)
{
    char why[256] = "";
    if (!strcmp(choice, "cpu")) {
        *be = backend_cpu();
        snprintf(note, note_len, "backend: cpu");
        return 0;
    }
    const Backend *cuda = backend_cuda(why, sizeof why);
    if (!strcmp(choice, "cuda")) {
        if (!cuda) return err_set(err, "backend 'cuda' requested but not available: %s", why);
        *be = cuda;
        snprintf(note, note_len, "backend: cuda");
        return 0;
    }
    if (strcmp(choice, "auto") != 0)
        return err_set(err, "unknown backend '%s' (expected cpu, cuda or auto)", choice);
    *be = cuda ? cuda : backend_cpu();
    if (cuda)
        snprintf(note, note_len, "backend: cuda (auto: a CUDA device is present)");
    else
        snprintf(note, note_len, "backend: cpu (auto: %s)", why);
    return 0;
}

/* Applies the network once to a batch of one in a scratch graph: that creates its parameters on
 * the backend and draws their initial values from the seed. */
static int create_params(Network *net, const Backend *be, uint64_t seed, Error *err)
{
    const NetDef *def = &net->def;
    Graph *g = graph_new(be);
    if (!g) return err_set(err, "out of memory");
    Node *in[NET_MAX_INPUTS], *out = NULL;
    int rc = network_input_leaves(g, def, 1, in, err);
    if (rc == 0) rc = network_apply(net, g, in, def->n_inputs, seed, &out, NULL, err);
    if (rc == 0) rc = spec_check_inits(net, err);
    graph_free(g);
    return rc;
}

static Optimizer *make_optimizer(Network *net, const OptimConfig *cfg, Error *err)
{
    const ParamSet *ps = &net->params;
    Param **train = malloc((size_t)(ps->n + 1) * sizeof *train);
    if (!train) return err_set(err, "out of memory"), NULL;
    int n = 0;
    for (int i = 0; i < ps->n; i++)
        if (ps->items[i]->trainable) train[n++] = ps->items[i];
    Optimizer *o = optim_new(net->def.name, cfg, train, n, err);
    free(train);
    if (!o) err_prefix(err, "optimizer of '%s': ", net->def.name);
    return o;
}

int experiment_build(Experiment *x, const Spec *spec, const Backend *be, int batch, const Shape *data_shape,
                     Error *err)
{
    memset(x, 0, sizeof *x);
    x->spec = spec;
    x->be = be;
    if (!spec->loss.type[0])
        return err_set_at(err, spec->path, "the spec has no 'loss' section, so there is nothing to train "
                          "(add e.g. `loss: {type: gan}`)");
    /* The spec accepts only the algorithm table's loss types. */
    if (!(x->algo = algorithm_find(spec->loss.type)))
        return err_internal(err, "loss type '%s' has no training algorithm", spec->loss.type);
    for (int i = 0; i < spec->n_models; i++) {
        if (!(x->nets[i] = network_new(&spec->models[i], err))) goto fail;
        x->n_nets = i + 1;
        if (create_params(x->nets[i], be, spec->seed, err)) goto fail;
        const SpecOptimizer *o = spec_optimizer(spec, spec->models[i].name);
        if (o && !(x->optims[i] = make_optimizer(x->nets[i], &o->cfg, err))) goto fail;
        if (o && spec->ema.enabled && !(x->emas[i] = ema_new(x->nets[i], spec->ema.decay, spec->ema.start_step, err)))
            goto fail;
    }
    x->ctx = (TrainContext){.spec = spec, .be = be, .n_nets = x->n_nets, .batch = batch, .data_shape = *data_shape};
    memcpy(x->ctx.nets, x->nets, sizeof x->nets);
    memcpy(x->ctx.optims, x->optims, sizeof x->optims);
    for (int i = 0; i < x->n_nets; i++) x->ctx.ema[i] = x->emas[i] ? x->emas[i]->shadow : NULL;
    if (x->algo->create(&x->ctx, &x->state, err)) {
        x->state = NULL;
        goto fail;
    }
    x->metrics = x->algo->metrics;
    x->n_metrics = algorithm_count_names(x->metrics);
    return 0;
fail:
    experiment_free(x);
    return -1;
}

int experiment_state_for_batch(const Experiment *x, int batch, void **state, Error *err)
{
    TrainContext ctx = x->ctx;
    ctx.batch = batch;
    if (x->algo->create(&ctx, state, err)) {
        *state = NULL;
        return err_prefix(err, "building the step for a last batch of %d: ", batch);
    }
    return 0;
}

void experiment_free(Experiment *x)
{
    if (x->state) x->algo->destroy(x->state);
    for (int i = 0; i < x->n_nets; i++) {
        ema_free(x->emas[i]);
        optim_free(x->optims[i]);
        network_free(x->nets[i]);
    }
    memset(x, 0, sizeof *x);
}

int64_t experiment_param_count(const Experiment *x, int net)
{
    return paramset_count_trainable(&x->nets[net]->params);
}

int experiment_optimizers(const Experiment *x, Optimizer **out)
{
    int n = 0;
    for (int i = 0; i < x->n_nets; i++)
        if (x->optims[i]) out[n++] = x->optims[i];
    return n;
}

void experiment_update_ema(Experiment *x)
{
    for (int i = 0; i < x->n_nets; i++)
        if (x->emas[i] && x->optims[i]->steps != x->emas[i]->updates) ema_update(x->emas[i], x->optims[i]->steps);
}

int experiment_checkpoint_nets(const Experiment *x, Network **out)
{
    int n = 0;
    for (int i = 0; i < x->n_nets; i++) out[n++] = x->nets[i];
    for (int i = 0; i < x->n_nets; i++)
        if (x->emas[i]) out[n++] = x->emas[i]->shadow;
    return n;
}

int experiment_load_checkpoint(Experiment *x, const StFile *f, const char *path, Error *err)
{
    Network *nets[2 * SPEC_MAX_MODELS];
    Optimizer *opts[SPEC_MAX_MODELS];
    int n_nets = experiment_checkpoint_nets(x, nets), n_opts = experiment_optimizers(x, opts);
    if (checkpoint_load_file(f, path, nets, n_nets, opts, n_opts, true, err)) return -1;
    for (int i = 0; i < x->n_nets; i++)
        if (x->emas[i]) x->emas[i]->updates = x->optims[i]->steps;
    return 0;
}
