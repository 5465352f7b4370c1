/* A sweep as a Slurm array script, for sweeps that outgrow one machine: one array task per point
 * left to run, each running the command `runner sweep` would run for it (the same options for an
 * unfinished folder), in the folder the script was written from.  Finished points are left out,
 * so writing the script again after a partial run gives what remains. */
#include "runner/sweep/sweep.h"

#include "runner/io/atomic_file.h"
#include "runner/io/results.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 'text' for the shell: single quotes, each ' written as '\''. */
static void put_quoted(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *c = text; *c; c++)
        if (*c == '\'') fputs("'\\''", f);
        else fputc(*c, f);
    fputc('\'', f);
}

static int write_script(FILE *f, const Sweep *s, const SweepOptions *o, const PointPlan *plans, int n_tasks,
                        const char *runner, const char *cwd, int threads, Error *err)
{
    fprintf(f, "#!/bin/bash\n"
               "# Sweep %s (%s) as a Slurm array, written by runner %s: one task per point left to run,\n"
               "# each the `runner run` that `runner sweep` would start.  Submit: sbatch %s/sweep.slurm\n",
            s->name, s->path, RUNNER_VERSION, o->out);
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --array=0-%d\n#SBATCH --cpus-per-task=%d\n#SBATCH --output=%s/slurm-%%A_%%a.out\n",
            s->name, n_tasks - 1, threads, o->out);
    fputs("set -euo pipefail\ncd ", f);
    put_quoted(f, cwd);
    fprintf(f, "\nthreads=\"${SLURM_CPUS_PER_TASK:-%d}\"\ncase \"${SLURM_ARRAY_TASK_ID:-}\" in\n", threads);
    int task = 0;
    for (int i = 0; i < s->n_points; i++) {
        if (!plans[i].run) continue;
        char dir[PATH_MAX];
        if (sweep_point_dir(o, &s->points[i], dir, sizeof dir, err)) return -1;
        const char *argv[SWEEP_ARGV_MAX];
        sweep_point_argv(runner, &s->points[i], dir, &plans[i], NULL, argv);
        fprintf(f, "%d) exec", task++);
        for (int a = 0; argv[a]; a++) {
            fputc(' ', f);
            put_quoted(f, argv[a]);
        }
        fputs(" --threads \"$threads\" >", f);
        char log[PATH_MAX + 8];
        snprintf(log, sizeof log, "%s.log", dir);
        put_quoted(f, log);
        fputs(" 2>&1 ;;\n", f);
    }
    fputs("*) echo \"no point for array task '${SLURM_ARRAY_TASK_ID:-}' (sbatch this script)\" >&2; exit 2 ;;\nesac\n", f);
    return 0;
}

int sweep_write_slurm(const Sweep *s, const SweepOptions *o, char *path, size_t len, int *n_tasks, Error *err)
{
    char runner[PATH_MAX], cwd[PATH_MAX];
    if (sweep_runner_program(runner, sizeof runner, err)) return -1;
    if (!getcwd(cwd, sizeof cwd)) return err_set(err, "cannot read the current folder: %s", strerror(errno));
    PointPlan *plans = calloc((size_t)s->n_points, sizeof *plans);
    if (!plans) return err_set(err, "out of memory");
    int rc = sweep_plan(s, o, plans, n_tasks, err);
    if (rc == 0 && *n_tasks > 0) rc = sweep_make_folder(o->out, err);
    int w = snprintf(path, len, "%s/sweep.slurm", o->out);
    if (rc == 0 && (w < 0 || (size_t)w >= len)) rc = err_set(err, "'%s' is too long a path", o->out);
    AtomicFile af;
    if (rc == 0 && *n_tasks > 0 && (rc = atomic_open(&af, path, err)) == 0) {
        int threads = o->threads > 0 ? o->threads : sweep_threads_per_point(o->jobs);
        rc = write_script(af.f, s, o, plans, *n_tasks, runner, cwd, threads, err);
        if (rc == 0 && fchmod(fileno(af.f), 0755) != 0) rc = err_set(err, "cannot make %s executable", path);
        if (rc) atomic_abort(&af);
        else rc = atomic_commit(&af, err);
    }
    free(plans);
    return rc;
}
