/* The results folder: built in a staging folder beside its place, then moved there (see results.h). */
#include "runner/io/results.h"

#include "runner/io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const subdirs[] = {"samples", "plots", "checkpoints"};
#define N_SUBDIRS (int)(sizeof subdirs / sizeof subdirs[0])

static int unlink_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    return nftw(path, unlink_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Creates each missing ancestor of the target, outermost first, recording what it made.  Parents
 * may be shared with other runs, so one that exists already is fine. */
static int make_parents(Results *r, Error *err)
{
    char buf[RESULTS_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", r->target);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) == 0) {
            if (r->n_created == RESULTS_MAX_CREATED) return err_set(err, "results path '%s' is too deep", buf);
            if (!(r->created[r->n_created] = strdup(buf))) return err_set(err, "out of memory");
            r->n_created++;
        } else if (errno != EEXIST || !is_dir(buf)) {
            return err_set(err, "cannot create results folder '%s': %s", buf, strerror(errno));
        }
        *p = '/';
    }
    return 0;
}

/* "<parent of target>/.<name of target>.runner-<what>-<pid>-<k>": beside the target, so renames
 * stay on one file system; k tells apart the folders of one process. */
static int beside_target(const Results *r, const char *what, char *buf, size_t len, Error *err)
{
    static unsigned k;
    k++;
    const char *slash = strrchr(r->target, '/');
    int n = slash ? snprintf(buf, len, "%.*s/.%s.runner-%s-%ld-%u", (int)(slash - r->target), r->target, slash + 1,
                             what, (long)getpid(), k)
                  : snprintf(buf, len, ".%s.runner-%s-%ld-%u", r->target, what, (long)getpid(), k);
    if (n < 0 || (size_t)n >= len) return err_set(err, "results folder name '%s' is too long", r->target);
    return 0;
}

static int write_marker(const Results *r, Error *err)
{
    char path[RESULTS_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", r->dir, RESULTS_MARKER);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    fprintf(af.f, "This folder holds the results of `runner run` (runner %s).\n"
                  "`runner run --force` replaces only folders that hold this file and spec.yaml.\n",
            RUNNER_VERSION);
    return atomic_commit(&af, err);
}

/* The new folder, complete but for spec.yaml, under its staging name, locked. */
static int make_staging(Results *r, Error *err)
{
    if (beside_target(r, "new", r->dir, sizeof r->dir, err)) return -1;
    if (mkdir(r->dir, 0777) != 0) {
        int e = errno;
        r->dir[0] = '\0';
        return err_set(err, "cannot create results folder '%s': %s (while creating its staging folder beside it)",
                       r->target, strerror(e));
    }
    for (int i = 0; i < N_SUBDIRS; i++) {
        char sub[RESULTS_PATH_MAX + 32];
        snprintf(sub, sizeof sub, "%s/%s", r->dir, subdirs[i]);
        if (mkdir(sub, 0777) != 0) return err_set(err, "cannot create '%s': %s", sub, strerror(errno));
    }
    if (write_marker(r, err)) return -1;
    return (r->lock_fd = results_lock(r->dir, err)) < 0 ? -1 : 0;
}

int results_check_target(const char *dir, bool force, bool *exists, Error *err)
{
    struct stat st;
    *exists = lstat(dir, &st) == 0;
    if (!*exists && errno != ENOENT)
        return err_set(err, "cannot read results folder '%s': %s", dir, strerror(errno));
    if (*exists && !force)
        return err_set(err, "results folder '%s' already exists; pass --force to replace it or --out DIR to "
                       "write elsewhere", dir);
    return *exists ? results_check_replaceable(dir, err) : 0;
}

