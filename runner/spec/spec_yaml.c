/* Reading YAML into located trees with libyaml's event parser (see spec_yaml.h for the limits). */
#include "runner/spec/spec_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char *ypool_intern(YPool *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) return p->names[i];
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        char **names = realloc(p->names, (size_t)cap * sizeof *names);
        if (!names) return NULL;
        p->names = names, p->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return NULL;
    p->names[p->n++] = copy;
    return copy;
}

void ypool_free(YPool *p)
{
    for (int i = 0; i < p->n; i++) free(p->names[i]);
    free(p->names);
    memset(p, 0, sizeof *p);
}

/* ---- nodes ---- */

static YNode *node_new(YKind kind, const char *file, int line, int col)
{
    YNode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind, n->file = file, n->line = line, n->col = col;
    return n;
}

YNode *ynode_new_scalar(const char *text, const char *file, int line, int col)
{
    YNode *n = node_new(Y_SCALAR, file, line, col);
    if (n && !(n->text = strdup(text))) {
        free(n);
        return NULL;
    }
    return n;
}

YNode *ynode_new_map(const char *file, int line, int col) { return node_new(Y_MAP, file, line, col); }
YNode *ynode_new_seq(const char *file, int line, int col) { return node_new(Y_SEQ, file, line, col); }

void ynode_free(YNode *n)
{
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        if (n->keys) ynode_free(n->keys[i]);
        ynode_free(n->vals[i]);
    }
    free(n->keys);
    free(n->vals);
    free(n->text);
    free(n);
}

static int grow(YNode *n)
{
    if (n->n < n->cap) return 0;
    int cap = n->cap ? 2 * n->cap : 4;
    YNode **vals = realloc(n->vals, (size_t)cap * sizeof *vals);
    if (!vals) return -1;
    n->vals = vals;
    if (n->kind == Y_MAP) {
        YNode **keys = realloc(n->keys, (size_t)cap * sizeof *keys);
        if (!keys) return -1;
        n->keys = keys;
    }
    n->cap = cap;
    return 0;
}

int ynode_seq_add(YNode *seq, YNode *val)
{
    if (grow(seq)) return -1;
    seq->vals[seq->n++] = val;
    return 0;
}

static int map_add_node(YNode *map, YNode *key, YNode *val)
{
    if (grow(map)) return -1;
    map->keys[map->n] = key;
    map->vals[map->n++] = val;
    return 0;
}

int ynode_map_add(YNode *map, const char *key, YNode *val, const char *file, int line, int col)
{
    YNode *k = ynode_new_scalar(key, file, line, col);
    if (!k || map_add_node(map, k, val)) {
        ynode_free(k);
        return -1;
    }
    return 0;
}

YNode *ynode_copy(const YNode *n, int *budget)
{
    if (--*budget < 0) return NULL;
    YNode *c = node_new(n->kind, n->file, n->line, n->col);
    if (!c) return NULL;
    c->quoted = n->quoted;
    if (n->text && !(c->text = strdup(n->text))) goto fail;
    for (int i = 0; i < n->n; i++) {
        YNode *v = ynode_copy(n->vals[i], budget);
        if (!v) goto fail;
        if (n->kind == Y_MAP) {
            YNode *k = ynode_copy(n->keys[i], budget);
            if (!k || map_add_node(c, k, v)) {
                ynode_free(k), ynode_free(v);
                goto fail;
            }
        } else if (ynode_seq_add(c, v)) {
            ynode_free(v);
            goto fail;
        }
    }
    return c;
fail:
    ynode_free(c);
    return NULL;
}

int ymap_index(const YNode *map, const char *key)
{
    if (!map || map->kind != Y_MAP) return -1;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0) return i;
    return -1;
}

YNode *ymap_get(const YNode *map, const char *key)
{
    int i = ymap_index(map, key);
    return i < 0 ? NULL : map->vals[i];
}

bool ynode_is_null(const YNode *n)
{
    if (!n || n->kind != Y_SCALAR || n->quoted) return false;
    return !strcmp(n->text, "") || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
           !strcmp(n->text, "Null") || !strcmp(n->text, "NULL");
}

const char *ynode_describe(const YNode *n, char *buf, size_t len)
{
    if (n->kind == Y_MAP) return "a mapping";
    if (n->kind == Y_SEQ) return "a list";
    if (ynode_is_null(n)) return "nothing";
    snprintf(buf, len, "'%.60s%s'", n->text, strlen(n->text) > 60 ? "..." : "");
    return buf;
}

