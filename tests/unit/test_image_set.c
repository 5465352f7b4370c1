/* Image sets named on the command line: every malformed dataset argument is refused with a message
 * saying which part is wrong and what form is expected (one used to crash the runner), a valid range
 * takes exactly its images, and PNG folders with odd entries say what is wrong with which file. */
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

#include "runner/eval/image_set.h"
#include "tests/unit/testutil.h"

#define FORM "DATASET:SPLIT[:FIRST-END][@ROOT]"

static void expect_refused(const char *what, const char *part)
{
    ImageSet s;
    ImageSetOptions o = {0};
    Error err = {0};
    if (image_set_open(&s, what, &o, &err) == 0) fail_msg("'%s' was accepted", what);
    if (!strstr(err.msg, part)) fail_msg("'%s': message '%s' lacks '%s'", what, tu_err(&err), part);
    assert_null(s.pixels);
}

static void test_bad_dataset_arguments(void **state)
{
    (void)state;
    expect_refused("mnist@/path/to/mnist:x", "no ':SPLIT' after the dataset name; expected " FORM);
    expect_refused("mnist@", "the root after '@' is empty");
    expect_refused("@", "the root after '@' is empty; expected " FORM);
    expect_refused("mnist:test@", "the root after '@' is empty");
    expect_refused(":test", "the dataset name before ':' is empty; expected " FORM);
    expect_refused(":", "the dataset name before ':' is empty");
    expect_refused("mnist:", "the split after ':' is empty; expected " FORM);
    expect_refused("mnist::0-5", "the split after ':' is empty");
    expect_refused("mnist:x", "the split after ':' must be train or test; expected " FORM);
    expect_refused("mnist:test:", "the range after the split is empty; expected " FORM);
    expect_refused("mnist:test:@root", "the range after the split is empty");
    const char *not_ranges[] = {"mnist:test:-5-10", "mnist:test:5", "mnist:test:5-", "mnist:test:-5",
                                "mnist:test:0-5:7", "mnist:test:0-5000x", "mnist:test: 0-5", "mnist:test:0- 5",
                                "mnist:test:+1-5", "mnist:test:0-2147483648", "mnist:test:0-99999999999",
                                "mnist:test:0x1-5", "mnist:test:1-2-3"};
    for (size_t i = 0; i < sizeof not_ranges / sizeof *not_ranges; i++)
        expect_refused(not_ranges[i], "must be FIRST-END, two whole numbers below 2^31 (images FIRST..END-1); "
                                      "expected " FORM);
    expect_refused("mnist:test:5-5", "the range 5-5 is empty; FIRST-END needs FIRST < END");
    expect_refused("mnist:test:10-5", "the range 10-5 is empty");
    expect_refused("mnist:test:0-5:00000000000000000000000000000000000", "is longer than 31 characters");
    expect_refused("a_dataset_name_far_longer_than_any_dataset_has:test", "the dataset name before ':' is longer");
    char what[9000];
    snprintf(what, sizeof what, "mnist:test@%08000d", 0);
    expect_refused(what, "the root after '@' is longer than");
    /* Well formed, but not there. */
    snprintf(what, sizeof what, "mnist:test:0-20000@%s", tu_mnist_dir());
    expect_refused(what, "mnist test has only 10000 images");
    snprintf(what, sizeof what, "mnist:test@%s/nothing_here", tu_tmpdir);
    expect_refused(what, "nothing_here");
    expect_refused("no_such_folder", "is neither a folder (results or PNG images) nor a dataset split");
}

