/* dropout(x): in training, each element is kept with probability 1 - p and scaled by 1/(1-p)
 * (PyTorch keeps where u < 1 - p, u uniform in [0, 1)); in evaluation, the identity.
 * The forward node saves its noise 1 - p - u in aux[0], so "kept" is noise > 0 and the mask is
 * the relu derivative of the noise.  Its gradient is the same op replaying that mask:
 * dropout(dy, forward_node), which is linear in dy and so differentiable again.  With p = 0 it is
 * the identity, as PyTorch's (a UNet's blocks keep the node at p = 0): a copy, no noise, and the
 * gradient passes through. */
#include "graph/ops/eltwise.h"

extern const Op op_dropout;

static const AttrSchema dropout_attrs[] = {
    {.name = "p", .type = ATTR_FLOAT, .default_text = "0.5", .min = 0, .max = 1,
     .doc = "probability of dropping an element"},
};

static int dropout_infer(Node *n, Error *err)
{
    const Shape *s = &n->in[0]->out.shape;
    if (n->n_in == 2) {
        const Node *src = n->in[1];
        if (src->kind != NODE_OP || src->op != &op_dropout || src->n_in != 1)
            return err_set(err, "dropout's optional second input must be the dropout node whose "
                           "mask it replays (it is used for gradients)");
        if (infer_same_shape(n, 0, 1, err)) return -1;
        return 0;
    }
    n->out.shape = *s;
    if (attr_float(n, "p") > 0.0) {
        n->n_aux = 1;
        n->aux_shape[0] = *s;
    }
    return 0;
}

static void dropout_forward(Graph *g, Node *n)
{
    size_t count = tensor_numel(&n->out);
    const float *x = n->in[0]->out.data;
    float p = (float)attr_float(n, "p");
    if (!g->training || p == 0.0f) {
        g->be->copy(n->out.data, x, count);
        return;
    }
    const float *noise;
    if (n->n_in == 2) {
        noise = n->in[1]->aux[0].data;
    } else {
        /* noise = (1 - p) - u, exact in sign: positive exactly when u < 1 - p. */
        g->be->rng_uniform(n->aux[0].data, count, 1.0f - p, -p, g->seed, g->rng_offset);
        g->rng_offset += count; /* elements of the stream consumed */
        noise = n->aux[0].data;
    }
    g->be->unary_backward(UNARY_RELU, noise, noise, x, n->out.data, count, 0.0f);
    g->be->scale_shift(count, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, n->out.data, 0.0f, n->out.data);
}

static int dropout_backward(Graph *g, Node *n, Node *dy, const bool *want, Node **dx, Error *err)
{
    if (!want[0]) return 0;
    if (attr_float(n, "p") == 0.0) {
        dx[0] = dy;
        return 0;
    }
    Node *in[2] = {dy, n->n_in == 2 ? n->in[1] : n};
    return (dx[0] = graph_op(g, "dropout", in, 2, n->attr, NULL, err)) ? 0 : -1;
}

const Op op_dropout = {
    .name = "dropout", .summary = "zeroes elements with probability p in training, scales by 1/(1-p)",
    .attrs = dropout_attrs, .n_attrs = 1, .min_inputs = 1, .max_inputs = 2,
    .infer = dropout_infer, .forward = dropout_forward, .backward = dropout_backward,
};
