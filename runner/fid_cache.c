/* Reference statistics cache (see fid_cache.h). */
#include "runner/fid_cache.h"

#include "runner/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

void fid_cache_default_dir(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0])
        snprintf(buf, len, "%s/runner/fid", xdg);
    else
        snprintf(buf, len, "results/.cache/fid");
}

/* FNV-1a, 64 bits: names the file; the full key in the metadata decides a hit. */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

void fid_cache_path(const char *dir, const char *label, const char *key, char *buf, size_t len)
{
    char safe[128];
    size_t i = 0;
    for (; label[i] && i < sizeof safe - 1; i++) {
        char c = label[i];
        safe[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ? c : '_';
    }
    safe[i] = '\0';
    snprintf(buf, len, "%s/%s-%016llx.safetensors", dir, safe, (unsigned long long)key_hash(key));
}

static int mkdirs(const char *dir, Error *err)
{
    char path[FID_CACHE_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_set(err, "cannot create cache folder %s: %s", path, strerror(errno));
        *p = c;
        if (c == '\0') return 0;
    }
}

int fid_cache_load(const char *dir, const char *label, const char *key, GaussStats *out, bool *hit, Error *err)
{
    char path[FID_CACHE_PATH_MAX];
    fid_cache_path(dir, label, key, path, sizeof path);
    *hit = false;
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    StFile f;
    if (st_read(path, &f, err)) return err_prefix(err, "reading the statistics cache: ");
    const char *stored = st_meta(&f, "key");
    const StTensor *mu = st_find(&f, "mu"), *sigma = st_find(&f, "sigma");
    const char *n_text = st_meta(&f, "samples");
    int rc = 0;
    if (stored && !strcmp(stored, key) && mu && sigma && n_text && mu->shape.ndim == 1 && sigma->shape.ndim == 2 &&
        sigma->shape.dim[0] == mu->shape.dim[0] && sigma->shape.dim[1] == mu->shape.dim[0]) {
        int d = (int)mu->shape.dim[0];
        if (gauss_stats_alloc(out, d, err) || st_to_f64(mu, out->mu, (size_t)d, err) ||
            st_to_f64(sigma, out->sigma, (size_t)d * d, err)) {
            gauss_stats_free(out);
            rc = err_prefix(err, "%s: ", path);
        } else {
            out->n = strtoll(n_text, NULL, 10);
            *hit = true;
        }
    }
    st_free(&f);
    return rc;
}

int fid_cache_store(const char *dir, const char *label, const char *key, const GaussStats *s, Error *err)
{
    if (mkdirs(dir, err)) return -1;
    char path[FID_CACHE_PATH_MAX], n_text[32];
    fid_cache_path(dir, label, key, path, sizeof path);
    snprintf(n_text, sizeof n_text, "%lld", (long long)s->n);
    Shape sm = shape_of(1, (int64_t)s->d), ss = shape_of(2, (int64_t)s->d, (int64_t)s->d);
    StWriter *w = st_writer_new();
    if (!w) return err_set(err, "out of memory");
    int rc = st_writer_add_f64(w, "mu", &sm, s->mu, err) || st_writer_add_f64(w, "sigma", &ss, s->sigma, err) ||
             st_writer_meta(w, "key", key, err) || st_writer_meta(w, "samples", n_text, err) ||
             st_writer_meta(w, "format", "runner fid statistics", err) || st_writer_save(w, path, err)
                 ? -1
                 : 0;
    st_writer_free(w);
    return rc ? err_prefix(err, "writing the statistics cache %s: ", path) : 0;
}

void fid_cache_key(const FeatureNet *fn, const ImageSet *s, char *key, size_t len)
{
    char desc[512];
    features_describe(fn, desc, sizeof desc);
    uLong crc = crc32_z(crc32(0L, Z_NULL, 0), s->pixels, (size_t)s->n * s->c * s->h * s->w);
    snprintf(key, len, "%s | data=%s:%s n=%d shape=%dx%dx%d pixels_crc32=%08lx", desc, s->dataset, s->split, s->n,
             s->c, s->h, s->w, (unsigned long)crc);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Features (and logits) of the whole set, a chunk at a time so that progress can be shown. */
static int extract_all(FeatureNet *fn, const ImageSet *s, float *feats, float *logits, bool progress, Error *err)
{
    const int chunk = 256;
    size_t per = (size_t)s->c * s->h * s->w;
    double t0 = now_s();
    for (int i = 0; i < s->n; i += chunk) {
        int cnt = s->n - i < chunk ? s->n - i : chunk;
        if (features_extract(fn, s->pixels + (size_t)i * per, cnt, s->c, s->h, s->w,
                             feats + (size_t)i * fn->feature_dim, logits ? logits + (size_t)i * fn->logits_dim : NULL,
                             err))
            return -1;
        if (progress)
            fprintf(stderr, "\r%s: %d/%d images, %.1f images/s", s->label, i + cnt, s->n, (i + cnt) / (now_s() - t0));
    }
    if (progress) fprintf(stderr, "\n");
    return 0;
}

int fid_set_stats(FeatureNet *fn, const ImageSet *s, const char *cache_dir, bool want_features, bool want_logits,
                  bool progress, SetStats *out, Error *err)
{
    memset(out, 0, sizeof *out);
    char key[FID_CACHE_KEY_MAX], label[160];
    bool cached = cache_dir && s->kind == IMAGES_DATASET;
    fid_cache_key(fn, s, key, sizeof key);
    snprintf(label, sizeof label, "%s-%s-%d-%s", s->dataset, s->split, s->n, fn->cfg.metric);
    if (cached && !want_features && !want_logits) {
        if (fid_cache_load(cache_dir, label, key, &out->stats, &out->from_cache, err)) return -1;
        if (out->from_cache) return 0;
    }
    if (want_logits && !fn->logits_dim)
        return err_set(err, "error: feature network '%s' gives no logits", fn->cfg.metric);
    float *feats = malloc((size_t)s->n * fn->feature_dim * sizeof *feats);
    float *logits = want_logits ? malloc((size_t)s->n * fn->logits_dim * sizeof *logits) : NULL;
    int rc = -1;
    if (!feats || (want_logits && !logits))
        err_set(err, "out of memory for the features of %d images", s->n);
    else if (extract_all(fn, s, feats, logits, progress, err) == 0 &&
             gauss_stats_compute(feats, s->n, fn->feature_dim, &out->stats, err) == 0)
        rc = cached ? fid_cache_store(cache_dir, label, key, &out->stats, err) : 0;
    if (rc == 0 && want_features) out->features = feats, feats = NULL;
    if (rc == 0 && want_logits) out->logits = logits, logits = NULL;
    free(feats);
    free(logits);
    if (rc) set_stats_free(out);
    return rc;
}

void set_stats_free(SetStats *s)
{
    gauss_stats_free(&s->stats);
    free(s->features);
    free(s->logits);
    memset(s, 0, sizeof *s);
}
