/* The state of a results folder's run, and the records `runner run` leaves for it (see
 * results_state.h). */
#include "runner/io/results_state.h"

#include "runner/io/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Results folders do not nest; deeper than this a scan has wandered somewhere else. */
#define FIND_MAX_DEPTH 8

const char *run_state_name(RunState s)
{
    switch (s) {
    case RUN_RUNNING: return "running";
    case RUN_FINISHED: return "finished";
    case RUN_INTERRUPTED: return "interrupted";
    case RUN_FAILED: return "failed";
    }
    return "?";
}

static int join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static bool regular_file(const char *dir, const char *name, struct stat *st)
{
    char path[RESULTS_PATH_MAX + 64];
    struct stat s;
    if (!st) st = &s;
    return join(path, sizeof path, dir, name) == 0 && lstat(path, st) == 0 && S_ISREG(st->st_mode);
}

bool results_is_folder(const char *dir) { return regular_file(dir, RESULTS_MARKER, NULL); }

/* Whether another process holds the folder's lock: a shared lock, tried and released at once,
 * fails only while a run holds its exclusive one.  The file is never created here. */
static bool lock_held(const char *dir, long *pid)
{
    char path[RESULTS_PATH_MAX + 64];
    *pid = -1;
    if (join(path, sizeof path, dir, RESULTS_LOCK)) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (held) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) buf[n] = '\0';
        long p = strtol(buf, NULL, 10);
        *pid = p > 0 ? p : -1;
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return held;
}

bool results_headline(const MetricsTable *t, int row, char *name, size_t len, double *value)
{
    int pick = -1;
    static const char *const first[] = {"fid_inception", "fd_", "kid_mean", "final_test_accuracy",
                                               "final_accuracy", "final_"};
    for (size_t k = 0; k < sizeof first / sizeof first[0] && pick < 0; k++) {
        size_t n = strlen(first[k]);
        bool prefix = first[k][n - 1] == '_';
        for (int c = 0; c < t->n_cols && pick < 0; c++) {
            const char *h = t->header[c], *v = metrics_table_get(t, row, c);
            if ((prefix ? !strncmp(h, first[k], n) : !strcmp(h, first[k])) && v[0]) pick = c;
        }
    }
    if (pick < 0) return false;
    char *end;
    double v = strtod(metrics_table_get(t, row, pick), &end);
    if (*end) return false;
    snprintf(name, len, "%s", t->header[pick]);
    *value = v;
    return true;
}

/* The latest row of metrics.csv: its step, and its first metric with a value as the headline. */
static void read_progress(const char *dir, RunStatus *st)
{
    char path[RESULTS_PATH_MAX + 64];
    MetricsTable t;
    Error ignored = {0};
    if (join(path, sizeof path, dir, "metrics.csv") || metrics_table_read(path, &t, &ignored)) return;
    int r = t.n_rows - 1, step = metrics_table_col(&t, "step");
    double v;
    if (r >= 0 && step >= 0 && metrics_table_num(&t, r, step, &v, &ignored) == 0) st->step = (int64_t)v;
    for (int c = 0; r >= 0 && c < t.n_cols && !st->metric[0]; c++) {
        const char *h = t.header[c];
        if (!strcmp(h, "step") || !strcmp(h, "epoch") || !strcmp(h, "time_s") || !strncmp(h, "lr_", 3)) continue;
        if (metrics_table_num(&t, r, c, &v, &ignored) == 0) {
            snprintf(st->metric, sizeof st->metric, "%s", h);
            st->value = v;
        }
    }
    metrics_table_free(&t);
}

static void read_plan(const char *dir, RunStatus *st)
{
    char path[RESULTS_PATH_MAX + 64];
    MetricsTable t;
    Error ignored = {0};
    if (join(path, sizeof path, dir, RESULTS_PLAN) || metrics_table_read(path, &t, &ignored)) return;
    double v;
    int c = metrics_table_col(&t, "total_steps");
    if (t.n_rows == 1 && c >= 0 && metrics_table_num(&t, 0, c, &v, &ignored) == 0) st->total = (int64_t)v;
    metrics_table_free(&t);
}

/* A finished run's summary.csv: its steps, wall time and headline.  False when it is not a
 * complete one-row table (a run never leaves one half-written, but a person might). */
static bool read_summary(const char *dir, RunStatus *st)
{
    char path[RESULTS_PATH_MAX + 64];
    MetricsTable t;
    Error ignored = {0};
    if (join(path, sizeof path, dir, "summary.csv") || metrics_table_read(path, &t, &ignored)) return false;
    double steps, wall;
    bool ok = t.n_rows == 1 && metrics_table_num(&t, 0, metrics_table_col(&t, "steps"), &steps, &ignored) == 0 &&
              metrics_table_num(&t, 0, metrics_table_col(&t, "wall_time_s"), &wall, &ignored) == 0;
    if (ok) {
        st->step = (int64_t)steps;
        st->wall_s = wall;
        st->metric[0] = '\0';
        if (!results_headline(&t, 0, st->metric, sizeof st->metric, &st->value)) st->metric[0] = '\0';
    }
    metrics_table_free(&t);
    return ok;
}

