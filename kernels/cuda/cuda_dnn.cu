/* Matrix products with cuBLAS and convolutions with cuDNN.
 * gemm: cuBLAS is column-major, and a row-major matrix is its column-major transpose, so
 *   C = op(A) op(B) (row-major) is computed as C^T = op(B)^T op(A)^T (column-major).
 * conv: x (N, C, H, W), w (K, C/groups, R, S), y (N, K, OH, OW), cross-correlation as PyTorch.
 *   The fastest algorithms are found once per geometry (cudnnFind*, timed on the device) and
 *   cached with their descriptors; only full float32 (FMA) algorithms are accepted, never TF32,
 *   so results agree with the CPU backend. */
#include "kernels/cuda/cuda_common.cuh"

#include <stdlib.h>
#include <string.h>

void cuda_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    CUBLAS_CHECK(cublasSgemm(cuda_blas(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda,
                             &beta, C, ldc));
}

/* The largest scratch a convolution algorithm may ask for: the graph's one shared workspace
 * is sized by the most demanding convolution. */
#define CONV_WORKSPACE_CAP ((size_t)256 << 20)

typedef struct ConvPlan {
    ConvGeom g;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t workspace; /* the most any of the three algorithms needs */
    struct ConvPlan *next;
} ConvPlan;

static ConvPlan *plans;

/* The fastest usable algorithm of a cudnnFind* search that returned `searched` and `count`
 * results (sorted fastest first): full float32 math, scratch within CONV_WORKSPACE_CAP; else
 * `fallback`. */
template <typename Perf, typename Algo>
static Algo fastest_usable(cudnnStatus_t searched, const Perf *perf, int count, Algo fallback)
{
    if (searched != CUDNN_STATUS_SUCCESS) return fallback;
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH &&
            perf[i].memory <= CONV_WORKSPACE_CAP)
            return perf[i].algo;
    return fallback;
}

/* Times the algorithms of each direction and keeps the fastest; when timing is impossible
 * (for example too little memory for its trial buffers) the implicit-GEMM algorithms, which
 * need no workspace, are used. */
static bool choose_algorithms(ConvPlan *p)
{
    cudnnHandle_t h = cuda_dnn();
    int n = 0;
    cudnnStatus_t st;
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t filt[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];

    st = cudnnFindConvolutionForwardAlgorithm(h, p->x, p->w, p->conv, p->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd);
    p->fwd = fastest_usable(st, fwd, n, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    st = cudnnFindConvolutionBackwardDataAlgorithm(h, p->w, p->y, p->conv, p->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                   &n, data);
    p->bwd_data = fastest_usable(st, data, n, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
    st = cudnnFindConvolutionBackwardFilterAlgorithm(h, p->x, p->y, p->conv, p->w,
                                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, filt);
    p->bwd_filter = fastest_usable(st, filt, n, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
    (void)cudaGetLastError(); /* a failed trial allocation inside cudnnFind* is not ours */

    /* Sizes are asked again for the chosen algorithms: the exact requirement, also for the
     * fallbacks. */
    size_t a = 0, b = 0, c = 0;
    bool ok = CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y,
                                                                  p->fwd, &a)) &&
              CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv,
                                                                       p->x, p->bwd_data, &b)) &&
              CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                  h, p->x, p->y, p->conv, p->w, p->bwd_filter, &c));
    p->workspace = a > b ? a : b;
    if (c > p->workspace) p->workspace = c;
    return ok;
}

static bool describe(ConvPlan *p)
{
    const ConvGeom *g = &p->g;
    if (!(CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x)) &&
          CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y)) &&
          CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w)) &&
          CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv))))
        return false;
    if (!(CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g->N,
                                                 g->C, g->H, g->W)) &&
          CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, g->N,
                                                 g->K, g->OH, g->OW)) &&
          CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g->K,
                                                 g->C / g->groups, g->R, g->S)) &&
          CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, g->pad_h, g->pad_w, g->stride_h,
                                                      g->stride_w, g->dil_h, g->dil_w,
                                                      CUDNN_CROSS_CORRELATION,
                                                      CUDNN_DATA_FLOAT)) &&
          CUDNN_CHECK(cudnnSetConvolutionGroupCount(p->conv, g->groups)) &&
          CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH))))
        return false;
    /* The geometry's output size must be the one cuDNN derives, or every call would fail. */
    int n, k, oh, ow;
    if (!CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &k, &oh, &ow)))
        return false;
    if (n != g->N || k != g->K || oh != g->OH || ow != g->OW) {
        cuda_record_error(__FILE__, __LINE__, "convolution geometry",
                          "output size disagrees with input, kernel, stride and padding");
        return false;
    }
    return true;
}

static void plan_destroy(ConvPlan *p)
{
    if (p->x) cudnnDestroyTensorDescriptor(p->x);
    if (p->y) cudnnDestroyTensorDescriptor(p->y);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    free(p);
}

/* The cached plan for this geometry, made on first use; NULL (error recorded) on failure. */
static ConvPlan *plan_for(const ConvGeom *g)
{
    for (ConvPlan *p = plans; p; p = p->next)
        if (memcmp(&p->g, g, sizeof *g) == 0) return p;
    ConvPlan *p = (ConvPlan *)calloc(1, sizeof *p);
    if (!p) {
        cuda_record_error(__FILE__, __LINE__, "convolution plan", "out of host memory");
        return NULL;
    }
    p->g = *g;
    if (!describe(p) || !choose_algorithms(p)) {
        plan_destroy(p);
        return NULL;
    }
    p->next = plans;
    plans = p;
    return p;
}

size_t cuda_conv2d_workspace_bytes(const ConvGeom *g)
{
    ConvPlan *p = plan_for(g);
    return p ? p->workspace : 0;
}

void cuda_conv2d_forward(const ConvGeom *g, const float *x, const float *w, const float *bias,
                         float *y, void *workspace)
{
    ConvPlan *p = plan_for(g);
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnConvolutionForward(cuda_dnn(), &one, p->x, x, p->w, w, p->conv, p->fwd,
                                        workspace, p->workspace, &zero, p->y, y));
    if (bias) cuda_bias_add(y, bias, g->N, g->K, g->OH * g->OW);
}

void cuda_conv2d_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx,
                               void *workspace)
{
    ConvPlan *p = plan_for(g);
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnConvolutionBackwardData(cuda_dnn(), &one, p->w, w, p->y, dy, p->conv,
                                             p->bwd_data, workspace, p->workspace, &zero, p->x,
                                             dx));
}

void cuda_conv2d_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw,
                                 void *workspace)
{
    ConvPlan *p = plan_for(g);
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda_dnn(), &one, p->x, x, p->y, dy, p->conv,
                                               p->bwd_filter, workspace, p->workspace, &zero,
                                               p->w, dw));
}
