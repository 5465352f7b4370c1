/* The graph: a DAG of nodes in topological (creation) order.  Leaves are inputs and
 * parameters; every other node applies an op.  graph_backward appends gradient nodes, so a
 * graph that contains gradients can be differentiated again.  graph_plan fixes the memory of
 * every value once (an arena with lifetime-based reuse); graph_run then executes the needed
 * nodes every step without allocating. */
#ifndef GRAPH_GRAPH_H
#define GRAPH_GRAPH_H

#include "graph/op.h"
#include "graph/param.h"
#include "graph/tensor.h"
#include "kernels/backend.h"

#define NODE_MAX_INPUTS 8
#define NODE_MAX_AUX 2
#define NODE_NAME_MAX 160

typedef enum NodeKind { NODE_OP, NODE_INPUT, NODE_PARAM } NodeKind;

typedef struct Node {
    int id;
    char name[NODE_NAME_MAX];
    NodeKind kind;
    const Op *op;                    /* NODE_OP */
    AttrValue attr[OP_MAX_ATTRS];
    struct Node *in[NODE_MAX_INPUTS];
    int n_in;
    Tensor out;
    Shape aux_shape[NODE_MAX_AUX];   /* values saved by forward for backward (batch stats, masks) */
    Tensor aux[NODE_MAX_AUX];
    int n_aux;
    size_t workspace_bytes;          /* scratch needed by forward (shared by all nodes) */
    bool requires_grad;
    Param *param;                    /* NODE_PARAM */
    const char *where;               /* "file:line:col" of the spec entry that made it, or NULL */

    /* Filled by graph_plan. */
    bool needed, is_output;
    int last_use;
    struct Node *storage;            /* OP_VIEW: the node whose memory this one shares */
} Node;

typedef struct Graph {
    Node **nodes;
    int n, cap;
    const Backend *be;
    bool training;           /* batchnorm uses batch statistics, dropout drops */
    /* Not training, yet batch norms normalise with each batch's own statistics (a PyTorch model
     * sampled without .eval()); their running statistics are left as they are. */
    bool batch_statistics;
    uint64_t seed;           /* random streams of ops (dropout) */
    uint64_t rng_offset;     /* advanced by every draw, so each run draws fresh numbers */

    bool planned;
    void *arena;
    size_t arena_bytes;
    void *workspace;
    size_t workspace_bytes;

    /* Set by an op whose forward finds its input unusable (an out-of-range class id):
     * graph_run stops after that node and returns the message. */
    bool failed;
    Error failure;
} Graph;

Graph *graph_new(const Backend *be);
void graph_free(Graph *g);

/* Leaves. */
Node *graph_input(Graph *g, const char *name, const Shape *shape, bool requires_grad, Error *err);
Node *graph_param(Graph *g, Param *p, Error *err); /* one leaf per Param per graph */

/* Applies op `op_name` to inputs; attrs NULL means the op's defaults.  The node's shape is
 * inferred at once, so errors name the node and the shapes involved. */
Node *graph_op(Graph *g, const char *op_name, Node *const *inputs, int n_inputs,
               const AttrValue *attrs, const char *name, Error *err);
/* Shorthands for backward builders: one or two inputs, default attributes. */
Node *graph_op1(Graph *g, const char *op_name, Node *a, Error *err);
Node *graph_op2(Graph *g, const char *op_name, Node *a, Node *b, Error *err);

/* Appends nodes computing d(loss)/d(wrt[i]) into grads[i] (NULL when wrt[i] does not affect
 * loss).  loss must hold one element; its upstream gradient is 1. */
int graph_backward(Graph *g, Node *loss, Node *const *wrt, int n_wrt, Node **grads, Error *err);

/* Fixes memory for everything `outputs` depend on; outputs stay valid after graph_run. */
int graph_plan(Graph *g, Node *const *outputs, int n_outputs, Error *err);
/* 0, or -1 with "the <name> backend failed: <why>" when `be` has recorded a failure (the CPU's
 * primitives cannot fail; CUDA's report after the call that caused them). */
int backend_status(const Backend *be, Error *err);
/* Executes the planned graph (inputs must have been set); -1 when the backend reports a failure
 * (an asynchronous backend's may come from earlier work, such as an optimizer update). */
int graph_run(Graph *g, Error *err);
/* The same, adding each node's milliseconds to node_ms[node id] (for profiles). */
int graph_run_timed(Graph *g, double *node_ms, Error *err);
/* Floating-point operations (Op.flops) of every node that graph_run has executed in this process
 * so far: a benchmark reads it before and after what it times. */
double graph_flops_run(void);
/* For forward functions: records why node n cannot compute its output (printf-style, after
 * "node '<name>' (<op>): ", at the node's spec entry), so that graph_run stops there with it. */
void graph_fail(Graph *g, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies host data into an input leaf / reads a node's value back (after graph_plan). */
void graph_set_input(Graph *g, Node *input, const float *host);
void graph_get(Graph *g, const Node *n, float *host);

/* Bytes of activation memory the plan uses (arena + shared workspace). */
size_t graph_memory_bytes(const Graph *g);

#endif
