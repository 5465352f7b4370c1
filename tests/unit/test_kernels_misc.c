/* CPU kernels other than gemm/convolution/optimizers, each checked against a naive loop in
 * double precision: activations and their derivatives, linear combinations, reductions,
 * batch normalisation, pixel shuffle, block copies and the Philox generator; and the dropout
 * op, whose randomness the PyTorch parity cases cannot check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/unit/testutil.h"

/* Deterministic test data in [lo, hi). */
static void fill_data(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    cpu_rng_uniform(x, n, lo, hi, seed, 0);
}

static void assert_close(const float *got, const double *want, size_t n, double rtol, double atol)
{
    for (size_t i = 0; i < n; i++) {
        double tol = atol + rtol * fabs(want[i]);
        if (!(fabs(got[i] - want[i]) <= tol))
            fail_msg("element %zu: got %.9g, expected %.9g (tolerance %.3g)", i, got[i], want[i], tol);
    }
}

static double ref_unary(UnaryKind k, double x, double alpha)
{
    switch (k) {
    case UNARY_RELU: return x > 0 ? x : 0;
    case UNARY_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case UNARY_TANH: return tanh(x);
    case UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case UNARY_SILU: return x / (1 + exp(-x));
    case UNARY_GELU: return 0.5 * x * erfc(-x / sqrt(2.0));
    case UNARY_SOFTPLUS: return log1p(exp(x));
    case UNARY_EXP: return exp(x);
    case UNARY_LOG: return log(x);
    case UNARY_SQUARE: return x * x;
    case UNARY_SQRT: return sqrt(x);
    case UNARY_ABS: return fabs(x);
    case UNARY_COUNT: break;
    }
    return NAN;
}

static double ref_derivative(UnaryKind k, double x, double alpha)
{
    double s = 1 / (1 + exp(-x));
    switch (k) {
    case UNARY_RELU: return x > 0;
    case UNARY_LEAKY_RELU: return x > 0 ? 1 : alpha;
    case UNARY_TANH: return 1 - tanh(x) * tanh(x);
    case UNARY_SIGMOID: return s * (1 - s);
    case UNARY_SILU: return s * (1 + x * (1 - s));
    case UNARY_GELU: return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
    case UNARY_SOFTPLUS: return s;
    case UNARY_EXP: return exp(x);
    case UNARY_LOG: return 1 / x;
    case UNARY_SQUARE: return 2 * x;
    case UNARY_SQRT: return 0.5 / sqrt(x);
    case UNARY_ABS: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    case UNARY_COUNT: break;
    }
    return NAN;
}

/* Sizes on both sides of the parallel threshold. */
static const size_t unary_sizes[] = {1, 37, 100003};

static void test_unary_forward_backward(void **state)
{
    (void)state;
    const float alpha = 0.01f;
    for (size_t s = 0; s < sizeof unary_sizes / sizeof *unary_sizes; s++) {
        size_t n = unary_sizes[s];
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *dy = malloc(n * sizeof *dy),
              *dx = malloc(n * sizeof *dx);
        double *want = malloc(n * sizeof *want);
        fill_data(dy, n, -1, 1, 99);
        for (int k = 0; k < UNARY_COUNT; k++) {
            bool positive = k == UNARY_LOG || k == UNARY_SQRT;
            fill_data(x, n, positive ? 0.05f : -30.0f, positive ? 4.0f : 30.0f, 7 + (uint64_t)k);
            if (!positive && n > 2) x[0] = 0.0f, x[1] = -100.0f; /* kink and overflow range */
            cpu_unary((UnaryKind)k, x, y, n, alpha);
            for (size_t i = 0; i < n; i++) want[i] = ref_unary((UnaryKind)k, x[i], alpha);
            /* gelu's tail: erfc(t) turns the float rounding of t = x / sqrt 2 into 2t times as much
             * relative error (3e-6 at x = -6). */
            assert_close(y, want, n, k == UNARY_GELU ? 1e-5 : 2e-6, 1e-30);
            cpu_unary_backward((UnaryKind)k, x, y, dy, dx, n, alpha);
            for (size_t i = 0; i < n; i++) want[i] = dy[i] * ref_derivative((UnaryKind)k, x[i], alpha);
            /* Derivatives taken from y carry y's rounding error (1 - y*y near |y| = 1). */
            assert_close(dx, want, n, 1e-5, 1e-7);
        }
        free(x), free(y), free(dy), free(dx), free(want);
    }
}

