/* Networks: instantiating a validated definition in a graph, with parameters created (and
 * initialised) on first use and shared by every later application. */
#include "graph/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Network *network_new(const NetDef *def, Error *err)
{
    Network *net = calloc(1, sizeof *net);
    if (!net) return err_set(err, "out of memory"), NULL;
    net->def = *def;
    net->def.nodes = NULL;
    if (def->n_nodes > 0) {
        net->def.nodes = malloc((size_t)def->n_nodes * sizeof *def->nodes);
        if (!net->def.nodes) {
            free(net);
            return err_set(err, "out of memory"), NULL;
        }
        memcpy(net->def.nodes, def->nodes, (size_t)def->n_nodes * sizeof *def->nodes);
    }
    return net;
}

void netdef_free(NetDef *def)
{
    free(def->nodes);
    def->nodes = NULL;
    def->n_nodes = 0;
}

void network_free(Network *net)
{
    if (!net) return;
    paramset_free(&net->params);
    netdef_free(&net->def);
    free(net);
}

/* Gives a message the spec location of a node definition, when known. */
static int node_error(const NetDef *def, const NodeDef *nd, Error *err)
{
    const char *where = nd && nd->where[0] ? nd->where : def->where;
    return err_locate(err, where[0] ? where : NULL);
}

static InitSpec resolve_init(const ParamDecl *d, const NodeDef *nd)
{
    if (d->is_weight && nd->weight_init.kind != INIT_DEFAULT) return nd->weight_init;
    if (d->is_bias && nd->bias_init.kind != INIT_DEFAULT) return nd->bias_init;
    return d->init;
}

/* Finds or creates the node's parameters and appends their leaves to `inputs`. */
static int attach_params(Network *net, Graph *g, const NodeDef *nd, Node **inputs, int *n_inputs,
                         uint64_t seed, Error *err)
{
    if (!nd->op->declare_params) return 0;
    Node probe = {0};
    probe.kind = NODE_OP;
    probe.op = nd->op;
    memcpy(probe.attr, nd->attr, sizeof probe.attr);
    for (int i = 0; i < *n_inputs; i++) probe.in[i] = inputs[i];
    probe.n_in = *n_inputs;
    ParamDecl decls[OP_MAX_PARAMS];
    int n_decls = 0;
    if (nd->op->declare_params(&probe, decls, &n_decls, err)) return -1;
    if (*n_inputs + n_decls > NODE_MAX_INPUTS) return err_set(err, "too many inputs and parameters");
    for (int k = 0; k < n_decls; k++) {
        const ParamDecl *d = &decls[k];
        char name[sizeof ((Param *)0)->name];
        snprintf(name, sizeof name, "%s.%s", nd->name, d->name);
        Param *p = paramset_find(&net->params, name);
        if (p) {
            if (!shape_equal(&p->value.shape, &d->shape)) {
                char a[96], b[96];
                return err_set(err, "parameter '%s' has shape %s but this input needs %s", name,
                               shape_format(&p->value.shape, a, sizeof a), shape_format(&d->shape, b, sizeof b));
            }
        } else {
            if (net->params_ready)
                return err_internal(err, "parameter '%s' appeared after the first use", name);
            p = param_new(name, &d->shape, g->be, err);
            if (!p) return -1;
            p->trainable = !d->is_buffer;
            p->is_buffer = d->is_buffer;
            p->is_counter = d->is_counter;
            p->init = resolve_init(d, nd);
            p->fan_in = d->fan_in;
            p->fan_out = d->fan_out;
            if (param_init(p, seed, err) || paramset_add(&net->params, p, err)) {
                param_free(p);
                return -1;
            }
        }
        Node *leaf = graph_param(g, p, err);
        if (!leaf) return -1;
        inputs[(*n_inputs)++] = leaf;
    }
    return 0;
}

typedef struct Binding {
    const char *name;
    Node *node;
} Binding;

static Node *lookup(const Binding *b, int n, const char *name)
{
    for (int i = n - 1; i >= 0; i--)
        if (strcmp(b[i].name, name) == 0) return b[i].node;
    return NULL;
}

