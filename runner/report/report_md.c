/* REPORT.md (the tables, with links to each run's final grid and loss plot) and report.csv (one
 * row per finished run with every value it reported, as written in its files). */
#include "runner/report/report.h"

#include "runner/io/atomic_file.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* A path as a Markdown link target: anything but plain path characters percent-encoded. */
static void put_url(FILE *f, const char *path)
{
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        if (isalnum(*c) || strchr("/._~=,+-", *c)) fputc(*c, f);
        else fprintf(f, "%%%02X", *c);
}

static void put_cell(FILE *f, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '|') fputc('\\', f);
        fputc(*c == '\n' ? ' ' : *c, f);
    }
}

/* "[grid](run/samples/final.png)", or one link per seed when the row has several runs. */
static void put_links(FILE *f, const Report *r, const ReportRow *row, const char *label, const char *rel, bool plot)
{
    bool any = false;
    for (int i = 0; i < row->n_members; i++) {
        const ReportRun *run = &r->runs[row->members[i]];
        if (!(plot ? run->plot : run->grid)) continue;
        if (any) fputc(' ', f);
        if (row->n_members == 1) fprintf(f, "[%s](", label);
        else fprintf(f, "[seed %s](", run->seed);
        put_url(f, run->link);
        fputc('/', f);
        put_url(f, rel);
        fputc(')', f);
        any = true;
    }
    if (!any) fputc('-', f);
}

static void put_table(FILE *f, const Report *r, const ReportTable *t)
{
    fprintf(f, "\n## %c%s\n\n|", toupper((unsigned char)t->family[0]), t->family + 1);
    report_put_cells(f, t->cols, t->n_cols, " ", put_cell, " |");
    fputs(" grid | losses |\n|", f);
    for (int j = 0; j < t->n_cols + 2; j++) fputs(" --- |", f);
    fputc('\n', f);
    for (int k = 0; k < t->n_rows; k++) {
        fputc('|', f);
        report_put_cells(f, (const char *const *)t->rows[k].cells, t->n_cols, " ", put_cell, " |");
        fputc(' ', f);
        put_links(f, r, &t->rows[k], "grid", "samples/final.png", false);
        fputs(" | ", f);
        put_links(f, r, &t->rows[k], "losses", "plots/losses.png", true);
        fputs(" |\n", f);
    }
}

static int open_out(AtomicFile *af, const char *out_dir, const char *name, Error *err)
{
    char path[PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/%s", out_dir, name) >= (int)sizeof path)
        return err_set(err, "'%s' is too long a path", out_dir);
    return atomic_open(af, path, err);
}

int report_write_md(const Report *r, const ReportTable *tables, const char *out_dir, Error *err)
{
    AtomicFile af;
    if (open_out(&af, out_dir, "REPORT.md", err)) return -1;
    FILE *f = af.f;
    fprintf(f, "# Results\n\nWritten by `runner report` from %d finished run%s.  A row is one run, or the runs of a "
               "sweep's point\nthat differ only in their seed: their mean ± standard deviation (n - 1).  The links "
               "open each\nrun's final sample grid and loss plot; `index.html` shows them inline.\n",
            r->n_runs, r->n_runs == 1 ? "" : "s");
    for (int t = 0; t < REPORT_FAMILIES; t++)
        if (tables[t].n_rows > 0) put_table(f, r, &tables[t]);
    if (r->n_unfinished > 0) {
        fputs("\n## Not finished\n\n", f);
        for (int i = 0; i < r->n_unfinished; i++) fprintf(f, "- %s\n", r->unfinished[i]);
    }
    if (ferror(f)) {
        atomic_abort(&af);
        return err_set(err, "cannot write %s", af.path);
    }
    return atomic_commit(&af, err);
}

/* ---- report.csv ---- */

static void add_name(const char **cols, int *n, int max, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(cols[i], name)) return;
    if (*n < max) cols[(*n)++] = name;
}

int report_write_csv(const Report *r, const char *out_dir, Error *err)
{
    enum { MAX = 4 * REPORT_MAX_COLS };
    const char *cols[MAX] = {"family", "sweep", "point", "group", "path", "seed"};
    int n = 6, first_record = n;
    for (int s = 0; s < r->n_sweeps; s++)
        for (int k = 0; k < r->sweeps[s].record.n_cols; k++)
            if (strcmp(r->sweeps[s].record.header[k], "point") && strcmp(r->sweeps[s].record.header[k], "group"))
                add_name(cols, &n, MAX, r->sweeps[s].record.header[k]);
    int first_summary = n;
    for (int i = 0; i < r->n_runs; i++)
        for (int k = 0; k < r->runs[i].summary.n_cols; k++) add_name(cols, &n, MAX, r->runs[i].summary.header[k]);
    add_name(cols, &n, MAX, "grid");
    add_name(cols, &n, MAX, "losses");
    Cell *cells = calloc((size_t)(r->n_runs ? r->n_runs : 1) * (size_t)n, sizeof *cells);
    char (*links)[2][PATH_MAX + 32] = calloc((size_t)(r->n_runs ? r->n_runs : 1), sizeof *links);
    if (!cells || !links) {
        free(cells);
        free(links);
        return err_set(err, "out of memory");
    }
    for (int i = 0; i < r->n_runs; i++) {
        const ReportRun *run = &r->runs[i];
        Cell *row = cells + (size_t)i * (size_t)n;
        snprintf(links[i][0], sizeof links[i][0], "%s/samples/final.png", run->link);
        snprintf(links[i][1], sizeof links[i][1], "%s/plots/losses.png", run->link);
        row[0] = cell_text(run->family);
        row[1] = cell_text(run->sweep >= 0 ? r->sweeps[run->sweep].name : "");
        row[2] = cell_text(run->point);
        row[3] = cell_text(run->sweep >= 0 ? report_record_value(r, run, "group") : run->point);
        row[4] = cell_text(run->link);
        row[5] = cell_text(run->seed);
        for (int j = first_record; j < first_summary; j++) row[j] = cell_text(report_record_value(r, run, cols[j]));
        for (int j = first_summary; j < n - 2; j++) row[j] = cell_text(report_summary_value(run, cols[j]));
        row[n - 2] = cell_text(run->grid ? links[i][0] : "");
        row[n - 1] = cell_text(run->plot ? links[i][1] : "");
    }
    char path[PATH_MAX + 32];
    int rc = snprintf(path, sizeof path, "%s/report.csv", out_dir) >= (int)sizeof path
                 ? err_set(err, "'%s' is too long a path", out_dir)
                 : metrics_write_table(path, cols, n, cells, r->n_runs, err);
    free(cells);
    free(links);
    return rc;
}
