/* Safetensors files: an 8-byte little-endian header length, a JSON header (cJSON) naming each
 * tensor's dtype, shape and byte range, then the raw little-endian data.  Used for checkpoints,
 * imported PyTorch weights and the parity fixtures. */
#ifndef RUNNER_SAFETENSORS_H
#define RUNNER_SAFETENSORS_H

#include "graph/error.h"
#include "graph/tensor.h"

#include <stddef.h>

typedef enum StDtype { ST_F32, ST_F64, ST_I64, ST_I32, ST_F16, ST_BF16, ST_U8, ST_BOOL } StDtype;

typedef struct StTensor {
    char name[192];
    StDtype dtype;
    Shape shape;
    const unsigned char *data; /* inside StFile.data */
    size_t nbytes;
} StTensor;

typedef struct StFile {
    StTensor *tensors;
    int n;
    unsigned char *data; /* the whole file */
    size_t size;
    char **meta_keys, **meta_values; /* __metadata__ */
    int n_meta;
} StFile;

/* Reads and validates a whole file (offsets in range and contiguous, shapes matching byte counts);
 * the message names the path and what is wrong. */
int st_read(const char *path, StFile *out, Error *err);
void st_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);
/* Converts a tensor (F32, F64, F16, BF16, I64, I32, U8, BOOL) into n floats; fails when the element
 * count differs from n. */
int st_to_f32(const StTensor *t, float *dst, size_t n, Error *err);
/* The same into doubles without rounding (F64 or F32 tensors only). */
int st_to_f64(const StTensor *t, double *dst, size_t n, Error *err);

/* Writing: collect tensors (data copied), then write to a temporary file and rename. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void);
int st_writer_add_f32(StWriter *w, const char *name, const Shape *shape, const float *data, Error *err);
int st_writer_add_f64(StWriter *w, const char *name, const Shape *shape, const double *data, Error *err);
int st_writer_add_i64(StWriter *w, const char *name, const Shape *shape, const int64_t *data, Error *err);
int st_writer_meta(StWriter *w, const char *key, const char *value, Error *err);
int st_writer_save(StWriter *w, const char *path, Error *err);
void st_writer_free(StWriter *w);

#endif
