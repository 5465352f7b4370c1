/* experiments/nets/unet.yaml against diffusers' UNet2DModel (tests/parity/unet_reference.py):
 *   - `runner check` on Ho et al.'s CIFAR-10 configuration (tests/specs/good/unet_ho.yaml) prints
 *     the parameter count diffusers builds, 35,746,307;
 *   - one training step of the small UNet (ddpm_fashion's): the same weights (diffusers' names
 *     mapped onto ours), noisy images, timesteps and noise give diffusers' noise MSE and every
 *     parameter's gradient, on the CPU backend and on CUDA when a device is present.
 * The reference runs in float64 from float32 weights and inputs, so it is the exact answer up to
 * float32 rounding.  Loss: |ours - torch| <= 1e-4 |torch|.  Gradients, per tensor:
 *   ||ours - torch||_2 <= 1e-4 ||torch||_2 + 1e-6 ||the network's gradient||_2,
 * the second term for gradients that vanish exactly but for rounding: the bias of each key
 * projection, which shifts every score of a query's softmax alike. */
#include "runner/io/checkpoint.h"
#include "runner/spec/spec.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#define LOSS_RTOL 1e-4
#define GRAD_RTOL 1e-4
#define GRAD_NET_RTOL 1e-6
#define HO_PARAMETERS 35746307 /* Ho et al. 2020: "35.7M parameters" */

static void must(int rc, const Error *err)
{
    if (rc) fail_msg("%s", tu_err(err));
}

static void read_fixture(const char *rel, StFile *f)
{
    char path[512];
    Error err = {0};
    if (st_read(tu_fixture_path(path, sizeof path, rel), f, &err))
        fail_msg("%s (the unet fixtures come from tests/parity/unet_reference.py, which needs diffusers: make setup, "
                 "make fixtures)", tu_err(&err));
}

static float *load_f32(const StFile *f, const char *name, size_t n)
{
    Error err = {0};
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture tensor '%s' is missing", name);
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    must(st_to_f32(t, x, n, &err), &err);
    return x;
}

/* The count after "trainable parameters: " in `runner check` output, commas dropped. */
static long long parameters_printed(const char *out)
{
    const char *at = strstr(out, "trainable parameters: ");
    if (!at) fail_msg("runner check printed no parameter count:\n%s", out);
    long long n = 0;
    for (at += strlen("trainable parameters: "); (*at >= '0' && *at <= '9') || *at == ','; at++)
        if (*at != ',') n = n * 10 + (*at - '0');
    return n;
}

static void test_ho_parameter_count(void **state)
{
    (void)state;
    StFile f;
    read_fixture("unet/count.safetensors", &f);
    long long diffusers_count = atoll(st_meta(&f, "parameters"));
    st_free(&f);
    static char out[1 << 17];
    if (tu_run_runner("", "check tests/specs/good/unet_ho.yaml", out, sizeof out))
        fail_msg("runner check tests/specs/good/unet_ho.yaml failed:\n%s", out);
    long long ours = parameters_printed(out);
    if (ours != diffusers_count)
        fail_msg("runner check counts %lld parameters, diffusers' UNet2DModel %lld", ours, diffusers_count);
    assert_int_equal(diffusers_count, HO_PARAMETERS);
}

/* The training step's graph: loss = mean((net(x, t) - eps)^2) and its gradients. */
typedef struct Step {
    Graph *g;
    Network *net;
    Node *x, *t, *eps, *loss;
    Node **params, **grads;
    int n_params;
} Step;

static Node *input_named(Node *const *in, const NetDef *d, const char *name)
{
    for (int i = 0; i < d->n_inputs; i++)
        if (!strcmp(d->inputs[i].name, name)) return in[i];
    fail_msg("the network has no input '%s'", name);
    return NULL;
}

static void build_step(Step *s, const Spec *spec, const char *model, int batch, const Backend *be)
{
    Error err = {0};
    const NetDef *d = spec_model(spec, model);
    assert_non_null(d);
    assert_int_equal(d->n_inputs, 2);
    memset(s, 0, sizeof *s);
    s->net = network_new(d, &err);
    must(!s->net, &err);
    s->g = graph_new(be);
    s->g->training = true;
    Node *in[2], *out;
    must(network_input_leaves(s->g, d, batch, in, &err), &err);
    s->x = input_named(in, d, "x");
    s->t = input_named(in, d, "t");
    must(network_apply(s->net, s->g, in, 2, spec->seed, &out, NULL, &err), &err);
    must(!(s->eps = graph_input(s->g, "eps", &out->out.shape, false, &err)), &err);
    Node *diff, *sq;
    must(!(diff = graph_op2(s->g, "sub", out, s->eps, &err)), &err);
    must(!(sq = graph_op2(s->g, "mul", diff, diff, &err)), &err);
    must(!(s->loss = graph_op1(s->g, "mean", sq, &err)), &err);
    s->n_params = s->net->params.n;
    s->params = calloc((size_t)s->n_params, sizeof *s->params);
    s->grads = calloc((size_t)s->n_params + 1, sizeof *s->grads);
    assert_true(s->params && s->grads);
    assert_int_equal(network_param_nodes(s->net, s->g, s->params, s->n_params), s->n_params);
    must(graph_backward(s->g, s->loss, s->params, s->n_params, s->grads, &err), &err);
    for (int i = 0; i < s->n_params; i++)
        if (!s->grads[i]) fail_msg("parameter %s gets no gradient", s->net->params.items[i]->name);
    s->grads[s->n_params] = s->loss;
    must(graph_plan(s->g, s->grads, s->n_params + 1, &err), &err);
}

