/* Image datasets for training: MNIST-style IDX files (mnist, fashion_mnist, kmnist, explicit idx
 * paths), CIFAR-10's binary batches and folders of PNG images, held as bytes after the data
 * section's colour conversion, resize and padding (transform.h) and turned into normalised floats
 * (N, C, H, W) one batch at a time; and a reproducible batch iterator, which also flips. */
#ifndef RUNNER_DATASET_H
#define RUNNER_DATASET_H

#include "graph/error.h"
#include "runner/data/transform.h"
#include "runner/spec/spec.h"

#include <stdbool.h>
#include <stdint.h>

/* Where Debian's dataset-fashion-mnist package installs the four standard files. */
#define DATASET_FASHION_MNIST_ROOT "/usr/share/datasets/fashion-mnist"

typedef struct Dataset {
    char name[32];      /* mnist | fashion_mnist | kmnist | idx | cifar10 | folder */
    char split[8];      /* train | test ("" for idx and folder) */
    int n, c, h, w;     /* samples and their shape */
    uint8_t *pixels;    /* n x c x h x w bytes, 0..255: a quarter of the memory of floats */
    int32_t *labels;    /* n labels in 0..n_classes-1, NULL when the dataset has none */
    int n_classes;      /* 0 without labels */
    float lo, hi;       /* pixel range after normalisation: byte b -> lo + (b / 255) * (hi - lo) */
    float lut[256];     /* that mapping, exactly as torchvision's ToTensor + Normalize(0.5, 0.5) */
} Dataset;

/* Loads what a spec's `data:` section names (dataset, root, split, images, labels, normalize) and
 * applies its channels, resize, fit and pad.  An empty root means the dataset's default:
 * DATASET_FASHION_MNIST_ROOT for fashion_mnist, data/<dataset> otherwise (folder has none).
 * Messages name the file and the problem. */
int dataset_load(const SpecData *cfg, Dataset *ds, Error *err);
/* The shape of one example of what cfg names, transforms applied, out[3] = {C, H, W}, without
 * loading the data: known for mnist-like and cifar10, an IDX file's header, a folder's first image
 * (none read when data.resize sets the size). */
int dataset_example_shape(const SpecData *cfg, int out[3], Error *err);
/* Whether the dataset has a test split to evaluate on (idx files and folders have no splits). */
bool dataset_has_splits(const char *name);
/* An IDX image file (N, H, W) and optionally (labels != NULL) its IDX label file (N). */
int dataset_load_idx(const char *images, const char *labels, Dataset *ds, Error *err);
/* mnist, fashion_mnist or kmnist: the four standard files (gzip'd or raw) in `root`. */
int dataset_load_mnist_like(const char *name, const char *root, const char *split, Dataset *ds, Error *err);
/* CIFAR-10's binary version: data_batch_1..5.bin (train) or test_batch.bin (test) in `root` or in
 * `root`/cifar-10-batches-bin; each record is 1 label byte + 3072 pixel bytes (R, G, B planes). */
int dataset_load_cifar10(const char *root, const char *split, Dataset *ds, Error *err);
/* A folder's .png files in byte order of their names (`limit` > 0: the first `limit` only),
 * brought to one shape by t.  t->channels 0 lets the images decide: 1 when every image is gray,
 * else 3 (gray ones repeated, as PIL's convert('RGB')); t->height 0 keeps the images' size, which
 * they must then share.  No labels; split "". */
int dataset_load_folder(const char *dir, const DataTransform *t, int limit, Dataset *ds, Error *err);
void dataset_free(Dataset *ds);
/* Applies t to every example of ds, replacing its pixels and shape. */
int dataset_transform(Dataset *ds, const DataTransform *t, Error *err);

/* Sets the normalisation range (the loaders default to [-1, 1]). */
void dataset_set_range(Dataset *ds, float lo, float hi);
/* Writes samples idx[0..count) as floats (count x C x H x W) and their labels (either may be NULL;
 * labels are -1 when the dataset has none). */
void dataset_gather(const Dataset *ds, const uint32_t *idx, int count, float *images, int32_t *labels);
/* Same for the contiguous samples first..first+count-1. */
void dataset_slice(const Dataset *ds, int first, int count, float *images, int32_t *labels);

typedef struct BatchOptions {
    int batch_size;
    bool shuffle, drop_last;
    bool flip;          /* mirror each example left to right with probability 1/2 */
    uint64_t seed;
} BatchOptions;

/* What a data section asks of its batches (of `batch` examples) in a run seeded by `seed`. */
BatchOptions batch_options(const SpecData *cfg, int batch, uint64_t seed);

/* Batches of one epoch after another.  With shuffle, epoch e visits the samples in a Fisher-Yates
 * permutation drawn from a generator seeded by (seed, e) alone, so a run is reproducible, can resume
 * at any (epoch, batch) and does not depend on the number of threads.  With flip, whether sample s
 * is mirrored in epoch e is one bit of Philox (kernels/philox.h) keyed by the seed, at counter
 * (e, s): the same for any batch size, order, thread count or resumption. */
typedef struct BatchIter {
    const Dataset *ds;
    int batch_size;
    bool shuffle, drop_last, flip;
    uint64_t seed;
    int64_t epoch;      /* the epoch being visited */
    int64_t batch;      /* the next batch within it */
    uint32_t *order;    /* this epoch's visiting order */
} BatchIter;

int batch_iter_init(BatchIter *it, const Dataset *ds, const BatchOptions *o, Error *err);
void batch_iter_free(BatchIter *it);
/* Batches per epoch of n examples in batches of `batch`: ceil(n / batch), or floor with drop_last. */
int64_t batches_per_epoch(int64_t n, int64_t batch, bool drop_last);
/* Batches per epoch: ceil(n / batch_size), or floor with drop_last (init guarantees at least one). */
int64_t batch_iter_per_epoch(const BatchIter *it);
/* Positions the iterator before batch `batch` of epoch `epoch` (epochs count from 0). */
void batch_iter_seek(BatchIter *it, int64_t epoch, int64_t batch);
/* Fills the next batch of the current epoch (images: batch_size x C x H x W floats; labels may be
 * NULL) and returns its size; returns 0 once the epoch is over (seek to the next one). */
int batch_iter_next(BatchIter *it, float *images, int32_t *labels);
/* The permutation of epoch `epoch` (n entries): the identity without shuffle. */
void batch_iter_order(const BatchIter *it, int64_t epoch, uint32_t *order);
/* Whether sample `sample` is mirrored in epoch `epoch` (always false without flip). */
bool batch_iter_flips(const BatchIter *it, int64_t epoch, uint32_t sample);

#endif
