/* Self-attention (semantics in kernels/backend.h): per (sample, head) block, sgemms around a row
 * softmax of the P x P scores.  Blocks run on OpenMP's threads, each with its own 2 P^2 floats of
 * the workspace; with fewer blocks than threads they run one after another and each product
 * splits over the threads instead.  The products are oneDNN's sgemm, which runs on the calling
 * thread inside a parallel region and on OpenMP's threads outside one: at the UNet's 16x16
 * geometry (32 blocks, d 32, P 256, 2 threads) it took the forward from 1.30 to 1.10 ms and the
 * backward from 2.60 to 2.03 ms against OpenBLAS 0.3.21 (its packing of the P x P operand weighs
 * at d = 32).
 * The softmax's P^2 exponentials per block are what the products (2 d P^2 multiply-adds each)
 * do not hide: a libm call per score took longer than the products at d = 64, so they come from
 * kf_exp_nonpositive (kernels/exp_nonpositive.h), plain arithmetic that the compiler vectorises. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/exp_nonpositive.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>

/* Each of the P rows of s (P x P) replaced by its softmax; a row holding NaN (or +inf, or only
 * -inf) becomes NaN, as the maximum subtracted first leaves NaN in it. */
CPU_HOT static void softmax_rows(float *s, int P)
{
#pragma omp parallel for if (!omp_in_parallel() && (int64_t)P * P >= 65536)
    for (int i = 0; i < P; i++) {
        float *row = s + (size_t)i * P, m = -INFINITY;
#pragma omp simd reduction(max : m)
        for (int j = 0; j < P; j++) m = row[j] > m ? row[j] : m;
        float sum = 0.0f; /* in float vector lanes: a chain of double adds took as long as the exps */
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < P; j++) {
            row[j] = kf_exp_nonpositive(row[j] - m);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < P; j++) row[j] *= inv;
    }
}

/* g = a * (g - rowsum(a * g)) row by row: the softmax's backward from its output a. */
CPU_HOT static void softmax_grad_rows(const float *a, float *g, int P)
{
#pragma omp parallel for if (!omp_in_parallel() && (int64_t)P * P >= 65536)
    for (int i = 0; i < P; i++) {
        const float *ar = a + (size_t)i * P;
        float *gr = g + (size_t)i * P;
        float d = 0.0f;
#pragma omp simd reduction(+ : d)
        for (int j = 0; j < P; j++) d += ar[j] * gr[j];
        for (int j = 0; j < P; j++) gr[j] = ar[j] * (gr[j] - d);
    }
}

/* Row-major C = alpha op(A) op(B). */
static void block_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                       int ldb, float *C, int ldc)
{
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc);
}

/* The tensors of one call; block b of each starts at b * d * P. */
typedef struct Attn {
    const AttnGeom *g;
    const float *q, *k, *v, *dy;
    float *y, *dq, *dk, *dv;
} Attn;

static size_t slot_floats(const AttnGeom *g) { return 2 * (size_t)g->P * g->P; }

/* a = softmax(scale q^T k) of one block. */
static void block_probs(const AttnGeom *g, const float *q, const float *k, float *a)
{
    block_gemm(true, false, g->P, g->P, g->d, g->scale, q, g->P, k, g->P, a, g->P);
    softmax_rows(a, g->P);
}

static void block_forward(const Attn *t, size_t o, float *slot)
{
    const AttnGeom *g = t->g;
    block_probs(g, t->q + o, t->k + o, slot);
    block_gemm(false, true, g->d, g->P, g->P, 1.0f, t->v + o, g->P, slot, g->P, t->y + o, g->P);
}

static void block_backward(const Attn *t, size_t o, float *slot)
{
    const AttnGeom *g = t->g;
    int d = g->d, P = g->P;
    float *a = slot, *da = slot + (size_t)P * P;
    block_probs(g, t->q + o, t->k + o, a);
    if (t->dv) block_gemm(false, false, d, P, P, 1.0f, t->dy + o, P, a, P, t->dv + o, P);
    if (!t->dq && !t->dk) return;
    block_gemm(true, false, P, P, d, 1.0f, t->dy + o, P, t->v + o, P, da, P); /* dA = dy^T v */
    softmax_grad_rows(a, da, P);                                                 /* dS */
    if (t->dq) block_gemm(false, true, d, P, P, g->scale, t->k + o, P, da, P, t->dq + o, P);
    if (t->dk) block_gemm(false, false, d, P, P, g->scale, t->q + o, P, da, P, t->dk + o, P);
}

/* Runs fn on every block, as many at once as there are threads and workspace slots. */
static void run_blocks(const Attn *t, void (*fn)(const Attn *, size_t, float *), void *workspace, size_t bytes)
{
    const AttnGeom *g = t->g;
    if (g->batch <= 0 || g->P <= 0) return;
    size_t fit = bytes / (slot_floats(g) * sizeof(float));
    int T = omp_in_parallel() ? 1 : omp_get_max_threads();
    if ((size_t)T > fit) T = (int)fit;
    if (T > g->batch) T = g->batch;
    if (T < 1) T = 1; /* bytes holds one slot (kernels/backend.h) */
#pragma omp parallel for num_threads(T) schedule(static) if (T > 1)
    for (int b = 0; b < g->batch; b++)
        fn(t, (size_t)b * g->d * g->P, (float *)workspace + (size_t)omp_get_thread_num() * slot_floats(g));
}

/* One slot per processor (at most one per block), so a later cpu_set_threads finds room too. */
size_t cpu_attention_workspace_bytes(const AttnGeom *g)
{
    int slots = omp_get_num_procs();
    if (slots > g->batch) slots = g->batch;
    if (slots < 1) slots = 1;
    return (size_t)slots * slot_floats(g) * sizeof(float);
}

void cpu_attention_forward(const AttnGeom *g, const float *q, const float *k, const float *v, float *y,
                           void *workspace, size_t bytes)
{
    Attn t = {.g = g, .q = q, .k = k, .v = v, .y = y};
    run_blocks(&t, block_forward, workspace, bytes);
}

void cpu_attention_backward(const AttnGeom *g, const float *q, const float *k, const float *v, const float *dy,
                            float *dq, float *dk, float *dv, void *workspace, size_t bytes)
{
    Attn t = {.g = g, .q = q, .k = k, .v = v, .dy = dy, .dq = dq, .dk = dk, .dv = dv};
    run_blocks(&t, block_backward, workspace, bytes);
}
