/* The graph machinery (graph.c, autodiff.c, plan.c, network.c) on the CPU backend: gradients
 * summed over every use of a value, gradients with respect to a network's input, gradients of
 * gradients, the memory planner's reuse and views, and runs that repeat bit for bit. */
#include "graph/graph.h"
#include "graph/optim.h"
#include "graph/network.h"
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

/* Fails the test with the graph's message when a call returned an error. */
#define OK(call) do { if ((call)) fail_msg("%s", tu_err(&err)); } while (0)
#define NOT_NULL(ptr) do { if (!(ptr)) fail_msg("%s", tu_err(&err)); } while (0)

static Node *input(Graph *g, const char *name, Shape s, bool grad, Error *err)
{
    return graph_input(g, name, &s, grad, err);
}

static void assert_near(const float *got, const double *want, size_t n, double rtol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rtol * fabs(want[i]) + 1e-6))
            fail_msg("%s[%zu]: got %.8g, want %.8g", what, i, got[i], want[i]);
}

/* A small network: x (B, 3) -> linear(4) -> tanh -> linear(1), with parameters from `seed`. */
static Network *small_mlp(Error *err)
{
    NetDef def = {0};
    snprintf(def.name, sizeof def.name, "critic");
    def.n_inputs = 1;
    snprintf(def.inputs[0].name, sizeof def.inputs[0].name, "input");
    def.inputs[0].shape = shape_of(1, (int64_t)3);
    NodeDef nodes[3] = {0};
    const char *ops[3] = {"linear", "tanh", "linear"}, *names[3] = {"fc1", "act", "fc2"};
    const int outs[3] = {4, 0, 1};
    for (int i = 0; i < 3; i++) {
        snprintf(nodes[i].name, sizeof nodes[i].name, "%s", names[i]);
        nodes[i].op = op_find(ops[i]);
        if (!nodes[i].op || attr_defaults(nodes[i].op, nodes[i].attr, err)) return NULL;
        if (outs[i]) attr_set_int(nodes[i].op, nodes[i].attr, "out", outs[i]);
    }
    def.nodes = nodes;
    def.n_nodes = 3;
    return network_new(&def, err);
}

static Param *net_param(Network *net, const char *name)
{
    Param *p = paramset_find(&net->params, name);
    if (!p) fail_msg("network has no parameter '%s'", name);
    return p;
}

static float *get(Graph *g, const Node *n)
{
    float *v = calloc((size_t)shape_numel(&n->out.shape), sizeof *v);
    graph_get(g, n, v);
    return v;
}

/* x feeds three nodes: d/dx sum(x*x + x + tanh(x)) = 2x + 1 + (1 - tanh(x)^2). */
static void test_gradient_sums_every_use(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    Node *x, *sq, *s1, *t, *s2, *loss, *dx;
    NOT_NULL(x = input(g, "x", shape_of(2, (int64_t)2, (int64_t)3), true, &err));
    NOT_NULL(sq = graph_op2(g, "mul", x, x, &err));
    NOT_NULL(s1 = graph_op2(g, "add", sq, x, &err));
    NOT_NULL(t = graph_op1(g, "tanh", x, &err));
    NOT_NULL(s2 = graph_op2(g, "add", s1, t, &err));
    NOT_NULL(loss = graph_op1(g, "sum", s2, &err));
    OK(graph_backward(g, loss, &x, 1, &dx, &err));
    assert_non_null(dx);
    OK(graph_plan(g, &dx, 1, &err));
    const float xv[6] = {-1.5f, -0.5f, 0.0f, 0.25f, 0.75f, 2.0f};
    graph_set_input(g, x, xv);
    OK(graph_run(g, &err));
    float *got = get(g, dx);
    double want[6];
    for (int i = 0; i < 6; i++) want[i] = 2.0 * xv[i] + 1.0 + (1.0 - tanh(xv[i]) * tanh(xv[i]));
    assert_near(got, want, 6, 1e-6, "d/dx");
    free(got);
    graph_free(g);
}

/* A backend that has recorded a failure (as CUDA does, after the call that caused it) makes
 * graph_run and optim_step fail with its reason, so no caller needs to poll it. */
static const char *failed_backend_error(void) { return "kernel.cu:12: launch failed: out of resources"; }

