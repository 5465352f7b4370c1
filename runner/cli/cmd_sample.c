/* `runner sample RESULTS_DIR [--count N] [--nrow N] [--seed N] [--out FILE.png] [--threads N]
 * [--sampler ddpm|ddim] [--steps N] [--eta X] [--batchnorm running|batch]`: rebuilds the networks of a run from its resolved
 * spec, loads its last checkpoint (a finished run's or a running one's: checkpoints are replaced
 * atomically; a run with `ema:` samples from its weight average) and draws a fresh grid, by
 * default into the run's own RESULTS_DIR/samples/sample_seed<N>.png (a name the run never writes,
 * written atomically, so a running run is not disturbed), and says where.
 * `--images DIR` writes one PNG per sample instead (000000.png, ...), as torchvision's save_image
 * writes a single image, for FID tools that compare folders; `--range LO,HI` is the value range
 * mapped to 0..255 (default: the run's data range; 0,1 is save_image on raw outputs, which
 * clamps everything below 0 to black).  The options that choose how a run samples stand for
 * `--set samples.<key>=...` on its spec, checked as the spec's own values are: a diffusion run's
 * sampler (--sampler, --steps, --eta), an adversarial run's batch norms (--batchnorm). */
#include "runner/cli/commands.h"
#include "runner/cli/cmd_args.h"
#include "runner/algo/train_loop.h"

#include "runner/io/png_image.h"
#include "runner/io/sample_grid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE command_usage("sample")

/* The options that set the run's samples.<key>, for the loss types whose samples: has the key. */
#define SAMPLER_OPTIONS 4
static const char *const sampler_keys[SAMPLER_OPTIONS] = {"sampler", "steps", "eta", "batchnorm"};

typedef struct SampleOptions {
    const char *dir, *out; /* out NULL: RESULTS_DIR/samples/sample_seed<N>.png */
    const char *images;    /* one PNG per sample into this new folder instead of a grid */
    const char *range;     /* "LO,HI" mapped to 0..255; NULL: the run's data range */
    float lo, hi;          /* the parsed --range */
    int count, nrow, threads;
    long long seed;
    const char *sampler[SAMPLER_OPTIONS]; /* NULL: the run's own */
} SampleOptions;

/* "LO,HI" with LO < HI. */
static int parse_range(const char *text, float *lo, float *hi, Error *err)
{
    char *end;
    double a = strtod(text, &end);
    if (end != text && *end == ',') {
        const char *second = end + 1;
        double b = strtod(second, &end);
        if (end != second && *end == '\0' && a < b) {
            *lo = (float)a, *hi = (float)b;
            return 0;
        }
    }
    return err_set(err, "--range expects LO,HI with LO < HI (such as 0,1 or -1,1), got '%s'", text);
}

static int parse_options(int argc, char **argv, SampleOptions *o, Error *err)
{
    *o = (SampleOptions){.count = 64, .nrow = 8, .seed = 1};
    const ArgOption options[] = {
        OPTION_TEXT("--out", &o->out),
        OPTION_TEXT("--images", &o->images),
        OPTION_TEXT("--range", &o->range),
        OPTION_INT("--count", &o->count, 1, 10000),
        OPTION_INT("--nrow", &o->nrow, 1, 1000),
        OPTION_INT("--threads", &o->threads, 1, 1024),
        OPTION_INT64("--seed", &o->seed, 0, 2147483647),
        OPTION_TEXT("--sampler", &o->sampler[0]),
        OPTION_TEXT("--steps", &o->sampler[1]),
        OPTION_TEXT("--eta", &o->sampler[2]),
        OPTION_TEXT("--batchnorm", &o->sampler[3]),
    };
    ArgPositionals dir = {.items = &o->dir, .min = 1, .max = 1, .what = "results folder"};
    if (cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &dir, USAGE, err)) return -1;
    if (o->images && o->out) return err_set(err, "--images and --out both name where samples go; give one");
    return o->range ? parse_range(o->range, &o->lo, &o->hi, err) : 0;
}

/* Draws o->count samples and writes each as DIR/NNNNNN.png, the way save_image writes one image:
 * no padding, gray repeated to RGB, values from lo..hi clamped to 0..255.  The files go to a
 * hidden folder beside DIR that is renamed to DIR at the end, so a failure leaves no partial set. */