static void test_linear_combinations(void **state)
{
    (void)state;
    size_t n = 70001;
    float *a = malloc(n * 4), *b = malloc(n * 4), *y = malloc(n * 4);
    double *want = malloc(n * 8);
    fill_data(a, n, -2, 2, 1);
    fill_data(b, n, -2, 2, 2);
    cpu_axpby(n, 0.5f, a, -3.0f, b, y);
    for (size_t i = 0; i < n; i++) want[i] = 0.5 * a[i] - 3.0 * b[i];
    assert_close(y, want, n, 1e-6, 1e-6);
    memcpy(y, a, n * 4); /* y may alias an input */
    cpu_axpby(n, 1.0f, y, 1.0f, b, y);
    for (size_t i = 0; i < n; i++) want[i] = (double)a[i] + b[i];
    assert_close(y, want, n, 1e-6, 1e-6);
    cpu_mul(n, a, b, y);
    for (size_t i = 0; i < n; i++) want[i] = (double)a[i] * b[i];
    assert_close(y, want, n, 1e-6, 1e-7);
    cpu_scale_shift(n, 2.5f, a, 0.25f, y);
    for (size_t i = 0; i < n; i++) want[i] = 2.5 * a[i] + 0.25;
    assert_close(y, want, n, 1e-6, 1e-6);
    memcpy(y, a, n * 4);
    cpu_clamp(y, n, -0.5f, 1.0f);
    for (size_t i = 0; i < n; i++) want[i] = a[i] < -0.5 ? -0.5 : (a[i] > 1 ? 1 : a[i]);
    assert_close(y, want, n, 0, 0);
    free(a), free(b), free(y), free(want);
}

static void test_reductions(void **state)
{
    (void)state;
    size_t n = 1000003;
    float *x = malloc(n * 4), out;
    fill_data(x, n, -1, 3, 5);
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i], ss += (double)x[i] * x[i];
    assert_true(fabs(cpu_sum(x, n) - s) <= 1e-9 * fabs(s));
    assert_true(fabs(cpu_sum_squares(x, n) - ss) <= 1e-9 * ss);
    cpu_sum_to_scalar(x, n, -0.5f, &out);
    double want = -0.5 * s;
    assert_close(&out, &want, 1, 1e-7, 0);
    assert_true(cpu_sum(x, 0) == 0.0);
    free(x);
}

/* Naive batch norm in double: per channel mean and biased variance over (N, inner). */
static void ref_stats(const float *x, int N, int C, int inner, int c, double *mean, double *var)
{
    double m = 0, v = 0, cnt = (double)N * inner;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < inner; i++) m += x[((size_t)n * C + c) * inner + i];
    m /= cnt;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < inner; i++) {
            double d = x[((size_t)n * C + c) * inner + i] - m;
            v += d * d;
        }
    *mean = m, *var = v / cnt;
}

