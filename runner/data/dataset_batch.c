/* The batch iterator: one Fisher-Yates permutation per epoch from a generator seeded by (seed, epoch),
 * and flips drawn per (epoch, sample) from the Philox stream. */
#include "runner/data/dataset.h"
#include "kernels/philox.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast, and good enough to shuffle with; its state is one counter. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, bound) without modulo bias (rejects the incomplete last stretch). */
static uint64_t below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = splitmix64(state);
    while (x >= limit);
    return x % bound;
}

void batch_iter_order(const BatchIter *it, int64_t epoch, uint32_t *order)
{
    uint32_t n = (uint32_t)it->ds->n;
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    if (!it->shuffle) return;
    /* Seed and epoch go through the mixer separately so nearby seeds and epochs give unrelated streams. */
    uint64_t state = it->seed;
    state = splitmix64(&state) ^ (uint64_t)epoch;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)below(&state, (uint64_t)i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

BatchOptions batch_options(const SpecData *cfg, int batch, uint64_t seed)
{
    return (BatchOptions){.batch_size = batch, .shuffle = cfg->shuffle, .drop_last = cfg->drop_last,
                          .flip = !strcmp(cfg->flip, "horizontal"), .seed = seed};
}

/* The flips' own Philox key: the seed spread as graph/param.c spreads it, apart from every
 * parameter's stream by a constant of its own. */
#define FLIP_STREAM 0x666C69702D6C7231ull /* "flip-lr1" */

bool batch_iter_flips(const BatchIter *it, int64_t epoch, uint32_t sample)
{
    if (!it->flip) return false;
    uint32_t r[4];
    philox4x32_10((uint64_t)epoch << 32 | sample, it->seed * 0x9E3779B97F4A7C15ull ^ FLIP_STREAM, r);
    return r[0] >> 31;
}

/* One example (c x h x w floats) mirrored left to right in place. */
static void mirror(float *x, int c, int h, int w)
{
    for (int row = 0; row < c * h; row++) {
        float *p = x + (size_t)row * (size_t)w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

int batch_iter_init(BatchIter *it, const Dataset *ds, const BatchOptions *o, Error *err)
{
    memset(it, 0, sizeof *it);
    int batch_size = o->batch_size;
    bool drop_last = o->drop_last;
    if (batch_size < 1) return err_set(err, "batch_size must be at least 1, found %d", batch_size);
    if (ds->n < 1) return err_set(err, "dataset %s has no samples", ds->name);
    if (batches_per_epoch(ds->n, batch_size, drop_last) < 1)
        return err_set(err, "batch_size %d exceeds the %d samples of dataset %s and drop_last is set: no batch "
                       "would remain", batch_size, ds->n, ds->name);
    it->ds = ds;
    it->batch_size = batch_size;
    it->shuffle = o->shuffle;
    it->drop_last = drop_last;
    it->flip = o->flip;
    it->seed = o->seed;
    it->order = malloc((size_t)ds->n * sizeof *it->order);
    if (!it->order) return err_set(err, "out of memory for the order of %d samples", ds->n);
    batch_iter_seek(it, 0, 0);
    return 0;
}

void batch_iter_free(BatchIter *it)
{
    free(it->order);
    memset(it, 0, sizeof *it);
}

int64_t batches_per_epoch(int64_t n, int64_t batch, bool drop_last)
{
    return drop_last ? n / batch : (n + batch - 1) / batch;
}

int64_t batch_iter_per_epoch(const BatchIter *it)
{
    return batches_per_epoch(it->ds->n, it->batch_size, it->drop_last);
}

void batch_iter_seek(BatchIter *it, int64_t epoch, int64_t batch)
{
    batch_iter_order(it, epoch, it->order);
    it->epoch = epoch;
    it->batch = batch;
}

int batch_iter_next(BatchIter *it, float *images, int32_t *labels)
{
    if (it->batch >= batch_iter_per_epoch(it)) return 0;
    int64_t first = it->batch * it->batch_size;
    int64_t count = it->ds->n - first < it->batch_size ? it->ds->n - first : it->batch_size;
    const uint32_t *idx = it->order + first;
    dataset_gather(it->ds, idx, (int)count, images, labels);
    size_t per = (size_t)it->ds->c * (size_t)it->ds->h * (size_t)it->ds->w;
    for (int64_t i = 0; images && i < count; i++)
        if (batch_iter_flips(it, it->epoch, idx[i])) mirror(images + (size_t)i * per, it->ds->c, it->ds->h, it->ds->w);
    it->batch++;
    return (int)count;
}
