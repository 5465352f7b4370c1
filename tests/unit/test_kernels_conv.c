/* The CPU matrix-product and convolution kernels against naive loops in double precision, over
 * odd sizes, groups, dilation, stride, padding, non-square kernels and images, 1 and 2 threads:
 * the backend's convolution and each implementation behind it (im2col + OpenBLAS, oneDNN). */
#include "kernels/cpu/cpu_conv_impl.h"
#include "kernels/cpu/cpu_kernels.h"
#include "tests/unit/testutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float uniform(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static float *random_buf(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = uniform();
    return p;
}

/* Relative to the largest reference magnitude, so near-zero entries do not dominate. */
static void assert_close(const float *got, const double *want, size_t n, const char *what)
{
    double scale = 1e-30, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / scale;
        if (e > worst) worst = e, at = i;
    }
    if (worst > 1e-5) fail_msg("%s: relative error %.3g at %zu (got %g, want %g)", what, worst, at,
                               got[at], want[at]);
}

static int out_size(int in, int k, int stride, int pad, int dil)
{
    return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

/* Index of the input pixel read by output (oh, ow) through tap (r, s), or -1 when in padding. */
static long tap(const ConvGeom *g, int oh, int ow, int r, int s)
{
    int ih = oh * g->stride_h - g->pad_h + r * g->dil_h;
    int iw = ow * g->stride_w - g->pad_w + s * g->dil_w;
    if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) return -1;
    return (long)ih * g->W + iw;
}

/* Calls f(n, k, c, r, s, x index, w index, y index) for every multiply of the convolution. */
typedef void (*Visit)(void *ctx, size_t xi, size_t wi, size_t yi);

static void for_each_tap(const ConvGeom *g, Visit f, void *ctx)
{
    int Cg = g->C / g->groups, Kg = g->K / g->groups;
    for (int n = 0; n < g->N; n++)
        for (int k = 0; k < g->K; k++)
            for (int oh = 0; oh < g->OH; oh++)
                for (int ow = 0; ow < g->OW; ow++)
                    for (int cg = 0; cg < Cg; cg++)
                        for (int r = 0; r < g->R; r++)
                            for (int s = 0; s < g->S; s++) {
                                long p = tap(g, oh, ow, r, s);
                                if (p < 0) continue;
                                int c = (k / Kg) * Cg + cg;
                                size_t xi = ((size_t)n * g->C + c) * g->H * g->W + p;
                                size_t wi = (((size_t)k * Cg + cg) * g->R + r) * g->S + s;
                                size_t yi = (((size_t)n * g->K + k) * g->OH + oh) * g->OW + ow;
                                f(ctx, xi, wi, yi);
                            }
}

typedef struct Bufs {
    const float *x, *w, *dy;
    double *out;
} Bufs;

static void visit_forward(void *ctx, size_t xi, size_t wi, size_t yi)
{
    Bufs *b = ctx;
    b->out[yi] += (double)b->x[xi] * b->w[wi];
}

static void visit_data(void *ctx, size_t xi, size_t wi, size_t yi)
{
    Bufs *b = ctx;
    b->out[xi] += (double)b->dy[yi] * b->w[wi];
}

static void visit_filter(void *ctx, size_t xi, size_t wi, size_t yi)
{
    Bufs *b = ctx;
    b->out[wi] += (double)b->dy[yi] * b->x[xi];
}

typedef struct Case {
    int N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, groups;
} Case;

/* A convolution implementation under test; run functions return false when it declines. */
typedef struct Impl {
    const char *name;
    bool (*forward)(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y, void *ws,
                    size_t bytes);
    bool (*data)(const ConvGeom *g, const float *dy, const float *w, float *dx, void *ws, size_t bytes);
    bool (*filter)(const ConvGeom *g, const float *x, const float *dy, float *dw, void *ws, size_t bytes);
} Impl;

/* prefix_forward, prefix_data and prefix_filter: Impl functions for three passes that never
 * decline (and size their own workspace use). */
