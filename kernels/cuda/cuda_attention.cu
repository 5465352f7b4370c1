/* Self-attention with the CPU backend's formulas (kernels/cpu/cpu_attention.c): cuBLAS
 * strided-batched sgemms over as many (sample, head) blocks at once as the workspace holds, and
 * the backend's own row softmax (cuda_softmax.cu, in place, one warp per row) on their P x P
 * matrices.  Row-major products go to column-major cuBLAS transposed, as cuda_gemm does. */
#include "kernels/cuda/cuda_common.cuh"

/* The most workspace asked for: the whole batch's matrices up to this, then batches of blocks. */
#define ATTENTION_WORKSPACE_CAP ((size_t)256 << 20)

static size_t slot_bytes(const AttnGeom *g) { return 2 * (size_t)g->P * g->P * sizeof(float); }

size_t cuda_attention_workspace_bytes(const AttnGeom *g)
{
    size_t slot = slot_bytes(g), n = slot ? ATTENTION_WORKSPACE_CAP / slot : 1;
    if (n > (size_t)g->batch) n = (size_t)g->batch;
    return (n < 1 ? 1 : n) * slot;
}

/* Row-major C_b = alpha op(A_b) op(B_b) for `count` blocks, strides in floats. */
static void gemm_blocks(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, long long sa,
                        const float *B, int ldb, long long sb, float *C, int ldc, long long sc, int count)
{
    const float beta = 0.0f;
    CUBLAS_CHECK(cublasSgemmStridedBatched(cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           N, M, K, &alpha, B, ldb, sb, A, lda, sa, &beta, C, ldc, sc, count));
}

/* The tensors of one call, block b of each at b * d * P, and the workspace. */
typedef struct Attn {
    const AttnGeom *g;
    const float *q, *k, *v, *dy;
    float *y, *dq, *dk, *dv;
    float *a, *da; /* the chunk's probabilities and their gradients, `per_chunk` matrices each */
} Attn;

/* a = softmax(scale q^T k) for n blocks from offset o. */
static void chunk_probs(const Attn *t, size_t o, int n)
{
    const AttnGeom *g = t->g;
    long long blk = (long long)g->d * g->P, pp = (long long)g->P * g->P;
    gemm_blocks(true, false, g->P, g->P, g->d, g->scale, t->q + o, g->P, blk, t->k + o, g->P, blk, t->a, g->P, pp, n);
    cuda_softmax_forward(t->a, t->a, n * g->P, g->P, 1, false);
}

static void chunk_forward(const Attn *t, size_t o, int n)
{
    const AttnGeom *g = t->g;
    long long blk = (long long)g->d * g->P, pp = (long long)g->P * g->P;
    chunk_probs(t, o, n);
    gemm_blocks(false, true, g->d, g->P, g->P, 1.0f, t->v + o, g->P, blk, t->a, g->P, pp, t->y + o, g->P, blk, n);
}

static void chunk_backward(const Attn *t, size_t o, int n)
{
    const AttnGeom *g = t->g;
    int d = g->d, P = g->P;
    long long blk = (long long)d * P, pp = (long long)P * P;
    chunk_probs(t, o, n);
    if (t->dv) gemm_blocks(false, false, d, P, P, 1.0f, t->dy + o, P, blk, t->a, P, pp, t->dv + o, P, blk, n);
    if (!t->dq && !t->dk) return;
    gemm_blocks(true, false, P, P, d, 1.0f, t->dy + o, P, blk, t->v + o, P, blk, t->da, P, pp, n); /* dA = dy^T v */
    cuda_softmax_backward(t->a, t->da, t->da, n * P, P, 1, false);                               /* dS */
    if (t->dq) gemm_blocks(false, true, d, P, P, g->scale, t->k + o, P, blk, t->da, P, pp, t->dq + o, P, blk, n);
    if (t->dk) gemm_blocks(false, false, d, P, P, g->scale, t->q + o, P, blk, t->da, P, pp, t->dk + o, P, blk, n);
}

/* Runs fn on the blocks in chunks of as many as the workspace holds. */
static void run_chunks(Attn *t, void (*fn)(const Attn *, size_t, int), void *workspace, size_t bytes)
{
    const AttnGeom *g = t->g;
    if (g->batch <= 0 || g->P <= 0) return;
    size_t fit = bytes / slot_bytes(g);
    if (fit < 1) {
        cuda_record_error(__FILE__, __LINE__, "attention workspace", "smaller than one block's 2 P^2 floats");
        return;
    }
    int per_chunk = fit < (size_t)g->batch ? (int)fit : g->batch;
    t->a = (float *)workspace;
    t->da = t->a + (size_t)per_chunk * g->P * g->P;
    for (int b = 0; b < g->batch; b += per_chunk)
        fn(t, (size_t)b * g->d * g->P, g->batch - b < per_chunk ? g->batch - b : per_chunk);
}

void cuda_attention_forward(const AttnGeom *g, const float *q, const float *k, const float *v, float *y,
                            void *workspace, size_t bytes)
{
    Attn t = {g, q, k, v, nullptr, y, nullptr, nullptr, nullptr, nullptr, nullptr};
    run_chunks(&t, chunk_forward, workspace, bytes);
}

void cuda_attention_backward(const AttnGeom *g, const float *q, const float *k, const float *v, const float *dy,
                             float *dq, float *dk, float *dv, void *workspace, size_t bytes)
{
    Attn t = {g, q, k, v, dy, nullptr, dq, dk, dv, nullptr, nullptr};
    run_chunks(&t, chunk_backward, workspace, bytes);
}