static void test_backend_failures_are_returned(void **state)
{
    (void)state;
    Error err = {0};
    Backend failing = *backend_cpu();
    failing.name = "failing";
    failing.last_error = failed_backend_error;
    Graph *g = graph_new(&failing);
    Node *x, *y;
    NOT_NULL(x = input(g, "x", shape_of(1, (int64_t)4), false, &err));
    NOT_NULL(y = graph_op1(g, "relu", x, &err));
    OK(graph_plan(g, &y, 1, &err));
    const float xv[4] = {1, -1, 2, -2};
    graph_set_input(g, x, xv);
    assert_int_equal(graph_run(g, &err), -1);
    assert_string_equal(err.msg, "the failing backend failed: kernel.cu:12: launch failed: out of resources");
    graph_free(g);

    Shape ws = shape_of(1, (int64_t)4);
    Param *p;
    NOT_NULL(p = param_new("w", &ws, &failing, &err));
    p->trainable = true;
    OptimConfig c;
    optim_config_defaults(&c, OPTIM_SGD);
    Optimizer *o;
    NOT_NULL(o = optim_new("net", &c, &p, 1, &err));
    float *grads[1] = {p->value.data};
    assert_int_equal(optim_step(o, grads, 0.1, &err), -1);
    assert_non_null(strstr(err.msg, "the failing backend failed: "));
    optim_free(o);
    param_free(p);
}

/* The generator is trained through the discriminator: gradients must reach a network's input.
 * d sum(fc2(tanh(fc1(x)))) / dx[b][j] = sum_k w2[k] (1 - h[b][k]^2) w1[k][j]. */
static void test_gradient_wrt_network_input(void **state)
{
    (void)state;
    Error err = {0};
    Network *net;
    NOT_NULL(net = small_mlp(&err));
    Graph *g = graph_new(backend_cpu());
    Node *x, *out, *loss, *dx;
    NOT_NULL(x = input(g, "x", shape_of(2, (int64_t)2, (int64_t)3), true, &err));
    OK(network_apply(net, g, &x, 1, 7, &out, NULL, &err));
    NOT_NULL(loss = graph_op1(g, "sum", out, &err));
    OK(graph_backward(g, loss, &x, 1, &dx, &err));
    assert_non_null(dx);
    OK(graph_plan(g, &dx, 1, &err));
    const float xv[6] = {0.3f, -0.7f, 0.1f, -0.2f, 0.9f, 0.5f};
    graph_set_input(g, x, xv);
    OK(graph_run(g, &err));

    float w1[12], b1[4], w2[4];
    const Backend *be = backend_cpu();
    be->download(w1, net_param(net, "fc1.weight")->value.data, 12);
    be->download(b1, net_param(net, "fc1.bias")->value.data, 4);
    be->download(w2, net_param(net, "fc2.weight")->value.data, 4);
    double want[6] = {0};
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 4; k++) {
            double h = b1[k];
            for (int j = 0; j < 3; j++) h += (double)w1[k * 3 + j] * xv[b * 3 + j];
            h = tanh(h);
            for (int j = 0; j < 3; j++) want[b * 3 + j] += w2[k] * (1.0 - h * h) * w1[k * 3 + j];
        }
    float *got = get(g, dx);
    assert_near(got, want, 6, 1e-5, "d/dx");
    free(got);
    graph_free(g);
    network_free(net);
}

/* Differentiating a gradient: d/dx sum(c * d/dx sum(x^3)) = 6 x c. */
static void test_second_order_gradient(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    Node *x, *c, *x2, *x3, *l1, *gx, *gc, *l2, *ggx;
    Shape s = shape_of(1, (int64_t)5);
    NOT_NULL(x = input(g, "x", s, true, &err));
    NOT_NULL(c = input(g, "c", s, false, &err));
    NOT_NULL(x2 = graph_op2(g, "mul", x, x, &err));
    NOT_NULL(x3 = graph_op2(g, "mul", x2, x, &err));
    NOT_NULL(l1 = graph_op1(g, "sum", x3, &err));
    OK(graph_backward(g, l1, &x, 1, &gx, &err));
    NOT_NULL(gc = graph_op2(g, "mul", gx, c, &err));
    NOT_NULL(l2 = graph_op1(g, "sum", gc, &err));
    OK(graph_backward(g, l2, &x, 1, &ggx, &err));
    assert_non_null(ggx);
    Node *outs[2] = {gx, ggx};
    OK(graph_plan(g, outs, 2, &err));
    const float xv[5] = {-2.0f, -0.5f, 0.0f, 1.0f, 3.0f}, cv[5] = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f};
    graph_set_input(g, x, xv);
    graph_set_input(g, c, cv);
    OK(graph_run(g, &err));
    double want1[5], want2[5];
    for (int i = 0; i < 5; i++) want1[i] = 3.0 * xv[i] * xv[i], want2[i] = 6.0 * xv[i] * cv[i];
    float *got1 = get(g, gx), *got2 = get(g, ggx);
    assert_near(got1, want1, 5, 1e-6, "d/dx sum(x^3)");
    assert_near(got2, want2, 5, 1e-6, "second derivative");
    free(got1);
    free(got2);
    graph_free(g);
}

