/* Which folders --force may replace (see results.h): compared as device and inode, so '.', './',
 * '../x/..', symlinked spellings and bind mounts of the same folder are all recognised. */
#include "runner/io/results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool same_folder(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether `st` is the folder `path` or one of the folders above it. */
static bool is_at_or_above(const struct stat *st, const char *path)
{
    char *real = path && *path ? realpath(path, NULL) : NULL;
    if (!real) return false;
    bool found = false;
    for (;;) {
        struct stat up;
        if (stat(real, &up) == 0 && same_folder(st, &up)) {
            found = true;
            break;
        }
        char *slash = strrchr(real, '/');
        if (!slash || slash == real) {
            /* Last: the root itself. */
            found = stat("/", &up) == 0 && same_folder(st, &up);
            break;
        }
        *slash = '\0';
    }
    free(real);
    return found;
}

static bool is_regular_file(const char *dir, const char *name)
{
    char path[RESULTS_PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int results_check_replaceable(const char *dir, Error *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0) return err_set(err, "cannot read '%s': %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(err, "'%s' exists and is not a folder; --force replaces only results folders. Remove it "
                       "yourself or choose another --out", dir);
    if (is_at_or_above(&st, "."))
        return err_set(err, "refusing to replace '%s' with --force: it is the current directory or one of "
                       "its parents, and replacing it would delete what is in it. Choose a new folder with --out DIR",
                       dir);
    if (is_at_or_above(&st, getenv("HOME")))
        return err_set(err, "refusing to replace '%s' with --force: it is the home directory or one of its "
                       "parents. Choose a new folder with --out DIR", dir);
    bool marker = is_regular_file(dir, RESULTS_MARKER), spec = is_regular_file(dir, "spec.yaml");
    if (!marker || !spec)
        return err_set(err, "refusing to replace '%s' with --force: it is not a results folder written by "
                       "`runner run` (it lacks %s%s%s), so its contents are not the runner's to delete. Remove it "
                       "yourself if it may go, or choose another --out", dir, marker ? "" : RESULTS_MARKER,
                       !marker && !spec ? " and " : "", spec ? "" : "spec.yaml");
    return 0;
}
