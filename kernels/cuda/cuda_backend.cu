/* The CUDA backend: start-up (device check, cuBLAS and cuDNN handles), first-error recording,
 * device memory, and the Backend table.  Memory is plain cudaMalloc (never managed memory). */
#include "kernels/cuda/cuda_common.cuh"

#include <stdio.h>

static cublasHandle_t blas_handle;
static cudnnHandle_t dnn_handle;
static void *scratch;
static size_t scratch_bytes;
static bool have_error;
static char first_error[512];

cublasHandle_t cuda_blas(void) { return blas_handle; }
cudnnHandle_t cuda_dnn(void) { return dnn_handle; }

void cuda_record_error(const char *file, int line, const char *what, const char *detail)
{
    if (have_error) return;
    have_error = true;
    snprintf(first_error, sizeof first_error, "%s:%d: %s failed: %s", file, line, what, detail);
}

bool cuda_check_rt(cudaError_t e, const char *file, int line, const char *what)
{
    if (e == cudaSuccess) return true;
    cuda_record_error(file, line, what, cudaGetErrorString(e));
    return false;
}

bool cuda_check_blas(cublasStatus_t s, const char *file, int line, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    cuda_record_error(file, line, what, cublasGetStatusString(s));
    return false;
}

bool cuda_check_dnn(cudnnStatus_t s, const char *file, int line, const char *what)
{
    if (s == CUDNN_STATUS_SUCCESS) return true;
    cuda_record_error(file, line, what, cudnnGetErrorString(s));
    return false;
}

const char *cuda_last_error(void) { return have_error ? first_error : NULL; }

void *cuda_scratch(size_t bytes)
{
    if (bytes <= scratch_bytes) return scratch;
    size_t want = scratch_bytes * 2 > bytes ? scratch_bytes * 2 : bytes;
    /* cudaFree waits for the device, so no kernel still reads the old buffer. */
    CUDA_CHECK(cudaFree(scratch));
    scratch = NULL;
    scratch_bytes = 0;
    if (!CUDA_CHECK(cudaMalloc(&scratch, want))) {
        (void)cudaGetLastError(); /* not sticky: keep it out of later launch checks */
        scratch = NULL;
        return NULL;
    }
    scratch_bytes = want;
    return scratch;
}

void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 256; /* a valid, distinct pointer, as the CPU backend gives */
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        /* Out of memory is the caller's to report (NULL); clear it so that the next launch
         * check does not mistake it for its own failure. */
        (void)cudaGetLastError();
        return NULL;
    }
    if (!CUDA_CHECK(cudaMemset(p, 0, bytes))) {
        cudaFree(p);
        return NULL;
    }
    return p;
}

void cuda_free(void *ptr)
{
    if (ptr) CUDA_CHECK(cudaFree(ptr));
}

void cuda_upload(float *dst, const float *host_src, size_t n)
{
    if (n) CUDA_CHECK(cudaMemcpy(dst, host_src, n * sizeof(float), cudaMemcpyHostToDevice));
}

void cuda_download(float *host_dst, const float *src, size_t n)
{
    if (n) CUDA_CHECK(cudaMemcpy(host_dst, src, n * sizeof(float), cudaMemcpyDeviceToHost));
}

void cuda_copy(float *dst, const float *src, size_t n)
{
    if (n == 0 || dst == src) return;
    const size_t bytes = n * sizeof(float);
    if (dst + n <= src || src + n <= dst) {
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
        return;
    }
    /* Overlapping ranges (memmove semantics): go through the scratch buffer. */
    void *tmp = cuda_scratch(bytes);
    if (!tmp) return;
    CUDA_CHECK(cudaMemcpyAsync(tmp, src, bytes, cudaMemcpyDeviceToDevice, 0));
    CUDA_CHECK(cudaMemcpyAsync(dst, tmp, bytes, cudaMemcpyDeviceToDevice, 0));
}

__global__ static void fill_kernel(float *y, size_t n, float value)
{
    GRID_STRIDE(i, n) y[i] = value;
}

void cuda_fill(float *y, size_t n, float value)
{
    if (n == 0) return;
    fill_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(y, n, value);
    CUDA_CHECK_LAUNCH("fill_kernel");
}

void cuda_synchronize(void) { CUDA_CHECK(cudaDeviceSynchronize()); }

/* The device schedules its own threads; the CPU thread count does not apply. */
void cuda_set_threads(int threads) { (void)threads; }
size_t cuda_cache_bytes(void) { return 0; } /* a GPU is fastest on the largest passes */

/* The device and the libraries' versions; sgemm is not measured here (the CPU figure is the one
 * that can silently be slow). */
void cuda_describe(char *buf, size_t len, int threads)
{
    (void)threads;
    cudaDeviceProp prop;
    int device = 0, runtime = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        snprintf(buf, len, "cuda: no device");
        return;
    }
    cudaRuntimeGetVersion(&runtime);
    snprintf(buf, len, "cuda: %s (compute %d.%d, %.0f GiB), runtime %d.%d, cuDNN %zu", prop.name, prop.major,
             prop.minor, (double)prop.totalGlobalMem / (1u << 30), runtime / 1000, runtime % 1000 / 10,
             cudnnGetVersion());
}

static Backend table;

static void fill_table(void)
{
    table.name = "cuda";
#define CUDA_ENTRY(ret, fn, params) table.fn = cuda_##fn;
    BACKEND_PRIMITIVES(CUDA_ENTRY)
#undef CUDA_ENTRY
}

/* Returns false with a reason when no usable device or library is present. */
static bool start(char *why, size_t len)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(why, len, "no CUDA device: %s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return false;
    }
    if (count == 0) {
        snprintf(why, len, "no CUDA device: cudaGetDeviceCount found none");
        return false;
    }
    if ((e = cudaSetDevice(0)) != cudaSuccess) {
        snprintf(why, len, "CUDA device 0 unusable: %s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return false;
    }
    cublasStatus_t bs = cublasCreate(&blas_handle);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        snprintf(why, len, "cuBLAS did not start: %s", cublasGetStatusString(bs));
        return false;
    }
    cudnnStatus_t ds = cudnnCreate(&dnn_handle);
    if (ds != CUDNN_STATUS_SUCCESS) {
        snprintf(why, len, "cuDNN did not start: %s", cudnnGetErrorString(ds));
        cublasDestroy(blas_handle);
        return false;
    }
    /* Full float32 products (no TF32), so results agree with the CPU backend. */
    cublasSetMathMode(blas_handle, CUBLAS_DEFAULT_MATH);
    fill_table();
    return true;
}

extern "C" const Backend *backend_cuda(char *why, size_t why_len)
{
    static bool tried, ready;
    static char reason[256];
    if (!tried) {
        tried = true;
        ready = start(reason, sizeof reason);
    }
    if (ready) return &table;
    if (why && why_len) snprintf(why, why_len, "%s", reason);
    return NULL;
}
