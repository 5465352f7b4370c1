/* Safetensors files (checkpoints, imported weights).  A file that reads must describe every tensor
 * truthfully: its bytes inside the file, as many as its dtype and shape say, findable by name, and
 * convertible to floats. */
#include "runner/io/safetensors.h"
#include "tests/fuzz/harness.h"

#include <string.h>

#define MAX_CONVERTED (1 << 16) /* elements converted per tensor; the fuzzer's files are small */

static size_t dtype_size(StDtype d)
{
    switch (d) {
    case ST_F64:
    case ST_I64: return 8;
    case ST_F32:
    case ST_I32: return 4;
    case ST_F16:
    case ST_BF16: return 2;
    case ST_U8:
    case ST_BOOL: return 1;
    }
    FUZZ_CHECK(!"a known dtype");
    return 0;
}

static void check_tensor(const StFile *f, const StTensor *t)
{
    FUZZ_CHECK(t->data >= f->data && t->nbytes <= f->size && (size_t)(t->data - f->data) <= f->size - t->nbytes);
    FUZZ_CHECK(t->shape.ndim >= 0 && t->shape.ndim <= TENSOR_MAX_DIMS);
    size_t numel = 1;
    for (int d = 0; d < t->shape.ndim; d++) {
        FUZZ_CHECK(t->shape.dim[d] >= 0);
        FUZZ_CHECK(t->shape.dim[d] == 0 || numel <= SIZE_MAX / (size_t)t->shape.dim[d]);
        numel *= (size_t)t->shape.dim[d];
    }
    FUZZ_CHECK(numel <= SIZE_MAX / dtype_size(t->dtype) && numel * dtype_size(t->dtype) == t->nbytes);
    FUZZ_CHECK(st_find(f, t->name) != NULL);
    if (numel > MAX_CONVERTED) return;
    float *x = malloc((numel ? numel : 1) * sizeof *x);
    double *y = malloc((numel ? numel : 1) * sizeof *y);
    FUZZ_CHECK(x && y);
    Error err = {0};
    FUZZ_CHECK(st_to_f32(t, x, numel, &err) == 0);
    if (t->dtype == ST_F32 || t->dtype == ST_F64) FUZZ_CHECK(st_to_f64(t, y, numel, &err) == 0);
    free(x);
    free(y);
}

FUZZ_TARGET(safetensors)
{
    char path[1024];
    fuzz_write(path, sizeof path, "input.safetensors", data, size);
    StFile f;
    Error err = {0};
    if (st_read(path, &f, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    for (int i = 0; i < f.n; i++) check_tensor(&f, &f.tensors[i]);
    for (int i = 0; i < f.n_meta; i++) FUZZ_CHECK(st_meta(&f, f.meta_keys[i]) != NULL);
    st_free(&f);
    return 0;
}
