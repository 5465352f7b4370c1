/* PNG reading against PIL's Image.open(path).convert('RGB'), which pytorch-fid uses: every kind
 * that tests/parity/png_reference.py writes (gray 1-16 bits, alpha, palettes, tRNS, gAMA, sBIT,
 * Adam7) must give PIL's bytes, twice in a row the same; and files that are no PNG give a message
 * naming the path and the reason. */
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

#include "runner/io/png_image.h"
#include "tests/unit/testutil.h"

static const char *const cases[] = {
    "gray1", "gray2", "gray4", "gray8", "gray16", "gray_alpha8", "gray_alpha16", "rgb8", "rgb16", "rgba8",
    "rgba16", "palette1", "palette2", "palette4", "palette8", "palette4_short", "palette8_trns", "gray1_trns",
    "gray8_trns", "gray16_trns", "rgb8_trns", "rgb16_trns", "gray8_gama", "rgb8_gama", "rgba16_gama",
    "gray16_gama_sbit", "rgb8_sbit", "gray1_interlaced", "gray16_interlaced", "gray_alpha8_interlaced",
    "rgb8_interlaced", "rgba16_interlaced", "palette4_interlaced", "tiny_interlaced",
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* Our pixel i as RGB: gray images stand for three equal channels, as PIL's convert('RGB'). */
static void rgb_at(const Image *img, size_t i, unsigned char out[3])
{
    for (int c = 0; c < 3; c++) out[c] = img->pixels[i * (size_t)img->channels + (img->channels == 3 ? c : 0)];
}

static void expect_case(const char *name)
{
    char rel[128], png_path[512], rgb_path[512];
    snprintf(rel, sizeof rel, "png/%s.png", name);
    tu_fixture_path(png_path, sizeof png_path, rel);
    snprintf(rel, sizeof rel, "png/%s.rgb", name);
    tu_fixture_path(rgb_path, sizeof rgb_path, rel);
    size_t size;
    unsigned char *want = tu_read_file(rgb_path, &size);
    assert_true(size >= 8);
    uint32_t w = want[0] | want[1] << 8 | (uint32_t)want[2] << 16 | (uint32_t)want[3] << 24;
    uint32_t h = want[4] | want[5] << 8 | (uint32_t)want[6] << 16 | (uint32_t)want[7] << 24;
    assert_int_equal(size, 8 + (size_t)w * h * 3);
    Image img, again;
    Error err = {0};
    if (png_read(png_path, &img, &err)) fail_msg("%s: %s", name, tu_err(&err));
    if (img.width != (int)w || img.height != (int)h)
        fail_msg("%s: %dx%d, PIL %ux%u", name, img.width, img.height, (unsigned)w, (unsigned)h);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        unsigned char got[3];
        rgb_at(&img, i, got);
        if (memcmp(got, want + 8 + 3 * i, 3) != 0)
            fail_msg("%s: pixel (%zu, %zu) is (%d, %d, %d), PIL gives (%d, %d, %d)", name, i % w, i / w, got[0],
                     got[1], got[2], want[8 + 3 * i], want[9 + 3 * i], want[10 + 3 * i]);
    }
    /* Nothing may depend on memory left from before (an alpha blend onto it once did). */
    if (png_read(png_path, &again, &err)) fail_msg("%s again: %s", name, tu_err(&err));
    assert_int_equal(again.channels, img.channels);
    assert_memory_equal(again.pixels, img.pixels, (size_t)w * h * (size_t)img.channels);
    image_free(&again);
    image_free(&img);
    free(want);
}

static void test_every_kind_reads_as_pil(void **state)
{
    (void)state;
    tu_expect_fixture_cases("png/cases.txt", cases, N_CASES);
    for (int i = 0; i < N_CASES; i++) expect_case(cases[i]);
}

static void expect_refused(const char *path, const char *reason)
{
    Image img;
    Error err = {0};
    assert_int_equal(png_read(path, &img, &err), -1);
    if (strncmp(err.msg, path, strlen(path)) != 0) fail_msg("message '%s' does not name %s", tu_err(&err), path);
    if (!strstr(err.msg, reason)) fail_msg("message '%s' lacks '%s'", tu_err(&err), reason);
    assert_null(img.pixels);
}

static void test_bad_files_named_with_reason(void **state)
{
    (void)state;
    char path[512], fixture[512];
    expect_refused(tu_tmpdir, "is a directory");
    expect_refused(tu_join(path, sizeof path, tu_tmpdir, "missing.png"), "cannot open: No such file");
    write_file(tu_join(path, sizeof path, tu_tmpdir, "empty.png"), "", 0);
    expect_refused(path, "is empty");
    write_file(tu_join(path, sizeof path, tu_tmpdir, "text.png"), "hello, world\n", 13);
    expect_refused(path, "not a PNG file");

    size_t size;
    unsigned char *good = tu_read_file(tu_fixture_path(fixture, sizeof fixture, "png/rgb8.png"), &size);
    write_file(tu_join(path, sizeof path, tu_tmpdir, "truncated.png"), good, size / 2);
    expect_refused(path, "corrupt PNG");
    write_file(tu_join(path, sizeof path, tu_tmpdir, "only_signature.png"), good, 8);
    expect_refused(path, "corrupt PNG");
    good[40] ^= 0xff; /* inside IHDR: its CRC no longer matches */
    write_file(tu_join(path, sizeof path, tu_tmpdir, "bad_crc.png"), good, size);
    expect_refused(path, "corrupt PNG");
    free(good);

    /* 10000 x 10000 pixels announced by a 41-byte file: refused before allocating. */
    static const unsigned char huge[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0x27, 0x10, 0, 0, 0x27,
        0x10, 8, 2, 0, 0, 0, 0x35, 0x2c, 0xf5, 0x70, 0, 0, 0, 0, 'I', 'D', 'A', 'T'};
    write_file(tu_join(path, sizeof path, tu_tmpdir, "huge.png"), huge, sizeof huge);
    expect_refused(path, "10000x10000 pixels is larger than");

    if (geteuid() != 0) { /* root reads anything */
        write_file(tu_join(path, sizeof path, tu_tmpdir, "unreadable.png"), "x", 1);
        assert_int_equal(chmod(path, 0), 0);
        expect_refused(path, "cannot open: Permission denied");
    }
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_every_kind_reads_as_pil),
        cmocka_unit_test(test_bad_files_named_with_reason))
