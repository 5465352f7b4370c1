/* Per-element optimizer updates shared by kernels/cpu/cpu_optim.c and
 * kernels/cuda/cuda_optim.cu.  Each follows the order of operations of PyTorch 1.13's
 * single-tensor (foreach=False) path in float32; the constants are folded once per tensor on
 * the host, so both backends round identically. */
#ifndef KERNELS_OPTIM_MATH_H
#define KERNELS_OPTIM_MATH_H

#include "kernels/kernel_fn.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

/* Adam / AdamW:
 *   decoupled (AdamW): p *= 1 - lr*wd;   else: g += wd*p
 *   m = m*b1 + (1-b1)*g;  v = v*b2 + (1-b2)*g*g
 *   p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps) */
typedef struct {
    float beta1, beta2, one_b1, one_b2, neg_step, bc2_sqrt, eps, decay, l2;
} AdamConsts;

KERNEL_FN AdamConsts adam_consts(float lr, float beta1, float beta2, float eps, float weight_decay,
                                 bool decoupled, float bias_correction1, float bias_correction2)
{
    AdamConsts c;
    c.beta1 = beta1;
    c.beta2 = beta2;
    c.one_b1 = (float)(1.0 - (double)beta1);
    c.one_b2 = (float)(1.0 - (double)beta2);
    c.neg_step = (float)(-(double)lr / (double)bias_correction1);
    c.bc2_sqrt = (float)sqrt((double)bias_correction2);
    c.eps = eps;
    c.decay = decoupled ? (float)(1.0 - (double)lr * weight_decay) : 1.0f;
    c.l2 = decoupled ? 0.0f : weight_decay;
    return c;
}

KERNEL_FN void adam_element(float *p, const float *g, float *m, float *v, size_t i, AdamConsts c)
{
    float pi = p[i] * c.decay;
    float gi = g[i] + c.l2 * pi;
    float mi = m[i] * c.beta1 + c.one_b1 * gi;
    float vi = v[i] * c.beta2 + c.one_b2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    float denom = sqrtf(vi) / c.bc2_sqrt + c.eps;
    p[i] = pi + c.neg_step * mi / denom;
}

/* SGD: g += wd*p; buf = first_step ? g : buf*mu + (1-dampening)*g;
 *      d = nesterov ? g + mu*buf : buf;  p += -lr * d.  momentum 0 means no buffer. */
typedef struct {
    float neg_lr, momentum, one_damp, weight_decay;
    bool nesterov, first_step;
} SgdConsts;

KERNEL_FN SgdConsts sgd_consts(float lr, float momentum, float dampening, float weight_decay,
                               bool nesterov, bool first_step)
{
    SgdConsts c;
    c.neg_lr = -lr;
    c.momentum = momentum;
    c.one_damp = (float)(1.0 - (double)dampening);
    c.weight_decay = weight_decay;
    c.nesterov = nesterov;
    c.first_step = first_step;
    return c;
}

KERNEL_FN void sgd_element(float *p, const float *g, float *buf, size_t i, SgdConsts c)
{
    float gi = g[i] + c.weight_decay * p[i];
    float d = gi;
    if (c.momentum != 0.0f) {
        float b = c.first_step ? gi : buf[i] * c.momentum + c.one_damp * gi;
        buf[i] = b;
        d = c.nesterov ? gi + c.momentum * b : b;
    }
    p[i] = p[i] + c.neg_lr * d;
}

/* RMSprop with momentum (buf != NULL) and/or centering (gavg != NULL):
 *   g += wd*p; v = v*alpha + (1-alpha)*g*g
 *   centered: gavg = gavg*alpha + (1-alpha)*g; avg = sqrt(v - gavg*gavg) + eps; else sqrt(v) + eps
 *   momentum: buf = buf*mu + g/avg; p += -lr*buf;  else p += -lr * g / avg
 * Called with constant NULL buf and gavg, the branches fold away and the loop vectorises. */
typedef struct {
    float neg_lr, alpha, one_alpha, eps, weight_decay, momentum;
} RmspropConsts;

KERNEL_FN RmspropConsts rmsprop_consts(float lr, float alpha, float eps, float weight_decay,
                                       float momentum)
{
    RmspropConsts c;
    c.neg_lr = -lr;
    c.alpha = alpha;
    c.one_alpha = (float)(1.0 - (double)alpha);
    c.eps = eps;
    c.weight_decay = weight_decay;
    c.momentum = momentum;
    return c;
}

KERNEL_FN void rmsprop_element(float *p, const float *g, float *v, float *buf, float *gavg,
                               size_t i, RmspropConsts c)
{
    float gi = g[i] + c.weight_decay * p[i];
    float vi = v[i] * c.alpha + c.one_alpha * (gi * gi);
    v[i] = vi;
    float avg;
    if (gavg) {
        float ga = gavg[i] * c.alpha + c.one_alpha * gi;
        gavg[i] = ga;
        avg = sqrtf(vi + -1.0f * (ga * ga)) + c.eps;
    } else {
        avg = sqrtf(vi) + c.eps;
    }
    if (buf) {
        float b = buf[i] * c.momentum + gi / avg;
        buf[i] = b;
        p[i] = p[i] + c.neg_lr * b;
    } else {
        p[i] = p[i] + c.neg_lr * gi / avg;
    }
}

#endif
