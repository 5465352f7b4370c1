/* Parsing spec values by field tables (see spec_fields.h). */
#include "runner/spec/spec_fields.h"
#include "graph/suggest.h"

#include "graph/op.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *type_word(FieldType t)
{
    switch (t) {
    case F_INT: return "an integer";
    case F_FLOAT: return "a number";
    case F_BOOL: return "true or false";
    case F_WORD: return "a word";
    case F_TEXT: return "a text";
    case F_PAIR: return "a list of two numbers";
    case F_WORDS: return "a list of words";
    case F_INTS: return "a list of integers";
    }
    return "a value";
}

static int expect(Error *err, const Field *f, const YNode *v)
{
    char buf[96];
    return yerr(err, v, "'%s' expects %s, found %s", f->key, type_word(f->type), ynode_describe(v, buf, sizeof buf));
}

/* "an integer from 1 to 1000000", "a number from 0 to 1", "a number of at least 0", "a finite
 * number": what a field accepts, for out-of-range messages.  Integers are also bounded by int's
 * range. */
static const char *accepted(const Field *f, double lo, double hi, char *buf, size_t len)
{
    if (f->type != F_INT && !(f->min <= f->max))
        snprintf(buf, len, "a finite number");
    else if (f->type == F_INT)
        snprintf(buf, len, "an integer from %.0f to %.0f", lo, hi);
    else if (hi >= FIELD_NO_MAX)
        snprintf(buf, len, "a number of at least %g", lo);
    else
        snprintf(buf, len, "a number from %g to %g", lo, hi);
    return buf;
}

static int parse_number(const Field *f, const YNode *v, double *out, Error *err)
{
    if (v->kind != Y_SCALAR || ynode_is_null(v)) return expect(err, f, v);
    char *end;
    double x = strtod(v->text, &end); /* an underflow gives the nearest value, 0 or subnormal */
    if (v->text[0] == '\0' || *end != '\0' || isnan(x)) return expect(err, f, v);
    if (f->type == F_INT && isfinite(x) && x != floor(x)) return expect(err, f, v);
    bool ranged = f->min <= f->max;
    double lo = ranged ? f->min : -DBL_MAX, hi = ranged ? f->max : DBL_MAX;
    if (f->type == F_INT) lo = fmax(lo, INT_MIN), hi = fmin(hi, INT_MAX);
    if (!isfinite(x) || x < lo || x > hi) { /* 1e400 and inf overflow to infinity */
        char buf[96];
        return yerr(err, v, "'%s' is out of range: found %s, expected %s", f->key, v->text,
                    accepted(f, lo, hi, buf, sizeof buf));
    }
    *out = x;
    return 0;
}

static int word_index(const Field *f, const YNode *v, Error *err)
{
    int n = 0;
    for (; f->choices[n]; n++)
        if (strcmp(f->choices[n], v->text) == 0) return n;
    char list[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
    }
    const char *hint = suggest_word(v->text, f->choices, n);
    if (hint)
        return yerr(err, v, "'%s' must be one of %s, found '%s' (did you mean '%s'?)", f->key, list, v->text, hint);
    return yerr(err, v, "'%s' must be one of %s, found '%s'", f->key, list, v->text);
}

