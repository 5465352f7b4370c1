/* `models:` into NetDefs.  A network has `input: [dims]` (or `inputs: {name: [dims], ...}`) and
 * either `layers:` (a chain: each layer reads the previous one) or `nodes:` (a DAG: each node
 * reads the nodes named in `in:`, the previous node when it has none).  An entry is `op`,
 * `op: {attributes}`, `op: value` (the op's one attribute), or `{op: name, attributes...}`;
 * `name`, `in`, `init` and `bias_init` may sit beside the attributes; `{block: name, ...}` uses a
 * block of the network's `blocks:` (spec_blocks.c).  Attributes are checked against the op's
 * schema here; shapes are checked when the network is applied to a graph. */
#include "runner/spec/spec_net.h"
#include "graph/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reserved[] = {"op", "name", "in", "init", "bias_init"};
#define N_RESERVED (int)(sizeof reserved / sizeof reserved[0])

static bool is_reserved(const char *key)
{
    for (int i = 0; i < N_RESERVED; i++)
        if (!strcmp(key, reserved[i])) return true;
    return false;
}

int net_check_name(const YNode *v, const char *what, char *out, Error *err)
{
    if (v->kind != Y_SCALAR || ynode_is_null(v)) {
        char buf[96];
        return yerr(err, v, "%s expects a name, found %s", what, ynode_describe(v, buf, sizeof buf));
    }
    size_t len = strlen(v->text);
    bool ok = len > 0 && len < NET_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++) ok = isalnum((unsigned char)v->text[i]) || v->text[i] == '_';
    if (!ok)
        return yerr(err, v, "%s '%.80s' is not a valid name (letters, digits and '_', at most %d characters)", what,
                    v->text, NET_NAME_MAX - 1);
    memcpy(out, v->text, len + 1);
    return 0;
}

/* ---- shapes ---- */

static int parse_shape(const YNode *v, const char *what, Shape *s, Error *err)
{
    char buf[96];
    if (v->kind != Y_SEQ)
        return yerr(err, v, "%s expects a list of dimensions such as [1, 28, 28], found %s", what,
                    ynode_describe(v, buf, sizeof buf));
    if (v->n > TENSOR_MAX_DIMS - 1)
        return yerr(err, v, "%s has %d dimensions; at most %d (the batch dimension is added)", what, v->n,
                    TENSOR_MAX_DIMS - 1);
    s->ndim = v->n;
    for (int i = 0; i < v->n; i++) {
        const YNode *d = v->vals[i];
        char *end = NULL;
        long long x = d->kind == Y_SCALAR ? strtoll(d->text, &end, 10) : 0;
        if (d->kind != Y_SCALAR || d->text[0] == '\0' || *end != '\0')
            return yerr(err, d, "%s: a dimension must be a positive integer, found %s", what,
                        ynode_describe(d, buf, sizeof buf));
        if (x < 1 || x > (1 << 24)) /* strtoll saturates, so any overflow lands here too */
            return yerr(err, d, "%s: dimension %s is out of range, expected an integer from 1 to %d", what, d->text,
                        1 << 24);
        s->dim[i] = x;
    }
    return 0;
}

static int parse_inputs(NetDef *def, const YNode *key, const YNode *net, const char *model, Error *err)
{
    const YNode *one = ymap_get(net, "input"), *many = ymap_get(net, "inputs");
    if (one && many)
        return yerr(err, many, "model '%s' gives both 'input' and 'inputs'; use one", model);
    if (!one && !many)
        return yerr(err, key, "missing required key 'input' in model '%s' (the shape of one sample, e.g. [1, 28, 28])",
                    model);
    if (one) {
        snprintf(def->inputs[0].name, NET_NAME_MAX, "input");
        def->n_inputs = 1;
        return parse_shape(one, "'input'", &def->inputs[0].shape, err);
    }
    if (many->kind != Y_MAP || many->n == 0)
        return yerr(err, many, "'inputs' expects a mapping of input names to shapes, e.g. {x: [3, 32, 32], t: []}");
    if (many->n > NET_MAX_INPUTS)
        return yerr(err, many, "model '%s' has %d inputs; at most %d", model, many->n, NET_MAX_INPUTS);
    for (int i = 0; i < many->n; i++) {
        NetInputDef *in = &def->inputs[def->n_inputs++];
        char what[96];
        if (net_check_name(many->keys[i], "an input", in->name, err)) return -1;
        snprintf(what, sizeof what, "input '%s'", in->name);
        if (parse_shape(many->vals[i], what, &in->shape, err)) return -1;
    }
    return 0;
}

