/* Reference statistics cache (see fid_cache.h). */
#include "runner/eval/fid_cache.h"

#include "runner/io/safetensors.h"

#include <errno.h>
#include <limits.h>
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

int fid_cache_path(const char *dir, const char *label, const char *key, char *buf, size_t len, Error *err)
{
    char safe[128];
    size_t i = 0;
    for (; label[i] && i < sizeof safe - 1; i++) {
        char c = label[i];
        safe[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ? c : '_';
    }
    safe[i] = '\0';
    if (!dir[0]) return err_set(err, "the statistics cache folder name is empty");
    int n = snprintf(buf, len, "%s/%s-%016llx.safetensors", dir, safe, (unsigned long long)key_hash(key));
    if (n < 0 || (size_t)n >= len)
        return err_set(err, "the statistics cache folder name %.80s... is too long", dir);
    return 0;
}

static int mkdirs(const char *dir, Error *err)
{
    char path[FID_CACHE_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir); /* fits: fid_cache_path checked the longer entry path */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_set(err, "cannot create the statistics cache folder %s: %s", path, strerror(errno));
        *p = c;
        if (c == '\0') return 0;
    }
}

/* CRC32 of everything an entry states: the key, the sample count and the bytes of mu and sigma. */
static unsigned long payload_crc(const char *key, const char *samples, const StTensor *mu, const StTensor *sigma)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, (const Bytef *)key, strlen(key) + 1);
    crc = crc32_z(crc, (const Bytef *)samples, strlen(samples) + 1);
    crc = crc32_z(crc, mu->data, mu->nbytes);
    return crc32_z(crc, sigma->data, sigma->nbytes);
}

/* The statistics of a read entry, or why they cannot be used. */
static int entry_stats(const StFile *f, const char *path, const char *key, GaussStats *out, Error *err)
{
    const char *version = st_meta(f, "version"), *stored = st_meta(f, "key"), *n_text = st_meta(f, "samples");
    const char *checksum = st_meta(f, "checksum");
    const StTensor *mu = st_find(f, "mu"), *sigma = st_find(f, "sigma");
    if (!version || strcmp(version, FID_CACHE_VERSION) != 0)
        return err_set(err, "%s was written by another version of the runner (cache format %s, this one uses %s)",
                       path, version ? version : "1", FID_CACHE_VERSION);
    if (!stored || !n_text || !checksum || !mu || !sigma || mu->dtype != ST_F64 || sigma->dtype != ST_F64)
        return err_set(err, "%s lacks parts of a statistics entry (key, samples, checksum, mu and sigma in F64)", path);
    char want[32];
    snprintf(want, sizeof want, "crc32:%08lx", payload_crc(stored, n_text, mu, sigma));
    if (strcmp(checksum, want) != 0)
        return err_set(err, "%s is damaged: its checksum is %s but its contents give %s", path, checksum, want);
    if (strcmp(stored, key) != 0) return err_set(err, "%s holds the statistics of another key", path);
    char *end;
    errno = 0;
    long long n = strtoll(n_text, &end, 10);
    int64_t d = mu->shape.ndim == 1 ? mu->shape.dim[0] : -1;
    if (errno || end == n_text || *end || n < 2 || d < 1 || d > INT_MAX || sigma->shape.ndim != 2 ||
        sigma->shape.dim[0] != d || sigma->shape.dim[1] != d)
        return err_set(err, "%s: samples '%s', mu and sigma do not form statistics of d features", path, n_text);
    if (gauss_stats_alloc(out, (int)d, err) || st_to_f64(mu, out->mu, (size_t)d, err) ||
        st_to_f64(sigma, out->sigma, (size_t)d * (size_t)d, err)) {
        gauss_stats_free(out);
        return err_prefix(err, "%s: ", path);
    }
    out->n = n;
    return 0;
}

FidCacheLookup fid_cache_load(const char *dir, const char *label, const char *key, GaussStats *out, Error *err)
{
    char path[FID_CACHE_PATH_MAX];
    if (fid_cache_path(dir, label, key, path, sizeof path, err)) return FID_CACHE_BAD;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return FID_CACHE_MISS;
    StFile f;
    if (st_read(path, &f, err)) return FID_CACHE_BAD;
    int rc = entry_stats(&f, path, key, out, err);
    st_free(&f);
    return rc ? FID_CACHE_BAD : FID_CACHE_HIT;
}

int fid_cache_store(const char *dir, const char *label, const char *key, const GaussStats *s, Error *err)
{
    char path[FID_CACHE_PATH_MAX], n_text[32];
    if (fid_cache_path(dir, label, key, path, sizeof path, err) || mkdirs(dir, err)) return -1;
    snprintf(n_text, sizeof n_text, "%lld", (long long)s->n);
    Shape sm = shape_of(1, (int64_t)s->d), ss = shape_of(2, (int64_t)s->d, (int64_t)s->d);
    StTensor mu = {.data = (const unsigned char *)s->mu, .nbytes = (size_t)s->d * sizeof *s->mu};
    StTensor sigma = {.data = (const unsigned char *)s->sigma, .nbytes = (size_t)s->d * s->d * sizeof *s->sigma};
    char checksum[32];
    snprintf(checksum, sizeof checksum, "crc32:%08lx", payload_crc(key, n_text, &mu, &sigma));
    StWriter *w = st_writer_new();
    if (!w) return err_set(err, "out of memory");
    int rc = st_writer_add_f64(w, "mu", &sm, s->mu, err) || st_writer_add_f64(w, "sigma", &ss, s->sigma, err) ||
             st_writer_meta(w, "key", key, err) || st_writer_meta(w, "samples", n_text, err) ||
             st_writer_meta(w, "format", "runner fid statistics", err) ||
             st_writer_meta(w, "version", FID_CACHE_VERSION, err) || st_writer_meta(w, "checksum", checksum, err) ||
             st_writer_save(w, path, err) /* a temporary file renamed into place */
                 ? -1
                 : 0;
    st_writer_free(w);
    return rc ? err_prefix(err, "writing the statistics cache: ") : 0;
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
        /* The cache only saves time: any problem with it is a warning, and the entry is rewritten. */
        Error why = {0};
        FidCacheLookup found = fid_cache_load(cache_dir, label, key, &out->stats, &why);
        if (found == FID_CACHE_HIT) {
            out->from_cache = true;
            return 0;
        }
        if (found == FID_CACHE_BAD) err_warn(&why, "computing the statistics again");
    }
    if (want_logits && !fn->logits_dim)
        return err_set(err, "feature network '%s' gives no logits", fn->cfg.metric);
    float *feats = malloc((size_t)s->n * fn->feature_dim * sizeof *feats);
    float *logits = want_logits ? malloc((size_t)s->n * fn->logits_dim * sizeof *logits) : NULL;
    int rc = -1;
    if (!feats || (want_logits && !logits))
        err_set(err, "out of memory for the features of %d images", s->n);
    else if (extract_all(fn, s, feats, logits, progress, err) == 0 &&
             gauss_stats_compute(feats, s->n, fn->feature_dim, &out->stats, err) == 0)
        rc = 0;
    Error why = {0};
    if (rc == 0 && cached && fid_cache_store(cache_dir, label, key, &out->stats, &why))
        err_warn(&why, "the statistics are used but not cached");
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
