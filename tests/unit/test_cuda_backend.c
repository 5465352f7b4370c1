/* The CUDA backend against the CPU backend, primitive by primitive, on random data.
 * Without a device (or without nvcc) backend_cuda() says why, the reason is checked, and every
 * comparison is skipped.  Tolerances, |gpu - cpu| <= rtol * |cpu| + atol:
 *   exact (0, 0): memory, layout, uniform random numbers (integer work and one fma);
 *   within rounding (1e-6, 1e-7): linear combinations, clamp, optimizers (same operation
 *     order, no fma contraction on either side);
 *   a few ulps (1e-5, 1e-6): activations (device transcendental functions), batch and group
 *     norm (double sums in another order), normal random numbers and the timestep embedding
 *     (device double log/exp/cos/sin);
 *   summation order (1e-4 relative, atol 1e-6 * terms): gemm, convolution and attention, where
 *     cuBLAS and cuDNN add products in their own order; bias_grad, whose CPU version sums rows in float. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "tests/unit/testutil.h"

static const Backend *gpu, *cpu;
static char why[256];

/* Every buffer a test makes, freed by its teardown even when it fails midway. */
#define MAX_BUFFERS 64
static void *dev_bufs[MAX_BUFFERS], *host_bufs[MAX_BUFFERS];
static int n_dev, n_host;
static uint64_t rng_state = 42;

static int release(void **state)
{
    (void)state;
    for (int i = 0; i < n_dev; i++) gpu->free(dev_bufs[i]);
    for (int i = 0; i < n_host; i++) free(host_bufs[i]);
    n_dev = n_host = 0;
    return 0;
}

static float *host(size_t n)
{
    assert_true(n_host < MAX_BUFFERS);
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return host_bufs[n_host++] = p;
}

static float *host_rand(size_t n, float lo, float hi)
{
    float *p = host(n);
    tu_fill_uniform(p, n, lo, hi, &rng_state);
    return p;
}

static float *host_copy(const float *src, size_t n)
{
    float *p = host(n);
    memcpy(p, src, n * sizeof *p);
    return p;
}

static float *dev(size_t n)
{
    assert_true(n_dev < MAX_BUFFERS);
    float *p = gpu->alloc(n * sizeof *p);
    assert_non_null(p);
    return dev_bufs[n_dev++] = p;
}

static float *dev_from(const float *h, size_t n)
{
    float *p = dev(n);
    gpu->upload(p, h, n);
    return p;
}

static void no_device_error(void)
{
    const char *e = gpu->last_error();
    if (e) fail_msg("CUDA error: %s", e);
}

/* The device buffer `d` against the CPU's result `want`; the failure message names the check as
 * printf(what, ...) does. */
static void expect(const char *what, const float *d, const float *want, size_t n, double rtol,
                   double atol, ...) __attribute__((format(printf, 1, 7)));
static void expect(const char *what, const float *d, const float *want, size_t n, double rtol,
                   double atol, ...)
{
    float *got = host(n);
    gpu->download(got, d, n);
    no_device_error();
    char name[160], msg[512];
    va_list ap;
    va_start(ap, atol);
    vsnprintf(name, sizeof name, what, ap);
    va_end(ap);
    if (!tu_allclose(name, got, want, n, rtol, atol, msg, sizeof msg)) fail_msg("%s", msg);
}

#define NEED_DEVICE()        \
    do {                     \
        if (!gpu) skip();    \
    } while (0)

#define EXACT 0.0, 0.0
#define ROUNDING 1e-6, 1e-7
#define ULPS 1e-5, 1e-6

/* With a device: the table is complete and nothing has failed.  Without one: the reason is
 * one of those backend_cuda() documents, and the test counts as skipped. */
