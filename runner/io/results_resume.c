/* Continuing an unfinished run in its results folder (see results_state.h). */
#include "runner/io/results_state.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool has_file(const char *dir, const char *rel)
{
    char path[RESULTS_PATH_MAX + 64];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", dir, rel) < (int)sizeof path && lstat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

int results_check_resumable(const char *dir, Error *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return err_set(err, "cannot resume '%s': %s", dir, errno == ENOENT ? "there is no such folder" : strerror(errno));
    if (!S_ISDIR(st.st_mode) || !results_is_folder(dir))
        return err_set(err, "cannot resume '%s': it is not a results folder written by `runner run` (it has no %s)", dir,
                       RESULTS_MARKER);
    return 0;
}

static int check_unfinished(const char *dir, Error *err)
{
    if (has_file(dir, "summary.csv"))
        return err_set(err, "cannot resume '%s': its run has finished (it has summary.csv); run it again from the start "
                       "with --force", dir);
    if (!has_file(dir, RESULTS_CHECKPOINT))
        return err_set(err, "cannot resume '%s': it has no checkpoint (%s), as the run stopped before writing its "
                       "first; run it again from the start with --force", dir, RESULTS_CHECKPOINT);
    return 0;
}

int results_reopen(Results *r, const char *dir, Error *err)
{
    memset(r, 0, sizeof *r);
    r->lock_fd = r->old_lock_fd = -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    if (len == 0 || len >= sizeof r->target) return err_set(err, "results folder name '%s' is empty or too long", dir);
    memcpy(r->target, dir, len);
    r->target[len] = '\0';
    memcpy(r->dir, r->target, len + 1);
    if (results_check_resumable(r->dir, err)) return -1;
    /* The lock before the rest: a run still going is refused as in use, not as unfinished. */
    if ((r->lock_fd = results_lock(r->dir, err)) < 0) return -1;
    r->published = true;
    if (check_unfinished(r->dir, err)) {
        results_close(r);
        return -1;
    }
    return 0;
}

/* NAME.tmp.PID: what atomic_open writes before its rename. */
static bool is_temporary(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name) return false;
    const char *p = t + 5;
    if (!*p) return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

static int clear_temporaries(const char *dir, Error *err)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_set(err, "cannot read '%s': %s", dir, strerror(errno));
    int removed = 0;
    for (struct dirent *e; removed >= 0 && (e = readdir(d));) {
        char path[RESULTS_PATH_MAX + 300];
        struct stat st;
        if (!is_temporary(e->d_name) || snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlink(path) == 0) removed++;
        else removed = err_set(err, "cannot remove the partial file '%s': %s", path, strerror(errno));
    }
    closedir(d);
    return removed;
}

int results_clear_leftovers(const Results *r, Error *err)
{
    static const char *const folders[] = {"", "/samples", "/plots", "/checkpoints"};
    int removed = 0;
    for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
        char dir[RESULTS_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s%s", r->dir, folders[i]);
        int n = clear_temporaries(dir, err);
        if (n < 0) return -1;
        removed += n;
    }
    char failed[RESULTS_PATH_MAX + 16];
    snprintf(failed, sizeof failed, "%s/%s", r->dir, RESULTS_FAILED);
    if (unlink(failed) != 0 && errno != ENOENT)
        return err_set(err, "cannot remove '%s': %s", failed, strerror(errno));
    return removed;
}
