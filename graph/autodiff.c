/* Reverse-mode differentiation by graph construction: each op's backward appends the nodes of its
 * input gradients, so the result is an ordinary graph that can be run, planned with the forward
 * pass, and differentiated again. */
#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds contribution `d` to the gradient accumulated for node `target`. */
static int accumulate(Graph *g, Node **grad, const Node *target, Node *d, Error *err)
{
    if (!shape_equal(&d->out.shape, &target->out.shape)) {
        char a[96], b[96];
        return err_internal(err, "gradient for '%s' has shape %s, expected %s",
                            target->name, shape_format(&d->out.shape, a, sizeof a),
                            shape_format(&target->out.shape, b, sizeof b));
    }
    if (!grad[target->id]) {
        grad[target->id] = d;
        return 0;
    }
    Node *sum = graph_op2(g, "add", grad[target->id], d, err);
    if (!sum) return -1;
    grad[target->id] = sum;
    return 0;
}

int graph_backward(Graph *g, Node *loss, Node *const *wrt, int n_wrt, Node **grads, Error *err)
{
    if (shape_numel(&loss->out.shape) != 1)
        return err_internal(err, "loss '%s' must hold one value", loss->name);
    int n = g->n;
    bool *from_wrt = calloc((size_t)n, sizeof *from_wrt);
    bool *to_loss = calloc((size_t)n, sizeof *to_loss);
    Node **grad = calloc((size_t)n, sizeof *grad);
    int rc = -1;
    if (!from_wrt || !to_loss || !grad) {
        err_set(err, "out of memory");
        goto done;
    }
    /* Only nodes on a path from some wrt to the loss need gradients. */
    for (int i = 0; i < n_wrt; i++) from_wrt[wrt[i]->id] = true;
    for (int id = 0; id < n; id++) {
        Node *nd = g->nodes[id];
        for (int i = 0; i < nd->n_in && !from_wrt[id]; i++) from_wrt[id] = from_wrt[nd->in[i]->id];
    }
    to_loss[loss->id] = true;
    for (int id = loss->id; id >= 0; id--) {
        if (!to_loss[id]) continue;
        Node *nd = g->nodes[id];
        for (int i = 0; i < nd->n_in; i++) to_loss[nd->in[i]->id] = true;
    }

    AttrValue one[OP_MAX_ATTRS];
    const Op *full_like = op_find("full_like");
    if (!full_like || attr_defaults(full_like, one, err)) {
        if (!full_like) err_internal(err, "op 'full_like' is missing");
        goto done;
    }
    attr_set_float(full_like, one, "value", 1.0);
    grad[loss->id] = graph_op(g, "full_like", &loss, 1, one, "grad_seed", err);
    if (!grad[loss->id]) goto done;

    for (int id = loss->id; id >= 0; id--) {
        Node *nd = g->nodes[id];
        if (nd->kind != NODE_OP || !grad[id] || !from_wrt[id] || !to_loss[id]) continue;
        bool want[NODE_MAX_INPUTS] = {false};
        bool any = false;
        for (int i = 0; i < nd->n_in; i++) {
            const Node *in = nd->in[i];
            want[i] = from_wrt[in->id] && in->requires_grad;
            any |= want[i];
        }
        if (!any) continue;
        if (!nd->op->backward) {
            err_set(err, "node '%s': op '%s' has no gradient", nd->name, nd->op->name);
            goto done;
        }
        Node *dx[NODE_MAX_INPUTS] = {NULL};
        int first_new = g->n;
        if (nd->op->backward(g, nd, grad[id], want, dx, err)) {
            err_prefix(err, "gradient of node '%s' (%s): ", nd->name, nd->op->name);
            goto done;
        }
        for (int k = first_new; k < g->n; k++) { /* profiles and errors name the forward node */
            Node *made = g->nodes[k];
            made->where = nd->where;
            if (made->name[0] == '%') snprintf(made->name, sizeof made->name, "grad(%.140s)", nd->name);
        }
        for (int i = 0; i < nd->n_in; i++)
            if (want[i] && dx[i] && accumulate(g, grad, nd->in[i], dx[i], err)) goto done;
    }
    for (int i = 0; i < n_wrt; i++) grads[i] = wrt[i]->id < n ? grad[wrt[i]->id] : NULL;
    rc = 0;
done:
    free(from_wrt);
    free(to_loss);
    free(grad);
    return rc;
}