#define NEVER_DECLINES(prefix, forward_fn, data_fn, filter_fn)                                                         \
    static bool prefix##_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,       \
                                 void *ws, size_t bytes)                                                               \
    { (void)bytes; forward_fn(g, x, w, bias, y, ws); return true; }                                                    \
    static bool prefix##_data(const ConvGeom *g, const float *dy, const float *w, float *dx, void *ws, size_t bytes)   \
    { (void)bytes; data_fn(g, dy, w, dx, ws); return true; }                                                           \
    static bool prefix##_filter(const ConvGeom *g, const float *x, const float *dy, float *dw, void *ws, size_t bytes) \
    { (void)bytes; filter_fn(g, x, dy, dw, ws); return true; }

NEVER_DECLINES(backend, cpu_conv2d_forward, cpu_conv2d_backward_data, cpu_conv2d_backward_filter)
NEVER_DECLINES(im2col, conv_im2col_forward, conv_im2col_backward_data, conv_im2col_backward_filter)

static const Impl impls[] = {
    {"backend", backend_forward, backend_data, backend_filter},
    {"im2col", im2col_forward, im2col_data, im2col_filter},
    {"onednn", conv_dnnl_forward, conv_dnnl_backward_data, conv_dnnl_backward_filter},
};

static ConvGeom geom_of(const Case *c)
{
    ConvGeom g = {.N = c->N, .C = c->C, .H = c->H, .W = c->W, .K = c->K, .R = c->R, .S = c->S,
                  .stride_h = c->sh, .stride_w = c->sw, .pad_h = c->ph, .pad_w = c->pw,
                  .dil_h = c->dh, .dil_w = c->dw, .groups = c->groups};
    g.OH = out_size(c->H, c->R, c->sh, c->ph, c->dh);
    g.OW = out_size(c->W, c->S, c->sw, c->pw, c->dw);
    return g;
}

/* Every pass of `im` against the naive loops, with and without bias; the workspace is sized
 * before the thread count changes, as a planned graph's is. */
static void check_case(const Case *c, const Impl *im, int threads)
{
    ConvGeom g = geom_of(c);
    size_t bytes = cpu_conv2d_workspace_bytes(&g);
    cpu_set_threads(threads);
    /* oneDNN on its own, also where the backend would not choose it, gets what it needs. */
    for (ConvPass p = 0; p < CONV_PASS_COUNT && im->forward == conv_dnnl_forward; p++)
        for (int b = 0; b <= (p == CONV_FORWARD); b++) {
            size_t need = conv_dnnl_workspace_bytes(&g, p, b);
            if (need > bytes) bytes = need;
        }
    size_t nx = (size_t)g.N * g.C * g.H * g.W, ny = (size_t)g.N * g.K * g.OH * g.OW;
    size_t nw = (size_t)g.K * (g.C / g.groups) * g.R * g.S;
    float *x = random_buf(nx), *w = random_buf(nw), *dy = random_buf(ny), *bias = random_buf(g.K);
    float *y = random_buf(ny), *dx = random_buf(nx), *dw = random_buf(nw);
    void *ws = cpu_alloc(bytes);
    double *ref = calloc(nx + ny + nw, sizeof *ref);
    char what[200];
    snprintf(what, sizeof what, "%s: N%d C%d %dx%d K%d k%dx%d s%d,%d p%d,%d d%d,%d g%d threads %d", im->name,
             c->N, c->C, c->H, c->W, c->K, c->R, c->S, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw, c->groups,
             threads);

    Bufs b = {x, w, dy, ref};
    for_each_tap(&g, visit_forward, &b);
    if (!im->forward(&g, x, w, NULL, y, ws, bytes)) fail_msg("%s: forward declined", what);
    assert_close(y, ref, ny, what);
    for (size_t i = 0; i < ny; i++) ref[i] += bias[(i / ((size_t)g.OH * g.OW)) % g.K];
    if (!im->forward(&g, x, w, bias, y, ws, bytes)) fail_msg("%s: forward with bias declined", what);
    assert_close(y, ref, ny, what);

    for (size_t i = 0; i < nx; i++) ref[i] = 0.0;
    for_each_tap(&g, visit_data, &b);
    if (!im->data(&g, dy, w, dx, ws, bytes)) fail_msg("%s: backward_data declined", what);
    assert_close(dx, ref, nx, what);

    for (size_t i = 0; i < nw; i++) ref[i] = 0.0;
    for_each_tap(&g, visit_filter, &b);
    if (!im->filter(&g, x, dy, dw, ws, bytes)) fail_msg("%s: backward_filter declined", what);
    assert_close(dw, ref, nw, what);

    free(ref);
    cpu_free(ws);
    free(x), free(w), free(dy), free(bias), free(y), free(dx), free(dw);
}

