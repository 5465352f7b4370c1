/* `runner fid A B [--features inception|RESULTS_DIR] [--weights FILE] [--samples N] [--kid] [--is] ...`:
 * the Frechet distance between the feature statistics of two image sets (runner/eval/image_set.h), as
 * pytorch-fid computes it with the FID Inception (runner/eval/features.h, runner/eval/frechet.h); dataset
 * sides come from the statistics cache when their inputs are unchanged (runner/eval/fid_cache.h);
 * beside a results folder they are transformed as that run's data (pad, resize, colours).
 * `runner fid --bench` times feature extraction and the Frechet distance instead. */
#include "runner/cli/commands.h"
#include "runner/cli/cmd_args.h"
#include "runner/algo/experiment.h"
#include "runner/eval/features.h"
#include "runner/eval/fid_cache.h"
#include "runner/eval/fid_run.h"
#include "runner/eval/frechet.h"
#include "runner/eval/image_set.h"
#include "runner/eval/kid_is.h"

#include <omp.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE command_usage("fid")

typedef struct FidOptions {
    const char *side[2];
    const char *features, *weights, *cache, *backend, *node;
    int samples, batch, threads, images;
    long long seed;
    bool kid, is, no_cache, bench;
} FidOptions;

static int parse_options(int argc, char **argv, FidOptions *o, Error *err)
{
    *o = (FidOptions){.features = "inception", .weights = "", .backend = "auto", .node = "features",
                      .batch = 16, .images = 64, .seed = 0};
    const ArgOption options[] = {
        OPTION_TEXT("--features", &o->features),
        OPTION_TEXT("--weights", &o->weights),
        OPTION_TEXT("--cache", &o->cache),
        OPTION_TEXT("--backend", &o->backend),
        OPTION_TEXT("--node", &o->node),
        OPTION_INT("--samples", &o->samples, 1, 100000000),
        OPTION_INT("--batch", &o->batch, 1, 100000000),
        OPTION_INT("--threads", &o->threads, 1, 1024),
        OPTION_INT("--images", &o->images, 1, 100000000),
        OPTION_INT64("--seed", &o->seed, 0, 2147483647),
        OPTION_FLAG("--kid", &o->kid),
        OPTION_FLAG("--is", &o->is),
        OPTION_FLAG("--no-cache", &o->no_cache),
        OPTION_FLAG("--bench", &o->bench),
    };
    ArgPositionals sides = {.items = o->side, .max = 2, .what = "image set"};
    if (cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &sides, USAGE, err)) return -1;
    if (!o->bench && sides.n != 2) return err_set(err, "fid needs two image sets\n%s", USAGE);
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int report(const FidOptions *o, const FeatureNet *fn, const ImageSet *sets, const SetStats *st, Error *err)
{
    double fd;
    if (frechet_distance(&st[0].stats, &st[1].stats, &fd, err)) return -1;
    printf("%s: %.6f\n", fn->cfg.metric, fd);
    const char *base = !strncmp(fn->cfg.metric, "fid_", 4) ? fn->cfg.metric + 4 : fn->cfg.metric;
    if (o->kid) {
        MeanStd k;
        if (kid_compute(st[0].features, sets[0].n, st[1].features, sets[1].n, fn->feature_dim,
                        KID_DEFAULT_SUBSETS, KID_DEFAULT_SUBSET_SIZE, METRICS_DEFAULT_SEED, &k, err))
            return -1;
        printf("kid_%s: %.8f\nkid_%s_std: %.8f\n", base, k.mean, base, k.std);
    }
    for (int i = 0; o->is && i < 2; i++) {
        MeanStd s;
        if (inception_score(st[i].logits, sets[i].n, fn->logits_dim, IS_DEFAULT_SPLITS, true,
                            METRICS_DEFAULT_SEED, &s, err))
            return err_prefix(err, "%s: ", sets[i].label);
        printf("is_%s_%c: %.6f\nis_%s_%c_std: %.6f\n", base, 'a' + i, s.mean, base, 'a' + i, s.std);
    }
    return 0;
}

/* The data section of the first side that is a results folder, so that a dataset side holds the
 * examples that run learnt from (padded, resized, ...), as its own FID reference does. */
static int results_data(const FidOptions *o, Spec *spec, bool *have, Error *err)
{
    *have = false;
    for (int i = 0; i < 2; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/spec.yaml", o->side[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (spec_load(path, NULL, 0, spec, err)) return -1;
        *have = true;
        return 0;
    }
    return 0;
}