static void test_start(void **state)
{
    (void)state;
    if (gpu) {
        assert_string_equal(gpu->name, "cuda");
        /* Every member is a pointer: a NULL one is an entry fill_table() forgot. */
        const void *const *slot = (const void *const *)gpu;
        for (size_t i = 0; i < sizeof *gpu / sizeof(void *); i++)
            if (!slot[i]) fail_msg("backend table entry %zu is NULL", i);
        no_device_error();
        return;
    }
    if (strncmp(why, "no CUDA device: ", 16) != 0 &&
        strcmp(why, "built without CUDA (nvcc not found)") != 0 &&
        strncmp(why, "cuBLAS did not start", 20) != 0 && strncmp(why, "cuDNN did not start", 19) != 0)
        fail_msg("unexpected reason for no CUDA backend: '%s'", why);
    skip();
}

static void test_memory(void **state)
{
    (void)state;
    NEED_DEVICE();
    const size_t n = 1000003;
    float *zero = host(n);
    expect("alloc is zeroed", dev(n), zero, n, EXACT);
    float *x = host_rand(n, -5.0f, 5.0f);
    float *d = dev_from(x, n);
    expect("upload/download", d, x, n, EXACT);
    float *c = dev(n);
    gpu->copy(c, d, n);
    expect("copy", c, x, n, EXACT);
    /* Overlapping copy has memmove semantics, as on the CPU. */
    float *want = host_copy(x, n);
    memmove(want + 3, want, (n - 3) * sizeof *want);
    gpu->copy(d + 3, d, n - 3);
    expect("overlapping copy", d, want, n, EXACT);
    for (size_t i = 0; i < n; i++) want[i] = -2.5f;
    gpu->fill(c, n, -2.5f);
    expect("fill", c, want, n, EXACT);
    gpu->synchronize();
    no_device_error();
}

static void test_gemm(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 33, 129}, {3, 200, 17}, {5, 4, 0}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int t = 0; t < 4; t++) {
            const int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
            const bool ta = t & 1, tb = t & 2;
            /* Leading dimensions larger than the rows, as for slices of bigger matrices. */
            const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            const size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
                         nc = (size_t)M * ldc;
            float *A = host_rand(na, -1, 1), *B = host_rand(nb, -1, 1), *C = host_rand(nc, -1, 1);
            float *dA = dev_from(A, na), *dB = dev_from(B, nb), *dC = dev_from(C, nc);
            cpu->gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C, ldc);
            gpu->gemm(ta, tb, M, N, K, 0.7f, dA, lda, dB, ldb, 0.3f, dC, ldc);
            expect("gemm %dx%dx%d trans_a=%d trans_b=%d", dC, C, nc, 1e-4, 1e-6 * (K + 1), M, N, K, ta, tb);
            release(NULL);
        }
}

/* Self-attention with the device's whole-batch workspace and with one that holds two blocks
 * (chunks of 2, 2 and 1 of the 5), every subset of the gradients, against the CPU. */
static void test_attention(void **state)
{
    (void)state;
    NEED_DEVICE();
    const AttnGeom g = {.batch = 5, .d = 6, .P = 35, .scale = 0.40825f};
    const size_t n = (size_t)g.batch * g.d * g.P, two_blocks = 2 * 2 * (size_t)g.P * g.P * sizeof(float);
    float *q = host_rand(n, -1, 1), *k = host_rand(n, -1, 1), *v = host_rand(n, -1, 1), *dy = host_rand(n, -1, 1);
    float *want[4] = {host(n), host(n), host(n), host(n)}; /* y, dq, dk, dv */
    size_t cpu_bytes = cpu->attention_workspace_bytes(&g);
    void *cpu_ws = host((cpu_bytes + 3) / 4);
    cpu->attention_forward(&g, q, k, v, want[0], cpu_ws, cpu_bytes);
    cpu->attention_backward(&g, q, k, v, dy, want[1], want[2], want[3], cpu_ws, cpu_bytes);
    float *dq = dev_from(q, n), *dk = dev_from(k, n), *dv = dev_from(v, n), *ddy = dev_from(dy, n);
    const size_t sizes[2] = {gpu->attention_workspace_bytes(&g), two_blocks};
    static const char *const names[4] = {"attention y", "attention dq", "attention dk", "attention dv"};
    for (int w = 0; w < 2; w++) {
        void *ws = dev((sizes[w] + 3) / 4);
        float *y = dev(n);
        gpu->attention_forward(&g, dq, dk, dv, y, ws, sizes[w]);
        expect("%s", y, want[0], n, 1e-4, 1e-6 * g.P, names[0]);
        for (int subset = 1; subset < 8; subset++) {
            float *out[3];
            for (int i = 0; i < 3; i++) out[i] = subset & (1 << i) ? dev(n) : NULL;
            gpu->attention_backward(&g, dq, dk, dv, ddy, out[0], out[1], out[2], ws, sizes[w]);
            for (int i = 0; i < 3; i++)
                if (out[i]) expect("%s", out[i], want[i + 1], n, 1e-4, 1e-6 * g.P, names[i + 1]);
        }
    }
}

