/* The reverse process of the ddpm algorithm: from x_T ~ N(0, I), each step runs the sampling
 * network (the weight average when the spec keeps one) on (x_t, t) in evaluation mode and moves
 * x by diffusion_reverse_step's coefficients, entirely on the backend: predicted x_0 (clipped to
 * the data range with samples.clip, as diffusers' clip_sample), then the mean of x_prev, then the
 * step's noise.  The result is clipped to the data range, as diffusers' pipelines clamp their
 * output.  Samples are drawn in equal chunks that the training graph's memory, known to fit, holds
 * and, on a CPU, whose tensors stay near its caches (chunk_for). */
#include "runner/algo/ddpm.h"

#include "runner/algo/random_streams.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void ddpm_sampler_free(Ddpm *s)
{
    graph_free(s->sampler_g);
    s->sampler_g = NULL;
    float **buffers[] = {&s->x_cur, &s->x0_pred, &s->z};
    for (int i = 0; i < 3; i++) {
        if (*buffers[i]) s->be->free(*buffers[i]);
        *buffers[i] = NULL;
    }
    s->chunk = 0;
}

static int build_sampler(Ddpm *s, int chunk, Error *err)
{
    ddpm_sampler_free(s);
    Graph *g = s->sampler_g = graph_new(s->be);
    if (!g) return err_set(err, "out of memory");
    g->training = false; /* no dropout; normalisations on running statistics */
    Shape xs = shape_batched(chunk, &s->example), ts = shape_of(2, (int64_t)chunk, (int64_t)1);
    Node *in[2];
    if (!(s->s_x = graph_input(g, "x", &xs, false, err)) || !(s->s_t = graph_input(g, "t", &ts, false, err)))
        return -1;
    in[s->x_input] = s->s_x, in[s->t_input] = s->s_t;
    if (network_apply(s->sampling_net, g, in, 2, s->spec->seed, &s->s_eps, NULL, err) ||
        graph_plan(g, &s->s_eps, 1, err))
        return err_prefix(err, "sampling from '%s': ", s->sampling_net->def.name);
    size_t bytes = (size_t)chunk * s->per * sizeof(float);
    if (!(s->x_cur = s->be->alloc(bytes)) || !(s->x0_pred = s->be->alloc(bytes)) || !(s->z = s->be->alloc(bytes)))
        return err_set(err, "out of memory for sampling %d examples at once", chunk);
    s->chunk = chunk;
    return 0;
}

int ddpm_snapshot_count(int steps, int every)
{
    return 1 + steps / every + (steps % every != 0); /* x_T, every `every` steps, and the end */
}

/* Copies the chunk's first `take` samples of x_cur into snapshot j of each. */
static void snapshot(Ddpm *s, float *snaps, int n_snaps, int first, int take, int j)
{
    for (int i = 0; i < take; i++)
        s->be->download(snaps + ((size_t)(first + i) * (size_t)n_snaps + (size_t)j) * s->per, s->x_cur + (size_t)i * s->per,
                        s->per);
}

void ddpm_apply_step(const Backend *be, const SamplerConfig *c, const ReverseStep *r, size_t n, float *x,
                     const float *eps, const float *z, float *x0)
{
    be->axpby(n, (float)r->x0_x, x, (float)r->x0_eps, eps, x0);
    if (c->clip) be->clamp(x0, n, c->lo, c->hi);
    /* ddpm moves from x0 and x (mean_eps 0), ddim from x0 and eps (mean_x 0). */
    if (r->mean_x != 0.0) {
        be->axpby(n, (float)r->mean_x0, x0, (float)r->mean_x, x, x);
        if (r->mean_eps != 0.0) be->axpby(n, 1.0f, x, (float)r->mean_eps, eps, x);
    } else {
        be->axpby(n, (float)r->mean_x0, x0, (float)r->mean_eps, eps, x);
    }
    if (r->noise > 0.0) be->axpby(n, 1.0f, x, (float)r->noise, z, x);
}

