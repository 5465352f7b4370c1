/* The data section's transforms and folders: every resize, crop, pad and colour conversion that
 * tests/parity/data_transform_reference.py makes with torchvision on PIL images must give its
 * bytes exactly, and so must a folder of PNG files of every kind; padding real MNIST; folders'
 * errors with their exact messages; the shape `runner check` reports against what loads; and
 * the batch iterator's random flips (reproducible, per example, training batches only). */
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

#include "runner/data/dataset.h"
#include "runner/data/transform.h"
#include "tests/unit/testutil.h"

static const char *const transform_cases[] = {
    "up_28_to_32", "up_28_to_32_noise", "down_28_to_14", "down_odd_stretch", "up_odd_stretch",
    "mixed_axes_stretch", "crop_wide", "crop_tall_odd", "crop_up", "crop_not_square", "crop_not_square_tall",
    "crop_no_resize_needed", "pad_2", "gray_resize_pad", "to_gray", "to_rgb_stretch", "same_size",
    "from_one_pixel", "to_one_pixel", "shrink_a_lot",
};
static const char *const folder_cases[] = {"rgb_crop_pad", "gray_stretch", "rgb_crop_not_square"};
#define N(a) ((int)(sizeof a / sizeof a[0]))

/* Fixture <family>/<name>.bin. */
static unsigned char *read_case(const char *family, const char *name, size_t *size)
{
    char rel[128], path[512];
    snprintf(rel, sizeof rel, "%s/%s.bin", family, name);
    return tu_read_file(tu_fixture_path(path, sizeof path, rel), size);
}

/* The fixtures' header: input c, h, w; the transform; the output's c, h, w. */
typedef struct CaseHead {
    int in[3];
    DataTransform t;
    int out[3];
} CaseHead;

static int32_t le32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static CaseHead read_head(const unsigned char *p)
{
    CaseHead h = {{le32(p), le32(p + 4), le32(p + 8)},
                  {.channels = le32(p + 12), .height = le32(p + 16), .width = le32(p + 20), .crop = le32(p + 24),
                   .pad = le32(p + 28)},
                  {le32(p + 32), le32(p + 36), le32(p + 40)}};
    return h;
}
#define HEAD_BYTES 44

static void expect_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i] && bad++ == 0) first = i;
    if (bad) fail_msg("%s: %zu of %zu bytes differ; first at %zu: %d, torchvision %d", what, bad, n, first, got[first],
                      want[first]);
}

static void test_transforms_match_torchvision(void **state)
{
    (void)state;
    tu_expect_fixture_cases("data_transform/cases.txt", transform_cases, N(transform_cases));
    for (int i = 0; i < N(transform_cases); i++) {
        size_t size;
        unsigned char *data = read_case("data_transform", transform_cases[i], &size);
        CaseHead h = read_head(data);
        size_t in = (size_t)h.in[0] * h.in[1] * h.in[2], out = (size_t)h.out[0] * h.out[1] * h.out[2];
        assert_int_equal(size, HEAD_BYTES + in + out);
        int shape[3];
        data_transform_shape(&h.t, h.in[0], h.in[1], h.in[2], shape);
        assert_memory_equal(shape, h.out, sizeof shape);
        ExampleTransform x;
        Error err = {0};
        if (example_transform_init(&x, &h.t, h.in[0], h.in[1], h.in[2], &err)) fail_msg("%s", err.msg);
        uint8_t *got = malloc(out);
        assert_non_null(got);
        for (int run = 0; run < 2; run++) { /* scratch reused: the same bytes again */
            memset(got, 0xAB, out);
            example_transform_run(&x, data + HEAD_BYTES, got);
            expect_bytes(transform_cases[i], got, data + HEAD_BYTES + in, out);
        }
        free(got);
        example_transform_free(&x);
        free(data);
    }
}

