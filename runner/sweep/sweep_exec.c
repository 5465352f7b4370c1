/* Running a sweep's points: each one `runner run` process of its own (its output in
 * <sweep folder>/<point>.log), `jobs` at a time with the machine's cores divided between them, a
 * line of the table as each finishes.  What a point's folder already holds decides what happens
 * to it: finished points are skipped, unfinished ones continue as continue_unfinished says. */
#include "runner/sweep/sweep.h"

#include "runner/io/metrics_csv.h"
#include "runner/io/results_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int sweep_threads_per_point(int jobs)
{
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cores <= 0) cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    int t = (cores > 0 ? cores : 1) / (jobs > 0 ? jobs : 1);
    return t > 0 ? t : 1;
}

/* ---- How an unfinished point continues: the one place that decides it ----
 * An interrupted point resumes from its checkpoint (`runner run SPEC --resume`), so the work
 * before the interruption is kept; one stopped before its first checkpoint, or a failed one,
 * starts from the beginning and its run replaces the folder (--force). */
static void continue_unfinished(const RunStatus *st, PointPlan *plan)
{
    plan->run = true;
    if (st->state == RUN_INTERRUPTED && st->checkpoint) {
        plan->flag = "--resume";
        plan->note = "was interrupted: resumed from its checkpoint";
        return;
    }
    plan->flag = "--force";
    plan->note = st->state == RUN_FAILED ? "had failed: ran again from the start"
                                         : "was interrupted before its first checkpoint: ran again from the start";
}

static int point_plan(const char *dir, PointPlan *plan, Error *err)
{
    *plan = (PointPlan){.run = true, .note = ""};
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) return 0;
        return err_set(err, "cannot read '%s': %s", dir, strerror(errno));
    }
    if (results_check_replaceable(dir, err)) return -1;
    RunStatus rs;
    if (results_status(dir, &rs, err)) return -1;
    if (rs.state == RUN_RUNNING)
        return err_set(err, "'%s' is in use by a run (process %ld); wait for it to finish, or stop it", dir,
                       rs.pid);
    if (rs.state == RUN_FINISHED) {
        *plan = (PointPlan){.run = false, .note = "finished before"};
        return 0;
    }
    continue_unfinished(&rs, plan);
    return 0;
}

int sweep_point_dir(const SweepOptions *o, const SweepPoint *p, char *buf, size_t len, Error *err)
{
    int n = snprintf(buf, len, "%s/%s", o->out, p->name);
    if (n < 0 || (size_t)n >= len) return err_set(err, "the folder of point '%s' is too long a path", p->name);
    return 0;
}

void sweep_point_argv(const char *runner, const SweepPoint *p, const char *dir, const PointPlan *plan,
                      const char *threads, const char **argv)
{
    int n = 0;
    argv[n++] = runner, argv[n++] = "run", argv[n++] = p->spec;
    for (int k = 0; k < p->n_sets; k++) argv[n++] = "--set", argv[n++] = p->args[k];
    argv[n++] = "--out", argv[n++] = dir;
    if (threads) argv[n++] = "--threads", argv[n++] = threads;
    if (plan->flag) argv[n++] = plan->flag;
    argv[n] = NULL;
}

int sweep_plan(const Sweep *s, const SweepOptions *o, PointPlan *plans, int *to_run, Error *err)
{
    *to_run = 0;
    for (int i = 0; i < s->n_points; i++) {
        char dir[PATH_MAX];
        if (sweep_point_dir(o, &s->points[i], dir, sizeof dir, err) || point_plan(dir, &plans[i], err))
            return err_prefix(err, "point '%s': ", s->points[i].name);
        *to_run += plans[i].run;
    }
    return 0;
}

int sweep_runner_program(char *buf, size_t len, Error *err)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return err_set(err, "cannot find the runner's own program (/proc/self/exe): %s", strerror(errno));
    buf[n] = '\0';
    return 0;
}

int sweep_make_folder(const char *dir, Error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return err_set(err, "'%s' is too long", dir);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0 && (errno != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)))
            return err_set(err, "cannot create the sweep's folder '%s': %s", buf,
                           errno == EEXIST ? "a file is in the way" : strerror(errno));
        if (!(*p = c)) return 0;
    }
}

