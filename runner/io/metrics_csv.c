#include "runner/io/metrics_csv.h"
#include "runner/io/atomic_file.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Plain text is written as is; libcsv quotes the rest (it would trim edge spaces when reading). */
static int write_text(FILE *f, const char *s)
{
    size_t n = strlen(s);
    bool quote = n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    quote |= strpbrk(s, ",\"\r\n") != NULL;
    if (quote) return csv_fwrite(f, s, n) == 0 ? 0 : -1;
    return fwrite(s, 1, n, f) == n ? 0 : -1;
}

static int write_number(FILE *f, double v, int digits)
{
    if (isnan(v)) return fputs("nan", f) < 0 ? -1 : 0; /* glibc would print a signed "-nan" */
    return fprintf(f, "%.*g", digits, v) < 0 ? -1 : 0;
}

static int write_cell(FILE *f, const Cell *c)
{
    switch (c->kind) {
    case CELL_INT: return fprintf(f, "%lld", (long long)c->i) < 0 ? -1 : 0;
    case CELL_FLOAT: return write_number(f, c->d, 9);
    case CELL_DOUBLE: return write_number(f, c->d, 17);
    case CELL_TEXT: return write_text(f, c->s ? c->s : "");
    case CELL_EMPTY: return 0;
    }
    return -1;
}

static int write_header(FILE *f, const char *const *columns, int n)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = (i && fputc(',', f) == EOF) || write_text(f, columns[i]);
    return rc || fputc('\n', f) == EOF ? -1 : 0;
}

static int write_row(FILE *f, const Cell *cells, int n)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) rc = (i && fputc(',', f) == EOF) || write_cell(f, &cells[i]);
    return rc || fputc('\n', f) == EOF ? -1 : 0;
}

/* Resuming: the existing header must be exactly `columns`; returns its data row count or -1. */
static int64_t existing_rows(const char *path, const char *const *columns, int n_cols, Error *err)
{
    MetricsTable t;
    if (metrics_table_read(path, &t, err)) return -1;
    bool same = t.n_cols == n_cols;
    for (int i = 0; same && i < n_cols; i++) same = !strcmp(t.header[i], columns[i]);
    int64_t rows = t.n_rows;
    metrics_table_free(&t);
    if (!same) return err_set(err, "%s: cannot append: its header differs from this run's columns", path);
    return rows;
}

int metrics_log_open(MetricsLog *log, const char *path, const char *const *columns, int n_cols, bool append,
                     Error *err)
{
    memset(log, 0, sizeof *log);
    if (n_cols < 1) return err_set(err, "%s: a CSV file needs at least one column", path);
    if (strlen(path) >= sizeof log->path) return err_set(err, "%s: path too long", path);
    snprintf(log->path, sizeof log->path, "%s", path);
    log->n_cols = n_cols;
    struct stat st;
    if (append && stat(path, &st) == 0 && st.st_size > 0) { /* an empty file (a run stopped at once) starts over */
        if ((log->rows = existing_rows(path, columns, n_cols, err)) < 0) return -1;
        log->f = fopen(path, "ab");
        if (!log->f) return err_set(err, "%s: cannot append: %s", path, strerror(errno));
        return 0;
    }
    log->f = fopen(path, "wb");
    if (!log->f) return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    if (write_header(log->f, columns, n_cols) || fflush(log->f)) {
        int e = errno;
        fclose(log->f);
        log->f = NULL;
        return err_set(err, "%s: cannot write: %s", path, strerror(e ? e : EIO));
    }
    return 0;
}

int metrics_log_row(MetricsLog *log, const Cell *cells, int n_cells, Error *err)
{
    if (!log->f) return err_set(err, "%s: the log is not open", log->path);
    if (n_cells != log->n_cols)
        return err_set(err, "%s: a row of %d values for %d columns", log->path, n_cells, log->n_cols);
    if (write_row(log->f, cells, n_cells) || fflush(log->f))
        return err_set(err, "%s: cannot write: %s", log->path, strerror(errno ? errno : EIO));
    log->rows++;
    return 0;
}

