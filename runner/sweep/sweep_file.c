/* Reading a sweep file and expanding it into points (see sweep.h and docs/SWEEPS.md):
 *
 *   name: lr_seeds                 # optional: the file's name without .yaml
 *   spec: ../gan_mnist.yaml        # the base spec, relative to this file
 *   set: {train.steps: 500}        # overrides of every point
 *   points:                        # optional: entries, each {name, spec, set} (one at least)
 *     - {name: wgan, set: {loss: {type: wgan}}}
 *   grid:                          # optional: every combination, the last key varying fastest
 *     optimizers.generator.lr: [1.0e-4, 2.0e-4]
 *     seed: [0, 1, 2]
 *
 * The points are every entry (or one empty entry) combined with every grid combination. */
#include "runner/sweep/sweep.h"

#include "runner/spec/spec_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const top_keys[] = {"name", "spec", "set", "points", "grid"};
static const char *const entry_keys[] = {"name", "spec", "set"};
#define N_KEYS(a) (int)(sizeof a / sizeof a[0])

void sweep_free(Sweep *s)
{
    for (int i = 0; i < s->n_points; i++)
        for (int k = 0; k < s->points[i].n_sets; k++) free(s->points[i].args[k]);
    free(s->points);
    ynode_free(s->root);
    ypool_free(&s->pool);
    memset(s, 0, sizeof *s);
}

static int check_keys(const YNode *map, const char *const *keys, int n, const char *what, Error *err)
{
    for (int i = 0; i < map->n; i++) {
        bool known = false;
        for (int k = 0; k < n; k++) known |= !strcmp(map->keys[i]->text, keys[k]);
        if (!known) return fields_unknown_key(err, map->keys[i], what, keys, n);
    }
    return 0;
}

static int expect_kind(const YNode *n, YKind kind, const char *what, Error *err)
{
    static const char *const kinds[] = {"a single value", "a list", "a mapping"};
    char buf[96];
    if (n->kind == kind && (kind != Y_SCALAR || !ynode_is_null(n))) return 0;
    return yerr(err, n, "%s expects %s, found %s", what, kinds[kind], ynode_describe(n, buf, sizeof buf));
}

/* A name that becomes a folder: letters, digits and . _ + = , - (not . or - first). */
static int check_name(const YNode *n, const char *what, Error *err)
{
    if (expect_kind(n, Y_SCALAR, what, err)) return -1;
    const char *t = n->text;
    size_t len = strlen(t);
    bool ok = len > 0 && len <= 64 && t[0] != '.' && t[0] != '-' && strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+=,-") == len;
    if (!ok)
        return yerr(err, n, "%s '%s' cannot name a folder: use at most 64 letters, digits and . _ + = , - (not . or - first)",
                    what, t);
    return 0;
}

/* `spec:` as a path relative to the sweep file's folder, which must name a readable file. */
static int resolve_spec(const Sweep *s, const YNode *n, char *out, size_t len, Error *err)
{
    if (expect_kind(n, Y_SCALAR, "'spec'", err)) return -1;
    const char *slash = strrchr(s->path, '/');
    int w = n->text[0] == '/' || !slash ? snprintf(out, len, "%s", n->text)
                                        : snprintf(out, len, "%.*s/%s", (int)(slash - s->path), s->path, n->text);
    if (w < 0 || (size_t)w >= len) return yerr(err, n, "the spec's path is too long");
    if (access(out, R_OK) != 0)
        return yerr(err, n, "cannot read the spec '%s' (relative to the sweep file: %s)", n->text, out);
    return 0;
}

/* `set:` mappings: dotted keys to values. */
static int check_set(const YNode *n, Error *err)
{
    if (ynode_is_null(n)) return 0;
    if (expect_kind(n, Y_MAP, "'set'", err)) return -1;
    if (n->n > SWEEP_MAX_SETS / 2) return yerr(err, n, "at most %d overrides per 'set'", SWEEP_MAX_SETS / 2);
    return 0;
}

