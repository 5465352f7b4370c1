/* Names in a scope (see spec_net.h): what an entry's `in:` may read, and the checks that keep
 * names unique within a network or block instance. */
#include "runner/spec/spec_net.h"
#include "graph/suggest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ScopeName *scope_find(const NetScope *s, const char *local)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->names[i].local, local)) return &s->names[i];
    return NULL;
}

int scope_add(NetScope *s, const char *local, const char *full, const char *where, bool input, Error *err)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        ScopeName *names = realloc(s->names, (size_t)cap * sizeof *names);
        if (!names) return err_set(err, "out of memory");
        s->names = names, s->cap = cap;
    }
    ScopeName *n = &s->names[s->n++];
    snprintf(n->local, sizeof n->local, "%s", local);
    snprintf(n->full, sizeof n->full, "%s", full);
    snprintf(n->where, sizeof n->where, "%s", where);
    n->input = input;
    return 0;
}

void scope_free(NetScope *s)
{
    free(s->names);
    s->names = NULL;
    s->n = s->cap = 0;
}

int scope_check_new(const NetScope *s, const char *local, const YNode *at, Error *err)
{
    const ScopeName *prev = scope_find(s, local);
    if (!prev) return 0;
    if (prev->input) return yerr(err, at, "node name '%s' is already an input of %s", local, s->owner);
    return yerr(err, at, "duplicate node name '%s' in %s (first at %s)", local, s->owner, prev->where);
}

int scope_full_name(const NetScope *s, const char *local, const YNode *at, char *out, Error *err)
{
    if (strlen(s->prefix) + strlen(local) >= NET_NAME_MAX)
        return yerr(err, at, "node name '%s%s' is longer than %d characters; use shorter names", s->prefix, local,
                    NET_NAME_MAX - 1);
    size_t n = strlen(s->prefix);
    memcpy(out, s->prefix, n);
    memcpy(out + n, local, strlen(local) + 1);
    return 0;
}

int net_resolve_in(const NetScope *s, int at, const char *who, const YNode *v, char out[][NET_NAME_MAX], int max,
                   int *n_out, Error *err)
{
    if (!s->dag) return yerr(err, v, "'in' is only allowed under 'nodes:' (each entry of 'layers:' reads the previous one)");
    const YNode *single[1] = {v};
    const YNode *const *names = single;
    int n = 1;
    if (v->kind == Y_SEQ) names = (const YNode *const *)v->vals, n = v->n;
    if (n < 1 || n > max) return yerr(err, v, "'in' expects 1 to %d node names, found %d", max, n);
    for (int i = 0; i < n; i++) {
        char name[NET_NAME_MAX];
        if (net_check_name(names[i], "'in'", name, err)) return -1;
        const ScopeName *found = scope_find(s, name);
        if (found) {
            memcpy(out[i], found->full, NET_NAME_MAX);
            continue;
        }
        /* Nodes are listed in order, so a reference forward is a mistake worth naming. */
        for (int k = at + 1; k < s->list->n; k++) {
            const YNode *later = ymap_get(s->list->vals[k], "name");
            if (later && later->kind == Y_SCALAR && !strcmp(later->text, name))
                return yerr(err, names[i], "node '%s' reads '%s', which is defined later; list nodes in the order they run",
                            who, name);
        }
        const char **cands = malloc((size_t)(s->n + 1) * sizeof *cands);
        if (!cands) return err_set(err, "out of memory");
        for (int k = 0; k < s->n; k++) cands[k] = s->names[k].local;
        const char *hint = suggest_word(name, cands, s->n);
        int rc = hint ? yerr(err, names[i], "node '%s' reads '%s', which is not an input or an earlier node (did you mean '%s'?)",
                             who, name, hint)
                      : yerr(err, names[i], "node '%s' reads '%s', which is not an input or an earlier node", who, name);
        free(cands);
        return rc;
    }
    *n_out = n;
    return 0;
}