static void check_batchnorm(int N, int C, int inner, bool affine)
{
    const float eps = 1e-5f, momentum = 0.1f;
    size_t total = (size_t)N * C * inner;
    float *x = malloc(total * 4), *y = malloc(total * 4), *dy = malloc(total * 4),
          *dx = malloc(total * 4);
    float *gamma = malloc(C * 4), *beta = malloc(C * 4), *mean = malloc(C * 4), *invstd = malloc(C * 4),
          *rm = malloc(C * 4), *rv = malloc(C * 4), *dg = malloc(C * 4), *db = malloc(C * 4);
    double *want = calloc(total, 8), *wc = calloc((size_t)C * 4, 8);
    fill_data(x, total, -2, 5, 11);
    fill_data(dy, total, -1, 1, 12);
    fill_data(gamma, C, 0.5f, 1.5f, 13);
    fill_data(beta, C, -1, 1, 14);
    fill_data(rm, C, -0.5f, 0.5f, 15);
    fill_data(rv, C, 0.5f, 2.0f, 16);
    const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;

    /* Evaluation with the running statistics (before training changes them). */
    cpu_batchnorm_forward_eval(x, g, b, y, rm, rv, N, C, inner, eps);
    for (size_t i = 0; i < total; i++) {
        int c = (int)(i / inner % C);
        want[i] = (x[i] - rm[c]) / sqrt((double)rv[c] + eps) * (g ? g[c] : 1) + (b ? b[c] : 0);
    }
    assert_close(y, want, total, 1e-5, 1e-5);

    double *m = wc, *v = wc + C, *rm_want = wc + 2 * C, *rv_want = wc + 3 * C;
    double cnt = (double)N * inner;
    for (int c = 0; c < C; c++) {
        ref_stats(x, N, C, inner, c, &m[c], &v[c]);
        rm_want[c] = 0.9 * rm[c] + 0.1 * m[c];
        rv_want[c] = 0.9 * rv[c] + 0.1 * v[c] * cnt / (cnt - 1);
    }
    cpu_batchnorm_forward_train(x, g, b, y, mean, invstd, rm, rv, N, C, inner, eps, momentum);
    for (size_t i = 0; i < total; i++) {
        int c = (int)(i / inner % C);
        want[i] = (x[i] - m[c]) / sqrt(v[c] + eps) * (g ? g[c] : 1) + (b ? b[c] : 0);
    }
    assert_close(y, want, total, 1e-5, 1e-5);
    assert_close(mean, m, C, 1e-6, 1e-6);
    assert_close(rm, rm_want, C, 1e-6, 1e-7);
    assert_close(rv, rv_want, C, 1e-6, 1e-7);

    /* Backward: dx from the textbook formula, dgamma = sum dy*xhat, dbeta = sum dy. */
    cpu_batchnorm_backward(dy, x, g, mean, invstd, dx, dg, db, N, C, inner);
    for (int c = 0; c < C; c++) {
        double is = 1 / sqrt(v[c] + eps), sdy = 0, sdyxh = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < inner; i++) {
                size_t k = ((size_t)n * C + c) * inner + i;
                sdy += dy[k], sdyxh += dy[k] * (x[k] - m[c]) * is;
            }
        double gc = g ? g[c] : 1;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < inner; i++) {
                size_t k = ((size_t)n * C + c) * inner + i;
                double xh = (x[k] - m[c]) * is;
                want[k] = gc * is * (dy[k] - sdy / cnt - xh * sdyxh / cnt);
            }
        m[c] = sdyxh, v[c] = sdy; /* reuse as dgamma, dbeta references */
    }
    assert_close(dx, want, total, 1e-4, 1e-5);
    assert_close(dg, m, C, 1e-5, 1e-5);
    assert_close(db, v, C, 1e-5, 1e-5);
    /* Each output may be skipped. */
    cpu_batchnorm_backward(dy, x, g, mean, invstd, NULL, dg, NULL, N, C, inner);
    assert_close(dg, m, C, 1e-5, 1e-5);

    free(x), free(y), free(dy), free(dx), free(gamma), free(beta), free(mean), free(invstd);
    free(rm), free(rv), free(dg), free(db), free(want), free(wc);
}

static void test_batchnorm(void **state)
{
    (void)state;
    check_batchnorm(3, 5, 1, true);     /* BatchNorm1d on (N, C) */
    check_batchnorm(1, 7, 9, false);    /* BatchNorm1d on (N, C, L), no affine */
    check_batchnorm(4, 13, 35, true);   /* BatchNorm2d, 5x7 images */
    check_batchnorm(64, 96, 196, true); /* large enough to run in parallel */
}

static void check_pixel_shuffle(int N, int C, int H, int W, int r)
{
    size_t total = (size_t)N * C * r * r * H * W;
    float *x = malloc(total * 4), *y = malloc(total * 4), *back = malloc(total * 4);
    double *want = malloc(total * 8);
    fill_data(x, total, -1, 1, 21);
    cpu_pixel_shuffle(x, y, N, C, H, W, r);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < r; i++)
                    for (int w = 0; w < W; w++)
                        for (int j = 0; j < r; j++)
                            want[(((size_t)n * C + c) * H * r + h * r + i) * W * r + w * r + j] =
                                x[(((size_t)n * C * r * r + c * r * r + i * r + j) * H + h) * W + w];
    assert_close(y, want, total, 0, 0);
    cpu_pixel_unshuffle(y, back, N, C, H, W, r);
    for (size_t i = 0; i < total; i++) want[i] = x[i];
    assert_close(back, want, total, 0, 0);
    free(x), free(y), free(back), free(want);
}