static void read_failure(const char *dir, RunStatus *st)
{
    char path[RESULTS_PATH_MAX + 64];
    if (join(path, sizeof path, dir, RESULTS_FAILED)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(st->failure, sizeof st->failure, f)) st->failure[0] = '\0';
    st->failure[strcspn(st->failure, "\n")] = '\0';
    fclose(f);
}

int results_status(const char *dir, RunStatus *st, Error *err)
{
    memset(st, 0, sizeof *st);
    st->step = st->total = -1;
    st->wall_s = -1;
    if (!results_is_folder(dir))
        return err_set(err, "'%s' is not a results folder written by `runner run` (it has no %s)", dir,
                       RESULTS_MARKER);
    static const char *const files[] = {"spec.yaml", "metrics.csv", "summary.csv", RESULTS_FAILED, RESULTS_PLAN};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct stat s;
        if (regular_file(dir, files[i], &s) && s.st_mtime > st->updated) st->updated = s.st_mtime;
    }
    read_plan(dir, st);
    read_progress(dir, st);
    st->checkpoint = regular_file(dir, RESULTS_CHECKPOINT, NULL);
    if (lock_held(dir, &st->pid)) {
        st->state = RUN_RUNNING;
    } else if (read_summary(dir, st)) {
        st->state = RUN_FINISHED;
    } else if (regular_file(dir, RESULTS_FAILED, NULL)) {
        st->state = RUN_FAILED;
        read_failure(dir, st);
    } else {
        st->state = RUN_INTERRUPTED;
    }
    return 0;
}

/* ---- finding results folders ---- */

typedef struct Found {
    char **dirs;
    int n, cap;
} Found;

static int add(Found *f, const char *path)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 16;
        char **d = realloc(f->dirs, (size_t)cap * sizeof *d);
        if (!d) return -1;
        f->dirs = d, f->cap = cap;
    }
    return (f->dirs[f->n] = strdup(path)) ? (f->n++, 0) : -1;
}

static int scan(Found *f, const char *dir, int depth, Error *err)
{
    if (results_is_folder(dir)) return add(f, dir) ? err_set(err, "out of memory") : 0;
    if (depth == FIND_MAX_DEPTH) return 0;
    DIR *d = opendir(dir);
    if (!d) return depth == 0 ? err_set(err, "cannot read '%s': %s", dir, strerror(errno)) : 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue; /* ., .., and the staging folders of runs starting */
        char path[RESULTS_PATH_MAX];
        struct stat st;
        if (join(path, sizeof path, dir, e->d_name) || lstat(path, &st) || !S_ISDIR(st.st_mode)) continue;
        rc = scan(f, path, depth + 1, err);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int results_find(const char *root, char ***dirs, int *n, Error *err)
{
    Found f = {0};
    char start[RESULTS_PATH_MAX];
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/') len--;
    if (len == 0 || len >= sizeof start) return err_set(err, "results folder name '%s' is empty or too long", root);
    memcpy(start, root, len);
    start[len] = '\0';
    struct stat st;
    if (stat(start, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, "no results folder '%s' (%s)", start,
                       errno == ENOENT ? "nothing has been run yet" : "not a folder");
    if (scan(&f, start, 0, err)) {
        results_list_free(f.dirs, f.n);
        return -1;
    }
    qsort(f.dirs, (size_t)f.n, sizeof *f.dirs, by_path);
    *dirs = f.dirs;
    *n = f.n;
    return 0;
}

void results_list_free(char **dirs, int n)
{
    for (int i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

/* ---- the records of `runner run` ---- */

int results_write_plan(const Results *r, int64_t total_steps, int64_t per_epoch, Error *err)
{
    char path[RESULTS_PATH_MAX + 64];
    if (results_path(r, RESULTS_PLAN, path, sizeof path, err)) return -1;
    const char *cols[] = {"total_steps", "batches_per_epoch"};
    Cell cells[] = {cell_int(total_steps), cell_int(per_epoch)};
    return metrics_write_single(path, cols, cells, 2, err);
}

int results_write_failure(const Results *r, const char *message, Error *err)
{
    char path[RESULTS_PATH_MAX + 64];
    if (results_path(r, RESULTS_FAILED, path, sizeof path, err)) return -1;
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    fprintf(af.f, "%s\n", message);
    return atomic_commit(&af, err);
}
