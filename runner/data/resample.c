/* Pillow's bilinear resampling (libImaging/Resample.c), step for step, so bytes match. */
#include "runner/data/resample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2. */
#define WEIGHT_BITS 22

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* precompute_coeffs and normalize_coeffs_8bpc: the filter is stretched by the reduction factor
 * (never narrowed below the input's pixel), centred at each output pixel's centre mapped into the
 * input, cut at the image's edge and renormalised to sum 1, then rounded to fixed point. */
static int axis_init(ResampleAxis *a, int in, int out, Error *err)
{
    memset(a, 0, sizeof *a);
    a->in = in, a->out = out;
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 */
    a->taps = (int)ceil(support) * 2 + 1;
    a->first = malloc((size_t)out * sizeof *a->first);
    a->count = malloc((size_t)out * sizeof *a->count);
    a->weight = malloc((size_t)out * (size_t)a->taps * sizeof *a->weight);
    double *w = malloc((size_t)a->taps * sizeof *w);
    if (!a->first || !a->count || !a->weight || !w) {
        free(w);
        return err_set(err, "out of memory resizing %d to %d pixels", in, out);
    }
    for (int i = 0; i < out; i++) {
        double center = (i + 0.5) * scale, sum = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int n = hi - lo;
        for (int k = 0; k < n; k++) sum += w[k] = triangle((k + lo - center + 0.5) * (1.0 / filterscale));
        int32_t *q = a->weight + (size_t)i * (size_t)a->taps;
        for (int k = 0; k < a->taps; k++) {
            double v = k < n && sum != 0.0 ? w[k] / sum : 0.0;
            q[k] = (int32_t)(v < 0 ? -0.5 + v * (1 << WEIGHT_BITS) : 0.5 + v * (1 << WEIGHT_BITS));
        }
        a->first[i] = lo, a->count[i] = n;
    }
    free(w);
    return 0;
}

static void axis_free(ResampleAxis *a)
{
    free(a->first);
    free(a->count);
    free(a->weight);
    memset(a, 0, sizeof *a);
}

/* Pillow's clip8: the fixed-point sum (which started at one half) to a byte. */
static uint8_t clip8(int64_t sum)
{
    if (sum < 0) return 0;
    sum >>= WEIGHT_BITS;
    return (uint8_t)(sum > 255 ? 255 : sum);
}

/* Output pixel i of the axis from the samples src[0], src[stride], ... */
static uint8_t apply(const ResampleAxis *a, int i, const uint8_t *src, size_t stride)
{
    const int32_t *q = a->weight + (size_t)i * (size_t)a->taps;
    const uint8_t *s = src + (size_t)a->first[i] * stride;
    int64_t sum = 1 << (WEIGHT_BITS - 1);
    for (int k = 0; k < a->count[i]; k++) sum += (int64_t)s[(size_t)k * stride] * q[k];
    return clip8(sum);
}

int resampler_init(Resampler *r, int in_h, int in_w, int out_h, int out_w, Error *err)
{
    memset(r, 0, sizeof *r);
    r->in_h = in_h, r->in_w = in_w, r->out_h = out_h, r->out_w = out_w;
    r->tmp = malloc((size_t)in_h * (size_t)out_w);
    if (!r->tmp) return err_set(err, "out of memory resizing %dx%d images to %dx%d", in_h, in_w, out_h, out_w);
    if (axis_init(&r->x, in_w, out_w, err) || axis_init(&r->y, in_h, out_h, err)) {
        resampler_free(r);
        return -1;
    }
    return 0;
}

void resampler_run(Resampler *r, const uint8_t *src, uint8_t *dst)
{
    /* Pillow skips a pass whose size does not change (it would copy), and runs the horizontal one
     * first: its rounding to bytes is part of the result. */
    const uint8_t *mid = src;
    if (r->out_w != r->in_w) {
        for (int y = 0; y < r->in_h; y++)
            for (int x = 0; x < r->out_w; x++)
                r->tmp[(size_t)y * r->out_w + x] = apply(&r->x, x, src + (size_t)y * r->in_w, 1);
        mid = r->tmp;
    }
    if (r->out_h == r->in_h) {
        memmove(dst, mid, (size_t)r->out_h * (size_t)r->out_w);
        return;
    }
    for (int y = 0; y < r->out_h; y++)
        for (int x = 0; x < r->out_w; x++) dst[(size_t)y * r->out_w + x] = apply(&r->y, y, mid + x, (size_t)r->out_w);
}

void resampler_free(Resampler *r)
{
    axis_free(&r->x);
    axis_free(&r->y);
    free(r->tmp);
    memset(r, 0, sizeof *r);
}
