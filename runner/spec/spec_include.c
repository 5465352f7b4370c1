/* `models.<name>: {include: nets/file.yaml, param: value, ...}`: a network defined in its own
 * file, with parameters.  The file declares them under `params:` with defaults (`~` makes one
 * required) and uses them as whole values written `$name`; the path is relative to the file that
 * includes it.  The expanded network replaces the entry in the tree, so later stages (and the
 * resolved spec a run writes) see an ordinary network whose nodes point into the net file. */
#include "runner/spec/spec.h"
#include "graph/suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const net_file_keys[] = {"params", "input", "inputs", "layers", "nodes", "output", "blocks"};
#define N_NET_FILE_KEYS (int)(sizeof net_file_keys / sizeof net_file_keys[0])

/* Replaces every `$name` scalar at or below *slot by a copy of the parameter's value.  Inside a
 * block's nodes (`block` is its definition) the block's own parameters are left for the block,
 * and so are unknown names, which the block's checks report with the block's name. */
static int substitute(YNode **slot, const YNode *params, const YNode *values, const YNode *block, int *budget,
                      Error *err)
{
    YNode *v = *slot;
    if (v->kind != Y_SCALAR) {
        for (int i = 0; i < v->n; i++)
            if (substitute(&v->vals[i], params, values, block, budget, err)) return -1;
        return 0;
    }
    if (v->quoted || v->text[0] != '$') return 0;
    const char *name = v->text + 1;
    int k = ymap_index(params, name);
    if (block && (k < 0 || ymap_index(ymap_get(block, "params"), name) >= 0)) return 0;
    if (k < 0) {
        const char *names[64];
        int m = 0;
        for (int j = 0; params && j < params->n && m < 64; j++) names[m++] = params->keys[j]->text;
        const char *hint = suggest_word(name, names, m);
        if (hint) return yerr(err, v, "unknown parameter '%s' (did you mean '%s'?)", v->text, hint);
        return yerr(err, v, "unknown parameter '%s': declare it under 'params:' with a default", v->text);
    }
    const YNode *given = ymap_get(values, name);
    YNode *copy = ynode_copy(given ? given : params->vals[k], budget);
    if (!copy) return yerr(err, v, "network too large after substituting '%s'", v->text);
    ynode_free(v);
    *slot = copy;
    return 0;
}

/* substitute() over a network file's keys, where each block's nodes see its own params first. */
static int substitute_net(YNode *net, const YNode *params, const YNode *values, int *budget, Error *err)
{
    for (int i = 0; i < net->n; i++) {
        YNode *blocks = net->vals[i];
        if (strcmp(net->keys[i]->text, "blocks") || blocks->kind != Y_MAP) {
            if (substitute(&net->vals[i], params, values, NULL, budget, err)) return -1;
            continue;
        }
        for (int b = 0; b < blocks->n; b++) {
            YNode *def = blocks->vals[b];
            for (int k = 0; def->kind == Y_MAP && k < def->n; k++) {
                const YNode *block = strcmp(def->keys[k]->text, "nodes") ? NULL : def;
                if (substitute(&def->vals[k], params, values, block, budget, err)) return -1;
            }
        }
    }
    return 0;
}

static void join_path(const char *including, const char *rel, char *out, size_t len)
{
    const char *slash = strrchr(including, '/');
    if (rel[0] == '/' || !slash)
        snprintf(out, len, "%s", rel);
    else
        snprintf(out, len, "%.*s/%s", (int)(slash - including), including, rel);
}

