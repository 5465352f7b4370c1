/* Finding what a report shows: every results folder under the roots; finished ones with their
 * summary.csv, seed (spec.yaml), family (their algorithm) and, for a sweep's point, the sweep's
 * record in the folder above; the others listed by state. */
#include "runner/report/report.h"

#include "runner/io/results_state.h"
#include "runner/spec/spec.h"
#include "runner/sweep/sweep.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const report_families[REPORT_FAMILIES] = {"adversarial", "diffusion", "classifier", "other"};

void report_free(Report *r)
{
    for (int i = 0; i < r->n_runs; i++) metrics_table_free(&r->runs[i].summary);
    for (int i = 0; i < r->n_sweeps; i++) metrics_table_free(&r->sweeps[i].record);
    for (int i = 0; i < r->n_unfinished; i++) free(r->unfinished[i]);
    free(r->runs);
    free(r->sweeps);
    free(r->unfinished);
    memset(r, 0, sizeof *r);
}

const char *report_summary_value(const ReportRun *run, const char *col)
{
    int c = metrics_table_col(&run->summary, col);
    return c >= 0 ? metrics_table_get(&run->summary, 0, c) : "";
}

const char *report_record_value(const Report *r, const ReportRun *run, const char *col)
{
    if (run->sweep < 0) return "";
    const MetricsTable *t = &r->sweeps[run->sweep].record;
    int c = metrics_table_col(t, col);
    return c >= 0 ? metrics_table_get(t, run->row, c) : "";
}

static bool exists(const char *dir, const char *rel)
{
    char path[PATH_MAX + 64];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", dir, rel) < (int)sizeof path && stat(path, &st) == 0;
}

/* `to` relative to the folder `from` (both made absolute and canonical first). */
static int relative(const char *from, const char *to, char *out, size_t len, Error *err)
{
    char *a = realpath(from, NULL), *b = realpath(to, NULL);
    int rc = 0;
    if (!a || !b) {
        rc = err_set(err, "cannot resolve '%s': %s", a ? to : from, strerror(errno));
    } else {
        size_t common = 0;
        for (size_t i = 0;; i++) { /* the longest shared prefix that ends at a folder boundary */
            bool end_a = a[i] == '\0' || a[i] == '/', end_b = b[i] == '\0' || b[i] == '/';
            if (end_a && end_b) common = i;
            if (a[i] != b[i] || a[i] == '\0') break;
        }
        out[0] = '\0';
        size_t at = 0;
        for (const char *c = a + common; strcmp(a, "/") != 0 && *c; c++)
            if (*c == '/') at += (size_t)snprintf(out + at, at < len ? len - at : 0, "../");
        const char *rest = b + common + (b[common] == '/');
        at += (size_t)snprintf(out + at, at < len ? len - at : 0, "%s", *rest ? rest : ".");
        if (at >= len) rc = err_set(err, "the path from '%s' to '%s' is too long", from, to);
    }
    free(a);
    free(b);
    return rc;
}

static void read_seed(const char *dir, char *seed, size_t len)
{
    char path[PATH_MAX + 16];
    snprintf(seed, len, "?");
    if (snprintf(path, sizeof path, "%s/spec.yaml", dir) >= (int)sizeof path) return;
    YPool pool = {0};
    YNode *root = NULL;
    Error ignored = {0};
    if (yaml_load_file(&pool, path, &root, &ignored) == 0) {
        const YNode *s = ymap_get(root, "seed");
        if (s && s->kind == Y_SCALAR) snprintf(seed, len, "%s", s->text);
    }
    ynode_free(root);
    ypool_free(&pool);
}

/* The sweep record of the folder above `dir`, loaded once per folder; -1 when there is none. */
static int sweep_of(Report *r, const char *dir, int *row)
{
    const char *slash = strrchr(dir, '/');
    if (!slash) return -1;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - dir), dir);
    int s = -1;
    for (int i = 0; i < r->n_sweeps && s < 0; i++)
        if (!strcmp(r->sweeps[i].dir, parent)) s = i;
    if (s < 0) {
        char path[PATH_MAX + 16];
        ReportSweep one;
        memset(&one, 0, sizeof one);
        Error ignored = {0};
        if (snprintf(path, sizeof path, "%s/%s", parent, SWEEP_RECORD) >= (int)sizeof path ||
            metrics_table_read(path, &one.record, &ignored))
            return -1;
        ReportSweep *grown = realloc(r->sweeps, (size_t)(r->n_sweeps + 1) * sizeof *grown);
        if (!grown) {
            metrics_table_free(&one.record);
            return -1;
        }
        snprintf(one.dir, sizeof one.dir, "%s", parent);
        const char *name = strrchr(parent, '/');
        snprintf(one.name, sizeof one.name, "%.255s", name ? name + 1 : parent);
        r->sweeps = grown;
        r->sweeps[s = r->n_sweeps++] = one;
    }
    const MetricsTable *t = &r->sweeps[s].record;
    int c = metrics_table_col(t, "point");
    for (int i = 0; c >= 0 && i < t->n_rows; i++)
        if (!strcmp(metrics_table_get(t, i, c), slash + 1)) {
            *row = i;
            return s;
        }
    return -1;
}

