/* Checks of a run's files (see results_files.h). */
#include "tests/unit/results_files.h"

#include "runner/io/png_image.h"
#include "tests/unit/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

void tu_expect_png(const char *dir, const char *rel, int width, int height)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    Image img = {0};
    Error err = {0};
    if (png_read(path, &img, &err)) fail_msg("%s", tu_err(&err));
    assert_int_equal(img.width, width);
    assert_int_equal(img.height, height);
    image_free(&img);
}

void tu_read_table(const char *dir, const char *rel, MetricsTable *t)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    Error err = {0};
    if (metrics_table_read(path, t, &err)) fail_msg("%s", tu_err(&err));
}

double tu_num(const MetricsTable *t, int row, const char *col)
{
    int c = metrics_table_col(t, col);
    if (c < 0) fail_msg("no column '%s'", col);
    double v;
    Error err = {0};
    if (metrics_table_num(t, row, c, &v, &err)) fail_msg("%s", tu_err(&err));
    return v;
}

static long file_bytes(const char *path, unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, len, f);
    fclose(f);
    return n;
}

bool tu_same_file(const char *a, const char *b)
{
    static unsigned char x[1 << 20], y[1 << 20];
    long na = file_bytes(a, x, sizeof x), nb = file_bytes(b, y, sizeof y);
    if (na <= 0 || nb <= 0) fail_msg("cannot read %s or %s", a, b);
    return na == nb && memcmp(x, y, (size_t)na) == 0;
}