static int fid(const FidOptions *o, Error *err)
{
    const Backend *be;
    char note[384], cache[FID_CACHE_PATH_MAX];
    FeatureConfig cfg;
    FeatureNet fn = {0};
    ImageSet sets[2];
    SetStats st[2];
    memset(sets, 0, sizeof sets);
    memset(st, 0, sizeof st);
    int rc = -1;
    if (experiment_backend(o->backend, &be, note, sizeof note, err) ||
        fid_feature_config(o->features, o->weights, o->node, o->is, o->batch, &cfg, err))
        return -1;
    if (o->threads) be->set_threads(o->threads);
    if (o->cache)
        snprintf(cache, sizeof cache, "%s", o->cache);
    else
        fid_cache_default_dir(cache, sizeof cache);
    /* The sets first: a wrong argument fails before the feature network is loaded. */
    Spec run;
    bool have_run = false;
    if (results_data(o, &run, &have_run, err)) goto done;
    ImageSetOptions io = {.samples = o->samples, .seed = (uint64_t)o->seed, .threads = o->threads,
                          .like = have_run ? &run.data : NULL};
    for (int i = 0; i < 2; i++)
        if (image_set_open(&sets[i], o->side[i], &io, err)) goto done;
    if (features_open(&fn, &cfg, be, err)) goto done;
    for (int i = 0; i < 2; i++) {
        if (fid_set_stats(&fn, &sets[i], o->no_cache ? NULL : cache, o->kid, o->is, true, &st[i], err)) goto done;
        fprintf(stderr, "%c: %s, %d images of %dx%dx%d%s\n", 'A' + i, sets[i].label, sets[i].n, sets[i].c, sets[i].h,
                sets[i].w, st[i].from_cache ? " (statistics from the cache)" : "");
    }
    if (sets[0].n != sets[1].n)
        fprintf(stderr, "note: %d and %d images: FID depends on the sample count, compare only equal counts\n",
                sets[0].n, sets[1].n);
    rc = report(o, &fn, sets, st, err);
done:
    for (int i = 0; i < 2; i++) {
        image_set_free(&sets[i]);
        set_stats_free(&st[i]);
    }
    features_close(&fn);
    if (have_run) spec_free(&run);
    return rc;
}

/* Images per second of Inception feature extraction (MNIST-sized gray images, resized as for FID)
 * and the time of the statistics and the Frechet distance of 2048-d features. */
static int bench(const FidOptions *o, Error *err)
{
    const Backend *be;
    char note[384];
    FeatureConfig cfg;
    FeatureNet fn = {0};
    if (experiment_backend(o->backend, &be, note, sizeof note, err)) return -1;
    if (o->threads) be->set_threads(o->threads);
    features_inception_config(&cfg, o->weights, false);
    cfg.batch = o->batch;
    FILE *probe = fopen(cfg.weights, "rb");
    cfg.initial_weights = probe == NULL; /* the time does not depend on the values */
    if (probe) fclose(probe);
    if (features_open(&fn, &cfg, be, err)) return -1;
    int n = o->images, d = fn.feature_dim;
    uint8_t *images = malloc((size_t)n * 28 * 28);
    int64_t big = 10000;
    float *feats = malloc((size_t)big * d * sizeof *feats);
    GaussStats a = {0}, b = {0};
    int rc = -1;
    if (!images || !feats) {
        err_set(err, "out of memory");
        goto done;
    }
    uint64_t state = 1;
    for (size_t i = 0; i < (size_t)n * 28 * 28; i++) images[i] = (uint8_t)((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 56);
    /* One batch first: the first run pays for page faults and BLAS start-up. */
    if (features_extract(&fn, images, o->batch < n ? o->batch : n, 1, 28, 28, feats, NULL, err)) goto done;
    double t0 = now_s();
    if (features_extract(&fn, images, n, 1, 28, 28, feats, NULL, err)) goto done;
    double t_feat = now_s() - t0;
    for (size_t i = 0; i < (size_t)big * d; i++)
        feats[i] = (float)((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 40) / 16777216.0f;
    t0 = now_s();
    if (gauss_stats_compute(feats, big, d, &a, err)) goto done;
    double t_stats = now_s() - t0;
    if (gauss_stats_compute(feats, big / 2, d, &b, err)) goto done;
    double fd;
    t0 = now_s();
    if (frechet_distance(&a, &b, &fd, err)) goto done;
    double t_fd = now_s() - t0;
    int threads = o->threads ? o->threads : omp_get_max_threads();
    printf("fid_bench: %s, %d threads, weights: %s\n", note, threads, cfg.initial_weights ? "initial values (file absent)" : cfg.weights);
    printf("inception_images_per_s: %.2f (%d images 28x28 gray -> 299x299, batch %d)\n", n / t_feat, n, o->batch);
    printf("stats_10000x%d_ms: %.1f\n", d, 1e3 * t_stats);
    printf("frechet_%dd_ms: %.1f\n", d, 1e3 * t_fd);
    rc = 0;
done:
    free(images);
    free(feats);
    gauss_stats_free(&a);
    gauss_stats_free(&b);
    features_close(&fn);
    return rc;
}

int cmd_fid(int argc, char **argv, Error *err)
{
    FidOptions o;
    if (parse_options(argc, argv, &o, err)) return -1;
    return o.bench ? bench(&o, err) : fid(&o, err);
}
