/* The report's tables: per family, a row per run, or per sweep point over the seeds it ran with
 * (the same group in the sweep's record), numbers as "mean ± standard deviation" (n - 1).
 * Columns: sweep, point, name (the spec's), dataset, algorithm, the values the sweeps varied, seeds, epochs, steps,
 * the final metrics and distances every run of the family reported, wall time, steps per second. */
#include "runner/report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum ColKind { COL_SWEEP, COL_POINT, COL_SEEDS, COL_RECORD, COL_SUMMARY } ColKind;

/* summary.csv columns that are not results to compare (or have columns of their own). */
static const char *const not_metrics[] = {"name", "algorithm", "dataset", "epochs", "steps", "wall_time_s",
                                          "steps_per_s", "samples_per_s"};
/* Sweep record columns the table shows otherwise. */
static const char *const not_varied[] = {"point", "group", "seed"};

static bool listed(const char *col, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(col, list[i])) return true;
    return false;
}

typedef struct Columns {
    const char *names[REPORT_MAX_COLS];
    ColKind kinds[REPORT_MAX_COLS];
    int n;
} Columns;

static void add_col(Columns *c, const char *name, ColKind kind)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->names[i], name) && c->kinds[i] == kind) return;
    if (c->n < REPORT_MAX_COLS) c->names[c->n] = name, c->kinds[c->n++] = kind;
}

static void family_columns(const Report *r, const char *family, Columns *c)
{
    add_col(c, "sweep", COL_SWEEP);
    add_col(c, "point", COL_POINT);
    add_col(c, "name", COL_SUMMARY);
    add_col(c, "dataset", COL_SUMMARY);
    add_col(c, "algorithm", COL_SUMMARY);
    for (int i = 0; i < r->n_runs; i++) {
        const ReportRun *run = &r->runs[i];
        if (strcmp(run->family, family) != 0 || run->sweep < 0) continue;
        const MetricsTable *t = &r->sweeps[run->sweep].record;
        for (int k = 0; k < t->n_cols; k++)
            if (!listed(t->header[k], not_varied, sizeof not_varied / sizeof *not_varied)) add_col(c, t->header[k], COL_RECORD);
    }
    add_col(c, "seeds", COL_SEEDS);
    add_col(c, "epochs", COL_SUMMARY);
    add_col(c, "steps", COL_SUMMARY);
    for (int i = 0; i < r->n_runs; i++) {
        const MetricsTable *t = &r->runs[i].summary;
        if (strcmp(r->runs[i].family, family) != 0) continue;
        for (int k = 0; k < t->n_cols; k++) {
            const char *h = t->header[k];
            if (!listed(h, not_metrics, sizeof not_metrics / sizeof *not_metrics) && strncmp(h, "params_", 7) != 0)
                add_col(c, h, COL_SUMMARY);
        }
    }
    add_col(c, "wall_time_s", COL_SUMMARY);
    add_col(c, "steps_per_s", COL_SUMMARY);
}

/* ---- cells ---- */

static void format_number(char *buf, size_t len, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, len, "%.0f", v);
    else snprintf(buf, len, "%.4g", v);
}

static bool number(const char *s, double *v)
{
    char *end;
    if (!*s) return false;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

/* The members' values: one number, "mean ± std" over several, or their distinct texts. */
static char *aggregate(const char *const *values, int n, bool numeric)
{
    double sum = 0, v;
    int count = 0;
    for (int i = 0; i < n && numeric; i++) {
        if (!values[i][0]) continue;
        if (!number(values[i], &v)) numeric = false;
        sum += v, count++;
    }
    char buf[128] = "";
    if (numeric && count > 0) {
        double mean = sum / count, ss = 0;
        for (int i = 0; i < n; i++)
            if (values[i][0] && number(values[i], &v)) ss += (v - mean) * (v - mean);
        format_number(buf, sizeof buf, mean);
        double sd = count > 1 ? sqrt(ss / (count - 1)) : 0;
        if (sd > 0) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " ± %.2g", sd);
        return strdup(buf);
    }
    size_t cap = 1;
    for (int i = 0; i < n; i++) cap += strlen(values[i]) + 2;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        bool repeated = !values[i][0];
        for (int j = 0; j < i && !repeated; j++) repeated = !strcmp(values[i], values[j]);
        if (repeated) continue;
        if (out[0]) strcat(out, ", ");
        strcat(out, values[i]);
    }
    return out;
}

