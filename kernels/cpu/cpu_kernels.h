/* The CPU backend's primitives (C, OpenMP, OpenBLAS), one file per family; backend_cpu.c
 * gathers them into the Backend table.  Semantics are documented in kernels/backend.h. */
#ifndef KERNELS_CPU_KERNELS_H
#define KERNELS_CPU_KERNELS_H

#include "kernels/backend.h"

/* cpu_memory.c */
void *cpu_alloc(size_t bytes);
void cpu_free(void *ptr);
void cpu_upload(float *dst, const float *host_src, size_t n);
void cpu_download(float *host_dst, const float *src, size_t n);
void cpu_copy(float *dst, const float *src, size_t n);
void cpu_fill(float *y, size_t n, float value);
void cpu_synchronize(void);
void cpu_set_threads(int threads);
void cpu_describe(char *buf, size_t len, int threads);

/* cpu_gemm.c */
void cpu_gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* cpu_conv.c */
size_t cpu_conv2d_workspace_bytes(const ConvGeom *g);
void cpu_conv2d_forward(const ConvGeom *g, const float *x, const float *w, const float *bias,
                        float *y, void *workspace);
void cpu_conv2d_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx,
                              void *workspace);
void cpu_conv2d_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw,
                                void *workspace);
void cpu_bias_add(float *y, const float *b, int outer, int C, int inner);
void cpu_bias_grad(const float *dy, float *db, int outer, int C, int inner);

/* cpu_norm.c */
void cpu_batchnorm_forward_train(const float *x, const float *gamma, const float *beta, float *y,
                                 float *save_mean, float *save_invstd, float *running_mean,
                                 float *running_var, int N, int C, int inner, float eps,
                                 float momentum);
void cpu_batchnorm_forward_eval(const float *x, const float *gamma, const float *beta, float *y,
                                const float *running_mean, const float *running_var, int N, int C,
                                int inner, float eps);
void cpu_batchnorm_backward(const float *dy, const float *x, const float *gamma,
                            const float *save_mean, const float *save_invstd, float *dx,
                            float *dgamma, float *dbeta, int N, int C, int inner);

/* cpu_eltwise.c */
void cpu_unary(UnaryKind kind, const float *x, float *y, size_t n, float alpha);
void cpu_unary_backward(UnaryKind kind, const float *x, const float *y, const float *dy, float *dx,
                        size_t n, float alpha);
void cpu_axpby(size_t n, float alpha, const float *a, float beta, const float *b, float *y);
void cpu_mul(size_t n, const float *a, const float *b, float *y);
void cpu_scale_shift(size_t n, float alpha, const float *x, float beta, float *y);
void cpu_clamp(float *p, size_t n, float lo, float hi);

/* cpu_reduce.c */
double cpu_sum(const float *x, size_t n);
double cpu_sum_squares(const float *x, size_t n);
void cpu_sum_to_scalar(const float *x, size_t n, float alpha, float *y);

/* cpu_layout.c */
void cpu_pixel_shuffle(const float *x, float *y, int N, int C, int H, int W, int r);
void cpu_pixel_unshuffle(const float *y, float *x, int N, int C, int H, int W, int r);
void cpu_copy_block(float *dst, int dst_ld, const float *src, int src_ld, int rows, int cols);

/* cpu_pool.c */
void cpu_max_pool2d_forward(const PoolGeom *g, const float *x, float *y, int32_t *indices);
void cpu_max_pool2d_backward(const PoolGeom *g, const float *dy, const int32_t *indices, float *dx);
void cpu_avg_pool2d_forward(const PoolGeom *g, const float *x, float *y);
void cpu_avg_pool2d_backward(const PoolGeom *g, const float *dy, float *dx);
void cpu_adaptive_avg_pool2d_forward(const float *x, float *y, int planes, int H, int W, int OH, int OW);
void cpu_adaptive_avg_pool2d_backward(const float *dy, float *dx, int planes, int H, int W, int OH, int OW);

/* cpu_resize.c */
void cpu_resize_forward(const ResizeGeom *g, const float *x, float *y);
void cpu_resize_backward(const ResizeGeom *g, const float *dy, float *dx);

/* cpu_softmax.c */
void cpu_softmax_forward(const float *x, float *y, int outer, int D, int inner, bool take_log);
void cpu_softmax_backward(const float *y, const float *dy, float *dx, int outer, int D, int inner, bool take_log);
void cpu_cross_entropy_forward(const float *logits, const float *target, float *loss, int N, int K,
                               float smoothing);
void cpu_cross_entropy_backward(const float *logits, const float *target, const float *dloss, float *dx,
                                int N, int K, float smoothing);

/* cpu_rng.c */
void cpu_rng_uniform(float *y, size_t n, float lo, float hi, uint64_t seed, uint64_t offset);
void cpu_rng_normal(float *y, size_t n, float mean, float std, uint64_t seed, uint64_t offset);

/* cpu_optim.c */
void cpu_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                     float beta2, float eps, float weight_decay, bool decoupled,
                     float bias_correction1, float bias_correction2);
void cpu_sgd_update(float *p, const float *g, float *buf, size_t n, float lr, float momentum,
                    float dampening, float weight_decay, bool nesterov, bool first_step);
void cpu_rmsprop_update(float *p, const float *g, float *v, float *buf, float *gavg, size_t n,
                             float lr, float alpha, float eps, float weight_decay, float momentum);

#endif