/* ---- init ---- */

typedef struct InitArgs {
    double mean, std, low, high, gain, a, value;
    char mode[SPEC_WORD_MAX];
} InitArgs;

static const char *const mode_choices[] = {"fan_in", "fan_out", NULL};
#define IA(x) offsetof(InitArgs, x)
static const Field normal_f[] = {{"mean", F_FLOAT, IA(mean), "0", 1, 0, NULL, "mean"},
                                 {"std", F_FLOAT, IA(std), "1", 0, FIELD_NO_MAX, NULL, "standard deviation"}};
static const Field uniform_f[] = {{"low", F_FLOAT, IA(low), "0", 1, 0, NULL, "lower bound"},
                                  {"high", F_FLOAT, IA(high), "1", 1, 0, NULL, "upper bound"}};
static const Field gain_f[] = {{"gain", F_FLOAT, IA(gain), "1", 0, FIELD_NO_MAX, NULL, "scale factor"}};
static const Field kaiming_f[] = {
    {"a", F_FLOAT, IA(a), "0", 0, FIELD_NO_MAX, NULL, "negative slope of the leaky_relu that follows"},
    {"mode", F_WORD, IA(mode), "fan_in", 1, 0, mode_choices, "preserve the variance forwards or backwards"}};
static const Field constant_f[] = {{"value", F_FLOAT, IA(value), NULL, 1, 0, NULL, "the value"}};

typedef struct InitKindDef {
    const char *name;
    InitKind kind;
    FieldTable args;
} InitKindDef;

static const InitKindDef init_kinds[] = {
    {"normal", INIT_NORMAL, {"init normal", normal_f, 2}},
    {"uniform", INIT_UNIFORM, {"init uniform", uniform_f, 2}},
    {"xavier_uniform", INIT_XAVIER_UNIFORM, {"init xavier_uniform", gain_f, 1}},
    {"xavier_normal", INIT_XAVIER_NORMAL, {"init xavier_normal", gain_f, 1}},
    {"kaiming_uniform", INIT_KAIMING_UNIFORM, {"init kaiming_uniform", kaiming_f, 2}},
    {"kaiming_normal", INIT_KAIMING_NORMAL, {"init kaiming_normal", kaiming_f, 2}},
    {"zeros", INIT_ZEROS, {"init zeros", NULL, 0}},
    {"ones", INIT_ONES, {"init ones", NULL, 0}},
    {"constant", INIT_CONSTANT, {"init constant", constant_f, 1}},
};
#define N_INIT_KINDS (int)(sizeof init_kinds / sizeof init_kinds[0])

