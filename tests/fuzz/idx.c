/* IDX files, raw and gzip'd: the input is read as it is (raw, or gzip when it starts like one)
 * and once more gzip-compressed by the harness, so every header the fuzzer makes up also reaches
 * the reader through zlib.  A file that reads must hold exactly the bytes its header promises. */
#include "runner/data/dataset.h"
#include "runner/data/idx.h"
#include "tests/fuzz/harness.h"

#include <string.h>
#include <zlib.h>

static void check_array(const IdxArray *a, int ndim)
{
    size_t count = 1;
    FUZZ_CHECK(a->ndim == ndim);
    for (int d = 0; d < ndim; d++) count *= a->dim[d];
    FUZZ_CHECK(a->count == count && a->data);
    size_t sum = 0; /* reads every byte: ASan sees an array shorter than promised */
    for (size_t i = 0; i < count; i++) sum += a->data[i];
    FUZZ_CHECK(sum <= 255 * count);
}

static void read_both_ranks(const char *path)
{
    IdxArray a;
    Error err = {0};
    for (int ndim = 1; ndim <= 3; ndim += 2) {
        if (idx_read(path, ndim, &a, &err) == 0) {
            check_array(&a, ndim);
            idx_free(&a);
        } else {
            FUZZ_CHECK(err.msg[0] && a.data == NULL);
        }
    }
    Dataset ds;
    if (dataset_load_idx(path, NULL, &ds, &err) == 0) {
        FUZZ_CHECK(ds.n > 0 && ds.c == 1 && ds.pixels && !ds.labels);
        dataset_free(&ds);
    }
}

FUZZ_TARGET(idx)
{
    char path[1024];
    fuzz_write(path, sizeof path, "input.idx", data, size);
    read_both_ranks(path);

    fuzz_path(path, sizeof path, "input.idx.gz");
    gzFile gz = gzopen(path, "wb1");
    FUZZ_CHECK(gz);
    FUZZ_CHECK(size == 0 || gzwrite(gz, data, (unsigned)size) == (int)size);
    FUZZ_CHECK(gzclose(gz) == Z_OK);
    read_both_ranks(path);
    return 0;
}
