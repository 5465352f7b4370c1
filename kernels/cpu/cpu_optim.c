/* Fused optimizer updates, one pass over memory per parameter tensor.  The per-element
 * formulas (PyTorch 1.13's single-tensor path, in float32) live in kernels/optim_math.h, shared
 * with the CUDA backend.  The constants are firstprivate so that each thread keeps them in
 * registers: read through the shared struct, the SGD loop no longer vectorises. */
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/optim_math.h"

CPU_HOT void cpu_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                             float beta2, float eps, float weight_decay, bool decoupled,
                             float bias_correction1, float bias_correction2)
{
    const AdamConsts c = adam_consts(lr, beta1, beta2, eps, weight_decay, decoupled,
                                     bias_correction1, bias_correction2);
#pragma omp parallel for simd schedule(static) firstprivate(c) if (n > 32768)
    for (size_t i = 0; i < n; i++) adam_element(p, g, m, v, i, c);
}

CPU_HOT void cpu_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                            float dampening, float weight_decay, bool nesterov, bool first_step)
{
    const SgdConsts c = sgd_consts(lr, momentum, dampening, weight_decay, nesterov, first_step);
#pragma omp parallel for simd schedule(static) firstprivate(c) if (n > 32768)
    for (size_t i = 0; i < n; i++) sgd_element(p, g, buf, i, c);
}

CPU_HOT void cpu_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg, size_t n,
                                     float lr, float alpha, float eps, float weight_decay, float momentum)
{
    const RmspropConsts c = rmsprop_consts(lr, alpha, eps, weight_decay, momentum);
    if (!buf && !gavg) { /* the common case, kept branch-free so it vectorises */
#pragma omp parallel for simd schedule(static) firstprivate(c) if (n > 32768)
        for (size_t i = 0; i < n; i++) rmsprop_element(p, g, v, NULL, NULL, i, c);
        return;
    }
#pragma omp parallel for schedule(static) firstprivate(c) if (n > 32768)
    for (size_t i = 0; i < n; i++) rmsprop_element(p, g, v, buf, gavg, i, c);
}