static void test_pixel_shuffle(void **state)
{
    (void)state;
    check_pixel_shuffle(2, 3, 5, 4, 3);
    check_pixel_shuffle(3, 5, 7, 6, 2); /* r = 2 has its own loop */
    check_pixel_shuffle(1, 2, 1, 9, 1);
}

static void test_copy_block(void **state)
{
    (void)state;
    /* Concatenate a (4, 3) and a (4, 5) block along columns, then slice the second back. */
    float a[12], b[20], cat[32], out[20];
    fill_data(a, 12, 0, 1, 31);
    fill_data(b, 20, 0, 1, 32);
    cpu_copy_block(cat, 8, a, 3, 4, 3);
    cpu_copy_block(cat + 3, 8, b, 5, 4, 5);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 8; c++)
            assert_true(cat[r * 8 + c] == (c < 3 ? a[r * 3 + c] : b[r * 5 + c - 3]));
    cpu_copy_block(out, 5, cat + 3, 8, 4, 5);
    assert_memory_equal(out, b, sizeof b);
}

/* Philox4x32-10 known answer (Random123 kat_vectors: counter 0, key 0 -> 0x6627e8d5, ...):
 * the uniform of lane l is its top 24 bits / 2^24. */
static void test_rng_known_answer(void **state)
{
    (void)state;
    const uint32_t kat[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    float u[4];
    cpu_rng_uniform(u, 4, 0.0f, 1.0f, 0, 0);
    for (int l = 0; l < 4; l++) assert_true(u[l] == (float)(kat[l] >> 8) / 16777216.0f);
}

static void test_rng_streams(void **state)
{
    (void)state;
    size_t n = 1000000;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    /* Same (seed, offset): same numbers; another seed: different numbers. */
    cpu_rng_uniform(a, n, -2, 3, 42, 17);
    cpu_rng_uniform(b, n, -2, 3, 42, 17);
    assert_memory_equal(a, b, n * 4);
    for (size_t i = 0; i < n; i++) assert_true(a[i] >= -2 && a[i] < 3);
    cpu_rng_uniform(b, n, -2, 3, 43, 17);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += a[i] == b[i];
    assert_true(same < n / 1000);
    /* Element i is stream element offset + i: a draw at offset + k is the same stream shifted by
     * k, inside a counter block or not, and a short draw is a prefix of a long one. */
    cpu_rng_normal(a, n, 0, 1, 7, 100);
    for (size_t k = 1; k <= 5; k++) {
        cpu_rng_normal(b, n - k, 0, 1, 7, 100 + k);
        assert_memory_equal(a + k, b, (n - k) * 4);
    }
    cpu_rng_normal(b, 7, 0, 1, 7, 100);
    assert_memory_equal(a, b, 7 * 4);
    float u9[9], u6[6];
    cpu_rng_uniform(u9, 9, 0, 1, 7, 2);
    cpu_rng_uniform(u6, 6, 0, 1, 7, 5);
    assert_memory_equal(u9 + 3, u6, sizeof u6);
    /* Moments of 1e6 standard normals. */
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += a[i], ss += (double)a[i] * a[i];
    double mean = s / n, sd = sqrt(ss / n - mean * mean);
    assert_true(fabs(mean) < 0.01);
    assert_true(fabs(sd - 1) < 0.01);
    cpu_rng_normal(a, n, 2.0f, 0.5f, 8, 0);
    s = ss = 0;
    for (size_t i = 0; i < n; i++) s += a[i], ss += (double)a[i] * a[i];
    mean = s / n, sd = sqrt(ss / n - mean * mean);
    assert_true(fabs(mean - 2) < 0.01 && fabs(sd - 0.5) < 0.01);
    /* Uniform moments: mean 1/2, variance 1/12. */
    cpu_rng_uniform(a, n, 0, 1, 9, 0);
    s = ss = 0;
    for (size_t i = 0; i < n; i++) s += a[i], ss += (double)a[i] * a[i];
    mean = s / n;
    assert_true(fabs(mean - 0.5) < 0.005 && fabs(ss / n - mean * mean - 1.0 / 12) < 0.005);
    free(a), free(b);
}

/* Dropout through a graph: x -> dropout(p) -> loss = sum(y * dy), with its gradient. */
typedef struct DropoutGraph {
    Graph *g;
    Node *x, *y, *dy, *dx;
} DropoutGraph;

static void dropout_graph(DropoutGraph *d, int rows, int cols, double p, bool training, uint64_t seed)
{
    Error err = {0};
    d->g = graph_new(backend_cpu());
    assert_non_null(d->g);
    d->g->training = training;
    d->g->seed = seed;
    Shape s = shape_of(2, (int64_t)rows, (int64_t)cols);
    d->x = graph_input(d->g, "x", &s, true, &err);
    d->dy = graph_input(d->g, "dy", &s, false, &err);
    AttrValue a[OP_MAX_ATTRS];
    const Op *op = op_find("dropout");
    assert_non_null(op);
    assert_int_equal(attr_defaults(op, a, &err), 0);
    attr_set_float(op, a, "p", p);
    d->y = graph_op(d->g, "dropout", &d->x, 1, a, "drop", &err);
    assert_non_null(d->y);
    Node *prod = graph_op2(d->g, "mul", d->y, d->dy, &err);
    Node *loss = prod ? graph_op1(d->g, "sum", prod, &err) : NULL;
    assert_non_null(loss);
    if (graph_backward(d->g, loss, &d->x, 1, &d->dx, &err)) fail_msg("%s", tu_err(&err));
    Node *outs[2] = {d->y, d->dx};
    if (graph_plan(d->g, outs, 2, &err)) fail_msg("%s", tu_err(&err));
}

/* One step of d: y and dx for inputs x and dy. */
static void run_dropout(DropoutGraph *d, const float *x, const float *dy, float *y, float *dx)
{
    graph_set_input(d->g, d->x, x);
    graph_set_input(d->g, d->dy, dy);
    assert_int_equal(graph_run(d->g, NULL), 0);
    graph_get(d->g, d->y, y);
    graph_get(d->g, d->dx, dx);
}

static void test_dropout_statistics(void **state)
{
    (void)state;
    const int rows = 1000, cols = 1000;
    const size_t n = (size_t)rows * cols;
    const float p = 0.3f, keep_scale = 1.0f / (1.0f - p);
    float *x = malloc(n * 4), *dy = malloc(n * 4), *y = malloc(n * 4), *dx = malloc(n * 4),
          *first = malloc(n * 4);
    fill_data(x, n, 1, 2, 41); /* never zero: y != 0 exactly where the element was kept */
    fill_data(dy, n, -1, 1, 42);

    DropoutGraph d;
    dropout_graph(&d, rows, cols, p, true, 7);
    run_dropout(&d, x, dy, y, dx);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = y[i] != 0.0f;
        kept += keep;
        /* Kept elements are scaled exactly; the gradient replays the same mask. */
        if (keep && y[i] != x[i] * keep_scale) fail_msg("y[%zu] = %g, expected %g", i, y[i], x[i] * keep_scale);
        float want_dx = keep ? dy[i] * keep_scale : 0.0f;
        if (dx[i] != want_dx) fail_msg("dx[%zu] = %g, expected %g", i, dx[i], want_dx);
    }
    /* Kept fraction ~ 1 - p: the binomial standard deviation is 4.6e-4 here. */
    double frac = (double)kept / n;
    if (fabs(frac - (1 - p)) > 0.003) fail_msg("kept fraction %.5f, expected %.2f", frac, 1 - p);

    /* The next run draws a fresh mask. */
    memcpy(first, y, n * 4);
    run_dropout(&d, x, dy, y, dx);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += (y[i] != 0) == (first[i] != 0);
    assert_true(same < n * 0.7); /* independent masks agree on p^2 + (1-p)^2 = 58% */
    graph_free(d.g);

    /* The same seed gives the same first mask. */
    dropout_graph(&d, rows, cols, p, true, 7);
    run_dropout(&d, x, dy, y, dx);
    assert_memory_equal(y, first, n * 4);
    graph_free(d.g);

    /* Evaluation mode: the identity, and so is the gradient. */
    dropout_graph(&d, rows, cols, p, false, 7);
    run_dropout(&d, x, dy, y, dx);
    assert_memory_equal(y, x, n * 4);
    assert_memory_equal(dx, dy, n * 4);
    graph_free(d.g);

    free(x), free(dy), free(y), free(dx), free(first);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_unary_forward_backward),
        cmocka_unit_test(test_linear_combinations),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_pixel_shuffle),
        cmocka_unit_test(test_copy_block),
        cmocka_unit_test(test_rng_known_answer),
        cmocka_unit_test(test_rng_streams),
        cmocka_unit_test(test_dropout_statistics))