static char *cell(const Report *r, const ReportRow *row, const char *col, ColKind kind)
{
    const char *values[256];
    int n = row->n_members < 256 ? row->n_members : 256;
    for (int i = 0; i < n; i++) {
        const ReportRun *run = &r->runs[row->members[i]];
        switch (kind) {
        case COL_SWEEP: values[i] = run->sweep >= 0 ? r->sweeps[run->sweep].name : ""; break;
        case COL_POINT: values[i] = run->sweep >= 0 ? report_record_value(r, run, "group") : run->point; break;
        case COL_SEEDS: values[i] = run->seed; break;
        case COL_RECORD: values[i] = report_record_value(r, run, col); break;
        case COL_SUMMARY: values[i] = report_summary_value(run, col); break;
        }
    }
    return aggregate(values, n, kind == COL_SUMMARY);
}

/* ---- rows ---- */

/* Runs share a row when they are points of one sweep in one group (they differ in seed only). */
static bool same_group(const Report *r, const ReportRun *a, const ReportRun *b)
{
    return a->sweep >= 0 && a->sweep == b->sweep &&
           !strcmp(report_record_value(r, a, "group"), report_record_value(r, b, "group"));
}

static int family_rows(const Report *r, ReportTable *t, Error *err)
{
    for (int i = 0; i < r->n_runs; i++) {
        if (strcmp(r->runs[i].family, t->family) != 0) continue;
        ReportRow *row = NULL;
        for (int k = 0; k < t->n_rows && !row; k++)
            if (same_group(r, &r->runs[t->rows[k].members[0]], &r->runs[i])) row = &t->rows[k];
        if (!row) {
            ReportRow *grown = realloc(t->rows, (size_t)(t->n_rows + 1) * sizeof *grown);
            if (!grown) return err_set(err, "out of memory");
            t->rows = grown;
            row = &t->rows[t->n_rows++];
            memset(row, 0, sizeof *row);
        }
        int *m = realloc(row->members, (size_t)(row->n_members + 1) * sizeof *m);
        if (!m) return err_set(err, "out of memory");
        row->members = m;
        row->members[row->n_members++] = i;
    }
    return 0;
}

int report_tables(const Report *r, ReportTable *tables, Error *err)
{
    memset(tables, 0, REPORT_FAMILIES * sizeof *tables);
    for (int f = 0; f < REPORT_FAMILIES; f++) {
        ReportTable *t = &tables[f];
        t->family = report_families[f];
        Columns c = {0};
        family_columns(r, t->family, &c);
        memcpy(t->cols, c.names, sizeof c.names);
        t->n_cols = c.n;
        if (family_rows(r, t, err)) goto fail;
        for (int k = 0; k < t->n_rows; k++) {
            ReportRow *row = &t->rows[k];
            if (!(row->cells = calloc((size_t)t->n_cols, sizeof *row->cells))) goto oom;
            for (int j = 0; j < t->n_cols; j++)
                if (!(row->cells[j] = cell(r, row, c.names[j], c.kinds[j]))) goto oom;
        }
    }
    return 0;
oom:
    err_set(err, "out of memory");
fail:
    report_tables_free(tables);
    return -1;
}

void report_tables_free(ReportTable *tables)
{
    for (int f = 0; f < REPORT_FAMILIES; f++) {
        ReportTable *t = &tables[f];
        for (int k = 0; k < t->n_rows; k++) {
            for (int j = 0; t->rows[k].cells && j < t->n_cols; j++) free(t->rows[k].cells[j]);
            free(t->rows[k].cells);
            free(t->rows[k].members);
        }
        free(t->rows);
        memset(t, 0, sizeof *t);
    }
}

void report_put_cells(FILE *f, const char *const *cells, int n, const char *before, void (*put)(FILE *, const char *),
                      const char *after)
{
    for (int j = 0; j < n; j++) {
        fputs(before, f);
        put(f, cells[j]);
        fputs(after, f);
    }
}
