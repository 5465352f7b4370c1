/* One training step of a non-saturating GAN as a single planned graph:
 *   fake = G(z)
 *   g_loss = mean(softplus(-D(fake)))                          -> grads w.r.t. G's params
 *   d_loss = mean(softplus(-D(real))) + mean(softplus(D(fake))) -> grads w.r.t. D's params only
 * then G's optimizer steps, then D's.  Neither update changes what the other reads, so this is
 * PyTorch's "generator first, then the discriminator on the detached fake batch" (taking D's
 * gradients only w.r.t. D's parameters is what the detach does; D(fake) is evaluated once). */
#ifndef RUNNER_GAN_STEP_H
#define RUNNER_GAN_STEP_H

#include "graph/network.h"
#include "graph/optim.h"
#include "runner/spec.h"

typedef struct GanStep {
    Graph *g;
    Network *gen, *disc;          /* not owned */
    int batch;
    Node *z, *real, *fake;
    Node *g_loss, *d_loss;
    Node **g_params, **g_grads;   /* n_g trainable parameters of G and their gradients */
    Node **d_params, **d_grads;
    int n_g, n_d;
    float **g_grad_data, **d_grad_data; /* gradients' memory, as optim_step takes it */
    Optimizer *opt_g, *opt_d;
    int first_grad_node;          /* nodes from this id on compute gradients */
} GanStep;

/* The reference GAN of the experiments: networks from <experiments>/nets/
 * pixelshuffle_generator.yaml and conv_discriminator.yaml, both trained with Adam lr 2e-4,
 * betas (0.5, 0.999). */
typedef struct GanReference {
    Spec spec;
    Network *gen, *disc;
    OptimConfig opt_g, opt_d;
} GanReference;

int gan_reference_load(const char *experiments_dir, GanReference *r, Error *err);
void gan_reference_free(GanReference *r);

/* Builds and plans the step for batches of `batch` on `be`.  The networks' parameters are
 * created (initialised from `seed`) if this is their first use; G's output must fit D's input. */
int gan_step_init(GanStep *s, const Backend *be, Network *gen, Network *disc, int batch,
                  uint64_t seed, const OptimConfig *opt_g, const OptimConfig *opt_d, Error *err);

/* Copies z (batch x G's input) and real (batch x D's input) from host memory, runs the graph
 * and applies both updates.  g_loss and d_loss (may be NULL) receive the losses before them. */
int gan_step_run(GanStep *s, const float *z, const float *real, float *g_loss, float *d_loss,
                 Error *err);

/* Both optimizer updates alone (after graph_run), so a profiler can time them apart. */
int gan_step_update(GanStep *s, Error *err);

void gan_step_free(GanStep *s);

#endif
