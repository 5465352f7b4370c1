/* Points' folder names ("lr=1e-4,seed=1") and the columns of the sweep's record.  A name is the
 * entry's name (or its spec's file name and overrides) followed by the grid's key=value parts;
 * a key is written as its last part unless two keys the name shows end alike.  The group (what a
 * report averages over seeds) is the same name without the top-level seed. */
#include "runner/sweep/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer names are cut and end with ~<point number>. */
#define NAME_LIMIT 100
_Static_assert(NAME_LIMIT < SWEEP_NAME_MAX, "a name and its terminator fit a SweepPoint");
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+=-"

/* The overrides that name point p: an unnamed entry's and the grid's. */
static bool names_point(const SweepPoint *p, int k)
{
    int own = p->n_sets - p->n_own;
    if (k < own) return false;
    if (!p->variant) return true;
    /* A named entry's own overrides stay out of its name; the grid's come after them. */
    const YNode *set = p->entry ? ymap_get(p->entry, "set") : NULL;
    return k >= own + (set && set->kind == Y_MAP ? set->n : 0);
}

/* "lr", or the whole path when another key the names show ends with the same part. */
static const char *short_key(const Sweep *s, const char *path, char *buf, size_t len)
{
    const char *last = strrchr(path, '.');
    last = last ? last + 1 : path;
    /* A list index says little alone: keep the part before it (betas.0). */
    if (last != path && strspn(last, "0123456789") == strlen(last)) {
        const char *prev = last - 1;
        while (prev > path && prev[-1] != '.') prev--;
        last = prev;
    }
    size_t tail = strlen(last);
    for (int i = 0; i < s->n_points; i++) {
        const SweepPoint *p = &s->points[i];
        for (int k = 0; k < p->n_sets; k++) {
            const char *other = p->sets[k].path;
            size_t n = strlen(other);
            if (!names_point(p, k) || !strcmp(other, path) || n < tail || strcmp(other + n - tail, last)) continue;
            if (n == tail || other[n - tail - 1] == '.') {
                snprintf(buf, len, "%s", path);
                return buf;
            }
        }
    }
    snprintf(buf, len, "%s", last);
    return buf;
}

/* Appends text to a name with every character a folder name should not hold as '_'. */
static void append_clean(char *name, size_t len, const char *text)
{
    size_t at = strlen(name);
    for (const char *c = text; *c && at + 1 < len; c++) name[at++] = strchr(NAME_CHARS, *c) && *c ? *c : '_';
    name[at] = '\0';
}

/* Parts are separated by commas, which values never hold (append_clean). */
static void append_part(char *name, size_t len, const char *part)
{
    size_t at = strlen(name);
    snprintf(name + at, len - at, "%s%s", at ? "," : "", part);
}

static void spec_stem(const char *spec, char *buf, size_t len)
{
    const char *base = strrchr(spec, '/');
    base = base ? base + 1 : spec;
    snprintf(buf, len, "%.*s", (int)strcspn(base, "."), base);
}

/* The text a value shows in names and records: a single value as written, a list or mapping in
 * flow style. */
static char *value_text(const YNode *v, Error *err)
{
    if (v->kind == Y_SCALAR) {
        char *t = strdup(v->text);
        if (!t) err_set(err, "out of memory");
        return t;
    }
    char *t;
    return yaml_write_flow(v, &t, err) ? NULL : t;
}

static int name_point(const Sweep *s, SweepPoint *p, int index, Error *err)
{
    char name[4 * SWEEP_NAME_MAX] = "", group[4 * SWEEP_NAME_MAX] = "", stem[SWEEP_NAME_MAX], key[SPEC_TEXT_MAX];
    if (p->variant) {
        append_part(name, sizeof name, p->variant);
    } else if (p->entry && ymap_get(p->entry, "spec")) {
        spec_stem(p->spec, stem, sizeof stem);
        append_clean(name, sizeof name, stem);
    }
    snprintf(group, sizeof group, "%s", name);
    for (int k = 0; k < p->n_sets; k++) {
        if (!names_point(p, k)) continue;
        char *text = value_text(p->sets[k].value, err);
        if (!text) return -1;
        char part[SPEC_TEXT_MAX] = "";
        append_clean(part, sizeof part, short_key(s, p->sets[k].path, key, sizeof key));
        append_clean(part, sizeof part, "=");
        append_clean(part, sizeof part, text);
        free(text);
        append_part(name, sizeof name, part);
        if (strcmp(p->sets[k].path, "seed") != 0) append_part(group, sizeof group, part);
    }
    if (!name[0]) snprintf(name, sizeof name, "point%d", index);
    if (!group[0]) spec_stem(p->spec, group, sizeof group);
    /* Hidden or option-like folder names would be missed or misread. */
    for (char *n = name; n; n = n == name ? group : NULL) {
        if (n[0] == '.' || n[0] == '-') n[0] = '_';
        if (strlen(n) > NAME_LIMIT) snprintf(n + NAME_LIMIT - 12, 13, "~%d", index % 100000);
    }
    memcpy(p->name, name, strlen(name) + 1);
    memcpy(p->group, group, strlen(group) + 1);
    return 0;
}

static int add_key(Sweep *s, const char *key, Error *err)
{
    for (int i = 0; i < s->n_keys; i++)
        if (!strcmp(s->keys[i], key)) return 0;
    if (s->n_keys == SWEEP_MAX_KEYS)
        return yerr(err, s->root, "the points vary more than %d keys; a report could not show them", SWEEP_MAX_KEYS);
    s->keys[s->n_keys++] = key;
    return 0;
}

static int record_keys(Sweep *s, Error *err)
{
    bool variants = false, several_specs = false;
    for (int i = 0; i < s->n_points; i++) {
        variants |= s->points[i].variant != NULL;
        several_specs |= strcmp(s->points[i].spec, s->points[0].spec) != 0;
    }
    if (variants && add_key(s, "variant", err)) return -1;
    if (several_specs && add_key(s, "spec", err)) return -1;
    for (int i = 0; i < s->n_points; i++)
        for (int k = 0; k < s->points[i].n_sets; k++)
            if (names_point(&s->points[i], k) && add_key(s, s->points[i].sets[k].path, err)) return -1;
    return 0;
}

int sweep_name_points(Sweep *s, Error *err)
{
    for (int i = 0; i < s->n_points; i++)
        if (name_point(s, &s->points[i], i, err)) return -1;
    for (int i = 0; i < s->n_points; i++)
        for (int j = 0; j < i; j++) {
            if (strcmp(s->points[i].name, s->points[j].name) != 0) continue;
            char where[512];
            return yerr(err, s->points[i].where ? s->points[i].where : s->root,
                        "two points would both be named '%s' (the other: %s); give the entries names (name:)",
                        s->points[i].name,
                        s->points[j].where ? ynode_where(s->points[j].where, where, sizeof where) : s->path);
        }
    return record_keys(s, err);
}

char *sweep_point_value(const Sweep *s, const SweepPoint *p, const char *key, Error *err)
{
    (void)s;
    char buf[SWEEP_NAME_MAX];
    const char *text = "";
    if (!strcmp(key, "variant")) {
        text = p->variant ? p->variant : "";
    } else if (!strcmp(key, "spec")) {
        spec_stem(p->spec, buf, sizeof buf);
        text = buf;
    } else {
        for (int k = p->n_sets - 1; k >= p->n_sets - p->n_own; k--)
            if (!strcmp(p->sets[k].path, key)) return value_text(p->sets[k].value, err);
    }
    char *t = strdup(text);
    if (!t) err_set(err, "out of memory");
    return t;
}
