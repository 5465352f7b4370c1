/* Attribute parsing and access, shared by the spec loader and the backward builders. */
#include "graph/graph.h"
#include "graph/op.h"
#include "graph/suggest.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int attr_index(const Op *op, const char *name)
{
    for (int i = 0; i < op->n_attrs; i++)
        if (strcmp(op->attrs[i].name, name) == 0) return i;
    return -1;
}

static const char *type_word(const AttrSchema *s)
{
    switch (s->type) {
    case ATTR_INT: return "an integer";
    case ATTR_FLOAT: return "a number";
    case ATTR_BOOL: return "true or false";
    case ATTR_INTS: return s->count > 1 ? "an integer or a list of integers" : "a list of integers";
    case ATTR_STRING: return "a word";
    }
    return "a value";
}

/* "'NAME' is out of range: found TEXT, expected ..." with the attribute's accepted range. */
static int out_of_range(const AttrSchema *s, const char *text, Error *err)
{
    bool ranged = s->min <= s->max;
    if (s->type == ATTR_FLOAT && !ranged)
        return err_set(err, "'%s' is out of range: found %s, expected a finite number", s->name, text);
    if (s->type == ATTR_FLOAT)
        return err_set(err, "'%s' is out of range: found %s, expected a number from %g to %g", s->name, text, s->min,
                       s->max);
    if (!ranged)
        return err_set(err, "'%s' is out of range: found %s, expected an integer from %lld to %lld", s->name, text,
                       LLONG_MIN, LLONG_MAX);
    return err_set(err, "'%s' is out of range: found %s, expected an integer from %.0f to %.0f", s->name, text,
                   s->min, s->max);
}

static int parse_int(const AttrSchema *s, const char *text, int64_t *out, Error *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text != '\0' && *end == '\0' && errno == ERANGE) return out_of_range(s, text, err);
    if (*text == '\0' || *end != '\0' || errno) {
        double x = strtod(text, &end); /* 1e400 or 1e30: a number, but no int64 */
        if (*text != '\0' && *end == '\0' && !isnan(x) && (!isfinite(x) || fabs(x) >= 0x1p63))
            return out_of_range(s, text, err);
        return err_set(err, "'%s' expects %s, found '%s'", s->name, type_word(s), text);
    }
    if (s->min <= s->max && (v < s->min || v > s->max)) return out_of_range(s, text, err);
    *out = v;
    return 0;
}