int field_parse_node(const Field *f, const YNode *v, void *out, Error *err)
{
    char *at = (char *)out + f->offset;
    double x;
    switch (f->type) {
    case F_INT:
        if (parse_number(f, v, &x, err)) return -1;
        *(int *)at = (int)x;
        return 0;
    case F_FLOAT:
        if (parse_number(f, v, &x, err)) return -1;
        *(double *)at = x;
        return 0;
    case F_BOOL:
        if (v->kind == Y_SCALAR && !v->quoted) {
            const char *t = v->text;
            if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "yes")) return *(bool *)at = true, 0;
            if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "no")) return *(bool *)at = false, 0;
        }
        return expect(err, f, v);
    case F_WORD:
    case F_TEXT: {
        size_t cap = f->type == F_WORD ? SPEC_WORD_MAX : SPEC_TEXT_MAX;
        if (v->kind != Y_SCALAR || ynode_is_null(v)) return expect(err, f, v);
        if (strlen(v->text) >= cap)
            return yerr(err, v, "'%s' is too long (at most %zu characters)", f->key, cap - 1);
        if (f->choices && word_index(f, v, err) < 0) return -1;
        memcpy(at, v->text, strlen(v->text) + 1);
        return 0;
    }
    case F_PAIR: {
        if (v->kind != Y_SEQ || v->n != 2) return expect(err, f, v);
        double pair[2];
        for (int i = 0; i < 2; i++)
            if (parse_number(f, v->vals[i], &pair[i], err)) return -1;
        memcpy(at, pair, sizeof pair);
        return 0;
    }
    case F_INTS: {
        if (v->kind != Y_SEQ) return expect(err, f, v);
        if (v->n > SPEC_INTS_MAX) return yerr(err, v, "'%s' holds at most %d values, found %d", f->key, SPEC_INTS_MAX, v->n);
        Field one = *f; /* each element as an integer of the same range, named by the key */
        one.type = F_INT;
        SpecInts list = {.n = v->n};
        for (int i = 0; i < v->n; i++) {
            if (parse_number(&one, v->vals[i], &x, err)) return -1;
            list.v[i] = (int)x;
        }
        memcpy(at, &list, sizeof list);
        return 0;
    }
    case F_WORDS: {
        if (v->kind != Y_SEQ) return expect(err, f, v);
        unsigned set = 0;
        for (int i = 0; i < v->n; i++) {
            const YNode *w = v->vals[i];
            if (w->kind != Y_SCALAR || ynode_is_null(w)) return expect(err, f, w);
            int k = word_index(f, w, err);
            if (k < 0) return -1;
            set |= 1u << k;
        }
        *(unsigned *)at = set;
        return 0;
    }
    }
    return err_internal(err, "unknown field type");
}

int fields_defaults(const FieldTable *t, void *out, Error *err)
{
    YPool pool = {0};
    int rc = 0;
    for (int i = 0; i < t->n && rc == 0; i++) {
        const Field *f = &t->fields[i];
        if (!f->def) continue;
        if (f->def[0] == '\0') { /* an empty text */
            memset((char *)out + f->offset, 0, 1);
            continue;
        }
        YNode *v = NULL;
        /* Defaults are YAML text too, so `[-1, 1]` and `1e-3` mean what they mean in a file. */
        rc = yaml_load_text(&pool, "default", f->def, strlen(f->def), true, &v, err);
        if (rc == 0) rc = field_parse_node(f, v, out, err);
        if (rc) err_prefix(err, "default of %s.%s: ", t->section, f->key);
        ynode_free(v);
    }
    ypool_free(&pool);
    return rc;
}

/* The shortest %g that reads back as x, so resolved specs show 0.0002, not 0.00020000000000000001. */
static void format_double(double x, char *buf, size_t len)
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, len, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static YNode *scalar(const char *text)
{
    YNode *n = ynode_new_scalar(text, "(default)", 0, 0);
    /* An empty text must stay a text: unquoted it would read back as null. */
    if (n) n->quoted = text[0] == '\0';
    return n;
}

/* The value of one field as a node. */
static YNode *field_node(const Field *f, const void *in)
{
    const char *at = (const char *)in + f->offset;
    char buf[64];
    switch (f->type) {
    case F_INT: snprintf(buf, sizeof buf, "%d", *(const int *)at); return scalar(buf);
    case F_FLOAT: format_double(*(const double *)at, buf, sizeof buf); return scalar(buf);
    case F_BOOL: return scalar(*(const bool *)at ? "true" : "false");
    case F_WORD:
    case F_TEXT: return scalar(at);
    case F_PAIR:
    case F_INTS:
    case F_WORDS: {
        YNode *seq = ynode_new_seq("(default)", 0, 0);
        const SpecInts *ints = (const SpecInts *)at;
        int count = f->type == F_PAIR ? 2 : f->type == F_INTS ? ints->n : 32;
        for (int i = 0; seq && i < count; i++) {
            YNode *v = NULL;
            if (f->type == F_INTS) {
                snprintf(buf, sizeof buf, "%d", ints->v[i]);
                v = scalar(buf);
            } else if (f->type == F_PAIR) {
                format_double(((const double *)at)[i], buf, sizeof buf);
                v = scalar(buf);
            } else if (f->choices[i] == NULL) {
                break;
            } else if (*(const unsigned *)at & (1u << i)) {
                v = scalar(f->choices[i]);
            } else {
                continue;
            }
            if (!v || ynode_seq_add(seq, v)) {
                ynode_free(v);
                ynode_free(seq);
                return NULL;
            }
        }
        return seq;
    }
    }
    return NULL;
}

