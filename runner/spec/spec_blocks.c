/* Reusable blocks: a network's `blocks:` maps block names to definitions with `params:` (defaults;
 * `~` makes one required), `inputs:` (names; default one input called `input`), `nodes:` (a DAG
 * like a network's, whose `in:` name the block's inputs or earlier entries of the block, and
 * whose values may be `$param`) and `output:` (default: the last entry).  A use,
 * `{block: name, name: x, in: [...], param: value, ...}`, expands at load time into the block's
 * nodes named `x.<node>`, so parameters are saved as `<model>.x.<node>.<param>`, PyTorch's names
 * for a submodule `x`; later entries read `x`, meaning the block's output.  The spec's tree keeps
 * the uses, so a resolved spec stays as short as the file it came from. */
#include "runner/spec/spec_net.h"
#include "graph/suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const def_keys[] = {"params", "inputs", "nodes", "output"};
#define N_DEF_KEYS (int)(sizeof def_keys / sizeof def_keys[0])
static const char *const use_keys[] = {"block", "name", "in"};
#define N_USE_KEYS (int)(sizeof use_keys / sizeof use_keys[0])

bool block_is_use(const YNode *e) { return ymap_index(e, "block") >= 0; }

/* The block's input names: `inputs:` (one name or a list), by default one called `input`. */
static int block_inputs(const YNode *def, const char *block, char names[][NET_NAME_MAX], int *n, Error *err)
{
    const YNode *v = ymap_get(def, "inputs");
    if (!v) {
        snprintf(names[0], NET_NAME_MAX, "input");
        *n = 1;
        return 0;
    }
    const YNode *single[1] = {v};
    const YNode *const *items = single;
    int m = 1;
    if (v->kind == Y_SEQ) items = (const YNode *const *)v->vals, m = v->n;
    if (m < 1 || m > NODE_MAX_INPUTS)
        return yerr(err, v, "'inputs' of block '%s' expects 1 to %d names, found %d", block, NODE_MAX_INPUTS, m);
    for (int i = 0; i < m; i++) {
        if (net_check_name(items[i], "an input", names[i], err)) return -1;
        for (int k = 0; k < i; k++)
            if (!strcmp(names[k], names[i]))
                return yerr(err, items[i], "input '%s' of block '%s' is listed twice", names[i], block);
    }
    *n = m;
    return 0;
}

/* Up to `max` parameter names of a definition (for "did you mean"). */
static int param_names(const YNode *params, const char **names, int max)
{
    int m = 0;
    for (int i = 0; params && params->kind == Y_MAP && i < params->n && m < max; i++) names[m++] = params->keys[i]->text;
    return m;
}

/* Every `$name` below n must be a parameter the block declares. */
static int check_refs(const YNode *n, const YNode *params, const char *block, Error *err)
{
    for (int i = 0; i < n->n; i++) {
        const YNode *v = n->vals[i];
        if (v->kind != Y_SCALAR) {
            if (check_refs(v, params, block, err)) return -1;
            continue;
        }
        if (v->quoted || v->text[0] != '$' || ymap_index(params, v->text + 1) >= 0) continue;
        const char *names[64];
        const char *hint = suggest_word(v->text + 1, names, param_names(params, names, 64));
        if (hint) return yerr(err, v, "unknown parameter '%s' in block '%s' (did you mean '$%s'?)", v->text, block, hint);
        return yerr(err, v, "unknown parameter '%s' in block '%s': declare it under the block's 'params:'", v->text, block);
    }
    return 0;
}