static ConvGeom geom(int N, int C, int H, int W, int K, int R, int S, int stride, int pad,
                     int dil, int groups)
{
    ConvGeom g = {.N = N, .C = C, .H = H, .W = W, .K = K, .R = R, .S = S, .stride_h = stride,
                  .stride_w = stride, .pad_h = pad, .pad_w = pad, .dil_h = dil, .dil_w = dil,
                  .groups = groups};
    g.OH = (H + 2 * pad - dil * (R - 1) - 1) / stride + 1;
    g.OW = (W + 2 * pad - dil * (S - 1) - 1) / stride + 1;
    return g;
}

static void *workspace(const Backend *b, const ConvGeom *g, bool on_device)
{
    size_t bytes = b->conv2d_workspace_bytes(g);
    if (!bytes) return NULL;
    return on_device ? (void *)dev((bytes + 3) / 4) : (void *)host((bytes + 3) / 4);
}

static void test_conv2d(void **state)
{
    (void)state;
    NEED_DEVICE();
    const ConvGeom cases[] = {
        geom(2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1),   /* odd, non-square */
        geom(3, 4, 10, 8, 6, 4, 4, 2, 1, 1, 1),  /* the discriminator's stride 2, kernel 4 */
        geom(2, 4, 9, 11, 6, 3, 3, 1, 2, 2, 2),  /* dilation, groups */
        geom(1, 5, 6, 6, 7, 1, 1, 1, 0, 1, 1),   /* pointwise, batch 1 */
        geom(64, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1), /* the generator's convolution */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const ConvGeom *g = &cases[i];
        const size_t nx = (size_t)g->N * g->C * g->H * g->W,
                     nw = (size_t)g->K * (g->C / g->groups) * g->R * g->S,
                     ny = (size_t)g->N * g->K * g->OH * g->OW;
        float *x = host_rand(nx, -1, 1), *w = host_rand(nw, -1, 1), *b = host_rand(g->K, -1, 1),
              *dy = host_rand(ny, -1, 1);
        float *dx_ = dev_from(x, nx), *dw_ = dev_from(w, nw), *db_ = dev_from(b, g->K),
              *ddy = dev_from(dy, ny);
        void *cws = workspace(cpu, g, false), *gws = workspace(gpu, g, true);
        no_device_error();
        float *y = host(ny), *gy = dev(ny);
        const double terms_fwd = (double)(g->C / g->groups) * g->R * g->S;
        const double terms_data = (double)(g->K / g->groups) * g->R * g->S;
        const double terms_filt = (double)g->N * g->OH * g->OW;

        cpu->conv2d_forward(g, x, w, NULL, y, cws);
        gpu->conv2d_forward(g, dx_, dw_, NULL, gy, gws);
        expect("conv2d_forward case %zu", gy, y, ny, 1e-4, 1e-6 * terms_fwd, i);

        cpu->conv2d_forward(g, x, w, b, y, cws);
        gpu->conv2d_forward(g, dx_, dw_, db_, gy, gws);
        expect("conv2d_forward with bias case %zu", gy, y, ny, 1e-4, 1e-6 * terms_fwd, i);

        float *gx = host(nx), *ggx = dev(nx);
        cpu->conv2d_backward_data(g, dy, w, gx, cws);
        gpu->conv2d_backward_data(g, ddy, dw_, ggx, gws);
        expect("conv2d_backward_data case %zu", ggx, gx, nx, 1e-4, 1e-6 * terms_data, i);

        float *gw = host(nw), *ggw = dev(nw);
        cpu->conv2d_backward_filter(g, x, dy, gw, cws);
        gpu->conv2d_backward_filter(g, dx_, ddy, ggw, gws);
        expect("conv2d_backward_filter case %zu", ggw, gw, nw, 1e-4, 1e-6 * terms_filt, i);
        release(NULL);
    }
}