/* <out>/sweep.csv: every point with its group and the values of the keys the sweep varies. */
static int write_record(const Sweep *s, const SweepOptions *o, Error *err)
{
    int n_cols = 2 + s->n_keys, rc = 0;
    const char *cols[2 + SWEEP_MAX_KEYS] = {"point", "group"};
    for (int k = 0; k < s->n_keys; k++) cols[2 + k] = s->keys[k];
    Cell *cells = calloc((size_t)s->n_points * (size_t)n_cols, sizeof *cells);
    char **texts = calloc((size_t)s->n_points * (size_t)s->n_keys + 1, sizeof *texts);
    if (!cells || !texts) rc = err_set(err, "out of memory");
    for (int i = 0; rc == 0 && i < s->n_points; i++) {
        Cell *row = cells + (size_t)i * (size_t)n_cols;
        row[0] = cell_text(s->points[i].name), row[1] = cell_text(s->points[i].group);
        for (int k = 0; rc == 0 && k < s->n_keys; k++) {
            char **t = &texts[(size_t)i * (size_t)s->n_keys + (size_t)k];
            if (!(*t = sweep_point_value(s, &s->points[i], s->keys[k], err))) rc = -1;
            row[2 + k] = cell_text(*t);
        }
    }
    char path[PATH_MAX];
    if (rc == 0 && snprintf(path, sizeof path, "%s/%s", o->out, SWEEP_RECORD) >= (int)sizeof path)
        rc = err_set(err, "'%s' is too long a path", o->out);
    if (rc == 0) rc = metrics_write_table(path, cols, n_cols, cells, s->n_points, err);
    for (size_t i = 0; texts && i < (size_t)s->n_points * (size_t)s->n_keys; i++) free(texts[i]);
    free(texts);
    free(cells);
    return rc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the table ---- */

typedef struct Table {
    FILE *out;
    int width; /* of the point column */
} Table;

static void table_row(const Table *t, const char *point, const char *result, const char *steps, const char *metric,
                      const char *time, const char *note)
{
    fprintf(t->out, "%-*s  %-8s  %11s  %-24s  %7s%s%s\n", t->width, point, result, steps, metric, time,
            note[0] ? "  " : "", note);
    fflush(t->out);
}

static void table_run(const Table *t, const char *point, const char *dir, const char *result, double seconds,
                      const char *note)
{
    RunStatus st;
    Error ignored = {0};
    char steps[48] = "-", metric[96] = "-", time[32] = "-";
    if (results_status(dir, &st, &ignored) == 0) {
        if (st.step >= 0 && st.total >= 0) snprintf(steps, sizeof steps, "%lld/%lld", (long long)st.step, (long long)st.total);
        else if (st.step >= 0) snprintf(steps, sizeof steps, "%lld", (long long)st.step);
        if (st.metric[0]) snprintf(metric, sizeof metric, "%s %.4g", st.metric, st.value);
    }
    if (seconds >= 0) snprintf(time, sizeof time, "%.1f s", seconds);
    table_row(t, point, result, steps, metric, time, note);
}

/* The last line of a failed point's log: the error `runner run` printed. */
static void print_last_line(FILE *out, const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[1024], last[1024] = "";
    while (fgets(line, sizeof line, f))
        if (line[strspn(line, " \t\r\n")]) snprintf(last, sizeof last, "%s", line);
    fclose(f);
    last[strcspn(last, "\r\n")] = '\0';
    if (last[0]) fprintf(out, "    %s\n", last);
}

/* ---- processes ---- */

typedef struct Job {
    pid_t pid;
    int point;
    double t0;
} Job;

static int spawn(const char *runner, const SweepPoint *p, const char *dir, const PointPlan *plan,
                 const char *threads, const char *log, pid_t *pid, Error *err)
{
    const char *argv[SWEEP_ARGV_MAX];
    sweep_point_argv(runner, p, dir, plan, threads, argv);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa)) return err_set(err, "out of memory");
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) ||
             posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0666) ||
             posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (rc == 0) rc = posix_spawn(pid, runner, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) return err_set(err, "cannot start the run of point '%s': %s", p->name, strerror(rc));
    return 0;
}

typedef struct Progress {
    int done, failed;
    char failed_names[512];
} Progress;

