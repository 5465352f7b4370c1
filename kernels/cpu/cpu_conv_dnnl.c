/* 2-D convolution through oneDNN (the library PyTorch's CPU convolutions use).
 *   x (N, C, H, W), w (K, C/groups, R, S) (as oneDNN's (groups, K/groups, C/groups, R, S) when
 *   grouped), y (N, K, OH, OW), bias (K).
 * oneDNN chooses its own layouts (format "any"), usually channel-blocked ones for which its JIT
 * kernels are fastest; tensors are reordered between those and ours inside the workspace, as
 * PyTorch does for ordinary tensors.  Creating a primitive costs milliseconds, so primitives are
 * created once per (geometry, pass, bias, thread count) and kept in a list for the life of the
 * process; the thread count is part of the key because oneDNN sizes its per-thread scratch and
 * splits its work when it creates a primitive.  Results are deterministic for a given thread count
 * (oneDNN's reductions run in a fixed order), and oneDNN's OpenMP regions follow
 * omp_set_num_threads. */
#include "kernels/cpu/cpu_conv_impl.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The tensors of a pass: two inputs read and one output written (plus bias in the forward). */
enum { IN_A, IN_B, OUT, ROLES };

typedef struct Plan {
    ConvGeom g;
    ConvPass pass;
    bool bias;
    int threads;
    bool ok; /* false: oneDNN has no implementation for this case */
    dnnl_primitive_t conv;
    int arg[ROLES];                   /* DNNL_ARG_* of each role */
    dnnl_memory_desc_t user[ROLES];   /* our NCHW / OIHW layouts */
    dnnl_memory_desc_t inner[ROLES];  /* the layouts the convolution wants */
    dnnl_primitive_t reorder[ROLES];  /* user <-> inner, NULL when they agree */
    size_t offset[ROLES];             /* of each blocked copy in the workspace */
    dnnl_memory_desc_t scratch;
    size_t scratch_offset, need;      /* workspace bytes in all */
    struct Plan *next;
} Plan;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static Plan *cache;
static dnnl_engine_t engine;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static void md_nchw(dnnl_memory_desc_t *md, int N, int C, int H, int W, dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {N, C, H, W};
    dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, tag);
}

/* Weights: (K, C/groups, R, S), or (groups, K/groups, C/groups, R, S) when grouped. */
static void md_weights(dnnl_memory_desc_t *md, const ConvGeom *g, dnnl_format_tag_t tag)
{
    int Cg = g->C / g->groups, Kg = g->K / g->groups;
    if (g->groups == 1) {
        md_nchw(md, g->K, Cg, g->R, g->S, tag);
        return;
    }
    dnnl_dims_t d = {g->groups, Kg, Cg, g->R, g->S};
    dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, tag == dnnl_format_tag_any ? tag : dnnl_goihw);
}

/* Convolution descriptor of a pass on memory descriptors x, w, y (bias only forward). */
static dnnl_status_t conv_desc(dnnl_convolution_desc_t *cd, const ConvGeom *g, ConvPass pass,
                               const dnnl_memory_desc_t *x, const dnnl_memory_desc_t *w,
                               const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *y)
{
    /* oneDNN counts dilation from 0 and takes the right/bottom padding that yields OH, OW
     * (smaller than pad_h when PyTorch's output size rounds down). */
    dnnl_dims_t st = {g->stride_h, g->stride_w}, dil = {g->dil_h - 1, g->dil_w - 1};
    dnnl_dims_t pl = {g->pad_h, g->pad_w};
    dnnl_dims_t pr = {(g->OH - 1) * g->stride_h + (g->R - 1) * g->dil_h + 1 - g->H - g->pad_h,
                      (g->OW - 1) * g->stride_w + (g->S - 1) * g->dil_w + 1 - g->W - g->pad_w};
    switch (pass) {
    case CONV_FORWARD:
        return dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, x, w,
                                                          b, y, st, dil, pl, pr);
    case CONV_BACKWARD_DATA:
        return dnnl_dilated_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, x, w, y, st, dil, pl,
                                                                pr);
    default:
        return dnnl_dilated_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, x, w, NULL, y, st,
                                                                   dil, pl, pr);
    }
}

