/* 2-D convolution as im2col + sgemm, per sample and per group.
 *   x (N, C, H, W), w (K, C/groups, R, S), y (N, K, OH, OW); Cg = C/groups, Kg = K/groups.
 *   forward:         y[n,g]  = w[g] (Kg, Cg*R*S) . col(x[n,g]) (Cg*R*S, OH*OW)
 *   backward_data:   dx[n,g] = col2im(w[g]^T . dy[n,g])
 *   backward_filter: dw[g]   = sum_n dy[n,g] . col(x[n,g])^T
 * Samples run in parallel (OpenMP), each thread with its own slice of the workspace and with
 * single-threaded BLAS calls.  Small images are processed a chunk of samples at a time (their
 * im2col matrices side by side), because a matrix product with only OH*OW = 49 columns runs
 * slower than a wider one (256 columns measured best on the reference GAN's shapes).  A 1x1 stride-1 unpadded convolution is a plain matrix
 * product on x itself, so it skips im2col. */
#include "kernels/cpu/cpu_conv_impl.h"
#include "kernels/cpu/cpu_kernels.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

typedef struct Dims {
    int Cg, Kg;      /* channels per group: input, output */
    int HW, OHW;     /* spatial sizes: input, output */
    int CRS;         /* rows of the im2col matrix: Cg * R * S */
    bool pointwise;  /* 1x1, stride 1, no padding: x is already the im2col matrix */
} Dims;

static Dims dims_of(const ConvGeom *g)
{
    Dims d;
    d.Cg = g->C / g->groups;
    d.Kg = g->K / g->groups;
    d.HW = g->H * g->W;
    d.OHW = g->OH * g->OW;
    d.CRS = d.Cg * g->R * g->S;
    d.pointwise = g->R == 1 && g->S == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_h == 0 &&
                  g->pad_w == 0 && g->OH == g->H && g->OW == g->W;
    return d;
}

/* Chunks aim at this many im2col columns (samples * OH * OW) per matrix product. */
#define CHUNK_COLS 256

/* How a call splits the batch: T threads, chunks of nb samples, and each thread's slice of the
 * workspace: nb im2col matrices, nb outputs of one group, one padded input, a private dw. */
typedef struct Split {
    int T, nb;
    size_t col, tmp, pad, dw, slice; /* floats */
} Split;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

static int chunk_target(const ConvGeom *g, const Dims *d)
{
    if (d->pointwise) return 1;
    int nb = CHUNK_COLS / (d->OHW > 0 ? d->OHW : 1);
    if (nb < 1) nb = 1;
    return nb < g->N ? nb : (g->N > 0 ? g->N : 1);
}

static Split split_for(const ConvGeom *g, const Dims *d, int T)
{
    Split s = {.T = T};
    int per_thread = (g->N + T - 1) / T;
    s.nb = chunk_target(g, d);
    if (s.nb > per_thread) s.nb = per_thread > 0 ? per_thread : 1;
    s.col = d->pointwise ? 0 : round16((size_t)s.nb * d->CRS * d->OHW);
    s.tmp = s.nb > 1 ? round16((size_t)s.nb * d->Kg * d->OHW) : 0;
    s.pad = d->pointwise ? 0 : round16((size_t)d->Cg * (g->H + 2 * g->pad_h) * (g->W + 2 * g->pad_w));
    s.dw = round16((size_t)g->K * d->CRS);
    s.slice = s.col + s.tmp + s.pad + s.dw;
    return s;
}

/* At most one thread per processor and per sample, so a workspace sized here also covers any
 * later change of the thread setting. */
static int max_threads(const ConvGeom *g)
{
    int t = omp_get_num_procs();
    if (t > g->N) t = g->N;
    return t < 1 ? 1 : t;
}

size_t conv_im2col_workspace_bytes(const ConvGeom *g)
{
    Dims d = dims_of(g);
    size_t most = 0;
    for (int T = 1; T <= max_threads(g); T++) {
        Split s = split_for(g, &d, T);
        if ((size_t)T * s.slice > most) most = (size_t)T * s.slice;
    }
    return most * sizeof(float);
}