static SpecData folder_spec(const char *root, const DataTransform *t)
{
    SpecData d = {.dataset = "folder", .split = "train", .channels = t->channels, .resize = {t->height, t->width},
                  .fit = "stretch", .pad = t->pad, .normalize = {-1, 1}};
    if (t->crop) snprintf(d.fit, sizeof d.fit, "crop");
    snprintf(d.root, sizeof d.root, "%s", root);
    return d;
}

static void test_folder_matches_pil(void **state)
{
    (void)state;
    tu_expect_fixture_cases("data_folder/cases.txt", folder_cases, N(folder_cases));
    char root[512];
    tu_fixture_path(root, sizeof root, "data_folder/images");
    for (int i = 0; i < N(folder_cases); i++) {
        size_t size;
        unsigned char *data = read_case("data_folder", folder_cases[i], &size);
        CaseHead h = read_head(data);
        int n = le32(data + HEAD_BYTES);
        size_t per = (size_t)h.out[0] * h.out[1] * h.out[2];
        assert_int_equal(size, HEAD_BYTES + 4 + (size_t)n * per);
        SpecData cfg = folder_spec(root, &h.t);
        Dataset ds;
        Error err = {0};
        if (dataset_load(&cfg, &ds, &err)) fail_msg("%s: %s", folder_cases[i], err.msg);
        assert_int_equal(ds.n, n);
        assert_int_equal(ds.c, h.out[0]);
        assert_int_equal(ds.h, h.out[1]);
        assert_int_equal(ds.w, h.out[2]);
        assert_null(ds.labels);
        assert_string_equal(ds.split, "");
        expect_bytes(folder_cases[i], ds.pixels, data + HEAD_BYTES + 4, (size_t)n * per);
        int shape[3];
        if (dataset_example_shape(&cfg, shape, &err)) fail_msg("%s", err.msg);
        assert_memory_equal(shape, h.out, sizeof shape);
        dataset_free(&ds);
        free(data);
    }
}

static void copy_file(const char *src_rel, const char *dst)
{
    size_t size;
    char src[512];
    unsigned char *data = tu_read_file(tu_fixture_path(src, sizeof src, src_rel), &size);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    free(data);
}

static void expect_load_error(const SpecData *cfg, const char *want)
{
    Dataset ds;
    Error err = {0};
    assert_int_equal(dataset_load(cfg, &ds, &err), -1);
    assert_string_equal(err.msg, want);
    assert_null(ds.pixels);
}

static void test_folder_errors(void **state)
{
    (void)state;
    char dir[512], path[700], want[2048];
    DataTransform keep = {0}, to16 = {.height = 16, .width = 16, .crop = true};
    tu_tmp(dir, sizeof dir, "folder");
    assert_int_equal(mkdir(dir, 0777), 0);
    SpecData cfg = folder_spec(dir, &keep);

    snprintf(want, sizeof want, "%s holds no .png files", dir);
    tu_write_text(tu_join(path, sizeof path, dir, "readme.txt"), "no images here\n");
    expect_load_error(&cfg, want);

    SpecData missing = folder_spec("/nonexistent/pngs", &keep);
    expect_load_error(&missing, "/nonexistent/pngs: cannot list the folder: No such file or directory");
    SpecData no_root = folder_spec("", &keep);
    expect_load_error(&no_root, "dataset folder needs data.root, the folder of PNG images");

    /* Different sizes need a resize, which then makes them one. */
    char a[700], b[700];
    copy_file("data_folder/images/a10.png", tu_join(a, sizeof a, dir, "a.png"));
    copy_file("data_folder/images/a2.png", tu_join(b, sizeof b, dir, "b.png"));
    snprintf(want, sizeof want, "%s is 11x13 pixels (height x width) but %s is 14x9: the images of a folder must "
             "share one size unless data.resize sets one", b, a);
    expect_load_error(&cfg, want);
    SpecData sized = folder_spec(dir, &to16);
    Dataset ds;
    Error err = {0};
    if (dataset_load(&sized, &ds, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.c, 3); /* channels 0 in a data section: RGB, as torchvision's folders load */
    assert_int_equal(ds.h, 16);
    dataset_free(&ds);

    /* A .png that is not one, and one that is a folder: the path and the reason. */
    tu_write_text(tu_join(path, sizeof path, dir, "c.png"), "GIF89a, not a PNG\n");
    snprintf(want, sizeof want, "%s: not a PNG file (no PNG signature)", path);
    expect_load_error(&sized, want);
    assert_int_equal(remove(path), 0);
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(want, sizeof want, "%s: is a directory, not a PNG file", path);
    expect_load_error(&sized, want);
    assert_int_equal(rmdir(path), 0);
    tu_write_text(path, "");
    snprintf(want, sizeof want, "%s: is empty, not a PNG file", path);
    expect_load_error(&sized, want);
    assert_int_equal(remove(path), 0);

    /* The shape without reading: a resize fixes it, even when the folder is not there. */
    int shape[3];
    SpecData absent = folder_spec("/nonexistent/pngs", &to16);
    absent.pad = 2;
    if (dataset_example_shape(&absent, shape, &err)) fail_msg("%s", err.msg);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 20);
    assert_int_equal(shape[2], 20);
    /* Without it, the first image says (a.png: 14x9 gray, as RGB). */
    if (dataset_example_shape(&cfg, shape, &err)) fail_msg("%s", err.msg);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 14);
    assert_int_equal(shape[2], 9);
}

