/* `runner sweep FILE [-j N] [--threads N] [--out DIR] [--emit slurm]`: runs every point of a
 * sweep file (runner/sweep/sweep.h, docs/SWEEPS.md) as its own `runner run` into
 * <out>/<point>/, after checking every point's spec; or, with --emit slurm, writes the same
 * commands as a Slurm array script. */
#include "runner/cli/cmd_args.h"
#include "runner/cli/commands.h"
#include "runner/sweep/sweep.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define USAGE command_usage("sweep")

int cmd_sweep(int argc, char **argv, Error *err)
{
    const char *file = NULL, *emit = NULL, *out = NULL;
    SweepOptions o = {.jobs = 1};
    const ArgOption options[] = {
        OPTION_INT("-j", &o.jobs, 1, 256),
        OPTION_INT("--jobs", &o.jobs, 1, 256),
        OPTION_INT("--threads", &o.threads, 1, 1024),
        OPTION_TEXT("--out", &out),
        OPTION_TEXT("--emit", &emit),
    };
    ArgPositionals pos = {.items = &file, .min = 1, .max = 1, .what = "sweep file"};
    if (cmd_parse(argc, argv, options, sizeof options / sizeof options[0], &pos, USAGE, err)) return -1;
    if (emit && strcmp(emit, "slurm") != 0)
        return err_set(err, "--emit expects 'slurm' (a Slurm array script), got '%s'\n%s", emit, USAGE);

    Sweep s;
    if (sweep_load(file, &s, err)) return -1;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, out ? "%s" : "results/%s", out ? out : s.name) >= (int)sizeof dir) {
        sweep_free(&s);
        return err_set(err, "the sweep's folder name is too long");
    }
    o.out = dir;
    int rc = sweep_check(&s, err);
    if (rc == 0 && emit) {
        char path[PATH_MAX + 16];
        int n_tasks;
        rc = sweep_write_slurm(&s, &o, path, sizeof path, &n_tasks, err);
        if (rc == 0 && n_tasks == 0) printf("sweep %s: every point has finished; no script written\n", s.name);
        else if (rc == 0) printf("%s: %d array task%s; submit with: sbatch %s\n", path, n_tasks, n_tasks == 1 ? "" : "s", path);
    } else if (rc == 0) {
        rc = sweep_run(&s, &o, stdout, err);
    }
    sweep_free(&s);
    return rc;
}