static int parse_init(const YNode *v, const char *key, InitSpec *out, Error *err)
{
    const YNode *kind_node = v, *args = NULL;
    if (v->kind == Y_MAP && v->n == 1) {
        kind_node = v->keys[0];
        args = v->vals[0];
    } else if (v->kind != Y_SCALAR || ynode_is_null(v)) {
        return yerr(err, v, "'%s' expects an initialiser such as zeros or {normal: {std: 0.02}}", key);
    }
    const InitKindDef *k = NULL;
    const char *names[N_INIT_KINDS];
    for (int i = 0; i < N_INIT_KINDS; i++) {
        names[i] = init_kinds[i].name;
        if (!strcmp(init_kinds[i].name, kind_node->text)) k = &init_kinds[i];
    }
    if (!k) {
        const char *hint = suggest_word(kind_node->text, names, N_INIT_KINDS);
        if (hint) return yerr(err, kind_node, "unknown initialiser '%s' (did you mean '%s'?)", kind_node->text, hint);
        return yerr(err, kind_node,
                    "unknown initialiser '%s' (expected normal, uniform, xavier_uniform, xavier_normal, "
                    "kaiming_uniform, kaiming_normal, zeros, ones or constant)",
                    kind_node->text);
    }
    InitArgs a;
    memset(&a, 0, sizeof a);
    const FieldTable *t = &k->args;
    char what[64];
    snprintf(what, sizeof what, "%s '%s'", key, k->name);
    if (fields_defaults(t, &a, err) || fields_parse(args, &t, 1, &a, what, kind_node, err)) return -1;
    *out = (InitSpec){.kind = k->kind};
    switch (k->kind) {
    case INIT_NORMAL: out->a = a.mean, out->b = a.std; break;
    case INIT_UNIFORM:
        if (a.low > a.high) return yerr(err, args, "uniform: 'low' (%g) must not exceed 'high' (%g)", a.low, a.high);
        out->a = a.low, out->b = a.high;
        break;
    case INIT_XAVIER_UNIFORM:
    case INIT_XAVIER_NORMAL: out->a = a.gain; break;
    case INIT_KAIMING_UNIFORM:
    case INIT_KAIMING_NORMAL: out->a = a.a, out->b = !strcmp(a.mode, "fan_out"); break;
    case INIT_CONSTANT: out->a = a.value; break;
    default: break;
    }
    return 0;
}

/* ---- nodes ---- */

typedef struct EntryParts {
    const YNode *op;              /* the op's name node */
    const YNode *keys[OP_MAX_ATTRS + N_RESERVED + 4], *vals[OP_MAX_ATTRS + N_RESERVED + 4];
    int n;                        /* attribute and reserved key/value pairs */
    const YNode *shorthand;       /* `op: value` */
} EntryParts;

static int add_part(EntryParts *p, const YNode *k, const YNode *v, Error *err)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i]->text, k->text))
            return yerr(err, k, "'%s' is given twice for this node (also at line %d)", k->text, p->keys[i]->line);
    if (p->n >= (int)(sizeof p->keys / sizeof p->keys[0])) return yerr(err, k, "too many keys for one node");
    p->keys[p->n] = k, p->vals[p->n++] = v;
    return 0;
}

static int unknown_op(const YNode *name, Error *err)
{
    const char *hint = op_suggest(name->text);
    const Op *op = op_find(name->text);
    if (op && (op->flags & OP_INTERNAL))
        return yerr(err, name, "op '%s' is internal (a gradient helper) and cannot be used in a spec", name->text);
    if (hint) return yerr(err, name, "unknown op '%s' (did you mean '%s'?)", name->text, hint);
    return yerr(err, name, "unknown op '%s' (`runner ops` lists them)", name->text);
}

static const Op *usable_op(const char *name)
{
    const Op *op = op_find(name);
    return op && !(op->flags & OP_INTERNAL) ? op : NULL;
}