/* The images decide the channels where no data section does (FID's folders). */
static void test_folder_channels_from_images(void **state)
{
    (void)state;
    char dir[512], path[700];
    tu_tmp(dir, sizeof dir, "gray_folder");
    assert_int_equal(mkdir(dir, 0777), 0);
    copy_file("data_folder/images/c.png", tu_join(path, sizeof path, dir, "1.png"));
    copy_file("data_folder/images/c.png", tu_join(path, sizeof path, dir, "2.png"));
    DataTransform as_stored = {0};
    Dataset gray, rgb;
    Error err = {0};
    if (dataset_load_folder(dir, &as_stored, 0, &gray, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gray.c, 1);
    copy_file("data_folder/images/e.png", tu_join(path, sizeof path, dir, "3.png"));
    /* 0.png (11x13) sorts first and sets the size that 1.png (8x8) then lacks. */
    copy_file("data_folder/images/a2.png", tu_join(path, sizeof path, dir, "0.png"));
    assert_int_equal(dataset_load_folder(dir, &as_stored, 3, &rgb, &err), -1);
    assert_int_equal(remove(path), 0);
    DataTransform resize8 = {.height = 8, .width = 8};
    if (dataset_load_folder(dir, &resize8, 0, &rgb, &err)) fail_msg("%s", err.msg);
    assert_int_equal(rgb.n, 3);
    assert_int_equal(rgb.c, 3); /* one colour image makes the set RGB, gray repeated */
    size_t plane = 64;
    for (int i = 0; i < 2; i++) {
        assert_memory_equal(rgb.pixels + i * 3 * plane, gray.pixels + i * plane, plane);
        assert_memory_equal(rgb.pixels + i * 3 * plane + plane, gray.pixels + i * plane, plane);
        assert_memory_equal(rgb.pixels + i * 3 * plane + 2 * plane, gray.pixels + i * plane, plane);
    }
    dataset_free(&gray);
    dataset_free(&rgb);
}

/* MNIST padded by 2: the digits unchanged in the middle, zeros around, -1 after normalising, as
 * torchvision's Pad(2) before ToTensor and Normalize(0.5, 0.5). */
static void test_pad_mnist(void **state)
{
    (void)state;
    SpecData cfg = {.dataset = "mnist", .split = "test", .fit = "crop", .normalize = {-1, 1}};
    snprintf(cfg.root, sizeof cfg.root, "%s", tu_mnist_dir());
    Dataset plain, padded;
    Error err = {0};
    if (dataset_load(&cfg, &plain, &err)) fail_msg("%s (set MNIST_DIR to the folder of the MNIST files)", err.msg);
    cfg.pad = 2;
    if (dataset_load(&cfg, &padded, &err)) fail_msg("%s", err.msg);
    assert_int_equal(padded.n, plain.n);
    assert_int_equal(padded.h, 32);
    assert_int_equal(padded.w, 32);
    int shape[3];
    if (dataset_example_shape(&cfg, shape, &err)) fail_msg("%s", err.msg);
    assert_int_equal(shape[0], 1);
    assert_int_equal(shape[1], 32);
    assert_int_equal(shape[2], 32);
    for (int i = 0; i < padded.n; i += 997) {
        const uint8_t *p = padded.pixels + (size_t)i * 1024, *q = plain.pixels + (size_t)i * 784;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                assert_int_equal(p[y * 32 + x], inside ? q[(y - 2) * 28 + (x - 2)] : 0);
            }
    }
    float img[1024];
    dataset_slice(&padded, 0, 1, img, NULL);
    assert_true(img[0] == -1.0f && img[1023] == -1.0f);
    dataset_free(&plain);
    dataset_free(&padded);
}

