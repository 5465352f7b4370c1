/* Image sets for distances (see image_set.h). */
#include "runner/eval/image_set.h"

#include "runner/data/dataset.h"
#include "runner/algo/experiment.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define GENERATOR_DEFAULT_SAMPLES 10000

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int alloc_pixels(ImageSet *s, Error *err)
{
    size_t bytes = (size_t)s->n * s->c * s->h * s->w;
    s->pixels = malloc(bytes ? bytes : 1);
    return s->pixels ? 0 : err_set(err, "out of memory for %d images of %dx%dx%d", s->n, s->c, s->h, s->w);
}

static int count_check(const char *what, int have, int want, Error *err)
{
    if (want <= have) return 0;
    return err_set(err, "%s has %d images; --samples %d asks for more", what, have, want);
}

#define DATASET_FORM "DATASET:SPLIT[:FIRST-END][@ROOT], e.g. mnist:test:0-5000@data/mnist"

/* A whole decimal number in [0, INT_MAX] spanning text[0..len): no sign, space or other byte. */
static bool parse_count(const char *text, size_t len, int *out)
{
    if (len == 0 || len > 10) return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return false;
        v = v * 10 + (text[i] - '0');
    }
    if (v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

/* FIRST-END (images FIRST..END-1, 0 <= FIRST < END). */
static int parse_range(const char *what, const char *range, int *first, int *end, Error *err)
{
    const char *dash = strchr(range, '-');
    if (!dash || !parse_count(range, (size_t)(dash - range), first) || !parse_count(dash + 1, strlen(dash + 1), end))
        return err_set(err, "'%.200s': the range '%s' after the split must be FIRST-END, two whole numbers "
                            "below 2^31 (images FIRST..END-1); expected " DATASET_FORM, what, range);
    if (*end <= *first)
        return err_set(err, "'%.200s': the range %d-%d is empty; FIRST-END needs FIRST < END (images "
                            "FIRST..END-1); expected " DATASET_FORM, what, *first, *end);
    return 0;
}

/* Copies len bytes of text into a field of size cap, refusing what would not fit. */
static int copy_part(const char *what, const char *part_name, const char *text, size_t len, char *field, size_t cap,
                     Error *err)
{
    if (len == 0)
        return err_set(err, "'%.200s': the %s is empty; expected " DATASET_FORM, what, part_name);
    if (len >= cap)
        return err_set(err, "'%.200s': the %s is longer than %zu characters; expected " DATASET_FORM, what,
                       part_name, cap - 1);
    memcpy(field, text, len);
    field[len] = '\0';
    return 0;
}

/* A dataset side: DATASET:SPLIT[:FIRST-END][@ROOT], e.g. mnist:test:0-5000@../data/mnist (images
 * FIRST..END-1; ROOT: the folder of its files, default the dataset's own).  The first '@' starts
 * ROOT, so a root may hold ':' and '@'. */
static int parse_dataset(const char *what, SpecData *cfg, int *first, int *end, Error *err)
{
    *first = 0, *end = -1;
    const char *at = strchr(what, '@');
    size_t name_len = at ? (size_t)(at - what) : strlen(what);
    if (at && copy_part(what, "root after '@'", at + 1, strlen(at + 1), cfg->root, sizeof cfg->root, err)) return -1;
    const char *colon = memchr(what, ':', name_len);
    if (!colon)
        return err_set(err, "'%.200s': no ':SPLIT' after the dataset name; expected " DATASET_FORM, what);
    if (copy_part(what, "dataset name before ':'", what, (size_t)(colon - what), cfg->dataset, sizeof cfg->dataset,
                  err))
        return -1;
    const char *split = colon + 1, *stop = what + name_len;
    const char *range = memchr(split, ':', (size_t)(stop - split));
    if (copy_part(what, "split after ':'", split, (size_t)((range ? range : stop) - split), cfg->split,
                  sizeof cfg->split, err))
        return -1;
    if (strcmp(cfg->split, "train") != 0 && strcmp(cfg->split, "test") != 0)
        return err_set(err, "'%.200s': the split after ':' must be train or test; expected " DATASET_FORM, what);
    if (!range) return 0;
    char text[32];
    if (copy_part(what, "range after the split", range + 1, (size_t)(stop - range - 1), text, sizeof text, err))
        return -1;
    return parse_range(what, text, first, end, err);
}

static int open_dataset(ImageSet *s, const char *what, const ImageSetOptions *o, Error *err)
{
    SpecData cfg = {.normalize = {0, 1}};
    int first, end;
    if (parse_dataset(what, &cfg, &first, &end, err)) return -1;
    if (o->like) { /* the run's examples: its colours, size and padding (never its flips) */
        cfg.channels = o->like->channels, cfg.pad = o->like->pad;
        memcpy(cfg.resize, o->like->resize, sizeof cfg.resize);
        memcpy(cfg.fit, o->like->fit, sizeof cfg.fit);
    }
    Dataset ds;
    if (dataset_load(&cfg, &ds, err)) return err_prefix(err, "%s: ", what);
    int rc = 0;
    if (end > ds.n) rc = err_set(err, "'%s': %s %s has only %d images", what, cfg.dataset, cfg.split, ds.n);
    int have = (end < 0 ? ds.n : end) - first;
    if (rc == 0) rc = count_check(what, have, o->samples, err);
    if (rc == 0) {
        s->kind = IMAGES_DATASET;
        snprintf(s->dataset, sizeof s->dataset, "%s", cfg.dataset);
        /* The range is part of the split's name: cache entries of different ranges never meet. */
        char split[64];
        if (end < 0)
            snprintf(split, sizeof split, "%s", cfg.split);
        else
            snprintf(split, sizeof split, "%s:%d-%d", cfg.split, first, end);
        snprintf(s->split, sizeof s->split, "%.31s", split);
        /* Transformed examples get a cache file of their own. */
        DataTransform t = data_transform_of(&cfg);
        char shape[48] = "";
        if (t.channels || t.height || t.pad) snprintf(shape, sizeof shape, "-%dx%dx%d", ds.c, ds.h, ds.w);
        snprintf(s->label, sizeof s->label, "%s-%s%s", cfg.dataset, s->split, shape);
        s->n = o->samples ? o->samples : have;
        s->c = ds.c, s->h = ds.h, s->w = ds.w;
        rc = alloc_pixels(s, err);
    }
    size_t per = (size_t)s->c * s->h * s->w;
    if (rc == 0) memcpy(s->pixels, ds.pixels + (size_t)first * per, (size_t)s->n * per);
    dataset_free(&ds);
    return rc;
}

/* A folder of PNG files: the images decide the channels (gray only when every one is gray), and
 * must share one size. */
static int open_png_folder(ImageSet *s, const char *dir, const ImageSetOptions *o, Error *err)
{
    Dataset ds;
    DataTransform as_stored = {0};
    if (dataset_load_folder(dir, &as_stored, o->samples, &ds, err)) return -1;
    int rc = count_check(dir, ds.n, o->samples, err);
    if (rc == 0) {
        s->kind = IMAGES_PNG_FOLDER;
        snprintf(s->label, sizeof s->label, "%s", dir);
        s->n = ds.n, s->c = ds.c, s->h = ds.h, s->w = ds.w;
        s->pixels = ds.pixels; /* ownership moves to the set */
        ds.pixels = NULL;
    }
    dataset_free(&ds);
    return rc;
}

void image_set_quantise(ImageSet *s, const float *samples, float lo, float hi)
{
    /* save_image: the data range to [0, 1], then clamp(x * 255 + 0.5, 0, 255) truncated. */
    for (size_t i = 0; i < (size_t)s->n * s->c * s->h * s->w; i++) {
        float v = (samples[i] - lo) / (hi - lo) * 255.0f + 0.5f;
        s->pixels[i] = (uint8_t)(v > 255.0f ? 255.0f : v > 0.0f ? v : 0.0f);
    }
}

int image_set_alloc(ImageSet *s, ImageSetKind kind, const char *label, int n, int c, int h, int w, Error *err)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    snprintf(s->label, sizeof s->label, "%s", label);
    s->n = n, s->c = c, s->h = h, s->w = w;
    return alloc_pixels(s, err);
}

