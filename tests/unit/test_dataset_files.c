/* Dataset paths that are not dataset files: for IDX a folder, an empty file, an unreadable or
 * missing file, and a header promising gigabytes in a few bytes (raw and gzip'd); for CIFAR-10 a
 * folder or an empty file where a batch should be.  Each gives a message saying so, through the
 * readers and through a spec's `data:` section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "runner/data/dataset.h"
#include "runner/data/idx.h"
#include "tests/unit/testutil.h"

static void write_file(const char *path, const void *data, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_true(n == 0 || gzwrite(f, data, (unsigned)n) == (int)n);
        assert_int_equal(gzclose(f), Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* idx_read(path) fails with exactly "<path>: <why>" and leaves nothing allocated. */
static void expect_idx_error(const char *path, int ndim, const char *why)
{
    IdxArray a;
    Error err = {0};
    char want[1024];
    snprintf(want, sizeof want, "%s: %s", path, why);
    assert_int_equal(idx_read(path, ndim, &a, &err), -1);
    assert_string_equal(err.msg, want);
    assert_null(a.data);
}

static void test_directory(void **state)
{
    (void)state;
    expect_idx_error(tu_tmpdir, 3, "is a directory, not an IDX file");
    /* the same through a spec's data section */
    SpecData cfg = {.dataset = "idx", .normalize = {-1, 1}};
    snprintf(cfg.images, sizeof cfg.images, "%s", tu_tmpdir);
    Dataset ds;
    Error err = {0};
    char want[1024];
    snprintf(want, sizeof want, "%s: is a directory, not an IDX file", tu_tmpdir);
    assert_int_equal(dataset_load(&cfg, &ds, &err), -1);
    assert_string_equal(err.msg, want);
}

static void test_empty_file(void **state)
{
    (void)state;
    char path[512];
    tu_join(path, sizeof path, tu_tmpdir, "empty-idx3-ubyte");
    write_file(path, "", 0, false);
    expect_idx_error(path, 3, "the file is empty, not an IDX file");
    /* a gzip stream of nothing is a file, but no IDX file either */
    tu_join(path, sizeof path, tu_tmpdir, "empty-idx3-ubyte.gz");
    write_file(path, "", 0, true);
    expect_idx_error(path, 3, "not an IDX file: shorter than its 4-byte magic number");
}

static void test_missing_and_unreadable(void **state)
{
    (void)state;
    char path[512];
    tu_join(path, sizeof path, tu_tmpdir, "absent");
    expect_idx_error(path, 1, "cannot open: No such file or directory");
    if (geteuid() == 0) return; /* root reads files whatever their mode */
    tu_join(path, sizeof path, tu_tmpdir, "locked");
    write_file(path, "\0\0\x08\x01", 4, false);
    assert_int_equal(chmod(path, 0), 0);
    expect_idx_error(path, 1, "cannot open: Permission denied");
}

/* 65536 x 256 x 256 bytes (4 GiB, the largest accepted) promised by a 16-byte header: reported as
 * truncated once the data runs out, with memory that grew with the data actually read. */
static void test_header_promising_gigabytes(void **state)
{
    (void)state;
    const uint8_t head[16] = {0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0};
    char path[512];
    for (int gz = 0; gz < 2; gz++) {
        tu_join(path, sizeof path, tu_tmpdir, gz ? "huge.gz" : "huge");
        write_file(path, head, sizeof head, gz);
        expect_idx_error(path, 3, "truncated: the header promises 4294967296 data bytes but the file ends early");
    }
    /* one byte more in a dimension is refused before reading anything */
    const uint8_t over[16] = {0, 0, 8, 3, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0};
    tu_join(path, sizeof path, tu_tmpdir, "over");
    write_file(path, over, sizeof over, false);
    expect_idx_error(path, 3, "IDX dimensions are implausibly large");
}

/* An IDX image file of 2 images of 20000 x 1 pixels: each side of an image is 1 to 16384. */
static void test_image_sides(void **state)
{
    (void)state;
    const uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0x4e, 0x20, 0, 0, 0, 1};
    size_t n = sizeof head + 2 * 20000;
    uint8_t *bytes = calloc(n, 1);
    assert_non_null(bytes);
    memcpy(bytes, head, sizeof head);
    char path[512], want[1024];
    tu_join(path, sizeof path, tu_tmpdir, "tall");
    write_file(path, bytes, n, false);
    free(bytes);
    SpecData cfg = {.dataset = "idx", .normalize = {-1, 1}};
    snprintf(cfg.images, sizeof cfg.images, "%s", path);
    Dataset ds;
    Error err = {0};
    assert_int_equal(dataset_load(&cfg, &ds, &err), -1);
    snprintf(want, sizeof want, "%s: images are 20000x1; each side must be 1 to 16384 pixels", path);
    assert_string_equal(err.msg, want);
}

static void test_cifar_batch_not_a_file(void **state)
{
    (void)state;
    char root[512], path[600], want[1200];
    tu_join(root, sizeof root, tu_tmpdir, "cifar");
    assert_int_equal(mkdir(root, 0755), 0);
    tu_join(path, sizeof path, root, "test_batch.bin");
    assert_int_equal(mkdir(path, 0755), 0);
    Dataset ds;
    Error err = {0};
    snprintf(want, sizeof want, "%s: is a directory, not a CIFAR-10 batch file", path);
    assert_int_equal(dataset_load_cifar10(root, "test", &ds, &err), -1);
    assert_string_equal(err.msg, want);

    assert_int_equal(rmdir(path), 0);
    write_file(path, "", 0, false);
    snprintf(want, sizeof want, "%s: 0 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records", path);
    assert_int_equal(dataset_load_cifar10(root, "test", &ds, &err), -1);
    assert_string_equal(err.msg, want);
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_missing_and_unreadable),
        cmocka_unit_test(test_header_promising_gigabytes),
        cmocka_unit_test(test_image_sides),
        cmocka_unit_test(test_cifar_batch_not_a_file))