/* An IDX file's shape comes from its header alone: the data need not be complete. */
static void test_idx_shape_from_header(void **state)
{
    (void)state;
    char path[512];
    tu_tmp(path, sizeof path, "short-idx3-ubyte");
    static const uint8_t head[16 + 10] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 9};
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, sizeof head, f), sizeof head);
    assert_int_equal(fclose(f), 0);
    SpecData cfg = {.dataset = "idx", .fit = "stretch", .resize = {14, 18}, .pad = 1, .channels = 3,
                    .normalize = {-1, 1}};
    snprintf(cfg.images, sizeof cfg.images, "%s", path);
    int shape[3];
    Error err = {0};
    if (dataset_example_shape(&cfg, shape, &err)) fail_msg("%s", err.msg);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 16);
    assert_int_equal(shape[2], 20);
    Dataset ds;
    assert_int_equal(dataset_load(&cfg, &ds, &err), -1);
    char want[700];
    snprintf(want, sizeof want, "%s: truncated: the header promises 315 data bytes but the file ends early", path);
    assert_string_equal(err.msg, want);
}

/* n examples of 1 x 2 x 3 whose six bytes are all different, labelled by their index. */
static void small_dataset(Dataset *ds, int n)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "small");
    ds->n = n, ds->c = 1, ds->h = 2, ds->w = 3;
    ds->pixels = malloc((size_t)n * 6);
    ds->labels = malloc((size_t)n * sizeof *ds->labels);
    assert_true(ds->pixels && ds->labels);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++) ds->pixels[i * 6 + k] = (uint8_t)(i * 6 + k);
        ds->labels[i] = i;
    }
    dataset_set_range(ds, 0.0f, 1.0f);
}

/* Visits epoch `epoch`; flipped[s] says whether sample s came mirrored (each must come either
 * exactly as stored or exactly mirrored). */
static void visit(BatchIter *it, int64_t epoch, bool *flipped)
{
    float x[64 * 6];
    int32_t lab[64];
    int b;
    batch_iter_seek(it, epoch, 0);
    while ((b = batch_iter_next(it, x, lab)) > 0)
        for (int i = 0; i < b; i++) {
            const float *lut = it->ds->lut;
            const uint8_t *p = it->ds->pixels + (size_t)lab[i] * 6;
            bool same = true, mirrored = true;
            for (int y = 0; y < 2; y++)
                for (int k = 0; k < 3; k++) {
                    same &= x[i * 6 + y * 3 + k] == lut[p[y * 3 + k]];
                    mirrored &= x[i * 6 + y * 3 + k] == lut[p[y * 3 + 2 - k]];
                }
            assert_true(same != mirrored);
            flipped[lab[i]] = mirrored;
            assert_int_equal(mirrored, batch_iter_flips(it, epoch, (uint32_t)lab[i]));
        }
}