/* Generated images larger than this are refused (a checkpoint's metadata is outside input). */
#define IMAGE_MAX_PIXELS (1 << 26)

/* "C,H,W" with C 1 or 3 and H x W at most IMAGE_MAX_PIXELS. */
static bool parse_image_shape(const char *text, int *c, int *h, int *w)
{
    const char *comma1 = strchr(text, ','), *comma2 = comma1 ? strchr(comma1 + 1, ',') : NULL;
    return comma2 && parse_count(text, (size_t)(comma1 - text), c) &&
           parse_count(comma1 + 1, (size_t)(comma2 - comma1 - 1), h) && parse_count(comma2 + 1, strlen(comma2 + 1), w) &&
           (*c == 1 || *c == 3) && *h >= 1 && *w >= 1 && (int64_t)*h * *w <= IMAGE_MAX_PIXELS;
}

static int open_generator(ImageSet *s, const char *dir, const ImageSetOptions *o, Error *err)
{
    char spec_path[4096], ckpt_path[4096], note[384];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", dir);
    snprintf(ckpt_path, sizeof ckpt_path, "%s/checkpoints/last.safetensors", dir);
    Spec spec;
    if (spec_load(spec_path, NULL, 0, &spec, err)) return -1;
    StFile f = {0};
    Experiment x = {0};
    const Backend *be;
    float *samples = NULL;
    int rc = -1;
    if (st_read(ckpt_path, &f, err)) goto done;
    const char *shape_text = st_meta(&f, "data_shape");
    int c = 0, h = 0, w = 0;
    if (!shape_text || !parse_image_shape(shape_text, &c, &h, &w)) {
        err_set(err, "%s: metadata data_shape '%.100s' is not an image shape C,H,W with 1 or 3 channels "
                     "and at most %d pixels", ckpt_path, shape_text ? shape_text : "(none)", IMAGE_MAX_PIXELS);
        goto done;
    }
    Shape shape = shape_of(3, (int64_t)c, (int64_t)h, (int64_t)w);
    if (experiment_backend(o->backend ? o->backend : spec.backend, &be, note, sizeof note, err)) goto done;
    if (o->threads) be->set_threads(o->threads);
    if (experiment_build(&x, &spec, be, spec.data.batch_size, &shape, err)) goto done;
    if (experiment_load_checkpoint(&x, &f, ckpt_path, err)) goto done;
    s->kind = IMAGES_GENERATOR;
    snprintf(s->label, sizeof s->label, "%s", dir);
    s->n = o->samples ? o->samples : GENERATOR_DEFAULT_SAMPLES;
    s->c = c, s->h = h, s->w = w;
    size_t per = (size_t)c * h * w;
    samples = malloc((size_t)s->n * per * sizeof *samples);
    if (!samples) {
        err_set(err, "out of memory for %d samples", s->n);
        goto done;
    }
    if (x.algo->sample(x.state, s->n, o->seed, samples, err) || alloc_pixels(s, err)) goto done;
    image_set_quantise(s, samples, (float)spec.data.normalize[0], (float)spec.data.normalize[1]);
    rc = 0;
done:
    free(samples);
    experiment_free(&x);
    st_free(&f);
    spec_free(&spec);
    return rc ? err_prefix(err, "drawing samples from %s: ", dir) : 0;
}

int image_set_open(ImageSet *s, const char *what, const ImageSetOptions *o, Error *err)
{
    memset(s, 0, sizeof *s);
    int rc;
    char spec_path[4096];
    snprintf(spec_path, sizeof spec_path, "%s/spec.yaml", what);
    struct stat st;
    if (is_dir(what))
        rc = stat(spec_path, &st) == 0 ? open_generator(s, what, o, err) : open_png_folder(s, what, o, err);
    else if (strpbrk(what, ":@"))
        rc = open_dataset(s, what, o, err);
    else
        rc = err_set(err, "'%s' is neither a folder (results or PNG images) nor a dataset split such as "
                          "mnist:test", what);
    if (rc) {
        image_set_free(s);
        return -1;
    }
    return 0;
}

void image_set_free(ImageSet *s)
{
    free(s->pixels);
    memset(s, 0, sizeof *s);
}
