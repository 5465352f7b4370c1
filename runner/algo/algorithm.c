/* The table of training algorithms, by the spec's loss.type: the one list of loss types, which
 * the spec reads through spec_loss_kind. */
#include "runner/algo/algorithm.h"

#include "runner/algo/adversarial.h"
#include "runner/algo/ddpm.h"

#include <stdlib.h>
#include <string.h>

extern const Algorithm algo_classifier; /* runner/algo/algo_classifier.c */

static const Algorithm *const algorithms[] = {&algo_gan, &algo_wgan, &algo_wgan_gp, &algo_ddpm, &algo_classifier};
#define N_ALGORITHMS (int)(sizeof algorithms / sizeof algorithms[0])
_Static_assert(N_ALGORITHMS <= SPEC_LOSS_TYPES_MAX, "the spec lists at most SPEC_LOSS_TYPES_MAX loss types");

const Algorithm *algorithm_find(const char *loss_type)
{
    for (int i = 0; i < N_ALGORITHMS; i++)
        if (!strcmp(algorithms[i]->loss.type, loss_type)) return algorithms[i];
    return NULL;
}

const SpecLossKind *spec_loss_kind(int i)
{
    return i >= 0 && i < N_ALGORITHMS ? &algorithms[i]->loss : NULL;
}

int algorithm_count_names(const char *const *names)
{
    int n = 0;
    while (n < ALGO_MAX_METRICS && names[n]) n++;
    return n;
}

int algorithm_update(const Spec *spec, Optimizer *o, float *const *grads, Error *err)
{
    double lr = schedule_lr(&spec->schedule, o->cfg.lr, o->steps);
    if (optim_step(o, grads, lr, err)) return err_prefix(err, "updating '%s': ", o->name);
    return 0;
}

int algorithm_gradients(Graph *g, Network *net, Node *loss, const Optimizer *o, Node **out, Error *err)
{
    int cap = net->params.n, rc = -1;
    Node **params = calloc((size_t)cap + 1, sizeof *params), **grads = calloc((size_t)cap + 1, sizeof *grads);
    if (!params || !grads) {
        err_set(err, "out of memory");
        goto done;
    }
    int n = network_param_nodes(net, g, params, cap);
    if (graph_backward(g, loss, params, n, grads, err)) goto done;
    for (int k = 0; k < o->n; k++) {
        int j = 0;
        while (j < n && params[j]->param != o->params[k]) j++;
        if (j == n) {
            err_set(err, "the optimizer of '%s' holds parameter '%s', which the network does not use",
                    net->def.name, o->params[k]->name);
            goto done;
        }
        out[k] = grads[j];
    }
    rc = 0;
done:
    free(params);
    free(grads);
    return rc;
}

int algorithm_plan_training(Graph *g, Network *net, const Optimizer *o, Node *loss, Node *const *extra, int n_extra,
                            const char *role, float ***grads, Error *err)
{
    int n_out = 0, rc = -1;
    Node **outs = calloc((size_t)(o->n + n_extra) + 1, sizeof *outs), **by_opt = calloc((size_t)o->n + 1, sizeof *by_opt);
    *grads = calloc((size_t)o->n + 1, sizeof **grads);
    if (!outs || !by_opt || !*grads) {
        err_set(err, "out of memory");
        goto done;
    }
    if (algorithm_gradients(g, net, loss, o, by_opt, err)) {
        err_prefix(err, "gradients of %s '%s': ", role, net->def.name);
        goto done;
    }
    outs[n_out++] = loss;
    for (int i = 0; i < n_extra; i++) outs[n_out++] = extra[i];
    for (int k = 0; k < o->n; k++)
        if (by_opt[k]) outs[n_out++] = by_opt[k];
    if (graph_plan(g, outs, n_out, err)) goto done;
    for (int k = 0; k < o->n; k++) (*grads)[k] = by_opt[k] ? by_opt[k]->out.data : NULL;
    rc = 0;
done:
    free(outs), free(by_opt);
    return rc;
}
