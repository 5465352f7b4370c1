#include "runner/io/plot.h"
#include "runner/io/plot_font.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_SCALE 2
#define LABEL_SCALE 2
#define TICK_SCALE 1
#define TICK_LEN 5
#define TARGET_TICKS 8
#define MAX_TICKS 40
#define LINE_HALF_WIDTH 0.8 /* series lines are 1.6 pixels wide, anti-aliased */

typedef struct Rect {
    int x0, y0, x1, y1; /* pixels x0..x1-1, y0..y1-1 */
} Rect;

/* An axis from lo to hi with ticks at the multiples of step inside it. */
typedef struct Axis {
    double lo, hi, step;
    int decimals; /* digits after the point in tick labels */
} Axis;

/* matplotlib's "tab10" colours: distinct, and familiar to anyone who has read a loss plot. */
static const uint8_t palette[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
static const uint8_t white[3] = {255, 255, 255}, ink[3] = {34, 34, 34}, grid_gray[3] = {232, 232, 232},
                     frame_gray[3] = {170, 170, 170};

static void fill_rect(Image *img, int x0, int y0, int x1, int y1, const uint8_t c[3])
{
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > img->width ? img->width : x1, y1 = y1 > img->height ? img->height : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) memcpy(img->pixels + ((size_t)y * (size_t)img->width + (size_t)x) * 3, c, 3);
}

/* ---- axes and ticks (Heckbert's "nice numbers": steps of 1, 2 or 5 times a power of ten) ---- */

static double nice_step(double x)
{
    double e = floor(log10(x)), f = x / pow(10, e);
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * pow(10, e);
}

/* Range of the finite points' x (or y) values; false when there are none. */
static bool data_range(const PlotSeries *s, int n_series, bool want_x, double *lo, double *hi)
{
    *lo = DBL_MAX, *hi = -DBL_MAX;
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].xs[i]) || !isfinite(s[k].ys[i])) continue;
            double v = want_x ? s[k].xs[i] : s[k].ys[i];
            *lo = v < *lo ? v : *lo;
            *hi = v > *hi ? v : *hi;
        }
    return *lo <= *hi;
}

/* An axis covering lo..hi, widened by `pad` of the span on each side (a flat range gets some room). */
static void axis_make(bool any, double lo, double hi, double pad, Axis *a)
{
    if (!any) lo = 0, hi = 1;
    /* Keep spans finite so that every later computation stays finite. */
    lo = lo < -1e300 ? -1e300 : lo, hi = hi > 1e300 ? 1e300 : hi;
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d, hi += d;
    }
    double span = hi - lo;
    a->lo = lo - pad * span;
    a->hi = hi + pad * span;
    a->step = nice_step((a->hi - a->lo) / (TARGET_TICKS - 1));
    int d = -(int)floor(log10(a->step));
    a->decimals = d < 0 ? 0 : d;
}

/* Ticks k * step for k = first..last inside the axis. */
static int tick_range(const Axis *a, double *first)
{
    double k0 = ceil(a->lo / a->step - 1e-9), k1 = floor(a->hi / a->step + 1e-9);
    *first = k0;
    double n = k1 - k0 + 1;
    return n < 0 ? 0 : n > MAX_TICKS ? MAX_TICKS : (int)n;
}

static void tick_label(const Axis *a, double k, char *buf, size_t len)
{
    double v = k * a->step;
    if (k == 0) v = 0; /* never "-0" */
    if (fabs(v) >= 1e6 || a->step < 1e-4)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.*f", a->decimals, v);
}

static int widest_tick_label(const Axis *a)
{
    double first;
    int n = tick_range(a, &first), w = 0;
    char buf[64];
    for (int i = 0; i < n; i++) {
        tick_label(a, first + i, buf, sizeof buf);
        int tw = font_text_width(buf, TICK_SCALE);
        w = tw > w ? tw : w;
    }
    return w;
}

static double map_x(const Axis *a, const Rect *r, double x)
{
    return r->x0 + (x - a->lo) / (a->hi - a->lo) * (r->x1 - 1 - r->x0);
}

