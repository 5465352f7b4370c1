/* Sample grids laid out exactly like torchvision's make_grid + save_image. */
#ifndef RUNNER_SAMPLE_GRID_H
#define RUNNER_SAMPLE_GRID_H

#include "runner/io/png_image.h"

#include <stdbool.h>

typedef struct GridStyle {
    int nrow;        /* images per row */
    int padding;     /* pixels between and around images (2) */
    float lo, hi;    /* the data's value range, mapped to 0..1 (e.g. -1, 1) */
    bool normalize;  /* map the batch's own min..max to 0..1 instead (save_image(normalize=True)) */
} GridStyle;

/* images: n x C x H x W floats on the host (C = 1 or 3).  The result is RGB: a grid of n images with
 * k per row is (H + p) * ceil(n / k) + p high and (W + p) * k + p wide; image i sits at row i / k,
 * column i % k. */
int grid_render(const float *images, int n, int C, int H, int W, const GridStyle *style, Image *out,
                Error *err);

#endif