int metrics_log_close(MetricsLog *log, Error *err)
{
    if (!log->f) return 0;
    int failed = ferror(log->f) != 0;
    failed |= fclose(log->f) != 0;
    log->f = NULL;
    if (failed) return err_set(err, "%s: write failed: %s", log->path, strerror(errno ? errno : EIO));
    return 0;
}

/* The step of one complete row (line..nl): the integer in field step_col; -1 when it has none. */
static int64_t row_step(const char *line, const char *nl, int step_col)
{
    const char *c = line;
    for (int k = 0; k < step_col && c; k++) c = (c = memchr(c, ',', (size_t)(nl - c))) ? c + 1 : NULL;
    if (!c || c == nl || *c < '0' || *c > '9') return -1;
    int64_t v = 0;
    for (; c < nl && *c >= '0' && *c <= '9'; c++) v = v * 10 + (*c - '0');
    return c == nl || *c == ',' || *c == '\r' ? v : -1;
}

/* How many leading bytes of text (n) metrics_log_keep_through keeps; -1 with err for a bad row. */
static long kept_bytes(const char *path, const char *text, size_t n, int step_col, int64_t step, Error *err)
{
    const char *nl = memchr(text, '\n', n);
    if (!nl) return 0; /* not even a whole header: the log starts over */
    size_t keep = (size_t)(nl + 1 - text);
    for (int row = 1; (nl = memchr(text + keep, '\n', n - keep)); row++) {
        int64_t s = row_step(text + keep, nl, step_col);
        if (s < 0) return err_set(err, "%s: data row %d has no step in column %d", path, row, step_col + 1);
        if (s > step) break;
        keep = (size_t)(nl + 1 - text);
    }
    return (long)keep;
}

int metrics_log_keep_through(const char *path, int step_col, int64_t step, Error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : err_set(err, "%s: cannot read: %s", path, strerror(errno));
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *text = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    bool read = text && fread(text, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!read) {
        free(text);
        return err_set(err, "%s: cannot read it whole", path);
    }
    long keep = kept_bytes(path, text, (size_t)n, step_col, step, err);
    int rc = keep < 0 ? -1 : 0;
    if (keep >= 0 && keep < n) {
        AtomicFile af;
        rc = atomic_open(&af, path, err);
        if (rc == 0 && fwrite(text, 1, (size_t)keep, af.f) != (size_t)keep) {
            atomic_abort(&af);
            rc = err_set(err, "%s: cannot write: %s", path, strerror(errno ? errno : EIO));
        } else if (rc == 0) {
            rc = atomic_commit(&af, err);
        }
    }
    free(text);
    return rc;
}

int metrics_write_table(const char *path, const char *const *columns, int n_cols, const Cell *cells, int n_rows,
                        Error *err)
{
    if (n_cols < 1) return err_set(err, "%s: a CSV file needs at least one column", path);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    int rc = write_header(af.f, columns, n_cols);
    for (int r = 0; r < n_rows && !rc; r++) rc = write_row(af.f, cells + (size_t)r * (size_t)n_cols, n_cols);
    if (rc) {
        int e = errno;
        atomic_abort(&af);
        return err_set(err, "%s: cannot write: %s", path, strerror(e ? e : EIO));
    }
    return atomic_commit(&af, err);
}

int metrics_write_single(const char *path, const char *const *columns, const Cell *cells, int n, Error *err)
{
    return metrics_write_table(path, columns, n, cells, 1, err);
}

/* ---- reading ---- */

typedef struct Reader {
    char **fields;      /* the current row */
    int n_fields, cap_fields;
    char **all;         /* every row's fields, row after row */
    size_t n_all, cap_all;
    int n_cols;         /* width of the header (-1 before it) */
    int row;            /* rows seen, header included */
    int bad_row, bad_width; /* first row whose width differs from the header's */
    int oom;
} Reader;

static bool grow(void *pptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *p = realloc(*(void **)pptr, nc * elem);
    if (!p) return false;
    *(void **)pptr = p;
    *cap = nc;
    return true;
}

