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

/* cuda_<name> for every entry of BACKEND_PRIMITIVES (kernels/backend.h), one file per family:
 * cuda_backend.cu (memory, threads, errors, describe), cuda_dnn.cu (cuBLAS and cuDNN),
 * cuda_reduce.cu (bias, batch and group norm, sums in double), cuda_eltwise.cu (with FiLM),
 * cuda_layout.cu, cuda_softmax.cu, cuda_pool.cu (pooling and resampling), cuda_optim.cu,
 * cuda_rng.cu, cuda_embedding.cu, cuda_attention.cu. */
#define CUDA_PRIMITIVE(ret, fn, params) ret cuda_##fn params;
BACKEND_PRIMITIVES(CUDA_PRIMITIVE)
#undef CUDA_PRIMITIVE

#endif
