/* `runner bench`: times the training step of a spec (by default the reference GAN of
 * experiments/gan_mnist.yaml: both networks' forward and backward, both Adam updates) through its
 * Algorithm, then its sampler in evaluation mode: a GAN's generator drawing a batch of samples, a
 * diffusion model's one reverse step (samples.steps set to 1) on a batch; with --profile, where the
 * step's time goes per op kind and per node.  Each measurement also gives the floating-point
 * operations its graphs ran (Op.flops: the products of convolutions, linear layers and attention). */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/algo/experiment.h"
#include "runner/algo/run_plan.h"
#include "runner/data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_USAGE command_usage("bench")
#define MAX_GRAPHS 4

typedef struct BenchOptions {
    const char *spec, *backend;
    int threads, steps, warmup, batch, samples; /* batch 0: the spec's data.batch_size */
    bool profile;
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

static int parse_options(int argc, char **argv, BenchOptions *o, Error *err)
{
    *o = (BenchOptions){.spec = "experiments/gan_mnist.yaml", .backend = "cpu", .threads = 2, .steps = 30,
                        .warmup = 5, .samples = 1000};
    const ArgOption options[] = {
        OPTION_TEXT("--spec", &o->spec),
        OPTION_TEXT("--backend", &o->backend),
        OPTION_INT("--threads", &o->threads, 1, 1024),
        OPTION_INT("--steps", &o->steps, 1, 1000000),
        OPTION_INT("--warmup", &o->warmup, 0, 1000000),
        OPTION_INT("--batch", &o->batch, 1, 1000000),
        OPTION_INT("--samples", &o->samples, 0, 1000000),
        OPTION_FLAG("--profile", &o->profile),
    };
    return cmd_parse(argc, argv, options, sizeof options / sizeof options[0], NULL, BENCH_USAGE, err);
}

static double median(double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One line per measurement, the format tests/bench/gan_torch.py and unet_torch.py print and
 * tools/bench.sh parses: `<what> runner <backend> threads T median_ms M min_ms M peak_rss_kib K
 * count N gflop F` (N: examples per timed call; F: GFLOP per call, from Op.flops, which the
 * PyTorch lines do not print).  Sorts ms. */
static void print_times(const char *what, const Backend *be, int threads, int count, double gflop, double *ms, int n)
{
    double med = median(ms, n);
    printf("%s runner %s threads %d median_ms %.3f min_ms %.3f peak_rss_kib %ld count %d gflop %.4f\n", what,
           be->name, threads, med, ms[0], peak_rss_kib(), count, gflop);
    fflush(stdout);
}

/* One line of the profile: an op kind (name, part, node count) or a single node (graph, id). */
typedef struct OpRow {
    const char *name;
    const char *part; /* "fwd", "grad" or "other" */
    int count, graph, id;
    double ms, flops; /* summed over the profiled steps; flops from Op.flops, 0 where it has none */
} OpRow;

static int cmp_row(const void *a, const void *b) /* slowest first */
{
    double x = ((const OpRow *)a)->ms, y = ((const OpRow *)b)->ms;
    return (x < y) - (x > y);
}

/* A row's achieved GFLOP/s as text, blank for ops that count no flops (memory-bound ones). */
static const char *rate(const OpRow *r)
{
    static char text[32];
    if (r->flops <= 0 || r->ms <= 0) return "";
    snprintf(text, sizeof text, "%.1f", r->flops * 1e-6 / r->ms);
    return text;
}

/* graph_backward starts every gradient with a node named grad_seed; in an algorithm's graphs
 * all forward nodes come before the first backward pass. */
static int first_gradient_node(const Graph *g)
{
    for (int id = 0; id < g->n; id++)
        if (!strcmp(g->nodes[id]->name, "grad_seed")) return id;
    return g->n;
}

static bool timed_node(const Node *nd)
{
    return nd->needed && nd->kind == NODE_OP && !(nd->op->flags & OP_VIEW);
}

/* Per-op-kind and slowest-node tables from node_ms[graph][id] summed over `steps` runs;
 * step_ms is the mean time of a whole step(), whose part outside the graphs (optimizer updates,
 * noise, batch upload) is shown when the step runs exactly one graph. */
static int print_profile(Graph *const *graphs, double *const *node_ms, int n_graphs, int steps, double step_ms,
                         Error *err)
{
    int total_nodes = 0;
    for (int k = 0; k < n_graphs; k++) total_nodes += graphs[k]->n;
    OpRow *kinds = calloc((size_t)total_nodes + 1, sizeof *kinds);
    OpRow *nodes = calloc((size_t)total_nodes + 1, sizeof *nodes);
    if (!kinds || !nodes) {
        free(kinds);
        free(nodes);
        return err_set(err, "out of memory");
    }
    int n_kinds = 0, n_nodes = 0;
    double graph_ms = 0;
    for (int k = 0; k < n_graphs; k++) {
        const Graph *g = graphs[k];
        int first_grad = first_gradient_node(g);
        for (int id = 0; id < g->n; id++) {
            const Node *nd = g->nodes[id];
            if (!timed_node(nd)) continue;
            const char *part = id >= first_grad ? "grad" : "fwd";
            int r = 0;
            while (r < n_kinds && !(strcmp(kinds[r].name, nd->op->name) == 0 && kinds[r].part == part)) r++;
            if (r == n_kinds) kinds[n_kinds++] = (OpRow){.name = nd->op->name, .part = part};
            kinds[r].count++;
            double flops = nd->op->flops ? nd->op->flops(nd) * steps : 0;
            kinds[r].ms += node_ms[k][id];
            kinds[r].flops += flops;
            nodes[n_nodes++] = (OpRow){
                .name = nd->name, .part = part, .graph = k, .id = id, .ms = node_ms[k][id], .flops = flops};
            graph_ms += node_ms[k][id];
        }
    }
    double total = graph_ms;
    if (n_graphs == 1 && step_ms * steps > graph_ms) {
        kinds[n_kinds++] = (OpRow){.name = "outside the graph", .part = "other", .ms = step_ms * steps - graph_ms};
        total = step_ms * steps;
    }
    qsort(kinds, (size_t)n_kinds, sizeof *kinds, cmp_row);
    qsort(nodes, (size_t)n_nodes, sizeof *nodes, cmp_row);

    printf("profile: %d steps of %d graph%s, %.2f ms per step (\"grad\": gradient nodes; \"outside the graph\": "
           "optimizer updates, noise, batch upload)\n",
           steps, n_graphs, n_graphs > 1 ? "s" : "", total / steps);
    printf("  %-28s %-6s %6s %10s %7s %9s\n", "op", "part", "nodes", "ms/step", "share", "GFLOP/s");
    for (int r = 0; r < n_kinds; r++)
        printf("  %-28s %-6s %6d %10.3f %6.1f%% %9s\n", kinds[r].name, kinds[r].part, kinds[r].count,
               kinds[r].ms / steps, 100.0 * kinds[r].ms / total, rate(&kinds[r]));
    printf("slowest nodes:\n  %-36s %-22s %-20s %10s %9s\n", "node", "op", "output", "ms/step", "GFLOP/s");
    for (int i = 0; i < n_nodes && i < 15; i++) {
        const Node *nd = graphs[nodes[i].graph]->nodes[nodes[i].id];
        char shape[64];
        printf("  %-36s %-22s %-20s %10.3f %9s\n", nd->name, nd->op->name,
               shape_format(&nd->out.shape, shape, sizeof shape), nodes[i].ms / steps, rate(&nodes[i]));
    }
    free(kinds);
    free(nodes);
    return 0;
}

/* Runs each of the algorithm's graphs `steps` times with a clock around every node.  The graphs
 * keep the inputs of the last step, and running them alone updates no weights. */
static int profile(const Experiment *x, int steps, double step_ms, Error *err)
{
    Graph *graphs[MAX_GRAPHS];
    double *node_ms[MAX_GRAPHS] = {NULL};
    int n = x->algo->graphs ? x->algo->graphs(x->state, graphs, MAX_GRAPHS) : 0;
    if (n < 1) return err_set(err, "bench: algorithm '%s' does not expose its graphs to profile", x->algo->loss.type);
    int rc = -1;
    for (int k = 0; k < n; k++)
        if (!(node_ms[k] = calloc((size_t)graphs[k]->n + 1, sizeof *node_ms[k]))) {
            err_set(err, "out of memory");
            goto done;
        }
    for (int i = 0; i < steps; i++)
        for (int k = 0; k < n; k++)
            if (graph_run_timed(graphs[k], node_ms[k], err)) goto done;
    rc = print_profile(graphs, node_ms, n, steps, step_ms, err);
done:
    for (int k = 0; k < n; k++) free(node_ms[k]);
    return rc;
}

/* Uniform [-1, 1] "images" from the backend's generator: the step's cost does not depend on them. */
static int random_images(const Backend *be, float *host, size_t n, Error *err)
{
    float *dev = be->alloc(n * sizeof *dev);
    if (!dev) return err_set(err, "out of memory");
    be->rng_uniform(dev, n, -1.0f, 1.0f, 1234, 0);
    be->download(host, dev, n);
    be->free(dev);
    return 0;
}

/* One example as the networks take it, so that no data files are needed: a GAN's discriminator
 * input, else the trained model's only input or its input `x` (a ddpm denoiser's); the spec's
 * dataset's examples when neither says. */
static int example_shape(const Spec *spec, Shape *out, Error *err)
{
    const char *reader = spec->loss.discriminator[0] ? spec->loss.discriminator : spec->loss.model;
    const NetDef *d = reader[0] ? spec_model(spec, reader) : spec->n_models == 1 ? &spec->models[0] : NULL;
    for (int i = 0; d && i < d->n_inputs; i++)
        if (d->n_inputs == 1 || !strcmp(d->inputs[i].name, "x")) {
            *out = d->inputs[i].shape;
            return 0;
        }
    int dims[3];
    if (dataset_example_shape(&spec->data, dims, err)) return err_prefix(err, "bench: %s: data: ", spec->path);
    *out = shape_of(3, (int64_t)dims[0], (int64_t)dims[1], (int64_t)dims[2]);
    return 0;
}

static int bench(const BenchOptions *o, const Spec *spec, Error *err)
{
    const Backend *be;
    char note[384];
    if (experiment_backend(o->backend, &be, note, sizeof note, err)) return -1;
    be->set_threads(o->threads);
    Shape data_shape;
    if (example_shape(spec, &data_shape, err)) return -1;
    int batch = spec->data.batch_size; /* --batch is applied to the spec before its plan */
    Experiment x;
    if (experiment_build(&x, spec, be, batch, &data_shape, err)) return -1;

    int rc = -1, reps = o->warmup + o->steps;
    if (o->samples > 0 && !x.algo->sample) {
        err_set(err, "bench: algorithm '%s' draws no samples (pass --samples 0)", x.algo->loss.type);
        experiment_free(&x);
        return -1;
    }
    size_t example = (size_t)shape_numel(&data_shape);
    float *real = malloc((size_t)batch * example * sizeof *real);
    float *images = malloc(((size_t)o->samples + 1) * example * sizeof *images);
    int32_t *labels = calloc((size_t)batch, sizeof *labels); /* class 0: what a step costs does not depend on it */
    double *ms = malloc((size_t)reps * sizeof *ms), metrics[ALGO_MAX_METRICS];
    if (!real || !images || !labels || !ms) {
        err_set(err, "out of memory");
        goto done;
    }
    if (random_images(be, real, (size_t)batch * example, err)) goto done;

    double flops = 0;
    for (int i = 0; i < reps; i++) {
        double t0 = now_ms(), f0 = graph_flops_run();
        if (x.algo->step(x.state, real, labels, i, metrics, err)) goto done;
        be->synchronize();
        ms[i] = now_ms() - t0;
        flops = graph_flops_run() - f0;
    }
    double step_mean = 0;
    for (int i = o->warmup; i < reps; i++) step_mean += ms[i] / o->steps;
    print_times("train", be, o->threads, batch, flops * 1e-9, ms + o->warmup, o->steps);

    /* The trained networks in evaluation mode, as `runner sample` and the results' grids use them. */
    for (int i = 0; o->samples > 0 && i < reps; i++) {
        double t0 = now_ms(), f0 = graph_flops_run();
        if (x.algo->sample(x.state, o->samples, (uint64_t)i + 1, images, err)) goto done;
        be->synchronize();
        ms[i] = now_ms() - t0;
        flops = graph_flops_run() - f0;
    }
    if (o->samples > 0) print_times("sample", be, o->threads, o->samples, flops * 1e-9, ms + o->warmup, o->steps);
    rc = o->profile ? profile(&x, o->steps, step_mean, err) : 0;
done:
    free(real);
    free(images);
    free(labels);
    free(ms);
    experiment_free(&x);
    return rc;
}

int cmd_bench(int argc, char **argv, Error *err)
{
    BenchOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    Spec spec;
    if (spec_load(o.spec, NULL, 0, &spec, err)) return -1;
    /* The run the bench makes: warm-up and timed steps, each on its own batch. */
    RunPlan plan;
    spec.train.steps = o.warmup + o.steps;
    if (o.batch) spec.data.batch_size = o.batch;
    /* A diffusion model's sampler: one reverse step per call (the network once on the batch). */
    if (!strcmp(spec_loss_family(spec.loss.type), "diffusion")) spec.samples.steps = 1;
    int rc = run_plan_resolve(&spec, (int64_t)o.warmup + o.steps, &plan, err);
    if (rc == 0) rc = bench(&o, &spec, err);
    spec_free(&spec);
    return rc;
}