static int write_images(const Experiment *x, const SampleOptions *o, float lo, float hi, Error *err)
{
    const Shape *s = &x->ctx.data_shape;
    size_t per = (size_t)shape_numel(s);
    char staging[4096];
    int len = snprintf(staging, sizeof staging, "%s.partial-%ld", o->images, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof staging - 16) return err_set(err, "--images path is too long");
    if (access(o->images, F_OK) == 0) return err_set(err, "%s already exists; --images writes a new folder", o->images);
    if (mkdir(staging, 0777) != 0) return err_set(err, "cannot create '%s': %s", staging, strerror(errno));
    float *images = malloc((size_t)o->count * per * sizeof *images);
    int rc = images ? 0 : err_set(err, "out of memory for %d samples", o->count);
    if (rc == 0) rc = x->algo->sample(x->state, o->count, (uint64_t)o->seed, images, err);
    GridStyle style = {.nrow = 1, .padding = 0, .lo = lo, .hi = hi};
    int written = 0;
    for (; rc == 0 && written < o->count; written++) {
        Image img = {0};
        char path[4200];
        snprintf(path, sizeof path, "%s/%06d.png", staging, written);
        rc = grid_render(images + (size_t)written * per, 1, (int)s->dim[0], (int)s->dim[1], (int)s->dim[2], &style,
                         &img, err);
        if (rc == 0) rc = png_write(path, &img, err);
        image_free(&img);
    }
    free(images);
    if (rc == 0 && rename(staging, o->images) != 0)
        rc = err_set(err, "cannot rename '%s' to '%s': %s", staging, o->images, strerror(errno));
    if (rc != 0) {
        for (int i = 0; i < written; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%06d.png", staging, i);
            unlink(path);
        }
        rmdir(staging);
    }
    return rc;
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

/* The run's spec, with the sampling options as overrides. */
static int load_spec(const SampleOptions *o, const char *path, Spec *spec, Error *err)
{
    char sets[SAMPLER_OPTIONS][160];
    const char *items[SAMPLER_OPTIONS];
    int n = 0;
    for (int i = 0; i < SAMPLER_OPTIONS; i++) {
        if (!o->sampler[i]) continue;
        snprintf(sets[n], sizeof sets[n], "samples.%s=%s", sampler_keys[i], o->sampler[i]);
        items[n] = sets[n];
        n++;
    }
    if (spec_load(path, NULL, 0, spec, err)) return -1;
    if (n == 0) return 0;
    char type[SPEC_WORD_MAX];
    snprintf(type, sizeof type, "%s", spec->loss.type);
    spec_free(spec);
    for (int i = 0; i < SAMPLER_OPTIONS; i++)
        if (o->sampler[i] && !spec_samples_key(type, sampler_keys[i]))
            return err_set(err, "--%s does not apply to %s: it trains a %s, whose samples have no '%s'",
                           sampler_keys[i], o->dir, type, sampler_keys[i]);
    if (spec_load(path, items, n, spec, err) == 0) return 0;
    /* Place the error at the option as the user wrote it, not at the override it stands for. */
    for (int i = 0, k = 0; i < SAMPLER_OPTIONS; i++) {
        if (!o->sampler[i]) continue;
        char set[200];
        snprintf(set, sizeof set, "--set %s", sets[k++]);
        if (strcmp(err->where, set) == 0) snprintf(err->where, sizeof err->where, "--%s %s", sampler_keys[i], o->sampler[i]);
    }
    return -1;
}

static int sample(const SampleOptions *o, Error *err)
{
    char spec_path[4096], ckpt_path[4096], out[4096];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", o->dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoints/last.safetensors", o->dir);
    if (o->out || o->images)
        snprintf(out, sizeof out, "%s", o->images ? o->images : o->out);
    else
        snprintf(out, sizeof out, "%s/samples/sample_seed%lld.png", o->dir, o->seed);
    Spec spec;
    if (load_spec(o, spec_path, &spec, err)) return -1;
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
    if (experiment_load_checkpoint(&x, &f, ckpt_path, err)) goto done;
    float lo = o->range ? o->lo : (float)spec.data.normalize[0], hi = o->range ? o->hi : (float)spec.data.normalize[1];
    if (o->images ? write_images(&x, o, lo, hi, err) : train_write_grid(&x, o->count, o->nrow, (uint64_t)o->seed, lo, hi, out, err))
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