int network_apply(Network *net, Graph *g, Node *const *inputs, int n_inputs, uint64_t seed,
                  Node **out, Node **node_out, Error *err)
{
    const NetDef *def = &net->def;
    if (n_inputs != def->n_inputs) {
        err_set(err, "network '%s' takes %d input(s), got %d", def->name, def->n_inputs, n_inputs);
        return node_error(def, NULL, err);
    }
    Binding *bound = malloc((size_t)(def->n_inputs + def->n_nodes) * sizeof *bound);
    if (!bound) return err_set(err, "out of memory");
    int n_bound = 0;
    int rc = -1;
    for (int i = 0; i < n_inputs; i++) {
        const Shape *want = &def->inputs[i].shape;
        const Shape *got = &inputs[i]->out.shape;
        bool ok = got->ndim == want->ndim + 1;
        for (int d = 0; ok && d < want->ndim; d++) ok = got->dim[d + 1] == want->dim[d];
        if (!ok) {
            char a[96], b[96];
            Shape batch = shape_batched(-1, want);
            err_set(err, "network '%s' input '%s' expects shape %s (batch first), got %s", def->name,
                    def->inputs[i].name, shape_format(&batch, a, sizeof a), shape_format(got, b, sizeof b));
            node_error(def, NULL, err);
            goto done;
        }
        bound[n_bound++] = (Binding){def->inputs[i].name, inputs[i]};
    }
    Node *prev = n_inputs > 0 ? inputs[0] : NULL;
    for (int k = 0; k < def->n_nodes; k++) {
        const NodeDef *nd = &def->nodes[k];
        Node *in[NODE_MAX_INPUTS];
        int n_in = 0;
        if (nd->n_inputs == 0) {
            if (!prev) {
                err_set(err, "node '%s' has no input", nd->name);
                node_error(def, nd, err);
                goto done;
            }
            in[n_in++] = prev;
        }
        for (int i = 0; i < nd->n_inputs; i++) {
            Node *src = lookup(bound, n_bound, nd->inputs[i]);
            if (!src) {
                err_set(err, "node '%s' reads '%s', which is neither an input nor an earlier node",
                        nd->name, nd->inputs[i]);
                node_error(def, nd, err);
                goto done;
            }
            in[n_in++] = src;
        }
        if (attach_params(net, g, nd, in, &n_in, seed, err)) {
            err_prefix(err, "node '%s': ", nd->name);
            node_error(def, nd, err);
            goto done;
        }
        char full[NODE_NAME_MAX];
        snprintf(full, sizeof full, "%s.%s", def->name, nd->name);
        Node *made = graph_op(g, nd->op->name, in, n_in, nd->attr, full, err);
        if (!made) {
            node_error(def, nd, err);
            goto done;
        }
        made->where = nd->where;
        if (node_out) node_out[k] = made;
        bound[n_bound++] = (Binding){nd->name, made};
        prev = made;
    }
    net->params_ready = true;
    Node *result = prev;
    if (def->output[0]) {
        result = lookup(bound, n_bound, def->output);
        if (!result) {
            err_set(err, "network '%s' output '%s' is not a node", def->name, def->output);
            node_error(def, NULL, err);
            goto done;
        }
    }
    *out = result;
    rc = 0;
done:
    free(bound);
    return rc;
}

int network_param_nodes(const Network *net, Graph *g, Node **nodes, int max_nodes)
{
    int count = 0;
    for (int i = 0; i < net->params.n && count < max_nodes; i++) {
        Param *p = net->params.items[i];
        if (!p->trainable) continue;
        for (int k = 0; k < g->n; k++)
            if (g->nodes[k]->kind == NODE_PARAM && g->nodes[k]->param == p) {
                nodes[count++] = g->nodes[k];
                break;
            }
    }
    return count;
}

int network_input_leaves(Graph *g, const NetDef *def, int batch, Node **in, Error *err)
{
    for (int i = 0; i < def->n_inputs; i++) {
        Shape s = shape_batched(batch, &def->inputs[i].shape);
        if (!(in[i] = graph_input(g, def->inputs[i].name, &s, false, err))) return -1;
    }
    return 0;
}
