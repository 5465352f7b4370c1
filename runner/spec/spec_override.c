/* Overrides: a value placed at a dotted path of the spec's tree before validation, so it is
 * checked exactly like the file.  `--set dotted.path=value` reads the value as YAML (so `2e-4`,
 * `[0.5, 0.999]` and `true` mean what they mean in a file), and every node it creates carries the
 * whole "--set ..." text as its location; a sweep file's override keeps its own file:line:column.
 * Either way a wrong key or value is reported against the override that introduced it.  Paths
 * are applied before includes are expanded: `models.generator.z_dim=100` sets an include's
 * parameter.  A number selects a list entry: `models.d.layers.0.conv2d.out=16`. */
#include "runner/spec/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seq_index(const YNode *seq, const char *seg, const char *path, int upto, const YNode *at, Error *err)
{
    char *end;
    long i = strtol(seg, &end, 10);
    if (seg[0] == '\0' || *end != '\0' || i < 0 || i >= seq->n)
        return yerr(err, at, "'%.*s' is a list of %d entries; '%s' is not an index from 0 to %d", upto, path, seq->n, seg,
                    seq->n - 1);
    return (int)i;
}

/* The value's nodes name their file through the spec's own pool, which outlives the source's. */
static int intern_files(YPool *pool, YNode *n)
{
    if (!(n->file = ypool_intern(pool, n->file))) return -1;
    for (int i = 0; i < n->n; i++)
        if ((n->keys && intern_files(pool, n->keys[i])) || intern_files(pool, n->vals[i])) return -1;
    return 0;
}

int spec_apply_set(YPool *pool, YNode *root, const char *dotted, YNode *value, const YNode *where, Error *err)
{
    YNode at = *where;
    at.file = ypool_intern(pool, where->file);
    if (!at.file || intern_files(pool, value)) {
        ynode_free(value);
        return err_set(err, "out of memory");
    }
    char path[SPEC_TEXT_MAX];
    if (strlen(dotted) >= sizeof path) {
        ynode_free(value);
        return yerr(err, &at, "the path is too long");
    }
    snprintf(path, sizeof path, "%s", dotted);

    YNode *node = root;
    int rc = 0;
    char *seg = path;
    while (rc == 0) {
        char *dot = strchr(seg, '.');
        if (dot) *dot = '\0';
        int upto = (int)(seg - path) - 1; /* the path up to this segment, for messages */
        if (upto < 0) upto = 0;
        if (seg[0] == '\0') {
            rc = yerr(err, &at, "the path has an empty part (write a.b.c)");
            break;
        }
        if (node->kind == Y_SCALAR) {
            rc = yerr(err, &at, "'%.*s' is a single value, not a section; it has no '%s'", upto, path, seg);
            break;
        }
        int i = node->kind == Y_MAP ? ymap_index(node, seg) : seq_index(node, seg, path, upto, &at, err);
        if (node->kind == Y_SEQ && i < 0) {
            rc = -1;
            break;
        }
        if (!dot) { /* the last part: replace or add */
            if (i >= 0) {
                ynode_free(node->vals[i]);
                node->vals[i] = value;
            } else if (ynode_map_add(node, seg, value, at.file, at.line, at.col)) {
                rc = err_set(err, "out of memory");
                break;
            }
            return 0;
        }
        if (i < 0) { /* a section the file leaves out */
            YNode *m = ynode_new_map(at.file, at.line, at.col);
            if (!m || ynode_map_add(node, seg, m, at.file, at.line, at.col)) {
                ynode_free(m);
                rc = err_set(err, "out of memory");
                break;
            }
            i = node->n - 1;
        } else if (ynode_is_null(node->vals[i])) { /* `train:` with nothing under it */
            YNode *m = ynode_new_map(at.file, at.line, at.col);
            if (!m) {
                rc = err_set(err, "out of memory");
                break;
            }
            ynode_free(node->vals[i]);
            node->vals[i] = m;
        }
        node = node->vals[i];
        *dot = '.';
        seg = dot + 1;
    }
    ynode_free(value);
    return -1;
}

int spec_apply_override(YPool *pool, YNode *root, const char *set, Error *err)
{
    char label[SPEC_TEXT_MAX];
    snprintf(label, sizeof label, "--set %s", set);
    const char *file = ypool_intern(pool, label);
    if (!file) return err_set(err, "out of memory");
    YNode at = {.file = file};
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) return yerr(err, &at, "expected --set dotted.path=value, e.g. --set train.steps=100");
    char path[SPEC_TEXT_MAX];
    size_t plen = (size_t)(eq - set);
    if (plen >= sizeof path) return yerr(err, &at, "the path is too long");
    memcpy(path, set, plen);
    path[plen] = '\0';

    /* An empty value would read as an empty YAML document; say what is missing instead. */
    if (eq[1 + strspn(eq + 1, " \t")] == '\0')
        return yerr(err, &at, "no value after '=': write --set %s=VALUE (null, ~ or '' for nothing)", path);

    YNode *value = NULL;
    if (yaml_load_text(pool, label, eq + 1, strlen(eq + 1), true, &value, err)) return -1;
    return spec_apply_set(pool, root, path, value, &at, err);
}