const char *ynode_where(const YNode *n, char *buf, size_t len)
{
    if (n->line <= 0)
        snprintf(buf, len, "%s", n->file);
    else
        snprintf(buf, len, "%s:%d:%d", n->file, n->line, n->col);
    return buf;
}

int yerr(Error *err, const YNode *n, const char *fmt, ...)
{
    if (!err) return -1;
    char where[512], msg[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set_at(err, ynode_where(n, where, sizeof where), "%s", msg);
}

int yerr_wrap(Error *err, const YNode *n)
{
    char where[512];
    return err_locate(err, ynode_where(n, where, sizeof where));
}

/* ---- loading ---- */

typedef struct Anchor {
    char *name;
    YNode *node;
    bool done; /* an alias to an unfinished node would be recursive */
} Anchor;

typedef struct Loader {
    YPool *pool;
    const char *file; /* interned */
    bool no_position;
    const unsigned char *text;
    size_t len;
    Error *err;
    int budget;
    YNode *stack[YAML_MAX_DEPTH + 1];
    YNode *pending_key[YAML_MAX_DEPTH + 1]; /* a mapping's key waiting for its value */
    int depth;
    YNode *root;
    Anchor *anchors;
    int n_anchors, cap_anchors;
} Loader;

static int at_mark(Loader *L, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int at_mark(Loader *L, yaml_mark_t m, const char *fmt, ...)
{
    YNode pos = {.file = L->file, .line = L->no_position ? 0 : (int)m.line + 1, .col = (int)m.column + 1};
    char msg[ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yerr(L->err, &pos, "%s", msg);
}

/* Reader errors (bad UTF-8, control characters) only carry a byte offset. */
static yaml_mark_t mark_of_offset(const Loader *L, size_t offset)
{
    yaml_mark_t m = {0};
    for (size_t i = 0; i < offset && i < L->len; i++) {
        if (L->text[i] == '\n')
            m.line++, m.column = 0;
        else if ((L->text[i] & 0xC0) != 0x80)
            m.column++;
    }
    return m;
}

static int parser_error(Loader *L, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) return err_set_at(L->err, L->file, "out of memory reading YAML");
    yaml_mark_t m = p->error == YAML_READER_ERROR ? mark_of_offset(L, p->problem_offset) : p->problem_mark;
    const char *problem = p->problem ? p->problem : "malformed document";
    if (p->context)
        return at_mark(L, m, "invalid YAML: %s (%s)", problem, p->context);
    return at_mark(L, m, "invalid YAML: %s", problem);
}

static YNode *make_node(Loader *L, YKind kind, yaml_mark_t m)
{
    if (--L->budget < 0) {
        at_mark(L, m, "document too large: more than %d nodes", YAML_MAX_NODES);
        return NULL;
    }
    YNode *n = node_new(kind, L->file, L->no_position ? 0 : (int)m.line + 1, (int)m.column + 1);
    if (!n) at_mark(L, m, "out of memory");
    return n;
}

static int remember_anchor(Loader *L, const yaml_char_t *name, YNode *node, bool done)
{
    if (!name) return 0;
    if (L->n_anchors == L->cap_anchors) {
        int cap = L->cap_anchors ? 2 * L->cap_anchors : 8;
        Anchor *a = realloc(L->anchors, (size_t)cap * sizeof *a);
        if (!a) return err_set(L->err, "out of memory");
        L->anchors = a, L->cap_anchors = cap;
    }
    char *copy = strdup((const char *)name);
    if (!copy) return err_set(L->err, "out of memory");
    /* A later anchor of the same name shadows the earlier one, as YAML specifies. */
    L->anchors[L->n_anchors++] = (Anchor){copy, node, done};
    return 0;
}

static void finish_anchor(Loader *L, const YNode *node)
{
    for (int i = L->n_anchors - 1; i >= 0; i--)
        if (L->anchors[i].node == node) L->anchors[i].done = true;
}

/* Attaches a finished (scalar, alias) or just-opened (collection) node to its parent. */
static int attach(Loader *L, YNode *node, yaml_mark_t m)
{
    if (L->depth == 0) {
        if (L->root) {
            ynode_free(node);
            return at_mark(L, m, "unexpected second root node");
        }
        L->root = node;
        return 0;
    }
    YNode *parent = L->stack[L->depth - 1];
    if (parent->kind == Y_SEQ) {
        if (ynode_seq_add(parent, node)) {
            ynode_free(node);
            return at_mark(L, m, "out of memory");
        }
        return 0;
    }
    YNode *key = L->pending_key[L->depth - 1];
    if (!key) {
        if (node->kind != Y_SCALAR) {
            int rc = yerr(L->err, node, "a mapping key must be a plain word, found %s",
                          node->kind == Y_MAP ? "a mapping" : "a list");
            ynode_free(node);
            return rc;
        }
        if (parent->n >= YAML_MAX_KEYS) {
            ynode_free(node);
            return at_mark(L, m, "mapping has too many keys (more than %d)", YAML_MAX_KEYS);
        }
        for (int i = 0; i < parent->n; i++) {
            if (strcmp(parent->keys[i]->text, node->text) == 0) {
                int rc = yerr(L->err, node, "duplicate key '%.100s' (first given at line %d)", node->text,
                              parent->keys[i]->line);
                ynode_free(node);
                return rc;
            }
        }
        L->pending_key[L->depth - 1] = node;
        return 0;
    }
    L->pending_key[L->depth - 1] = NULL;
    if (map_add_node(parent, key, node)) {
        ynode_free(key), ynode_free(node);
        return at_mark(L, m, "out of memory");
    }
    return 0;
}

static int on_alias(Loader *L, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (int i = L->n_anchors - 1; i >= 0; i--) {
        if (strcmp(L->anchors[i].name, name) != 0) continue;
        if (!L->anchors[i].done)
            return at_mark(L, ev->start_mark, "alias '*%s' refers to a node that contains it", name);
        YNode *copy = ynode_copy(L->anchors[i].node, &L->budget);
        if (!copy)
            return at_mark(L, ev->start_mark,
                           "document too large: expanding alias '*%s' exceeds %d nodes", name, YAML_MAX_NODES);
        return attach(L, copy, ev->start_mark);
    }
    return at_mark(L, ev->start_mark, "unknown alias '*%s'", name);
}

static int on_event(Loader *L, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        YNode *n = make_node(L, Y_SCALAR, ev->start_mark);
        if (!n) return -1;
        n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!n->text || strlen(n->text) != ev->data.scalar.length) {
            ynode_free(n);
            return at_mark(L, ev->start_mark, "a value contains a NUL character");
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (attach(L, n, ev->start_mark)) return -1;
        return remember_anchor(L, ev->data.scalar.anchor, n, true);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        if (L->depth >= YAML_MAX_DEPTH)
            return at_mark(L, ev->start_mark, "document nested too deeply (more than %d levels)", YAML_MAX_DEPTH);
        bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
        YNode *n = make_node(L, seq ? Y_SEQ : Y_MAP, ev->start_mark);
        if (!n) return -1;
        if (attach(L, n, ev->start_mark)) return -1;
        L->stack[L->depth] = n;
        L->pending_key[L->depth] = NULL;
        L->depth++;
        const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
        return remember_anchor(L, anchor, n, false);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        L->depth--;
        finish_anchor(L, L->stack[L->depth]);
        return 0;
    case YAML_ALIAS_EVENT:
        return on_alias(L, ev);
    default:
        return 0;
    }
}

int yaml_load_text(YPool *pool, const char *label, const char *text, size_t len, bool no_position,
                   YNode **root, Error *err)
{
    *root = NULL;
    Loader L = {.pool = pool, .no_position = no_position, .text = (const unsigned char *)text,
                .len = len, .err = err, .budget = YAML_MAX_NODES};
    L.file = ypool_intern(pool, label);
    if (!L.file) return err_set(err, "out of memory");
    if (len > YAML_MAX_BYTES)
        return err_set_at(err, label, "file too large (%zu bytes; a spec may have at most %u)", len, YAML_MAX_BYTES);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return err_set(err, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, documents = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&L, &parser);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++documents > 1)
            rc = at_mark(&L, ev.start_mark, "found a second YAML document; a file holds one document "
                                            "(remove the '---' separator)");
        else if (ev.type == YAML_STREAM_END_EVENT)
            done = true;
        else
            rc = on_event(&L, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    for (int i = 0; i < L.n_anchors; i++) free(L.anchors[i].name);
    free(L.anchors);
    /* On error, the collections still open hold their pending keys; the root owns the rest. */
    for (int i = 0; i < L.depth; i++) ynode_free(L.pending_key[i]);
    if (rc == 0 && (!L.root || ynode_is_null(L.root))) {
        YNode pos = {.file = L.file, .line = no_position ? 0 : 1, .col = 1};
        rc = yerr(err, &pos, "the document is empty; expected a mapping");
    }
    if (rc) {
        ynode_free(L.root);
        return -1;
    }
    *root = L.root;
    return 0;
}

int yaml_load_file(YPool *pool, const char *path, YNode **root, Error *err)
{
    *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        err_set_at(err, path, "cannot open: %s", strerror(e));
        if (e == ENOENT) err->kind = ERR_NOT_FOUND;
        return -1;
    }
    char *buf = malloc(YAML_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return err_set(err, "out of memory");
    }
    size_t len = fread(buf, 1, YAML_MAX_BYTES + 1, f);
    bool failed = ferror(f);
    fclose(f);
    int rc;
    if (failed)
        rc = err_set_at(err, path, "cannot read the file");
    else
        rc = yaml_load_text(pool, path, buf, len, false, root, err);
    free(buf);
    return rc;
}