/* WGAN-GP's shape of computation: penalty = sum((d sum(D(x)) / dx)^2), differentiated with
 * respect to D's first weight, checked by central differences on that weight. */
static void test_gradient_penalty_wrt_weights(void **state)
{
    (void)state;
    Error err = {0};
    Network *net;
    NOT_NULL(net = small_mlp(&err));
    Graph *g = graph_new(backend_cpu());
    Node *x, *out, *score, *gx, *sq, *pen, *w1, *dw1;
    NOT_NULL(x = input(g, "x", shape_of(2, (int64_t)2, (int64_t)3), true, &err));
    OK(network_apply(net, g, &x, 1, 11, &out, NULL, &err));
    NOT_NULL(score = graph_op1(g, "sum", out, &err));
    OK(graph_backward(g, score, &x, 1, &gx, &err));
    NOT_NULL(sq = graph_op2(g, "mul", gx, gx, &err));
    NOT_NULL(pen = graph_op1(g, "sum", sq, &err));
    Param *p = net_param(net, "fc1.weight");
    NOT_NULL(w1 = graph_param(g, p, &err));
    OK(graph_backward(g, pen, &w1, 1, &dw1, &err));
    assert_non_null(dw1);
    Node *outs[2] = {pen, dw1};
    OK(graph_plan(g, outs, 2, &err));
    const float xv[6] = {0.4f, -0.3f, 0.8f, -0.6f, 0.2f, 0.1f};
    graph_set_input(g, x, xv);
    OK(graph_run(g, &err));
    float *analytic = get(g, dw1);

    /* float32 penalty, step 1e-2: rounding noise ~1e-7 * |pen| / 2e-2 stays far below the
     * 1e-2 relative tolerance, truncation error eps^2 f''' / 6 likewise. */
    const float eps = 1e-2f;
    float w[12], pv;
    backend_cpu()->download(w, p->value.data, 12);
    for (int i = 0; i < 12; i++) {
        float saved = w[i];
        double lp, lm;
        w[i] = saved + eps;
        backend_cpu()->upload(p->value.data, w, 12);
        OK(graph_run(g, &err));
        graph_get(g, pen, &pv);
        lp = pv;
        w[i] = saved - eps;
        backend_cpu()->upload(p->value.data, w, 12);
        OK(graph_run(g, &err));
        graph_get(g, pen, &pv);
        lm = pv;
        w[i] = saved;
        double fd = (lp - lm) / (2.0 * eps);
        if (fabs(fd - analytic[i]) > 1e-2 * fabs(fd) + 1e-3)
            fail_msg("d penalty / d fc1.weight[%d]: analytic %.6g, finite differences %.6g", i, analytic[i], fd);
    }
    free(analytic);
    graph_free(g);
    network_free(net);
}

/* A chain of 12 tanh: the planner must reuse memory (at most a few values live at once), and
 * reuse must not corrupt the values. */