/* Roles of x, w, y in each pass, and the oneDNN argument each one is. */
static void roles_of(ConvPass pass, int *x_role, int *w_role, int *y_role, int arg[ROLES])
{
    switch (pass) {
    case CONV_FORWARD:
        *x_role = IN_A, *w_role = IN_B, *y_role = OUT;
        arg[IN_A] = DNNL_ARG_SRC, arg[IN_B] = DNNL_ARG_WEIGHTS, arg[OUT] = DNNL_ARG_DST;
        break;
    case CONV_BACKWARD_DATA:
        *y_role = IN_A, *w_role = IN_B, *x_role = OUT;
        arg[IN_A] = DNNL_ARG_DIFF_DST, arg[IN_B] = DNNL_ARG_WEIGHTS, arg[OUT] = DNNL_ARG_DIFF_SRC;
        break;
    default:
        *x_role = IN_A, *y_role = IN_B, *w_role = OUT;
        arg[IN_A] = DNNL_ARG_SRC, arg[IN_B] = DNNL_ARG_DIFF_DST, arg[OUT] = DNNL_ARG_DIFF_WEIGHTS;
        break;
    }
}

static bool make_reorder(dnnl_primitive_t *p, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                         const_dnnl_primitive_attr_t attr)
{
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, attr) != dnnl_success) return false;
    /* Reorders between these layouts need no scratchpad; refuse one that would. */
    bool ok = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) == 0 &&
              dnnl_primitive_create(p, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* Fills p (whose key is set) with primitives; p->ok stays false when oneDNN declines. */
static void plan_build(Plan *p)
{
    const ConvGeom *g = &p->g;
    dnnl_memory_desc_t any_x, any_w, any_y, bias, *b = NULL;
    md_nchw(&any_x, g->N, g->C, g->H, g->W, dnnl_format_tag_any);
    md_nchw(&any_y, g->N, g->K, g->OH, g->OW, dnnl_format_tag_any);
    md_weights(&any_w, g, dnnl_format_tag_any);
    if (p->bias) {
        dnnl_dims_t d = {g->K};
        dnnl_memory_desc_init_by_tag(&bias, 1, d, dnnl_f32, dnnl_a);
        b = &bias;
    }
    int xr, wr, yr;
    roles_of(p->pass, &xr, &wr, &yr, p->arg);
    md_nchw(&p->user[xr], g->N, g->C, g->H, g->W, dnnl_nchw);
    md_nchw(&p->user[yr], g->N, g->K, g->OH, g->OW, dnnl_nchw);
    md_weights(&p->user[wr], g, dnnl_oihw);

    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fwd = NULL, pd = NULL;
    dnnl_convolution_desc_t cd;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return;
    /* Scratch comes from the caller's workspace, never from allocations inside oneDNN. */
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success) goto done;
    /* Backward passes are created with the forward one as their hint, as oneDNN requires. */
    if (conv_desc(&cd, g, CONV_FORWARD, &any_x, &any_w, p->pass == CONV_FORWARD ? b : NULL, &any_y) != dnnl_success ||
        dnnl_primitive_desc_create(&fwd, &cd, attr, engine, NULL) != dnnl_success)
        goto done;
    if (p->pass == CONV_FORWARD) {
        pd = fwd, fwd = NULL;
    } else if (conv_desc(&cd, g, p->pass, &any_x, &any_w, NULL, &any_y) != dnnl_success ||
               dnnl_primitive_desc_create(&pd, &cd, attr, engine, fwd) != dnnl_success) {
        goto done;
    }
    size_t at = 0;
    for (int r = 0; r < ROLES; r++) {
        p->inner[r] = *dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, p->arg[r]);
        if (dnnl_memory_desc_equal(&p->inner[r], &p->user[r])) continue;
        bool ok = r == OUT ? make_reorder(&p->reorder[r], &p->inner[r], &p->user[r], NULL)
                           : make_reorder(&p->reorder[r], &p->user[r], &p->inner[r], NULL);
        if (!ok) goto done;
        p->offset[r] = at;
        at += align64(dnnl_memory_desc_get_size(&p->inner[r]));
    }
    p->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    p->scratch_offset = at;
    p->need = at + align64(dnnl_memory_desc_get_size(&p->scratch));
    p->ok = dnnl_primitive_create(&p->conv, pd) == dnnl_success;
done:
    /* A declined plan stays in the cache (so oneDNN is not asked again) without primitives. */
    for (int r = 0; r < ROLES && !p->ok; r++)
        if (p->reorder[r]) dnnl_primitive_destroy(p->reorder[r]), p->reorder[r] = NULL;
    if (fwd) dnnl_primitive_desc_destroy(fwd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
}

