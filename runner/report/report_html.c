/* index.html: the report's tables as one static page with no outside assets: each run's final
 * grid and loss plot inline (base64 data: URLs), and a few lines of script that sort a table by
 * the column whose header is clicked (numbers as numbers, again to reverse). */
#include "runner/report/report.h"

#include "runner/io/atomic_file.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}"
    "th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#eee;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}td img{max-width:220px;display:block;margin-bottom:4px}";

/* Sorts a table's body rows by the clicked column; cells that read as numbers compare as numbers
 * and come before text. */
static const char script[] =
    "document.querySelectorAll('table.sortable th').forEach(function (th) {\n"
    "  th.addEventListener('click', function () {\n"
    "    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;\n"
    "    var up = th.getAttribute('aria-sort') !== 'ascending';\n"
    "    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });\n"
    "    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');\n"
    "    function key(row) {\n"
    "      var text = row.cells[col].textContent.trim(), n = parseFloat(text);\n"
    "      return isNaN(n) ? text : n;\n"
    "    }\n"
    "    var rows = Array.prototype.slice.call(body.rows);\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = key(a), y = key(b), c;\n"
    "      if (typeof x === 'number' && typeof y === 'number') c = x - y;\n"
    "      else if (typeof x === 'number') c = -1;\n"
    "      else if (typeof y === 'number') c = 1;\n"
    "      else c = x < y ? -1 : x > y ? 1 : 0;\n"
    "      return up ? c : -c;\n"
    "    });\n"
    "    rows.forEach(function (row) { body.appendChild(row); });\n"
    "  });\n"
    "});\n";

static void put_text(FILE *f, const char *text)
{
    for (const char *c = text; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*c, f);
        }
    }
}

/* The file at path as a data: URL; false when it cannot be read. */
static bool put_png_data(FILE *f, const char *path)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(path, "rb");
    if (!in) return false;
    fputs("data:image/png;base64,", f);
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        char out[4] = {digits[v >> 18 & 63], digits[v >> 12 & 63], n > 1 ? digits[v >> 6 & 63] : '=',
                       n > 2 ? digits[v & 63] : '='};
        fwrite(out, 1, 4, f);
    }
    bool ok = !ferror(in);
    fclose(in);
    return ok;
}

static int put_images(FILE *f, const Report *r, const ReportRow *row, const char *rel, bool plot, Error *err)
{
    fputs("<td>", f);
    bool any = false;
    for (int i = 0; i < row->n_members; i++) {
        const ReportRun *run = &r->runs[row->members[i]];
        if (!(plot ? run->plot : run->grid)) continue;
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", run->path, rel);
        fputs("<img alt=\"", f);
        put_text(f, run->point);
        fputs("\" title=\"seed ", f);
        put_text(f, run->seed);
        fputs("\" src=\"", f);
        if (!put_png_data(f, path)) return err_set(err, "cannot read %s", path);
        fputs("\">", f);
        any = true;
    }
    fputs(any ? "</td>" : "-</td>", f);
    return 0;
}

static int put_table(FILE *f, const Report *r, const ReportTable *t, Error *err)
{
    fprintf(f, "<h2>%c%s</h2>\n<table class=\"sortable\" id=\"%s\">\n<thead><tr>",
            toupper((unsigned char)t->family[0]), t->family + 1, t->family);
    report_put_cells(f, t->cols, t->n_cols, "<th>", put_text, "</th>");
    fputs("<th>grid</th><th>losses</th></tr></thead>\n<tbody>\n", f);
    for (int k = 0; k < t->n_rows; k++) {
        fputs("<tr>", f);
        report_put_cells(f, (const char *const *)t->rows[k].cells, t->n_cols, "<td>", put_text, "</td>");
        if (put_images(f, r, &t->rows[k], "samples/final.png", false, err) ||
            put_images(f, r, &t->rows[k], "plots/losses.png", true, err))
            return -1;
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    return 0;
}

int report_write_html(const Report *r, const ReportTable *tables, const char *out_dir, Error *err)
{
    char path[PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/index.html", out_dir) >= (int)sizeof path)
        return err_set(err, "'%s' is too long a path", out_dir);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    FILE *f = af.f;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Results</title>\n"
               "<style>%s</style>\n</head>\n<body>\n<h1>Results</h1>\n<p>%d finished run%s.  A row is one run, or "
               "the runs of a sweep's point that differ only in their seed: their mean &plusmn; standard deviation "
               "(n - 1).  Click a column's header to sort by it.</p>\n",
            style, r->n_runs, r->n_runs == 1 ? "" : "s");
    int rc = 0;
    for (int t = 0; t < REPORT_FAMILIES && rc == 0; t++)
        if (tables[t].n_rows > 0) rc = put_table(f, r, &tables[t], err);
    if (rc == 0 && r->n_unfinished > 0) {
        fputs("<h2>Not finished</h2>\n<ul>\n", f);
        for (int i = 0; i < r->n_unfinished; i++) {
            fputs("<li>", f);
            put_text(f, r->unfinished[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    if (rc == 0) fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", script);
    if (rc == 0 && ferror(f)) rc = err_set(err, "cannot write %s", path);
    if (rc) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af, err);
}