static void test_memory_is_reused(void **state)
{
    (void)state;
    Error err = {0};
    enum { N = 64 * 256, DEPTH = 12 };
    Graph *g = graph_new(backend_cpu());
    Node *x, *h;
    NOT_NULL(x = input(g, "x", shape_of(2, (int64_t)64, (int64_t)256), false, &err));
    h = x;
    for (int i = 0; i < DEPTH; i++) NOT_NULL(h = graph_op1(g, "tanh", h, &err));
    OK(graph_plan(g, &h, 1, &err));
    size_t sum_of_values = (size_t)(DEPTH + 1) * N * sizeof(float);
    size_t used = graph_memory_bytes(g);
    if (used * 3 > sum_of_values)
        fail_msg("the plan uses %zu bytes for %d values of %zu bytes each: no reuse", used, DEPTH + 1,
                 (size_t)N * sizeof(float));
    float *xv = malloc(N * sizeof *xv);
    uint64_t seed = 3;
    tu_fill_uniform(xv, N, -2.0f, 2.0f, &seed);
    graph_set_input(g, x, xv);
    OK(graph_run(g, &err));
    float *got = get(g, h);
    for (int i = 0; i < N; i++) {
        double v = xv[i];
        for (int d = 0; d < DEPTH; d++) v = tanh(v);
        if (fabs(got[i] - v) > 1e-5) fail_msg("value %d: got %.8g, want %.8g", i, got[i], v);
    }
    free(got);
    free(xv);
    graph_free(g);
}

/* A conv network with its gradients: three runs give the same bits (no state leaks between
 * runs, no uninitialised scratch). */
static void test_repeated_runs_are_identical(void **state)
{
    (void)state;
    Error err = {0};
    NetDef def = {0};
    snprintf(def.name, sizeof def.name, "net");
    def.n_inputs = 1;
    snprintf(def.inputs[0].name, sizeof def.inputs[0].name, "input");
    def.inputs[0].shape = shape_of(3, (int64_t)2, (int64_t)5, (int64_t)6);
    NodeDef nodes[4] = {0};
    const char *ops[4] = {"conv2d", "relu", "flatten", "linear"};
    for (int i = 0; i < 4; i++) {
        snprintf(nodes[i].name, sizeof nodes[i].name, "n%d", i);
        nodes[i].op = op_find(ops[i]);
        assert_non_null(nodes[i].op);
        OK(attr_defaults(nodes[i].op, nodes[i].attr, &err));
    }
    const int64_t k3[2] = {3, 3}, p1[2] = {1, 1};
    attr_set_int(nodes[0].op, nodes[0].attr, "out", 3);
    attr_set_ints(nodes[0].op, nodes[0].attr, "kernel", k3, 2);
    attr_set_ints(nodes[0].op, nodes[0].attr, "padding", p1, 2);
    attr_set_int(nodes[3].op, nodes[3].attr, "out", 2);
    def.nodes = nodes;
    def.n_nodes = 4;
    Network *net;
    NOT_NULL(net = network_new(&def, &err));
    Graph *g = graph_new(backend_cpu());
    Node *x, *out, *loss, *wrt[8], *grads[9];
    NOT_NULL(x = input(g, "x", shape_of(4, (int64_t)3, (int64_t)2, (int64_t)5, (int64_t)6), true, &err));
    OK(network_apply(net, g, &x, 1, 5, &out, NULL, &err));
    NOT_NULL(loss = graph_op1(g, "sum", out, &err));
    int n = network_param_nodes(net, g, wrt, 7);
    assert_int_equal(n, 4);
    wrt[n++] = x;
    OK(graph_backward(g, loss, wrt, n, grads, &err));
    grads[n] = out;
    OK(graph_plan(g, grads, n + 1, &err));
    float xv[3 * 2 * 5 * 6];
    uint64_t seed = 9;
    tu_fill_uniform(xv, sizeof xv / sizeof xv[0], -1.0f, 1.0f, &seed);
    float *first[9] = {0};
    for (int run = 0; run < 3; run++) {
        graph_set_input(g, x, xv);
        OK(graph_run(g, &err));
        for (int i = 0; i <= n; i++) {
            float *v = get(g, grads[i]);
            size_t bytes = (size_t)shape_numel(&grads[i]->out.shape) * sizeof(float);
            if (run == 0) first[i] = v;
            else if (memcmp(v, first[i], bytes) != 0) fail_msg("run %d: '%s' differs from run 1", run + 1, grads[i]->name);
            if (run > 0) free(v);
        }
    }
    for (int i = 0; i <= n; i++) free(first[i]);
    graph_free(g);
    network_free(net);
}

/* reshape and flatten share their input's memory, and their gradients come back in the input's
 * shape: d/dx sum(flatten(reshape(x)) * c) = c laid out like x. */
