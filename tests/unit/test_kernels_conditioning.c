/* CPU kernels of the normalisation and conditioning ops of diffusion networks, each against a
 * naive loop in double at sizes the op parity cases do not reach (threads, groups wider than a
 * block of channels): group normalisation, FiLM, the timestep embedding and embedding lookup;
 * and the embedding op's run-time check of its ids. */
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

static float *data(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    cpu_rng_uniform(x, n, lo, hi, seed, 0);
    return x;
}

static double *want_buffer(size_t n)
{
    double *w = calloc(n ? n : 1, sizeof *w);
    assert_non_null(w);
    return w;
}

static void assert_close(const char *what, const float *got, const double *want, size_t n, double rtol,
                         double atol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%zu]: got %.9g, expected %.9g", what, i, got[i], want[i]);
}

/* ---- group normalisation ---- */

static void check_group_norm(int N, int C, int inner, int G, bool affine)
{
    const int Cg = C / G, rows = N * G;
    const size_t total = (size_t)N * C * inner, D = (size_t)Cg * inner;
    const float eps = 1e-5f;
    float *x = data(total, -2, 3, 1), *dy = data(total, -1, 1, 2), *gamma = data(C, 0.5f, 1.5f, 3);
    float *beta = data(C, -1, 1, 4), *y = data(total, 0, 0, 5), *dx = data(total, 0, 0, 6);
    float *mean = data(rows, 0, 0, 7), *rstd = data(rows, 0, 0, 8), *dg = data(C, 0, 0, 9), *db = data(C, 0, 0, 10);
    double *want = want_buffer(total), *m = want_buffer(rows), *r = want_buffer(rows), *dg_want = want_buffer(C);
    double *db_want = want_buffer(C), *work = want_buffer(2 * (size_t)N * C);
    const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;

    for (int row = 0; row < rows; row++) {
        double s = 0, q = 0;
        for (size_t j = 0; j < D; j++) s += x[row * D + j];
        m[row] = s / D;
        for (size_t j = 0; j < D; j++) q += (x[row * D + j] - m[row]) * (x[row * D + j] - m[row]);
        r[row] = 1 / sqrt(q / D + eps);
    }
    for (size_t k = 0; k < total; k++) {
        int row = (int)(k / D), c = (int)(k / inner % C);
        want[k] = (x[k] - m[row]) * r[row] * (g ? g[c] : 1) + (b ? b[c] : 0);
    }
    cpu_group_norm_forward(x, g, b, y, mean, rstd, N, C, inner, G, eps);
    assert_close("group_norm y", y, want, total, 1e-5, 1e-5);
    assert_close("group_norm mean", mean, m, rows, 1e-6, 1e-6);
    assert_close("group_norm rstd", rstd, r, rows, 1e-5, 0);

    /* Backward, the textbook way: dx = r (gw - mean(gw) - xhat mean(gw xhat)) per row. */
    for (int row = 0; row < rows; row++) {
        double sg = 0, sgx = 0;
        for (size_t j = 0; j < D; j++) {
            size_t k = row * D + j;
            double gw = dy[k] * (g ? g[k / inner % C] : 1), xh = (x[k] - m[row]) * r[row];
            sg += gw, sgx += gw * xh;
            dg_want[k / inner % C] += dy[k] * xh;
            db_want[k / inner % C] += dy[k];
        }
        for (size_t j = 0; j < D; j++) {
            size_t k = row * D + j;
            double gw = dy[k] * (g ? g[k / inner % C] : 1), xh = (x[k] - m[row]) * r[row];
            want[k] = r[row] * (gw - sg / D - xh * sgx / D);
        }
    }
    cpu_group_norm_backward(dy, x, g, mean, rstd, dx, dg, db, work, N, C, inner, G);
    assert_close("group_norm dx", dx, want, total, 1e-4, 1e-5);
    assert_close("group_norm dgamma", dg, dg_want, C, 1e-4, 1e-5);
    assert_close("group_norm dbeta", db, db_want, C, 1e-5, 1e-5);
    /* Each output may be skipped; y may overwrite x. */
    memset(dg, 0, C * sizeof *dg);
    memset(db, 0, C * sizeof *db);
    cpu_group_norm_backward(dy, x, g, mean, rstd, NULL, dg, NULL, work, N, C, inner, G);
    assert_close("group_norm dgamma alone", dg, dg_want, C, 1e-4, 1e-5);
    cpu_group_norm_backward(dy, x, g, mean, rstd, NULL, NULL, db, work, N, C, inner, G);
    assert_close("group_norm dbeta alone", db, db_want, C, 1e-5, 1e-5);
    for (int c = 0; c < C; c++) assert_true(dg[c] != 0.0f); /* untouched by the dbeta-only call */
    for (size_t k = 0; k < total; k++) want[k] = y[k];
    cpu_group_norm_forward(x, g, b, x, mean, rstd, N, C, inner, G, eps);
    assert_close("group_norm in place", x, want, total, 0, 0);

    free(x), free(dy), free(gamma), free(beta), free(y), free(dx), free(mean), free(rstd), free(dg), free(db);
    free(want), free(m), free(r), free(dg_want), free(db_want), free(work);
}

