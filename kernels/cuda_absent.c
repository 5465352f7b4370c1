/* backend_cuda() when the project is built without nvcc: the CUDA backend is absent, and says
 * why.  With nvcc the Makefile defines HAVE_CUDA and kernels/cuda/ provides it. */
#ifndef HAVE_CUDA
#include "kernels/backend.h"

#include <stdio.h>

const Backend *backend_cuda(char *why, size_t why_len)
{
    if (why && why_len) snprintf(why, why_len, "built without CUDA (nvcc not found)");
    return NULL;
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int cuda_absent_unused;
#endif
