#include "runner/data/idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Largest array accepted: far above any IDX dataset, low enough to reject absurd headers before
 * allocating. */
#define IDX_MAX_BYTES ((size_t)1 << 32)
/* The data's first allocation, doubled as data arrives (MNIST's 47 MB take 10 doublings). */
#define IDX_FIRST_ALLOC ((size_t)64 << 10)

/* zlib's message for the stream's last error, without the "PATH: " it starts with. */
static const char *gz_reason(gzFile f, const char *path, int *zerr)
{
    const char *why = gzerror(f, zerr);
    size_t n = strlen(path);
    return strncmp(why, path, n) == 0 && why[n] == ':' && why[n + 1] == ' ' ? why + n + 2 : why;
}

/* 0 when n bytes were read; 1 when the data ends early; -1 (with a message) when the gzip stream is
 * corrupt, which zlib reports only once a read fails, so it must not be mistaken for an early end. */
static int read_exact(gzFile f, void *buf, size_t n, const char *path, Error *err)
{
    size_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0) {
            int zerr;
            const char *why = gz_reason(f, path, &zerr);
            if (zerr == Z_DATA_ERROR || zerr == Z_MEM_ERROR || zerr == Z_ERRNO)
                return err_set(err, "%s: corrupt gzip data (%s)", path, zerr == Z_ERRNO ? strerror(errno) : why);
            return 1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Reads the count data bytes the header promised into a buffer that doubles as data arrives, so a
 * header promising gigabytes in a short file never allocates them.  Returns as read_exact does. */
static int read_data(gzFile f, size_t count, uint8_t **data, const char *path, Error *err)
{
    size_t have = 0, cap = 0;
    *data = NULL;
    while (have < count) {
        size_t grow = cap ? 2 * cap : IDX_FIRST_ALLOC;
        cap = grow < count ? grow : count;
        uint8_t *more = realloc(*data, cap);
        if (!more) return err_set(err, "%s: out of memory for %zu bytes", path, cap);
        *data = more;
        int r = read_exact(f, *data + have, cap - have, path, err);
        if (r) return r;
        have = cap;
    }
    return 0;
}

/* What is wrong with a path that cannot be an IDX file before reading it (a folder, an empty
 * file), or 0. */
static int check_file(const char *path, Error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return err_set(err, "%s: is a directory, not an IDX file", path);
    if (S_ISREG(st.st_mode) && st.st_size == 0) return err_set(err, "%s: the file is empty, not an IDX file", path);
    return 0;
}

/* The magic number and the sizes; *count: the data bytes they promise. */
static int read_header(gzFile f, const char *path, int want_ndim, IdxArray *out, size_t *count, Error *err)
{
    unsigned char head[4];
    int r = read_exact(f, head, 4, path, err);
    if (r) return r > 0 ? err_set(err, "%s: not an IDX file: shorter than its 4-byte magic number", path) : -1;
    if (head[0] != 0 || head[1] != 0)
        return err_set(err, "%s: not an IDX file: magic number %02x%02x%02x%02x does not start with two zero bytes",
                       path, head[0], head[1], head[2], head[3]);
    if (head[2] != 0x08)
        return err_set(err, "%s: IDX element type 0x%02x is not supported (expected 0x08, unsigned bytes)", path,
                       head[2]);
    if (head[3] != want_ndim)
        return err_set(err, "%s: IDX file has %d dimensions, expected %d (%s)", path, head[3], want_ndim,
                       want_ndim == 1 ? "labels" : "images");
    out->ndim = head[3];
    *count = 1;
    for (int d = 0; d < out->ndim; d++) {
        unsigned char b[4];
        if ((r = read_exact(f, b, 4, path, err)))
            return r > 0 ? err_set(err, "%s: truncated IDX header (dimension %d missing)", path, d) : -1;
        out->dim[d] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (out->dim[d] == 0) return err_set(err, "%s: IDX dimension %d is zero", path, d);
        if (*count > IDX_MAX_BYTES / out->dim[d]) return err_set(err, "%s: IDX dimensions are implausibly large", path);
        *count *= out->dim[d];
    }
    return 0;
}

/* Opens path for reading, after check_file. */
static gzFile open_idx(const char *path, Error *err)
{
    if (check_file(path, err)) return NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) err_set(err, "%s: cannot open: %s", path, strerror(errno ? errno : ENOMEM));
    return f;
}

int idx_read_header(const char *path, int want_ndim, IdxArray *out, Error *err)
{
    memset(out, 0, sizeof *out);
    gzFile f = open_idx(path, err);
    if (!f) return -1;
    size_t count;
    int rc = read_header(f, path, want_ndim, out, &count, err);
    gzclose(f);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

int idx_read(const char *path, int want_ndim, IdxArray *out, Error *err)
{
    memset(out, 0, sizeof *out);
    gzFile f = open_idx(path, err);
    if (!f) return -1;
    int rc = -1, r;
    size_t count;
    if (read_header(f, path, want_ndim, out, &count, err)) goto done;
    if ((r = read_data(f, count, &out->data, path, err))) {
        if (r > 0)
            err_set(err, "%s: truncated: the header promises %zu data bytes but the file ends early", path, count);
        goto done;
    }
    unsigned char extra;
    if (gzread(f, &extra, 1) > 0) {
        err_set(err, "%s: %zu data bytes expected, but the file is longer", path, count);
        goto done;
    }
    int zerr;
    const char *why = gz_reason(f, path, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        err_set(err, "%s: corrupt gzip data (%s)", path, why);
        goto done;
    }
    out->count = count;
    rc = 0;
done:
    gzclose(f);
    if (rc) idx_free(out);
    return rc;
}

void idx_free(IdxArray *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
