/* Datasets: the real MNIST test split (known checksums), Debian's Fashion-MNIST, corrupt and
 * truncated IDX files with their exact messages, normalisation, CIFAR-10's binary format, and the
 * batch iterator's reproducible shuffling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "runner/data/dataset.h"
#include "runner/data/idx.h"
#include "tests/unit/testutil.h"

static void write_raw(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
}

/* An IDX byte array: magic 0 0 8 ndim, big-endian sizes, then `fill` for every data byte
 * (fill < 0: byte i is i % 251). */
static size_t make_idx(uint8_t *buf, int ndim, const uint32_t *dims, int fill)
{
    size_t n = 4, count = 1;
    buf[0] = 0, buf[1] = 0, buf[2] = 8, buf[3] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++) {
        for (int k = 0; k < 4; k++) buf[n++] = (uint8_t)(dims[d] >> (24 - 8 * k));
        count *= dims[d];
    }
    for (size_t i = 0; i < count; i++) buf[n++] = (uint8_t)(fill < 0 ? i % 251 : (size_t)fill);
    return n;
}

static void expect_message(int rc, const Error *err, const char *want)
{
    assert_int_equal(rc, -1);
    assert_string_equal(err->msg, want);
}

static void test_mnist_test_split(void **state)
{
    (void)state;
    Dataset ds;
    Error err = {0};
    int rc = dataset_load_mnist_like("mnist", tu_mnist_dir(), "test", &ds, &err);
    if (rc) fail_msg("%s (set MNIST_DIR to the folder of the MNIST files)", tu_err(&err));
    assert_int_equal(ds.n, 10000);
    assert_int_equal(ds.c, 1);
    assert_int_equal(ds.h, 28);
    assert_int_equal(ds.w, 28);
    assert_int_equal(ds.n_classes, 10);
    /* CRC-32 of the decompressed pixel and label bytes, computed with Python's zlib. */
    assert_int_equal(crc32(0, ds.pixels, 10000u * 784u), 0xe4ca5f57u);
    uint8_t label_bytes[10000];
    int hist[10] = {0};
    for (int i = 0; i < ds.n; i++) label_bytes[i] = (uint8_t)ds.labels[i], hist[ds.labels[i]]++;
    assert_int_equal(crc32(0, label_bytes, 10000), 0xee8604d9u);
    const int first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    const int published[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ds.labels[i], first[i]);
        assert_int_equal(hist[i], published[i]);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < 10000u * 784u; i++) sum += ds.pixels[i];
    assert_int_equal(sum, 264923200u);
    dataset_free(&ds);
}

