/* The backend table: every primitive the graph's ops call, one function pointer each.
 * All tensors are contiguous row-major float32 in the backend's memory; shapes are passed
 * explicitly.  The CPU backend (kernels/cpu) is the reference; other backends must agree with
 * it within the tolerances stated in tests/.  Nothing here knows about graphs or files. */
#ifndef KERNELS_BACKEND_H
#define KERNELS_BACKEND_H

#include "kernels/activations.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Geometry of a 2-D convolution y = conv(x, w): x (N, C, H, W), w (K, C/groups, R, S),
 * y (N, K, OH, OW).  conv_transpose2d is the adjoint and reuses the same geometry with the
 * roles of x and y exchanged. */
typedef struct ConvGeom {
    int N, C, H, W;        /* input */
    int K, R, S;           /* output channels, kernel height, kernel width */
    int OH, OW;            /* output spatial size */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
} ConvGeom;

/* Activation kinds, in the order of kernels/activations.h. */
typedef enum UnaryKind {
#define ACTIVATION_KIND(KIND, ...) UNARY_##KIND,
    ACTIVATIONS(ACTIVATION_KIND)
#undef ACTIVATION_KIND
    UNARY_COUNT
} UnaryKind;

/* Geometry of 2-D pooling: x (N, C, H, W) -> y (N, C, OH, OW), a kh x kw window (taps dil
 * apart) moved by stride over x padded by pad on each side, as PyTorch's max_pool2d/avg_pool2d.
 * Average pools divide by the window's size clipped to the padded input (count_include_pad)
 * or by the number of its taps inside x (count_include_pad false). */
typedef struct PoolGeom {
    int N, C, H, W, OH, OW;
    int kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
    bool count_include_pad;
} PoolGeom;

/* Resampling of (N, C, H, W) to (N, C, OH, OW) as PyTorch's F.interpolate without antialias.
 * scale_h/scale_w are PyTorch's source step per output pixel: in/out for a given size,
 * 1/scale_factor for a given factor, (in-1)/(out-1) with align_corners (bilinear only). */
typedef enum ResizeMode { RESIZE_NEAREST, RESIZE_BILINEAR } ResizeMode;
typedef struct ResizeGeom {
    int N, C, H, W, OH, OW;
    ResizeMode mode;
    bool align_corners;
    float scale_h, scale_w;
} ResizeGeom;

/* Self-attention over `batch` independent (sample, head) blocks.  q, k, v and y each hold, per
 * block, a d x P row-major matrix (d channels of P positions; block b starts at b * d * P, so an
 * (N, heads * d, H, W) tensor is N * heads blocks as it is):
 *   y[:, i] = sum_j A[i, j] v[:, j],  A[i, :] = softmax_j(scale * q[:, i] . k[:, j]).
 * The P x P matrices A exist only in the caller's workspace. */
typedef struct AttnGeom {
    int batch, d, P;
    float scale;
} AttnGeom;

/* The scratch group_norm_backward needs: per (sample, channel), the sums of dy and dy * x. */
#define GROUP_NORM_WORK_BYTES(N, C) ((size_t)2 * (size_t)(N) * (size_t)(C) * sizeof(double))

/* Every primitive of the table: P(return type, name, (parameters)).  The table's fields, each
 * backend's prototypes (cpu_<name>, cuda_<name>) and its table rows are generated from this list,
 * so adding a primitive is its entry here and its implementation in each backend.  All tensors
 * are contiguous float32 in the backend's memory. */
