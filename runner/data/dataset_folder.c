/* A folder of PNG files as a dataset: the files whose names end in .png (any case), in byte order
 * of their names (Python's sorted(), whatever the locale), each read as PIL reads it
 * (runner/io/png_image.h) and brought to one shape by a DataTransform as it is read, so only one
 * decoded image is held at a time. */
#include "runner/data/dataset.h"
#include "runner/data/transform.h"
#include "runner/io/png_image.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int png_name(const struct dirent *e)
{
    size_t len = strlen(e->d_name);
    return len > 4 && !strcasecmp(e->d_name + len - 4, ".png");
}

static int by_bytes(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* A decoded image (interleaved, 1 or 3 channels) as planes. */
static int to_planes(const Image *img, uint8_t **planes, size_t *cap, Error *err)
{
    size_t plane = (size_t)img->width * (size_t)img->height, need = plane * (size_t)img->channels;
    if (need > *cap) {
        uint8_t *more = realloc(*planes, need);
        if (!more) return err_set(err, "out of memory for a %dx%d image", img->height, img->width);
        *planes = more, *cap = need;
    }
    for (int c = 0; c < img->channels; c++)
        for (size_t p = 0; p < plane; p++) (*planes)[(size_t)c * plane + p] = img->pixels[p * img->channels + c];
    return 0;
}

typedef struct FolderLoad {
    const char *dir;
    struct dirent **names;
    int n;                   /* images to read */
    DataTransform t;         /* channels 3 while reading when the images decide them */
    bool auto_channels, any_colour;
    bool own_size;           /* no resize: the first image sets the size the others must share */
    char first[4096];        /* that image, for messages */
    ExampleTransform x;      /* for the channels and size of the image last read */
    bool have_x;
    uint8_t *planes;
    size_t planes_cap;
} FolderLoad;

static int check_size(FolderLoad *f, const char *path, const Image *img, Error *err)
{
    if (!f->own_size) return 0;
    if (!f->first[0]) {
        snprintf(f->first, sizeof f->first, "%s", path);
        f->t.height = img->height, f->t.width = img->width;
        return 0;
    }
    if (img->height == f->t.height && img->width == f->t.width) return 0;
    return err_set(err, "%s is %dx%d pixels (height x width) but %s is %dx%d: the images of a folder must share one "
                   "size unless data.resize sets one", path, img->height, img->width, f->first, f->t.height,
                   f->t.width);
}

/* The transform for this image's channels and size, and the dataset's pixels once the first
 * image has fixed the examples' shape. */
static int prepare(FolderLoad *f, const Image *img, Dataset *ds, Error *err)
{
    const int *in = f->x.in;
    if (!f->have_x || in[0] != img->channels || in[1] != img->height || in[2] != img->width) {
        if (f->have_x) example_transform_free(&f->x);
        f->have_x = example_transform_init(&f->x, &f->t, img->channels, img->height, img->width, err) == 0;
        if (!f->have_x) return -1;
    }
    if (ds->pixels) return 0;
    ds->c = f->x.out[0], ds->h = f->x.out[1], ds->w = f->x.out[2];
    ds->pixels = malloc((size_t)f->n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w);
    if (!ds->pixels)
        return err_set(err, "%s: out of memory for %d images of %dx%dx%d", f->dir, f->n, ds->c, ds->h, ds->w);
    return 0;
}

static int load_one(FolderLoad *f, int i, Dataset *ds, Error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", f->dir, f->names[i]->d_name);
    Image img;
    if (png_read(path, &img, err)) return -1;
    f->any_colour |= img.channels == 3;
    int rc = check_size(f, path, &img, err) || to_planes(&img, &f->planes, &f->planes_cap, err) ||
             prepare(f, &img, ds, err);
    if (rc == 0)
        example_transform_run(&f->x, f->planes, ds->pixels + (size_t)i * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w);
    image_free(&img);
    return rc ? -1 : 0;
}

/* Gray images read as three equal planes: keep one when no image had colour. */
static void to_gray(Dataset *ds)
{
    size_t plane = (size_t)ds->h * (size_t)ds->w;
    for (int i = 0; i < ds->n; i++) memmove(ds->pixels + (size_t)i * plane, ds->pixels + (size_t)i * 3 * plane, plane);
    ds->c = 1;
}

int dataset_load_folder(const char *dir, const DataTransform *t, int limit, Dataset *ds, Error *err)
{
    memset(ds, 0, sizeof *ds);
    if (!dir[0]) return err_set(err, "dataset folder needs data.root, the folder of PNG images");
    FolderLoad f = {.dir = dir, .t = *t, .auto_channels = !t->channels, .own_size = !t->height};
    if (f.auto_channels) f.t.channels = 3;
    int found = scandir(dir, &f.names, png_name, by_bytes);
    if (found < 0) return err_set(err, "%s: cannot list the folder: %s", dir, strerror(errno));
    int rc = 0;
    if (found == 0) rc = err_set(err, "%s holds no .png files", dir);
    f.n = limit > 0 && limit < found ? limit : found;
    snprintf(ds->name, sizeof ds->name, "folder");
    ds->n = f.n;
    for (int i = 0; i < f.n && rc == 0; i++) rc = load_one(&f, i, ds, err);
    if (rc == 0 && f.auto_channels && !f.any_colour) to_gray(ds);
    if (f.have_x) example_transform_free(&f.x);
    free(f.planes);
    for (int i = 0; i < found; i++) free(f.names[i]);
    free(f.names);
    if (rc) {
        dataset_free(ds);
        return -1;
    }
    dataset_set_range(ds, -1.0f, 1.0f);
    return 0;
}