static void free_step(Step *s)
{
    graph_free(s->g);
    network_free(s->net);
    free(s->params);
    free(s->grads);
}

/* Every tensor grad.<network>.<param> of the fixture names one of the network's parameters, and
 * the loader found each of those: the name mapping is one to one. */
static void check_names_cover(const StFile *f, const Network *net, const char *model)
{
    char prefix[128];
    int n = snprintf(prefix, sizeof prefix, "grad.%s.", model), seen = 0;
    for (int i = 0; i < f->n; i++) {
        const char *name = f->tensors[i].name;
        if (strncmp(name, prefix, (size_t)n)) continue;
        seen++;
        bool found = false;
        for (int k = 0; k < net->params.n && !found; k++) found = !strcmp(net->params.items[k]->name, name + n);
        if (!found) fail_msg("diffusers' %s has no parameter of ours", name + n);
    }
    assert_int_equal(seen, net->params.n);
}

static void run_step_on(const Backend *be)
{
    StFile f;
    Error err = {0};
    Spec spec;
    Step s;
    read_fixture("unet/step.safetensors", &f);
    const char *model = st_meta(&f, "network");
    must(spec_load_text("experiments/unet_step.yaml", st_meta(&f, "spec"), NULL, 0, &spec, &err), &err);
    const StTensor *xt = st_find(&f, "x");
    assert_non_null(xt);
    int batch = (int)xt->shape.dim[0];
    build_step(&s, &spec, model, batch, be);
    must(checkpoint_load_file(&f, "unet/step.safetensors", &s.net, 1, NULL, 0, false, &err), &err);
    check_names_cover(&f, s.net, model);

    float *x = load_f32(&f, "x", tensor_numel(&s.x->out)), *t = load_f32(&f, "t", tensor_numel(&s.t->out)),
          *eps = load_f32(&f, "eps", tensor_numel(&s.eps->out)), *want_loss = load_f32(&f, "loss", 1);
    graph_set_input(s.g, s.x, x);
    graph_set_input(s.g, s.t, t);
    graph_set_input(s.g, s.eps, eps);
    must(graph_run(s.g, &err), &err);
    float loss;
    graph_get(s.g, s.loss, &loss);
    if (!(fabs((double)loss - want_loss[0]) <= LOSS_RTOL * fabs(want_loss[0])))
        fail_msg("%s: loss %.8g, diffusers %.8g", be->name, loss, want_loss[0]);

    float **got = calloc((size_t)s.n_params, sizeof *got), **want = calloc((size_t)s.n_params, sizeof *want);
    assert_true(got && want);
    double net2 = 0;
    for (int i = 0; i < s.n_params; i++) {
        const Param *p = s.net->params.items[i];
        char name[256];
        size_t n = tensor_numel(&p->value);
        snprintf(name, sizeof name, "grad.%s.%s", model, p->name);
        want[i] = load_f32(&f, name, n);
        got[i] = malloc(n * sizeof *got[i]);
        assert_non_null(got[i]);
        graph_get(s.g, s.grads[i], got[i]);
        double w = tu_l2(want[i], n);
        net2 += w * w;
    }
    for (int i = 0; i < s.n_params; i++) {
        const Param *p = s.net->params.items[i];
        size_t n = tensor_numel(&p->value);
        double own = tu_l2(want[i], n), e = tu_l2_diff(got[i], want[i], n);
        if (!(e <= GRAD_RTOL * own + GRAD_NET_RTOL * sqrt(net2)))
            fail_msg("%s: gradient of %s: L2 error %.3g > %.0e x its norm %.3g + %.0e x the network's %.3g", be->name,
                     p->name, e, GRAD_RTOL, own, GRAD_NET_RTOL, sqrt(net2));
        free(got[i]);
        free(want[i]);
    }
    free(got), free(want), free(x), free(t), free(eps), free(want_loss);
    free_step(&s);
    spec_free(&spec);
    st_free(&f);
}

static void test_training_step_matches_diffusers(void **state)
{
    (void)state;
    char why[256];
    const Backend *backends[2] = {backend_cpu(), backend_cuda(why, sizeof why)};
    for (int b = 0; b < 2 && backends[b]; b++) run_step_on(backends[b]);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_ho_parameter_count),
        cmocka_unit_test(test_training_step_matches_diffusers))
