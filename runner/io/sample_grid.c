#include "runner/io/sample_grid.h"

#include <math.h>
#include <stdlib.h>

int grid_render(const float *images, int n, int C, int H, int W, const GridStyle *style, Image *out,
                Error *err)
{
    if (n < 1 || (C != 1 && C != 3) || H < 1 || W < 1 || style->nrow < 1 || style->padding < 0)
        return err_set(err, "cannot lay out %d images of %dx%dx%d with %d per row", n, C, H, W, style->nrow);
    int k = style->nrow < n ? style->nrow : n; /* make_grid: xmaps = min(nrow, n) */
    int rows = (n + k - 1) / k, p = n == 1 ? 0 : style->padding; /* make_grid returns one image unpadded */
    out->width = (W + p) * k + p;
    out->height = (H + p) * rows + p;
    out->channels = 3;
    out->pixels = calloc((size_t)out->width * (size_t)out->height * 3, 1);
    if (!out->pixels) return err_set(err, "out of memory for a %dx%d grid", out->width, out->height);

    size_t total = (size_t)n * (size_t)C * (size_t)H * (size_t)W;
    float lo = style->lo, hi = style->hi;
    if (style->normalize) {
        lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < total; i++) {
            if (images[i] < lo) lo = images[i];
            if (images[i] > hi) hi = images[i];
        }
    }
    /* torchvision: (x - lo) / max(hi - lo, 1e-5), then bytes = clamp(x * 255 + 0.5, 0, 255) truncated. */
    float span = hi - lo > 1e-5f ? hi - lo : 1e-5f;
    for (int i = 0; i < n; i++) {
        int top = p + (i / k) * (H + p), left = p + (i % k) * (W + p);
        for (int c = 0; c < 3; c++) {
            const float *plane = images + ((size_t)i * C + (C == 1 ? 0 : c)) * (size_t)H * W;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float v = (plane[y * W + x] - lo) / span;
                    v = v < 0 ? 0 : v > 1 ? 1 : v;
                    float b = v * 255.0f + 0.5f;
                    out->pixels[((size_t)(top + y) * out->width + (left + x)) * 3 + c] =
                        (uint8_t)(b > 255.0f ? 255.0f : b);
                }
        }
    }
    return 0;
}
