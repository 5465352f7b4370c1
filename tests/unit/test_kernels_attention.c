/* The CPU self-attention primitives against a naive loop in double precision, on the paths the
 * kernel chooses between: blocks spread over threads, blocks one after another with each product
 * split over the threads (fewer blocks than threads, or a workspace of one block), and each
 * subset of the gradients.  Scores far apart (exponentials below float's range) and a NaN in one
 * block check the softmax's edges.  The PyTorch parity of the op is in test_ops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_kernels.h"
#include "tests/unit/testutil.h"

typedef struct Want {
    double *y, *dq, *dk, *dv;
} Want;

static double *alloc_d(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* y, dq, dk, dv of every block from the formulas of kernels/backend.h, in double. */
static Want reference(const AttnGeom *g, const float *q, const float *k, const float *v, const float *dy)
{
    int d = g->d, P = g->P;
    size_t n = (size_t)g->batch * d * P, pp = (size_t)P * P;
    Want w = {alloc_d(n), alloc_d(n), alloc_d(n), alloc_d(n)};
    double *a = alloc_d(pp), *ds = alloc_d(pp);
    for (int b = 0; b < g->batch; b++) {
        size_t o = (size_t)b * d * P;
        const float *qb = q + o, *kb = k + o, *vb = v + o, *gb = dy + o;
        for (int i = 0; i < P; i++) {
            double m = -INFINITY, sum = 0;
            for (int j = 0; j < P; j++) {
                double s = 0;
                for (int c = 0; c < d; c++) s += (double)qb[c * P + i] * kb[c * P + j];
                a[i * P + j] = g->scale * s;
                m = fmax(m, a[i * P + j]);
            }
            for (int j = 0; j < P; j++) sum += a[i * P + j] = exp(a[i * P + j] - m);
            for (int j = 0; j < P; j++) a[i * P + j] /= sum;
        }
        for (int i = 0; i < P; i++) { /* dS = A * (dA - rowsum(A dA)), dA = dy^T v */
            double dot = 0;
            for (int j = 0; j < P; j++) {
                double da = 0;
                for (int c = 0; c < d; c++) da += (double)gb[c * P + i] * vb[c * P + j];
                ds[i * P + j] = da;
                dot += da * a[i * P + j];
            }
            for (int j = 0; j < P; j++) ds[i * P + j] = a[i * P + j] * (ds[i * P + j] - dot);
        }
        for (int c = 0; c < d; c++)
            for (int i = 0; i < P; i++)
                for (int j = 0; j < P; j++) {
                    w.y[o + c * P + i] += a[i * P + j] * vb[c * P + j];
                    w.dv[o + c * P + j] += gb[c * P + i] * a[i * P + j];
                    w.dq[o + c * P + i] += g->scale * ds[i * P + j] * kb[c * P + j];
                    w.dk[o + c * P + j] += g->scale * qb[c * P + i] * ds[i * P + j];
                }
    }
    free(a), free(ds);
    return w;
}

static void want_free(Want *w) { free(w->y), free(w->dq), free(w->dk), free(w->dv); }

/* |got - want| <= rtol |want| + rtol max|want|: sums of P products, some cancelling. */
static void assert_close(const char *what, const float *got, const double *want, size_t n, double rtol)
{
    double most = 0;
    for (size_t i = 0; i < n; i++) most = fmax(most, fabs(want[i]));
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rtol * (fabs(want[i]) + most)))
            fail_msg("%s[%zu]: got %.9g, expected %.9g", what, i, got[i], want[i]);
}

static float *random_floats(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    cpu_rng_uniform(x, n, lo, hi, seed, 0);
    return x;
}

/* Forward and every subset of the gradients on `threads` threads with `bytes` of workspace;
 * gradients not asked for stay untouched. */