/* Splits an entry into its op and its key/value pairs (see the forms at the top). */
static int split_entry(const YNode *e, const char *where_name, EntryParts *p, Error *err)
{
    memset(p, 0, sizeof *p);
    char buf[96];
    if (e->kind == Y_SCALAR) {
        if (ynode_is_null(e)) return yerr(err, e, "%s is empty; expected an op such as relu or conv2d: {...}", where_name);
        p->op = e;
        return usable_op(e->text) ? 0 : unknown_op(e, err);
    }
    if (e->kind != Y_MAP)
        return yerr(err, e, "%s expects an op such as relu or conv2d: {...}, found %s", where_name,
                    ynode_describe(e, buf, sizeof buf));
    int op_at = ymap_index(e, "op");
    for (int i = 0; i < e->n; i++) {
        const YNode *k = e->keys[i], *v = e->vals[i];
        if (i == op_at) continue;
        if (op_at >= 0 || is_reserved(k->text)) {
            if (add_part(p, k, v, err)) return -1;
            continue;
        }
        /* The compact form: the one key that is not reserved names the op. */
        if (!usable_op(k->text)) {
            if (op_find(k->text)) return unknown_op(k, err);
            const char *cands[N_RESERVED];
            for (int r = 0; r < N_RESERVED; r++) cands[r] = reserved[r];
            const char *hint = op_suggest(k->text);
            if (!hint) hint = suggest_word(k->text, cands, N_RESERVED);
            if (hint) return yerr(err, k, "unknown op '%s' (did you mean '%s'?)", k->text, hint);
            return yerr(err, k, "unknown op '%s' (`runner ops` lists them)", k->text);
        }
        if (p->op) return yerr(err, k, "%s names two ops, '%s' and '%s'; give one op per entry", where_name, p->op->text, k->text);
        p->op = k;
        if (v->kind == Y_MAP) {
            for (int j = 0; j < v->n; j++)
                if (add_part(p, v->keys[j], v->vals[j], err)) return -1;
        } else if (!ynode_is_null(v)) {
            p->shorthand = v;
        }
    }
    if (op_at >= 0) {
        const YNode *v = e->vals[op_at];
        if (v->kind != Y_SCALAR || ynode_is_null(v))
            return yerr(err, v, "'op' expects an op name, found %s", ynode_describe(v, buf, sizeof buf));
        p->op = v;
        if (!usable_op(v->text)) return unknown_op(v, err);
    }
    if (!p->op) return yerr(err, e, "%s has no op (write `relu`, `conv2d: {...}` or `op: conv2d`)", where_name);
    return 0;
}

static int set_attr(NodeDef *d, const AttrSchema *s, AttrValue *a, const YNode *v, Error *err)
{
    const char *items[ATTR_MAX_INTS + 1];
    int n = 0;
    bool list = false;
    char buf[96];
    if (v->kind == Y_MAP || ynode_is_null(v))
        return yerr(err, v, "'%s' of op '%s' expects a value, found %s", s->name, d->op->name,
                    ynode_describe(v, buf, sizeof buf));
    if (v->kind == Y_SEQ) {
        list = true;
        if (v->n > ATTR_MAX_INTS) return yerr(err, v, "'%s' has %d values; at most %d", s->name, v->n, ATTR_MAX_INTS);
        for (int i = 0; i < v->n; i++) {
            if (v->vals[i]->kind != Y_SCALAR)
                return yerr(err, v->vals[i], "'%s' expects a list of plain values", s->name);
            items[n++] = v->vals[i]->text;
        }
    } else {
        items[n++] = v->text;
    }
    if (attr_parse(s, items, n, list, a, err)) return yerr_wrap(err, v);
    return 0;
}

/* The attribute a shorthand `op: value` sets: the op's only required one, else its only one. */
static int shorthand_attr(const Op *op)
{
    int req = -1, n_req = 0;
    for (int i = 0; i < op->n_attrs; i++)
        if (!op->attrs[i].default_text) req = i, n_req++;
    if (n_req == 1) return req;
    if (n_req == 0 && op->n_attrs == 1) return 0;
    return -1;
}

/* ---- nodes ---- */

/* A new zeroed node at the end of def->nodes (pointers into it do not survive the next call). */
static NodeDef *new_node(NetBuild *b, const YNode *at, Error *err)
{
    NetDef *def = b->def;
    if (def->n_nodes == NET_MAX_FLAT_NODES) {
        yerr(err, at, "model '%s' has more than %d nodes after expanding blocks", b->model, NET_MAX_FLAT_NODES);
        return NULL;
    }
    if (def->n_nodes == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        NodeDef *nodes = realloc(def->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) {
            err_set(err, "out of memory");
            return NULL;
        }
        def->nodes = nodes, b->cap = cap;
    }
    NodeDef *d = &def->nodes[def->n_nodes++];
    memset(d, 0, sizeof *d);
    return d;
}