static int add_finished(Report *r, const char *dir, const char *out_dir, Error *err)
{
    ReportRun run = {.sweep = -1};
    char path[PATH_MAX + 16];
    snprintf(run.path, sizeof run.path, "%s", dir);
    const char *slash = strrchr(dir, '/');
    snprintf(run.point, sizeof run.point, "%s", slash ? slash + 1 : dir);
    if (snprintf(path, sizeof path, "%s/summary.csv", dir) >= (int)sizeof path ||
        metrics_table_read(path, &run.summary, err) || relative(out_dir, dir, run.link, sizeof run.link, err)) {
        metrics_table_free(&run.summary);
        return -1;
    }
    const char *family = spec_loss_family(report_summary_value(&run, "algorithm"));
    run.family = family ? family : "other";
    run.sweep = sweep_of(r, dir, &run.row);
    read_seed(dir, run.seed, sizeof run.seed);
    run.grid = exists(dir, "samples/final.png");
    run.plot = exists(dir, "plots/losses.png");
    ReportRun *grown = realloc(r->runs, (size_t)(r->n_runs + 1) * sizeof *grown);
    if (!grown) {
        metrics_table_free(&run.summary);
        return err_set(err, "out of memory");
    }
    r->runs = grown;
    r->runs[r->n_runs++] = run;
    return 0;
}

static int add_unfinished(Report *r, const char *dir, const RunStatus *st, Error *err)
{
    char text[PATH_MAX + 128], steps[64] = "";
    if (st->step >= 0 && st->total >= 0) snprintf(steps, sizeof steps, ", step %lld of %lld", (long long)st->step, (long long)st->total);
    snprintf(text, sizeof text, "%s: %s%s", dir, run_state_name(st->state), steps);
    char **grown = realloc(r->unfinished, (size_t)(r->n_unfinished + 1) * sizeof *grown);
    if (!grown || !(grown[r->n_unfinished] = strdup(text))) {
        if (grown) r->unfinished = grown;
        return err_set(err, "out of memory");
    }
    r->unfinished = grown;
    r->n_unfinished++;
    return 0;
}

/* Points of one sweep together in the sweep's order; everything else by path. */
static int by_place(const void *pa, const void *pb, void *ctx)
{
    const Report *r = ctx;
    const ReportRun *a = pa, *b = pb;
    const char *ka = a->sweep >= 0 ? r->sweeps[a->sweep].dir : a->path;
    const char *kb = b->sweep >= 0 ? r->sweeps[b->sweep].dir : b->path;
    int c = strcmp(ka, kb);
    if (c) return c;
    if (a->row != b->row) return a->row < b->row ? -1 : 1;
    return strcmp(a->path, b->path);
}

int report_collect(const char *const *roots, int n_roots, const char *out_dir, Report *r, Error *err)
{
    memset(r, 0, sizeof *r);
    int rc = 0;
    for (int k = 0; k < n_roots && rc == 0; k++) {
        char **dirs;
        int n;
        if (results_find(roots[k], &dirs, &n, err)) {
            rc = -1;
            break;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            bool seen = false; /* the same folder under two roots */
            for (int j = 0; j < r->n_runs && !seen; j++) seen = !strcmp(r->runs[j].path, dirs[i]);
            if (seen) continue;
            RunStatus st;
            rc = results_status(dirs[i], &st, err);
            if (rc == 0) rc = st.state == RUN_FINISHED ? add_finished(r, dirs[i], out_dir, err)
                                                       : add_unfinished(r, dirs[i], &st, err);
        }
        results_list_free(dirs, n);
    }
    if (rc) {
        report_free(r);
        return -1;
    }
    qsort_r(r->runs, (size_t)r->n_runs, sizeof *r->runs, by_place, r);
    return 0;
}