/* ---- writing ---- */

typedef struct OutBuf {
    char *data;
    size_t len, cap;
} OutBuf;

static int out_write(void *ctx, unsigned char *buffer, size_t size)
{
    OutBuf *o = ctx;
    if (o->len + size + 1 > o->cap) {
        size_t cap = (o->len + size + 1) * 2;
        char *d = realloc(o->data, cap);
        if (!d) return 0;
        o->data = d, o->cap = cap;
    }
    memcpy(o->data + o->len, buffer, size);
    o->len += size;
    o->data[o->len] = '\0';
    return 1;
}

/* `flow`: every list and mapping on one line ({a: 1, b: [2, 3]}), for values on a command line. */
static int emit_node(yaml_emitter_t *e, const YNode *n, bool flow_all)
{
    yaml_event_t ev;
    if (n->kind == Y_SCALAR) {
        /* Plain when libyaml can write it so, quoted otherwise; quoted input stays quoted. */
        yaml_scalar_style_t style = n->quoted ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->text, (int)strlen(n->text), 1,
                                     1, style);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    }
    /* Short lists of scalars (shapes, betas) read best on one line. */
    bool flow = n->kind == Y_SEQ && n->n <= 8;
    for (int i = 0; flow && i < n->n; i++) flow = n->vals[i]->kind == Y_SCALAR;
    flow |= flow_all;
    if (n->kind == Y_SEQ)
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                             flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    else
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(e, &ev)) return -1;
    for (int i = 0; i < n->n; i++) {
        if (n->kind == Y_MAP && emit_node(e, n->keys[i], flow_all)) return -1;
        if (emit_node(e, n->vals[i], flow_all)) return -1;
    }
    if (n->kind == Y_SEQ)
        yaml_sequence_end_event_initialize(&ev);
    else
        yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int write_doc(const YNode *root, bool flow, char **out, size_t *len, Error *err)
{
    OutBuf o = {0};
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e)) return err_set(err, "out of memory");
    yaml_emitter_set_output(&e, out_write, &o);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, flow ? -1 : 100);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    ok = ok && emit_node(&e, root, flow) == 0;
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&e, &ev);
    if (!ok) {
        err_set(err, "cannot write YAML: %s", e.problem ? e.problem : "emitter failed");
        yaml_emitter_delete(&e);
        free(o.data);
        return -1;
    }
    yaml_emitter_delete(&e);
    *out = o.data;
    *len = o.len;
    return 0;
}

int yaml_write(const YNode *root, char **out, size_t *len, Error *err) { return write_doc(root, false, out, len, err); }

int yaml_write_flow(const YNode *n, char **out, Error *err)
{
    size_t len;
    if (write_doc(n, true, out, &len, err)) return -1;
    /* One line: without the line break, nor the end-of-document marker libyaml adds after a
     * plain scalar that could otherwise continue. */
    char *s = *out;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ')) s[--len] = '\0';
    if (len >= 4 && !strcmp(s + len - 4, "\n...")) s[len -= 4] = '\0';
    if (!s || strchr(s, '\n')) {
        free(s);
        *out = NULL;
        return err_internal(err, "a YAML value did not fit on one line");
    }
    return 0;
}