static void test_group_norm(void **state)
{
    (void)state;
    check_group_norm(2, 520, 3, 2, true);   /* 260 channels per group: more than one block */
    check_group_norm(8, 64, 100, 32, true); /* large enough to run in parallel */
    check_group_norm(3, 6, 1, 3, false);    /* (N, C) input */
    check_group_norm(2, 8, 50, 8, true);    /* one channel per group (instance norm) */
}

/* ---- FiLM ---- */

static void check_film(int N, int C, int inner, bool scale, bool shift)
{
    const int ld = 2 * C + 1; /* rows of e longer than what is read */
    const size_t total = (size_t)N * C * inner;
    float *x = data(total, -1, 1, 11), *e = data((size_t)N * ld, -1, 1, 12), *y = data(total, 0, 0, 13);
    double *want = want_buffer(total);
    const float *s = scale ? e : NULL, *t = shift ? e + C : NULL;
    for (size_t k = 0; k < total; k++) {
        size_t at = k / inner / C * ld + k / inner % C;
        float a = 1.0f + (s ? s[at] : 0.0f); /* as PyTorch rounds h * (1 + scale) + shift */
        want[k] = a * x[k] + (t ? t[at] : 0.0f);
    }
    cpu_film_forward(x, s, t, y, N, C, inner, ld);
    assert_close("film", y, want, total, 0, 0);
    cpu_film_forward(x, s, t, x, N, C, inner, ld);
    assert_close("film in place", x, want, total, 0, 0);
    free(x), free(e), free(y), free(want);
}

static void test_film(void **state)
{
    (void)state;
    check_film(3, 5, 7, true, true);
    check_film(2, 4, 1, true, false);
    check_film(4, 300, 120, false, true); /* parallel, channels in blocks */
    check_film(1, 3, 9, false, false);
}

/* ---- timestep embedding ---- */

static void check_time_embedding(int dim, bool flip, float shift, float scale, float period)
{
    const float t[] = {0, 1, 17, 500, 999, 3.5f, 250, 998};
    const int N = 8, half = dim / 2;
    float *y = data((size_t)N * dim, 0, 0, 21), *flipped = data((size_t)N * dim, 0, 0, 22);
    cpu_time_embedding(t, y, N, dim, flip, shift, scale, period);
    cpu_time_embedding(t, flipped, N, dim, !flip, shift, scale, period);
    for (int n = 0; n < N; n++) {
        const float *row = y + (size_t)n * dim, *other = flipped + (size_t)n * dim;
        for (int i = 0; i < half; i++) {
            /* The formula in double; the float32 steps diffusers takes move the argument by
             * up to 5e-4 at t = 999. */
            double arg = scale * t[n] * exp(-log((double)period) * i / (half - shift));
            int at_sin = flip ? half + i : i, at_cos = flip ? i : half + i;
            if (fabs(row[at_sin] - sin(arg)) > 1e-3 || fabs(row[at_cos] - cos(arg)) > 1e-3)
                fail_msg("dim %d t %g i %d: sin %.7g cos %.7g, expected %.7g %.7g", dim, t[n], i, row[at_sin],
                         row[at_cos], sin(arg), cos(arg));
            /* flip_sin_to_cos swaps the halves exactly; t = 0 gives exactly sin 0 and cos 0. */
            assert_true(row[i] == other[half + i] && row[half + i] == other[i]);
            if (t[n] == 0) assert_true(row[at_sin] == 0.0f && row[at_cos] == 1.0f);
        }
        if (dim % 2) assert_true(row[dim - 1] == 0.0f);
    }
    free(y), free(flipped);
}