static double map_y(const Axis *a, const Rect *r, double y)
{
    return r->y1 - 1 - (y - a->lo) / (a->hi - a->lo) * (r->y1 - 1 - r->y0);
}

static void draw_axes(Image *img, const Rect *r, const Axis *ax, const Axis *ay)
{
    double first;
    char buf[64];
    int n = tick_range(ax, &first);
    for (int i = 0; i < n; i++) {
        int x = (int)lround(map_x(ax, r, (first + i) * ax->step));
        fill_rect(img, x, r->y0, x + 1, r->y1, grid_gray);
        fill_rect(img, x, r->y1, x + 1, r->y1 + TICK_LEN, ink);
        tick_label(ax, first + i, buf, sizeof buf);
        font_draw(img, x - font_text_width(buf, TICK_SCALE) / 2, r->y1 + TICK_LEN + 4, buf, TICK_SCALE, false, ink);
    }
    n = tick_range(ay, &first);
    for (int i = 0; i < n; i++) {
        int y = (int)lround(map_y(ay, r, (first + i) * ay->step));
        fill_rect(img, r->x0, y, r->x1, y + 1, grid_gray);
        fill_rect(img, r->x0 - TICK_LEN, y, r->x0, y + 1, ink);
        tick_label(ay, first + i, buf, sizeof buf);
        font_draw(img, r->x0 - TICK_LEN - 4 - font_text_width(buf, TICK_SCALE), y - FONT_CAP * TICK_SCALE / 2, buf,
                  TICK_SCALE, false, ink);
    }
}

static void draw_frame(Image *img, const Rect *r, const uint8_t c[3])
{
    fill_rect(img, r->x0 - 1, r->y0 - 1, r->x1 + 1, r->y0, c);
    fill_rect(img, r->x0 - 1, r->y1, r->x1 + 1, r->y1 + 1, c);
    fill_rect(img, r->x0 - 1, r->y0, r->x0, r->y1, c);
    fill_rect(img, r->x1, r->y0, r->x1 + 1, r->y1, c);
}

/* ---- series: anti-aliased lines into a coverage buffer over the plot area ---- */

/* Liang-Barsky: clips the segment to [x0, x1] x [y0, y1]; false when nothing is left. */
static bool clip_segment(double *ax, double *ay, double *bx, double *by, double x0, double y0, double x1, double y1)
{
    double dx = *bx - *ax, dy = *by - *ay, t0 = 0, t1 = 1;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*ax - x0, x1 - *ax, *ay - y0, y1 - *ay};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return false;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0 && t > t0) t0 = t;
        if (p[i] > 0 && t < t1) t1 = t;
    }
    if (t0 > t1) return false;
    double sx = *ax, sy = *ay;
    *ax = sx + t0 * dx, *ay = sy + t0 * dy;
    *bx = sx + t1 * dx, *by = sy + t1 * dy;
    return true;
}

/* Coverage of the pixels near segment a-b: 1 within half_width of it, fading over one pixel. */
static void cover_segment(float *cov, const Rect *r, double ax, double ay, double bx, double by, double half_width)
{
    int w = r->x1 - r->x0;
    double reach = half_width + 1;
    int px0 = (int)floor(fmin(ax, bx) - reach), px1 = (int)ceil(fmax(ax, bx) + reach);
    int py0 = (int)floor(fmin(ay, by) - reach), py1 = (int)ceil(fmax(ay, by) + reach);
    px0 = px0 < r->x0 ? r->x0 : px0, py0 = py0 < r->y0 ? r->y0 : py0;
    px1 = px1 > r->x1 - 1 ? r->x1 - 1 : px1, py1 = py1 > r->y1 - 1 ? r->y1 - 1 : py1;
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = py0; y <= py1; y++)
        for (int x = px0; x <= px1; x++) {
            double t = len2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = x - (ax + t * dx), ey = y - (ay + t * dy);
            double c = half_width + 0.5 - sqrt(ex * ex + ey * ey);
            if (c <= 0) continue;
            float *p = cov + (size_t)(y - r->y0) * (size_t)w + (size_t)(x - r->x0);
            if (c > *p) *p = (float)(c > 1 ? 1 : c);
        }
}

