/* Graph construction: leaves and op nodes, each shape inferred as the node is made. */
#include "graph/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Graph *graph_new(const Backend *be)
{
    Graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->be = be;
    g->training = true;
    return g;
}

void graph_free(Graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++) free(g->nodes[i]);
    free(g->nodes);
    if (g->arena) g->be->free(g->arena);
    if (g->workspace) g->be->free(g->workspace);
    free(g);
}

static Node *new_node(Graph *g, NodeKind kind, const char *name, Error *err)
{
    if (g->planned) return err_internal(err, "node added to a planned graph"), NULL;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        Node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return err_set(err, "out of memory building the graph"), NULL;
        g->nodes = nodes;
        g->cap = cap;
    }
    Node *n = calloc(1, sizeof *n);
    if (!n) return err_set(err, "out of memory building the graph"), NULL;
    n->id = g->n;
    n->kind = kind;
    if (name && *name)
        snprintf(n->name, sizeof n->name, "%s", name);
    else
        snprintf(n->name, sizeof n->name, "%%%d", n->id);
    g->nodes[g->n++] = n;
    return n;
}

Node *graph_input(Graph *g, const char *name, const Shape *shape, bool requires_grad, Error *err)
{
    Node *n = new_node(g, NODE_INPUT, name, err);
    if (!n) return NULL;
    n->out.shape = *shape;
    n->requires_grad = requires_grad;
    return n;
}

Node *graph_param(Graph *g, Param *p, Error *err)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->kind == NODE_PARAM && g->nodes[i]->param == p) return g->nodes[i];
    Node *n = new_node(g, NODE_PARAM, p->name, err);
    if (!n) return NULL;
    n->param = p;
    n->out = p->value;
    n->requires_grad = p->trainable;
    return n;
}

static char *input_shapes(const Node *n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n->n_in && used < len; i++) {
        char s[96];
        shape_format(&n->in[i]->out.shape, s, sizeof s);
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", s);
    }
    return buf;
}

Node *graph_op(Graph *g, const char *op_name, Node *const *inputs, int n_inputs,
               const AttrValue *attrs, const char *name, Error *err)
{
    const Op *op = op_find(op_name);
    if (!op) return err_internal(err, "unknown op '%s'", op_name), NULL;
    int max_in = op->max_inputs + (op->declare_params ? OP_MAX_PARAMS : 0);
    if (n_inputs < op->min_inputs || n_inputs > max_in || n_inputs > NODE_MAX_INPUTS)
        return err_set(err, "op '%s' takes %d to %d inputs, got %d", op_name, op->min_inputs,
                       op->max_inputs, n_inputs), NULL;
    Node *n = new_node(g, NODE_OP, name, err);
    if (!n) return NULL;
    n->op = op;
    for (int i = 0; i < n_inputs; i++) {
        n->in[i] = inputs[i];
        n->requires_grad |= inputs[i]->requires_grad;
    }
    n->n_in = n_inputs;
    if (attrs) {
        memcpy(n->attr, attrs, sizeof n->attr);
    } else if (attr_defaults(op, n->attr, err)) {
        return NULL;
    }
    for (int i = 0; i < op->n_attrs; i++)
        if (!n->attr[i].set)
            return err_set(err, "node '%s' (%s) needs the attribute '%s'", n->name, op->name,
                           op->attrs[i].name), NULL;
    if (op->infer(n, err)) {
        char shapes[512];
        return err_prefix(err, "node '%s' (%s) with input shapes %s: ", n->name, op->name,
                          input_shapes(n, shapes, sizeof shapes)), NULL;
    }
    return n;
}

Node *graph_op1(Graph *g, const char *op_name, Node *a, Error *err)
{
    return graph_op(g, op_name, &a, 1, NULL, NULL, err);
}

Node *graph_op2(Graph *g, const char *op_name, Node *a, Node *b, Error *err)
{
    Node *in[2] = {a, b};
    return graph_op(g, op_name, in, 2, NULL, NULL, err);
}

void graph_set_input(Graph *g, Node *input, const float *host)
{
    if (input->out.data) /* an input nothing reads has no memory */
        g->be->upload(input->out.data, host, tensor_numel(&input->out));
}

void graph_get(Graph *g, const Node *n, float *host)
{
    g->be->download(host, n->out.data, tensor_numel(&n->out));
}

void graph_fail(Graph *g, const Node *n, const char *fmt, ...)
{
    char why[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    err_set_at(&g->failure, n->where, "node '%s' (%s): %s", n->name, n->op->name, why);
    g->failed = true;
}

int backend_status(const Backend *be, Error *err)
{
    const char *why = be->last_error();
    return why ? err_set(err, "the %s backend failed: %s", be->name, why) : 0;
}