/* One reverse step at timestep t (the k-th of the chain, 1-based) on the whole chunk. */
static int reverse_step(Ddpm *s, int t, int k, uint64_t seed, uint64_t offset, Error *err)
{
    const Backend *be = s->be;
    size_t n = (size_t)s->chunk * s->per;
    if (s->s_x->out.data) be->copy(s->s_x->out.data, s->x_cur, n);
    if (s->s_t->out.data) be->fill(s->s_t->out.data, (size_t)s->chunk, (float)t);
    if (graph_run(s->sampler_g, err)) return -1;
    ReverseStep r = diffusion_reverse_step(&s->sched, &s->sampler, t);
    if (r.noise > 0.0) be->rng_normal(s->z, n, 0.0f, 1.0f, stream_seed(seed, k, DDPM_STREAM_TIMESTEPS), offset);
    ddpm_apply_step(be, &s->sampler, &r, n, s->x_cur, s->s_eps->out.data, s->z, s->x0_pred);
    return 0;
}

/* The bytes per sample of the largest tensor a pass of the sampler's graph (built at `batch`)
 * writes. */
static double largest_tensor_per_sample(const Graph *g, int batch)
{
    double most = 0;
    for (int i = 0; i < g->n; i++) {
        double bytes = (double)shape_numel(&g->nodes[i]->out.shape) * sizeof(float);
        if (g->nodes[i]->needed && bytes > most) most = bytes;
    }
    return most / batch;
}

/* Samples per pass for `count`.  Memory bounds a pass: the sampler's graph at the training batch
 * b tells its memory per sample (the network in evaluation mode keeps far less than training
 * does), and a pass takes at most what the training graph's memory holds.  On a backend with
 * caches (backend.h: cache_bytes), a pass also keeps its largest tensor within twice its level-2
 * caches where one sample's fits there, so that each op's output is still in cache when the next
 * op reads it: on 2 cores with
 * 1 MiB each, ddpm_fashion's UNet drew a sample in 1.09-1.12 ms at 12 to 32 samples a pass, 1.19
 * at 50 and 1.29 at 100, all at once (docs/BENCHMARKS.md). */
static int chunk_for(Ddpm *s, int count, Error *err)
{
    int b = s->train.batch;
    if (!s->max_chunk) {
        if (build_sampler(s, b, err)) return -1;
        double per_sample = (double)graph_memory_bytes(s->sampler_g) / b + 3.0 * s->per * sizeof(float);
        double fits = (double)graph_memory_bytes(s->train.g) / per_sample;
        double cached = 2.0 * (double)s->be->cache_bytes() / largest_tensor_per_sample(s->sampler_g, b);
        if (cached >= 1 && cached < fits) fits = cached;
        s->max_chunk = fits >= INT_MAX ? INT_MAX : fits >= 1 ? (int)fits : 1;
    }
    /* Equal passes: a last short one would run the whole graph for a few samples. */
    int passes = (count + s->max_chunk - 1) / s->max_chunk;
    return (count + passes - 1) / passes;
}

int ddpm_reverse(Ddpm *s, int count, uint64_t seed, int every, float *snaps, int n_snaps, float *images, Error *err)
{
    const SamplerConfig *c = &s->sampler;
    int chunk = chunk_for(s, count, err);
    if (chunk < 1 || (s->chunk != chunk && build_sampler(s, chunk, err))) return -1;
    int *ts = malloc((size_t)c->steps * sizeof *ts);
    if (!ts) return err_set(err, "out of memory");
    diffusion_timesteps(s->sched.T, c->steps, ts);
    size_t n = (size_t)chunk * s->per;
    int rc = 0;
    for (int start = 0; start < count && rc == 0; start += chunk) {
        int take = count - start < chunk ? count - start : chunk, j = 0, k = 1;
        uint64_t offset = (uint64_t)start * s->per;
        s->be->rng_normal(s->x_cur, n, 0.0f, 1.0f, stream_seed(seed, 0, DDPM_STREAM_NOISE), offset);
        if (snaps) snapshot(s, snaps, n_snaps, start, take, j++);
        for (; k <= c->steps && rc == 0; k++) {
            rc = reverse_step(s, ts[k - 1], k, seed, offset, err);
            if (rc == 0 && snaps && (k % every == 0 || k == c->steps)) snapshot(s, snaps, n_snaps, start, take, j++);
        }
        if (rc) {
            err_prefix(err, "sampling (%s, step %d of %d): ", c->kind == SAMPLER_DDIM ? "ddim" : "ddpm", k - 1, c->steps);
            break;
        }
        s->be->clamp(s->x_cur, n, c->lo, c->hi);
        if (images) s->be->download(images + offset, s->x_cur, (size_t)take * s->per);
    }
    free(ts);
    return rc;
}