static void test_bias(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const int shapes[][3] = {{3, 5, 7}, {64, 512, 1}, {1, 1, 1}, {64, 32, 196}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int outer = shapes[s][0], C = shapes[s][1], inner = shapes[s][2];
        const size_t n = (size_t)outer * C * inner;
        float *y = host_rand(n, -1, 1), *b = host_rand(C, -1, 1), *db = host(C);
        float *gy = dev_from(y, n), *gb = dev_from(b, C), *gdb = dev(C);
        cpu->bias_add(y, b, outer, C, inner);
        gpu->bias_add(gy, gb, outer, C, inner);
        expect("bias_add", gy, y, n, EXACT);
        cpu->bias_grad(y, db, outer, C, inner);
        gpu->bias_grad(gy, gdb, outer, C, inner);
        /* The CPU sums each row of `inner` in float before adding rows in double. */
        expect("bias_grad", gdb, db, C, 1e-5, 1e-7 * outer * inner + 1e-6);
        release(NULL);
    }
}

static void test_batchnorm(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const int shapes[][3] = {{4, 3, 10}, {64, 17, 1}, {1, 2, 5}, {64, 32, 196}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int affine = 0; affine < 2; affine++) {
            const int N = shapes[s][0], C = shapes[s][1], inner = shapes[s][2];
            const size_t n = (size_t)N * C * inner;
            float *x = host_rand(n, -2, 3), *dy = host_rand(n, -1, 1);
            float *gamma = affine ? host_rand(C, 0.5f, 1.5f) : NULL;
            float *beta = affine ? host_rand(C, -0.5f, 0.5f) : NULL;
            float *rm = host_rand(C, -0.1f, 0.1f), *rv = host_rand(C, 0.9f, 1.1f);
            float *gx = dev_from(x, n), *gdy = dev_from(dy, n);
            float *ggamma = affine ? dev_from(gamma, C) : NULL;
            float *gbeta = affine ? dev_from(beta, C) : NULL;
            float *grm = dev_from(rm, C), *grv = dev_from(rv, C);
            float *y = host(n), *mean = host(C), *invstd = host(C);
            float *gyv = dev(n), *gmean = dev(C), *ginvstd = dev(C);

            cpu->batchnorm_forward_train(x, gamma, beta, y, mean, invstd, rm, rv, N, C, inner,
                                         1e-5f, 0.1f);
            gpu->batchnorm_forward_train(gx, ggamma, gbeta, gyv, gmean, ginvstd, grm, grv, N, C,
                                         inner, 1e-5f, 0.1f);
            expect("batchnorm train y", gyv, y, n, ULPS);
            expect("batchnorm save_mean", gmean, mean, C, ULPS);
            expect("batchnorm save_invstd", ginvstd, invstd, C, ULPS);
            expect("batchnorm running_mean", grm, rm, C, ULPS);
            expect("batchnorm running_var", grv, rv, C, ULPS);

            /* In place (y aliases x) gives the same result. */
            float *galias = dev_from(x, n);
            gpu->batchnorm_forward_train(galias, ggamma, gbeta, galias, gmean, ginvstd, NULL,
                                         NULL, N, C, inner, 1e-5f, 0.1f);
            expect("batchnorm train in place", galias, y, n, ULPS);

            cpu->batchnorm_forward_eval(x, gamma, beta, y, rm, rv, N, C, inner, 1e-5f);
            gpu->batchnorm_forward_eval(gx, ggamma, gbeta, gyv, grm, grv, N, C, inner, 1e-5f);
            expect("batchnorm eval", gyv, y, n, ULPS);

            float *dx = host(n), *dg = host(C), *dbeta = host(C);
            float *gdx = dev(n), *gdg = dev(C), *gdbeta = dev(C);
            cpu->batchnorm_backward(dy, x, gamma, mean, invstd, dx, dg, dbeta, N, C, inner);
            /* The device uses its own saved statistics, which agree within ULPS. */
            gpu->upload(gmean, mean, C);
            gpu->upload(ginvstd, invstd, C);
            gpu->batchnorm_backward(gdy, gx, ggamma, gmean, ginvstd, gdx, gdg, gdbeta, N, C,
                                    inner);
            expect("batchnorm backward dx", gdx, dx, n, 1e-4, 1e-5);
            expect("batchnorm backward dgamma", gdg, dg, C, ULPS);
            expect("batchnorm backward dbeta", gdbeta, dbeta, C, ULPS);
            /* dgamma/dbeta left out. */
            gpu->fill(gdx, n, 0.0f);
            gpu->batchnorm_backward(gdy, gx, ggamma, gmean, ginvstd, gdx, NULL, NULL, N, C, inner);
            expect("batchnorm backward dx only", gdx, dx, n, 1e-4, 1e-5);
            release(NULL);
        }
}

