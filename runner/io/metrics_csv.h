/* CSV files of results through libcsv: a log that gains one flushed row per call (metrics.csv),
 * whole tables written atomically (summary.csv, a sweep's record, a report), and a reader into
 * header + rows of strings. */
#ifndef RUNNER_METRICS_CSV_H
#define RUNNER_METRICS_CSV_H

#include "graph/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One value of a row.  Floats print with %.9g and doubles with %.17g, so each reads back bit for bit;
 * text is quoted (by libcsv) only when it holds a comma, quote, line break or edge space. */
typedef enum { CELL_EMPTY, CELL_INT, CELL_FLOAT, CELL_DOUBLE, CELL_TEXT } CellKind;

typedef struct Cell {
    CellKind kind;
    int64_t i;
    double d;
    const char *s;
} Cell;

static inline Cell cell_int(int64_t v) { return (Cell){.kind = CELL_INT, .i = v}; }
static inline Cell cell_float(float v) { return (Cell){.kind = CELL_FLOAT, .d = v}; }
static inline Cell cell_double(double v) { return (Cell){.kind = CELL_DOUBLE, .d = v}; }
static inline Cell cell_text(const char *v) { return (Cell){.kind = CELL_TEXT, .s = v}; }
static inline Cell cell_empty(void) { return (Cell){.kind = CELL_EMPTY}; }

typedef struct MetricsLog {
    FILE *f;
    int n_cols;
    int64_t rows;       /* data rows written (or found, when appending) */
    char path[4096];
} MetricsLog;

/* Creates `path` with the header row.  With `append` and an existing file whose header is exactly
 * these columns (a resumed run), keeps its rows and adds after them; a different header is an error. */
int metrics_log_open(MetricsLog *log, const char *path, const char *const *columns, int n_cols, bool append,
                     Error *err);
/* Writes one row of n_cols cells and flushes it, so a crash loses nothing already logged. */
int metrics_log_row(MetricsLog *log, const Cell *cells, int n_cells, Error *err);
int metrics_log_close(MetricsLog *log, Error *err);
/* A resumed run's log: keeps the header and the rows up to the first whose step (column step_col,
 * an integer; the columns before it hold no quoted text) is above `step`, and drops a last row
 * cut short (a write stopped by a kill).  Rewritten atomically when anything goes; a missing
 * file is fine (nothing was logged). */
int metrics_log_keep_through(const char *path, int step_col, int64_t step, Error *err);

/* Writes a header row and one data row to `path` atomically (temporary file, then rename). */
int metrics_write_single(const char *path, const char *const *columns, const Cell *cells, int n, Error *err);
/* The same with n_rows rows of n_cols cells (row-major). */
int metrics_write_table(const char *path, const char *const *columns, int n_cols, const Cell *cells, int n_rows,
                        Error *err);

/* A whole CSV file: header and rows of strings, every row as wide as the header. */
typedef struct MetricsTable {
    int n_cols;
    int n_rows;
    char **header;      /* n_cols names */
    char **cells;       /* n_rows * n_cols values, row-major */
} MetricsTable;

int metrics_table_read(const char *path, MetricsTable *t, Error *err);
void metrics_table_free(MetricsTable *t);
/* The index of a column by name, -1 if absent. */
int metrics_table_col(const MetricsTable *t, const char *name);
static inline const char *metrics_table_get(const MetricsTable *t, int row, int col)
{
    return t->cells[(size_t)row * (size_t)t->n_cols + (size_t)col];
}
/* A cell as a number; an empty or non-numeric cell is an error naming row and column. */
int metrics_table_num(const MetricsTable *t, int row, int col, double *out, Error *err);

#endif