/* An entry without `in:` reads s->prev; the NetDef spells that out only where "the previous
 * node" (network_apply's default) would mean something else, as after a block instance. */
static void implicit_input(const NetBuild *b, const NetScope *s, NodeDef *d)
{
    const NetDef *def = b->def;
    int k = (int)(d - def->nodes);
    const char *implied = k > 0 ? def->nodes[k - 1].name : def->inputs[0].name;
    if (strcmp(implied, s->prev)) {
        memcpy(d->inputs[0], s->prev, NET_NAME_MAX);
        d->n_inputs = 1;
    }
}

static int parse_node(NetBuild *b, NetScope *s, int index, const YNode *e, Error *err)
{
    NodeDef *d = new_node(b, e, err);
    if (!d) return -1;
    char label[NET_NAME_MAX + 48], where[NET_WHERE_MAX], local[NET_NAME_MAX];
    snprintf(label, sizeof label, "%s %d of %s", s->dag ? "node" : "layer", index, s->owner);
    snprintf(d->where, sizeof d->where, "%s", ynode_where(e, where, sizeof where));
    snprintf(local, sizeof local, "%d", index); /* nn.Sequential's names: weights load as "0.weight" */
    EntryParts p;
    if (split_entry(e, label, &p, err)) return -1;
    d->op = usable_op(p.op->text);
    if (attr_defaults(d->op, d->attr, err)) return yerr_wrap(err, p.op);

    const YNode *in = NULL, *name_node = NULL;
    for (int i = 0; i < p.n; i++) {
        const char *key = p.keys[i]->text;
        const YNode *v = p.vals[i];
        if (!strcmp(key, "name")) {
            if (net_check_name(v, "'name'", local, err)) return -1;
            name_node = v;
        } else if (!strcmp(key, "in")) {
            in = v;
        } else if (!strcmp(key, "init")) {
            if (parse_init(v, key, &d->weight_init, err)) return -1;
        } else if (!strcmp(key, "bias_init")) {
            if (parse_init(v, key, &d->bias_init, err)) return -1;
        } else {
            int k = attr_index(d->op, key);
            if (k < 0) {
                const char *cands[OP_MAX_ATTRS + N_RESERVED];
                int m = 0;
                for (int j = 0; j < d->op->n_attrs; j++) cands[m++] = d->op->attrs[j].name;
                for (int j = 0; j < N_RESERVED; j++) cands[m++] = reserved[j];
                const char *hint = suggest_word(key, cands, m);
                if (hint)
                    return yerr(err, p.keys[i], "unknown attribute '%s' for op '%s' (did you mean '%s'?)", key,
                                d->op->name, hint);
                if (d->op->n_attrs == 0)
                    return yerr(err, p.keys[i], "unknown attribute '%s': op '%s' takes no attributes", key, d->op->name);
                return yerr(err, p.keys[i], "unknown attribute '%s' for op '%s' (`runner ops` lists its attributes)", key,
                            d->op->name);
            }
            if (set_attr(d, &d->op->attrs[k], &d->attr[k], v, err)) return -1;
        }
    }
    if (p.shorthand) {
        int k = shorthand_attr(d->op);
        if (k < 0)
            return yerr(err, p.shorthand, "op '%s' takes %s; write them as a mapping: %s: {name: value, ...}", d->op->name,
                        d->op->n_attrs ? "several attributes" : "no attributes", d->op->name);
        if (set_attr(d, &d->op->attrs[k], &d->attr[k], p.shorthand, err)) return -1;
    }
    for (int k = 0; k < d->op->n_attrs; k++)
        if (!d->attr[k].set)
            return yerr(err, p.op, "missing required attribute '%s' for op '%s' in %s", d->op->attrs[k].name,
                        d->op->name, label);

    /* Names are checked after every attribute, so duplicates point at the second one. */
    const YNode *name_at = name_node ? name_node : e;
    if (scope_check_new(s, local, name_at, err) || scope_full_name(s, local, name_at, d->name, err)) return -1;
    if (in && net_resolve_in(s, index, d->name, in, d->inputs, NODE_MAX_INPUTS, &d->n_inputs, err)) return -1;
    int n_in = d->n_inputs ? d->n_inputs : 1;
    if (n_in < d->op->min_inputs || n_in > d->op->max_inputs) {
        if (!s->dag)
            return yerr(err, p.op, "op '%s' takes %d inputs; a 'layers:' chain gives each layer one (use 'nodes:' with 'in:')",
                        d->op->name, d->op->min_inputs);
        if (d->op->min_inputs == d->op->max_inputs)
            return yerr(err, in ? in : p.op, "op '%s' takes %d input(s), found %d", d->op->name, d->op->min_inputs, n_in);
        return yerr(err, in ? in : p.op, "op '%s' takes %d to %d inputs, found %d", d->op->name, d->op->min_inputs,
                    d->op->max_inputs, n_in);
    }
    if (!in) {
        if (!s->prev[0])
            return yerr(err, e, "the first node of %s must say which input it reads ('in:'), as the %s has several",
                        s->owner, s->prefix[0] ? "block" : "model");
        implicit_input(b, s, d);
    }
    if (scope_add(s, local, d->name, d->where, false, err)) return -1;
    memcpy(s->prev, d->name, NET_NAME_MAX);
    return 0;
}

