/* Resampling with PyTorch's F.interpolate index rules (modes nearest and bilinear, no
 * antialias).  Each output pixel reads at most two source rows and two source columns (its
 * taps, computed once per row and per column); backward scatters dy along the same taps.
 * Planes (N*C) are independent: OpenMP splits them and each backward writes only its own
 * plane. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <string.h>

/* Source taps of one output index along one axis: value = l0 * in[i0] + l1 * in[i1]. */
typedef struct Tap {
    int i0, i1;
    float l0, l1;
} Tap;

/* PyTorch's legacy 'nearest' forward on (N, C, H, W) tensors: floor(dst * scale) in float.
 * Only where a scale_factor leaves a size unchanged (4 * 1.2 -> 4) does PyTorch disagree with
 * itself (its backward and channels-last paths copy instead); we keep one map, so backward is
 * forward's exact adjoint. */
static inline Tap nearest_tap(int dst, int in, float scale)
{
    int s = (int)floorf((float)dst * scale);
    if (s > in - 1) s = in - 1;
    return (Tap){s, s, 1.0f, 0.0f};
}

/* PyTorch's area_pixel_compute_source_index and linear weights: half-pixel centres clamped
 * at 0 (or corner-aligned), the second tap clamped to the last index. */
static inline Tap linear_tap(int dst, int in, float scale, bool align_corners)
{
    float src = align_corners ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int i0 = (int)src;
    if (i0 > in - 1) i0 = in - 1;
    float l1 = src - (float)i0;
    l1 = l1 < 0.0f ? 0.0f : l1 > 1.0f ? 1.0f : l1;
    return (Tap){i0, i0 + (i0 < in - 1), 1.0f - l1, l1};
}

static inline Tap row_tap(const ResizeGeom *g, int oh)
{
    return g->mode == RESIZE_NEAREST ? nearest_tap(oh, g->H, g->scale_h)
                                     : linear_tap(oh, g->H, g->scale_h, g->align_corners);
}

static inline Tap col_tap(const ResizeGeom *g, int ow)
{
    return g->mode == RESIZE_NEAREST ? nearest_tap(ow, g->W, g->scale_w)
                                     : linear_tap(ow, g->W, g->scale_w, g->align_corners);
}

/* Column taps are computed once per chunk of output columns and reused by every row. */
#define CHUNK 256

typedef struct ColTaps {
    int i0[CHUNK], i1[CHUNK];
    float l0[CHUNK], l1[CHUNK];
} ColTaps;

static void col_taps(const ResizeGeom *g, int o0, int n, ColTaps *c)
{
    for (int k = 0; k < n; k++) {
        Tap t = col_tap(g, o0 + k);
        c->i0[k] = t.i0, c->i1[k] = t.i1, c->l0[k] = t.l0, c->l1[k] = t.l1;
    }
}

CPU_HOT static void resize_plane(const ResizeGeom *g, const float *x, float *y)
{
    ColTaps c;
    for (int o0 = 0; o0 < g->OW; o0 += CHUNK) {
        int n = g->OW - o0 < CHUNK ? g->OW - o0 : CHUNK;
        col_taps(g, o0, n, &c);
        for (int oh = 0; oh < g->OH; oh++) {
            Tap th = row_tap(g, oh);
            const float *r0 = x + (size_t)th.i0 * g->W, *r1 = x + (size_t)th.i1 * g->W;
            float *out = y + (size_t)oh * g->OW + o0;
            if (g->mode == RESIZE_NEAREST) {
                for (int k = 0; k < n; k++) out[k] = r0[c.i0[k]];
                continue;
            }
            for (int k = 0; k < n; k++)
                out[k] = th.l0 * (c.l0[k] * r0[c.i0[k]] + c.l1[k] * r0[c.i1[k]]) +
                         th.l1 * (c.l0[k] * r1[c.i0[k]] + c.l1[k] * r1[c.i1[k]]);
        }
    }
}

CPU_HOT static void resize_plane_backward(const ResizeGeom *g, const float *dy, float *dx)
{
    ColTaps c;
    memset(dx, 0, (size_t)g->H * g->W * sizeof *dx);
    for (int o0 = 0; o0 < g->OW; o0 += CHUNK) {
        int n = g->OW - o0 < CHUNK ? g->OW - o0 : CHUNK;
        col_taps(g, o0, n, &c);
        for (int oh = 0; oh < g->OH; oh++) {
            Tap th = row_tap(g, oh);
            float *r0 = dx + (size_t)th.i0 * g->W, *r1 = dx + (size_t)th.i1 * g->W;
            const float *d = dy + (size_t)oh * g->OW + o0;
            if (g->mode == RESIZE_NEAREST) {
                for (int k = 0; k < n; k++) r0[c.i0[k]] += d[k];
                continue;
            }
            for (int k = 0; k < n; k++) {
                float a = th.l0 * d[k], b = th.l1 * d[k];
                r0[c.i0[k]] += c.l0[k] * a;
                r0[c.i1[k]] += c.l1[k] * a;
                r1[c.i0[k]] += c.l0[k] * b;
                r1[c.i1[k]] += c.l1[k] * b;
            }
        }
    }
}

void cpu_resize_forward(const ResizeGeom *g, const float *x, float *y)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for if ((size_t)planes * out > 32768)
    for (int p = 0; p < planes; p++) resize_plane(g, x + p * in, y + p * out);
}

void cpu_resize_backward(const ResizeGeom *g, const float *dy, float *dx)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for if ((size_t)planes * (in + out) > 32768)
    for (int p = 0; p < planes; p++) resize_plane_backward(g, dy + p * out, dx + p * in);
}
