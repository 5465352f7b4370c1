/* Bilinear resizing of 8-bit image planes exactly as Pillow 9.4's Image.resize(size, BILINEAR),
 * which is what torchvision's Resize does to the PIL images its datasets (MNIST, CIFAR10,
 * ImageFolder) return: a horizontal then a vertical pass, each a triangle filter whose support
 * grows with the reduction factor (antialiasing when shrinking, plain bilinear with half-pixel
 * centres when enlarging), weights in 22-bit fixed point, rounded to bytes between the passes. */
#ifndef RUNNER_RESAMPLE_H
#define RUNNER_RESAMPLE_H

#include "graph/error.h"

#include <stdint.h>

/* One axis: output pixel i takes the `count[i]` input pixels from `first[i]` on, with weights
 * `weight[i * taps ...]` (fixed point, summing to about 1 << 22). */
typedef struct ResampleAxis {
    int in, out, taps;
    int *first, *count;
    int32_t *weight;
} ResampleAxis;

/* Resizes in_h x in_w planes to out_h x out_w; set up once, run on any number of planes. */
typedef struct Resampler {
    int in_h, in_w, out_h, out_w;
    ResampleAxis x, y;
    uint8_t *tmp; /* the horizontal pass: in_h x out_w */
} Resampler;

int resampler_init(Resampler *r, int in_h, int in_w, int out_h, int out_w, Error *err);
/* One plane: src in_h x in_w bytes to dst out_h x out_w bytes (row-major). */
void resampler_run(Resampler *r, const uint8_t *src, uint8_t *dst);
void resampler_free(Resampler *r);

#endif
