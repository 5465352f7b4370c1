/* Times the CPU convolution implementations (im2col + OpenBLAS, oneDNN, and the backend's
 * dispatch between them) on the geometries of tests/bench/conv_shapes.txt, for the forward,
 * backward-data and backward-filter passes, and checks that oneDNN agrees with im2col.
 * Usage: conv_bench [--threads T] [--reps N] [--shapes FILE] [--only PREFIX]
 * Prints `<impl> <name> <pass> threads T ms M min_ms L` lines (M: median, L: fastest of the reps
 * after a warm-up), the format of tests/bench/conv_bench_torch.py, and after each pass
 * `check <name> <pass> maxrel E`: oneDNN's largest difference from im2col, relative to the largest
 * im2col value. */
#include "kernels/cpu/cpu_conv_impl.h"
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Args {
    int threads, reps;
    const char *shapes, *only;
} Args;

typedef struct Case {
    const ConvGeom *g;
    const float *x, *w, *bias, *dy;
    float *out;
    void *ws;
    size_t ws_bytes;
} Case;

static const char *pass_name[CONV_PASS_COUNT] = {"forward", "backward_data", "backward_filter"};
static const char *impl_name[] = {"im2col", "onednn", "backend"};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One call of implementation `impl` (0 im2col, 1 oneDNN, 2 backend dispatch); false when
 * oneDNN declines the case. */
static bool run(const Case *c, int impl, ConvPass pass)
{
    const ConvGeom *g = c->g;
    if (impl == 0) {
        if (pass == CONV_FORWARD) conv_im2col_forward(g, c->x, c->w, c->bias, c->out, c->ws);
        if (pass == CONV_BACKWARD_DATA) conv_im2col_backward_data(g, c->dy, c->w, c->out, c->ws);
        if (pass == CONV_BACKWARD_FILTER) conv_im2col_backward_filter(g, c->x, c->dy, c->out, c->ws);
        return true;
    }
    if (impl == 2) {
        if (pass == CONV_FORWARD) cpu_conv2d_forward(g, c->x, c->w, c->bias, c->out, c->ws);
        if (pass == CONV_BACKWARD_DATA) cpu_conv2d_backward_data(g, c->dy, c->w, c->out, c->ws);
        if (pass == CONV_BACKWARD_FILTER) cpu_conv2d_backward_filter(g, c->x, c->dy, c->out, c->ws);
        return true;
    }
    if (pass == CONV_FORWARD) return conv_dnnl_forward(g, c->x, c->w, c->bias, c->out, c->ws, c->ws_bytes);
    if (pass == CONV_BACKWARD_DATA) return conv_dnnl_backward_data(g, c->dy, c->w, c->out, c->ws, c->ws_bytes);
    return conv_dnnl_backward_filter(g, c->x, c->dy, c->out, c->ws, c->ws_bytes);
}

static double timed(const Case *c, int impl, ConvPass pass, int reps, double *t)
{
    for (int i = 0; i < 3; i++)
        if (!run(c, impl, pass)) return NAN;
    for (int i = 0; i < reps; i++) {
        double t0 = now_ms();
        run(c, impl, pass);
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

static void report(const Args *a, const Case *c, const char *name, int impl, ConvPass pass, double *t)
{
    double median = timed(c, impl, pass, a->reps, t);
    printf("%s %s %s threads %d ms %.3f min_ms %.3f\n", impl_name[impl], name, pass_name[pass], a->threads,
           median, isnan(median) ? NAN : t[0]);
    fflush(stdout);
}

static float *random_buf(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++) p[i] = (float)rand_r(seed) / RAND_MAX * 2.0f - 1.0f;
    return p;
}

static double max_rel(const float *a, const float *b, size_t n)
{
    double scale = 1e-30, worst = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / scale);
    return worst;
}

