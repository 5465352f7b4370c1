/* Results writers: metrics CSV (libcsv quoting, exact round trip of numbers, flushed rows, resumed
 * logs, atomic one-row files, malformed input), loss plots decoded back from PNG, and sample grids
 * laid out like torchvision's make_grid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/io/metrics_csv.h"
#include "runner/io/plot.h"
#include "runner/io/png_image.h"
#include "runner/io/sample_grid.h"
#include "tests/unit/testutil.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* ---- CSV ---- */

static const char *const columns[] = {"step", "time_s", "loss_d", "note"};
static const char *const notes[] = {"plain", "a,b", "he said \"hi\"", " edge spaces ", "two\nlines", ""};

static void test_csv_round_trip(void **state)
{
    (void)state;
    char path[300];
    tu_tmp(path, sizeof path, "metrics.csv");
    MetricsLog log;
    Error err = {0};
    assert_int_equal(metrics_log_open(&log, path, columns, 4, false, &err), 0);
    float losses[6] = {0.693147182f, 1e-30f, -3.40282347e38f, 0.1f, 1.0f / 3.0f, NAN};
    double times[6] = {0.1, 1.0 / 3.0, 123456.789012345678, 1e-300, 2.5, INFINITY};
    for (int r = 0; r < 6; r++) {
        Cell row[4] = {cell_int(r * 1000000007LL), cell_double(times[r]), cell_float(losses[r]), cell_text(notes[r])};
        assert_int_equal(metrics_log_row(&log, row, 4, &err), 0);
    }
    /* each row is on disk as soon as it is logged */
    MetricsTable t;
    assert_int_equal(metrics_table_read(path, &t, &err), 0);
    assert_int_equal(t.n_rows, 6);
    metrics_table_free(&t);
    Cell short_row[2] = {cell_int(1), cell_int(2)};
    assert_int_equal(metrics_log_row(&log, short_row, 2, &err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: a row of 2 values for 4 columns", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(metrics_log_close(&log, &err), 0);

    const char *text = slurp(path);
    assert_int_equal(strncmp(text, "step,time_s,loss_d,note\n0,0.10000000000000001,0.693147182,plain\n", 63), 0);
    assert_non_null(strstr(text, ",\"a,b\"\n"));
    assert_non_null(strstr(text, ",\"he said \"\"hi\"\"\"\n"));

    assert_int_equal(metrics_table_read(path, &t, &err), 0);
    assert_int_equal(t.n_cols, 4);
    assert_int_equal(t.n_rows, 6);
    assert_int_equal(metrics_table_col(&t, "loss_d"), 2);
    assert_int_equal(metrics_table_col(&t, "loss_g"), -1);
    for (int r = 0; r < 6; r++) {
        double v;
        assert_int_equal(metrics_table_num(&t, r, 0, &v, &err), 0);
        assert_true(v == r * 1000000007.0);
        assert_int_equal(metrics_table_num(&t, r, 1, &v, &err), 0);
        assert_true(v == times[r]); /* %.17g reads back bit for bit */
        assert_int_equal(metrics_table_num(&t, r, 2, &v, &err), 0);
        if (isnan(losses[r]))
            assert_true(isnan(v));
        else
            assert_true((float)v == losses[r]); /* %.9g reads back bit for bit */
        assert_string_equal(metrics_table_get(&t, r, 3), notes[r]);
    }
    double v;
    assert_int_equal(metrics_table_num(&t, 0, 3, &v, &err), -1);
    assert_string_equal(err.msg, "data row 1, column note: 'plain' is not a number");
    metrics_table_free(&t);
}

static void test_csv_append(void **state)
{
    (void)state;
    char path[300], want[700];
    tu_tmp(path, sizeof path, "resumed.csv");
    MetricsLog log;
    Error err = {0};
    Cell row[4] = {cell_int(1), cell_double(0.5), cell_float(0.25f), cell_empty()};
    assert_int_equal(metrics_log_open(&log, path, columns, 4, true, &err), 0); /* absent: created */
    assert_int_equal(metrics_log_row(&log, row, 4, &err), 0);
    assert_int_equal(metrics_log_close(&log, &err), 0);
    assert_int_equal(metrics_log_open(&log, path, columns, 4, true, &err), 0);
    assert_int_equal(log.rows, 1);
    row[0] = cell_int(2);
    assert_int_equal(metrics_log_row(&log, row, 4, &err), 0);
    assert_int_equal(metrics_log_close(&log, &err), 0);
    assert_string_equal(slurp(path), "step,time_s,loss_d,note\n1,0.5,0.25,\n2,0.5,0.25,\n");
    assert_int_equal(metrics_log_open(&log, path, columns, 3, true, &err), -1);
    snprintf(want, sizeof want, "%s: cannot append: its header differs from this run's columns", path);
    assert_string_equal(err.msg, want);
    /* without append the file starts over */
    assert_int_equal(metrics_log_open(&log, path, columns, 4, false, &err), 0);
    assert_int_equal(metrics_log_close(&log, &err), 0);
    assert_string_equal(slurp(path), "step,time_s,loss_d,note\n");
}

static void test_csv_single_row(void **state)
{
    (void)state;
    char path[300];
    tu_tmp(path, sizeof path, "summary.csv");
    const char *const cols[] = {"name", "algorithm", "steps", "loss_g", "steps_per_s"};
    Cell row[5] = {cell_text("gan, fashion"), cell_text("gan"), cell_int(938), cell_float(1.5f), cell_double(12.25)};
    Error err = {0};
    assert_int_equal(metrics_write_single(path, cols, row, 5, &err), 0);
    assert_string_equal(slurp(path), "name,algorithm,steps,loss_g,steps_per_s\n\"gan, fashion\",gan,938,1.5,12.25\n");
    /* nothing but the file itself is left in the folder (no temporary files) */
    DIR *d = opendir(tu_tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) fail_msg("temporary file left behind: %s", e->d_name);
    closedir(d);
    char bad[300];
    tu_tmp(bad, sizeof bad, "no/such/folder/summary.csv");
    assert_int_equal(metrics_write_single(bad, cols, row, 5, &err), -1);
    assert_non_null(strstr(err.msg, "no/such/folder/summary.csv: cannot write: No such file or directory"));
}

static void test_csv_malformed(void **state)
{
    (void)state;
    char path[300], want[700];
    MetricsTable t;
    Error err = {0};
    static const struct {
        const char *file, *text; /* text NULL: the file does not exist */
        const char *message;     /* what follows "<path>: " */
    } bad[] = {
        {"ragged.csv", "a,b,c\n1,2,3\n4,5\n", "row 3 has 2 fields but the header has 3"},
        {"quote.csv", "a,b\n1,\"unterminated\n",
         "malformed CSV at the end: error parsing data while strict checking enabled"},
        {"empty.csv", "", "empty file (expected a header row)"},
        {"absent.csv", NULL, "cannot open: No such file or directory"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_tmp(path, sizeof path, bad[i].file);
        if (bad[i].text) tu_write_text(path, bad[i].text);
        snprintf(want, sizeof want, "%s: %s", path, bad[i].message);
        assert_int_equal(metrics_table_read(path, &t, &err), -1);
        assert_string_equal(err.msg, want);
    }
    /* a last row without its line break still counts */
    tu_tmp(path, sizeof path, "noeol.csv");
    tu_write_text(path, "a,b\n1,2");
    assert_int_equal(metrics_table_read(path, &t, &err), 0);
    assert_int_equal(t.n_rows, 1);
    assert_string_equal(metrics_table_get(&t, 0, 1), "2");
    metrics_table_free(&t);
}

/* ---- plots ---- */

static const uint8_t *pixel(const Image *img, int x, int y)
{
    return img->pixels + ((size_t)y * (size_t)img->width + (size_t)x) * (size_t)img->channels;
}

static bool is_color(const uint8_t *p, const uint8_t c[3])
{
    return p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
}

/* The longest horizontal run of colour c, in pixels, over rows y0..y1-1. */
static int longest_run(const Image *img, const uint8_t c[3], int y0, int y1)
{
    int best = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0, run = 0; x < img->width; x++) {
            run = is_color(pixel(img, x, y), c) ? run + 1 : 0;
            best = run > best ? run : best;
        }
    return best;
}

static void test_plot(void **state)
{
    (void)state;
    enum { N = 300 };
    double xs[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        xs[i] = i * 10;
        a[i] = 1.5 + sin(i * 0.3);           /* steep enough that no line runs flat for long */
        b[i] = i % 50 == 7 ? NAN : 0.2 * cos(i * 0.5) - 1;
    }
    b[100] = INFINITY;
    PlotSeries series[2] = {{"loss_d", xs, a, N}, {"loss_g", xs, b, N}};
    char path[300];
    tu_tmp(path, sizeof path, "losses.png");
    Error err = {0};
    assert_int_equal(plot_lines(path, "losses", "step", "loss", series, 2, &err), 0);
    Image img;
    assert_int_equal(png_read(path, &img, &err), 0);
    assert_int_equal(img.width, PLOT_WIDTH);
    assert_int_equal(img.height, PLOT_HEIGHT);
    assert_int_equal(img.channels, 3);

    /* tab10's first two colours: solid in the line cores, and as 24x2 swatches in the legend */
    const uint8_t blue[3] = {31, 119, 180}, orange[3] = {255, 127, 14};
    int in_plot[2] = {0, 0};
    for (int y = 60; y < 420; y++)
        for (int x = 100; x < 760; x++) {
            in_plot[0] += is_color(pixel(&img, x, y), blue);
            in_plot[1] += is_color(pixel(&img, x, y), orange);
        }
    assert_true(in_plot[0] > 500);
    assert_true(in_plot[1] > 300);
    assert_in_range(longest_run(&img, blue, 0, img.height), 24, 40);
    assert_in_range(longest_run(&img, orange, 0, img.height), 24, 40);
    /* the margins above the title stay background */
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < img.width; x++) assert_true(is_color(pixel(&img, x, y), (const uint8_t[3]){255, 255, 255}));
    /* text is drawn: dark pixels left of the plot (y tick labels, y label) and below it (x ticks, x label) */
    int dark_left = 0, dark_below = 0;
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            const uint8_t *p = pixel(&img, x, y);
            bool dark = p[0] < 80 && p[1] < 80 && p[2] < 80;
            dark_left += dark && x < 40;
            dark_below += dark && y > img.height - 30;
        }
    assert_true(dark_left > 50);
    assert_true(dark_below > 50);

    /* the same input renders the same pixels */
    Image again;
    assert_int_equal(plot_render("losses", "step", "loss", series, 2, &again, &err), 0);
    assert_memory_equal(again.pixels, img.pixels, (size_t)img.width * img.height * 3);
    image_free(&again);
    image_free(&img);
}