static void test_unary(void **state)
{
    (void)state;
    NEED_DEVICE();
    const size_t n = 100003;
    for (int k = 0; k < UNARY_COUNT; k++) {
        const bool positive = k == UNARY_LOG || k == UNARY_SQRT;
        float *x = host_rand(n, positive ? 0.01f : -12.0f, 12.0f), *dy = host_rand(n, -1, 1);
        float *y = host(n), *dx = host(n);
        float *gx = dev_from(x, n), *gdy = dev_from(dy, n), *gyv = dev(n), *gdx = dev(n);
        cpu->unary((UnaryKind)k, x, y, n, 0.2f);
        gpu->unary((UnaryKind)k, gx, gyv, n, 0.2f);
        expect("unary kind %d", gyv, y, n, ULPS, k);
        /* Both backward passes read the CPU's y, so only the derivative is compared. */
        gpu->upload(gyv, y, n);
        cpu->unary_backward((UnaryKind)k, x, y, dy, dx, n, 0.2f);
        gpu->unary_backward((UnaryKind)k, gx, gyv, gdy, gdx, n, 0.2f);
        expect("unary_backward kind %d", gdx, dx, n, ULPS, k);
        release(NULL);
    }
}

static void test_linear_combinations(void **state)
{
    (void)state;
    NEED_DEVICE();
    const size_t n = 77777;
    float *a = host_rand(n, -3, 3), *b = host_rand(n, -3, 3), *y = host(n);
    float *ga = dev_from(a, n), *gb = dev_from(b, n), *gy = dev(n);
    cpu->axpby(n, 0.3f, a, -1.7f, b, y);
    gpu->axpby(n, 0.3f, ga, -1.7f, gb, gy);
    expect("axpby", gy, y, n, ROUNDING);
    cpu->axpby(n, 2.0f, a, 0.5f, b, a); /* y aliases a */
    gpu->axpby(n, 2.0f, ga, 0.5f, gb, ga);
    expect("axpby in place", ga, a, n, ROUNDING);
    cpu->mul(n, a, b, y);
    gpu->mul(n, ga, gb, gy);
    expect("mul", gy, y, n, ROUNDING);
    cpu->scale_shift(n, -0.9f, b, 0.25f, b);
    gpu->scale_shift(n, -0.9f, gb, 0.25f, gb);
    expect("scale_shift in place", gb, b, n, ROUNDING);
    cpu->clamp(a, n, -0.5f, 0.75f);
    gpu->clamp(ga, n, -0.5f, 0.75f);
    expect("clamp", ga, a, n, EXACT);
}

