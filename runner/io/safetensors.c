/* Safetensors reading and writing.  Validation follows the reference implementation
 * (huggingface/safetensors): the header is a JSON object, every tensor's byte range matches
 * its dtype and shape, and the ranges tile the data section exactly, without gaps or
 * overlaps.  Data is little-endian, like the hosts we run on. */
#include "runner/io/safetensors.h"

#include "runner/io/atomic_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Headers above this are refused before allocating (the reference uses 100 MB). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
/* Elements of one tensor: times 8 bytes still far below 2^64, so byte counts cannot wrap. */
#define ST_MAX_ELEMENTS ((uint64_t)1 << 50)

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_U8] = {"U8", 1}, [ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static int dtype_parse(const char *s, StDtype *out)
{
    for (int i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (StDtype)i;
            return 0;
        }
    }
    return -1;
}

/* ---- reading ---- */

/* The whole file; a directory, an empty file or one that cannot be read is named as such. */
static int read_all(const char *path, unsigned char **data, size_t *size, Error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = -1;
    *data = NULL;
    if (fstat(fileno(f), &st) != 0)
        err_set(err, "%s: cannot read: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        err_set(err, "%s: is a directory, not a safetensors file", path);
    else if (!S_ISREG(st.st_mode))
        err_set(err, "%s: is not a regular file", path);
    else if (st.st_size == 0)
        err_set(err, "%s: is empty, not a safetensors file", path);
    else if (!(*data = malloc((size_t)st.st_size)))
        err_set(err, "%s: out of memory reading %lld bytes", path, (long long)st.st_size);
    else if (fread(*data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        err_set(err, "%s: cannot read: %s", path, ferror(f) ? strerror(errno) : "the file shrank while being read");
    else
        rc = 0;
    fclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
        return -1;
    }
    *size = (size_t)st.st_size;
    return 0;
}

/* A JSON number that is a non-negative integer below 2^53 (exact in a double). */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_tensor(const char *path, const cJSON *e, StTensor *t, uint64_t offs[2],
                        Error *err)
{
    const char *name = e->string;
    if (strlen(name) >= sizeof t->name)
        return err_set(err, "%s: tensor name '%.60s...' is longer than %zu characters", path, name,
                       sizeof t->name - 1);
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!cJSON_IsObject(e))
        return err_set(err, "%s: tensor '%s': expected an object with dtype, shape and "
                       "data_offsets", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || dtype_parse(dt->valuestring, &t->dtype))
        return err_set(err, "%s: tensor '%s': dtype must be one of F32, F64, I64, I32, F16, BF16, "
                       "U8, BOOL, got %s", path, name,
                       cJSON_IsString(dt) ? dt->valuestring : "(missing)");
    if (!cJSON_IsArray(sh))
        return err_set(err, "%s: tensor '%s': shape must be a list of sizes", path, name);
    int nd = cJSON_GetArraySize(sh);
    if (nd > TENSOR_MAX_DIMS)
        return err_set(err, "%s: tensor '%s': %d dimensions, at most %d are supported", path, name,
                       nd, TENSOR_MAX_DIMS);
    t->shape.ndim = nd;
    uint64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        uint64_t v;
        if (json_uint(cJSON_GetArrayItem(sh, d), &v) || v > ST_MAX_ELEMENTS)
            return err_set(err, "%s: tensor '%s': shape[%d] is not a valid size", path, name, d);
        t->shape.dim[d] = (int64_t)v;
        /* Checked before multiplying, in shape order, as the reference's checked_mul: a product
         * that would pass 2^50 is refused even when a later size is 0. */
        if (v && numel > ST_MAX_ELEMENTS / v)
            return err_set(err, "%s: tensor '%s': shape has more than 2^50 elements", path, name);
        numel *= v;
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
        json_uint(cJSON_GetArrayItem(of, 0), &offs[0]) ||
        json_uint(cJSON_GetArrayItem(of, 1), &offs[1]) || offs[1] < offs[0])
        return err_set(err, "%s: tensor '%s': data_offsets must be [begin, end] with "
                       "0 <= begin <= end", path, name);
    uint64_t want = numel * dtypes[t->dtype].size;
    if (offs[1] - offs[0] != want) {
        char buf[96];
        return err_set(err, "%s: tensor '%s': %s %s needs %llu bytes but data_offsets [%llu, "
                       "%llu] hold %llu", path, name, dtypes[t->dtype].name,
                       shape_format(&t->shape, buf, sizeof buf), (unsigned long long)want,
                       (unsigned long long)offs[0], (unsigned long long)offs[1],
                       (unsigned long long)(offs[1] - offs[0]));
    }
    t->nbytes = (size_t)want;
    return 0;
}

