/* PNG files through libpng: 8-bit RGB writing (sample grids, plots) and reading of 8-bit gray/RGB(A)
 * images (folders of samples for FID). */
#ifndef RUNNER_PNG_IMAGE_H
#define RUNNER_PNG_IMAGE_H

#include "graph/error.h"

#include <stdint.h>

typedef struct Image {
    int width, height, channels; /* channels 1 (gray) or 3 (RGB) */
    uint8_t *pixels;             /* row-major, interleaved */
} Image;

/* Writes atomically (temporary file, then rename). */
int png_write(const char *path, const Image *img, Error *err);
/* Reads any PNG as 8-bit gray or RGB (palette, 16-bit and alpha are converted; alpha dropped). */
int png_read(const char *path, Image *img, Error *err);
void image_free(Image *img);

#endif
