/* Building a NetDef from a network's entries (spec_net.c, names resolved by spec_scope.c) and
 * expanding block uses into them (spec_blocks.c).  Entries are parsed in a scope: the network itself, or one block instance.
 * A scope maps the names its entries may read (inputs, earlier nodes, earlier block instances)
 * to the flat node names of the NetDef, so a block's nodes see only the block's inputs and its
 * own nodes, and an instance is read through the node its `output:` names. */
#ifndef RUNNER_SPEC_NET_H
#define RUNNER_SPEC_NET_H

#include "runner/spec/spec.h"

#define NET_MAX_FLAT_NODES 16384  /* after expanding blocks */
#define NET_MAX_ENTRIES 4096      /* in one `layers:` / `nodes:` list */

typedef struct ScopeName {
    char local[NET_NAME_MAX];     /* as written in this scope */
    char full[NET_NAME_MAX];      /* the NetDef node (or network input) it stands for */
    char where[NET_WHERE_MAX];    /* where it was defined, for duplicate-name messages */
    bool input;
} ScopeName;

typedef struct NetScope {
    char owner[NET_NAME_MAX + 16]; /* "model 'd'" or "block 'resblock'", for messages */
    char prefix[NET_NAME_MAX + 1]; /* "" for the network, "<instance>." inside a block */
    bool dag;                      /* `nodes:` (entries may give `in:`) rather than `layers:` */
    const YNode *list;             /* the entries, to tell a forward reference from a typo */
    char prev[NET_NAME_MAX];       /* what an entry without `in:` reads; "" when ambiguous */
    ScopeName *names;
    int n, cap;
} NetScope;

typedef struct NetBuild {
    NetDef *def;
    int cap;                       /* allocated def->nodes */
    const char *model;
    const YNode *blocks;           /* the model's `blocks:`, NULL when it has none */
} NetBuild;

/* spec_net.c */
int net_parse_entries(NetBuild *b, NetScope *s, const YNode *list, Error *err);
int net_check_name(const YNode *v, const char *what, char *out, Error *err);

/* spec_scope.c */
/* Resolves an `in:` value (one name or a list) in scope s into full names; `who` names the
 * reader in messages; `at` is the reader's position in s->list. */
int net_resolve_in(const NetScope *s, int at, const char *who, const YNode *v,
                   char out[][NET_NAME_MAX], int max, int *n, Error *err);
/* Fails when `local` is already taken in s (`at` is where the new name was written). */
int scope_check_new(const NetScope *s, const char *local, const YNode *at, Error *err);
/* The full name of `local` in s: prefix + local, which must fit NET_NAME_MAX. */
int scope_full_name(const NetScope *s, const char *local, const YNode *at, char *out, Error *err);
int scope_add(NetScope *s, const char *local, const char *full, const char *where, bool input, Error *err);
const ScopeName *scope_find(const NetScope *s, const char *local);
void scope_free(NetScope *s);

/* spec_blocks.c */
bool block_is_use(const YNode *entry);
/* Validates every definition of a model's `blocks:` (keys, params, inputs, parameter
 * references, uses of other blocks, cycles), so a mistake shows even in an unused block. */
int blocks_check(const YNode *blocks, const char *model, Error *err);
/* Expands the block use `entry` (position `at` in s->list) into b->def's nodes. */
int block_expand(NetBuild *b, NetScope *s, int at, const YNode *entry, Error *err);

#endif
