/* Fused optimizer updates, one pass over memory per parameter tensor.  The constants are
 * computed on the host exactly as kernels/cpu/cpu_optim.c does, and the per-element arithmetic
 * keeps its order of operations (no multiply-add contraction in this build), so the updates
 * are bit-identical to the CPU backend's. */
#include "kernels/cuda/cuda_common.cuh"

/* Adam / AdamW: decoupled: p *= 1 - lr*wd; else g += wd*p;
 * m = m*b1 + (1-b1)*g; v = v*b2 + (1-b2)*g*g; p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps). */
__global__ static void adam_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                   float beta1, float beta2, float one_b1, float one_b2,
                                   float neg_step, float bc2_sqrt, float eps, float decay, float l2)
{
    GRID_STRIDE(i, n)
    {
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

void cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                      float beta1, float beta2, float eps, float weight_decay, bool decoupled,
                      float bias_correction1, float bias_correction2)
{
    if (n == 0) return;
    const float one_b1 = (float)(1.0 - (double)beta1);
    const float one_b2 = (float)(1.0 - (double)beta2);
    const float neg_step = (float)(-(double)lr / (double)bias_correction1);
    const float bc2_sqrt = (float)sqrt((double)bias_correction2);
    const float decay = decoupled ? (float)(1.0 - (double)lr * weight_decay) : 1.0f;
    const float l2 = decoupled ? 0.0f : weight_decay;
    adam_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, m, v, n, beta1, beta2, one_b1, one_b2,
                                                  neg_step, bc2_sqrt, eps, decay, l2);
    CUDA_CHECK_LAUNCH("adam_kernel");
}

/* SGD: g += wd*p; buf = first_step ? g : buf*mu + (1-dampening)*g;
 * d = nesterov ? g + mu*buf : buf; p += -lr * d.  momentum 0 means no buffer. */
__global__ static void sgd_kernel(float *p, const float *g, float *buf, size_t n, float neg_lr,
                                  float momentum, float one_damp, float weight_decay,
                                  bool nesterov, bool first_step)
{
    GRID_STRIDE(i, n)
    {
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

void cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                     float dampening, float weight_decay, bool nesterov, bool first_step)
{
    if (n == 0) return;
    const float one_damp = (float)(1.0 - (double)dampening);
    sgd_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, buf, n, -lr, momentum, one_damp,
                                                 weight_decay, nesterov, first_step);
    CUDA_CHECK_LAUNCH("sgd_kernel");
}

/* RMSprop with momentum (buf != NULL) and/or centering (gavg != NULL):
 *   g += wd*p; v = v*alpha + (1-alpha)*g*g
 *   centered: gavg = gavg*alpha + (1-alpha)*g; avg = sqrt(v - gavg*gavg) + eps; else sqrt(v) + eps
 *   momentum: buf = buf*mu + g/avg; p += -lr*buf;  else p += -lr * g / avg */
__global__ static void rmsprop_kernel(float *p, const float *g, float *v, float *buf, float *gavg,
                                      size_t n, float neg_lr, float alpha, float one_alpha,
                                      float eps, float weight_decay, float momentum)
{
    GRID_STRIDE(i, n)
    {
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

void cuda_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg,
                              size_t n, float lr, float alpha, float eps, float weight_decay,
                              float momentum)
{
    if (n == 0) return;
    const float one_alpha = (float)(1.0 - (double)alpha);
    rmsprop_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, v, buf, gavg, n, -lr, alpha,
                                                     one_alpha, eps, weight_decay, momentum);
    CUDA_CHECK_LAUNCH("rmsprop_kernel");
}

/* Plain RMSprop is the full update without momentum buffer or centering. */
