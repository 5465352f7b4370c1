/* Reports: the finished runs under one or more results folders as tables, one per family
 * (adversarial, diffusion, classifier), written as REPORT.md, report.csv and index.html.  The
 * same results give the same bytes: runs are sorted, numbers have fixed formats, and nothing
 * depends on the clock.
 *
 *   report_collect.c  finding the runs, their summaries, seeds and sweep records
 *   report_table.c    the tables: a row per run, or per sweep point over its seeds
 *   report_md.c       REPORT.md and report.csv
 *   report_html.c     index.html: the same tables, images inline, sortable */
#ifndef RUNNER_REPORT_H
#define RUNNER_REPORT_H

#include "runner/io/metrics_csv.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#define REPORT_MAX_COLS 64

/* A sweep's record (runner/sweep/sweep.h's SWEEP_RECORD) in the folder above its points. */
typedef struct ReportSweep {
    char dir[PATH_MAX];
    char name[256];   /* the folder's name */
    MetricsTable record;
} ReportSweep;

typedef struct ReportRun {
    char path[PATH_MAX];     /* as found */
    char link[PATH_MAX];     /* relative to the report's folder */
    char point[256];         /* the folder's name */
    int sweep;               /* index into Report.sweeps; -1: not a sweep's point */
    int row;                 /* its row in the sweep's record */
    const char *family;      /* "adversarial", "diffusion", "classifier" or "other" */
    char seed[32];           /* from its spec.yaml */
    MetricsTable summary;
    bool grid, plot;         /* samples/final.png and plots/losses.png exist */
} ReportRun;

typedef struct Report {
    ReportRun *runs;         /* finished runs, by (sweep folder, record row, path) */
    int n_runs;
    ReportSweep *sweeps;
    int n_sweeps;
    char **unfinished;       /* "path: state, step N/M" */
    int n_unfinished;
} Report;

int report_collect(const char *const *roots, int n_roots, const char *out_dir, Report *r, Error *err);
void report_free(Report *r);
/* A run's value in a column of its summary.csv / of its sweep's record ("" when it has none). */
const char *report_summary_value(const ReportRun *run, const char *col);
const char *report_record_value(const Report *r, const ReportRun *run, const char *col);

/* A row: one run, or the runs of one sweep point that differ only in seed. */
typedef struct ReportRow {
    int *members;            /* indexes into Report.runs */
    int n_members;
    char **cells;            /* one per column, malloc'ed */
} ReportRow;

typedef struct ReportTable {
    const char *family;
    const char *cols[REPORT_MAX_COLS]; /* pointers into the runs' headers or static names */
    int n_cols;
    ReportRow *rows;
    int n_rows;
} ReportTable;

#define REPORT_FAMILIES 4 /* adversarial, diffusion, classifier, other */
extern const char *const report_families[REPORT_FAMILIES];

int report_tables(const Report *r, ReportTable *tables, Error *err);
void report_tables_free(ReportTable *tables);
/* A table row's cells as a writer formats them: each as `before`, the text through `put` (the
 * format's escaping), `after`. */
void report_put_cells(FILE *f, const char *const *cells, int n, const char *before, void (*put)(FILE *, const char *),
                      const char *after);

/* The writers; each writes out_dir/<file> atomically. */
int report_write_md(const Report *r, const ReportTable *tables, const char *out_dir, Error *err);
int report_write_csv(const Report *r, const char *out_dir, Error *err);
int report_write_html(const Report *r, const ReportTable *tables, const char *out_dir, Error *err);

#endif