static void test_range_takes_its_images(void **state)
{
    (void)state;
    char all_what[512], part_what[512];
    snprintf(all_what, sizeof all_what, "mnist:test@%s", tu_mnist_dir());
    snprintf(part_what, sizeof part_what, "mnist:test:7-12@%s", tu_mnist_dir());
    ImageSet all, part;
    ImageSetOptions o = {0};
    Error err = {0};
    if (image_set_open(&all, all_what, &o, &err) || image_set_open(&part, part_what, &o, &err))
        fail_msg("%s", tu_err(&err));
    assert_int_equal(part.n, 5);
    assert_string_equal(part.split, "test:7-12");
    size_t per = (size_t)all.c * all.h * all.w;
    assert_memory_equal(part.pixels, all.pixels + 7 * per, 5 * per);
    image_set_free(&all);
    image_set_free(&part);
}

/* A run's FID reference is transformed as its training data (padding here), never flipped, and
 * cached under a label of its own. */
static void test_reference_like_the_run(void **state)
{
    (void)state;
    char what[512];
    snprintf(what, sizeof what, "mnist:test:0-3@%s", tu_mnist_dir());
    SpecData data = {.pad = 2, .fit = "crop", .flip = "horizontal"};
    ImageSet plain, padded;
    ImageSetOptions o = {0}, like = {.like = &data};
    Error err = {0};
    if (image_set_open(&plain, what, &o, &err) || image_set_open(&padded, what, &like, &err)) fail_msg("%s", err.msg);
    assert_int_equal(padded.h, 32);
    assert_int_equal(padded.w, 32);
    assert_string_equal(padded.label, "mnist-test:0-3-1x32x32");
    for (int i = 0; i < 3; i++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                assert_int_equal(padded.pixels[(i * 32 + y) * 32 + x],
                                 inside ? plain.pixels[(i * 28 + y - 2) * 28 + x - 2] : 0);
            }
    image_set_free(&plain);
    image_set_free(&padded);
}

/* The runner itself: the argument that used to crash it ends with a message and exit status 1. */
static void test_runner_refuses_bad_argument(void **state)
{
    (void)state;
    char out[4096];
    int rc = tu_run_runner("", "fid 'mnist@/path/to/mnist:x' mnist:test", out, sizeof out);
    if (rc == 0 || rc >= 128) fail_msg("exit status %d: %s", rc, out);
    if (!strstr(out, "expected " FORM)) fail_msg("output lacks the expected form: %s", out);
}

static void copy_fixture(const char *rel, const char *dst)
{
    char src[512], cmd[1400];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tu_fixture_path(src, sizeof src, rel), dst);
    if (system(cmd) != 0) fail_msg("%s failed (run make fixtures)", cmd);
}

static void test_png_folders(void **state)
{
    (void)state;
    char dir[512], path[700];
    ImageSet s;
    ImageSetOptions o = {0};
    Error err = {0};
    tu_join(dir, sizeof dir, tu_tmpdir, "empty");
    assert_int_equal(mkdir(dir, 0777), 0);
    expect_refused(dir, "holds no .png files");

    /* Gray (16-bit) and RGBA images mix: the set is RGB, gray as three equal channels. */
    tu_join(dir, sizeof dir, tu_tmpdir, "mixed");
    assert_int_equal(mkdir(dir, 0777), 0);
    copy_fixture("png/gray16.png", tu_join(path, sizeof path, dir, "a.png"));
    copy_fixture("png/rgba8.png", tu_join(path, sizeof path, dir, "b.png"));
    if (image_set_open(&s, dir, &o, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.c, 3);
    size_t plane = (size_t)s.h * s.w;
    assert_memory_equal(s.pixels, s.pixels + plane, plane);
    assert_memory_equal(s.pixels, s.pixels + 2 * plane, plane);
    image_set_free(&s);

    assert_int_equal(mkdir(tu_join(path, sizeof path, dir, "c.png"), 0777), 0);
    expect_refused(dir, "c.png: is a directory");
    assert_int_equal(rmdir(path), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    expect_refused(dir, "c.png: is empty");
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_bad_dataset_arguments),
        cmocka_unit_test(test_range_takes_its_images),
        cmocka_unit_test(test_reference_like_the_run),
        cmocka_unit_test(test_runner_refuses_bad_argument),
        cmocka_unit_test(test_png_folders))