int attr_parse(const AttrSchema *s, const char *const *items, int n_items, bool is_list,
               AttrValue *out, Error *err)
{
    memset(out, 0, sizeof *out);
    if (is_list && s->type != ATTR_INTS)
        return err_set(err, "'%s' expects %s, found a list", s->name, type_word(s));
    if (n_items < 1 && s->type != ATTR_INTS)
        return err_set(err, "'%s' expects %s, found nothing", s->name, type_word(s));
    switch (s->type) {
    case ATTR_INT:
        if (parse_int(s, items[0], &out->ints[0], err)) return -1;
        out->n = 1;
        break;
    case ATTR_BOOL:
        if (!strcmp(items[0], "true") || !strcmp(items[0], "True") || !strcmp(items[0], "yes"))
            out->ints[0] = 1;
        else if (!strcmp(items[0], "false") || !strcmp(items[0], "False") || !strcmp(items[0], "no"))
            out->ints[0] = 0;
        else
            return err_set(err, "'%s' expects true or false, found '%s'", s->name, items[0]);
        out->n = 1;
        break;
    case ATTR_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(items[0], &end);
        if (*items[0] == '\0' || *end != '\0' || isnan(v))
            return err_set(err, "'%s' expects a number, found '%s'", s->name, items[0]);
        if (!isfinite(v) || (s->min <= s->max && (v < s->min || v > s->max))) /* 1e400 overflows to inf */
            return out_of_range(s, items[0], err);
        out->f = v;
        out->n = 1;
        break;
    }
    case ATTR_INTS: {
        int want = s->count;
        if (!is_list && want > 0) { /* a scalar stands for `count` equal values */
            if (parse_int(s, items[0], &out->ints[0], err)) return -1;
            for (int i = 1; i < want; i++) out->ints[i] = out->ints[0];
            out->n = want;
            break;
        }
        if (want > 0 && n_items != want)
            return err_set(err, "'%s' expects %d integers, found %d", s->name, want, n_items);
        if (n_items < 1 || n_items > ATTR_MAX_INTS)
            return err_set(err, "'%s' expects 1 to %d integers, found %d", s->name, ATTR_MAX_INTS, n_items);
        for (int i = 0; i < n_items; i++)
            if (parse_int(s, items[i], &out->ints[i], err)) return -1;
        out->n = n_items;
        break;
    }
    case ATTR_STRING: {
        if (strlen(items[0]) >= ATTR_STR_MAX)
            return err_set(err, "'%s' is too long (at most %d characters)", s->name, ATTR_STR_MAX - 1);
        if (s->choices) {
            bool ok = false;
            int nc = 0;
            for (; s->choices[nc]; nc++) ok |= strcmp(s->choices[nc], items[0]) == 0;
            if (!ok) {
                char list[256] = "";
                for (int i = 0; i < nc; i++) {
                    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                    strncat(list, s->choices[i], sizeof list - strlen(list) - 1);
                }
                const char *hint = suggest_word(items[0], s->choices, nc);
                if (hint)
                    return err_set(err, "'%s' must be one of %s, found '%s' (did you mean '%s'?)",
                                   s->name, list, items[0], hint);
                return err_set(err, "'%s' must be one of %s, found '%s'", s->name, list, items[0]);
            }
        }
        snprintf(out->s, sizeof out->s, "%s", items[0]);
        out->n = 1;
        break;
    }
    }
    out->set = true;
    return 0;
}

int attr_defaults(const Op *op, AttrValue *attrs, Error *err)
{
    for (int i = 0; i < OP_MAX_ATTRS; i++) memset(&attrs[i], 0, sizeof attrs[i]);
    for (int i = 0; i < op->n_attrs; i++) {
        const AttrSchema *s = &op->attrs[i];
        if (!s->default_text) continue;
        const char *item = s->default_text;
        if (attr_parse(s, &item, 1, false, &attrs[i], err))
            return err_prefix(err, "default of op '%s': ", op->name);
    }
    return 0;
}

static int must_index(const Op *op, const char *name)
{
    int i = attr_index(op, name);
    if (i < 0) {
        fprintf(stderr, "internal error: op '%s' has no attribute '%s'\n", op->name, name);
        abort();
    }
    return i;
}

void attr_set_int(const Op *op, AttrValue *attrs, const char *name, int64_t v)
{
    AttrValue *a = &attrs[must_index(op, name)];
    a->ints[0] = v;
    a->n = 1;
    a->set = true;
}

void attr_set_float(const Op *op, AttrValue *attrs, const char *name, double v)
{
    AttrValue *a = &attrs[must_index(op, name)];
    a->f = v;
    a->n = 1;
    a->set = true;
}

void attr_set_ints(const Op *op, AttrValue *attrs, const char *name, const int64_t *v, int n)
{
    AttrValue *a = &attrs[must_index(op, name)];
    for (int i = 0; i < n && i < ATTR_MAX_INTS; i++) a->ints[i] = v[i];
    a->n = n;
    a->set = true;
}

void attr_set_string(const Op *op, AttrValue *attrs, const char *name, const char *v)
{
    AttrValue *a = &attrs[must_index(op, name)];
    snprintf(a->s, sizeof a->s, "%s", v);
    a->n = 1;
    a->set = true;
}

const AttrValue *attr_get(const Node *n, const char *name) { return &n->attr[must_index(n->op, name)]; }
int64_t attr_int(const Node *n, const char *name) { return attr_get(n, name)->ints[0]; }
double attr_float(const Node *n, const char *name) { return attr_get(n, name)->f; }
