/* Reference statistics cache: the mean and covariance of a feature set (a dataset split) are
 * computed once and stored as safetensors (`mu`, `sigma` in F64, and the key in the metadata) in a
 * cache folder.  The key text names everything the statistics depend on: the feature network and
 * its weights (a CRC of the file), the preprocessing, the dataset, split and sample count, and a CRC
 * of the image bytes used; any change gives another key and so another entry, and an entry whose
 * stored key differs from the one asked for (an edited or colliding file) is not used.  Each entry
 * carries a format version and a CRC32 of its key, sample count, mu and sigma; entries are written
 * through a temporary file and a rename, so readers never see half of one.  The cache only saves
 * time: an entry that is truncated, damaged, of another version or unreadable, and a folder that
 * cannot be written, are warnings on stderr, and the statistics are computed (and stored) again.
 * The folder is $XDG_CACHE_HOME/runner/fid when XDG_CACHE_HOME is set, else results/.cache/fid. */
#ifndef RUNNER_FID_CACHE_H
#define RUNNER_FID_CACHE_H

#include "runner/eval/features.h"
#include "runner/eval/frechet.h"
#include "runner/eval/image_set.h"

#include <stdbool.h>
#include <stddef.h>

#define FID_CACHE_KEY_MAX 1024
#define FID_CACHE_PATH_MAX 1200
#define FID_CACHE_VERSION "2"

/* The default folder, as above. */
void fid_cache_default_dir(char *buf, size_t len);

/* The entry's file: <dir>/<label>-<64-bit hash of key>.safetensors, label made file-safe
 * (for example "mnist-test-10000"); fails when dir is empty or the path does not fit in len. */
int fid_cache_path(const char *dir, const char *label, const char *key, char *buf, size_t len, Error *err);

typedef enum FidCacheLookup {
    FID_CACHE_MISS, /* no entry for key */
    FID_CACHE_HIT,  /* *out holds the statistics (allocated) */
    FID_CACHE_BAD,  /* an entry is there but cannot be used; err says why */
} FidCacheLookup;

/* Looks up the entry for key. */
FidCacheLookup fid_cache_load(const char *dir, const char *label, const char *key, GaussStats *out, Error *err);

/* Stores stats under key, replacing any entry (creating dir and its parents; written through a
 * temporary file and a rename); fails, saying why, when the folder cannot be written. */
int fid_cache_store(const char *dir, const char *label, const char *key, const GaussStats *stats, Error *err);

/* The key of set s through fn: the feature network's description, then the set's dataset, split,
 * count, shape and pixel CRC. */
void fid_cache_key(const FeatureNet *fn, const ImageSet *s, char *key, size_t len);

typedef struct SetStats {
    GaussStats stats;
    float *features;          /* n x feature_dim when asked for, else NULL */
    float *logits;            /* n x logits_dim when asked for, else NULL */
    bool from_cache;
} SetStats;

/* The statistics of s through fn.  A dataset split's come from the cache in cache_dir when it holds
 * them (and go there once computed; cache problems are warnings, see above); cache_dir NULL
 * disables the cache.  want_features/want_logits
 * keep those (the cache then serves nothing, as it holds statistics only).  With progress, a line on
 * stderr counts the images done. */
int fid_set_stats(FeatureNet *fn, const ImageSet *s, const char *cache_dir, bool want_features, bool want_logits,
                  bool progress, SetStats *out, Error *err);
void set_stats_free(SetStats *s);

#endif
