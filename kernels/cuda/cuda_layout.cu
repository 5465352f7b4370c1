/* Layout primitives: pixel (un)shuffle with PyTorch's index mapping and strided block copies.
 * One thread per element of the array being written, so writes are coalesced and no two
 * threads write the same place. */
#include "kernels/cuda/cuda_common.cuh"

/* y (N, C, H*r, W*r) from x (N, C*r*r, H, W):
 * y[n][c][h*r + i][w*r + j] = x[n][c*r*r + i*r + j][h][w]. */
__global__ static void pixel_shuffle_kernel(const float *x, float *y, size_t total, int C, int H,
                                            int W, int r)
{
    const size_t OH = (size_t)H * r, OW = (size_t)W * r;
    GRID_STRIDE(e, total)
    {
        size_t ow = e % OW, t = e / OW;
        size_t oh = t % OH;
        t /= OH; /* t = n * C + c */
        size_t h = oh / r, i = oh % r, w = ow / r, j = ow % r;
        y[e] = x[((t * r + i) * r + j) * H * W + h * W + w];
    }
}

/* The inverse: x (N, C*r*r, H, W) from y (N, C, H*r, W*r). */
__global__ static void pixel_unshuffle_kernel(const float *y, float *x, size_t total, int C,
                                              int H, int W, int r)
{
    const size_t OW = (size_t)W * r, rr = (size_t)r * r;
    GRID_STRIDE(e, total)
    {
        size_t w = e % W, t = e / W;
        size_t h = t % H;
        t /= H; /* t = n * C*r*r + c*r*r + i*r + j */
        size_t j = t % r, i = (t / r) % r, nc = t / rr;
        x[e] = y[(nc * H * r + h * r + i) * OW + w * r + j];
    }
}

void cuda_pixel_shuffle(const float *x, float *y, int N, int C, int H, int W, int r)
{
    const size_t total = (size_t)N * C * H * W * r * r;
    if (total == 0) return;
    pixel_shuffle_kernel<<<cuda_blocks(total), CUDA_THREADS>>>(x, y, total, C, H, W, r);
    CUDA_CHECK_LAUNCH("pixel_shuffle_kernel");
}

void cuda_pixel_unshuffle(const float *y, float *x, int N, int C, int H, int W, int r)
{
    const size_t total = (size_t)N * C * H * W * r * r;
    if (total == 0) return;
    pixel_unshuffle_kernel<<<cuda_blocks(total), CUDA_THREADS>>>(y, x, total, C, H, W, r);
    CUDA_CHECK_LAUNCH("pixel_unshuffle_kernel");
}

__global__ static void copy_block_kernel(float *dst, int dst_ld, const float *src, int src_ld,
                                         size_t total, int cols)
{
    GRID_STRIDE(e, total)
    {
        size_t row = e / cols, col = e % cols;
        dst[row * dst_ld + col] = src[row * src_ld + col];
    }
}

void cuda_copy_block(float *dst, int dst_ld, const float *src, int src_ld, int rows, int cols)
{
    if (rows <= 0 || cols <= 0) return;
    const size_t total = (size_t)rows * cols;
    copy_block_kernel<<<cuda_blocks(total), CUDA_THREADS>>>(dst, dst_ld, src, src_ld, total, cols);
    CUDA_CHECK_LAUNCH("copy_block_kernel");
}
