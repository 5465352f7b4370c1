/* YAML documents as trees whose every node remembers where it came from (file, line, column),
 * read with libyaml's event API.  Loading never crashes and never trusts its input: size, depth
 * and node count are bounded, duplicate keys are errors naming both lines, and aliases are
 * expanded as copies within the same node budget (so "billion laughs" documents fail cleanly). */
#ifndef RUNNER_SPEC_YAML_H
#define RUNNER_SPEC_YAML_H

#include "graph/error.h"

#include <stdbool.h>
#include <stddef.h>

#define YAML_MAX_BYTES (4u << 20) /* a spec is text written by a person */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000     /* after alias expansion */
#define YAML_MAX_KEYS 4096        /* per mapping */

typedef enum YKind { Y_SCALAR, Y_SEQ, Y_MAP } YKind;

typedef struct YNode {
    YKind kind;
    const char *file; /* interned in a YPool; for --set values, the whole "--set k=v" text */
    int line, col;    /* 1-based; line 0 means "no position" (a value given on the command line) */
    char *text;       /* Y_SCALAR */
    bool quoted;      /* a quoted scalar is always a string, never null */
    struct YNode **keys, **vals; /* Y_MAP: scalar keys and their values; Y_SEQ: vals only */
    int n, cap;
} YNode;

/* Interned file names, so nodes copied between trees (includes, aliases) stay valid. */
typedef struct YPool {
    char **names;
    int n, cap;
} YPool;

const char *ypool_intern(YPool *p, const char *name);
void ypool_free(YPool *p);

/* Parses one document.  *root is never NULL on success; an empty document is an error.
 * `label` names the source in messages (a path, or "--set k=v" for a command-line value,
 * whose nodes then carry line 0). */
int yaml_load_file(YPool *pool, const char *path, YNode **root, Error *err);
int yaml_load_text(YPool *pool, const char *label, const char *text, size_t len, bool no_position,
                   YNode **root, Error *err);

void ynode_free(YNode *n);
/* Deep copy; NULL when the copy would exceed *budget nodes (budget decremented). */
YNode *ynode_copy(const YNode *n, int *budget);
YNode *ynode_new_scalar(const char *text, const char *file, int line, int col);
YNode *ynode_new_map(const char *file, int line, int col);
YNode *ynode_new_seq(const char *file, int line, int col);
/* Appends to a map (key copied as a scalar) / a sequence; -1 on allocation failure. */
int ynode_map_add(YNode *map, const char *key, YNode *val, const char *file, int line, int col);
int ynode_seq_add(YNode *seq, YNode *val);

/* Value of `key` in a mapping (NULL when absent or not a mapping). */
YNode *ymap_get(const YNode *map, const char *key);
int ymap_index(const YNode *map, const char *key);
/* A plain null (`~`, `null`, or nothing). */
bool ynode_is_null(const YNode *n);
/* "a mapping", "a list", "'text'" or "nothing": what the user wrote, for messages. */
const char *ynode_describe(const YNode *n, char *buf, size_t len);

/* "file:line:col" (or just the label for command-line values). */
const char *ynode_where(const YNode *n, char *buf, size_t len);
/* Sets err to the message at n's place (err_set_at) and returns -1. */
int yerr(Error *err, const YNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Gives a message from a lower layer (attr_parse, ...) n's place (err_locate); returns -1. */
int yerr_wrap(Error *err, const YNode *n);

/* Writes the tree as block YAML (for the resolved spec of a run). */
int yaml_write(const YNode *root, char **out, size_t *len, Error *err);
/* Writes a value on one line in flow style (`{type: adam, betas: [0.5, 0.999]}`, `2.0e-4`) that
 * reads back as the same value: what a command line's --set is given.  *out is malloc'ed. */
int yaml_write_flow(const YNode *n, char **out, Error *err);

#endif
