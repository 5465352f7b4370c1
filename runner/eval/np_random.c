/* MT19937 as numpy's legacy RandomState draws from it (numpy/random/src/mt19937 and the legacy
 * shuffle in numpy/random/mtrand.pyx). */
#include "runner/eval/np_random.h"

void np_random_seed(NpRandom *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = 624;
}

static void regenerate(NpRandom *r)
{
    for (int i = 0; i < 624; i++) {
        uint32_t y = (r->mt[i] & 0x80000000u) | (r->mt[(i + 1) % 624] & 0x7fffffffu);
        r->mt[i] = r->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->index = 0;
}

uint32_t np_random_u32(NpRandom *r)
{
    if (r->index >= 624) regenerate(r);
    uint32_t y = r->mt[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t np_random_interval(NpRandom *r, uint64_t max)
{
    if (max == 0) return 0;
    uint64_t mask = max;
    for (int s = 1; s < 64; s <<= 1) mask |= mask >> s;
    uint64_t v;
    if (max <= 0xffffffffu) {
        while ((v = (np_random_u32(r) & mask)) > max) {}
    } else {
        do {
            uint64_t hi = np_random_u32(r);
            v = ((hi << 32) | np_random_u32(r)) & mask;
        } while (v > max);
    }
    return v;
}

void np_random_permutation(NpRandom *r, int64_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)np_random_interval(r, (uint64_t)i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