int net_parse_entries(NetBuild *b, NetScope *s, const YNode *list, Error *err)
{
    s->list = list;
    for (int i = 0; i < list->n; i++) {
        const YNode *e = list->vals[i];
        if (block_is_use(e) ? block_expand(b, s, i, e, err) : parse_node(b, s, i, e, err)) return -1;
    }
    return 0;
}

/* `output:` names a node or block instance of the top scope; without it the network returns
 * what its last entry made, which after a block instance need not be the last node. */
static int parse_output(NetDef *def, const NetScope *top, const YNode *net, Error *err)
{
    const YNode *out = ymap_get(net, "output");
    if (!out) {
        if (strcmp(top->prev, def->nodes[def->n_nodes - 1].name)) memcpy(def->output, top->prev, NET_NAME_MAX);
        return 0;
    }
    char name[NET_NAME_MAX];
    if (net_check_name(out, "'output'", name, err)) return -1;
    const ScopeName *found = scope_find(top, name);
    if (found && !found->input) {
        memcpy(def->output, found->full, NET_NAME_MAX);
        return 0;
    }
    const char **cands = malloc((size_t)(top->n + 1) * sizeof *cands);
    if (!cands) return err_set(err, "out of memory");
    int m = 0;
    for (int i = 0; i < top->n; i++)
        if (!top->names[i].input) cands[m++] = top->names[i].local;
    const char *hint = suggest_word(name, cands, m);
    int rc = hint ? yerr(err, out, "output '%s' is not a node of model '%s' (did you mean '%s'?)", name, def->name, hint)
                  : yerr(err, out, "output '%s' is not a node of model '%s'", name, def->name);
    free(cands);
    return rc;
}

