/* The data section's per-example transforms (see transform.h). */
#include "runner/data/transform.h"
#include "runner/data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DataTransform data_transform_of(const SpecData *cfg)
{
    return (DataTransform){.channels = cfg->channels, .height = (int)cfg->resize[0], .width = (int)cfg->resize[1],
                           .crop = !strcmp(cfg->fit, "crop"), .pad = cfg->pad};
}

void data_transform_shape(const DataTransform *t, int c, int h, int w, int out[3])
{
    out[0] = t->channels ? t->channels : c;
    out[1] = (t->height ? t->height : h) + 2 * t->pad;
    out[2] = (t->width ? t->width : w) + 2 * t->pad;
}

void data_transform_describe(const DataTransform *t, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    if (t->channels && n < len)
        n += (size_t)snprintf(buf + n, len - n, "converted to %s", t->channels == 1 ? "gray" : "RGB");
    if (t->height && n < len)
        n += (size_t)snprintf(buf + n, len - n, "%sresized to %dx%d with fit %s", n ? ", " : "", t->height, t->width,
                              t->crop ? "crop" : "stretch");
    if (t->pad && n < len) snprintf(buf + n, len - n, "%spadded by %d", n ? ", " : "", t->pad);
}

/* torchvision's Resize(shorter side) for a target of any aspect: the scale that makes the image
 * cover h x w, the other side truncated as torchvision computes it (int(size * long / short)). */
static void cover(int in_h, int in_w, int h, int w, int *mid_h, int *mid_w)
{
    if ((int64_t)h * in_w >= (int64_t)w * in_h) {
        *mid_h = h;
        *mid_w = (int)((double)((int64_t)h * in_w) / in_h);
    } else {
        *mid_w = w;
        *mid_h = (int)((double)((int64_t)w * in_h) / in_w);
    }
}

/* CenterCrop's offset, int(round(d / 2.0)): Python rounds halves to even. */
static int centre_offset(int d)
{
    int q = d / 2;
    return q + ((d & 1) && (q & 1));
}

int example_transform_init(ExampleTransform *x, const DataTransform *t, int c, int h, int w, Error *err)
{
    memset(x, 0, sizeof *x);
    x->t = *t;
    x->in[0] = c, x->in[1] = h, x->in[2] = w;
    data_transform_shape(t, c, h, w, x->out);
    int th = t->height ? t->height : h, tw = t->width ? t->width : w;
    x->mid_h = th, x->mid_w = tw;
    if (t->height && t->crop) cover(h, w, th, tw, &x->mid_h, &x->mid_w);
    x->top = centre_offset(x->mid_h - th);
    x->left = centre_offset(x->mid_w - tw);
    x->resize = x->mid_h != h || x->mid_w != w;
    size_t plane = (size_t)h * (size_t)w, mid = (size_t)x->mid_h * (size_t)x->mid_w;
    x->gray = malloc((size_t)x->out[0] * plane);
    x->mid = malloc(mid);
    if (!x->gray || !x->mid) err_set(err, "out of memory for a %dx%dx%d example", c, h, w);
    if (!x->gray || !x->mid || (x->resize && resampler_init(&x->rs, h, w, x->mid_h, x->mid_w, err))) {
        example_transform_free(x);
        return -1;
    }
    return 0;
}

/* PIL's convert('L') of RGB: ITU-R 601-2 luma in 16-bit fixed point, rounded. */
static uint8_t luma(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

/* The example in the output's channels (planar). */
static const uint8_t *convert(ExampleTransform *x, const uint8_t *src)
{
    int c = x->in[0], want = x->out[0];
    size_t plane = (size_t)x->in[1] * (size_t)x->in[2];
    if (c == want) return src;
    if (want == 1)
        for (size_t p = 0; p < plane; p++) x->gray[p] = luma(src[p], src[plane + p], src[2 * plane + p]);
    else
        for (int k = 0; k < want; k++) memcpy(x->gray + (size_t)k * plane, src, plane);
    return x->gray;
}

void example_transform_run(ExampleTransform *x, const uint8_t *src, uint8_t *dst)
{
    const uint8_t *conv = convert(x, src);
    int h = x->in[1], w = x->in[2], th = x->out[1] - 2 * x->t.pad, tw = x->out[2] - 2 * x->t.pad;
    int pad = x->t.pad, oh = x->out[1], ow = x->out[2];
    if (pad) memset(dst, 0, (size_t)x->out[0] * (size_t)oh * (size_t)ow);
    for (int k = 0; k < x->out[0]; k++) {
        const uint8_t *plane = conv + (size_t)k * (size_t)h * (size_t)w;
        if (x->resize) {
            resampler_run(&x->rs, plane, x->mid);
            plane = x->mid;
        }
        uint8_t *out = dst + (size_t)k * (size_t)oh * (size_t)ow;
        for (int y = 0; y < th; y++)
            memcpy(out + (size_t)(y + pad) * ow + pad, plane + (size_t)(y + x->top) * x->mid_w + x->left, (size_t)tw);
    }
}

void example_transform_free(ExampleTransform *x)
{
    resampler_free(&x->rs);
    free(x->gray);
    free(x->mid);
    memset(x, 0, sizeof *x);
}

int dataset_transform(Dataset *ds, const DataTransform *t, Error *err)
{
    ExampleTransform x;
    if (example_transform_init(&x, t, ds->c, ds->h, ds->w, err)) return -1;
    size_t in = (size_t)ds->c * ds->h * ds->w, out = (size_t)x.out[0] * x.out[1] * x.out[2];
    if (!x.resize && x.out[0] == ds->c && x.out[1] == ds->h && x.out[2] == ds->w) {
        example_transform_free(&x);
        return 0; /* nothing changes */
    }
    uint8_t *pixels = malloc((size_t)ds->n * out);
    if (!pixels) {
        example_transform_free(&x);
        return err_set(err, "out of memory for %d examples of %dx%dx%d", ds->n, x.out[0], x.out[1], x.out[2]);
    }
    for (int i = 0; i < ds->n; i++) example_transform_run(&x, ds->pixels + (size_t)i * in, pixels + (size_t)i * out);
    free(ds->pixels);
    ds->pixels = pixels;
    ds->c = x.out[0], ds->h = x.out[1], ds->w = x.out[2];
    example_transform_free(&x);
    return 0;
}
