#include "graph/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

Shape shape_make(int ndim, const int64_t *dims)
{
    Shape s = {.ndim = ndim};
    for (int i = 0; i < ndim && i < TENSOR_MAX_DIMS; i++) s.dim[i] = dims[i];
    return s;
}

Shape shape_of(int ndim, ...)
{
    Shape s = {.ndim = ndim};
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim && i < TENSOR_MAX_DIMS; i++) s.dim[i] = va_arg(ap, int64_t);
    va_end(ap);
    return s;
}

int64_t shape_numel(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dim[i];
    return n;
}

bool shape_equal(const Shape *a, const Shape *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i]) return false;
    return true;
}

char *shape_format(const Shape *s, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < s->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)s->dim[i]);
    if (used < len) snprintf(buf + used, len - used, s->ndim == 1 ? ",)" : ")");
    return buf;
}

Shape shape_batched(int64_t batch, const Shape *example)
{
    Shape s = {.ndim = example->ndim + 1, .dim = {batch}};
    memcpy(&s.dim[1], example->dim, (size_t)example->ndim * sizeof s.dim[0]);
    return s;
}