static void test_reductions(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const size_t sizes[] = {1, 1000, 3000017};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const size_t n = sizes[s];
        float *x = host_rand(n, -1, 2), *gx = dev_from(x, n);
        double want = cpu->sum(x, n), got = gpu->sum(gx, n);
        if (fabs(got - want) > 1e-9 * fabs(want) + 1e-9)
            fail_msg("sum of %zu: got %.15g, want %.15g", n, got, want);
        want = cpu->sum_squares(x, n), got = gpu->sum_squares(gx, n);
        if (fabs(got - want) > 1e-9 * fabs(want) + 1e-9)
            fail_msg("sum_squares of %zu: got %.15g, want %.15g", n, got, want);
        float y, *gy = dev(1);
        cpu->sum_to_scalar(x, n, -0.125f, &y);
        gpu->sum_to_scalar(gx, n, -0.125f, gy);
        expect("sum_to_scalar", gy, &y, 1, ROUNDING);
        no_device_error();
        release(NULL);
    }
}

static void test_layout(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const int shapes[][5] = {{2, 3, 5, 4, 2}, {1, 2, 3, 7, 3}, {64, 16, 7, 7, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3],
                  r = shapes[s][4];
        const size_t n = (size_t)N * C * H * W * r * r;
        float *x = host_rand(n, -1, 1), *y = host(n), *back = host(n);
        float *gx = dev_from(x, n), *gy = dev(n), *gback = dev(n);
        cpu->pixel_shuffle(x, y, N, C, H, W, r);
        gpu->pixel_shuffle(gx, gy, N, C, H, W, r);
        expect("pixel_shuffle", gy, y, n, EXACT);
        cpu->pixel_unshuffle(y, back, N, C, H, W, r);
        gpu->pixel_unshuffle(gy, gback, N, C, H, W, r);
        expect("pixel_unshuffle", gback, back, n, EXACT);
        release(NULL);
    }
    /* Concat-like block copy: 5 rows of 7 into columns 3..9 of rows of 12. */
    float *src = host_rand(5 * 9, -1, 1), *dst = host_rand(5 * 12, -1, 1);
    float *gsrc = dev_from(src, 5 * 9), *gdst = dev_from(dst, 5 * 12);
    cpu->copy_block(dst + 3, 12, src + 1, 9, 5, 7);
    gpu->copy_block(gdst + 3, 12, gsrc + 1, 9, 5, 7);
    expect("copy_block", gdst, dst, 5 * 12, EXACT);
}

static void test_rng(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const size_t sizes[] = {1, 7, 4099, 1000001};
    const uint64_t seed = 0x0123456789ABCDEFull, offset = (1ull << 33) + 5;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const size_t n = sizes[s];
        float *y = host(n), *gy = dev(n);
        cpu->rng_uniform(y, n, -2.0f, 3.0f, seed, offset);
        gpu->rng_uniform(gy, n, -2.0f, 3.0f, seed, offset);
        expect("rng_uniform", gy, y, n, EXACT);
        cpu->rng_normal(y, n, 0.5f, 2.0f, seed, offset);
        gpu->rng_normal(gy, n, 0.5f, 2.0f, seed, offset);
        expect("rng_normal", gy, y, n, ULPS);
        release(NULL);
    }
}