static void check_geometry(const AttnGeom *g, int threads, size_t bytes, float range)
{
    size_t n = (size_t)g->batch * g->d * g->P;
    float *q = random_floats(n, -range, range, 1), *k = random_floats(n, -range, range, 2);
    float *v = random_floats(n, -1, 1, 3), *dy = random_floats(n, -1, 1, 4);
    float *out[3] = {malloc(n * 4), malloc(n * 4), malloc(n * 4)}, *y = malloc(n * 4);
    void *ws = malloc(bytes);
    Want w = reference(g, q, k, v, dy);
    const double *want[3] = {w.dq, w.dk, w.dv};
    static const char *const names[3] = {"dq", "dk", "dv"};
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    cpu_attention_forward(g, q, k, v, y, ws, bytes);
    assert_close("y", y, w.y, n, 1e-5);
    for (int subset = 1; subset < 8; subset++) {
        float *d[3];
        for (int i = 0; i < 3; i++) {
            memset(out[i], 0x7f, n * 4); /* 3.4e38: what an untouched buffer keeps */
            d[i] = subset & (1 << i) ? out[i] : NULL;
        }
        cpu_attention_backward(g, q, k, v, dy, d[0], d[1], d[2], ws, bytes);
        for (int i = 0; i < 3; i++) {
            if (d[i]) assert_close(names[i], out[i], want[i], n, 1e-5);
            else assert_true(out[i][0] > 3e38f && out[i][n - 1] > 3e38f);
        }
    }
    omp_set_num_threads(saved);
    want_free(&w);
    free(q), free(k), free(v), free(dy), free(out[0]), free(out[1]), free(out[2]), free(y), free(ws);
}

static size_t one_block(const AttnGeom *g) { return 2 * (size_t)g->P * g->P * sizeof(float); }

static void test_blocks_on_threads(void **state)
{
    (void)state;
    AttnGeom g = {.batch = 5, .d = 3, .P = 35, .scale = 0.57735f};
    check_geometry(&g, 2, cpu_attention_workspace_bytes(&g), 1.0f);
    check_geometry(&g, 1, cpu_attention_workspace_bytes(&g), 1.0f);
    AttnGeom wide = {.batch = 4, .d = 8, .P = 81, .scale = 0.35355f};
    check_geometry(&wide, 3, cpu_attention_workspace_bytes(&wide), 1.0f);
}

/* One block, or a workspace of one block: the products are split over the threads instead. */
static void test_blocks_in_turn(void **state)
{
    (void)state;
    AttnGeom single = {.batch = 1, .d = 32, .P = 100, .scale = 0.17678f};
    check_geometry(&single, 2, cpu_attention_workspace_bytes(&single), 1.0f);
    AttnGeom few = {.batch = 3, .d = 16, .P = 70, .scale = 0.25f};
    check_geometry(&few, 2, one_block(&few), 1.0f);
}

/* Scores 100s apart: most exponentials fall below float's smallest normal number. */
static void test_far_apart_scores(void **state)
{
    (void)state;
    AttnGeom g = {.batch = 2, .d = 4, .P = 20, .scale = 30.0f};
    check_geometry(&g, 2, cpu_attention_workspace_bytes(&g), 2.0f);
}

/* A NaN in one block's q makes that block's output NaN and leaves the others alone. */
static void test_nan_stays_in_its_block(void **state)
{
    (void)state;
    AttnGeom g = {.batch = 3, .d = 2, .P = 9, .scale = 1.0f};
    size_t n = (size_t)g.batch * g.d * g.P, blk = (size_t)g.d * g.P;
    float *q = random_floats(n, -1, 1, 5), *k = random_floats(n, -1, 1, 6), *v = random_floats(n, -1, 1, 7);
    float *y = malloc(n * 4);
    void *ws = malloc(cpu_attention_workspace_bytes(&g));
    q[blk + 4] = NAN; /* block 1, position 4 */
    cpu_attention_forward(&g, q, k, v, y, ws, cpu_attention_workspace_bytes(&g));
    for (size_t i = 0; i < n; i++) {
        bool in_block1 = i >= blk && i < 2 * blk, at_4 = (i - blk) % (size_t)g.P == 4;
        if (in_block1 && at_4) assert_true(isnan(y[i]));
        else assert_true(isfinite(y[i]));
    }
    free(q), free(k), free(v), free(y), free(ws);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_blocks_on_threads),
        cmocka_unit_test(test_blocks_in_turn),
        cmocka_unit_test(test_far_apart_scores),
        cmocka_unit_test(test_nan_stays_in_its_block))