/* The plan for a pass at the current thread count, built on first use. */
static const Plan *plan_get(const ConvGeom *g, ConvPass pass, bool bias)
{
    int threads = omp_get_max_threads();
    pthread_mutex_lock(&cache_lock);
    Plan *p = cache;
    for (; p; p = p->next)
        if (p->pass == pass && p->bias == bias && p->threads == threads && memcmp(&p->g, g, sizeof *g) == 0) break;
    if (!p && (engine || dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success) && (p = calloc(1, sizeof *p))) {
        p->g = *g, p->pass = pass, p->bias = bias, p->threads = threads;
        plan_build(p);
        p->next = cache;
        cache = p;
    }
    pthread_mutex_unlock(&cache_lock);
    return p;
}

size_t conv_dnnl_workspace_bytes(const ConvGeom *g, ConvPass pass, bool bias)
{
    const Plan *p = plan_get(g, pass, bias);
    return p && p->ok ? (p->need ? p->need : 1) : 0;
}

static bool reorder_run(dnnl_primitive_t r, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to)
{
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(r, s, 2, a) == dnnl_success;
}

/* Runs a plan on our tensors t[role] (bias may be NULL): inputs are reordered into the
 * workspace, the convolution runs, and the output is reordered back when needed. */
static bool plan_run(const Plan *p, float *const t[ROLES], const float *bias, char *ws, size_t bytes)
{
    if (!p || !p->ok || p->need > bytes) return false;
    dnnl_stream_t s;
    if (dnnl_stream_create(&s, engine, dnnl_stream_default_flags) != dnnl_success) return false;
    dnnl_memory_t user[ROLES] = {0}, inner[ROLES] = {0}, b = NULL, scratch = NULL;
    bool ok = true;
    for (int r = 0; r < ROLES && ok; r++) {
        ok = dnnl_memory_create(&user[r], &p->user[r], engine, t[r]) == dnnl_success;
        if (ok && p->reorder[r])
            ok = dnnl_memory_create(&inner[r], &p->inner[r], engine, ws + p->offset[r]) == dnnl_success;
    }
    ok = ok && dnnl_memory_create(&scratch, &p->scratch, engine, ws + p->scratch_offset) == dnnl_success;
    if (ok && bias) {
        dnnl_dims_t d = {p->g.K};
        dnnl_memory_desc_t md;
        dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a);
        ok = dnnl_memory_create(&b, &md, engine, (void *)bias) == dnnl_success;
    }
    dnnl_exec_arg_t args[ROLES + 2];
    int n = 0;
    for (int r = 0; r < ROLES; r++) args[n++] = (dnnl_exec_arg_t){p->arg[r], inner[r] ? inner[r] : user[r]};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
    if (b) args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, b};
    for (int r = IN_A; r <= IN_B && ok; r++)
        if (p->reorder[r]) ok = reorder_run(p->reorder[r], s, user[r], inner[r]);
    ok = ok && dnnl_primitive_execute(p->conv, s, n, args) == dnnl_success;
    if (ok && p->reorder[OUT]) ok = reorder_run(p->reorder[OUT], s, inner[OUT], user[OUT]);
    ok = ok && dnnl_stream_wait(s) == dnnl_success;
    for (int r = 0; r < ROLES; r++) {
        if (user[r]) dnnl_memory_destroy(user[r]);
        if (inner[r]) dnnl_memory_destroy(inner[r]);
    }
    if (scratch) dnnl_memory_destroy(scratch);
    if (b) dnnl_memory_destroy(b);
    dnnl_stream_destroy(s);
    return ok;
}

bool conv_dnnl_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,
                       void *workspace, size_t bytes)
{
    float *t[ROLES] = {(float *)x, (float *)w, y};
    return plan_run(plan_get(g, CONV_FORWARD, bias != NULL), t, bias, workspace, bytes);
}

bool conv_dnnl_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx, void *workspace,
                             size_t bytes)
{
    float *t[ROLES] = {(float *)dy, (float *)w, dx};
    return plan_run(plan_get(g, CONV_BACKWARD_DATA, false), t, NULL, workspace, bytes);
}

bool conv_dnnl_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw, void *workspace,
                               size_t bytes)
{
    float *t[ROLES] = {(float *)x, (float *)dy, dw};
    return plan_run(plan_get(g, CONV_BACKWARD_FILTER, false), t, NULL, workspace, bytes);
}