#define BACKEND_PRIMITIVES(P)                                                                             \
    /* Memory.  alloc returns zeroed memory or NULL. */                                                   \
    P(void *, alloc, (size_t bytes))                                                                      \
    P(void, free, (void *ptr))                                                                            \
    P(void, upload, (float *dst, const float *host_src, size_t n)) /* host -> device */                   \
    P(void, download, (float *host_dst, const float *src, size_t n)) /* device -> host */                 \
    P(void, copy, (float *dst, const float *src, size_t n)) /* device -> device */                        \
    P(void, fill, (float *y, size_t n, float value))                                                      \
    P(void, synchronize, (void))                                                                          \
    P(void, set_threads, (int threads))                                                                   \
    /* Bytes of the level-2 caches of the threads in use, which a pass's tensors should stay near         \
     * for memory-bound kernels to run from cache; 0 where the largest passes are fastest (a GPU). */     \
    P(size_t, cache_bytes, (void))                                                                        \
    /* Asynchronous backends report failures after the call that caused them: the first one               \
     * recorded since the backend started ("file:line: call failed: reason"), or NULL (always, on         \
     * the CPU, whose primitives cannot fail). */                                                         \
    P(const char *, last_error, (void))                                                                   \
    /* What the backend runs on, as "key: value" lines (device, libraries, the kernels they chose);       \
     * threads > 0 also measures sgemm on that many threads (a fraction of a second). */                  \
    P(void, describe, (char *buf, size_t len, int threads))                                               \
    /* Row-major C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C. */                                  \
    P(void, gemm, (bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, \
        const float *B, int ldb, float beta, float *C, int ldc))                                          \
    /* Convolution.  workspace holds conv2d_workspace_bytes(g) bytes of scratch.                          \
     * forward: y = conv(x, w) (+ bias[k] when bias != NULL), y overwritten.                              \
     * backward_data: dx = conv^T(dy, w), dx overwritten.                                                 \
     * backward_filter: dw = d(conv)/dw contracted with dy, dw overwritten. */                            \
    P(size_t, conv2d_workspace_bytes, (const ConvGeom *g))                                                \
    P(void, conv2d_forward, (const ConvGeom *g, const float *x, const float *w, const float *bias,        \
        float *y, void *workspace))                                                                       \
    P(void, conv2d_backward_data, (const ConvGeom *g, const float *dy, const float *w, float *dx,         \
        void *workspace))                                                                                 \
    P(void, conv2d_backward_filter, (const ConvGeom *g, const float *x, const float *dy, float *dw,       \
        void *workspace))                                                                                 \
    /* Bias over a (outer, C, inner) layout: y[o,c,i] += b[c]; db[c] = sum_{o,i} dy[o,c,i]. */            \
    P(void, bias_add, (float *y, const float *b, int outer, int C, int inner))                            \
    P(void, bias_grad, (const float *dy, float *db, int outer, int C, int inner))                         \
    /* Batch normalisation over (N, C, inner), statistics per channel.  gamma/beta may be NULL            \
     * (affine off).  Training: writes the batch mean and 1/sqrt(var_biased + eps) to                     \
     * save_mean/save_invstd and, when running_* are not NULL, updates them with momentum using           \
     * the unbiased variance.  Evaluation normalises with the running statistics. */                      \
    P(void, batchnorm_forward_train, (const float *x, const float *gamma, const float *beta, float *y,    \
        float *save_mean, float *save_invstd, float *running_mean, float *running_var, int N, int C,      \
        int inner, float eps, float momentum))                                                            \
    P(void, batchnorm_forward_eval, (const float *x, const float *gamma, const float *beta, float *y,     \
        const float *running_mean, const float *running_var, int N, int C, int inner, float eps))         \
    /* dx, dgamma, dbeta may each be NULL when not wanted; dgamma/dbeta are overwritten. */               \
    P(void, batchnorm_backward, (const float *dy, const float *x, const float *gamma,                     \
        const float *save_mean, const float *save_invstd, float *dx, float *dgamma, float *dbeta, int N,  \
        int C, int inner))                                                                                \
    /* Elementwise.  unary: y = f(x).  unary_backward: dx = dy * f'(x) (y = f(x) is given too,            \
     * because tanh/sigmoid derive from it). */                                                           \
    P(void, unary, (UnaryKind kind, const float *x, float *y, size_t n, float alpha))                     \
    P(void, unary_backward, (UnaryKind kind, const float *x, const float *y, const float *dy, float *dx,  \
        size_t n, float alpha))                                                                           \
    /* y = alpha * a + beta * b (y may alias a or b). */                                                  \
    P(void, axpby, (size_t n, float alpha, const float *a, float beta, const float *b, float *y))         \
    /* y = a * b elementwise (y may alias). */                                                            \
    P(void, mul, (size_t n, const float *a, const float *b, float *y))                                    \
    /* y = alpha * x + beta (y may alias x). */                                                           \
    P(void, scale_shift, (size_t n, float alpha, const float *x, float beta, float *y))                   \
    /* Reductions.  sum returns the total in double precision into *out (device scalar as float           \
     * in out_dev when out_dev != NULL, and on the host via the return value). */                         \
    P(double, sum, (const float *x, size_t n))                                                            \
    P(double, sum_squares, (const float *x, size_t n))                                                    \
    /* y[0] = alpha * sum(x): a device-side scalar, so graphs need no host round trip. */                 \
    P(void, sum_to_scalar, (const float *x, size_t n, float alpha, float *y))                             \
    /* Layout. pixel_shuffle: x (N, C*r*r, H, W) -> y (N, C, H*r, W*r); unshuffle is its inverse.         \
     * copy_block: for each of `rows` rows copy `cols` floats from src + row*src_ld to                    \
     * dst + row*dst_ld (concat, slicing and their gradients). */                                         \
    P(void, pixel_shuffle, (const float *x, float *y, int N, int C, int H, int W, int r))                 \
    P(void, pixel_unshuffle, (const float *y, float *x, int N, int C, int H, int W, int r))               \
    P(void, copy_block, (float *dst, int dst_ld, const float *src, int src_ld, int rows, int cols))       \
    /* Pooling (see PoolGeom); every plane of N*C is independent.  max_pool2d_forward stores in           \
     * indices (when not NULL) each window's argmax as h*W + w within its plane: the first                \
     * maximum in window order, a NaN winning, as PyTorch's CPU kernel.  The backward                     \
     * primitives overwrite dx with the adjoint of the forward map. */                                    \
    P(void, max_pool2d_forward, (const PoolGeom *g, const float *x, float *y, int32_t *indices))          \
    P(void, max_pool2d_backward, (const PoolGeom *g, const float *dy, const int32_t *indices,             \
        float *dx))                                                                                       \
    P(void, avg_pool2d_forward, (const PoolGeom *g, const float *x, float *y))                            \
    P(void, avg_pool2d_backward, (const PoolGeom *g, const float *dy, float *dx))                         \
    /* Adaptive average pooling of `planes` H x W planes to OH x OW: output row i averages input          \
     * rows floor(i*H/OH) .. ceil((i+1)*H/OH) - 1 (columns likewise). */                                  \
    P(void, adaptive_avg_pool2d_forward, (const float *x, float *y, int planes, int H, int W, int OH,     \
        int OW))                                                                                          \
    P(void, adaptive_avg_pool2d_backward, (const float *dy, float *dx, int planes, int H, int W, int OH,  \
        int OW))                                                                                          \
    /* Resampling (see ResizeGeom); backward overwrites dx with the adjoint. */                           \
    P(void, resize_forward, (const ResizeGeom *g, const float *x, float *y))                              \
    P(void, resize_backward, (const ResizeGeom *g, const float *dy, float *dx))                           \
    /* Softmax over the middle axis of an (outer, D, inner) layout, stably (the maximum is                \
     * subtracted first): y = softmax(x), or log_softmax(x) with take_log.  backward overwrites dx        \
     * from the forward's output y and dy: dx = y (dy - sum_d dy y), or with take_log                     \
     * dx = dy - exp(y) sum_d dy. */                                                                      \
    P(void, softmax_forward, (const float *x, float *y, int outer, int D, int inner, bool take_log))      \
    P(void, softmax_backward, (const float *y, const float *dy, float *dx, int outer, int D, int inner,   \
        bool take_log))                                                                                   \
    /* Mean cross-entropy of logits (N, K) against class indices `target` (N floats), with label          \
     * smoothing s as PyTorch's F.cross_entropy: loss[0] = mean_n [-(1 - s) logp[n, t_n]                  \
     * - (s / K) sum_k logp[n, k]], a device scalar; NaN when a target is not a class index.              \
     * backward overwrites dx with dloss[0] / N * (softmax(x) - (1 - s) onehot(t) - s / K), where         \
     * dloss is a device scalar. */                                                                       \
    P(void, cross_entropy_forward, (const float *logits, const float *target, float *loss, int N, int K,  \
        float smoothing))                                                                                 \
    P(void, cross_entropy_backward, (const float *logits, const float *target, const float *dloss,        \
        float *dx, int N, int K, float smoothing))                                                        \
    /* Random numbers: counter-based (Philox4x32-10), so every backend draws the same stream for          \
     * the same (seed, offset): y[i] is element offset + i of the seed's stream, however a draw is        \
     * split into calls. */                                                                               \
    P(void, rng_uniform, (float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset))        \
    P(void, rng_normal, (float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset))      \
    /* Fused optimizer updates over n parameters (formulas as PyTorch's, see graph/optim.c). */           \
    P(void, adam_update, (float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,  \
        float beta2, float eps, float weight_decay, bool decoupled, float bias_correction1,               \
        float bias_correction2))                                                                          \
    P(void, sgd_update, (float *p, const float *g, float *buf, size_t n, float lr, float momentum,        \
        float dampening, float weight_decay, bool nesterov, bool first_step))                             \
    P(void, clamp, (float *p, size_t n, float lo, float hi))                                              \
    /* RMSprop; buf (momentum > 0) and gavg (centered) are NULL when unused. */                           \
    P(void, rmsprop_update, (float *p, const float *g, float *v, float *buf, float *gavg, size_t n,       \
        float lr, float alpha, float eps, float weight_decay, float momentum))                            \
    /* Group normalisation of (N, C, inner) in G groups of C/G channels, as PyTorch's GroupNorm:          \
     * statistics per (sample, group) over C/G x inner values (biased variance) into save_mean and        \
     * save_rstd (N * G each, 1/sqrt(var + eps)), then weight/bias per channel (NULL: affine off);        \
     * y may alias x.  backward overwrites dx, dgamma and dbeta (each may be NULL) from the saved         \
     * statistics in one pass over dy and x; `work` holds 2 N C doubles (GROUP_NORM_WORK_BYTES), the      \
     * per-(sample, channel) sums that dx and the parameters' gradients share. */                         \
    P(void, group_norm_forward, (const float *x, const float *gamma, const float *beta, float *y,         \
        float *save_mean, float *save_rstd, int N, int C, int inner, int G, float eps))                   \
    P(void, group_norm_backward, (const float *dy, const float *x, const float *gamma,                    \
        const float *save_mean, const float *save_rstd, float *dx, float *dgamma, float *dbeta,           \
        void *work, int N, int C, int inner, int G))                                                      \
    /* FiLM over (N, C, inner): y = x * (1 + scale[n * ld + c]) + shift[n * ld + c]; scale or shift       \
     * may be NULL (no scaling, no shift); y may alias x. */                                              \
    P(void, film_forward, (const float *x, const float *scale, const float *shift, float *y, int N,       \
        int C, int inner, int ld))                                                                        \
    /* Sinusoidal embedding (N, dim) of the timesteps t (N) as diffusers' get_timestep_embedding          \
     * (kernels/time_embedding.h). */                                                                     \
    P(void, time_embedding, (const float *t, float *y, int N, int dim, bool flip_sin_to_cos,              \
        float downscale_freq_shift, float scale, float max_period))                                       \
    /* Table lookup: y[n, :] = table[ids[n], :] for ids (N floats) holding row indices that the           \
     * caller has checked; backward overwrites dtable (num, dim) with the sum of the rows of dy           \
     * (N, dim) per id, in order of n. */                                                                 \
    P(void, embedding_forward, (const float *ids, const float *table, float *y, int N, int dim))          \
    P(void, embedding_backward, (const float *ids, const float *dy, float *dtable, int N, int num,        \
        int dim))                                                                                         \
    /* Self-attention (see AttnGeom).  workspace_bytes is what the backend wants for its fastest          \
     * schedule (always at least one block's 2 P^2 floats); a workspace of `bytes` >= one block           \
     * serves too, working on fewer blocks at a time.  backward recomputes A and overwrites each of       \
     * dq, dk, dv that is not NULL with the gradient of sum(y * dy):                                      \
     *   dv = dy A,  dS = A * (dy^T v - rowsum(A * dy^T v)),  dq = scale k dS^T,  dk = scale q dS. */     \
    P(size_t, attention_workspace_bytes, (const AttnGeom *g))                                             \
    P(void, attention_forward, (const AttnGeom *g, const float *q, const float *k, const float *v,        \
        float *y, void *workspace, size_t bytes))                                                         \
    P(void, attention_backward, (const AttnGeom *g, const float *q, const float *k, const float *v,       \
        const float *dy, float *dq, float *dk, float *dv, void *workspace, size_t bytes))

