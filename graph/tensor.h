/* Shapes and tensors: contiguous row-major float32 buffers that live in a backend's memory. */
#ifndef GRAPH_TENSOR_H
#define GRAPH_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TENSOR_MAX_DIMS 6

typedef struct Shape {
    int ndim;
    int64_t dim[TENSOR_MAX_DIMS];
} Shape;

typedef struct Tensor {
    Shape shape;
    float *data; /* backend memory; owned by whoever allocated it (graph arena or Param) */
} Tensor;

Shape shape_make(int ndim, const int64_t *dims);
Shape shape_of(int ndim, ...); /* shape_of(2, (int64_t)64, (int64_t)512) */
int64_t shape_numel(const Shape *s);
bool shape_equal(const Shape *a, const Shape *b);
/* (batch, example...): an example's shape with the batch dimension in front. */
Shape shape_batched(int64_t batch, const Shape *example);
/* Writes "(64, 1, 28, 28)" into buf; returns buf. */
char *shape_format(const Shape *s, char *buf, size_t len);

static inline size_t tensor_numel(const Tensor *t) { return (size_t)shape_numel(&t->shape); }

#endif