static const Case cases[] = {
    /* N  C   H   W   K  R  S sh sw ph pw dh dw groups */
    {1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1},
    {3, 3, 9, 7, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1},      /* odd batch, non-square, stride and padding */
    {2, 4, 8, 11, 6, 3, 3, 1, 2, 2, 1, 2, 3, 2},     /* groups and dilation */
    {3, 6, 7, 7, 9, 1, 1, 1, 1, 0, 0, 1, 1, 3},      /* grouped pointwise */
    {5, 7, 6, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},      /* pointwise */
    {2, 5, 6, 9, 4, 1, 1, 2, 2, 1, 0, 1, 1, 1},      /* 1x1 with stride and padding */
    {4, 1, 28, 28, 32, 4, 4, 2, 2, 1, 1, 1, 1, 1},   /* the reference discriminator's first conv */
    {3, 32, 14, 14, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1},  /* its second */
    {2, 8, 28, 28, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1},    /* the generator's last conv */
    {2, 6, 10, 10, 6, 3, 3, 3, 3, 4, 4, 1, 1, 6},    /* depthwise, padding wider than stride */
    {1, 2, 4, 4, 3, 5, 5, 1, 1, 3, 3, 1, 1, 1},      /* kernel larger than the image */
    {7, 4, 5, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2},      /* several samples per chunk, groups */
};

static void test_conv_against_naive(void **state)
{
    (void)state;
    for (size_t m = 0; m < sizeof impls / sizeof impls[0]; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            check_case(&cases[i], &impls[m], 1);
            check_case(&cases[i], &impls[m], 2);
        }
}

/* Two runs at the same thread count give the same bits (oneDNN's and im2col's reductions run in
 * a fixed order), for every implementation and pass. */
static void test_conv_deterministic(void **state)
{
    (void)state;
    static const Case c = {9, 32, 14, 14, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1};
    ConvGeom g = geom_of(&c);
    size_t nx = (size_t)g.N * g.C * g.H * g.W, ny = (size_t)g.N * g.K * g.OH * g.OW;
    size_t nw = (size_t)g.K * g.C * g.R * g.S, bytes = cpu_conv2d_workspace_bytes(&g);
    float *x = random_buf(nx), *w = random_buf(nw), *dy = random_buf(ny), *bias = random_buf(g.K);
    float *out[2] = {random_buf(nx + ny + nw), random_buf(nx + ny + nw)};
    void *ws = cpu_alloc(bytes);
    for (int threads = 1; threads <= 2; threads++) {
        cpu_set_threads(threads);
        for (size_t m = 0; m < sizeof impls / sizeof impls[0]; m++) {
            const Impl *im = &impls[m];
            for (int run = 0; run < 2; run++) {
                float *o = out[run];
                assert_true(im->forward(&g, x, w, bias, o, ws, bytes));
                assert_true(im->data(&g, dy, w, o + ny, ws, bytes));
                assert_true(im->filter(&g, x, dy, o + ny + nx, ws, bytes));
            }
            if (memcmp(out[0], out[1], (nx + ny + nw) * sizeof(float)) != 0)
                fail_msg("%s with %d threads: two runs differ", im->name, threads);
        }
    }
    cpu_free(ws);
    free(x), free(w), free(dy), free(bias), free(out[0]), free(out[1]);
}

