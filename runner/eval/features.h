/* Feature networks for Frechet distances: a network built from a spec file, its weights loaded from
 * safetensors, evaluated in eval mode on batches of 8-bit images with a fixed preprocessing, giving
 * one named node's output as features (and optionally another's as logits).
 *
 * The Inception preset reproduces pytorch-fid: images as x / 255 in [0, 1], grayscale repeated to 3
 * channels, resized to the network's 299 x 299 input with bilinear interpolation
 * (align_corners=False, no antialiasing) whenever their size differs, then 2x - 1; features are the
 * 2048 values after the final average pool (node `flatten`), logits the 1008 of `fc`.
 * A classifier from a results folder is the same with its own network, node and input range. */
#ifndef RUNNER_FEATURES_H
#define RUNNER_FEATURES_H

#include "graph/network.h"
#include "kernels/backend.h"

#include <stdbool.h>
#include <stdint.h>

#define FEATURES_NAME_MAX 64
#define FEATURES_PATH_MAX 1024

/* The network file and the default place of the converted weights, relative to the folder the
 * runner starts in. */
#define INCEPTION_NET_PATH "experiments/nets/inception_v3_fid.yaml"
#define INCEPTION_WEIGHTS_DEFAULT "data/fid/pt_inception-2015-12-05-6726825d.safetensors"

typedef struct FeatureConfig {
    char metric[FEATURES_NAME_MAX];      /* what the distance is reported as: fid_inception, fd_lenet */
    char net_path[FEATURES_PATH_MAX];    /* a network file, or a spec with one model */
    char model[NET_NAME_MAX];            /* the network's name in the weights file (its tensor prefix) */
    char weights[FEATURES_PATH_MAX];     /* safetensors holding <model>.<node>.<param> */
    char features_node[NET_NAME_MAX];
    char logits_node[NET_NAME_MAX];      /* "" when there are none */
    float lo, hi;                        /* pixel byte b -> lo + (b / 255) * (hi - lo) */
    bool resize;                         /* bilinear resize to the network's input size */
    int batch;                           /* images per evaluation (memory grows with it) */
    bool initial_weights;                /* timing only: keep the initial values, load nothing */
} FeatureConfig;

/* pytorch-fid's FID Inception with weights at `weights` ("" = INCEPTION_WEIGHTS_DEFAULT); the logits
 * of `fc` only with want_logits (weights without `fc` give the features). */
void features_inception_config(FeatureConfig *cfg, const char *weights, bool want_logits);

typedef struct FeatureNet {
    FeatureConfig cfg;
    const Backend *be;
    Network *net;
    int in_c, in_h, in_w;                /* the network's input */
    int feature_dim, logits_dim;         /* logits_dim 0 without logits */
    uint32_t weights_crc;                /* of the weights file's bytes (cache keys) */
    int64_t weights_size;
    /* The evaluation graph for the current input geometry, rebuilt when it changes. */
    struct Graph *g;
    Node *input, *features, *logits;
    int g_batch, g_c, g_h, g_w;
    float *host;                         /* g_batch images as floats */
} FeatureNet;

/* Builds the network up to its features and logits nodes and loads its weights; every tensor's name
 * and shape is checked (those of later nodes may be absent or not).  A missing Inception weights file,
 * or one without the `fc` the logits need, gets a message saying how to obtain and convert it. */
int features_open(FeatureNet *fn, const FeatureConfig *cfg, const Backend *be, Error *err);
void features_close(FeatureNet *fn);

/* A short text naming everything that shapes the features (network, weights, preprocessing), for
 * cache keys. */
void features_describe(const FeatureNet *fn, char *buf, size_t len);

/* Features (and logits when `logits` is not NULL) of n images of c x h x w bytes (CHW, 1 or 3
 * channels), evaluated in batches of cfg.batch.  features: n x feature_dim; logits: n x logits_dim. */
int features_extract(FeatureNet *fn, const uint8_t *images, int n, int c, int h, int w, float *features,
                     float *logits, Error *err);

#endif