int results_open(Results *r, const char *dir, bool force, Error *err)
{
    memset(r, 0, sizeof *r);
    r->lock_fd = r->old_lock_fd = -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    if (len == 0 || len >= sizeof r->target - 64)
        return err_set(err, "results folder name '%s' is empty or too long", dir);
    memcpy(r->target, dir, len);
    r->target[len] = '\0';

    bool exists;
    if (results_check_target(r->target, force, &exists, err)) return -1;
    if (exists) {
        if ((r->old_lock_fd = results_lock(r->target, err)) < 0) return -1;
        r->replacing = true;
    }
    if (make_parents(r, err) || make_staging(r, err)) {
        results_close(r);
        return -1;
    }
    return 0;
}

/* --force: the new folder takes the old one's place in one step where the file system can, and
 * the old one goes. */
static int replace_target(Results *r, Error *err)
{
    char old[RESULTS_PATH_MAX];
    if (renameat2(AT_FDCWD, r->dir, AT_FDCWD, r->target, RENAME_EXCHANGE) == 0) {
        snprintf(old, sizeof old, "%s", r->dir); /* the staging name now holds the old folder */
    } else if (errno == EINVAL || errno == ENOSYS) {
        if (beside_target(r, "old", old, sizeof old, err)) return -1;
        if (rename(r->target, old) != 0)
            return err_set(err, "cannot move the old results folder '%s' aside: %s", r->target, strerror(errno));
        if (rename(r->dir, r->target) != 0) {
            int e = errno;
            rename(old, r->target);
            return err_set(err, "cannot move the new results into '%s': %s", r->target, strerror(e));
        }
    } else {
        return err_set(err, "cannot replace results folder '%s': %s", r->target, strerror(errno));
    }
    if (remove_tree(old) != 0) {
        Error why = {0};
        err_set(&why, "the replaced results are still in '%s': %s", old, strerror(errno));
        err_warn(&why, "remove that folder yourself");
    }
    close(r->old_lock_fd);
    r->old_lock_fd = -1;
    return 0;
}

/* Without --force the target must still not exist: a run that created it meanwhile keeps it. */
static int create_target(Results *r, Error *err)
{
    if (renameat2(AT_FDCWD, r->dir, AT_FDCWD, r->target, RENAME_NOREPLACE) == 0) return 0;
    int e = errno;
    /* File systems without RENAME_NOREPLACE: claim the name with mkdir, which fails on an existing
     * folder, then rename over that empty folder. */
    if ((e == EINVAL || e == ENOSYS) && mkdir(r->target, 0777) == 0) {
        if (rename(r->dir, r->target) == 0) return 0;
        e = errno;
        rmdir(r->target);
    } else if (e == EINVAL || e == ENOSYS) {
        e = errno;
    }
    if (e == EEXIST || e == ENOTEMPTY)
        return err_set(err, "results folder '%s' already exists (another run created it meanwhile); pass "
                       "--force to replace it or --out DIR to write elsewhere", r->target);
    return err_set(err, "cannot create results folder '%s': %s", r->target, strerror(e));
}

int results_publish(Results *r, Error *err)
{
    if (r->replacing ? replace_target(r, err) : create_target(r, err)) return -1;
    snprintf(r->dir, sizeof r->dir, "%s", r->target);
    r->published = true;
    return 0;
}

void results_close(Results *r)
{
    if (!r->target[0]) return; /* never opened */
    if (!r->published) {
        if (r->dir[0]) remove_tree(r->dir);
        /* Innermost first; rmdir leaves a parent that something else has written into meanwhile. */
        for (int i = r->n_created - 1; i >= 0; i--) rmdir(r->created[i]);
    }
    for (int i = 0; i < r->n_created; i++) free(r->created[i]);
    r->n_created = 0;
    if (r->lock_fd >= 0) close(r->lock_fd);
    if (r->old_lock_fd >= 0) close(r->old_lock_fd);
    r->lock_fd = r->old_lock_fd = -1;
}

int results_path(const Results *r, const char *rel, char *buf, size_t len, Error *err)
{
    int n = snprintf(buf, len, "%s/%s", r->dir, rel);
    if (n < 0 || (size_t)n >= len) return err_set(err, "path '%s/%s' is too long", r->dir, rel);
    return 0;
}
