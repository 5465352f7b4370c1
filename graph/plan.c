/* Memory planning and execution.  Every value's memory is fixed once per graph: values are packed
 * into one arena, reusing the space of values whose last reader has run (first fit over a sorted
 * free list), so a training step allocates nothing. */
#include "graph/graph.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALIGN 64

typedef struct Block {
    size_t offset, size;
} Block;

/* Free list kept sorted by offset, with neighbours merged. */
typedef struct FreeList {
    Block *b;
    int n, cap;
    size_t end; /* arena high-water mark */
} FreeList;

static size_t align_up(size_t x) { return (x + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

static int fl_insert(FreeList *fl, size_t offset, size_t size)
{
    if (fl->n == fl->cap) {
        int cap = fl->cap ? fl->cap * 2 : 64;
        Block *b = realloc(fl->b, (size_t)cap * sizeof *b);
        if (!b) return -1;
        fl->b = b;
        fl->cap = cap;
    }
    int i = 0;
    while (i < fl->n && fl->b[i].offset < offset) i++;
    memmove(&fl->b[i + 1], &fl->b[i], (size_t)(fl->n - i) * sizeof *fl->b);
    fl->b[i] = (Block){offset, size};
    fl->n++;
    /* Merge with the right, then the left neighbour. */
    if (i + 1 < fl->n && fl->b[i].offset + fl->b[i].size == fl->b[i + 1].offset) {
        fl->b[i].size += fl->b[i + 1].size;
        memmove(&fl->b[i + 1], &fl->b[i + 2], (size_t)(fl->n - i - 2) * sizeof *fl->b);
        fl->n--;
    }
    if (i > 0 && fl->b[i - 1].offset + fl->b[i - 1].size == fl->b[i].offset) {
        fl->b[i - 1].size += fl->b[i].size;
        memmove(&fl->b[i], &fl->b[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->b);
        fl->n--;
    }
    /* A free block at the end of the arena shrinks the high-water mark instead. */
    if (fl->n && fl->b[fl->n - 1].offset + fl->b[fl->n - 1].size == fl->end) {
        fl->end = fl->b[fl->n - 1].offset;
        fl->n--;
    }
    return 0;
}

static size_t fl_take(FreeList *fl, size_t size)
{
    for (int i = 0; i < fl->n; i++) {
        if (fl->b[i].size < size) continue;
        size_t off = fl->b[i].offset;
        fl->b[i].offset += size;
        fl->b[i].size -= size;
        if (fl->b[i].size == 0) {
            memmove(&fl->b[i], &fl->b[i + 1], (size_t)(fl->n - i - 1) * sizeof *fl->b);
            fl->n--;
        }
        return off;
    }
    size_t off = fl->end;
    fl->end += size;
    return off;
}

static Node *storage_root(Node *n)
{
    while (n->kind == NODE_OP && (n->op->flags & OP_VIEW)) n = n->in[0];
    return n;
}

static size_t node_bytes(const Node *n)
{
    size_t bytes = align_up((size_t)shape_numel(&n->out.shape) * sizeof(float));
    for (int a = 0; a < n->n_aux; a++) bytes += align_up((size_t)shape_numel(&n->aux_shape[a]) * sizeof(float));
    return bytes;
}

int graph_plan(Graph *g, Node *const *outputs, int n_outputs, Error *err)
{
    int n = g->n;
    size_t *offset = calloc((size_t)n, sizeof *offset);
    FreeList fl = {0};
    int rc = -1;
    if (!offset) return err_set(err, "out of memory planning the graph");

    for (int i = 0; i < n; i++) {
        Node *nd = g->nodes[i];
        nd->needed = false;
        nd->is_output = false;
        nd->last_use = -1;
        nd->storage = NULL;
    }
    for (int i = 0; i < n_outputs; i++) outputs[i]->needed = outputs[i]->is_output = true;
    for (int id = n - 1; id >= 0; id--) {
        Node *nd = g->nodes[id];
        if (!nd->needed) continue;
        for (int i = 0; i < nd->n_in; i++) nd->in[i]->needed = true;
    }
    /* A value lives until its last reader ran; views keep their storage alive; outputs and inputs
     * live for the whole run. */
    for (int id = 0; id < n; id++) {
        Node *nd = g->nodes[id];
        if (!nd->needed) continue;
        nd->storage = storage_root(nd);
        if (nd->kind == NODE_INPUT || nd->is_output) nd->storage->last_use = INT_MAX;
        for (int i = 0; i < nd->n_in; i++) {
            Node *root = storage_root(nd->in[i]);
            if (root->last_use < id) root->last_use = id;
        }
        if (nd->storage->last_use < id) nd->storage->last_use = id;
    }

    /* Nodes to release after each step, bucketed by the step of their last use. */
    int *next = malloc((size_t)n * sizeof *next), *head = malloc((size_t)n * sizeof *head);
    if (!next || !head) {
        free(next);
        free(head);
        err_set(err, "out of memory planning the graph");
        goto done;
    }
    for (int i = 0; i < n; i++) head[i] = -1;
    size_t workspace = 0;
    /* Inputs are written before the run starts, so they get space no other value ever shares,
     * wherever they were created. */
    for (int id = 0; id < n; id++)
        if (g->nodes[id]->needed && g->nodes[id]->kind == NODE_INPUT) offset[id] = fl_take(&fl, node_bytes(g->nodes[id]));
    for (int id = 0; id < n; id++) {
        Node *nd = g->nodes[id];
        if (!nd->needed) continue;
        if (nd->kind == NODE_OP) {
            size_t need = nd->op->workspace ? nd->op->workspace(nd, g->be) : nd->workspace_bytes;
            if (need > workspace) workspace = need;
        }
        if (nd->kind == NODE_OP && nd->storage == nd) {
            offset[id] = fl_take(&fl, node_bytes(nd));
            if (nd->last_use != INT_MAX) {
                int at = nd->last_use > id ? nd->last_use : id;
                next[id] = head[at];
                head[at] = id;
            }
        }
        for (int r = head[id]; r >= 0; r = next[r])
            if (fl_insert(&fl, offset[r], node_bytes(g->nodes[r]))) {
                err_set(err, "out of memory planning the graph");
                free(next);
                free(head);
                goto done;
            }
    }
    free(next);
    free(head);

    if (g->arena) g->be->free(g->arena);
    if (g->workspace) g->be->free(g->workspace);
    g->arena = NULL;
    g->workspace = NULL;
    g->arena_bytes = fl.end > 0 ? fl.end : ALIGN;
    /* The high-water mark only shrinks when the last block is freed, so track the true peak. */
    size_t peak = 0;
    for (int id = 0; id < n; id++) {
        Node *nd = g->nodes[id];
        if (nd->needed && nd->kind != NODE_PARAM && nd->storage == nd && offset[id] + node_bytes(nd) > peak)
            peak = offset[id] + node_bytes(nd);
    }
    if (peak > g->arena_bytes) g->arena_bytes = peak;
    g->arena = g->be->alloc(g->arena_bytes);
    g->workspace_bytes = workspace;
    g->workspace = workspace ? g->be->alloc(workspace) : NULL;
    if (!g->arena || (workspace && !g->workspace)) {
        err_set(err, "out of memory: the graph needs %zu bytes of activations", g->arena_bytes + workspace);
        goto done;
    }
    for (int id = 0; id < n; id++) {
        Node *nd = g->nodes[id];
        if (!nd->needed || nd->kind == NODE_PARAM) continue;
        if (nd->storage != nd) {
            nd->out.data = nd->storage->out.data;
            continue;
        }
        char *base = (char *)g->arena + offset[id];
        nd->out.data = (float *)base;
        base += align_up((size_t)shape_numel(&nd->out.shape) * sizeof(float));
        for (int a = 0; a < nd->n_aux; a++) {
            nd->aux[a].shape = nd->aux_shape[a];
            nd->aux[a].data = (float *)base;
            base += align_up((size_t)shape_numel(&nd->aux_shape[a]) * sizeof(float));
        }
    }
    g->planned = true;
    rc = 0;
done:
    free(offset);
    free(fl.b);
    return rc;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Summed by graph_run_timed, which graphs on other threads may run at the same time (whole
 * numbers, which an atomic integer adds without a lock). */
static _Atomic unsigned long long flops_run;

double graph_flops_run(void) { return (double)flops_run; }

int graph_run_timed(Graph *g, double *node_ms, Error *err)
{
    double flops = 0;
    for (int id = 0; id < g->n; id++) {
        Node *nd = g->nodes[id];
        if (!nd->needed || nd->kind != NODE_OP || (nd->op->flags & OP_VIEW)) continue;
        double t0 = node_ms ? now_ms() : 0.0;
        nd->op->forward(g, nd);
        if (nd->op->flops) flops += nd->op->flops(nd);
        if (g->failed) {
            g->failed = false;
            if (err) *err = g->failure;
            return -1;
        }
        if (!node_ms) continue;
        g->be->synchronize(); /* asynchronous backends: charge the work to its node */
        node_ms[id] += now_ms() - t0;
    }
    flops_run += (unsigned long long)flops;
    return backend_status(g->be, err);
}

int graph_run(Graph *g, Error *err) { return graph_run_timed(g, NULL, err); }

size_t graph_memory_bytes(const Graph *g) { return g->arena_bytes + g->workspace_bytes; }