static int parse_meta(const char *path, const cJSON *m, StFile *f, Error *err)
{
    if (!cJSON_IsObject(m)) return err_set(err, "%s: __metadata__ must be an object", path);
    int n = cJSON_GetArraySize(m);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return err_set(err, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        if (!cJSON_IsString(e))
            return err_set(err, "%s: __metadata__ value of '%s' must be a string", path, e->string);
        char *k = strdup(e->string), *v = strdup(e->valuestring);
        if (!k || !v) {
            free(k);
            free(v);
            return err_set(err, "%s: out of memory", path);
        }
        f->meta_keys[f->n_meta] = k;
        f->meta_values[f->n_meta] = v;
        f->n_meta++;
    }
    return 0;
}

typedef struct Range {
    uint64_t begin, end;
    int index;
} Range;

static int range_cmp(const void *a, const void *b)
{
    const Range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The ranges must tile [0, data_size): sorted, each begins where the previous ended. */
static int check_ranges(const char *path, StFile *f, Range *r, uint64_t data_size, Error *err)
{
    qsort(r, (size_t)f->n, sizeof *r, range_cmp);
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        const char *name = f->tensors[r[i].index].name;
        if (r[i].begin < at)
            return err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'",
                           path, name, (unsigned long long)r[i].begin,
                           (unsigned long long)r[i].end, f->tensors[r[i - 1].index].name);
        if (r[i].begin > at)
            return err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] leave a gap after "
                           "byte %llu", path, name, (unsigned long long)r[i].begin,
                           (unsigned long long)r[i].end, (unsigned long long)at);
        at = r[i].end;
    }
    if (at > data_size)
        return err_set(err, "%s: truncated: the tensors need %llu bytes of data but only %llu "
                       "follow the header", path, (unsigned long long)at,
                       (unsigned long long)data_size);
    if (at < data_size)
        return err_set(err, "%s: %llu bytes of data follow the header but the tensors use only "
                       "%llu", path, (unsigned long long)data_size, (unsigned long long)at);
    return 0;
}

static int parse_header(const char *path, StFile *f, const char *json, size_t len, size_t data_at,
                        Error *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - json) : 0;
        return err_set(err, "%s: header is not valid JSON (near byte %zu of %zu)", path,
                       at < len ? at : len, len);
    }
    for (; end && end < json + len; end++) {
        if (*end != ' ' && *end != '\n' && *end != '\t' && *end != '\r' && *end != '\0') {
            cJSON_Delete(root);
            return err_set(err, "%s: header has extra bytes after its JSON object", path);
        }
    }
    int rc = -1;
    Range *ranges = NULL;
    if (!cJSON_IsObject(root)) {
        err_set(err, "%s: header must be a JSON object", path);
        goto done;
    }
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) n += strcmp(e->string, "__metadata__") != 0;
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    ranges = calloc((size_t)n + 1, sizeof *ranges);
    if (!f->tensors || !ranges) {
        err_set(err, "%s: out of memory for %d tensors", path, n);
        goto done;
    }
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (f->meta_keys) {
                err_set(err, "%s: __metadata__ appears twice", path);
                goto done;
            }
            if (parse_meta(path, e, f, err)) goto done;
            continue;
        }
        StTensor *t = &f->tensors[f->n];
        uint64_t offs[2] = {0, 0};
        if (parse_tensor(path, e, t, offs, err)) goto done;
        for (int k = 0; k < f->n; k++) {
            if (strcmp(f->tensors[k].name, t->name) == 0) {
                err_set(err, "%s: tensor '%s' appears twice in the header", path, t->name);
                goto done;
            }
        }
        ranges[f->n] = (Range){offs[0], offs[1], f->n};
        f->n++;
    }
    if (check_ranges(path, f, ranges, f->size - data_at, err)) goto done;
    for (int i = 0; i < f->n; i++) f->tensors[ranges[i].index].data = f->data + data_at + ranges[i].begin;
    rc = 0;