/* oneDNN declines a workspace smaller than it needs (the backend then runs im2col), and the
 * backend's workspace covers oneDNN's need for every pass. */
static void test_onednn_workspace_contract(void **state)
{
    (void)state;
    static const Case c = {4, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    ConvGeom g = geom_of(&c);
    cpu_set_threads(2);
    size_t nx = (size_t)g.N * g.C * g.H * g.W, ny = (size_t)g.N * g.K * g.OH * g.OW;
    size_t nw = (size_t)g.K * g.C * g.R * g.S, total = cpu_conv2d_workspace_bytes(&g);
    size_t need = conv_dnnl_workspace_bytes(&g, CONV_FORWARD, false);
    assert_true(need > 0);
    assert_true(need <= total);
    assert_true(conv_dnnl_workspace_bytes(&g, CONV_BACKWARD_DATA, false) <= total);
    assert_true(conv_dnnl_workspace_bytes(&g, CONV_BACKWARD_FILTER, false) <= total);
    float *x = random_buf(nx), *w = random_buf(nw), *y = random_buf(ny);
    void *ws = cpu_alloc(total);
    assert_false(conv_dnnl_forward(&g, x, w, NULL, y, ws, need - 1));
    assert_true(conv_dnnl_forward(&g, x, w, NULL, y, ws, need));
    cpu_free(ws);
    free(x), free(w), free(y);
}

/* Small products run as one BLAS call; large ones are split by rows or by columns over threads. */
static void test_gemm_transposes(void **state)
{
    (void)state;
    static const int sizes[][3] = {{7, 5, 9}, {100, 40, 70}, {40, 100, 70}, {33, 129, 81}};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            for (int t = 0; t < 4; t++) {
                const int M = sizes[z][0], N = sizes[z][1], K = sizes[z][2], ta = t & 1, tb = t >> 1;
                cpu_set_threads(threads);
                float *A = random_buf((size_t)M * K), *B = random_buf((size_t)K * N);
                float *C = random_buf((size_t)M * N);
                double *ref = malloc((size_t)M * N * sizeof *ref);
                int lda = ta ? M : K, ldb = tb ? K : N;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0.5 * C[i * N + j];
                        for (int k = 0; k < K; k++)
                            s += 2.0 * (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                        ref[i * N + j] = s;
                    }
                cpu_gemm(ta, tb, M, N, K, 2.0f, A, lda, B, ldb, 0.5f, C, N);
                char what[96];
                snprintf(what, sizeof what, "gemm %dx%dx%d trans_a %d trans_b %d threads %d", M, N, K, ta, tb, threads);
                assert_close(C, ref, (size_t)M * N, what);
                free(A), free(B), free(C), free(ref);
            }
}

static void test_bias_add_and_grad(void **state)
{
    (void)state;
    const int outer = 3, C = 5, inner = 7;
    size_t n = (size_t)outer * C * inner;
    float *y = random_buf(n), *b = random_buf(C), *db = random_buf(C);
    double *ref = malloc(n * sizeof *ref), dbref[5] = {0};
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i / inner) % C;
        ref[i] = (double)y[i] + b[c];
        dbref[c] += y[i];
    }
    cpu_bias_grad(y, db, outer, C, inner);
    assert_close(db, dbref, C, "bias_grad");
    cpu_bias_add(y, b, outer, C, inner);
    assert_close(y, ref, n, "bias_add");
    free(y), free(b), free(db), free(ref);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_conv_against_naive),
        cmocka_unit_test(test_conv_deterministic),
        cmocka_unit_test(test_onednn_workspace_contract),
        cmocka_unit_test(test_gemm_transposes),
        cmocka_unit_test(test_bias_add_and_grad))
