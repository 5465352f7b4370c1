/* The backward and the shape rule that linear ops and their adjoints share (graph/ops/adjoint.h). */
#include "graph/ops/adjoint.h"

#include <stdio.h>
#include <string.h>

#define GRAD_SUFFIX "_grad"

int adjoint_pair_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    const char *name = n->op->name;
    size_t len = strlen(name), suffix = strlen(GRAD_SUFFIX);
    bool is_adjoint = len > suffix && !strcmp(name + len - suffix, GRAD_SUFFIX);
    char other[64];
    if (is_adjoint) snprintf(other, sizeof other, "%.*s", (int)(len - suffix), name);
    else snprintf(other, sizeof other, "%s" GRAD_SUFFIX, name);
    Node *in[2] = {dy, n->in[0]};
    return (dx[0] = graph_op(g, other, in, is_adjoint ? 1 : 2, n->attr, NULL, err)) ? 0 : -1;
}

int grad_op_infer(Node *n, const Shape *y, const char *made, Error *err)
{
    const Shape *dy = &n->in[0]->out.shape;
    if (!shape_equal(dy, y)) {
        char a[96], b[96];
        return err_set(err, "%s expects dy of shape %s (the %s input), got %s", n->op->name,
                       shape_format(y, a, sizeof a), made, shape_format(dy, b, sizeof b));
    }
    n->out.shape = n->in[1]->out.shape;
    return 0;
}
