/* `runner bench`: times one training step of the reference GAN (both networks' forward and
 * backward, both Adam updates) on a backend, and with --profile where the time goes per op. */
#include "runner/gan_step.h"
#include "runner/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct BenchOptions {
    int threads, steps, warmup, batch;
    bool profile;
    const char *experiments; /* folder holding nets/ */
} BenchOptions;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse_int(const char *flag, const char *text, int min, int *out, Error *err)
{
    char *end;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || *end || v < min || v > 1000000)
        return err_set(err, "bench: %s expects an integer >= %d, got '%s'", flag, min, text ? text : "");
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, BenchOptions *o, Error *err)
{
    *o = (BenchOptions){.threads = 2, .steps = 30, .warmup = 5, .batch = 64, .experiments = "experiments"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--profile") == 0) { o->profile = true; continue; }
        if (strcmp(a, "--threads") == 0) rc = parse_int(a, v, 1, &o->threads, err);
        else if (strcmp(a, "--steps") == 0) rc = parse_int(a, v, 1, &o->steps, err);
        else if (strcmp(a, "--warmup") == 0) rc = parse_int(a, v, 0, &o->warmup, err);
        else if (strcmp(a, "--batch") == 0) rc = parse_int(a, v, 1, &o->batch, err);
        else if (strcmp(a, "--experiments") == 0 && v) o->experiments = v;
        else
            return err_set(err, "bench: unknown argument '%s'; usage: runner bench [--threads N] "
                           "[--steps N] [--warmup N] [--batch N] [--experiments DIR] [--profile]", a);
        if (rc) return -1;
        i++;
    }
    return 0;
}

/* Time accumulated over the profiled steps. */
typedef struct Profile {
    double *node_ms;   /* per node id */
    double update_ms;  /* both optimizer updates */
} Profile;

/* One step with a clock around each node, then the updates. */
static int profiled_step(GanStep *s, Profile *p, Error *err)
{
    Graph *g = s->g;
    graph_run_timed(g, p->node_ms);
    double t0 = now_ms();
    if (gan_step_update(s, err)) return -1;
    g->be->synchronize();
    p->update_ms += now_ms() - t0;
    return 0;
}

/* One line of the profile: an op kind (name, part, node count) or a single node (id). */
typedef struct OpRow {
    const char *name;
    const char *part;  /* "fwd", "grad" or "update" */
    int count_or_id;
    double ms;
} OpRow;

static int cmp_row(const void *a, const void *b) /* slowest first */
{
    double x = ((const OpRow *)a)->ms, y = ((const OpRow *)b)->ms;
    return (x < y) - (x > y);
}

static void print_profile(const GanStep *s, const Profile *p, int steps)
{
    const Graph *g = s->g;
    OpRow *rows = calloc((size_t)g->n + 1, sizeof *rows);
    OpRow *nodes = calloc((size_t)g->n + 1, sizeof *nodes);
    if (!rows || !nodes) {
        free(rows);
        free(nodes);
        return;
    }
    int n_rows = 0, n_nodes = 0;
    double total = p->update_ms;
    for (int id = 0; id < g->n; id++) {
        const Node *nd = g->nodes[id];
        if (!nd->needed || nd->kind != NODE_OP || (nd->op->flags & OP_VIEW)) continue;
        const char *part = id >= s->first_grad_node ? "grad" : "fwd";
        int r = 0;
        while (r < n_rows && !(strcmp(rows[r].name, nd->op->name) == 0 && rows[r].part == part)) r++;
        if (r == n_rows) rows[n_rows++] = (OpRow){nd->op->name, part, 0, 0};
        rows[r].count_or_id++;
        rows[r].ms += p->node_ms[id];
        nodes[n_nodes++] = (OpRow){nd->name, part, id, p->node_ms[id]};
        total += p->node_ms[id];
    }
    rows[n_rows++] = (OpRow){"optimizer steps", "update", 2, p->update_ms};
    qsort(rows, (size_t)n_rows, sizeof *rows, cmp_row);
    qsort(nodes, (size_t)n_nodes, sizeof *nodes, cmp_row);

    printf("profile: %d steps, %.2f ms per step in the ops below (per op kind; \"grad\" = gradient part)\n",
           steps, total / steps);
    printf("  %-28s %-6s %6s %10s %7s\n", "op", "part", "nodes", "ms/step", "share");
    for (int r = 0; r < n_rows; r++)
        printf("  %-28s %-6s %6d %10.3f %6.1f%%\n", rows[r].name, rows[r].part,
               rows[r].count_or_id, rows[r].ms / steps, 100.0 * rows[r].ms / total);
    printf("slowest nodes:\n  %-36s %-22s %-20s %10s\n", "node", "op", "output", "ms/step");
    for (int i = 0; i < n_nodes && i < 15; i++) {
        const Node *nd = g->nodes[nodes[i].count_or_id];
        char shape[64];
        printf("  %-36s %-22s %-20s %10.3f\n", nd->name, nd->op->name,
               shape_format(&nd->out.shape, shape, sizeof shape), nodes[i].ms / steps);
    }
    free(rows);
    free(nodes);
}