int spec_expand_include(YPool *pool, YNode *entry, const char *model, YNode **net, Error *err)
{
    *net = NULL;
    int at = ymap_index(entry, "include");
    const YNode *inc = entry->vals[at];
    if (inc->kind != Y_SCALAR || ynode_is_null(inc)) {
        char buf[96];
        return yerr(err, inc, "'include' expects a file path, found %s", ynode_describe(inc, buf, sizeof buf));
    }
    /* A path given on the command line is relative to the spec, like one written in it. */
    const char *base = entry->keys[at]->line > 0 ? entry->keys[at]->file : entry->file;
    char path[SPEC_TEXT_MAX + 256];
    join_path(base, inc->text, path, sizeof path);

    YNode *file = NULL;
    if (yaml_load_file(pool, path, &file, err)) {
        if (err->kind == ERR_NOT_FOUND) {
            return yerr(err, inc, "cannot include '%s' for model '%s': no such file (looked for %s)", inc->text,
                        model, path);
        }
        return -1;
    }
    if (file->kind != Y_MAP) {
        char buf[96];
        int rc = yerr(err, file, "a network file must be a mapping (params, input, layers, ...), found %s",
                      ynode_describe(file, buf, sizeof buf));
        ynode_free(file);
        return rc;
    }
    for (int i = 0; i < file->n; i++) {
        if (!strcmp(file->keys[i]->text, "include")) {
            int rc = yerr(err, file->keys[i], "a network file cannot include another network");
            ynode_free(file);
            return rc;
        }
        bool known = false;
        for (int k = 0; k < N_NET_FILE_KEYS; k++) known |= !strcmp(file->keys[i]->text, net_file_keys[k]);
        if (!known) {
            int rc = fields_unknown_key(err, file->keys[i], "network file", net_file_keys, N_NET_FILE_KEYS);
            ynode_free(file);
            return rc;
        }
    }
    const YNode *params = ymap_get(file, "params");
    int rc = 0;
    if (params && !ynode_is_null(params) && params->kind != Y_MAP)
        rc = yerr(err, params, "'params' expects a mapping of parameter names to default values");
    if (params && params->kind != Y_MAP) params = NULL;

    /* Every value the entry gives must be a declared parameter; required ones must be given. */
    for (int i = 0; rc == 0 && i < entry->n; i++) {
        const YNode *key = entry->keys[i];
        if (i == at) continue;
        if (ymap_index(params, key->text) >= 0) continue;
        const char *names[64];
        int m = 0;
        for (int j = 0; params && j < params->n && m < 64; j++) names[m++] = params->keys[j]->text;
        const char *hint = suggest_word(key->text, names, m);
        if (hint)
            rc = yerr(err, key, "unknown parameter '%s' for %s (did you mean '%s'?)", key->text, inc->text, hint);
        else if (m == 0)
            rc = yerr(err, key, "unknown parameter '%s': %s declares no parameters", key->text, inc->text);
        else
            rc = yerr(err, key, "unknown parameter '%s' for %s", key->text, inc->text);
    }
    for (int j = 0; rc == 0 && params && j < params->n; j++)
        if (ynode_is_null(params->vals[j]) && !ymap_get(entry, params->keys[j]->text))
            rc = yerr(err, entry, "model '%s' must give parameter '%s' of %s", model, params->keys[j]->text, inc->text);

    int budget = YAML_MAX_NODES;
    YNode *out = NULL;
    if (rc == 0 && !(out = ynode_new_map(file->file, file->line, file->col))) rc = err_set(err, "out of memory");
    /* Move the network's keys into a fresh mapping without `params`. */
    for (int i = 0; rc == 0 && i < file->n; i++) {
        if (!strcmp(file->keys[i]->text, "params")) continue;
        YNode *v = file->vals[i];
        const YNode *k = file->keys[i];
        if (ynode_map_add(out, k->text, v, k->file, k->line, k->col)) {
            rc = err_set(err, "out of memory");
            break;
        }
        file->vals[i] = ynode_new_scalar("", file->file, 0, 0); /* keeps `file` freeable */
    }
    if (rc == 0) rc = substitute_net(out, params, entry, &budget, err);
    ynode_free(file);
    if (rc) {
        ynode_free(out);
        return -1;
    }
    *net = out;
    return 0;
}
