/* Pooling and resampling with the CPU backend's window and index rules (kernels/cpu/cpu_pool.c,
 * kernels/cpu/cpu_resize.c).  Forward: one thread per output element.  Backward: dx is zeroed,
 * then one thread per dy element adds its share with atomicAdd (windows overlap). */
#include "kernels/cuda/cuda_common.cuh"

#include <math.h>

__device__ static inline int first_tap(int start, int dil)
{
    return start >= 0 ? start : start + (-start + dil - 1) / dil * dil;
}

/* Elements of a window op's output (y, dy) and of its input (x, dx). */
template <typename Geom> static size_t output_elems(const Geom *g) { return (size_t)g->N * g->C * g->OH * g->OW; }
template <typename Geom> static size_t input_elems(const Geom *g) { return (size_t)g->N * g->C * g->H * g->W; }

/* kernel(args..., total) on one thread per output element, `total` of them (no launch when 0);
 * a failed launch is reported under `name`. */
template <typename Kernel, typename... Args>
static void launch_per_output(Kernel kernel, const char *name, size_t total, Args... args)
{
    if (total == 0) return;
    kernel<<<cuda_blocks(total), CUDA_THREADS>>>(args..., total);
    CUDA_CHECK_LAUNCH(name);
}

/* ---- max pooling ---- */

__global__ static void max_pool_kernel(PoolGeom g, const float *x, float *y, int32_t *idx, size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % g.OW), oh = (int)(e / g.OW % g.OH);
        const float *plane = x + e / ((size_t)g.OW * g.OH) * g.H * g.W;
        int hs = oh * g.stride_h - g.pad_h, ws = ow * g.stride_w - g.pad_w;
        int he = min(hs + (g.kh - 1) * g.dil_h + 1, g.H), we = min(ws + (g.kw - 1) * g.dil_w + 1, g.W);
        hs = first_tap(hs, g.dil_h);
        ws = first_tap(ws, g.dil_w);
        int best = hs < he && ws < we ? hs * g.W + ws : -1;
        float m = -INFINITY;
        for (int h = hs; h < he; h += g.dil_h)
            for (int w = ws; w < we; w += g.dil_w) {
                float v = plane[h * g.W + w];
                if (v > m || isnan(v)) m = v, best = h * g.W + w;
            }
        y[e] = m;
        if (idx) idx[e] = best;
    }
}

__global__ static void max_pool_backward_kernel(PoolGeom g, const float *dy, const int32_t *idx, float *dx,
                                                size_t total)
{
    GRID_STRIDE(e, total)
    {
        if (idx[e] >= 0) atomicAdd(dx + e / ((size_t)g.OW * g.OH) * g.H * g.W + idx[e], dy[e]);
    }
}

void cuda_max_pool2d_forward(const PoolGeom *g, const float *x, float *y, int32_t *indices)
{
    launch_per_output(max_pool_kernel, "max_pool_kernel", output_elems(g), *g, x, y, indices);
}

void cuda_max_pool2d_backward(const PoolGeom *g, const float *dy, const int32_t *indices, float *dx)
{
    cuda_fill(dx, input_elems(g), 0.0f);
    launch_per_output(max_pool_backward_kernel, "max_pool_backward_kernel", output_elems(g), *g, dy, indices, dx);
}

/* ---- average pooling ---- */

/* The window clipped to x and its reciprocal divisor, as avg_window in cpu_pool.c. */
__device__ static inline float avg_window(const PoolGeom &g, int oh, int ow, int *hs, int *he, int *ws, int *we)
{
    *hs = oh * g.stride_h - g.pad_h;
    *ws = ow * g.stride_w - g.pad_w;
    *he = min(*hs + g.kh, g.H + g.pad_h);
    *we = min(*ws + g.kw, g.W + g.pad_w);
    int padded = (*he - *hs) * (*we - *ws);
    *hs = max(*hs, 0), *ws = max(*ws, 0);
    *he = min(*he, g.H), *we = min(*we, g.W);
    int count = g.count_include_pad ? padded : (*he - *hs) * (*we - *ws);
    return count > 0 ? 1.0f / (float)count : 0.0f;
}

__global__ static void avg_pool_kernel(PoolGeom g, const float *x, float *y, size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % g.OW), oh = (int)(e / g.OW % g.OH), hs, he, ws, we;
        const float *plane = x + e / ((size_t)g.OW * g.OH) * g.H * g.W;
        float inv = avg_window(g, oh, ow, &hs, &he, &ws, &we), s = 0.0f;
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) s += plane[h * g.W + w];
        y[e] = s * inv;
    }
}

__global__ static void avg_pool_backward_kernel(PoolGeom g, const float *dy, float *dx, size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % g.OW), oh = (int)(e / g.OW % g.OH), hs, he, ws, we;
        float *plane = dx + e / ((size_t)g.OW * g.OH) * g.H * g.W;
        float v = dy[e] * avg_window(g, oh, ow, &hs, &he, &ws, &we);
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) atomicAdd(plane + h * g.W + w, v);
    }
}

void cuda_avg_pool2d_forward(const PoolGeom *g, const float *x, float *y)
{
    launch_per_output(avg_pool_kernel, "avg_pool_kernel", output_elems(g), *g, x, y);
}

