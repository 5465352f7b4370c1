/* Shared by the CUDA backend's files: the library handles, first-error recording, launch
 * geometry, a reusable device scratch buffer, block reductions in double, and the prototypes
 * that cuda_backend.cu gathers into the Backend table.  All work runs on the legacy default
 * stream, so calls are ordered and synchronous copies wait for earlier kernels. */
#ifndef KERNELS_CUDA_COMMON_CUH
#define KERNELS_CUDA_COMMON_CUH

extern "C" {
#include "kernels/backend.h"
}

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

/* Errors.  Backend primitives return nothing, and CUDA reports many failures only at a later
 * call, so the first failure is kept (with where it happened) for Backend.last_error. */
void cuda_record_error(const char *file, int line, const char *what, const char *detail);
bool cuda_check_rt(cudaError_t e, const char *file, int line, const char *what);
bool cuda_check_blas(cublasStatus_t s, const char *file, int line, const char *what);
bool cuda_check_dnn(cudnnStatus_t s, const char *file, int line, const char *what);

/* Each evaluates to true on success. */
#define CUDA_CHECK(call) cuda_check_rt((call), __FILE__, __LINE__, #call)
#define CUBLAS_CHECK(call) cuda_check_blas((call), __FILE__, __LINE__, #call)
#define CUDNN_CHECK(call) cuda_check_dnn((call), __FILE__, __LINE__, #call)
/* After every kernel launch: catches bad launch configurations immediately. */
#define CUDA_CHECK_LAUNCH(name) cuda_check_rt(cudaGetLastError(), __FILE__, __LINE__, name)

/* Handles created once by backend_cuda(). */
cublasHandle_t cuda_blas(void);
cudnnHandle_t cuda_dnn(void);

/* A device buffer of at least `bytes`, owned by the backend and reused by every call (calls
 * are ordered on one stream, so one user at a time).  NULL (error recorded) on failure. */
void *cuda_scratch(size_t bytes);

/* Grid-stride loops: enough blocks to fill the device, never more than the work needs. */
#define CUDA_THREADS 256
static inline unsigned cuda_blocks(size_t n)
{
    size_t b = (n + CUDA_THREADS - 1) / CUDA_THREADS;
    if (b < 1) b = 1;
    return b > 4096 ? 4096u : (unsigned)b;
}
#define GRID_STRIDE(i, n)                                                                    \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                  \
         i += (size_t)gridDim.x * blockDim.x)

/* Sum of `v` over the block, valid in thread 0 only.  `shared` holds blockDim.x/32 doubles;
 * blockDim.x must be a multiple of 32.  Ends with a barrier, so `shared` can be reused. */
__device__ static inline double block_sum(double v, double *shared)
{
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    double total = 0.0;
    if (threadIdx.x == 0)
        for (unsigned w = 0; w < blockDim.x / 32; w++) total += shared[w];
    __syncthreads();
    return total;
}

/* cuda_backend.cu: memory */
void *cuda_alloc(size_t bytes);
void cuda_free(void *ptr);
void cuda_upload(float *dst, const float *host_src, size_t n);
void cuda_download(float *host_dst, const float *src, size_t n);
void cuda_copy(float *dst, const float *src, size_t n);
void cuda_fill(float *y, size_t n, float value);
void cuda_synchronize(void);
void cuda_set_threads(int threads);
void cuda_describe(char *buf, size_t len, int threads);
const char *cuda_last_error(void);

/* cuda_dnn.cu: cuBLAS and cuDNN */
void cuda_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);
size_t cuda_conv2d_workspace_bytes(const ConvGeom *g);
void cuda_conv2d_forward(const ConvGeom *g, const float *x, const float *w, const float *bias,
                         float *y, void *workspace);
void cuda_conv2d_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx,
                               void *workspace);
void cuda_conv2d_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw,
                                 void *workspace);

/* cuda_reduce.cu: bias, batch norm and sums (double accumulation) */
void cuda_bias_add(float *y, const float *b, int outer, int C, int inner);
void cuda_bias_grad(const float *dy, float *db, int outer, int C, int inner);
void cuda_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_invstd, float *running_mean,
                                  float *running_var, int N, int C, int inner, float eps,
                                  float momentum);
void cuda_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                 const float *running_mean, const float *running_var, int N,
                                 int C, int inner, float eps);
void cuda_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                             const float *save_mean, const float *save_invstd, float *dx,
                             float *dgamma, float *dbeta, int N, int C, int inner);
double cuda_sum(const float *x, size_t n);
double cuda_sum_squares(const float *x, size_t n);
void cuda_sum_to_scalar(const float *x, size_t n, float alpha, float *y);

/* cuda_eltwise.cu */
void cuda_unary(UnaryKind kind, const float *x, float *y, size_t n, float alpha);
void cuda_unary_backward(UnaryKind kind, const float *x, const float *y, const float *dy,
                         float *dx, size_t n, float alpha);
void cuda_axpby(size_t n, float alpha, const float *a, float beta, const float *b, float *y);
void cuda_mul(size_t n, const float *a, const float *b, float *y);
void cuda_scale_shift(size_t n, float alpha, const float *x, float beta, float *y);
void cuda_clamp(float *p, size_t n, float lo, float hi);

/* cuda_layout.cu */
void cuda_pixel_shuffle(const float *x, float *y, int N, int C, int H, int W, int r);
void cuda_pixel_unshuffle(const float *y, float *x, int N, int C, int H, int W, int r);
void cuda_copy_block(float *dst, int dst_ld, const float *src, int src_ld, int rows, int cols);

/* cuda_softmax.cu: softmax and cross-entropy */
void cuda_softmax_forward(const float *x, float *y, int outer, int D, int inner, bool take_log);
void cuda_softmax_backward(const float *y, const float *dy, float *dx, int outer, int D, int inner, bool take_log);
void cuda_cross_entropy_forward(const float *logits, const float *target, float *loss, int N, int K,
                                float smoothing);
void cuda_cross_entropy_backward(const float *logits, const float *target, const float *dloss, float *dx,
                                 int N, int K, float smoothing);

/* cuda_pool.cu: pooling and resampling */
void cuda_max_pool2d_forward(const PoolGeom *g, const float *x, float *y, int32_t *indices);
void cuda_max_pool2d_backward(const PoolGeom *g, const float *dy, const int32_t *indices, float *dx);
void cuda_avg_pool2d_forward(const PoolGeom *g, const float *x, float *y);
void cuda_avg_pool2d_backward(const PoolGeom *g, const float *dy, float *dx);
void cuda_adaptive_avg_pool2d_forward(const float *x, float *y, int planes, int H, int W, int OH, int OW);
void cuda_adaptive_avg_pool2d_backward(const float *dy, float *dx, int planes, int H, int W, int OH, int OW);
void cuda_resize_forward(const ResizeGeom *g, const float *x, float *y);
void cuda_resize_backward(const ResizeGeom *g, const float *dy, float *dx);

/* cuda_optim.cu */
void cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                      float beta1, float beta2, float eps, float weight_decay, bool decoupled,
                      float bias_correction1, float bias_correction2);
void cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                     float dampening, float weight_decay, bool nesterov, bool first_step);
void cuda_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg,
                              size_t n, float lr, float alpha, float eps, float weight_decay,
                              float momentum);

/* cuda_rng.cu */
void cuda_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset);
void cuda_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset);

#endif