typedef struct Backend {
    const char *name;
#define BACKEND_FIELD(ret, fn, params) ret(*fn) params;
    BACKEND_PRIMITIVES(BACKEND_FIELD)
#undef BACKEND_FIELD
} Backend;

/* The CPU backend (always built). */
const Backend *backend_cpu(void);
/* Environment settings that the CPU backend's libraries read only when they load, with the
 * values this machine wants where the user has set none:
 *   OPENBLAS_CORETYPE, when the loaded OpenBLAS picked kernels below the CPU's vector
 *     instructions (a release older than the CPU: kernels/cpu/blas_core.h), with the library's
 *     own choice in RUNNER_OPENBLAS_DETECTED for `runner version`;
 *   GOMP_SPINCOUNT=1000 (unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set): idle OpenMP threads
 *     spin about ten microseconds, then sleep.  libgomp's default spins for up to about 0.3 s,
 *     which on cores shared with any other process made 2 threads 5 to 20 times slower than 1;
 *     sleeping at once (OMP_WAIT_POLICY=passive) made the DDPM UNet's training step 1.45x slower
 *     on a quiet machine, where its hundreds of parallel regions a step each woke sleeping
 *     threads; the short spin is as fast as spinning alone, within 5-15% of sleeping on shared
 *     cores, and cannot collapse as the long spin did (docs/BENCHMARKS.md, "Shared cores").
 * Writes at most `max` into out and returns how many; the program applies them by starting
 * again (runner/cli/main.c). */
typedef struct EnvSetting {
    const char *name, *value;
} EnvSetting;
#define OMP_SPIN_COUNT "1000"
int backend_cpu_load_time_env(EnvSetting *out, int max);
/* The CUDA backend, or NULL with a reason in `why` when not built or no device is present. */
const Backend *backend_cuda(char *why, size_t why_len);

#endif
