/* The CPU convolution's implementations behind kernels/cpu/cpu_conv.c's dispatch, each with the
 * semantics of kernels/backend.h.  Shared by cpu_conv*.c and the convolution benchmark. */
#ifndef KERNELS_CPU_CONV_IMPL_H
#define KERNELS_CPU_CONV_IMPL_H

#include "kernels/backend.h"

/* The three passes of a convolution. */
typedef enum ConvPass { CONV_FORWARD, CONV_BACKWARD_DATA, CONV_BACKWARD_FILTER, CONV_PASS_COUNT } ConvPass;

/* im2col + OpenBLAS sgemm (cpu_conv_im2col.c): always available, any geometry. */
size_t conv_im2col_workspace_bytes(const ConvGeom *g);
void conv_im2col_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,
                         void *workspace);
void conv_im2col_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx, void *workspace);
void conv_im2col_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw, void *workspace);

/* oneDNN (cpu_conv_dnnl.c).  Primitives are created once per (geometry, pass, bias, thread
 * count) and cached.  The workspace holds oneDNN's scratchpad and the blocked copies of the
 * tensors whose layout oneDNN prefers over NCHW/OIHW.  conv_dnnl_workspace_bytes is 0 when
 * oneDNN cannot compute the pass; the run functions return false, having written nothing
 * useful, when oneDNN cannot run it with `bytes` of workspace at the current thread count. */
size_t conv_dnnl_workspace_bytes(const ConvGeom *g, ConvPass pass, bool bias);
bool conv_dnnl_forward(const ConvGeom *g, const float *x, const float *w, const float *bias, float *y,
                       void *workspace, size_t bytes);
bool conv_dnnl_backward_data(const ConvGeom *g, const float *dy, const float *w, float *dx, void *workspace,
                             size_t bytes);
bool conv_dnnl_backward_filter(const ConvGeom *g, const float *x, const float *dy, float *dw, void *workspace,
                               size_t bytes);

#endif
