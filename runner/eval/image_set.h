/* The images one side of a distance is computed on, as 8-bit CHW bytes of one size: a dataset
 * split (`mnist:test`, `fashion_mnist:train`, `cifar10:test`, ...; `mnist:test:0-5000` takes images
 * 0..4999, `mnist:test@DIR` reads the files from DIR), a folder of PNG files (gray or
 * RGB, any one size; taken in file-name order, as pytorch-fid does), or a results folder, whose
 * generator (rebuilt from spec.yaml and checkpoints/last.safetensors) draws the samples, which are
 * quantised as torchvision's save_image writes them (the data range to 0..255, x*255 + 0.5
 * truncated), so a run's FID is the FID of its samples saved as PNG. */
#ifndef RUNNER_IMAGE_SET_H
#define RUNNER_IMAGE_SET_H

#include "graph/error.h"
#include "runner/spec/spec.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum ImageSetKind { IMAGES_DATASET, IMAGES_PNG_FOLDER, IMAGES_GENERATOR } ImageSetKind;

typedef struct ImageSet {
    ImageSetKind kind;
    char label[160];          /* for messages and cache file names: "mnist-test", a folder */
    char dataset[32], split[32]; /* IMAGES_DATASET */
    int n, c, h, w;
    uint8_t *pixels;          /* n x c x h x w */
} ImageSet;

typedef struct ImageSetOptions {
    int samples;              /* how many: 0 = a dataset's or folder's all, 10000 from a generator */
    uint64_t seed;            /* generator noise */
    int threads;              /* 0: OpenMP's default */
    const char *backend;      /* cpu | cuda | auto (generators); NULL: the run's spec */
    const SpecData *like;     /* a dataset side as this data section transforms its examples
                               * (channels, resize, fit, pad); NULL: as stored */
} ImageSetOptions;

/* Opens what `what` names (see above); messages say what was expected. */
int image_set_open(ImageSet *s, const char *what, const ImageSetOptions *o, Error *err);
void image_set_free(ImageSet *s);

/* An empty set of n images of c x h x w bytes (generated samples to be quantised). */
int image_set_alloc(ImageSet *s, ImageSetKind kind, const char *label, int n, int c, int h, int w, Error *err);
/* Samples in the data range lo..hi (s->n x c x h x w floats) to bytes, as save_image writes them. */
void image_set_quantise(ImageSet *s, const float *samples, float lo, float hi);

#endif