static void test_time_embedding(void **state)
{
    (void)state;
    check_time_embedding(64, false, 1, 1, 10000); /* DDPM's */
    check_time_embedding(33, true, 0, 1, 10000);  /* odd: a zero at the end */
    check_time_embedding(128, false, 1, 2, 1000);
    check_time_embedding(2, false, 0, 1, 10000);
    check_time_embedding(1, false, 1, 1, 10000);  /* no frequencies: only the padding */
}

/* ---- embedding lookup ---- */

static void test_embedding(void **state)
{
    (void)state;
    const int N = 300, num = 7, dim = 200; /* parallel in both directions */
    float *ids = data(N, 0, 0, 31), *table = data((size_t)num * dim, -1, 1, 32);
    float *y = data((size_t)N * dim, 0, 0, 33), *dy = data((size_t)N * dim, -1, 1, 34);
    float *dtable = data((size_t)num * dim, 5, 6, 35); /* overwritten, whatever it held */
    double *want = want_buffer((size_t)N * dim);
    for (int n = 0; n < N; n++) ids[n] = (float)((n * 5 + n / 7) % num);
    cpu_embedding_forward(ids, table, y, N, dim);
    for (size_t k = 0; k < (size_t)N * dim; k++) want[k] = table[(size_t)ids[k / dim] * dim + k % dim];
    assert_close("embedding", y, want, (size_t)N * dim, 0, 0);

    /* The gradient adds the rows of each id in order of sample: exactly this float sum. */
    cpu_embedding_backward(ids, dy, dtable, N, num, dim);
    for (int c = 0; c < num; c++)
        for (int j = 0; j < dim; j++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++)
                if ((int)ids[n] == c) s += dy[(size_t)n * dim + j];
            want[(size_t)c * dim + j] = s;
        }
    assert_close("embedding dtable", dtable, want, (size_t)num * dim, 0, 0);
    free(ids), free(table), free(y), free(dy), free(dtable), free(want);
}

/* An id outside 0 .. num-1 stops graph_run with a message naming the node, the sample and the
 * id; the same graph runs again once the ids are fixed. */
static void test_embedding_bad_id(void **state)
{
    (void)state;
    Error err = {0};
    Graph *g = graph_new(backend_cpu());
    assert_non_null(g);
    Shape ids_shape = shape_of(2, (int64_t)4, (int64_t)1), table_shape = shape_of(2, (int64_t)10, (int64_t)3);
    Node *ids = graph_input(g, "label", &ids_shape, false, &err);
    Node *table = graph_input(g, "table", &table_shape, true, &err);
    AttrValue a[OP_MAX_ATTRS];
    const Op *op = op_find("embedding");
    assert_non_null(op);
    assert_int_equal(attr_defaults(op, a, &err), 0);
    attr_set_int(op, a, "num", 10);
    attr_set_int(op, a, "dim", 3);
    Node *in[2] = {ids, table};
    Node *y = graph_op(g, "embedding", in, 2, a, "class_emb", &err);
    if (!y) fail_msg("%s", err.msg);
    if (graph_plan(g, &y, 1, &err)) fail_msg("%s", err.msg);
    float tab[30];
    for (int i = 0; i < 30; i++) tab[i] = (float)i;
    graph_set_input(g, table, tab);

    const float bad[][4] = {{0, 3, 10, 1}, {0, -1, 2, 3}, {2.5f, 0, 0, 0}, {0, 0, 0, NAN}};
    const char *expect[] = {"id 10 of sample 2", "id -1 of sample 1", "id 2.5 of sample 0", "id nan of sample 3"};
    for (int k = 0; k < 4; k++) {
        graph_set_input(g, ids, bad[k]);
        assert_int_equal(graph_run(g, &err), -1);
        if (!strstr(err.msg, expect[k]) || !strstr(err.msg, "node 'class_emb' (embedding)") ||
            !strstr(err.msg, "0 .. 9"))
            fail_msg("unexpected message: %s", err.msg);
    }
    const float good[4] = {9, 0, 4, 4};
    float out[12];
    graph_set_input(g, ids, good);
    if (graph_run(g, &err)) fail_msg("%s", err.msg);
    graph_get(g, y, out);
    for (int i = 0; i < 12; i++) assert_true(out[i] == tab[(int)good[i / 3] * 3 + i % 3]);
    graph_free(g);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_group_norm),
        cmocka_unit_test(test_film),
        cmocka_unit_test(test_time_embedding),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_embedding_bad_id))
