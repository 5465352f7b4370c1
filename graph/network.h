/* Networks: a validated definition (what a spec's `layers:` or `nodes:` describe, with no
 * YAML left in it) and the parameters it owns.  network_apply instantiates the definition's
 * nodes in a graph, so one network can be applied several times (a critic on real and on fake
 * images) while sharing its parameters. */
#ifndef GRAPH_NETWORK_H
#define GRAPH_NETWORK_H

#include "graph/graph.h"

#define NET_NAME_MAX 64
#define NET_WHERE_MAX 192
#define NET_MAX_INPUTS 4

typedef struct NodeDef {
    char name[NET_NAME_MAX];
    const Op *op;
    AttrValue attr[OP_MAX_ATTRS];
    /* Names of data inputs: earlier nodes or the network's inputs.  A `layers:` chain leaves
     * this empty, meaning "the previous node" (or the network's input for the first). */
    char inputs[NODE_MAX_INPUTS][NET_NAME_MAX];
    int n_inputs;
    InitSpec weight_init, bias_init; /* INIT_DEFAULT: the op's PyTorch default */
    char where[NET_WHERE_MAX];       /* "file:line:col" of the entry, for error messages */
} NodeDef;

typedef struct NetInputDef {
    char name[NET_NAME_MAX];         /* "input" for a single-input network */
    Shape shape;                     /* without the batch dimension */
} NetInputDef;

typedef struct NetDef {
    char name[NET_NAME_MAX];
    char where[NET_WHERE_MAX];
    NetInputDef inputs[NET_MAX_INPUTS];
    int n_inputs;
    NodeDef *nodes;
    int n_nodes;
    char output[NET_NAME_MAX];       /* the output node; empty: the last node */
} NetDef;

typedef struct Network {
    NetDef def;
    ParamSet params;                 /* in node order, "<node>.<param>" */
    bool params_ready;
} Network;

/* Copies def (its nodes too). */
Network *network_new(const NetDef *def, Error *err);
void network_free(Network *net);
void netdef_free(NetDef *def);       /* frees def->nodes */

/* One input leaf in g per input of def, named as the input, each (batch, *input shape). */
int network_input_leaves(Graph *g, const NetDef *def, int batch, Node **in, Error *err);
/* Applies the network to inputs (each (batch, *input shape)) in g.  The first call creates the
 * parameters on g->be and initialises them from `seed`.  *out receives the output node; when
 * node_out is not NULL, node_out[i] receives the node made for def.nodes[i]. */
int network_apply(Network *net, Graph *g, Node *const *inputs, int n_inputs, uint64_t seed,
                  Node **out, Node **node_out, Error *err);

/* Trainable parameter leaves of this network in g (after network_apply), in parameter order. */
int network_param_nodes(const Network *net, Graph *g, Node **nodes, int max_nodes);

#endif
