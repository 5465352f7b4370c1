/* Pooling primitives with PyTorch's window rules: max (argmax kept for backward), average
 * (count_include_pad either way) and adaptive average.  Planes (N*C of them) are independent:
 * OpenMP splits them, and each backward scatters only within its own plane, so no two threads
 * write the same place. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>
#include <string.h>

/* Enough work to be worth waking the thread team. */
#define POOL_PAR(planes, per_plane) if ((size_t)(planes) * (size_t)(per_plane) > 32768)

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int max_int(int a, int b) { return a > b ? a : b; }

/* Windows are swept tap by tap over a chunk of one output row, so that the innermost loop runs
 * along the row and vectorises; per output, taps are still visited in window order (row by
 * row), which is what the max's tie rule depends on. */
#define CHUNK 256

/* Outputs k of the chunk starting at column o0 (n of them) whose tap at column offset `off`
 * (w = ow * stride + off) lies inside the input: k in [*lo, *hi). */
static inline void tap_range(int o0, int n, int off, int stride, int W, int *lo, int *hi)
{
    int first = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int last = W - 1 - off < 0 ? -1 : (W - 1 - off) / stride;
    *lo = max_int(first, o0) - o0;
    *hi = min_int(last, o0 + n - 1) - o0 + 1;
}

/* ---- max pooling ---- */

static void max_plane(const PoolGeom *g, const float *x, float *y, int32_t *idx)
{
    float m[CHUNK];
    int32_t b[CHUNK];
    for (int oh = 0; oh < g->OH; oh++)
        for (int o0 = 0; o0 < g->OW; o0 += CHUNK) {
            int n = min_int(CHUNK, g->OW - o0);
            /* PyTorch starts from -inf at the first tap: a window of -inf keeps that tap. */
            for (int k = 0; k < n; k++) m[k] = -INFINITY, b[k] = -1;
            for (int i = 0; i < g->kh; i++) {
                int h = oh * g->stride_h - g->pad_h + i * g->dil_h;
                if (h < 0 || h >= g->H) continue;
                const float *row = x + (size_t)h * g->W;
                for (int j = 0; j < g->kw; j++) {
                    int off = j * g->dil_w - g->pad_w, lo, hi, sw = g->stride_w, base = h * g->W + off;
                    tap_range(o0, n, off, sw, g->W, &lo, &hi);
                    for (int k = lo; k < hi; k++) {
                        int w = (o0 + k) * sw;
                        float v = row[w + off];
                        /* a NaN wins, as in PyTorch; bitwise ors keep the loop branch-free */
                        int take = (v > m[k]) | (v != v) | (b[k] < 0);
                        m[k] = take ? v : m[k];
                        b[k] = take ? base + w : b[k];
                    }
                }
            }
            memcpy(y + (size_t)oh * g->OW + o0, m, (size_t)n * sizeof *m);
            if (idx) memcpy(idx + (size_t)oh * g->OW + o0, b, (size_t)n * sizeof *b);
        }
}

void cpu_max_pool2d_forward(const PoolGeom *g, const float *x, float *y, int32_t *indices)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for POOL_PAR(planes, out * g->kh * g->kw)
    for (int p = 0; p < planes; p++)
        max_plane(g, x + p * in, y + p * out, indices ? indices + p * out : NULL);
}

void cpu_max_pool2d_backward(const PoolGeom *g, const float *dy, const int32_t *indices, float *dx)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for POOL_PAR(planes, in + out)
    for (int p = 0; p < planes; p++) {
        float *d = dx + p * in;
        const float *gy = dy + p * out;
        const int32_t *id = indices + p * out;
        memset(d, 0, in * sizeof *d);
        for (size_t o = 0; o < out; o++)
            if (id[o] >= 0) d[id[o]] += gy[o];
    }
}

/* ---- average pooling ---- */

/* Taps of a window along one axis inside the input, and PyTorch's count along that axis: the
 * window clipped to the padded input (count_include_pad) or to the input.  The divisor of an
 * output is the product of its two counts. */
static inline int avg_count(int o, int k, int stride, int pad, int in, bool include_pad)
{
    int s = o * stride - pad, e = min_int(s + k, in + pad);
    return include_pad ? e - s : min_int(e, in) - max_int(s, 0);
}

/* 1 / divisor of the outputs (oh, o0 .. o0+n-1). */
static void avg_inverses(const PoolGeom *g, int oh, int o0, int n, float *inv)
{
    int ch = avg_count(oh, g->kh, g->stride_h, g->pad_h, g->H, g->count_include_pad);
    for (int k = 0; k < n; k++)
        inv[k] = 1.0f / (float)(ch * avg_count(o0 + k, g->kw, g->stride_w, g->pad_w, g->W, g->count_include_pad));
}