static Split split_now(const ConvGeom *g, const Dims *d)
{
    int t = omp_get_max_threads(), cap = max_threads(g);
    return split_for(g, d, t < cap ? t : cap);
}

/* When samples run in parallel, BLAS must not start threads of its own inside each one. */
static int blas_single_begin(int threads)
{
    int prev = openblas_get_num_threads();
    if (threads > 1) openblas_set_num_threads(1);
    return prev;
}

static void blas_single_end(int threads, int prev)
{
    if (threads > 1) openblas_set_num_threads(prev);
}

/* A sample-group (Cg, H, W) with its zero padding written out, so that the im2col loops need
 * no bounds checks; without padding the input is used as it is. */
typedef struct Padded {
    const float *p;
    int Hp, Wp;
} Padded;

static Padded pad_input(const ConvGeom *g, const Dims *d, const float *x, float *buf)
{
    Padded P = {x, g->H + 2 * g->pad_h, g->W + 2 * g->pad_w};
    if (g->pad_h == 0 && g->pad_w == 0) return P;
    memset(buf, 0, (size_t)d->Cg * P.Hp * P.Wp * sizeof *buf);
    for (int c = 0; c < d->Cg; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(buf + ((size_t)c * P.Hp + h + g->pad_h) * P.Wp + g->pad_w, x + ((size_t)c * g->H + h) * g->W,
                   (size_t)g->W * sizeof *buf);
    P.p = buf;
    return P;
}

/* Rows of the im2col matrix are often short (OW = 7): a vectorised strided loop would spend its
 * time in set-up and remainder code, so strided loops stay scalar (about 1.7x faster there). */
#define SCALAR_LOOPS __attribute__((optimize("no-tree-vectorize")))

/* col (Cg*R*S rows of OH*OW values, row stride ld) from a padded sample-group. */
SCALAR_LOOPS static void im2col(const ConvGeom *g, const Dims *d, Padded P, float *col, size_t ld)
{
    const int OH = g->OH, OW = g->OW, sw = g->stride_w;
    for (int c = 0; c < d->Cg; c++)
        for (int r = 0; r < g->R; r++)
            for (int s = 0; s < g->S; s++) {
                float *out = col + ((size_t)(c * g->R + r) * g->S + s) * ld;
                const float *in = P.p + ((size_t)c * P.Hp + r * g->dil_h) * P.Wp + s * g->dil_w;
                for (int oh = 0; oh < OH; oh++, out += OW) {
                    const float *src = in + (size_t)oh * g->stride_h * P.Wp;
                    if (sw == 1)
                        memcpy(out, src, (size_t)OW * sizeof *out);
                    else
                        for (int ow = 0; ow < OW; ow++) out[ow] = src[ow * sw];
                }
            }
}

/* The adjoint of im2col: dx (Cg, H, W) = scatter-add of col, through a padded buffer when the
 * convolution pads. */
SCALAR_LOOPS static void col2im(const ConvGeom *g, const Dims *d, const float *col, size_t ld, float *dx, float *buf)
{
    const int OH = g->OH, OW = g->OW, sw = g->stride_w;
    const bool padded = g->pad_h || g->pad_w;
    const int Hp = g->H + 2 * g->pad_h, Wp = g->W + 2 * g->pad_w;
    float *acc = padded ? buf : dx;
    memset(acc, 0, (size_t)d->Cg * Hp * Wp * sizeof *acc);
    for (int c = 0; c < d->Cg; c++)
        for (int r = 0; r < g->R; r++)
            for (int s = 0; s < g->S; s++) {
                const float *in = col + ((size_t)(c * g->R + r) * g->S + s) * ld;
                float *out = acc + ((size_t)c * Hp + r * g->dil_h) * Wp + s * g->dil_w;
                for (int oh = 0; oh < OH; oh++, in += OW) {
                    float *dst = out + (size_t)oh * g->stride_h * Wp;
                    if (sw == 1) { /* long enough rows to gain from vectors, unlike strided ones */
#pragma omp simd
                        for (int ow = 0; ow < OW; ow++) dst[ow] += in[ow];
                    } else
                        for (int ow = 0; ow < OW; ow++) dst[ow * sw] += in[ow];
                }
            }
    if (!padded) return;
    for (int c = 0; c < d->Cg; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(dx + ((size_t)c * g->H + h) * g->W, buf + ((size_t)c * Hp + h + g->pad_h) * Wp + g->pad_w,
                   (size_t)g->W * sizeof *dx);
}

/* Moves group gi of samples [n0, n0+nb) between (N, K, OH*OW) and the chunk layout
 * (Kg, nb*OH*OW) in which each sample's values sit side by side. */
static void chunk_copy(const ConvGeom *g, const Dims *d, float *big, float *chunk, int n0, int nb, int gi,
                       bool to_chunk)
{
    size_t ld = (size_t)nb * d->OHW, bytes = (size_t)d->OHW * sizeof(float);
    for (int k = 0; k < d->Kg; k++)
        for (int j = 0; j < nb; j++) {
            float *b = big + ((size_t)(n0 + j) * g->K + (size_t)gi * d->Kg + k) * d->OHW;
            float *c = chunk + k * ld + (size_t)j * d->OHW;
            if (to_chunk)
                memcpy(c, b, bytes);
            else
                memcpy(b, c, bytes);
        }
}

static const float *sample_group(const float *t, const ConvGeom *g, const Dims *d, int n, int gi)
{
    return t + ((size_t)n * g->C + (size_t)gi * d->Cg) * d->HW;
}

/* The (Kg, nb*OH*OW) matrix of y or dy for a chunk: the tensor itself for one sample, else the
 * chunk buffer (filled from the tensor when `load`). */
static float *out_matrix(const ConvGeom *g, const Dims *d, float *t, float *tmp, int n0, int nb, int gi,
                         bool load)
{
    if (nb == 1) return t + ((size_t)n0 * g->K + (size_t)gi * d->Kg) * d->OHW;
    if (load) chunk_copy(g, d, t, tmp, n0, nb, gi, true);
    return tmp;
}

/* The im2col matrix of a chunk (x itself for a pointwise convolution of one sample). */
static const float *col_matrix(const ConvGeom *g, const Dims *d, const float *x, float *col, float *pad,
                               int n0, int nb, int gi)
{
    if (d->pointwise) return sample_group(x, g, d, n0, gi);
    size_t ld = (size_t)nb * d->OHW;
    for (int j = 0; j < nb; j++)
        im2col(g, d, pad_input(g, d, sample_group(x, g, d, n0 + j, gi), pad), col + (size_t)j * d->OHW, ld);
    return col;
}

static void forward_chunk(const ConvGeom *g, const Dims *d, const Split *s, float *slice, const float *x,
                          const float *w, const float *bias, float *y, int n0, int nb)
{
    float *col = slice, *tmp = slice + s->col;
    int ld = nb * d->OHW;
    for (int gi = 0; gi < g->groups; gi++) {
        const float *B = col_matrix(g, d, x, col, slice + s->col + s->tmp, n0, nb, gi);
        float *C = out_matrix(g, d, y, tmp, n0, nb, gi, false);
        cpu_gemm(false, false, d->Kg, ld, d->CRS, 1.0f, w + (size_t)gi * d->Kg * d->CRS, d->CRS, B, ld, 0.0f, C,
                 ld);
        if (nb > 1) chunk_copy(g, d, y, tmp, n0, nb, gi, false);
    }
    if (bias) cpu_bias_add(y + (size_t)n0 * g->K * d->OHW, bias, nb, g->K, d->OHW);
}

static void data_chunk(const ConvGeom *g, const Dims *d, const Split *s, float *slice, const float *dy,
                       const float *w, float *dx, int n0, int nb)
{
    float *col = slice, *tmp = slice + s->col;
    int ld = nb * d->OHW;
    for (int gi = 0; gi < g->groups; gi++) {
        const float *A = w + (size_t)gi * d->Kg * d->CRS;
        const float *B = out_matrix(g, d, (float *)dy, tmp, n0, nb, gi, true);
        if (d->pointwise) {
            float *dxg = (float *)sample_group(dx, g, d, n0, gi);
            cpu_gemm(true, false, d->Cg, d->HW, d->Kg, 1.0f, A, d->CRS, B, d->OHW, 0.0f, dxg, d->HW);
            continue;
        }
        cpu_gemm(true, false, d->CRS, ld, d->Kg, 1.0f, A, d->CRS, B, ld, 0.0f, col, ld);
        for (int j = 0; j < nb; j++) {
            float *dxg = (float *)sample_group(dx, g, d, n0 + j, gi);
            col2im(g, d, col + (size_t)j * d->OHW, (size_t)ld, dxg, slice + s->col + s->tmp);
        }
    }
}

/* acc (K, Cg*R*S) = (first ? 0 : acc) + this chunk's contribution. */
static void filter_chunk(const ConvGeom *g, const Dims *d, const Split *s, float *slice, const float *x,
                         const float *dy, float *acc, int n0, int nb, bool first)
{
    float *col = slice, *tmp = slice + s->col;
    int ld = nb * d->OHW;
    for (int gi = 0; gi < g->groups; gi++) {
        const float *A = out_matrix(g, d, (float *)dy, tmp, n0, nb, gi, true);
        const float *B = col_matrix(g, d, x, col, slice + s->col + s->tmp, n0, nb, gi);
        cpu_gemm(false, true, d->Kg, d->CRS, ld, 1.0f, A, ld, B, ld, first ? 0.0f : 1.0f,
                 acc + (size_t)gi * d->Kg * d->CRS, d->CRS);
    }
}

/* Chunks are independent in the forward and data passes, so threads take them as they come
 * (a thread that the system deschedules holds up the others less); the filter pass sums over
 * chunks, so each thread takes a fixed, equal share of samples to keep the sum's order fixed. */
static void thread_samples(const ConvGeom *g, int t, int nt, int *n0, int *n1)
{
    *n0 = (int)((long)g->N * t / nt);
    *n1 = (int)((long)g->N * (t + 1) / nt);
}

static int chunk_at(const Split *s, int n, int n1) { return n1 - n < s->nb ? n1 - n : s->nb; }

void conv_im2col_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,
                         void *workspace)
{
    const Dims d = dims_of(g);
    const Split s = split_now(g, &d);
    int prev = blas_single_begin(s.T);
#pragma omp parallel for num_threads(s.T) schedule(dynamic) if (s.T > 1)
    for (int n = 0; n < g->N; n += s.nb)
        forward_chunk(g, &d, &s, (float *)workspace + (size_t)omp_get_thread_num() * s.slice, x, w, bias, y, n,
                      chunk_at(&s, n, g->N));
    blas_single_end(s.T, prev);
}

void conv_im2col_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx, void *workspace)
{
    const Dims d = dims_of(g);
    const Split s = split_now(g, &d);
    int prev = blas_single_begin(s.T);
#pragma omp parallel for num_threads(s.T) schedule(dynamic) if (s.T > 1)
    for (int n = 0; n < g->N; n += s.nb)
        data_chunk(g, &d, &s, (float *)workspace + (size_t)omp_get_thread_num() * s.slice, dy, w, dx, n,
                   chunk_at(&s, n, g->N));
    blas_single_end(s.T, prev);
}

void conv_im2col_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw, void *workspace)
{
    const Dims d = dims_of(g);
    const Split s = split_now(g, &d);
    const size_t dw_n = (size_t)g->K * d.CRS, acc_at = s.col + s.tmp + s.pad;
    int prev = blas_single_begin(s.T);
#pragma omp parallel num_threads(s.T) if (s.T > 1)
    {
        /* Each thread sums its samples into a private dw; thread 0's is dw itself and the
         * others are added in thread order afterwards (deterministic for a given T). */
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), n0, n1;
        float *slice = (float *)workspace + (size_t)t * s.slice;
        float *acc = t == 0 ? dw : slice + acc_at;
        thread_samples(g, t, nt, &n0, &n1);
        for (int n = n0; n < n1; n += s.nb)
            filter_chunk(g, &d, &s, slice, x, dy, acc, n, chunk_at(&s, n, n1), n == n0);
        if (n0 == n1) memset(acc, 0, dw_n * sizeof *acc);
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t i = 0; i < dw_n; i++)
            for (int u = 1; u < nt; u++) dw[i] += ((float *)workspace + (size_t)u * s.slice + acc_at)[i];
    }
    blas_single_end(s.T, prev);
}
