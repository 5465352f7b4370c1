/* CIFAR-10, binary version: files of records of 1 label byte (0..9) then 3072 pixel bytes, the
 * 1024 red, 1024 green and 1024 blue values of a 32x32 image in row-major order (already CHW). */
#include "runner/data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_FILES 5

/* The size of a file in whole records, or -1 with a message. */
static long record_count(const char *path, Error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return err_set(err, "%s: is a directory, not a CIFAR-10 batch file", path);
    if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
        return err_set(err, "%s: %lld bytes is not a whole, non-zero number of %d-byte CIFAR-10 records", path,
                       (long long)st.st_size, CIFAR_RECORD);
    return (long)(st.st_size / CIFAR_RECORD);
}

/* Appends the records of `path` at sample `first` of the dataset. */
static int read_records(const char *path, long count, Dataset *ds, int first, Error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char rec[CIFAR_RECORD];
    int rc = 0;
    for (long r = 0; r < count && !rc; r++) {
        if (fread(rec, 1, sizeof rec, f) != sizeof rec)
            rc = err_set(err, "%s: read failed at record %ld", path, r);
        else if (rec[0] >= CIFAR_CLASSES)
            rc = err_set(err, "%s: record %ld has label %d (expected 0..%d)", path, r, rec[0], CIFAR_CLASSES - 1);
        else {
            size_t s = (size_t)first + (size_t)r;
            ds->labels[s] = rec[0];
            memcpy(ds->pixels + s * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        }
    }
    fclose(f);
    return rc;
}

/* The folder holding the batches: root itself, or the folder the official archive unpacks to. */
static void batch_folder(const char *root, const char *probe, char *out, size_t len)
{
    char path[4300];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, probe);
    if (stat(path, &st) == 0) {
        snprintf(out, len, "%s", root);
        return;
    }
    snprintf(path, sizeof path, "%s/cifar-10-batches-bin/%s", root, probe);
    snprintf(out, len, stat(path, &st) == 0 ? "%s/cifar-10-batches-bin" : "%s", root);
}

int dataset_load_cifar10(const char *root, const char *split, Dataset *ds, Error *err)
{
    memset(ds, 0, sizeof *ds);
    bool train = !strcmp(split, "train");
    if (!train && strcmp(split, "test"))
        return err_set(err, "cifar10: unknown split '%s' (expected train or test)", split);
    int nfiles = train ? CIFAR_TRAIN_FILES : 1;
    char dir[4200], paths[CIFAR_TRAIN_FILES][4300];
    batch_folder(root, train ? "data_batch_1.bin" : "test_batch.bin", dir, sizeof dir);
    long counts[CIFAR_TRAIN_FILES], total = 0;
    for (int i = 0; i < nfiles; i++) {
        if (train)
            snprintf(paths[i], sizeof paths[i], "%s/data_batch_%d.bin", dir, i + 1);
        else
            snprintf(paths[i], sizeof paths[i], "%s/test_batch.bin", dir);
        if ((counts[i] = record_count(paths[i], err)) < 0) return -1;
        total += counts[i];
    }
    if (total > INT32_MAX / CIFAR_PIXELS) return err_set(err, "cifar10: %ld records are too many", total);
    snprintf(ds->name, sizeof ds->name, "cifar10");
    snprintf(ds->split, sizeof ds->split, "%s", split);
    ds->n = (int)total;
    ds->c = 3;
    ds->h = ds->w = CIFAR_SIDE;
    ds->n_classes = CIFAR_CLASSES;
    ds->pixels = malloc((size_t)total * CIFAR_PIXELS);
    ds->labels = malloc((size_t)total * sizeof *ds->labels);
    if (!ds->pixels || !ds->labels) {
        dataset_free(ds);
        return err_set(err, "cifar10: out of memory for %ld images", total);
    }
    int first = 0;
    for (int i = 0; i < nfiles; i++) {
        if (read_records(paths[i], counts[i], ds, first, err)) {
            dataset_free(ds);
            return -1;
        }
        first += (int)counts[i];
    }
    dataset_set_range(ds, -1.0f, 1.0f);
    return 0;
}
