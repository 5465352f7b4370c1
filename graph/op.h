/* The op registry.  Each op (graph/ops/<op>.c) declares its attribute schema, the parameters it
 * owns, how it infers its output shape, its forward (on the backend table) and its backward,
 * which appends gradient nodes to the graph so that gradients are themselves differentiable. */
#ifndef GRAPH_OP_H
#define GRAPH_OP_H

#include "graph/error.h"
#include "graph/tensor.h"

#include <stdbool.h>
#include <stdint.h>

#define OP_MAX_ATTRS 12
#define ATTR_MAX_INTS 6
#define ATTR_STR_MAX 32
#define OP_MAX_PARAMS 6

/* The length of an op's attribute table (an AttrSchema array). */
#define N_ATTRS(a) ((int)(sizeof a / sizeof a[0]))

typedef enum AttrType { ATTR_INT, ATTR_FLOAT, ATTR_BOOL, ATTR_INTS, ATTR_STRING } AttrType;

/* One parsed attribute value.  INT and BOOL use ints[0]; INTS uses ints[0..n); FLOAT uses f;
 * STRING uses s. */
typedef struct AttrValue {
    bool set;
    int n;
    int64_t ints[ATTR_MAX_INTS];
    double f;
    char s[ATTR_STR_MAX];
} AttrValue;

typedef struct AttrSchema {
    const char *name;
    AttrType type;
    /* ATTR_INTS: how many values; a scalar is repeated (kernel: 3 means [3, 3]).  0: any count
     * from 1 to ATTR_MAX_INTS (reshape's shape). */
    int count;
    const char *default_text; /* parsed like a user's value; NULL: the attribute is required */
    double min, max;          /* accepted range for numbers; unchecked when min > max */
    const char *const *choices; /* ATTR_STRING: NULL-terminated list of accepted words */
    const char *doc;
} AttrSchema;

/* How a parameter is initialised.  The op's ParamDecl gives PyTorch's default; a spec's
 * `init:` replaces it for weights (and `bias_init:` for biases). */
typedef enum InitKind {
    INIT_DEFAULT,        /* whatever the op declares */
    INIT_ZEROS,
    INIT_ONES,
    INIT_CONSTANT,       /* a = value */
    INIT_UNIFORM,        /* a = low, b = high */
    INIT_NORMAL,         /* a = mean, b = std */
    INIT_XAVIER_UNIFORM, /* a = gain */
    INIT_XAVIER_NORMAL,  /* a = gain */
    INIT_KAIMING_UNIFORM,/* a = negative slope (leaky_relu), b = 1 for fan_out mode */
    INIT_KAIMING_NORMAL, /* a = negative slope, b = 1 for fan_out mode */
} InitKind;

typedef struct InitSpec {
    InitKind kind;
    double a, b;
} InitSpec;

/* A parameter or buffer an op owns, declared once the op's data-input shapes are known. */
typedef struct ParamDecl {
    char name[24];        /* "weight", "bias", "running_mean", ... */
    Shape shape;
    InitSpec init;        /* PyTorch's default for this op */
    int64_t fan_in, fan_out;
    bool is_weight;       /* a spec's `init:` applies to it */
    bool is_bias;         /* a spec's `bias_init:` applies to it */
    bool is_buffer;       /* saved and loaded, never trained (running statistics) */
    bool is_counter;      /* an integer buffer (num_batches_tracked), saved as I64 */
} ParamDecl;

struct Graph;
struct Node;
struct Backend;

enum {
    OP_INTERNAL = 1 << 0, /* a gradient helper: not usable in specs */
    OP_VIEW = 1 << 1,     /* output aliases input 0's memory (reshape, flatten, detach) */
};

typedef struct Op {
    const char *name;
    const char *summary;            /* one line for docs and `runner ops` */
    const AttrSchema *attrs;
    int n_attrs;
    int min_inputs, max_inputs;     /* data inputs (parameters are appended after them) */
    unsigned flags;

    /* Declares the parameters owned by node n (whose data inputs are set); NULL if none. */
    int (*declare_params)(const struct Node *n, ParamDecl *decls, int *n_decls, Error *err);
    /* Sets n->out.shape (and n->aux_shape / n->n_aux / n->workspace_bytes) from the inputs'
     * shapes and n->attr; fails with a message naming what was expected. */
    int (*infer)(struct Node *n, Error *err);
    /* Computes n->out (and n->aux) from the inputs on g->be. */
    void (*forward)(struct Graph *g, struct Node *n);
    /* Appends to g nodes computing dL/d(input i) into dx[i] for each i with want[i], given
     * dy = dL/d(output).  Leaves dx[i] NULL when the gradient is zero.  NULL when the op is not
     * differentiable (the autodiff reports which op stopped it). */
    int (*backward)(struct Graph *g, struct Node *n, struct Node *dy, const bool *want,
                    struct Node **dx, Error *err);
    /* Scratch bytes forward needs from the graph's shared workspace on backend `be`, for ops
     * whose need depends on the backend (infer has none).  NULL: n->workspace_bytes, set by infer. */
    size_t (*workspace)(const struct Node *n, const struct Backend *be);
    /* A note for `runner check` on what node n costs beyond its output and parameters (the P x P
     * matrices of self_attention), written into buf; NULL when there is nothing to add. */
    void (*describe)(const struct Node *n, char *buf, size_t len);
    /* Floating-point operations of one forward call of node n: 2 per multiply-add of its matrix
     * products and convolutions (elementwise work is not counted), for `runner bench`'s GFLOP/s.
     * NULL: nothing counted. */
    double (*flops)(const struct Node *n);
} Op;

/* Registry (graph/op_table.c, built from graph/ops/ops.def). */
const Op *op_find(const char *name);
int op_count(void);
const Op *op_at(int i);
/* The registered name closest to `name` (edit distance), for "did you mean"; NULL if none is close. */
const char *op_suggest(const char *name);

/* Attributes. */
int attr_index(const Op *op, const char *name);
/* Parses one attribute from the textual items of a YAML scalar (n_items = 1, is_list false) or
 * sequence (is_list true), checking type, count, range and choices. */
int attr_parse(const AttrSchema *s, const char *const *items, int n_items, bool is_list,
               AttrValue *out, Error *err);
/* Fills every attribute with its default; required ones are left unset. */
int attr_defaults(const Op *op, AttrValue *attrs, Error *err);
/* Convenience for backward builders. */
void attr_set_int(const Op *op, AttrValue *attrs, const char *name, int64_t v);
void attr_set_float(const Op *op, AttrValue *attrs, const char *name, double v);
void attr_set_ints(const Op *op, AttrValue *attrs, const char *name, const int64_t *v, int n);
void attr_set_string(const Op *op, AttrValue *attrs, const char *name, const char *v);
/* Read access by name (aborts on a misspelt name: a programming error, not a user error). */
int64_t attr_int(const struct Node *n, const char *name);
double attr_float(const struct Node *n, const char *name);
const AttrValue *attr_get(const struct Node *n, const char *name);



#endif