static void on_field(void *s, size_t len, void *data)
{
    Reader *r = data;
    size_t cap = (size_t)r->cap_fields;
    char *copy = malloc(len + 1);
    if (!copy || !grow(&r->fields, &cap, (size_t)r->n_fields + 1, sizeof *r->fields)) {
        free(copy);
        r->oom = 1;
        return;
    }
    r->cap_fields = (int)cap;
    if (len) memcpy(copy, s, len);
    copy[len] = 0;
    r->fields[r->n_fields++] = copy;
}

static void on_row(int term, void *data)
{
    (void)term;
    Reader *r = data;
    if (r->n_cols < 0) r->n_cols = r->n_fields;
    if (r->n_fields != r->n_cols && !r->bad_row) {
        r->bad_row = r->row + 1;
        r->bad_width = r->n_fields;
    }
    if (grow(&r->all, &r->cap_all, r->n_all + (size_t)r->n_fields, sizeof *r->all)) {
        memcpy(r->all + r->n_all, r->fields, (size_t)r->n_fields * sizeof *r->fields);
        r->n_all += (size_t)r->n_fields;
    } else {
        for (int i = 0; i < r->n_fields; i++) free(r->fields[i]);
        r->oom = 1;
    }
    r->n_fields = 0;
    r->row++;
}

static void reader_free(Reader *r)
{
    for (int i = 0; i < r->n_fields; i++) free(r->fields[i]);
    for (size_t i = 0; i < r->n_all; i++) free(r->all[i]);
    free(r->fields);
    free(r->all);
}

int metrics_table_read(const char *path, MetricsTable *t, Error *err)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)) {
        fclose(f);
        return err_set(err, "%s: out of memory", path);
    }
    Reader r = {.n_cols = -1};
    char buf[65536];
    size_t got;
    int rc = 0;
    while (!rc && (got = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, got, on_field, on_row, &r) != got)
            rc = err_set(err, "%s: malformed CSV near row %d: %s", path, r.row + 1, csv_strerror(csv_error(&p)));
    if (!rc && ferror(f)) rc = err_set(err, "%s: read failed", path);
    if (!rc && csv_fini(&p, on_field, on_row, &r))
        rc = err_set(err, "%s: malformed CSV at the end: %s", path, csv_strerror(csv_error(&p)));
    csv_free(&p);
    fclose(f);
    if (!rc && r.oom) rc = err_set(err, "%s: out of memory", path);
    if (!rc && r.row == 0) rc = err_set(err, "%s: empty file (expected a header row)", path);
    if (!rc && r.bad_row)
        rc = err_set(err, "%s: row %d has %d fields but the header has %d", path, r.bad_row, r.bad_width, r.n_cols);
    if (rc) {
        reader_free(&r);
        return -1;
    }
    for (int i = 0; i < r.n_fields; i++) free(r.fields[i]);
    free(r.fields);
    t->n_cols = r.n_cols;
    t->n_rows = r.row - 1;
    t->header = r.all;
    t->cells = r.all + r.n_cols;
    return 0;
}

void metrics_table_free(MetricsTable *t)
{
    size_t total = (size_t)t->n_cols * ((size_t)t->n_rows + 1);
    for (size_t i = 0; t->header && i < total; i++) free(t->header[i]);
    free(t->header);
    memset(t, 0, sizeof *t);
}

int metrics_table_col(const MetricsTable *t, const char *name)
{
    for (int i = 0; i < t->n_cols; i++)
        if (!strcmp(t->header[i], name)) return i;
    return -1;
}

int metrics_table_num(const MetricsTable *t, int row, int col, double *out, Error *err)
{
    if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols)
        return err_set(err, "no cell at row %d, column %d (the table has %d rows of %d columns)", row, col,
                       t->n_rows, t->n_cols);
    const char *s = metrics_table_get(t, row, col);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end) return err_set(err, "data row %d, column %s: '%s' is not a number", row + 1, t->header[col], s);
    *out = v;
    return 0;
}
