/* `runner report [RESULTS ...] [--out DIR]`: the finished runs under the RESULTS folders (default
 * results/) as tables per family, written to DIR (default: the first RESULTS folder) as
 * REPORT.md, report.csv and index.html (runner/report/report.h).  The same results give the
 * same bytes. */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/report/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define USAGE command_usage("report")
#define MAX_ROOTS 64

int cmd_report(int argc, char **argv, Error *err)
{
    const char *roots[MAX_ROOTS], *out = NULL;
    const ArgOption options[] = {OPTION_TEXT("--out", &out)};
    ArgPositionals pos = {.items = roots, .min = 0, .max = MAX_ROOTS, .what = "results folder"};
    if (cmd_parse(argc, argv, options, 1, &pos, USAGE, err)) return -1;
    int n_roots = pos.n;
    if (n_roots == 0) roots[n_roots++] = "results";
    if (!out) out = roots[0];

    for (int i = 0; i < n_roots; i++) {
        struct stat st;
        if (stat(roots[i], &st) != 0 || !S_ISDIR(st.st_mode))
            return err_set(err, "no results folder '%s' (%s)", roots[i],
                           errno == ENOENT ? "nothing has been run yet" : "not a folder");
    }
    /* Only an --out of its own can be missing. */
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        return err_set(err, "cannot create the report's folder '%s': %s", out, strerror(errno));
    Report r;
    ReportTable tables[REPORT_FAMILIES];
    if (report_collect(roots, n_roots, out, &r, err)) return -1;
    int rc = report_tables(&r, tables, err);
    if (rc == 0) {
        rc = report_write_md(&r, tables, out, err) || report_write_csv(&r, out, err) ||
                     report_write_html(&r, tables, out, err)
                 ? -1
                 : 0;
        report_tables_free(tables);
    }
    if (rc == 0)
        printf("%s/REPORT.md, %s/report.csv, %s/index.html: %d finished run%s, %d not finished\n", out, out, out,
               r.n_runs, r.n_runs == 1 ? "" : "s", r.n_unfinished);
    report_free(&r);
    return rc;
}
