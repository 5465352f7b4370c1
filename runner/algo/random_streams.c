/* Stream seeds (see random_streams.h): splitmix64's finaliser over the seed and (step, stream). */
#include "runner/algo/random_streams.h"

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t stream_seed(uint64_t seed, int64_t step, int stream)
{
    return mix64(mix64(seed) ^ (((uint64_t)step << 2) | (uint64_t)(stream & 3)));
}

/* The stream's key mixed once more, so dropout's numbers are not the noise's. */
void stream_seed_graph(Graph *g, uint64_t seed, int64_t step, int stream)
{
    g->seed = mix64(stream_seed(seed, step, stream));
    g->rng_offset = 0;
}
