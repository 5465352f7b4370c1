/* Parameter initialisation: PyTorch's default per op and every `init:` option, checked by the
 * bounds and moments of the drawn values (large tensors, so the moments are tight). */
#include "graph/network.h"
#include "runner/spec/spec.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct Stats {
    double mean, std, min, max;
    size_t n;
} Stats;

static const char *SPEC =
    "models:\n"
    "  net:\n"
    "    input: [64, 12, 10]\n"
    "    nodes:\n"
    "      - {name: conv, op: conv2d, in: [input], out: 96, kernel: 3}\n"
    "      - {name: convn, op: conv2d, in: [input], out: 96, kernel: 3, init: {normal: {std: 0.02}}, bias_init: zeros}\n"
    "      - {name: convx, op: conv2d, in: [input], out: 96, kernel: 3, init: {xavier_uniform: {gain: 2}}}\n"
    "      - {name: convk, op: conv2d, in: [input], out: 96, kernel: 3, init: {kaiming_normal: {a: 0.2, mode: fan_out}}}\n"
    "      - {name: convku, op: conv2d, in: [input], out: 96, kernel: 3, init: kaiming_uniform}\n"
    "      - {name: convt, op: conv_transpose2d, in: [input], out: 48, kernel: 4}\n"
    "      - {name: flat, op: flatten, in: [input]}\n"
    "      - {name: fc, op: linear, in: [flat], out: 300}\n"
    "      - {name: fcc, op: linear, in: [flat], out: 300, init: {constant: {value: 0.5}}, bias_init: {uniform: {low: 2, high: 3}}}\n"
    "      - {name: fcx, op: linear, in: [flat], out: 300, init: xavier_normal}\n"
    "      - {name: bn, op: batchnorm2d, in: [input]}\n"
    "    output: fc\n";

static Network *net;
static Graph *graph;

static int setup(void **state)
{
    (void)state;
    Spec spec;
    Error err = {0};
    if (spec_load_text("init.yaml", SPEC, NULL, 0, &spec, &err)) {
        fprintf(stderr, "%s\n", tu_err(&err));
        return -1;
    }
    net = network_new(spec_model(&spec, "net"), &err);
    spec_free(&spec);
    graph = graph_new(backend_cpu());
    Shape s = shape_of(4, (int64_t)2, (int64_t)64, (int64_t)12, (int64_t)10);
    Node *x = graph_input(graph, "x", &s, false, &err), *out;
    if (!net || !x || network_apply(net, graph, &x, 1, 7, &out, NULL, &err)) {
        fprintf(stderr, "%s\n", tu_err(&err));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    graph_free(graph);
    network_free(net);
    return 0;
}

static Stats stats_of(const char *name)
{
    Param *p = paramset_find(&net->params, name);
    if (!p) fail_msg("no parameter %s", name);
    Stats s = {.min = INFINITY, .max = -INFINITY, .n = tensor_numel(&p->value)};
    double sum = 0, sq = 0;
    for (size_t i = 0; i < s.n; i++) {
        double v = p->value.data[i];
        sum += v;
        sq += v * v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
    }
    s.mean = sum / (double)s.n;
    s.std = sqrt(sq / (double)s.n - s.mean * s.mean);
    return s;
}

/* U(lo, hi): inside the bounds, reaching near them, mean and std within 5 standard errors of
 * their sampling distributions (the sample std of a uniform has relative error sqrt(0.8 / n) / 2,
 * of a normal sqrt(1 / (2n))). */
static void expect_uniform(const char *name, double lo, double hi)
{
    Stats s = stats_of(name);
    double width = hi - lo, sd = width / sqrt(12.0);
    assert_true(s.min >= lo && s.max <= hi);
    assert_true(s.min < lo + 10 * width / (double)s.n && s.max > hi - 10 * width / (double)s.n);
    assert_true(fabs(s.mean - (lo + hi) / 2) < 5 * sd / sqrt((double)s.n));
    assert_true(fabs(s.std - sd) < 5 * 0.5 * sqrt(0.8 / (double)s.n) * sd);
}

static void expect_normal(const char *name, double mean, double sd)
{
    Stats s = stats_of(name);
    assert_true(fabs(s.mean - mean) < 5 * sd / sqrt((double)s.n));
    assert_true(fabs(s.std - sd) < 5 * sqrt(0.5 / (double)s.n) * sd);
    assert_true(s.max - s.min > 6 * sd); /* tails exist: not a uniform with the same std */
}

static void expect_constant(const char *name, double v)
{
    Stats s = stats_of(name);
    assert_true(s.min == v && s.max == v);
}

static void test_pytorch_defaults(void **state)
{
    (void)state;
    double conv_fan_in = 64 * 3 * 3, fc_fan_in = 64 * 12 * 10;
    expect_uniform("conv.weight", -1 / sqrt(conv_fan_in), 1 / sqrt(conv_fan_in));
    expect_uniform("conv.bias", -1 / sqrt(conv_fan_in), 1 / sqrt(conv_fan_in));
    expect_uniform("fc.weight", -1 / sqrt(fc_fan_in), 1 / sqrt(fc_fan_in));
    expect_uniform("fc.bias", -1 / sqrt(fc_fan_in), 1 / sqrt(fc_fan_in));
    /* conv_transpose2d: fan_in from the weight's dimension 1, (out / groups) * kH * kW. */
    double t_fan_in = 48 * 4 * 4;
    expect_uniform("convt.weight", -1 / sqrt(t_fan_in), 1 / sqrt(t_fan_in));
    expect_uniform("convt.bias", -1 / sqrt(t_fan_in), 1 / sqrt(t_fan_in));
    expect_constant("bn.weight", 1);
    expect_constant("bn.bias", 0);
    expect_constant("bn.running_mean", 0);
    expect_constant("bn.running_var", 1);
}

static void test_init_options(void **state)
{
    (void)state;
    double fan_in = 64 * 9, fan_out = 96 * 9;
    expect_normal("convn.weight", 0, 0.02);
    expect_constant("convn.bias", 0);
    double xb = 2 * sqrt(6.0 / (fan_in + fan_out));
    expect_uniform("convx.weight", -xb, xb);
    expect_normal("convk.weight", 0, sqrt(2.0 / (1 + 0.04)) / sqrt(fan_out));
    double kb = sqrt(2.0) * sqrt(3.0 / fan_in);
    expect_uniform("convku.weight", -kb, kb);
    expect_constant("fcc.weight", 0.5);
    expect_uniform("fcc.bias", 2, 3);
    expect_normal("fcx.weight", 0, sqrt(2.0 / (64 * 12 * 10 + 300)));
}

/* The same seed draws the same values; a parameter's values depend on its name, not its position. */
static void test_streams_are_per_parameter(void **state)
{
    (void)state;
    Param *a = paramset_find(&net->params, "conv.weight"), *b = paramset_find(&net->params, "convku.weight");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(memcmp(a->value.data, b->value.data, 64 * sizeof(float)) != 0);
    float first = a->value.data[0];
    Error err = {0};
    assert_int_equal(param_init(a, 7, &err), 0);
    assert_true(a->value.data[0] == first);
    assert_int_equal(param_init(a, 8, &err), 0);
    assert_true(a->value.data[0] != first);
}

TU_MAIN(setup, teardown,
        cmocka_unit_test(test_pytorch_defaults),
        cmocka_unit_test(test_init_options),
        cmocka_unit_test(test_streams_are_per_parameter))