/* Standard normal noise and uniform [-1, 1] "images" from the backend's generator. */
static int random_batch(const Backend *be, float *host, size_t n, bool normal, uint64_t offset, Error *err)
{
    float *dev = be->alloc(n * sizeof *dev);
    if (!dev) return err_set(err, "out of memory");
    if (normal)
        be->rng_normal(dev, n, 0.0f, 1.0f, 1234, offset);
    else
        be->rng_uniform(dev, n, -1.0f, 1.0f, 1234, offset);
    be->download(host, dev, n);
    be->free(dev);
    return 0;
}

static int bench(const BenchOptions *o, Error *err)
{
    const Backend *be = backend_cpu();
    be->set_threads(o->threads);
    GanReference ref;
    if (gan_reference_load(o->experiments, &ref, err)) return -1;
    GanStep s;
    int rc = -1;
    float *z = NULL, *real = NULL;
    double *times = NULL;
    Profile prof = {0};
    if (gan_step_init(&s, be, ref.gen, ref.disc, o->batch, 0, &ref.opt_g, &ref.opt_d, err)) {
        gan_reference_free(&ref);
        return -1;
    }
    size_t nz = (size_t)shape_numel(&s.z->out.shape), nx = (size_t)shape_numel(&s.real->out.shape);
    z = malloc(nz * sizeof *z);
    real = malloc(nx * sizeof *real);
    times = malloc((size_t)o->steps * sizeof *times);
    prof.node_ms = calloc((size_t)s.g->n, sizeof *prof.node_ms);
    if (!z || !real || !times || !prof.node_ms) {
        err_set(err, "out of memory");
        goto done;
    }
    if (random_batch(be, z, nz, true, 0, err) || random_batch(be, real, nx, false, nz, err)) goto done;

    for (int i = 0; i < o->warmup + o->steps; i++) {
        double t0 = now_ms();
        if (gan_step_run(&s, z, real, NULL, NULL, err)) goto done;
        be->synchronize();
        if (i >= o->warmup) times[i - o->warmup] = now_ms() - t0;
    }
    qsort(times, (size_t)o->steps, sizeof *times, cmp_double);
    double median = o->steps % 2 ? times[o->steps / 2]
                                 : 0.5 * (times[o->steps / 2 - 1] + times[o->steps / 2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* Same line format as tests/bench/gan_step_torch.py, which tools/bench.sh parses. */
    printf("runner %s threads %d median_ms %.3f min_ms %.3f peak_rss_kib %ld\n", be->name,
           o->threads, median, times[0], ru.ru_maxrss);
    if (o->profile) {
        graph_set_input(s.g, s.z, z);
        graph_set_input(s.g, s.real, real);
        for (int i = 0; i < o->steps; i++)
            if (profiled_step(&s, &prof, err)) goto done;
        print_profile(&s, &prof, o->steps);
    }
    rc = 0;
done:
    free(z);
    free(real);
    free(times);
    free(prof.node_ms);
    gan_step_free(&s);
    gan_reference_free(&ref);
    return rc;
}

int cmd_bench(int argc, char **argv, Error *err)
{
    BenchOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    return bench(&o, err);
}