/* A few optimizer steps on both backends from the same state and gradients. */
#define STEPS 5
static void test_optimizers(void **state)
{
    (void)state;
    NEED_DEVICE();
    const size_t n = 50001;
    for (int variant = 0; variant < 9; variant++) {
        float *p = host_rand(n, -1, 1), *s1 = host(n), *s2 = host(n), *s3 = host(n);
        float *gp = dev_from(p, n), *gs1 = dev(n), *gs2 = dev(n), *gs3 = dev(n), *gg = dev(n);
        for (int t = 1; t <= STEPS; t++) {
            float *g = host_rand(n, -1, 1);
            gpu->upload(gg, g, n);
            switch (variant) {
            case 0: /* Adam with L2 weight decay, then AdamW */
            case 1: {
                const bool decoupled = variant == 1;
                float bc1 = 1.0f - powf(0.9f, t), bc2 = 1.0f - powf(0.999f, t);
                cpu->adam_update(p, g, s1, s2, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, decoupled,
                                 bc1, bc2);
                gpu->adam_update(gp, gg, gs1, gs2, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f,
                                 decoupled, bc1, bc2);
                break;
            }
            case 2: /* SGD: plain, momentum with dampening, nesterov */
            case 3:
            case 4: {
                const float mu = variant == 2 ? 0.0f : 0.9f, damp = variant == 3 ? 0.1f : 0.0f;
                cpu->sgd_update(p, g, s1, n, 0.05f, mu, damp, 1e-4f, variant == 4, t == 1);
                gpu->sgd_update(gp, gg, gs1, n, 0.05f, mu, damp, 1e-4f, variant == 4, t == 1);
                break;
            }
            case 5:
                cpu->rmsprop_update(p, g, s1, NULL, NULL, n, 1e-2f, 0.99f, 1e-8f, 0.0f, 0.0f);
                gpu->rmsprop_update(gp, gg, gs1, NULL, NULL, n, 1e-2f, 0.99f, 1e-8f, 0.0f, 0.0f);
                break;
            default: { /* RMSprop full: momentum, centered, both */
                const bool mom = variant != 7, centered = variant != 6;
                cpu->rmsprop_update(p, g, s1, mom ? s2 : NULL, centered ? s3 : NULL, n,
                                         1e-2f, 0.9f, 1e-8f, 0.01f, mom ? 0.5f : 0.0f);
                gpu->rmsprop_update(gp, gg, gs1, mom ? gs2 : NULL, centered ? gs3 : NULL, n,
                                         1e-2f, 0.9f, 1e-8f, 0.01f, mom ? 0.5f : 0.0f);
                break;
            }
            }
        }
        expect("optimizer variant %d: parameters", gp, p, n, ROUNDING, variant);
        expect("optimizer variant %d: first state", gs1, s1, n, ROUNDING, variant);
        expect("optimizer variant %d: second state", gs2, s2, n, ROUNDING, variant);
        expect("optimizer variant %d: third state", gs3, s3, n, ROUNDING, variant);
        release(NULL);
    }
}

