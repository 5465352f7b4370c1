/* `runner sample RESULTS_DIR [--count N] [--nrow N] [--seed N] [--out FILE.png] [--threads N]`:
 * rebuilds the networks of a run from its resolved spec, loads its last checkpoint (a finished
 * run's or a running one's: checkpoints are replaced atomically) and draws a fresh grid, by
 * default into the run's own RESULTS_DIR/samples/sample_seed<N>.png (a name the run never writes,
 * written atomically, so a running run is not disturbed), and says where. */
#include "runner/cli/commands.h"
#include "runner/cli/cmd_args.h"
#include "runner/io/checkpoint.h"
#include "runner/algo/train_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: runner sample RESULTS_DIR [--count 64] [--nrow 8] [--seed 1] [--out FILE.png] [--threads N]"

typedef struct SampleOptions {
    const char *dir, *out; /* out NULL: RESULTS_DIR/samples/sample_seed<N>.png */
    int count, nrow, threads;
    long long seed;
} SampleOptions;

static int parse_options(int argc, char **argv, SampleOptions *o, Error *err)
{
    *o = (SampleOptions){.count = 64, .nrow = 8, .seed = 1};
    const ArgOption options[] = {
        OPTION_TEXT("--out", &o->out),
        OPTION_INT("--count", &o->count, 1, 10000),
        OPTION_INT("--nrow", &o->nrow, 1, 1000),
        OPTION_INT("--threads", &o->threads, 1, 1024),
        OPTION_INT64("--seed", &o->seed, 0, 2147483647),
    };
    ArgPositionals dir = {.items = &o->dir, .min = 1, .max = 1, .what = "results folder"};
    return cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &dir, USAGE, err);
}

/* The example shape the run trained on, as its checkpoint records it ("1,28,28"). */
static int data_shape_of(const StFile *f, const char *path, Shape *s, Error *err)
{
    const char *v = st_meta(f, "data_shape");
    if (!v) return err_set(err, "%s has no 'data_shape' metadata: not a checkpoint written by `runner run`", path);
    memset(s, 0, sizeof *s);
    for (const char *p = v;;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p || d < 1 || s->ndim == TENSOR_MAX_DIMS) break;
        s->dim[s->ndim++] = d;
        if (*end == '\0') return 0;
        if (*end != ',') break;
        p = end + 1;
    }
    return err_set(err, "%s: metadata data_shape '%s' is not a list of positive sizes", path, v);
}

static int sample(const SampleOptions *o, Error *err)
{
    char spec_path[4096], ckpt_path[4096], out[4096];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", o->dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoints/last.safetensors", o->dir);
    if (o->out)
        snprintf(out, sizeof out, "%s", o->out);
    else
        snprintf(out, sizeof out, "%s/samples/sample_seed%lld.png", o->dir, o->seed);
    Spec spec;
    if (spec_load(spec_path, NULL, 0, &spec, err)) return -1;
    StFile f = {0};
    Experiment x = {0};
    Shape shape;
    const Backend *be;
    char note[384];
    int rc = -1;
    if (st_read(ckpt_path, &f, err) || data_shape_of(&f, ckpt_path, &shape, err)) goto done;
    if (experiment_backend(spec.backend, &be, note, sizeof note, err)) goto done;
    if (o->threads) be->set_threads(o->threads);
    if (experiment_build(&x, &spec, be, spec.data.batch_size, &shape, err)) goto done;
    if (!x.algo->sample) {
        err_set(err, "%s trains a %s, which generates no samples", o->dir, x.algo->loss.type);
        goto done;
    }
    Optimizer *opts[SPEC_MAX_MODELS];
    int n_opts = experiment_optimizers(&x, opts);
    if (checkpoint_load_file(&f, ckpt_path, x.nets, x.n_nets, opts, n_opts, true, err)) goto done;
    if (train_write_grid(&x, o->count, o->nrow, (uint64_t)o->seed, (float)spec.data.normalize[0],
                         (float)spec.data.normalize[1], out, err))
        goto done;
    const char *step = st_meta(&f, "step");
    fprintf(stderr, "%s: %d samples of step %s (%s) written to %s\n", spec.name, o->count, step ? step : "?", note, out);
    rc = 0;
done:
    experiment_free(&x);
    st_free(&f);
    spec_free(&spec);
    return rc;
}

int cmd_sample(int argc, char **argv, Error *err)
{
    SampleOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    return sample(&o, err);
}