static int unknown_block(const YNode *v, const YNode *blocks, const char *model, Error *err)
{
    char buf[96];
    if (v->kind != Y_SCALAR || ynode_is_null(v))
        return yerr(err, v, "'block' expects a block name, found %s", ynode_describe(v, buf, sizeof buf));
    if (!blocks || blocks->kind != Y_MAP || blocks->n == 0)
        return yerr(err, v, "unknown block '%s': model '%s' defines no blocks (define them under 'blocks:')", v->text, model);
    const char *names[64];
    int m = 0;
    for (int i = 0; i < blocks->n && m < 64; i++) names[m++] = blocks->keys[i]->text;
    const char *hint = suggest_word(v->text, names, m);
    if (hint) return yerr(err, v, "unknown block '%s' (did you mean '%s'?)", v->text, hint);
    char list[256] = "";
    for (int i = 0; i < m && strlen(list) < 200; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return yerr(err, v, "unknown block '%s' (model '%s' defines %s)", v->text, model, list);
}

static int check_def(const YNode *blocks, int index, const char *model, Error *err)
{
    const YNode *key = blocks->keys[index], *def = blocks->vals[index];
    char block[NET_NAME_MAX], what[NET_NAME_MAX + 16], buf[96];
    if (net_check_name(key, "a block", block, err)) return -1;
    if (def->kind != Y_MAP)
        return yerr(err, def, "block '%s' expects a mapping with 'nodes' (and 'params', 'inputs', 'output'), found %s",
                    block, ynode_describe(def, buf, sizeof buf));
    snprintf(what, sizeof what, "block '%s'", block);
    for (int i = 0; i < def->n; i++) {
        bool known = false;
        for (int k = 0; k < N_DEF_KEYS; k++) known |= !strcmp(def->keys[i]->text, def_keys[k]);
        if (!known) return fields_unknown_key(err, def->keys[i], what, def_keys, N_DEF_KEYS);
    }
    const YNode *params = ymap_get(def, "params");
    if (params && !ynode_is_null(params) && params->kind != Y_MAP)
        return yerr(err, params, "'params' of block '%s' expects a mapping of parameter names to default values", block);
    for (int i = 0; params && params->kind == Y_MAP && i < params->n; i++) {
        char name[NET_NAME_MAX];
        if (net_check_name(params->keys[i], "a parameter", name, err)) return -1;
        for (int k = 0; k < N_USE_KEYS; k++)
            if (!strcmp(name, use_keys[k]))
                return yerr(err, params->keys[i], "parameter '%s' of block '%s' would clash with the '%s' of a use; rename it",
                            name, block, name);
    }
    char inputs[NODE_MAX_INPUTS][NET_NAME_MAX];
    int n_inputs;
    if (block_inputs(def, block, inputs, &n_inputs, err)) return -1;
    const YNode *nodes = ymap_get(def, "nodes"), *out = ymap_get(def, "output");
    if (!nodes) return yerr(err, key, "missing required key 'nodes' in block '%s'", block);
    if (nodes->kind != Y_SEQ || nodes->n == 0 || nodes->n > NET_MAX_ENTRIES)
        return yerr(err, nodes, "'nodes' of block '%s' expects a list of 1 to %d nodes, found %s", block, NET_MAX_ENTRIES,
                    ynode_describe(nodes, buf, sizeof buf));
    char name[NET_NAME_MAX];
    if (out && net_check_name(out, "'output'", name, err)) return -1;
    if (check_refs(nodes, params, block, err)) return -1;
    for (int i = 0; i < nodes->n; i++) {
        const YNode *use = ymap_get(nodes->vals[i], "block");
        if (use && (use->kind != Y_SCALAR || ymap_index(blocks, use->text) < 0)) return unknown_block(use, blocks, model, err);
    }
    return 0;
}

/* Depth-first over uses; state 1 marks the blocks on the current path. */
static int find_cycle(const YNode *blocks, int i, char *state, int *path, int depth, Error *err)
{
    state[i] = 1;
    path[depth] = i;
    const YNode *nodes = ymap_get(blocks->vals[i], "nodes");
    for (int e = 0; e < nodes->n; e++) {
        const YNode *use = ymap_get(nodes->vals[e], "block");
        if (!use) continue;
        int j = ymap_index(blocks, use->text);
        if (state[j] == 1) {
            char chain[512] = "";
            int from = depth;
            while (path[from] != j) from--;
            for (int k = from; k <= depth && strlen(chain) < 400; k++)
                snprintf(chain + strlen(chain), sizeof chain - strlen(chain), "%s -> ", blocks->keys[path[k]]->text);
            snprintf(chain + strlen(chain), sizeof chain - strlen(chain), "%s", use->text);
            return yerr(err, use, "block '%s' uses itself (%s); blocks cannot be recursive", use->text, chain);
        }
        if (state[j] == 0 && find_cycle(blocks, j, state, path, depth + 1, err)) return -1;
    }
    state[i] = 2;
    return 0;
}

int blocks_check(const YNode *blocks, const char *model, Error *err)
{
    char buf[96];
    if (blocks->kind != Y_MAP)
        return yerr(err, blocks, "'blocks' expects a mapping of block names to definitions (params, inputs, nodes, output), found %s",
                    ynode_describe(blocks, buf, sizeof buf));
    for (int i = 0; i < blocks->n; i++)
        if (check_def(blocks, i, model, err)) return -1;
    char *state = calloc((size_t)blocks->n + 1, 1);
    int *path = calloc((size_t)blocks->n + 1, sizeof *path);
    int rc = state && path ? 0 : err_set(err, "out of memory");
    for (int i = 0; i < blocks->n && rc == 0; i++)
        if (!state[i]) rc = find_cycle(blocks, i, state, path, 0, err);
    free(state);
    free(path);
    return rc;
}

/* ---- expansion ---- */

/* Replaces each `$name` below n by a copy of the value the use gives, else the default. */
static int substitute(YNode *n, const YNode *params, const YNode *use, int *budget, Error *err)
{
    for (int i = 0; i < n->n; i++) {
        YNode *v = n->vals[i];
        if (v->kind != Y_SCALAR) {
            if (substitute(v, params, use, budget, err)) return -1;
            continue;
        }
        int k = v->quoted || v->text[0] != '$' ? -1 : ymap_index(params, v->text + 1);
        if (k < 0) continue; /* check_refs has ruled out unknown names */
        const YNode *given = ymap_get(use, v->text + 1);
        YNode *copy = ynode_copy(given ? given : params->vals[k], budget);
        if (!copy) return yerr(err, v, "block too large after substituting '%s'", v->text);
        ynode_free(v);
        n->vals[i] = copy;
    }
    return 0;
}

/* Checks the use's keys against the block's parameters; finds `name:` and `in:`. */
static int use_keys_of(const YNode *use, const YNode *def, const char *block, const YNode **name, const YNode **in,
                       Error *err)
{
    const YNode *params = ymap_get(def, "params");
    for (int i = 0; i < use->n; i++) {
        const YNode *k = use->keys[i];
        if (!strcmp(k->text, "name")) *name = use->vals[i];
        if (!strcmp(k->text, "in")) *in = use->vals[i];
        bool reserved = false;
        for (int r = 0; r < N_USE_KEYS; r++) reserved |= !strcmp(k->text, use_keys[r]);
        if (reserved || ymap_index(params, k->text) >= 0) continue;
        const char *names[64 + N_USE_KEYS];
        int m = param_names(params, names, 64);
        for (int r = 0; r < N_USE_KEYS; r++) names[m++] = use_keys[r];
        const char *hint = suggest_word(k->text, names, m);
        if (hint) return yerr(err, k, "unknown parameter '%s' for block '%s' (did you mean '%s'?)", k->text, block, hint);
        if (m == N_USE_KEYS) return yerr(err, k, "unknown parameter '%s': block '%s' declares no parameters", k->text, block);
        return yerr(err, k, "unknown parameter '%s' for block '%s'", k->text, block);
    }
    for (int j = 0; params && params->kind == Y_MAP && j < params->n; j++) {
        if (!ynode_is_null(params->vals[j]) || ymap_get(use, params->keys[j]->text)) continue;
        char where[NET_WHERE_MAX];
        return yerr(err, use, "block '%s' needs parameter '%s' (declared at %s)", block, params->keys[j]->text,
                    ynode_where(params->keys[j], where, sizeof where));
    }
    return 0;
}

/* The values an instance reads: its `in:`, else what the entry before it made. */
static int use_inputs(const NetScope *s, int at, const char *full, const YNode *bv, const YNode *in, const YNode *def,
                      char want[][NET_NAME_MAX], int n_want, char ins[][NET_NAME_MAX], int *n_in, Error *err)
{
    const char *block = bv->text;
    char where[NET_WHERE_MAX], list[NODE_MAX_INPUTS * (NET_NAME_MAX + 2)] = "";
    if (in) {
        if (net_resolve_in(s, at, full, in, ins, NODE_MAX_INPUTS, n_in, err)) return -1;
    } else if (!s->dag && n_want > 1) {
        return yerr(err, bv, "block '%s' takes %d inputs; a 'layers:' chain gives each entry one (use 'nodes:' with 'in:')",
                    block, n_want);
    } else if (!s->prev[0]) {
        return yerr(err, bv, "the first node of %s must say which input it reads ('in:'), as the %s has several", s->owner,
                    s->prefix[0] ? "block" : "model");
    } else {
        memcpy(ins[0], s->prev, NET_NAME_MAX);
        *n_in = 1;
    }
    if (*n_in == n_want) return 0;
    for (int i = 0; i < n_want; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", want[i]);
    const YNode *def_at = ymap_get(def, "inputs") ? ymap_get(def, "inputs") : def;
    return yerr(err, in ? in : bv, "block '%s' takes %d input(s) (%s), found %d (inputs declared at %s)", block, n_want, list,
                *n_in, ynode_where(def_at, where, sizeof where));
}

/* Appends where the failing instance was used: errors inside a block point at its definition. */
static int note_use(Error *err, const char *block, const YNode *use)
{
    char where[NET_WHERE_MAX];
    size_t len = strlen(err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, "; in block '%s' used at %s", block, ynode_where(use, where, sizeof where));
    return -1;
}

/* Expands the instance's nodes in its own scope and finds the value it stands for. */
static int expand_body(NetBuild *b, NetScope *child, const YNode *def, const YNode *use, char *out_full, Error *err)
{
    int budget = YAML_MAX_NODES;
    YNode *body = ynode_copy(ymap_get(def, "nodes"), &budget);
    if (!body) return yerr(err, use, "block too large to expand");
    int rc = substitute(body, ymap_get(def, "params"), use, &budget, err);
    if (rc == 0) rc = net_parse_entries(b, child, body, err);
    const YNode *out = ymap_get(def, "output");
    if (rc == 0 && out) {
        const ScopeName *found = scope_find(child, out->text);
        if (found && !found->input) {
            memcpy(out_full, found->full, NET_NAME_MAX);
        } else {
            const char *names[64];
            int m = 0;
            for (int i = 0; i < child->n && m < 64; i++)
                if (!child->names[i].input) names[m++] = child->names[i].local;
            const char *hint = suggest_word(out->text, names, m);
            rc = hint ? yerr(err, out, "output '%s' is not a node of %s (did you mean '%s'?)", out->text, child->owner, hint)
                      : yerr(err, out, "output '%s' is not a node of %s", out->text, child->owner);
        }
    } else if (rc == 0) {
        memcpy(out_full, child->prev, NET_NAME_MAX);
    }
    ynode_free(body);
    return rc;
}

int block_expand(NetBuild *b, NetScope *s, int at, const YNode *use, Error *err)
{
    const YNode *bv = ymap_get(use, "block");
    int k = bv->kind == Y_SCALAR ? ymap_index(b->blocks, bv->text) : -1;
    if (k < 0) return unknown_block(bv, b->blocks, b->model, err);
    const char *block = b->blocks->keys[k]->text;
    const YNode *def = b->blocks->vals[k], *name_node = NULL, *in = NULL;
    if (use_keys_of(use, def, block, &name_node, &in, err)) return -1;

    char local[NET_NAME_MAX], full[NET_NAME_MAX], where[NET_WHERE_MAX];
    snprintf(local, sizeof local, "%d", at);
    if (name_node && net_check_name(name_node, "'name'", local, err)) return -1;
    const YNode *name_at = name_node ? name_node : use;
    if (scope_check_new(s, local, name_at, err) || scope_full_name(s, local, name_at, full, err)) return -1;
    char ins[NODE_MAX_INPUTS][NET_NAME_MAX], want[NODE_MAX_INPUTS][NET_NAME_MAX];
    int n_in = 0, n_want = 0;
    if (block_inputs(def, block, want, &n_want, err) || use_inputs(s, at, full, bv, in, def, want, n_want, ins, &n_in, err))
        return -1;

    NetScope child = {.dag = true};
    snprintf(child.owner, sizeof child.owner, "block '%s'", block);
    snprintf(child.prefix, sizeof child.prefix, "%s.", full);
    ynode_where(b->blocks->keys[k], where, sizeof where);
    int rc = 0;
    for (int i = 0; i < n_want && rc == 0; i++) rc = scope_add(&child, want[i], ins[i], where, true, err);
    if (n_want == 1) memcpy(child.prev, ins[0], NET_NAME_MAX);
    char out_full[NET_NAME_MAX];
    if (rc == 0 && expand_body(b, &child, def, use, out_full, err)) rc = note_use(err, block, use);
    scope_free(&child);
    if (rc) return -1;
    if (scope_add(s, local, out_full, ynode_where(use, where, sizeof where), false, err)) return -1;
    memcpy(s->prev, out_full, NET_NAME_MAX);
    return 0;
}