static void test_group_norm(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const int shapes[][4] = {{4, 6, 10, 3}, {2, 520, 3, 2}, {5, 8, 1, 8}, {32, 128, 256, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int N = shapes[s][0], C = shapes[s][1], inner = shapes[s][2], G = shapes[s][3];
        const size_t n = (size_t)N * C * inner, rows = (size_t)N * G;
        float *x = host_rand(n, -2, 3), *dy = host_rand(n, -1, 1), *gamma = host_rand(C, 0.5f, 1.5f);
        float *beta = host_rand(C, -0.5f, 0.5f), *y = host(n), *stats = host(2 * rows), *dx = host(n), *dg = host(2 * C);
        float *gx = dev_from(x, n), *gdy = dev_from(dy, n), *ggamma = dev_from(gamma, C), *gbeta = dev_from(beta, C);
        float *gyv = dev(n), *gstats = dev(2 * rows), *gdx = dev(n), *gdg = dev(2 * C);
        const size_t work_floats = GROUP_NORM_WORK_BYTES(N, C) / sizeof(float);
        float *work = host(work_floats), *gwork = dev(work_floats);
        cpu->group_norm_forward(x, gamma, beta, y, stats, stats + rows, N, C, inner, G, 1e-5f);
        gpu->group_norm_forward(gx, ggamma, gbeta, gyv, gstats, gstats + rows, N, C, inner, G, 1e-5f);
        expect("group_norm y", gyv, y, n, ULPS);
        expect("group_norm statistics", gstats, stats, 2 * rows, ULPS);
        /* From the same statistics: the CPU's, uploaded. */
        gpu->upload(gstats, stats, 2 * rows);
        cpu->group_norm_backward(dy, x, gamma, stats, stats + rows, dx, dg, dg + C, work, N, C, inner, G);
        gpu->group_norm_backward(gdy, gx, ggamma, gstats, gstats + rows, gdx, gdg, gdg + C, gwork, N, C, inner, G);
        expect("group_norm dx", gdx, dx, n, 1e-4, 1e-5);
        expect("group_norm dgamma and dbeta", gdg, dg, 2 * C, 1e-5, 1e-5);
        gpu->group_norm_forward(gx, NULL, NULL, gx, gstats, gstats + rows, N, C, inner, G, 1e-5f);
        cpu->group_norm_forward(x, NULL, NULL, x, stats, stats + rows, N, C, inner, G, 1e-5f);
        expect("group_norm in place without affine", gx, x, n, ULPS);
        release(NULL);
    }
}

/* FiLM, the timestep embedding and embedding lookup: per-element formulas shared with the CPU
 * (time embedding: double exp and sin/cos on the device) and sums in the CPU's order. */
static void test_conditioning(void **state)
{
    (void)state;
    NEED_DEVICE();
    const int N = 33, C = 20, inner = 49, ld = 2 * C, dim = 129, num = 10;
    const size_t n = (size_t)N * C * inner;
    float *x = host_rand(n, -1, 1), *e = host_rand((size_t)N * ld, -1, 1), *y = host(n);
    float *gx = dev_from(x, n), *ge = dev_from(e, (size_t)N * ld), *gyv = dev(n);
    for (int mode = 0; mode < 3; mode++) {
        const float *scale = mode == 1 ? NULL : e, *shift = mode == 2 ? NULL : e + C;
        const float *gscale = mode == 1 ? NULL : ge, *gshift = mode == 2 ? NULL : ge + C;
        cpu->film_forward(x, scale, shift, y, N, C, inner, ld);
        gpu->film_forward(gx, gscale, gshift, gyv, N, C, inner, ld);
        expect("film", gyv, y, n, EXACT);
    }

    float *t = host(N), *emb = host((size_t)N * dim), *gemb = dev((size_t)N * dim);
    for (int i = 0; i < N; i++) t[i] = (float)(i * 31 % 1000);
    float *gt = dev_from(t, N);
    for (int flip = 0; flip < 2; flip++) {
        cpu->time_embedding(t, emb, N, dim, flip, flip ? 0.0f : 1.0f, 1.0f, 10000.0f);
        gpu->time_embedding(gt, gemb, N, dim, flip, flip ? 0.0f : 1.0f, 1.0f, 10000.0f);
        expect("time_embedding", gemb, emb, (size_t)N * dim, ULPS);
    }

    float *ids = host(N), *table = host_rand((size_t)num * dim, -1, 1), *dtable = host((size_t)num * dim);
    for (int i = 0; i < N; i++) ids[i] = (float)(i * 7 % num);
    float *gids = dev_from(ids, N), *gtable = dev_from(table, (size_t)num * dim), *gdtable = dev((size_t)num * dim);
    cpu->embedding_forward(ids, table, emb, N, dim);
    gpu->embedding_forward(gids, gtable, gemb, N, dim);
    expect("embedding", gemb, emb, (size_t)N * dim, EXACT);
    cpu->embedding_backward(ids, emb, dtable, N, num, dim);
    gpu->embedding_backward(gids, gemb, gdtable, N, num, dim);
    expect("embedding_backward", gdtable, dtable, (size_t)num * dim, EXACT);
}

int main(void)
{
    cpu = backend_cpu();
    gpu = backend_cuda(why, sizeof why);
    if (!gpu) printf("skipped: %s\n", why);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start),
        cmocka_unit_test_teardown(test_memory, release),
        cmocka_unit_test_teardown(test_gemm, release),
        cmocka_unit_test_teardown(test_attention, release),
        cmocka_unit_test_teardown(test_conv2d, release),
        cmocka_unit_test_teardown(test_bias, release),
        cmocka_unit_test_teardown(test_batchnorm, release),
        cmocka_unit_test_teardown(test_group_norm, release),
        cmocka_unit_test_teardown(test_conditioning, release),
        cmocka_unit_test_teardown(test_unary, release),
        cmocka_unit_test_teardown(test_linear_combinations, release),
        cmocka_unit_test_teardown(test_reductions, release),
        cmocka_unit_test_teardown(test_layout, release),
        cmocka_unit_test_teardown(test_rng, release),
        cmocka_unit_test_teardown(test_optimizers, release),
    };
    return cmocka_run_group_tests_name("cuda_backend", tests, NULL, NULL);
}