static int check_entries(const Sweep *s, const YNode *points, Error *err)
{
    if (expect_kind(points, Y_SEQ, "'points'", err)) return -1;
    if (points->n == 0) return yerr(err, points, "'points' is empty; list at least one entry, or leave it out");
    char spec[SPEC_TEXT_MAX];
    for (int i = 0; i < points->n; i++) {
        const YNode *e = points->vals[i], *v;
        if (expect_kind(e, Y_MAP, "a point", err) || check_keys(e, entry_keys, N_KEYS(entry_keys), "a point", err))
            return -1;
        if ((v = ymap_get(e, "name")) && check_name(v, "the point's name", err)) return -1;
        if ((v = ymap_get(e, "spec")) && resolve_spec(s, v, spec, sizeof spec, err)) return -1;
        if ((v = ymap_get(e, "set")) && check_set(v, err)) return -1;
        if (e->n == 0)
            return yerr(err, e, "a point needs 'set' (its overrides), 'spec' (its own base spec) or 'name' (the base "
                        "spec as it is)");
    }
    return 0;
}

static int check_grid(const YNode *grid, long *combinations, Error *err)
{
    if (expect_kind(grid, Y_MAP, "'grid'", err)) return -1;
    if (grid->n == 0) return yerr(err, grid, "'grid' is empty; give a key and its values, or leave it out");
    if (grid->n > SWEEP_MAX_SETS / 2) return yerr(err, grid, "at most %d grid keys", SWEEP_MAX_SETS / 2);
    *combinations = 1;
    for (int i = 0; i < grid->n; i++) {
        const YNode *v = grid->vals[i];
        char buf[96];
        if (v->kind != Y_SEQ || v->n == 0)
            return yerr(err, v, "the grid's '%s' expects a non-empty list of values, found %s (a list value is "
                        "itself a list: [[0.5, 0.999], [0.0, 0.9]])", grid->keys[i]->text,
                        v->kind == Y_SEQ ? "an empty list" : ynode_describe(v, buf, sizeof buf));
        *combinations *= v->n;
        if (*combinations > SWEEP_MAX_POINTS) break;
    }
    return 0;
}

/* Appends the overrides of a `set:` mapping to a point. */
static int add_sets(SweepPoint *p, const YNode *set)
{
    for (int i = 0; set && set->kind == Y_MAP && i < set->n; i++) {
        if (p->n_sets == SWEEP_MAX_SETS) return -1;
        p->sets[p->n_sets++] = (SpecSet){.path = set->keys[i]->text, .value = set->vals[i], .at = set->keys[i]};
    }
    return 0;
}

/* The point of `entry` (NULL: none) and the grid combination `pick` (one index per key). */
static int make_point(Sweep *s, SweepPoint *p, const YNode *entry, const YNode *grid, const int *pick,
                      const char *base_spec, Error *err)
{
    const YNode *v;
    int before = 0;
    if (add_sets(p, ymap_get(s->root, "set"))) goto too_many;
    before = p->n_sets;
    if (entry) {
        p->entry = p->where = entry;
        if ((v = ymap_get(entry, "name"))) p->variant = v->text;
        if ((v = ymap_get(entry, "spec")) ? resolve_spec(s, v, p->spec, sizeof p->spec, err) : 0) return -1;
        if (add_sets(p, ymap_get(entry, "set"))) goto too_many;
    }
    if (!p->spec[0]) snprintf(p->spec, sizeof p->spec, "%s", base_spec);
    for (int k = 0; grid && k < grid->n; k++) {
        if (p->n_sets == SWEEP_MAX_SETS) goto too_many;
        const YNode *value = grid->vals[k]->vals[pick[k]];
        if (!p->where) p->where = value;
        p->sets[p->n_sets++] = (SpecSet){.path = grid->keys[k]->text, .value = value, .at = grid->keys[k]};
    }
    p->n_own = p->n_sets - before;
    for (int k = 0; k < p->n_sets; k++) {
        char *flow;
        if (yaml_write_flow(p->sets[k].value, &flow, err)) return -1;
        size_t len = strlen(p->sets[k].path) + strlen(flow) + 2;
        p->args[k] = malloc(len);
        if (!p->args[k]) {
            free(flow);
            return err_set(err, "out of memory");
        }
        snprintf(p->args[k], len, "%s=%s", p->sets[k].path, flow);
        free(flow);
    }
    return 0;
too_many:
    return yerr(err, entry ? entry : s->root, "a point has more than %d overrides", SWEEP_MAX_SETS);
}