static void test_plot_edge_cases(void **state)
{
    (void)state;
    Error err = {0};
    Image img;
    double x1[1] = {5}, y1[1] = {2}, xn[3] = {NAN, 1, INFINITY}, yn[3] = {1, NAN, 2};
    double xh[2] = {0, 1}, yh[2] = {-1e308, 1e308};
    PlotSeries cases[4][1] = {{{"one point", x1, y1, 1}}, {{"nothing finite", xn, yn, 3}}, {{"huge", xh, yh, 2}},
                              {{NULL, x1, y1, 0}}};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(plot_render(NULL, NULL, NULL, cases[k], 1, &img, &err), 0);
        assert_int_equal(img.width, PLOT_WIDTH);
        image_free(&img);
    }
    assert_int_equal(plot_render("empty", "x", "y", NULL, 0, &img, &err), 0);
    image_free(&img);
    PlotSeries broken = {"broken", NULL, y1, 1};
    assert_int_equal(plot_render(NULL, NULL, NULL, &broken, 1, &img, &err), -1);
    assert_string_equal(err.msg, "plot: series 0 (broken) has no data for its 1 points");
}

/* ---- sample grids ---- */

static void test_grid_layout(void **state)
{
    (void)state;
    enum { N = 100, S = 28 };
    static float images[N * S * S];
    /* image i is uniform at a value that maps to byte i + 100 on the [-1, 1] scale, except for a
     * marker pixel at its (3, 5) that maps to 255 */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < S * S; k++) images[i * S * S + k] = ((float)(i + 100) / 255.0f) * 2.0f - 1.0f;
    for (int i = 0; i < N; i++) images[i * S * S + 5 * S + 3] = 1.0f;
    GridStyle style = {.nrow = 10, .padding = 2, .lo = -1, .hi = 1};
    Image grid;
    Error err = {0};
    assert_int_equal(grid_render(images, N, 1, S, S, &style, &grid, &err), 0);
    assert_int_equal(grid.width, 302);
    assert_int_equal(grid.height, 302);
    assert_int_equal(grid.channels, 3);
    for (int i = 0; i < N; i++) {
        int top = 2 + (i / 10) * (S + 2), left = 2 + (i % 10) * (S + 2);
        const uint8_t *corner = pixel(&grid, left, top), *last = pixel(&grid, left + S - 1, top + S - 1);
        for (int c = 0; c < 3; c++) {
            assert_int_equal(corner[c], i + 100); /* one channel written as three equal ones */
            assert_int_equal(last[c], i + 100);
            assert_int_equal(pixel(&grid, left + 3, top + 5)[c], 255);
            assert_int_equal(pixel(&grid, left - 1, top)[c], 0); /* padding */
            assert_int_equal(pixel(&grid, left, top - 1)[c], 0);
        }
    }
    for (int c = 0; c < 3; c++) assert_int_equal(pixel(&grid, 301, 301)[c], 0);
    image_free(&grid);

    /* 7 images, 3 per row: 3 rows; a grid of 64 with nrow 8 is 242 square */
    assert_int_equal(grid_render(images, 7, 1, S, S, &(GridStyle){.nrow = 3, .padding = 2, .lo = -1, .hi = 1},
                                 &grid, &err), 0);
    assert_int_equal(grid.width, 3 * 30 + 2);
    assert_int_equal(grid.height, 3 * 30 + 2);
    image_free(&grid);
    assert_int_equal(grid_render(images, 64, 1, S, S, &(GridStyle){.nrow = 8, .padding = 2, .lo = -1, .hi = 1},
                                 &grid, &err), 0);
    assert_int_equal(grid.width, 242);
    image_free(&grid);

    /* normalize: the batch's own min..max becomes 0..255; bytes are clamp(x * 255 + 0.5) truncated */
    float two[2] = {-3, 5};
    assert_int_equal(grid_render(two, 2, 1, 1, 1, &(GridStyle){.nrow = 2, .padding = 2, .normalize = true},
                                 &grid, &err), 0);
    assert_int_equal(pixel(&grid, 2, 2)[0], 0);
    assert_int_equal(pixel(&grid, 5, 2)[0], 255);
    image_free(&grid);
    float mid[1] = {0};
    assert_int_equal(grid_render(mid, 1, 1, 1, 1, &style, &grid, &err), 0);
    assert_int_equal(grid.width, 1); /* make_grid returns a single image unpadded */
    assert_int_equal(pixel(&grid, 0, 0)[0], 128);
    image_free(&grid);
}

TU_MAIN(tu_group_setup, tu_group_teardown,
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_csv_append),
        cmocka_unit_test(test_csv_single_row),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_plot),
        cmocka_unit_test(test_plot_edge_cases),
        cmocka_unit_test(test_grid_layout))