static void test_views_share_memory(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    Node *x, *r, *f, *c, *prod, *loss, *dx;
    NOT_NULL(x = input(g, "x", shape_of(3, (int64_t)2, (int64_t)3, (int64_t)4), true, &err));
    const Op *reshape = op_find("reshape");
    assert_non_null(reshape);
    AttrValue attr[OP_MAX_ATTRS];
    OK(attr_defaults(reshape, attr, &err));
    const int64_t shape[3] = {4, 3, 1};
    attr_set_ints(reshape, attr, "shape", shape, 3);
    NOT_NULL(r = graph_op(g, "reshape", &x, 1, attr, "r", &err));
    NOT_NULL(f = graph_op1(g, "flatten", r, &err));
    assert_int_equal(f->out.shape.ndim, 2);
    assert_int_equal(f->out.shape.dim[1], 12);
    NOT_NULL(c = input(g, "c", f->out.shape, false, &err));
    NOT_NULL(prod = graph_op2(g, "mul", f, c, &err));
    NOT_NULL(loss = graph_op1(g, "sum", prod, &err));
    OK(graph_backward(g, loss, &x, 1, &dx, &err));
    assert_non_null(dx);
    assert_true(shape_equal(&dx->out.shape, &x->out.shape));
    Node *outs[2] = {f, dx};
    OK(graph_plan(g, outs, 2, &err));
    assert_ptr_equal(r->out.data, x->out.data);
    assert_ptr_equal(f->out.data, x->out.data);
    float xv[24], cv[24];
    for (int i = 0; i < 24; i++) xv[i] = (float)i - 11.5f, cv[i] = 0.25f * (float)(i % 7) - 1.0f;
    graph_set_input(g, x, xv);
    graph_set_input(g, c, cv);
    OK(graph_run(g, &err));
    float *fv = get(g, f), *dv = get(g, dx);
    assert_memory_equal(fv, xv, sizeof xv);
    assert_memory_equal(dv, cv, sizeof cv);
    free(fv);
    free(dv);
    graph_free(g);
}

/* An input made after op nodes is written before the run, so it must not share memory with a
 * value computed earlier in the run (here `a`, freed once `b` has read it). */
static void test_late_input_keeps_its_memory(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    Node *x, *a, *b, *c, *y, *d;
    NOT_NULL(x = input(g, "x", shape_of(1, (int64_t)256), false, &err));
    NOT_NULL(a = graph_op1(g, "relu", x, &err));
    NOT_NULL(b = graph_op1(g, "relu", a, &err));
    NOT_NULL(c = graph_op1(g, "relu", b, &err));
    NOT_NULL(y = input(g, "y", shape_of(1, (int64_t)256), false, &err));
    NOT_NULL(d = graph_op2(g, "add", c, y, &err));
    OK(graph_plan(g, &d, 1, &err));
    float xs[256], ys[256], out[256];
    double want[256];
    for (int i = 0; i < 256; i++) {
        xs[i] = (float)i;
        ys[i] = 1000.0f + (float)i;
        want[i] = 1000.0 + 2.0 * i;
    }
    graph_set_input(g, x, xs);
    graph_set_input(g, y, ys);
    OK(graph_run(g, &err));
    graph_get(g, d, out);
    assert_near(out, want, 256, 0, "d = relu(relu(relu(x))) + y");
    graph_free(g);
}

/* A shape error names the node and its input shapes. */
static void test_shape_error_names_the_node(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    Node *a = input(g, "a", shape_of(2, (int64_t)2, (int64_t)3), false, &err);
    Node *b = input(g, "b", shape_of(2, (int64_t)2, (int64_t)4), false, &err);
    Node *in[2] = {a, b};
    assert_null(graph_op(g, "add", in, 2, NULL, "mix", &err));
    assert_non_null(strstr(err.msg, "mix"));
    assert_non_null(strstr(err.msg, "(2, 3)"));
    assert_non_null(strstr(err.msg, "(2, 4)"));
    graph_free(g);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_gradient_sums_every_use),
        cmocka_unit_test(test_backend_failures_are_returned),
        cmocka_unit_test(test_gradient_wrt_network_input),
        cmocka_unit_test(test_second_order_gradient),
        cmocka_unit_test(test_gradient_penalty_wrt_weights),
        cmocka_unit_test(test_memory_is_reused),
        cmocka_unit_test(test_repeated_runs_are_identical),
        cmocka_unit_test(test_views_share_memory),
        cmocka_unit_test(test_late_input_keeps_its_memory),
        cmocka_unit_test(test_shape_error_names_the_node))