done:
    free(ranges);
    cJSON_Delete(root);
    return rc;
}

int st_read(const char *path, StFile *out, Error *err)
{
    memset(out, 0, sizeof *out);
    if (read_all(path, &out->data, &out->size, err)) return -1;
    if (out->size < 8) {
        err_set(err, "%s: %zu bytes is too short for a safetensors file (8-byte header length "
                "missing)", path, out->size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | out->data[i];
    if (hlen > ST_MAX_HEADER || hlen > out->size - 8) {
        err_set(err, "%s: header length %llu does not fit in the file's %zu bytes (truncated or "
                "not a safetensors file)", path, (unsigned long long)hlen, out->size);
        goto fail;
    }
    if (hlen < 2) {
        err_set(err, "%s: header length %llu is too short for a JSON object", path,
                (unsigned long long)hlen);
        goto fail;
    }
    if (parse_header(path, out, (const char *)out->data + 8, (size_t)hlen, 8 + (size_t)hlen, err))
        goto fail;
    return 0;
fail:
    st_free(out);
    return -1;
}

/* The n metadata pairs and their two arrays (a file's or a writer's). */
static void free_metadata(char **keys, char **values, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
}

void st_free(StFile *f)
{
    if (!f) return;
    free_metadata(f->meta_keys, f->meta_values, f->n_meta);
    free(f->tensors);
    free(f->data);
    memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int st_to_f32(const StTensor *t, float *dst, size_t n, Error *err)
{
    size_t count = t->nbytes / dtypes[t->dtype].size;
    if (count != n) {
        char buf[96];
        return err_set(err, "tensor '%s' %s has %zu elements, expected %zu", t->name,
                       shape_format(&t->shape, buf, sizeof buf), count, n);
    }
    const unsigned char *s = t->data;
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case ST_F32: memcpy(&dst[i], s + 4 * i, 4); break;
        case ST_F64: { double v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; break; }
        case ST_I64: { int64_t v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; break; }
        case ST_I32: { int32_t v; memcpy(&v, s + 4 * i, 4); dst[i] = (float)v; break; }
        case ST_F16: { uint16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = half_to_float(v); break; }
        case ST_BF16: {
            uint16_t v;
            memcpy(&v, s + 2 * i, 2);
            uint32_t bits = (uint32_t)v << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        }
        case ST_U8: dst[i] = (float)s[i]; break;
        case ST_BOOL: dst[i] = s[i] ? 1.0f : 0.0f; break;
        }
    }
    return 0;
}

int st_to_f64(const StTensor *t, double *dst, size_t n, Error *err)
{
    size_t count = t->nbytes / dtypes[t->dtype].size;
    if (t->dtype != ST_F64 && t->dtype != ST_F32)
        return err_set(err, "tensor '%s' is %s, expected F64 or F32", t->name, dtypes[t->dtype].name);
    if (count != n) {
        char buf[96];
        return err_set(err, "tensor '%s' %s has %zu elements, expected %zu", t->name,
                       shape_format(&t->shape, buf, sizeof buf), count, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == ST_F64) {
            memcpy(&dst[i], t->data + 8 * i, 8);
        } else {
            float v;
            memcpy(&v, t->data + 4 * i, 4);
            dst[i] = v;
        }
    }
    return 0;
}

/* ---- writing ---- */

typedef struct WTensor {
    char *name;
    StDtype dtype;
    Shape shape;
    void *data;
    size_t nbytes;
} WTensor;

struct StWriter {
    WTensor *t;
    int n, cap;
    char **meta_keys, **meta_values;
    int n_meta, meta_cap;
};

StWriter *st_writer_new(void) { return calloc(1, sizeof(StWriter)); }

void st_writer_free(StWriter *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free_metadata(w->meta_keys, w->meta_values, w->n_meta);
    free(w->t);
    free(w);
}

static int writer_add(StWriter *w, const char *name, StDtype dtype, const Shape *shape,
                      const void *data, Error *err)
{
    if (!name[0] || strlen(name) >= sizeof(((StTensor *)0)->name) ||
        strcmp(name, "__metadata__") == 0)
        return err_set(err, "safetensors: invalid tensor name '%.80s'", name);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return err_set(err, "safetensors: tensor '%s' added twice", name);
    if (shape->ndim < 0 || shape->ndim > TENSOR_MAX_DIMS)
        return err_set(err, "safetensors: tensor '%s' has %d dimensions", name, shape->ndim);
    for (int d = 0; d < shape->ndim; d++)
        if (shape->dim[d] < 0)
            return err_set(err, "safetensors: tensor '%s' has a negative size", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        WTensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) return err_set(err, "safetensors: out of memory");
        w->t = t;
        w->cap = cap;
    }
    size_t nbytes = (size_t)shape_numel(shape) * dtypes[dtype].size;
    WTensor *t = &w->t[w->n];
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return err_set(err, "safetensors: out of memory copying tensor '%s'", name);
    }
    if (nbytes) memcpy(t->data, data, nbytes);
    t->dtype = dtype;
    t->shape = *shape;
    t->nbytes = nbytes;
    w->n++;
    return 0;
}