static void finished(const Sweep *s, const SweepOptions *o, const Table *t, const PointPlan *plans, const Job *job,
                     int status, Progress *pr)
{
    const SweepPoint *p = &s->points[job->point];
    char dir[PATH_MAX], log[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/%s", o->out, p->name);
    snprintf(log, sizeof log, "%s.log", dir);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char note[PATH_MAX + 64];
    if (ok)
        snprintf(note, sizeof note, "%s", plans[job->point].note);
    else if (WIFEXITED(status))
        snprintf(note, sizeof note, "exit status %d; output in %s", WEXITSTATUS(status), log);
    else
        snprintf(note, sizeof note, "killed by signal %d; output in %s", WIFSIGNALED(status) ? WTERMSIG(status) : 0, log);
    table_run(t, p->name, dir, ok ? "finished" : "failed", now_s() - job->t0, note);
    pr->done++;
    if (ok) return;
    print_last_line(t->out, log);
    size_t at = strlen(pr->failed_names);
    snprintf(pr->failed_names + at, sizeof pr->failed_names - at, "%s'%s'", pr->failed ? ", " : "", p->name);
    pr->failed++;
}

static int run_points(const Sweep *s, const SweepOptions *o, const PointPlan *plans, const char *runner,
                      const char *threads, const Table *t, Progress *pr, Error *err)
{
    Job *jobs = calloc((size_t)o->jobs, sizeof *jobs);
    if (!jobs) return err_set(err, "out of memory");
    int next = 0, active = 0, rc = 0;
    for (;;) {
        while (rc == 0 && active < o->jobs && next < s->n_points) {
            int i = next++;
            if (!plans[i].run) continue;
            char dir[PATH_MAX], log[PATH_MAX + 8];
            snprintf(dir, sizeof dir, "%s/%s", o->out, s->points[i].name);
            snprintf(log, sizeof log, "%s.log", dir);
            Job *j = NULL;
            for (int k = 0; k < o->jobs && !j; k++) j = jobs[k].pid ? NULL : &jobs[k];
            j->point = i, j->t0 = now_s();
            if ((rc = spawn(runner, &s->points[i], dir, &plans[i], threads, log, &j->pid, err)) == 0) active++;
        }
        if (active == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = err_set(err, "waiting for the sweep's runs: %s", strerror(errno));
            break;
        }
        for (int k = 0; k < o->jobs; k++) {
            if (jobs[k].pid != pid) continue;
            finished(s, o, t, plans, &jobs[k], status, pr);
            jobs[k].pid = 0;
            active--;
        }
    }
    free(jobs);
    return rc;
}

int sweep_run(const Sweep *s, const SweepOptions *o, FILE *out, Error *err)
{
    char runner[PATH_MAX];
    if (sweep_runner_program(runner, sizeof runner, err)) return -1;
    PointPlan *plans = calloc((size_t)s->n_points, sizeof *plans);
    if (!plans) return err_set(err, "out of memory");
    int to_run = 0;
    Table t = {.out = out, .width = 5};
    for (int i = 0; i < s->n_points; i++) {
        int w = (int)strlen(s->points[i].name);
        t.width = w > t.width ? w : t.width;
    }
    int rc = sweep_plan(s, o, plans, &to_run, err);
    if (rc == 0) rc = sweep_make_folder(o->out, err);
    if (rc == 0) rc = write_record(s, o, err);
    if (rc) {
        free(plans);
        return -1;
    }
    int threads = o->threads > 0 ? o->threads : sweep_threads_per_point(o->jobs);
    char threads_text[16];
    snprintf(threads_text, sizeof threads_text, "%d", threads);
    fprintf(out, "sweep %s (%s): %d point%s, %d finished before, %d to run, %d at a time with %d thread%s each; "
                 "output in %s/<point>.log\n",
            s->name, s->path, s->n_points, s->n_points == 1 ? "" : "s", s->n_points - to_run, to_run, o->jobs, threads,
            threads == 1 ? "" : "s", o->out);
    table_row(&t, "point", "result", "steps", "metric", "time", "");
    for (int i = 0; i < s->n_points; i++) {
        if (plans[i].run) continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", o->out, s->points[i].name);
        table_run(&t, s->points[i].name, dir, "skipped", -1, plans[i].note);
    }
    Progress pr = {0};
    rc = run_points(s, o, plans, runner, threads_text, &t, &pr, err);
    free(plans);
    if (rc) return -1;
    fprintf(out, "sweep %s: %d run, %d skipped, %d failed; results in %s/\n", s->name, pr.done - pr.failed,
            s->n_points - to_run, pr.failed, o->out);
    if (pr.failed)
        return err_set(err, "%d of %d point%s failed: %s (their output: %s/<point>.log)", pr.failed, to_run,
                       to_run == 1 ? "" : "s", pr.failed_names, o->out);
    return 0;
}
