/* Fused optimizer updates, one pass over memory per parameter tensor.  The constants and the
 * per-element arithmetic come from kernels/optim_math.h, as in kernels/cpu/cpu_optim.c (no
 * multiply-add contraction in this build), so the updates are bit-identical to the CPU
 * backend's. */
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/optim_math.h"

__global__ static void adam_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                   AdamConsts c)
{
    GRID_STRIDE(i, n) adam_element(p, g, m, v, i, c);
}

void cuda_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr,
                      float beta1, float beta2, float eps, float weight_decay, bool decoupled,
                      float bias_correction1, float bias_correction2)
{
    if (n == 0) return;
    const AdamConsts c = adam_consts(lr, beta1, beta2, eps, weight_decay, decoupled,
                                     bias_correction1, bias_correction2);
    adam_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, m, v, n, c);
    CUDA_CHECK_LAUNCH("adam_kernel");
}

__global__ static void sgd_kernel(float *p, const float *g, float *buf, size_t n, SgdConsts c)
{
    GRID_STRIDE(i, n) sgd_element(p, g, buf, i, c);
}

void cuda_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                     float dampening, float weight_decay, bool nesterov, bool first_step)
{
    if (n == 0) return;
    const SgdConsts c = sgd_consts(lr, momentum, dampening, weight_decay, nesterov, first_step);
    sgd_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, buf, n, c);
    CUDA_CHECK_LAUNCH("sgd_kernel");
}

__global__ static void rmsprop_kernel(float *p, const float *g, float *v, float *buf, float *gavg,
                                      size_t n, RmspropConsts c)
{
    GRID_STRIDE(i, n) rmsprop_element(p, g, v, buf, gavg, i, c);
}

/* Plain RMSprop is the full update without momentum buffer or centering. */
void cuda_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg,
                              size_t n, float lr, float alpha, float eps, float weight_decay,
                              float momentum)
{
    if (n == 0) return;
    const RmspropConsts c = rmsprop_consts(lr, alpha, eps, weight_decay, momentum);
    rmsprop_kernel<<<cuda_blocks(n), CUDA_THREADS>>>(p, g, v, buf, gavg, n, c);
    CUDA_CHECK_LAUNCH("rmsprop_kernel");
}
