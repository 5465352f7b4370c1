#include "runner/data/dataset.h"
#include "runner/data/idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MNIST_SIDE 28
#define MNIST_CLASSES 10
#define DATASET_MAX_SIDE 16384 /* pixels per side: sizes stay far inside an int */

void dataset_set_range(Dataset *ds, float lo, float hi)
{
    ds->lo = lo;
    ds->hi = hi;
    /* torchvision: t = b / 255 in float32, then Normalize(0.5, 0.5) = (t - 0.5) / 0.5, which rounds
     * exactly as t * 2 - 1 (scaling by a power of two commutes with rounding): lo + t * (hi - lo). */
    for (int b = 0; b < 256; b++) {
        float t = (float)b / 255.0f;
        ds->lut[b] = lo + t * (hi - lo);
    }
}

void dataset_free(Dataset *ds)
{
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

void dataset_gather(const Dataset *ds, const uint32_t *idx, int count, float *images, int32_t *labels)
{
    size_t per = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    for (int i = 0; i < count; i++) {
        size_t s = idx[i];
        if (images) {
            const uint8_t *src = ds->pixels + s * per;
            float *dst = images + (size_t)i * per;
            for (size_t k = 0; k < per; k++) dst[k] = ds->lut[src[k]];
        }
        if (labels) labels[i] = ds->labels ? ds->labels[s] : -1;
    }
}

void dataset_slice(const Dataset *ds, int first, int count, float *images, int32_t *labels)
{
    size_t per = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    if (images) {
        const uint8_t *src = ds->pixels + (size_t)first * per;
        for (size_t k = 0; k < (size_t)count * per; k++) images[k] = ds->lut[src[k]];
    }
    if (labels)
        for (int i = 0; i < count; i++) labels[i] = ds->labels ? ds->labels[first + i] : -1;
}

/* Takes ownership of an IDX label array: checks its count against the images and every label
 * against n_classes (0: any byte; the class count becomes the largest label + 1). */
static int take_labels(Dataset *ds, IdxArray *lab, const char *images, const char *labels, int n_classes,
                       Error *err)
{
    if (lab->dim[0] != (uint32_t)ds->n)
        return err_set(err, "%s has %d images but %s has %u labels", images, ds->n, labels, lab->dim[0]);
    ds->labels = malloc((size_t)ds->n * sizeof *ds->labels);
    if (!ds->labels) return err_set(err, "%s: out of memory for %d labels", labels, ds->n);
    int top = 0;
    for (int i = 0; i < ds->n; i++) {
        int v = lab->data[i];
        if (n_classes && v >= n_classes)
            return err_set(err, "%s: label %d at index %d is out of range (expected 0..%d)", labels, v, i,
                           n_classes - 1);
        ds->labels[i] = v;
        if (v > top) top = v;
    }
    ds->n_classes = n_classes ? n_classes : top + 1;
    return 0;
}

static int check_sides(const char *images, const IdxArray *img, Error *err)
{
    if (img->dim[1] >= 1 && img->dim[2] >= 1 && img->dim[1] <= DATASET_MAX_SIDE && img->dim[2] <= DATASET_MAX_SIDE)
        return 0;
    return err_set(err, "%s: images are %ux%u; each side must be 1 to %d pixels", images, img->dim[1], img->dim[2],
                   DATASET_MAX_SIDE);
}

/* Images (N, H, W) and optional labels; `side` > 0 requires side x side images. */
static int load_idx_pair(const char *images, const char *labels, int side, int n_classes, Dataset *ds,
                         Error *err)
{
    IdxArray img, lab = {0};
    if (idx_read(images, 3, &img, err)) return -1;
    if (img.dim[0] > (uint32_t)INT32_MAX) {
        idx_free(&img);
        return err_set(err, "%s: %u images are more than this runner handles", images, img.dim[0]);
    }
    if (check_sides(images, &img, err)) {
        idx_free(&img);
        return -1;
    }
    if (side && (img.dim[1] != (uint32_t)side || img.dim[2] != (uint32_t)side)) {
        err_set(err, "%s: images are %ux%u, expected %dx%d", images, img.dim[1], img.dim[2], side, side);
        idx_free(&img);
        return -1;
    }
    ds->n = (int)img.dim[0];
    ds->c = 1;
    ds->h = (int)img.dim[1];
    ds->w = (int)img.dim[2];
    ds->pixels = img.data; /* ownership moves to the dataset */
    img.data = NULL;
    if (labels) {
        if (idx_read(labels, 1, &lab, err)) return -1;
        int rc = take_labels(ds, &lab, images, labels, n_classes, err);
        idx_free(&lab);
        if (rc) return -1;
    }
    dataset_set_range(ds, -1.0f, 1.0f);
    return 0;
}

int dataset_load_idx(const char *images, const char *labels, Dataset *ds, Error *err)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "idx");
    if (load_idx_pair(images, labels, 0, 0, ds, err)) {
        dataset_free(ds);
        return -1;
    }
    return 0;
}

/* ROOT/FILE.gz if it exists, else ROOT/FILE; a message saying what was looked for otherwise. */
static int find_standard_file(const char *name, const char *root, const char *file, char *out, size_t len,
                              Error *err)
{
    int n = snprintf(out, len, "%s/%s.gz", root, file);
    if (n < 0 || (size_t)n >= len) return err_set(err, "%s: root path too long: %s", name, root);
    if (access(out, F_OK) == 0) return 0;
    snprintf(out, len, "%s/%s", root, file);
    if (access(out, F_OK) == 0) return 0;
    return err_set(err, "%s: %s/%s[.gz] not found (data.root must be the folder holding the four standard "
                   "files%s)", name, root, file,
                   !strcmp(name, "fashion_mnist") ? "; Debian's dataset-fashion-mnist package installs them in "
                   DATASET_FASHION_MNIST_ROOT : "");
}