static void test_flips(void **state)
{
    (void)state;
    enum { n = 200, epochs = 20 };
    Dataset ds;
    small_dataset(&ds, n);
    BatchIter a, b, c, off;
    Error err = {0};
    BatchOptions o = {.batch_size = 64, .shuffle = true, .flip = true, .seed = 42};
    assert_int_equal(batch_iter_init(&a, &ds, &o, &err), 0);
    /* Another batch size and no shuffle: a sample's flip in an epoch does not change. */
    BatchOptions o2 = {.batch_size = 7, .shuffle = false, .drop_last = true, .flip = true, .seed = 42};
    assert_int_equal(batch_iter_init(&b, &ds, &o2, &err), 0);
    BatchOptions o3 = o;
    o3.seed = 43;
    assert_int_equal(batch_iter_init(&c, &ds, &o3, &err), 0);
    BatchOptions o4 = o;
    o4.flip = false;
    assert_int_equal(batch_iter_init(&off, &ds, &o4, &err), 0);
    static bool fa[epochs][n], fb[epochs][n], fc[epochs][n], fo[epochs][n];
    int count = 0;
    for (int e = 0; e < epochs; e++) {
        visit(&a, e, fa[e]);
        visit(&b, e, fb[e]);
        visit(&c, e, fc[e]);
        visit(&off, e, fo[e]);
        for (int s = 0; s < n - n % 7; s++) assert_int_equal(fa[e][s], fb[e][s]);
        for (int s = 0; s < n; s++) count += fa[e][s], assert_false(fo[e][s]);
    }
    /* 4000 fair coins: 2000 +- 4.5 standard deviations (31.6 each). */
    assert_in_range(count, 1858, 2142);
    assert_memory_not_equal(fa[0], fa[1], sizeof fa[0]);  /* another epoch, other flips */
    assert_memory_not_equal(fa[0], fc[0], sizeof fa[0]);  /* another seed, other flips */
    /* Resuming mid-epoch gives the flips an uninterrupted run sees. */
    float x[64 * 6], y[64 * 6];
    batch_iter_seek(&a, 3, 1);
    assert_int_equal(batch_iter_next(&a, x, NULL), 64);
    batch_iter_seek(&a, 3, 0);
    assert_int_equal(batch_iter_next(&a, y, NULL), 64);
    assert_int_equal(batch_iter_next(&a, y, NULL), 64);
    assert_memory_equal(x, y, sizeof x);
    /* Evaluation reads the dataset directly: never flipped. */
    float z[6];
    dataset_slice(&ds, 5, 1, z, NULL);
    for (int k = 0; k < 6; k++) assert_true(z[k] == ds.lut[30 + k]);
    batch_iter_free(&a);
    batch_iter_free(&b);
    batch_iter_free(&c);
    batch_iter_free(&off);
    dataset_free(&ds);
}

/* batch_options reads the data section. */
static void test_batch_options(void **state)
{
    (void)state;
    SpecData d = {.shuffle = true, .drop_last = true, .flip = "horizontal"};
    BatchOptions o = batch_options(&d, 32, 7);
    assert_int_equal(o.batch_size, 32);
    assert_true(o.shuffle && o.drop_last && o.flip);
    assert_int_equal(o.seed, 7);
    snprintf(d.flip, sizeof d.flip, "none");
    assert_false(batch_options(&d, 32, 7).flip);
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_transforms_match_torchvision),
        cmocka_unit_test(test_folder_matches_pil),
        cmocka_unit_test(test_folder_errors),
        cmocka_unit_test(test_folder_channels_from_images),
        cmocka_unit_test(test_pad_mnist),
        cmocka_unit_test(test_idx_shape_from_header),
        cmocka_unit_test(test_flips),
        cmocka_unit_test(test_batch_options))