static int bench_shape(const Args *a, const char *name, const ConvGeom *g, bool has_bias)
{
    size_t nx = (size_t)g->N * g->C * g->H * g->W, nw = (size_t)g->K * (g->C / g->groups) * g->R * g->S;
    size_t ny = (size_t)g->N * g->K * g->OH * g->OW, nout = nx > ny ? nx : ny;
    if (nw > nout) nout = nw;
    unsigned seed = 1;
    Case c = {.g = g, .ws_bytes = cpu_conv2d_workspace_bytes(g)};
    /* oneDNN on its own, also where the backend would not choose it, gets what it needs. */
    for (ConvPass p = 0; p < CONV_PASS_COUNT; p++)
        for (int with_bias = 0; with_bias <= (p == CONV_FORWARD); with_bias++) {
            size_t need = conv_dnnl_workspace_bytes(g, p, with_bias);
            if (need > c.ws_bytes) c.ws_bytes = need;
        }
    float *x = random_buf(nx, &seed), *w = random_buf(nw, &seed), *b = random_buf((size_t)g->K, &seed);
    float *dy = random_buf(ny, &seed), *out = malloc(nout * sizeof *out), *ref = malloc(nout * sizeof *ref);
    double *t = malloc((size_t)a->reps * sizeof *t);
    void *ws = malloc(c.ws_bytes ? c.ws_bytes : 1);
    int rc = -1;
    if (!x || !w || !b || !dy || !out || !ref || !t || !ws) {
        fprintf(stderr, "conv_bench: out of memory for %s\n", name);
        goto done;
    }
    c.x = x, c.w = w, c.bias = has_bias ? b : NULL, c.dy = dy, c.out = out, c.ws = ws;
    for (ConvPass p = 0; p < CONV_PASS_COUNT; p++) {
        size_t n = p == CONV_FORWARD ? ny : p == CONV_BACKWARD_DATA ? nx : nw;
        for (int impl = 0; impl < 3; impl++) report(a, &c, name, impl, p, t);
        c.out = ref;
        run(&c, 0, p);
        c.out = out;
        if (run(&c, 1, p)) printf("check %s %s maxrel %.2e\n", name, pass_name[p], max_rel(out, ref, n));
    }
    rc = 0;
done:
    free(x), free(w), free(b), free(dy), free(out), free(ref), free(t), free(ws);
    return rc;
}

int main(int argc, char **argv)
{
    Args a = {.threads = 2, .reps = 20, .shapes = "tests/bench/conv_shapes.txt", .only = ""};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) a.threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) a.reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--shapes") == 0) a.shapes = argv[i + 1];
        else if (strcmp(argv[i], "--only") == 0) a.only = argv[i + 1];
        else {
            fprintf(stderr, "conv_bench: unknown argument '%s'; usage: conv_bench [--threads T] [--reps N] "
                            "[--shapes FILE] [--only PREFIX]\n", argv[i]);
            return 2;
        }
    }
    if (a.threads < 1 || a.reps < 1) {
        fprintf(stderr, "conv_bench: --threads and --reps must be positive\n");
        return 2;
    }
    cpu_set_threads(a.threads);
    FILE *f = fopen(a.shapes, "r");
    if (!f) {
        fprintf(stderr, "conv_bench: cannot open %s\n", a.shapes);
        return 1;
    }
    char line[256], name[64];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \t")] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
        ConvGeom g = {.dil_h = 1, .dil_w = 1, .groups = 1};
        int stride, bias;
        if (sscanf(line, "%63s %d %d %d %d %d %d %d %d %d %d %d", name, &g.N, &g.C, &g.H, &g.W, &g.K, &g.R, &g.S,
                   &stride, &g.pad_h, &g.pad_w, &bias) != 12) {
            fprintf(stderr, "%s:%d: expected `name N C H W K R S stride pad_h pad_w bias`\n", a.shapes, lineno);
            rc = 1;
            break;
        }
        if (strncmp(name, a.only, strlen(a.only)) != 0) continue;
        g.stride_h = g.stride_w = stride;
        g.OH = (g.H + 2 * g.pad_h - g.R) / stride + 1;
        g.OW = (g.W + 2 * g.pad_w - g.S) / stride + 1;
        rc = bench_shape(&a, name, &g, bias != 0);
    }
    fclose(f);
    return rc;
}