static void test_fashion_mnist_default_root(void **state)
{
    (void)state;
    SpecData cfg = {.dataset = "fashion_mnist", .split = "test", .normalize = {0, 1}};
    Dataset ds;
    Error err = {0};
    if (dataset_load(&cfg, &ds, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(ds.n, 10000);
    assert_int_equal(ds.h * ds.w, 784);
    assert_string_equal(ds.name, "fashion_mnist");
    assert_true(ds.lo == 0.0f && ds.hi == 1.0f);
    dataset_free(&ds);
}

static void test_normalisation(void **state)
{
    (void)state;
    Dataset ds;
    Error err = {0};
    if (dataset_load_mnist_like("mnist", tu_mnist_dir(), "test", &ds, &err)) fail_msg("%s", tu_err(&err));
    float img[784];
    int32_t label;
    dataset_slice(&ds, 0, 1, img, &label);
    assert_int_equal(label, 7);
    /* torchvision: ToTensor (b / 255), then Normalize(0.5, 0.5). */
    for (int i = 0; i < 784; i++) {
        float t = (float)ds.pixels[i] / 255.0f;
        assert_true(img[i] == (t - 0.5f) / 0.5f);
    }
    assert_true(img[10 * 28 + 11] == (17.0f / 255.0f - 0.5f) / 0.5f); /* row 10 of the first "7" */
    dataset_set_range(&ds, 0.0f, 1.0f);
    dataset_slice(&ds, 0, 1, img, NULL);
    for (int i = 0; i < 784; i++) assert_true(img[i] == (float)ds.pixels[i] / 255.0f);
    assert_true(ds.lut[0] == 0.0f && ds.lut[255] == 1.0f);
    dataset_set_range(&ds, -1.0f, 1.0f);
    assert_true(ds.lut[0] == -1.0f && ds.lut[255] == 1.0f);
    dataset_free(&ds);
}

static void test_corrupt_idx_files(void **state)
{
    (void)state;
    static uint8_t buf[2 * 784 + 64];
    char path[512], want[1024];
    IdxArray a;
    Error err = {0};
    const uint32_t dims[3] = {2, 28, 28};
    size_t full = make_idx(buf, 3, dims, 7);

    /* missing */
    tu_tmp(path, sizeof path, "absent-idx3-ubyte.gz");
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* bad magic, raw and gzip'd */
    uint8_t bad[sizeof buf];
    memcpy(bad, buf, full);
    bad[0] = 0x1f, bad[1] = 0x2e;
    const char *kinds[2] = {"bad-magic", "bad-magic.gz"};
    for (int k = 0; k < 2; k++) {
        tu_tmp(path, sizeof path, kinds[k]);
        (k ? write_gz : write_raw)(path, bad, full);
        snprintf(want, sizeof want, "%s: not an IDX file: magic number 1f2e0803 does not start with two zero bytes",
                 path);
        expect_message(idx_read(path, 3, &a, &err), &err, want);
    }

    /* element type other than unsigned bytes */
    memcpy(bad, buf, full);
    bad[2] = 0x0d;
    tu_tmp(path, sizeof path, "floats");
    write_raw(path, bad, full);
    snprintf(want, sizeof want, "%s: IDX element type 0x0d is not supported (expected 0x08, unsigned bytes)", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* wrong rank: images where labels are expected and the reverse */
    tu_tmp(path, sizeof path, "images.gz");
    write_gz(path, buf, full);
    snprintf(want, sizeof want, "%s: IDX file has 3 dimensions, expected 1 (labels)", path);
    expect_message(idx_read(path, 1, &a, &err), &err, want);
    const uint32_t ldim[1] = {2};
    size_t lsize = make_idx(bad, 1, ldim, 3);
    tu_tmp(path, sizeof path, "labels");
    write_raw(path, bad, lsize);
    snprintf(want, sizeof want, "%s: IDX file has 1 dimensions, expected 3 (images)", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* truncated data and header, raw and gzip'd */
    for (int k = 0; k < 2; k++) {
        tu_tmp(path, sizeof path, k ? "short.gz" : "short");
        (k ? write_gz : write_raw)(path, buf, full - 100);
        snprintf(want, sizeof want, "%s: truncated: the header promises 1568 data bytes but the file ends early", path);
        expect_message(idx_read(path, 3, &a, &err), &err, want);
        (k ? write_gz : write_raw)(path, buf, 10);
        snprintf(want, sizeof want, "%s: truncated IDX header (dimension 1 missing)", path);
        expect_message(idx_read(path, 3, &a, &err), &err, want);
        (k ? write_gz : write_raw)(path, buf, 2);
        snprintf(want, sizeof want, "%s: not an IDX file: shorter than its 4-byte magic number", path);
        expect_message(idx_read(path, 3, &a, &err), &err, want);
    }

    /* trailing bytes */
    tu_tmp(path, sizeof path, "long.gz");
    write_gz(path, buf, full + 1);
    snprintf(want, sizeof want, "%s: 1568 data bytes expected, but the file is longer", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* a gzip file cut short inside its compressed stream */
    tu_tmp(path, sizeof path, "whole.gz");
    write_gz(path, buf, full);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t gz[4096];
    size_t gz_n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    assert_true(gz_n > 30 && gz_n < sizeof gz);
    tu_tmp(path, sizeof path, "cut.gz");
    write_raw(path, gz, gz_n - 12);
    snprintf(want, sizeof want, "%s: truncated: the header promises 1568 data bytes but the file ends early", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* a gzip file whose data no longer matches its CRC-32 (the 8-byte trailer is CRC then size) */
    gz[gz_n - 8] ^= 1;
    tu_tmp(path, sizeof path, "crc.gz");
    write_raw(path, gz, gz_n);
    snprintf(want, sizeof want, "%s: corrupt gzip data (incorrect data check)", path);
    expect_message(idx_read(path, 3, &a, &err), &err, want);

    /* the whole file, finally, reads */
    tu_tmp(path, sizeof path, "whole.gz");
    assert_int_equal(idx_read(path, 3, &a, &err), 0);
    assert_int_equal(a.count, 1568);
    assert_int_equal(a.data[1567], 7);
    idx_free(&a);
}

/* A root folder holding a train split: `n` images of side x side and labels `labels`. */
static void make_root(const char *name, int n, int side, const uint8_t *labels, int n_labels)
{
    char dir[512], path[600];
    tu_tmp(dir, sizeof dir, name);
    mkdir(dir, 0755);
    uint8_t *buf = malloc(64 + (size_t)n * side * side);
    assert_non_null(buf);
    const uint32_t dims[3] = {(uint32_t)n, (uint32_t)side, (uint32_t)side};
    size_t size = make_idx(buf, 3, dims, -1);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_gz(path, buf, size);
    const uint32_t ldims[1] = {(uint32_t)n_labels};
    size = make_idx(buf, 1, ldims, 0);
    memcpy(buf + 8, labels, (size_t)n_labels);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir); /* raw beside gzip'd: both are found */
    write_raw(path, buf, size);
    free(buf);
}

static void test_dataset_validation(void **state)
{
    (void)state;
    Dataset ds;
    Error err = {0};
    char root[300], want[1200];
    const uint8_t ok[3] = {0, 9, 4}, high[3] = {0, 10, 4};

    make_root("good", 3, 28, ok, 3);
    tu_tmp(root, sizeof root, "good");
    if (dataset_load_mnist_like("kmnist", root, "train", &ds, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.labels[1], 9);
    assert_int_equal(ds.pixels[784 * 2 + 5], (784 * 2 + 5) % 251);
    dataset_free(&ds);

    make_root("count", 3, 28, ok, 2);
    tu_tmp(root, sizeof root, "count");
    snprintf(want, sizeof want,
             "%s/train-images-idx3-ubyte.gz has 3 images but %s/train-labels-idx1-ubyte has 2 labels", root, root);
    expect_message(dataset_load_mnist_like("mnist", root, "train", &ds, &err), &err, want);

    make_root("range", 3, 28, high, 3);
    tu_tmp(root, sizeof root, "range");
    snprintf(want, sizeof want, "%s/train-labels-idx1-ubyte: label 10 at index 1 is out of range (expected 0..9)",
             root);
    expect_message(dataset_load_mnist_like("mnist", root, "train", &ds, &err), &err, want);

    make_root("shape", 3, 14, ok, 3);
    tu_tmp(root, sizeof root, "shape");
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte.gz: images are 14x14, expected 28x28", root);
    expect_message(dataset_load_mnist_like("mnist", root, "train", &ds, &err), &err, want);

    /* the same 14x14 files are fine as an explicit idx dataset */
    char images[400], labels[400];
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", root);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte", root);
    SpecData cfg = {.dataset = "idx", .normalize = {-1, 1}};
    snprintf(cfg.images, sizeof cfg.images, "%s", images);
    snprintf(cfg.labels, sizeof cfg.labels, "%s", labels);
    if (dataset_load(&cfg, &ds, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(ds.h, 14);
    assert_int_equal(ds.n_classes, 10);
    dataset_free(&ds);

    /* the test split is missing from these folders */
    snprintf(want, sizeof want,
             "mnist: %s/t10k-images-idx3-ubyte[.gz] not found (data.root must be the folder holding the four "
             "standard files)", root);
    expect_message(dataset_load_mnist_like("mnist", root, "test", &ds, &err), &err, want);
    snprintf(want, sizeof want,
             "fashion_mnist: %s/t10k-images-idx3-ubyte[.gz] not found (data.root must be the folder holding the four "
             "standard files; Debian's dataset-fashion-mnist package installs them in " DATASET_FASHION_MNIST_ROOT ")",
             root);
    expect_message(dataset_load_mnist_like("fashion_mnist", root, "test", &ds, &err), &err, want);
    expect_message(dataset_load_mnist_like("mnist", root, "valid", &ds, &err), &err,
                   "mnist: unknown split 'valid' (expected train or test)");
}

/* CIFAR-10 records whose pixel (c, y, x) of record r is (r * 7 + c * 3 + y + x) % 256, label r % 10. */
static void write_cifar(const char *path, int first, int count)
{
    uint8_t *buf = malloc((size_t)count * 3073);
    assert_non_null(buf);
    for (int r = 0; r < count; r++) {
        uint8_t *rec = buf + (size_t)r * 3073;
        rec[0] = (uint8_t)((first + r) % 10);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[1 + c * 1024 + y * 32 + x] = (uint8_t)(((first + r) * 7 + c * 3 + y + x) % 256);
    }
    write_raw(path, buf, (size_t)count * 3073);
    free(buf);
}

static void test_cifar10(void **state)
{
    (void)state;
    char dir[300], sub[400], path[480], want[1000];
    tu_tmp(dir, sizeof dir, "cifar");
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", dir); /* the folder the official archive unpacks to */
    mkdir(sub, 0755);
    const int counts[5] = {2, 1, 1, 1, 3};
    int first = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", sub, i + 1);
        write_cifar(path, first, counts[i]);
        first += counts[i];
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", sub);
    write_cifar(path, 100, 2);

    Dataset ds;
    Error err = {0};
    SpecData cfg = {.dataset = "cifar10", .split = "train", .normalize = {0, 1}};
    snprintf(cfg.root, sizeof cfg.root, "%s", dir);
    if (dataset_load(&cfg, &ds, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(ds.n, 8);
    assert_int_equal(ds.c, 3);
    assert_int_equal(ds.h, 32);
    assert_int_equal(ds.w, 32);
    static float img[3 * 32 * 32];
    int32_t label;
    for (int r = 0; r < 8; r++) {
        dataset_slice(&ds, r, 1, img, &label);
        assert_int_equal(label, r % 10);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y += 5)
                for (int x = 0; x < 32; x += 3)
                    assert_true(img[c * 1024 + y * 32 + x] == (float)((r * 7 + c * 3 + y + x) % 256) / 255.0f);
    }
    dataset_free(&ds);

    snprintf(cfg.split, sizeof cfg.split, "test");
    snprintf(cfg.root, sizeof cfg.root, "%s", sub); /* the batch folder itself works too */
    if (dataset_load(&cfg, &ds, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.labels[1], 1);
    dataset_free(&ds);

    /* a record cut short, a label out of range, a batch missing */
    snprintf(path, sizeof path, "%s/test_batch.bin", sub);
    write_cifar(path, 0, 1);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: 3074 bytes is not a whole, non-zero number of 3073-byte CIFAR-10 records", path);
    expect_message(dataset_load_cifar10(sub, "test", &ds, &err), &err, want);
    uint8_t rec[3073] = {10};
    write_raw(path, rec, sizeof rec);
    snprintf(want, sizeof want, "%s: record 0 has label 10 (expected 0..9)", path);
    expect_message(dataset_load_cifar10(sub, "test", &ds, &err), &err, want);
    snprintf(path, sizeof path, "%s/data_batch_4.bin", sub);
    remove(path);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    expect_message(dataset_load_cifar10(dir, "train", &ds, &err), &err, want);
}

static const BatchOptions *opts(int batch, bool shuffle, bool drop_last, uint64_t seed)
{
    static BatchOptions o;
    o = (BatchOptions){.batch_size = batch, .shuffle = shuffle, .drop_last = drop_last, .seed = seed};
    return &o;
}

/* A dataset of n 1x1x1 images whose label is the sample index, so batches show the order. */
static void index_dataset(Dataset *ds, int n)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "index");
    ds->n = n, ds->c = ds->h = ds->w = 1;
    ds->pixels = malloc((size_t)n);
    ds->labels = malloc((size_t)n * sizeof *ds->labels);
    assert_true(ds->pixels && ds->labels);
    for (int i = 0; i < n; i++) ds->pixels[i] = (uint8_t)(i * 37), ds->labels[i] = i;
    ds->n_classes = n;
    dataset_set_range(ds, -1.0f, 1.0f);
}

/* The sample indices of one whole epoch, batch after batch; returns how many. */
static int epoch_indices(BatchIter *it, int64_t epoch, int *out, int *n_batches, int *last)
{
    float x[64];
    int32_t lab[64];
    int total = 0, b;
    batch_iter_seek(it, epoch, 0);
    *n_batches = 0;
    while ((b = batch_iter_next(it, x, lab)) > 0) {
        for (int i = 0; i < b; i++) {
            out[total + i] = lab[i];
            assert_true(x[i] == it->ds->lut[it->ds->pixels[lab[i]]]); /* image and label travel together */
        }
        total += b;
        *last = b;
        (*n_batches)++;
    }
    return total;
}

static void test_shuffle(void **state)
{
    (void)state;
    Dataset ds;
    index_dataset(&ds, 203);
    BatchIter a, b;
    Error err = {0};
    assert_int_equal(batch_iter_init(&a, &ds, opts(64, true, false, 42), &err), 0);
    assert_int_equal(batch_iter_init(&b, &ds, opts(64, true, false, 42), &err), 0);
    int ea[203], eb[203], nb, last;
    assert_int_equal(batch_iter_per_epoch(&a), 4);
    assert_int_equal(epoch_indices(&a, 3, ea, &nb, &last), 203);
    assert_int_equal(nb, 4);
    assert_int_equal(last, 203 - 3 * 64);
    assert_int_equal(epoch_indices(&b, 3, eb, &nb, &last), 203);
    assert_memory_equal(ea, eb, sizeof ea);                /* same seed and epoch: same order */
    int seen[203] = {0}, moved = 0;
    for (int i = 0; i < 203; i++) seen[ea[i]]++, moved += ea[i] != i;
    for (int i = 0; i < 203; i++) assert_int_equal(seen[i], 1); /* a permutation */
    assert_true(moved > 150);
    epoch_indices(&b, 4, eb, &nb, &last);
    assert_memory_not_equal(ea, eb, sizeof ea);            /* the next epoch differs */
    batch_iter_free(&b);
    assert_int_equal(batch_iter_init(&b, &ds, opts(64, true, false, 43), &err), 0);
    epoch_indices(&b, 3, eb, &nb, &last);
    assert_memory_not_equal(ea, eb, sizeof ea);            /* another seed differs */

    /* resuming at (epoch 3, batch 2) gives exactly the batch an uninterrupted run sees */
    int32_t lab[64];
    batch_iter_free(&b);
    assert_int_equal(batch_iter_init(&b, &ds, opts(64, true, false, 42), &err), 0);
    batch_iter_seek(&b, 3, 2);
    assert_int_equal(batch_iter_next(&b, NULL, lab), 64);
    for (int i = 0; i < 64; i++) assert_int_equal(lab[i], ea[128 + i]);
    batch_iter_free(&a);
    batch_iter_free(&b);

    /* drop_last and no shuffle: the first 3 full batches in order */
    assert_int_equal(batch_iter_init(&a, &ds, opts(64, false, true, 42), &err), 0);
    assert_int_equal(epoch_indices(&a, 7, ea, &nb, &last), 192);
    assert_int_equal(nb, 3);
    for (int i = 0; i < 192; i++) assert_int_equal(ea[i], i);
    batch_iter_free(&a);
    assert_int_equal(batch_iter_init(&a, &ds, opts(204, true, true, 1), &err), -1);
    assert_string_equal(err.msg, "batch_size 204 exceeds the 203 samples of dataset index and drop_last is set: "
                                 "no batch would remain");
    dataset_free(&ds);
}

/* Fisher-Yates must be unbiased: over many epochs every element lands in every position about
 * equally often (a classic off-by-one draws j from [0, n) instead and fails this). */
static void test_shuffle_uniform(void **state)
{
    (void)state;
    Dataset ds;
    index_dataset(&ds, 4);
    BatchIter it;
    Error err = {0};
    assert_int_equal(batch_iter_init(&it, &ds, opts(4, true, false, 7), &err), 0);
    const int epochs = 24000;
    int count[4][4] = {{0}}, perms[24] = {0};
    uint32_t order[4];
    for (int e = 0; e < epochs; e++) {
        batch_iter_order(&it, e, order);
        for (int p = 0; p < 4; p++) count[order[p]][p]++;
        int code = 0; /* Lehmer code of the permutation */
        for (int i = 0; i < 4; i++) {
            int smaller = 0;
            for (int j = i + 1; j < 4; j++) smaller += order[j] < order[i];
            code = code * (4 - i) + smaller;
        }
        perms[code]++;
    }
    /* 24 permutations, 1000 expected each; chi-square with 23 degrees of freedom, p = 0.0001 at 56. */
    double chi2 = 0;
    for (int k = 0; k < 24; k++) chi2 += (perms[k] - 1000.0) * (perms[k] - 1000.0) / 1000.0;
    assert_true(chi2 < 56);
    for (int i = 0; i < 4; i++)
        for (int p = 0; p < 4; p++) assert_in_range(count[i][p], 5700, 6300);
    batch_iter_free(&it);
    dataset_free(&ds);
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_mnist_test_split),
        cmocka_unit_test(test_fashion_mnist_default_root),
        cmocka_unit_test(test_normalisation),
        cmocka_unit_test(test_corrupt_idx_files),
        cmocka_unit_test(test_dataset_validation),
        cmocka_unit_test(test_cifar10),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_shuffle_uniform))
