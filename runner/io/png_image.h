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
/* Reads any PNG to the 8-bit values of PIL's convert('RGB') (see png_image.c): gray kinds as one
 * channel, palette and colour kinds as RGB; the message names the path and what is wrong. */
int png_read(const char *path, Image *img, Error *err);
void image_free(Image *img);

#endif
