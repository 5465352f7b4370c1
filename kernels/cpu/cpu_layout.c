/* Layout primitives: pixel (un)shuffle with PyTorch's index mapping, and strided block copies
 * that serve concat, slicing and their gradients. */
#include "kernels/cpu/cpu_kernels.h"

#include <string.h>

/* x (N, C*r*r, H, W) -> y (N, C, H*r, W*r):
 * y[n][c][h*r + i][w*r + j] = x[n][c*r*r + i*r + j][h][w].
 * shuffle = true copies x into y, false copies y back into x (the exact inverse). */
static void shuffle_map(float *x, float *y, int N, int C, int H, int W, int r, bool shuffle)
{
    const size_t plane = (size_t)H * W, oW = (size_t)W * r;
#pragma omp parallel for collapse(2) if ((size_t)N * C * plane * r * r > 32768)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float *xc = x + ((size_t)n * C + c) * r * r * plane;
            float *yc = y + ((size_t)n * C + c) * plane * r * r;
            for (int h = 0; h < H; h++)
                for (int i = 0; i < r; i++) {
                    /* One output row gathers from r input rows; walk it in memory order. */
                    float *yrow = yc + ((size_t)h * r + i) * oW;
                    float *xrow = xc + (size_t)i * r * plane + (size_t)h * W;
                    if (r == 2) { /* the common case, unrolled so that it vectorises */
                        float *x0 = xrow, *x1 = xrow + plane;
                        if (shuffle)
                            for (int w = 0; w < W; w++) yrow[2 * w] = x0[w], yrow[2 * w + 1] = x1[w];
                        else
                            for (int w = 0; w < W; w++) x0[w] = yrow[2 * w], x1[w] = yrow[2 * w + 1];
                        continue;
                    }
                    for (int w = 0; w < W; w++)
                        for (int j = 0; j < r; j++) {
                            if (shuffle) yrow[(size_t)w * r + j] = xrow[j * plane + w];
                            else xrow[j * plane + w] = yrow[(size_t)w * r + j];
                        }
                }
        }
}

void cpu_pixel_shuffle(const float *x, float *y, int N, int C, int H, int W, int r)
{
    shuffle_map((float *)x, y, N, C, H, W, r, true); /* x is only read when shuffling */
}

void cpu_pixel_unshuffle(const float *y, float *x, int N, int C, int H, int W, int r)
{
    shuffle_map(x, (float *)y, N, C, H, W, r, false); /* y is only read when unshuffling */
}

void cpu_copy_block(float *dst, int dst_ld, const float *src, int src_ld, int rows, int cols)
{
#pragma omp parallel for if ((size_t)rows * cols > 65536)
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * dst_ld, src + (size_t)r * src_ld, (size_t)cols * sizeof *dst);
}