void cuda_avg_pool2d_backward(const PoolGeom *g, const float *dy, float *dx)
{
    cuda_fill(dx, input_elems(g), 0.0f);
    launch_per_output(avg_pool_backward_kernel, "avg_pool_backward_kernel", output_elems(g), *g, dy, dx);
}

/* ---- adaptive average pooling ---- */

__global__ static void adaptive_kernel(const float *x, float *y, int H, int W, int OH, int OW, bool backward,
                                       size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % OW), oh = (int)(e / OW % OH);
        size_t plane = e / ((size_t)OW * OH) * H * W;
        int hs = (int)((long long)oh * H / OH), he = (int)(((long long)oh * H + H + OH - 1) / OH);
        int ws = (int)((long long)ow * W / OW), we = (int)(((long long)ow * W + W + OW - 1) / OW);
        float inv = 1.0f / (float)((he - hs) * (we - ws));
        if (backward) { /* x is dy, y is dx */
            float v = x[e] * inv;
            for (int h = hs; h < he; h++)
                for (int w = ws; w < we; w++) atomicAdd(y + plane + h * W + w, v);
        } else {
            float s = 0.0f;
            for (int h = hs; h < he; h++)
                for (int w = ws; w < we; w++) s += x[plane + h * W + w];
            y[e] = s * inv;
        }
    }
}

void cuda_adaptive_avg_pool2d_forward(const float *x, float *y, int planes, int H, int W, int OH, int OW)
{
    launch_per_output(adaptive_kernel, "adaptive_kernel", (size_t)planes * OH * OW, x, y, H, W, OH, OW, false);
}

void cuda_adaptive_avg_pool2d_backward(const float *dy, float *dx, int planes, int H, int W, int OH, int OW)
{
    cuda_fill(dx, (size_t)planes * H * W, 0.0f);
    launch_per_output(adaptive_kernel, "adaptive_kernel", (size_t)planes * OH * OW, dy, dx, H, W, OH, OW, true);
}

/* ---- resampling ---- */

struct Tap {
    int i0, i1;
    float l0, l1;
};

/* As nearest_tap / linear_tap in cpu_resize.c. */
__device__ static inline Tap axis_tap(const ResizeGeom &g, int dst, int in, float scale)
{
    Tap t;
    if (g.mode == RESIZE_NEAREST) {
        t.i0 = t.i1 = min((int)floorf((float)dst * scale), in - 1);
        t.l0 = 1.0f, t.l1 = 0.0f;
        return t;
    }
    float src = g.align_corners ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
    src = fmaxf(src, 0.0f);
    t.i0 = min((int)src, in - 1);
    t.l1 = fminf(fmaxf(src - (float)t.i0, 0.0f), 1.0f);
    t.l0 = 1.0f - t.l1;
    t.i1 = t.i0 + (t.i0 < in - 1);
    return t;
}

__global__ static void resize_kernel(ResizeGeom g, const float *x, float *y, size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % g.OW), oh = (int)(e / g.OW % g.OH);
        const float *p = x + e / ((size_t)g.OW * g.OH) * g.H * g.W;
        Tap th = axis_tap(g, oh, g.H, g.scale_h), tw = axis_tap(g, ow, g.W, g.scale_w);
        const float *r0 = p + th.i0 * g.W, *r1 = p + th.i1 * g.W;
        if (g.mode == RESIZE_NEAREST) { /* a copy, even of infinities */
            y[e] = r0[tw.i0];
            continue;
        }
        y[e] = th.l0 * (tw.l0 * r0[tw.i0] + tw.l1 * r0[tw.i1]) + th.l1 * (tw.l0 * r1[tw.i0] + tw.l1 * r1[tw.i1]);
    }
}

__global__ static void resize_backward_kernel(ResizeGeom g, const float *dy, float *dx, size_t total)
{
    GRID_STRIDE(e, total)
    {
        int ow = (int)(e % g.OW), oh = (int)(e / g.OW % g.OH);
        float *p = dx + e / ((size_t)g.OW * g.OH) * g.H * g.W;
        Tap th = axis_tap(g, oh, g.H, g.scale_h), tw = axis_tap(g, ow, g.W, g.scale_w);
        float *r0 = p + th.i0 * g.W, *r1 = p + th.i1 * g.W;
        float a = th.l0 * dy[e], b = th.l1 * dy[e];
        atomicAdd(r0 + tw.i0, tw.l0 * a);
        if (g.mode == RESIZE_NEAREST) continue;
        atomicAdd(r0 + tw.i1, tw.l1 * a);
        atomicAdd(r1 + tw.i0, tw.l0 * b);
        atomicAdd(r1 + tw.i1, tw.l1 * b);
    }
}

void cuda_resize_forward(const ResizeGeom *g, const float *x, float *y)
{
    launch_per_output(resize_kernel, "resize_kernel", output_elems(g), *g, x, y);
}

void cuda_resize_backward(const ResizeGeom *g, const float *dy, float *dx)
{
    cuda_fill(dx, input_elems(g), 0.0f);
    launch_per_output(resize_backward_kernel, "resize_backward_kernel", output_elems(g), *g, dy, dx);
}
