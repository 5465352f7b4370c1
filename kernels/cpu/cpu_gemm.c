/* Matrix products through OpenBLAS (row-major).  With several threads the product is split
 * into blocks of rows or columns that run on OpenMP's threads, each a single-threaded BLAS call:
 * the convolutions already run on OpenMP's threads, and a second pool (OpenBLAS's own) would
 * spin on the same cores while the first works. */
#include "kernels/cpu/cpu_kernels.h"

#include <cblas.h>
#include <omp.h>

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PAR_MIN_MACS (1 << 18)

static void blas(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
                alpha, A, lda, B, ldb, beta, C, ldc);
}

void cpu_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* an empty sum: C = beta * C, without reading A or B */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    int T = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (T < 2 || (double)M * N * K < PAR_MIN_MACS) {
        blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Split the longer side of C into T blocks, multiples of 16 so rows stay vector-aligned. */
    bool by_rows = M >= N;
    int len = by_rows ? M : N;
    int step = ((len + T - 1) / T + 15) & ~15;
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    /* One block per iteration, not per thread: a team smaller than T (OMP_DYNAMIC, a thread
     * limit) still computes every block. */
#pragma omp parallel for num_threads(T) schedule(static)
    for (int k = 0; k < T; k++) {
        int b0 = k * step, b1 = b0 + step < len ? b0 + step : len;
        if (b0 < b1) {
            if (by_rows) /* rows b0..b1 of op(A) and C */
                blas(trans_a, trans_b, b1 - b0, N, K, alpha, trans_a ? A + b0 : A + (size_t)b0 * lda, lda, B,
                     ldb, beta, C + (size_t)b0 * ldc, ldc);
            else /* columns b0..b1 of op(B) and C */
                blas(trans_a, trans_b, M, b1 - b0, K, alpha, A, lda, trans_b ? B + (size_t)b0 * ldb : B + b0,
                     ldb, beta, C + b0, ldc);
        }
    }
    openblas_set_num_threads(prev);
}
