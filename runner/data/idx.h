/* IDX files (MNIST, Fashion-MNIST, KMNIST): big-endian magic (0, 0, type, ndim), ndim big-endian
 * uint32 sizes, then the data.  gzip'd and raw files are both read (zlib detects which). */
#ifndef RUNNER_IDX_H
#define RUNNER_IDX_H

#include "graph/error.h"

#include <stddef.h>
#include <stdint.h>

#define IDX_MAX_DIMS 4

typedef struct IdxArray {
    int ndim;
    uint32_t dim[IDX_MAX_DIMS];
    uint8_t *data; /* unsigned bytes (type 0x08), dim[0] * ... * dim[ndim-1] of them */
    size_t count;
} IdxArray;

/* Reads an unsigned-byte IDX file with `want_ndim` dimensions; the message names the path and what
 * is wrong (missing, a directory, empty, bad magic, wrong type or rank, truncated, trailing bytes,
 * corrupt gzip data).  Memory grows with the data read, never with what a header claims alone. */
int idx_read(const char *path, int want_ndim, IdxArray *out, Error *err);
/* The header alone (ndim and dim; no data), with idx_read's messages for what it covers. */
int idx_read_header(const char *path, int want_ndim, IdxArray *out, Error *err);
void idx_free(IdxArray *a);

#endif
