/* Table-driven validation of the simple spec sections: each key's type, range, choices, default
 * and place in a plain struct.  The same tables give the defaults and the documentation, so a
 * default cannot differ between the code and docs/SPEC.md. */
#ifndef RUNNER_SPEC_FIELDS_H
#define RUNNER_SPEC_FIELDS_H

#include "runner/spec/spec_yaml.h"

#include <stddef.h>
#include <stdio.h>

typedef enum FieldType {
    F_INT,    /* int */
    F_FLOAT,  /* double */
    F_BOOL,   /* bool */
    F_WORD,   /* char[SPEC_WORD_MAX], one of `choices` */
    F_TEXT,   /* char[SPEC_TEXT_MAX], any text (paths, names) */
    F_PAIR,   /* double[2]: a list of two numbers */
    F_WORDS,  /* unsigned bit set over `choices` (a list of words) */
    F_INTS,   /* SpecInts: a list of integers, each in min..max */
} FieldType;

/* A `max` that only says "no upper bound": messages and docs name the minimum alone. */
#define FIELD_NO_MAX 1e30

#define SPEC_WORD_MAX 32
#define SPEC_TEXT_MAX 512
#define SPEC_INTS_MAX 16

typedef struct SpecInts {
    int n;
    int v[SPEC_INTS_MAX];
} SpecInts;

typedef struct Field {
    const char *key;
    FieldType type;
    size_t offset;          /* into the section's struct */
    const char *def;        /* default, as YAML text; NULL: required */
    double min, max;        /* accepted range for numbers; unchecked when min > max */
    const char *const *choices;
    const char *doc;
} Field;

typedef struct FieldTable {
    const char *section;    /* "data", "optimizers.<model> (adam)": for messages and docs */
    const Field *fields;
    int n;
} FieldTable;

/* Sets every field of `out` to its default (required fields are zeroed). */
int fields_defaults(const FieldTable *t, void *out, Error *err);
/* Validates `map` (a mapping, or NULL for an absent section) against one or more tables: every
 * key must belong to one of them, required keys must be present; values are parsed into `out`.
 * `what` names the section in messages ("data", "model 'generator'"). */
int fields_parse(const YNode *map, const FieldTable *const *tables, int n_tables, void *out,
                 const char *what, const YNode *owner, Error *err);
/* Parses one value into a field (used for defaults and by fields_parse). */
int field_parse_node(const Field *f, const YNode *v, void *out, Error *err);

/* Adds to `map` every key of the table it lacks, with the value `in` holds (the resolved spec a
 * run writes: defaults made explicit).  Keys already there are kept as written. */
int fields_fill(const FieldTable *t, const void *in, YNode *map, Error *err);

/* Reports an unknown key with a "did you mean" over `candidates`. */
int fields_unknown_key(Error *err, const YNode *key, const char *what, const char *const *candidates,
                       int n);

/* " in [0, 1]", or " (at least 1)" when the maximum is only a sanity bound; "" when unchecked. */
const char *fields_range_text(double min, double max, char *buf, size_t len);
/* Writes a table as Markdown rows (key, type, default, meaning). */
void fields_markdown(const FieldTable *t, FILE *out);

#endif