int dataset_load_mnist_like(const char *name, const char *root, const char *split, Dataset *ds, Error *err)
{
    memset(ds, 0, sizeof *ds);
    if (strcmp(split, "train") && strcmp(split, "test"))
        return err_set(err, "%s: unknown split '%s' (expected train or test)", name, split);
    const char *prefix = !strcmp(split, "train") ? "train" : "t10k";
    char fi[64], fl[64], images[4200], labels[4200];
    snprintf(fi, sizeof fi, "%s-images-idx3-ubyte", prefix);
    snprintf(fl, sizeof fl, "%s-labels-idx1-ubyte", prefix);
    if (find_standard_file(name, root, fi, images, sizeof images, err) ||
        find_standard_file(name, root, fl, labels, sizeof labels, err))
        return -1;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    snprintf(ds->split, sizeof ds->split, "%s", split);
    if (load_idx_pair(images, labels, MNIST_SIDE, MNIST_CLASSES, ds, err)) {
        dataset_free(ds);
        return -1;
    }
    return 0;
}

bool dataset_has_splits(const char *name)
{
    return strcmp(name, "idx") != 0 && strcmp(name, "folder") != 0;
}

static bool mnist_like(const char *name)
{
    return !strcmp(name, "mnist") || !strcmp(name, "fashion_mnist") || !strcmp(name, "kmnist");
}

/* The folder's transform: channels are the spec's, RGB unless it says otherwise. */
static DataTransform folder_transform(const SpecData *cfg)
{
    DataTransform t = data_transform_of(cfg);
    if (!t.channels) t.channels = 3;
    return t;
}

/* The stored shape before the transform: what the dataset's format fixes, or its files say. */
static int stored_shape(const SpecData *cfg, int shape[3], Error *err)
{
    const char *name = cfg->dataset;
    if (mnist_like(name)) {
        shape[0] = 1, shape[1] = shape[2] = MNIST_SIDE;
        return 0;
    }
    if (!strcmp(name, "cifar10")) {
        shape[0] = 3, shape[1] = shape[2] = 32;
        return 0;
    }
    if (!strcmp(name, "idx")) {
        IdxArray head;
        if (!cfg->images[0]) return err_set(err, "dataset idx needs data.images (an IDX image file)");
        if (idx_read_header(cfg->images, 3, &head, err) || check_sides(cfg->images, &head, err)) return -1;
        shape[0] = 1, shape[1] = (int)head.dim[1], shape[2] = (int)head.dim[2];
        return 0;
    }
    if (!strcmp(name, "folder")) { /* the first image, already transformed */
        Dataset first;
        DataTransform t = folder_transform(cfg);
        if (dataset_load_folder(cfg->root, &t, 1, &first, err)) return -1;
        shape[0] = first.c, shape[1] = first.h - 2 * t.pad, shape[2] = first.w - 2 * t.pad;
        dataset_free(&first);
        return 0;
    }
    return err_set(err, "unknown dataset '%s' (expected mnist, fashion_mnist, kmnist, idx, cifar10 or folder)", name);
}

int dataset_example_shape(const SpecData *cfg, int out[3], Error *err)
{
    DataTransform t = data_transform_of(cfg);
    int stored[3];
    if (!strcmp(cfg->dataset, "folder") && t.height) { /* no file needed */
        stored[0] = folder_transform(cfg).channels, stored[1] = t.height, stored[2] = t.width;
    } else if (stored_shape(cfg, stored, err)) {
        return -1;
    }
    data_transform_shape(&t, stored[0], stored[1], stored[2], out);
    return 0;
}

int dataset_load(const SpecData *cfg, Dataset *ds, Error *err)
{
    memset(ds, 0, sizeof *ds);
    const char *name = cfg->dataset;
    char root[sizeof cfg->root + 64];
    if (cfg->root[0])
        snprintf(root, sizeof root, "%s", cfg->root);
    else if (!strcmp(name, "fashion_mnist"))
        snprintf(root, sizeof root, "%s", DATASET_FASHION_MNIST_ROOT);
    else if (strcmp(name, "folder"))
        snprintf(root, sizeof root, "data/%s", name);
    else
        root[0] = '\0';

    float lo = (float)cfg->normalize[0], hi = (float)cfg->normalize[1];
    if (!(lo < hi)) return err_set(err, "data.normalize [%g, %g] is not a range (expected [-1, 1] or [0, 1])", lo, hi);
    DataTransform t = data_transform_of(cfg);
    int rc;
    if (mnist_like(name))
        rc = dataset_load_mnist_like(name, root, cfg->split, ds, err);
    else if (!strcmp(name, "idx")) {
        if (!cfg->images[0]) return err_set(err, "dataset idx needs data.images (an IDX image file)");
        rc = dataset_load_idx(cfg->images, cfg->labels[0] ? cfg->labels : NULL, ds, err);
    } else if (!strcmp(name, "cifar10"))
        rc = dataset_load_cifar10(root, cfg->split, ds, err);
    else if (!strcmp(name, "folder")) {
        t = folder_transform(cfg);
        return dataset_load_folder(root, &t, 0, ds, err) ? -1 : (dataset_set_range(ds, lo, hi), 0);
    } else
        return err_set(err, "unknown dataset '%s' (expected mnist, fashion_mnist, kmnist, idx, cifar10 or folder)", name);
    if (rc) return -1;
    if (dataset_transform(ds, &t, err)) {
        dataset_free(ds);
        return -1;
    }
    dataset_set_range(ds, lo, hi);
    return 0;
}
