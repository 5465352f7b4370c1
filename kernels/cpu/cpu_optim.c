/* Fused optimizer updates, one pass over memory per parameter tensor.  Each follows the order
 * of operations of PyTorch 1.13's single-tensor (foreach=False) path, in float32, so that 20
 * steps stay within rounding of torch.optim. */
#include "kernels/cpu/cpu_kernels.h"

#include <math.h>

/* Adam / AdamW:
 *   decoupled (AdamW): p *= 1 - lr*wd;   else: g += wd*p
 *   m = m*b1 + (1-b1)*g;  v = v*b2 + (1-b2)*g*g
 *   p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps) */
void cpu_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                     float beta2, float eps, float weight_decay, bool decoupled,
                     float bias_correction1, float bias_correction2)
{
    const float one_b1 = (float)(1.0 - (double)beta1);
    const float one_b2 = (float)(1.0 - (double)beta2);
    const float neg_step = (float)(-(double)lr / (double)bias_correction1);
    const float bc2_sqrt = (float)sqrt((double)bias_correction2);
    const float decay = decoupled ? (float)(1.0 - (double)lr * weight_decay) : 1.0f;
    const float l2 = decoupled ? 0.0f : weight_decay;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        float pi = p[i] * decay;
        float gi = g[i] + l2 * pi;
        float mi = m[i] * beta1 + one_b1 * gi;
        float vi = v[i] * beta2 + one_b2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi + neg_step * mi / denom;
    }
}

/* SGD: g += wd*p; buf = first_step ? g : buf*mu + (1-dampening)*g;
 *      d = nesterov ? g + mu*buf : buf;  p += -lr * d.  momentum 0 means no buffer. */
void cpu_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                    float dampening, float weight_decay, bool nesterov, bool first_step)
{
    const float neg_lr = -lr;
    const float one_damp = (float)(1.0 - (double)dampening);
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + weight_decay * p[i];
        float d = gi;
        if (momentum != 0.0f) {
            float b = first_step ? gi : buf[i] * momentum + one_damp * gi;
            buf[i] = b;
            d = nesterov ? gi + momentum * b : b;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

/* RMSprop with momentum (buf != NULL) and/or centering (gavg != NULL):
 *   g += wd*p; v = v*alpha + (1-alpha)*g*g
 *   centered: gavg = gavg*alpha + (1-alpha)*g; avg = sqrt(v - gavg*gavg) + eps; else sqrt(v) + eps
 *   momentum: buf = buf*mu + g/avg; p += -lr*buf;  else p += -lr * g / avg */
void cpu_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg, size_t n,
                             float lr, float alpha, float eps, float weight_decay, float momentum)
{
    const float one_alpha = (float)(1.0 - (double)alpha);
    const float neg_lr = -lr;
    if (!buf && !gavg) { /* the common case, kept branch-free so it vectorises */
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + weight_decay * p[i];
            float vi = v[i] * alpha + one_alpha * (gi * gi);
            v[i] = vi;
            p[i] = p[i] + neg_lr * gi / (sqrtf(vi) + eps);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + weight_decay * p[i];
        float vi = v[i] * alpha + one_alpha * (gi * gi);
        v[i] = vi;
        float avg;
        if (gavg) {
            float ga = gavg[i] * alpha + one_alpha * gi;
            gavg[i] = ga;
            avg = sqrtf(vi + -1.0f * (ga * ga)) + eps;
        } else {
            avg = sqrtf(vi) + eps;
        }
        if (buf) {
            float b = buf[i] * momentum + gi / avg;
            buf[i] = b;
            p[i] = p[i] + neg_lr * b;
        } else {
            p[i] = p[i] + neg_lr * gi / avg;
        }
    }
}
