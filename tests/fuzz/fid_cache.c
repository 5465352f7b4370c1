/* The FID statistics cache: the input is the cache entry for a fixed key.  Whatever it holds, a
 * lookup is a miss, a hit with statistics of a consistent size, or an unusable entry with a message;
 * never a crash. */
#include "runner/eval/fid_cache.h"
#include "tests/fuzz/harness.h"

#define KEY "fuzz | data=mnist:test n=2 shape=1x2x2 pixels_crc32=00000000"

FUZZ_TARGET(fid_cache)
{
    char path[FID_CACHE_PATH_MAX];
    Error err = {0};
    FUZZ_CHECK(fid_cache_path(fuzz_dir(), "fuzz", KEY, path, sizeof path, &err) == 0);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
    GaussStats stats = {0};
    switch (fid_cache_load(fuzz_dir(), "fuzz", KEY, &stats, &err)) {
    case FID_CACHE_HIT:
        FUZZ_CHECK(stats.d > 0 && stats.n >= 2 && stats.mu && stats.sigma);
        gauss_stats_free(&stats);
        break;
    case FID_CACHE_MISS: FUZZ_CHECK(!"a miss although the entry is there"); break;
    case FID_CACHE_BAD: FUZZ_CHECK(err.msg[0] != '\0'); break;
    }
    remove(path);
    return 0;
}
