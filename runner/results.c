/* The results folder: created whole or not at all (see results.h). */
#include "runner/results.h"

#include <errno.h>
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

/* mkdir that records what it made. */
static int make_dir(Results *r, const char *path, Error *err)
{
    if (mkdir(path, 0777) != 0) {
        if (errno == EEXIST && is_dir(path)) return 0;
        return err_set(err, "error: cannot create results folder '%s': %s", path, strerror(errno));
    }
    if (r->n_created == RESULTS_MAX_CREATED) return err_set(err, "error: results path '%s' is too deep", path);
    if (!(r->created[r->n_created] = strdup(path))) return err_set(err, "out of memory");
    r->n_created++;
    return 0;
}

/* Creates each missing ancestor of dir, outermost first. */
static int make_parents(Results *r, const char *dir, Error *err)
{
    char buf[RESULTS_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = make_dir(r, buf, err);
        *p = '/';
        if (rc) return -1;
    }
    return 0;
}

int results_create(Results *r, const char *dir, bool force, Error *err)
{
    memset(r, 0, sizeof *r);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    if (len == 0 || len >= sizeof r->dir - 32) return err_set(err, "error: results folder name '%s' is empty or too long", dir);
    memcpy(r->dir, dir, len);
    r->dir[len] = '\0';

    struct stat st;
    if (lstat(r->dir, &st) == 0) {
        if (!force)
            return err_set(err, "error: results folder '%s' already exists; pass --force to replace it or "
                           "--out DIR to write elsewhere", r->dir);
        if (!S_ISDIR(st.st_mode))
            return err_set(err, "error: '%s' exists and is not a folder; remove it or choose another --out", r->dir);
        if (remove_tree(r->dir) != 0)
            return err_set(err, "error: cannot replace results folder '%s': %s", r->dir, strerror(errno));
    }
    if (make_parents(r, r->dir, err) || make_dir(r, r->dir, err)) goto fail;
    for (int i = 0; i < N_SUBDIRS; i++) {
        char sub[RESULTS_PATH_MAX + 32];
        snprintf(sub, sizeof sub, "%s/%s", r->dir, subdirs[i]);
        if (make_dir(r, sub, err)) goto fail;
    }
    return 0;
fail:
    results_discard(r);
    return -1;
}

void results_discard(Results *r)
{
    /* Innermost first; the run's own folder goes with everything written into it. */
    for (int i = r->n_created - 1; i >= 0; i--) {
        remove_tree(r->created[i]);
        free(r->created[i]);
    }
    r->n_created = 0;
}

void results_keep(Results *r)
{
    for (int i = 0; i < r->n_created; i++) free(r->created[i]);
    r->n_created = 0;
}

int results_path(const Results *r, const char *rel, char *buf, size_t len, Error *err)
{
    int n = snprintf(buf, len, "%s/%s", r->dir, rel);
    if (n < 0 || (size_t)n >= len) return err_set(err, "error: path '%s/%s' is too long", r->dir, rel);
    return 0;
}