int st_writer_add_f32(StWriter *w, const char *name, const Shape *shape, const float *data,
                      Error *err)
{
    return writer_add(w, name, ST_F32, shape, data, err);
}

int st_writer_add_f64(StWriter *w, const char *name, const Shape *shape, const double *data,
                      Error *err)
{
    return writer_add(w, name, ST_F64, shape, data, err);
}

int st_writer_add_i64(StWriter *w, const char *name, const Shape *shape, const int64_t *data,
                      Error *err)
{
    return writer_add(w, name, ST_I64, shape, data, err);
}

int st_writer_meta(StWriter *w, const char *key, const char *value, Error *err)
{
    for (int i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta_keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return err_set(err, "safetensors: out of memory");
            free(w->meta_values[i]);
            w->meta_values[i] = v;
            return 0;
        }
    }
    if (w->n_meta == w->meta_cap) {
        int cap = w->meta_cap ? 2 * w->meta_cap : 8;
        char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
        if (!k) return err_set(err, "safetensors: out of memory");
        w->meta_keys = k;
        char **v = realloc(w->meta_values, (size_t)cap * sizeof *v);
        if (!v) return err_set(err, "safetensors: out of memory");
        w->meta_values = v;
        w->meta_cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return err_set(err, "safetensors: out of memory");
    }
    w->meta_keys[w->n_meta] = k;
    w->meta_values[w->n_meta] = v;
    w->n_meta++;
    return 0;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes (as the reference writer does)
 * so the data that follows stays aligned. */
static char *build_header(const StWriter *w, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < w->n_meta; i++)
            if (!cJSON_AddStringToObject(m, w->meta_keys[i], w->meta_values[i])) m = NULL;
        if (!m) goto fail;
    }
    size_t at = 0;
    for (int i = 0; i < w->n; i++) {
        const WTensor *t = &w->t[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", dtypes[t->dtype].name)) goto fail;
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        if (!sh) goto fail;
        for (int d = 0; d < t->shape.ndim; d++)
            if (!cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape.dim[d]))) goto fail;
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        if (!of || !cJSON_AddItemToArray(of, cJSON_CreateNumber((double)at)) ||
            !cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(at + t->nbytes))))
            goto fail;
        at += t->nbytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return NULL;
    size_t n = strlen(json), padded = (n + 7) & ~(size_t)7;
    char *out = realloc(json, padded + 1);
    if (!out) {
        free(json);
        return NULL;
    }
    memset(out + n, ' ', padded - n);
    out[padded] = '\0';
    *len = padded;
    return out;
fail:
    cJSON_Delete(root);
    return NULL;
}

int st_writer_save(StWriter *w, const char *path, Error *err)
{
    size_t hlen = 0;
    char *header = build_header(w, &hlen);
    if (!header) return err_set(err, "%s: out of memory building the safetensors header", path);
    AtomicFile af;
    if (atomic_open(&af, path, err)) {
        free(header);
        return -1;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    fwrite(lenbuf, 1, 8, af.f);
    fwrite(header, 1, hlen, af.f);
    for (int i = 0; i < w->n; i++) fwrite(w->t[i].data, 1, w->t[i].nbytes, af.f);
    free(header);
    return atomic_commit(&af, err); /* checks ferror, so a failed fwrite surfaces here */
}