int fields_fill(const FieldTable *t, const void *in, YNode *map, Error *err)
{
    for (int i = 0; i < t->n; i++) {
        const Field *f = &t->fields[i];
        if (ymap_index(map, f->key) >= 0) continue;
        YNode *v = field_node(f, in);
        if (!v || ynode_map_add(map, f->key, v, "(default)", 0, 0)) {
            ynode_free(v);
            return err_set(err, "out of memory");
        }
    }
    return 0;
}

int fields_unknown_key(Error *err, const YNode *key, const char *what, const char *const *candidates, int n)
{
    const char *hint = suggest_word(key->text, candidates, n);
    if (hint) return yerr(err, key, "unknown key '%s' in %s (did you mean '%s'?)", key->text, what, hint);
    char list[512] = "";
    for (int i = 0; i < n; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, candidates[i], sizeof list - strlen(list) - 1);
    }
    return yerr(err, key, "unknown key '%s' in %s (expected one of: %s)", key->text, what, list);
}

int fields_parse(const YNode *map, const FieldTable *const *tables, int n_tables, void *out,
                 const char *what, const YNode *owner, Error *err)
{
    if (map && ynode_is_null(map)) map = NULL;
    if (map && map->kind != Y_MAP) {
        char buf[96];
        return yerr(err, map, "%s expects a mapping of keys, found %s", what, ynode_describe(map, buf, sizeof buf));
    }
    for (int i = 0; map && i < map->n; i++) {
        const Field *f = NULL;
        for (int t = 0; t < n_tables && !f; t++)
            for (int k = 0; k < tables[t]->n && !f; k++)
                if (strcmp(tables[t]->fields[k].key, map->keys[i]->text) == 0) f = &tables[t]->fields[k];
        if (!f) {
            const char *names[64];
            int n = 0;
            for (int t = 0; t < n_tables; t++)
                for (int k = 0; k < tables[t]->n && n < 64; k++) names[n++] = tables[t]->fields[k].key;
            return fields_unknown_key(err, map->keys[i], what, names, n);
        }
        if (field_parse_node(f, map->vals[i], out, err)) return -1;
    }
    for (int t = 0; t < n_tables; t++)
        for (int k = 0; k < tables[t]->n; k++) {
            const Field *f = &tables[t]->fields[k];
            if (f->def || ymap_index(map, f->key) >= 0) continue;
            return yerr(err, map ? map : owner, "missing required key '%s' in %s", f->key, what);
        }
    return 0;
}

const char *fields_range_text(double min, double max, char *buf, size_t len)
{
    if (min > max)
        buf[0] = '\0';
    else if (max >= 1e5)
        snprintf(buf, len, " (at least %g)", min);
    else
        snprintf(buf, len, " in [%g, %g]", min, max);
    return buf;
}

void fields_markdown(const FieldTable *t, FILE *out)
{
    for (int i = 0; i < t->n; i++) {
        const Field *f = &t->fields[i];
        char kind[160];
        if (f->choices) {
            size_t used = (size_t)snprintf(kind, sizeof kind, f->type == F_WORDS ? "list of: " : "");
            for (int c = 0; f->choices[c] && used < sizeof kind; c++)
                used += (size_t)snprintf(kind + used, sizeof kind - used, "%s`%s`", c ? " \\| " : "", f->choices[c]);
        } else {
            char range[64] = "";
            if (f->type == F_INT || f->type == F_FLOAT || f->type == F_PAIR || f->type == F_INTS) fields_range_text(f->min, f->max, range, sizeof range);
            snprintf(kind, sizeof kind, "%s%s", type_word(f->type), range);
        }
        fprintf(out, "| `%s` | %s | %s%s%s | %s |\n", f->key, kind, f->def ? "`" : "",
                f->def ? (f->def[0] ? f->def : "\"\"") : "required", f->def ? "`" : "", f->doc);
    }
}