static void avg_plane(const PoolGeom *g, const float *x, float *y)
{
    float acc[CHUNK], inv[CHUNK];
    for (int oh = 0; oh < g->OH; oh++)
        for (int o0 = 0; o0 < g->OW; o0 += CHUNK) {
            int n = min_int(CHUNK, g->OW - o0);
            memset(acc, 0, sizeof acc);
            for (int i = 0; i < g->kh; i++) {
                int h = oh * g->stride_h - g->pad_h + i;
                if (h < 0 || h >= g->H) continue;
                const float *row = x + (size_t)h * g->W;
                for (int j = 0; j < g->kw; j++) {
                    int off = j - g->pad_w, lo, hi, sw = g->stride_w;
                    tap_range(o0, n, off, sw, g->W, &lo, &hi);
                    for (int k = lo; k < hi; k++) acc[k] += row[(o0 + k) * sw + off];
                }
            }
            avg_inverses(g, oh, o0, n, inv);
            float *out = y + (size_t)oh * g->OW + o0;
            for (int k = 0; k < n; k++) out[k] = acc[k] * inv[k];
        }
}

static void avg_plane_backward(const PoolGeom *g, const float *dy, float *dx)
{
    float share[CHUNK];
    memset(dx, 0, (size_t)g->H * g->W * sizeof *dx);
    for (int oh = 0; oh < g->OH; oh++)
        for (int o0 = 0; o0 < g->OW; o0 += CHUNK) {
            int n = min_int(CHUNK, g->OW - o0);
            const float *d = dy + (size_t)oh * g->OW + o0;
            avg_inverses(g, oh, o0, n, share);
            for (int k = 0; k < n; k++) share[k] *= d[k];
            for (int i = 0; i < g->kh; i++) {
                int h = oh * g->stride_h - g->pad_h + i;
                if (h < 0 || h >= g->H) continue;
                float *row = dx + (size_t)h * g->W;
                for (int j = 0; j < g->kw; j++) {
                    int off = j - g->pad_w, lo, hi, sw = g->stride_w;
                    tap_range(o0, n, off, sw, g->W, &lo, &hi);
                    for (int k = lo; k < hi; k++) row[(o0 + k) * sw + off] += share[k];
                }
            }
        }
}

void cpu_avg_pool2d_forward(const PoolGeom *g, const float *x, float *y)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for POOL_PAR(planes, out * g->kh * g->kw)
    for (int p = 0; p < planes; p++) avg_plane(g, x + p * in, y + p * out);
}

void cpu_avg_pool2d_backward(const PoolGeom *g, const float *dy, float *dx)
{
    const int planes = g->N * g->C;
    const size_t in = (size_t)g->H * g->W, out = (size_t)g->OH * g->OW;
#pragma omp parallel for POOL_PAR(planes, in + out * g->kh * g->kw)
    for (int p = 0; p < planes; p++) avg_plane_backward(g, dy + p * out, dx + p * in);
}

/* ---- adaptive average pooling ---- */

/* Rows (or columns) of output cell i: floor(i*in/out) .. ceil((i+1)*in/out) - 1. */
static inline int adaptive_start(int i, int in, int out) { return (int)((int64_t)i * in / out); }
static inline int adaptive_end(int i, int in, int out) { return (int)(((int64_t)(i + 1) * in + out - 1) / out); }

static void adaptive_plane(const float *x, float *y, int H, int W, int OH, int OW)
{
    for (int oh = 0; oh < OH; oh++) {
        int hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
        for (int ow = 0; ow < OW; ow++) {
            int ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
            /* Full-width windows (global pooling) are one contiguous run of rows. */
            bool full = ws == 0 && we == W;
            int runs = full ? 1 : he - hs, len = full ? (he - hs) * W : we - ws;
            float s = 0.0f;
            for (int r = 0; r < runs; r++) {
                const float *run = x + (size_t)(hs + r) * W + ws;
#pragma omp simd reduction(+ : s)
                for (int i = 0; i < len; i++) s += run[i];
            }
            y[(size_t)oh * OW + ow] = s / (float)((he - hs) * (we - ws));
        }
    }
}

static void adaptive_plane_backward(const float *dy, float *dx, int H, int W, int OH, int OW)
{
    memset(dx, 0, (size_t)H * W * sizeof *dx);
    for (int oh = 0; oh < OH; oh++) {
        int hs = adaptive_start(oh, H, OH), he = adaptive_end(oh, H, OH);
        for (int ow = 0; ow < OW; ow++) {
            int ws = adaptive_start(ow, W, OW), we = adaptive_end(ow, W, OW);
            float v = dy[(size_t)oh * OW + ow] / (float)((he - hs) * (we - ws));
            for (int h = hs; h < he; h++)
                for (int w = ws; w < we; w++) dx[(size_t)h * W + w] += v;
        }
    }
}

void cpu_adaptive_avg_pool2d_forward(const float *x, float *y, int planes, int H, int W, int OH, int OW)
{
    const size_t in = (size_t)H * W, out = (size_t)OH * OW;
#pragma omp parallel for POOL_PAR(planes, in + out)
    for (int p = 0; p < planes; p++) adaptive_plane(x + p * in, y + p * out, H, W, OH, OW);
}

void cpu_adaptive_avg_pool2d_backward(const float *dy, float *dx, int planes, int H, int W, int OH, int OW)
{
    const size_t in = (size_t)H * W, out = (size_t)OH * OW;
#pragma omp parallel for POOL_PAR(planes, in + out)
    for (int p = 0; p < planes; p++) adaptive_plane_backward(dy + p * out, dx + p * in, H, W, OH, OW);
}