static int parse_net(NetDef *def, const char *model, const YNode *key, const YNode *net, Error *err)
{
    static const char *const keys[] = {"input", "inputs", "layers", "nodes", "output", "include", "blocks"};
    const int n_keys = (int)(sizeof keys / sizeof keys[0]);
    char buf[96], what[96];
    snprintf(what, sizeof what, "model '%s'", model);
    if (net->kind != Y_MAP)
        return yerr(err, net, "model '%s' expects a mapping with 'input' and 'layers' (or 'nodes', or 'include'), found %s",
                    model, ynode_describe(net, buf, sizeof buf));
    for (int i = 0; i < net->n; i++) {
        bool known = false;
        for (int k = 0; k < n_keys; k++) known |= !strcmp(net->keys[i]->text, keys[k]);
        if (!known) return fields_unknown_key(err, net->keys[i], what, keys, n_keys);
    }
    snprintf(def->name, sizeof def->name, "%s", model);
    ynode_where(key, def->where, sizeof def->where);
    if (parse_inputs(def, key, net, model, err)) return -1;
    const YNode *layers = ymap_get(net, "layers"), *nodes = ymap_get(net, "nodes");
    if (layers && nodes) return yerr(err, nodes, "model '%s' gives both 'layers' and 'nodes'; use one", model);
    if (!layers && !nodes)
        return yerr(err, key, "missing required key 'layers' (or 'nodes') in model '%s'", model);
    const YNode *list = layers ? layers : nodes;
    if (list->kind != Y_SEQ || list->n == 0)
        return yerr(err, list, "'%s' expects a non-empty list of %s, found %s", layers ? "layers" : "nodes",
                    layers ? "layers" : "nodes", ynode_describe(list, buf, sizeof buf));
    if (layers && def->n_inputs > 1)
        return yerr(err, layers, "a 'layers:' chain reads one input; model '%s' has %d (use 'nodes:' with 'in:')", model,
                    def->n_inputs);
    if (list->n > NET_MAX_ENTRIES) return yerr(err, list, "model '%s' has %d nodes; at most %d", model, list->n, NET_MAX_ENTRIES);
    const YNode *blocks = ymap_get(net, "blocks");
    if (blocks && blocks_check(blocks, model, err)) return -1;

    NetBuild b = {.def = def, .model = model, .blocks = blocks};
    NetScope top = {.dag = nodes != NULL};
    snprintf(top.owner, sizeof top.owner, "model '%s'", model);
    int rc = 0;
    for (int i = 0; i < def->n_inputs && rc == 0; i++)
        rc = scope_add(&top, def->inputs[i].name, def->inputs[i].name, def->where, true, err);
    if (def->n_inputs == 1) memcpy(top.prev, def->inputs[0].name, NET_NAME_MAX);
    if (rc == 0) rc = net_parse_entries(&b, &top, list, err);
    if (rc == 0) rc = parse_output(def, &top, net, err);
    scope_free(&top);
    return rc;
}

int spec_parse_models(Spec *spec, YNode *models, Error *err)
{
    char buf[96];
    if (models->kind != Y_MAP || models->n == 0)
        return yerr(err, models, "'models' expects a mapping of network names to networks, found %s",
                    ynode_describe(models, buf, sizeof buf));
    if (models->n > SPEC_MAX_MODELS) return yerr(err, models, "at most %d models, found %d", SPEC_MAX_MODELS, models->n);
    for (int i = 0; i < models->n; i++) {
        char name[NET_NAME_MAX];
        if (net_check_name(models->keys[i], "a model", name, err)) return -1;
        /* Expand an include in place, so the resolved tree holds the whole network. */
        if (models->vals[i]->kind == Y_MAP && ymap_index(models->vals[i], "include") >= 0) {
            YNode *net = NULL;
            if (spec_expand_include(&spec->pool, models->vals[i], name, &net, err)) return -1;
            ynode_free(models->vals[i]);
            models->vals[i] = net;
        }
        NetDef *def = &spec->models[spec->n_models++];
        if (parse_net(def, name, models->keys[i], models->vals[i], err)) return -1;
    }
    return 0;
}

int spec_check_inits(const Network *net, Error *err)
{
    for (int i = 0; i < net->def.n_nodes; i++) {
        const NodeDef *d = &net->def.nodes[i];
        const char *want[2] = {d->weight_init.kind != INIT_DEFAULT ? "weight" : NULL,
                               d->bias_init.kind != INIT_DEFAULT ? "bias" : NULL};
        for (int k = 0; k < 2; k++) {
            if (!want[k]) continue;
            char name[2 * NET_NAME_MAX];
            snprintf(name, sizeof name, "%s.%s", d->name, want[k]);
            if (!paramset_find(&net->params, name))
                return err_set_at(err, d->where, "'%s' sets the %s of node '%s', but op '%s' has no %s here",
                                  k ? "bias_init" : "init", want[k], d->name, d->op->name, want[k]);
        }
    }
    return 0;
}
