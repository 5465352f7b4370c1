/* What the spec's `data:` section does to every stored example before it becomes floats, in
 * torchvision's order for PIL images: the colour conversion (PIL's convert('L') or
 * convert('RGB')), the resize (Pillow's bilinear, see resample.h; with fit crop, torchvision's
 * Resize(shorter side) then CenterCrop), then zero padding (Pad(n) with fill 0, so padded pixels
 * are the normalised range's low end).  Everything works on the stored bytes, so a dataset is
 * transformed once when it loads and every command sees the same examples. */
#ifndef RUNNER_TRANSFORM_H
#define RUNNER_TRANSFORM_H

#include "graph/error.h"
#include "runner/data/resample.h"
#include "runner/spec/spec.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct DataTransform {
    int channels;        /* 1 or 3; 0: as stored */
    int height, width;   /* the resize target; 0: the stored size */
    bool crop;           /* fit crop: scale to cover the target, keep the centre (else stretch) */
    int pad;             /* zero pixels added on every side */
} DataTransform;

/* The transform a data section asks for. */
DataTransform data_transform_of(const SpecData *cfg);
/* The shape of an example stored as c x h x w after t: out[3] = {C, H, W}. */
void data_transform_shape(const DataTransform *t, int c, int h, int w, int out[3]);
/* "1x28x28 resized to 1x32x32, padded by 2" style words for what t does ("" when nothing). */
void data_transform_describe(const DataTransform *t, char *buf, size_t len);

/* t applied to examples of one stored shape (c x h x w planes, bytes). */
typedef struct ExampleTransform {
    DataTransform t;
    int in[3], out[3];
    int mid_h, mid_w;          /* after the resize, before the crop */
    int top, left;             /* the crop's corner in the resized image */
    bool resize;
    Resampler rs;
    uint8_t *gray, *mid;       /* scratch: the converted example, one resized plane */
} ExampleTransform;

int example_transform_init(ExampleTransform *x, const DataTransform *t, int c, int h, int w, Error *err);
/* One example: src (in[0] x in[1] x in[2] bytes) to dst (out[0] x out[1] x out[2] bytes). */
void example_transform_run(ExampleTransform *x, const uint8_t *src, uint8_t *dst);
void example_transform_free(ExampleTransform *x);

#endif