static void cover_series(float *cov, const Rect *r, const Axis *ax, const Axis *ay, const PlotSeries *s)
{
    double lo_x = r->x0, lo_y = r->y0, hi_x = r->x1 - 1, hi_y = r->y1 - 1;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->xs[i]) || !isfinite(s->ys[i])) continue;
        double ax0 = map_x(ax, r, s->xs[i]), ay0 = map_y(ay, r, s->ys[i]);
        bool next = i + 1 < s->n && isfinite(s->xs[i + 1]) && isfinite(s->ys[i + 1]);
        bool prev = i > 0 && isfinite(s->xs[i - 1]) && isfinite(s->ys[i - 1]);
        double bx = ax0, by = ay0, half = LINE_HALF_WIDTH;
        if (next)
            bx = map_x(ax, r, s->xs[i + 1]), by = map_y(ay, r, s->ys[i + 1]);
        else if (prev)
            continue; /* the end of a line: drawn by the segment before it */
        else
            half = 2 * LINE_HALF_WIDTH; /* a point with no neighbour: a dot */
        if (clip_segment(&ax0, &ay0, &bx, &by, lo_x, lo_y, hi_x, hi_y)) cover_segment(cov, r, ax0, ay0, bx, by, half);
    }
}

/* Blends colour c over the image where the coverage is; marks the touched pixels in `used`. */
static void composite(Image *img, const Rect *r, const float *cov, const uint8_t c[3], uint8_t *used)
{
    int w = r->x1 - r->x0;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t k = (size_t)(y - r->y0) * (size_t)w + (size_t)(x - r->x0);
            float a = cov[k];
            if (a <= 0) continue;
            uint8_t *p = img->pixels + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
            for (int ch = 0; ch < 3; ch++) p[ch] = (uint8_t)(p[ch] * (1 - a) + c[ch] * a + 0.5f);
            used[k] = 1;
        }
}

/* ---- legend: in the corner of the plot area that hides the fewest drawn pixels ---- */

static void draw_legend(Image *img, const Rect *r, const PlotSeries *s, int n_series, const uint8_t *used)
{
    int name_w = 0;
    for (int k = 0; k < n_series; k++) {
        int tw = font_text_width(s[k].name ? s[k].name : "", TICK_SCALE);
        name_w = tw > name_w ? tw : name_w;
    }
    int row_h = FONT_HEIGHT * TICK_SCALE + 5, margin = 10;
    int bw = 8 + 24 + 6 + name_w + 8, bh = 6 + n_series * row_h;
    if (bw > r->x1 - r->x0 - 2 * margin) bw = r->x1 - r->x0 - 2 * margin;
    int corners[4][2] = {{r->x1 - margin - bw, r->y0 + margin}, {r->x0 + margin, r->y0 + margin},
                         {r->x1 - margin - bw, r->y1 - margin - bh}, {r->x0 + margin, r->y1 - margin - bh}};
    int best = 0;
    long best_hidden = -1;
    for (int c = 0; c < 4; c++) {
        long hidden = 0;
        for (int y = corners[c][1]; y < corners[c][1] + bh; y++)
            for (int x = corners[c][0]; x < corners[c][0] + bw; x++)
                if (x >= r->x0 && x < r->x1 && y >= r->y0 && y < r->y1)
                    hidden += used[(size_t)(y - r->y0) * (size_t)(r->x1 - r->x0) + (size_t)(x - r->x0)];
        if (best_hidden < 0 || hidden < best_hidden) best = c, best_hidden = hidden;
    }
    int bx = corners[best][0], by = corners[best][1];
    Rect box = {bx, by, bx + bw, by + bh};
    fill_rect(img, box.x0, box.y0, box.x1, box.y1, white);
    draw_frame(img, &box, frame_gray);
    for (int k = 0; k < n_series; k++) {
        int cy = by + 3 + k * row_h + row_h / 2;
        fill_rect(img, bx + 8, cy - 1, bx + 32, cy + 1, palette[k % 10]);
        font_draw(img, bx + 38, cy - FONT_CAP * TICK_SCALE / 2 - 1, s[k].name ? s[k].name : "", TICK_SCALE, false,
                  ink);
    }
}

