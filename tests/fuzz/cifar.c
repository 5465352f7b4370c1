/* CIFAR-10's binary batches: the input is the test split's one file, test_batch.bin.  A split
 * that loads must hold whole records with labels 0..9. */
#include "runner/data/dataset.h"
#include "tests/fuzz/harness.h"

#include <string.h>

FUZZ_TARGET(cifar)
{
    char path[1024];
    fuzz_write(path, sizeof path, "test_batch.bin", data, size);
    Dataset ds;
    Error err = {0};
    if (dataset_load_cifar10(fuzz_dir(), "test", &ds, &err) == 0) {
        FUZZ_CHECK(ds.n > 0 && (size_t)ds.n * 3073 == size && ds.c == 3 && ds.h == 32 && ds.w == 32);
        for (int i = 0; i < ds.n; i++) FUZZ_CHECK(ds.labels[i] >= 0 && ds.labels[i] < 10);
        dataset_free(&ds);
    } else {
        FUZZ_CHECK(err.msg[0] && ds.pixels == NULL);
    }
    return 0;
}