static int expand(Sweep *s, const YNode *points, const YNode *grid, const char *base_spec, long n_points, Error *err)
{
    if (!(s->points = calloc((size_t)n_points, sizeof *s->points))) return err_set(err, "out of memory");
    int pick[SWEEP_MAX_SETS] = {0};
    int n_entries = points ? points->n : 1;
    for (int e = 0; e < n_entries; e++) {
        memset(pick, 0, sizeof pick);
        do {
            SweepPoint *p = &s->points[s->n_points++];
            if (make_point(s, p, points ? points->vals[e] : NULL, grid, pick, base_spec, err)) return -1;
            /* The next combination: the last key varies fastest. */
            int k = grid ? grid->n - 1 : -1;
            for (; k >= 0; k--) {
                if (++pick[k] < grid->vals[k]->n) break;
                pick[k] = 0;
            }
            if (k < 0) break;
        } while (true);
    }
    return 0;
}

static int load(Sweep *s, const char *path, Error *err)
{
    if (yaml_load_file(&s->pool, path, &s->root, err)) return -1;
    const YNode *root = s->root, *v;
    if (expect_kind(root, Y_MAP, "a sweep file", err) || check_keys(root, top_keys, N_KEYS(top_keys), "the sweep", err))
        return -1;
    if ((v = ymap_get(root, "name"))) {
        if (check_name(v, "the sweep's name", err)) return -1;
        snprintf(s->name, sizeof s->name, "%s", v->text);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        snprintf(s->name, sizeof s->name, "%.*s", (int)strcspn(base, "."), base);
    }
    char base_spec[SPEC_TEXT_MAX] = "";
    if ((v = ymap_get(root, "spec")) && resolve_spec(s, v, base_spec, sizeof base_spec, err)) return -1;
    if ((v = ymap_get(root, "set")) && check_set(v, err)) return -1;
    const YNode *points = ymap_get(root, "points"), *grid = ymap_get(root, "grid");
    if (points && check_entries(s, points, err)) return -1;
    long combinations = 1;
    if (grid && check_grid(grid, &combinations, err)) return -1;
    if (!points && !grid) return yerr(err, root, "a sweep needs 'grid' (values to combine) or 'points' (a list of entries)");
    for (int i = 0; !base_spec[0] && i < (points ? points->n : 1); i++)
        if (!points || !ymap_get(points->vals[i], "spec"))
            return yerr(err, points ? points->vals[i] : root,
                        "missing required key 'spec' in the sweep (the base spec, relative to the sweep file)");
    long n = (points ? points->n : 1) * combinations;
    if (combinations > SWEEP_MAX_POINTS || n > SWEEP_MAX_POINTS)
        return yerr(err, grid ? grid : points, "the sweep has more than %d points", SWEEP_MAX_POINTS);
    return expand(s, points, grid, base_spec, n, err);
}

int sweep_load(const char *path, Sweep *s, Error *err)
{
    memset(s, 0, sizeof *s);
    if (strlen(path) >= sizeof s->path) return err_set(err, "sweep file name '%s' is too long", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = load(s, path, err);
    if (rc == 0) rc = sweep_name_points(s, err);
    if (rc) sweep_free(s);
    return rc;
}
