/* The adversarial algorithms (loss types gan, wgan, wgan_gp): the algorithm table entries and the
 * loss builders they share (adversarial_losses.c). */
#ifndef RUNNER_ADVERSARIAL_H
#define RUNNER_ADVERSARIAL_H

#include "runner/algo/algorithm.h"

extern const Algorithm algo_gan, algo_wgan, algo_wgan_gp;

typedef enum AdvLoss {
    ADV_NON_SATURATING, /* gan (default variant) */
    ADV_MINIMAX,
    ADV_HINGE,
    ADV_LEAST_SQUARES,
    ADV_WGAN,
    ADV_WGAN_GP,
    ADV_LOSS_COUNT
} AdvLoss;

/* The objective a spec's loss section names (type and, for gan, variant). */
int adv_loss_parse(const SpecLoss *l, AdvLoss *out, Error *err);

/* Nodes of the discriminator's side of a step, from its logits on real and fake batches. */
typedef struct AdvCritic {
    Node *loss;          /* the discriminator's (critic's) loss, penalty included */
    Node *metric[2];     /* gan: d_real, d_fake (mean sigmoid); wgan: wasserstein; wgan_gp: + gp */
    int n_metric;
} AdvCritic;

/* The generator's loss from D(G(z)) logits. */
Node *adv_generator_loss(Graph *g, AdvLoss kind, Node *fake_logits, Error *err);
/* The discriminator's loss and metrics (no penalty). */
int adv_critic_loss(Graph *g, AdvLoss kind, Node *real_logits, Node *fake_logits, AdvCritic *out,
                    Error *err);
/* lambda * mean((||grad_x D(x_hat)||_2 - 1)^2), x_hat = fake + eps * (real - fake) with one eps
 * per sample (eps: (batch,) input), the gradient built as graph nodes so that the penalty can be
 * differentiated with respect to D's parameters again. */
Node *adv_gradient_penalty(Graph *g, Network *critic, Node *real, Node *fake, Node *eps,
                           double lambda, uint64_t seed, Error *err);

#endif