int plot_render(const char *title, const char *x_label, const char *y_label, const PlotSeries *series,
                int n_series, Image *img, Error *err)
{
    memset(img, 0, sizeof *img);
    if (n_series < 0) return err_set(err, "plot: %d series", n_series);
    for (int k = 0; k < n_series; k++)
        if (series[k].n < 0 || (series[k].n > 0 && (!series[k].xs || !series[k].ys)))
            return err_set(err, "plot: series %d (%s) has no data for its %d points", k,
                           series[k].name ? series[k].name : "unnamed", series[k].n);
    Axis ax, ay;
    double lo, hi;
    bool any = data_range(series, n_series, true, &lo, &hi);
    axis_make(any, lo, hi, 0, &ax);
    any = data_range(series, n_series, false, &lo, &hi);
    axis_make(any, lo, hi, 0.05, &ay);

    int label_h = FONT_HEIGHT * LABEL_SCALE, tick_h = FONT_HEIGHT * TICK_SCALE;
    Rect r;
    r.y0 = title ? 14 + FONT_HEIGHT * TITLE_SCALE + 10 : 16;
    r.x0 = 12 + (y_label ? label_h + 8 : 0) + widest_tick_label(&ay) + 4 + TICK_LEN;
    r.x1 = PLOT_WIDTH - 10 - widest_tick_label(&ax) / 2;
    r.y1 = PLOT_HEIGHT - 10 - (x_label ? label_h + 8 : 0) - tick_h - 4 - TICK_LEN;

    img->width = PLOT_WIDTH, img->height = PLOT_HEIGHT, img->channels = 3;
    size_t area = (size_t)(r.x1 - r.x0) * (size_t)(r.y1 - r.y0);
    img->pixels = malloc((size_t)PLOT_WIDTH * PLOT_HEIGHT * 3);
    float *cov = malloc(area * sizeof *cov);
    uint8_t *used = calloc(area, 1);
    if (!img->pixels || !cov || !used) {
        free(cov);
        free(used);
        image_free(img);
        return err_set(err, "plot: out of memory");
    }
    memset(img->pixels, 255, (size_t)PLOT_WIDTH * PLOT_HEIGHT * 3);

    draw_axes(img, &r, &ax, &ay);
    for (int k = 0; k < n_series; k++) {
        memset(cov, 0, area * sizeof *cov);
        cover_series(cov, &r, &ax, &ay, &series[k]);
        composite(img, &r, cov, palette[k % 10], used);
    }
    draw_frame(img, &r, ink);
    if (n_series > 0) draw_legend(img, &r, series, n_series, used);
    if (title)
        font_draw(img, (PLOT_WIDTH - font_text_width(title, TITLE_SCALE)) / 2, 14, title, TITLE_SCALE, false, ink);
    if (x_label)
        font_draw(img, (r.x0 + r.x1 - font_text_width(x_label, LABEL_SCALE)) / 2, PLOT_HEIGHT - 10 - label_h, x_label,
                  LABEL_SCALE, false, ink);
    if (y_label)
        font_draw(img, 12, (r.y0 + r.y1 - font_text_width(y_label, LABEL_SCALE)) / 2, y_label, LABEL_SCALE, true, ink);
    free(cov);
    free(used);
    return 0;
}

int plot_lines(const char *path, const char *title, const char *x_label, const char *y_label,
               const PlotSeries *series, int n_series, Error *err)
{
    Image img;
    if (plot_render(title, x_label, y_label, series, n_series, &img, err)) return err_prefix(err, "%s: ", path);
    int rc = png_write(path, &img, err);
    image_free(&img);
    return rc;
}
