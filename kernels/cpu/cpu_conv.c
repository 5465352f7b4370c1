/* The CPU backend's convolution entry points: each pass runs on oneDNN where oneDNN has a kernel
 * for it and measured faster (tests/bench/conv_bench.c, docs/BENCHMARKS.md), else on im2col +
 * OpenBLAS.  One workspace serves both: its size is the larger of their needs. */
#include "kernels/cpu/cpu_conv_impl.h"
#include "kernels/cpu/cpu_kernels.h"

#include <omp.h>

/* Which passes oneDNN runs (tests/bench/conv_bench.c on the reference GAN's, Inception-v3's and
 * the DDPM UNet's geometries, docs/BENCHMARKS.md).  oneDNN's kernels work on blocks of 16
 * channels, so a pass whose output has fewer channels per group wastes most of each block, and
 * measured slower than im2col there; the weight gradient writes a K x C matrix, blocked either
 * way, so it needs 16 of either (the UNet's 16->1 output conv: 0.79 ms against 1.51, the GAN's
 * 8->1: im2col 0.62 against 0.70).  A 1x1 unstrided unpadded convolution is one sgemm per image
 * on the tensors as they are, which beats oneDNN's copies into and out of its blocked layout
 * when the product is large (Inception's, 15 million multiply-adds per image and more), and
 * loses to oneDNN's batched kernel when it is small (the UNet's 32->32 at 16x16, 262,144 per
 * image: 0.19 ms against 0.12 per pass). */
#define POINTWISE_SGEMM_MIN_MACS (1 << 20) /* per image and group */

static bool use_dnnl(const ConvGeom *g, ConvPass pass)
{
    int k = g->K / g->groups, c = g->C / g->groups;
    bool pointwise = g->R == 1 && g->S == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_h == 0 &&
                     g->pad_w == 0;
    if (pointwise && (int64_t)k * c * g->H * g->W >= POINTWISE_SGEMM_MIN_MACS) return false;
    int out_channels = pass == CONV_BACKWARD_DATA ? c : pass == CONV_BACKWARD_FILTER && c > k ? c : k;
    return out_channels >= 16;
}

/* oneDNN's needs for the passes it runs, at the current thread count and at one thread per
 * processor, so that a later cpu_set_threads rarely finds the workspace too small (then im2col
 * runs instead). */
static size_t dnnl_bytes(const ConvGeom *g)
{
    size_t most = 0;
    int now = omp_get_max_threads(), procs = omp_get_num_procs();
    for (int i = 0; i < (procs == now ? 1 : 2); i++) {
        if (i) omp_set_num_threads(procs);
        for (ConvPass p = 0; p < CONV_PASS_COUNT; p++)
            for (int bias = 0; bias <= (p == CONV_FORWARD) && use_dnnl(g, p); bias++) {
                size_t b = conv_dnnl_workspace_bytes(g, p, bias);
                if (b > most) most = b;
            }
    }
    omp_set_num_threads(now);
    return most;
}

size_t cpu_conv2d_workspace_bytes(const ConvGeom *g)
{
    size_t a = conv_im2col_workspace_bytes(g), b = dnnl_bytes(g);
    return a > b ? a : b;
}

void cpu_conv2d_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,
                        void *workspace)
{
    if (!use_dnnl(g, CONV_FORWARD) ||
        !conv_dnnl_forward(g, x, w, bias, y, workspace, cpu_conv2d_workspace_bytes(g)))
        conv_im2col_forward(g, x, w, bias, y, workspace);
}

void cpu_conv2d_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx,
                              void *workspace)
{
    if (!use_dnnl(g, CONV_BACKWARD_DATA) ||
        !conv_dnnl_backward_data(g, dy, w, dx, workspace, cpu_conv2d_workspace_bytes(g)))
        conv_im2col_backward_data(g, dy, w, dx, workspace);
}

void cpu_conv2d_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw,
                                void *workspace)
{
    if (!use_dnnl(g, CONV_BACKWARD_FILTER) ||
        !conv_dnnl_backward_filter(g, x, dy, dw, workspace, cpu_conv2d_workspace_bytes(g)))
        conv_im2col_backward_filter(g, x, dy, dw, workspace);
}

CPU_HOT void cpu_bias_add(float *y, const float *b, int outer, int C, int inner)
{
    size_t rows = (size_t)outer * C;
#pragma omp parallel for schedule(static) if (rows * inner > 65536 && !omp_in_parallel())
    for (size_t oc = 0; oc < rows; oc++) {
        float v = b[oc % C];
        float *p = y + oc * inner;
        for (int i = 0; i < inner; i++) p[i] += v;
    }
}

CPU_HOT void cpu_bias_grad(const float *dy, float *db, int outer, int C, int inner)
{
#pragma omp parallel for schedule(static) if ((size_t)outer * C * inner > 65536)
    for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int o = 0; o < outer; o++) {
            const float *p = dy + ((size_t)o * C + c) * inner;
            float part = 0.0f; /* in vector lanes: a plain float sum may not be reordered, so it ran scalar */
#pragma omp simd reduction(+ : part)
            for (int i = 0; i < inner; i++) part += p[i];
            s += part;
        }
        db[c] = (float)s;
    }
}
