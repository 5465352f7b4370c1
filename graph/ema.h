/* An exponential moving average of a network's weights (Polyak averaging, as Ho et al. 2020 and
 * diffusers' EMAModel without its decay warm-up): a shadow network with the same definition,
 * named "ema.<network>" (so a checkpoint holds its tensors as ema.<network>.<node>.<param>).
 * After the source's optimizer makes update number u (1-based), every trainable parameter of the
 * shadow becomes
 *     ema = decay * ema + (1 - decay) * w      (u > start_step)
 *     ema = w                                  (u <= start_step)
 * and buffers (batch norm statistics) are copied.  Sampling applies the shadow instead of the
 * source.  Any trained network can have one (a GAN's generator as well as a denoiser). */
#ifndef GRAPH_EMA_H
#define GRAPH_EMA_H

#include "graph/network.h"

typedef struct Ema {
    Network *shadow;
    const Network *source;
    double decay;
    int64_t start_step;
    int64_t updates;        /* the source's update the shadow last followed */
} Ema;

/* A shadow of `source` (whose parameters must exist), starting equal to it. */
Ema *ema_new(const Network *source, double decay, int64_t start_step, Error *err);
void ema_free(Ema *e);
/* Follows the source's update number `update` (1-based), as above. */
void ema_update(Ema *e, int64_t update);

#endif
