/* The results folder of a run (results/<name>/ or --out).  It is built whole in a staging folder
 * beside its final place and then moved there in one rename, so a reader never sees half of one.
 * A folder this runner made holds a marker file (RESULTS_MARKER) and spec.yaml; only such a folder
 * is ever replaced, and only with --force.  While a run uses a folder it holds an exclusive lock
 * on RESULTS_LOCK inside it, which names its process id, so a second run is refused. */
#ifndef RUNNER_RESULTS_H
#define RUNNER_RESULTS_H

#include "graph/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Written into the resolved spec and the checkpoints' metadata. */
#define RUNNER_VERSION "0.4.0"

#define RESULTS_PATH_MAX 4096
#define RESULTS_MAX_CREATED 32
/* Says "made by `runner run`": --force replaces nothing without it. */
#define RESULTS_MARKER ".runner-results"
/* flock()ed by the run that uses the folder; holds that process's id. */
#define RESULTS_LOCK ".runner-lock"
/* The run's latest checkpoint, replaced whole every train.checkpoint_every steps and at the end. */
#define RESULTS_CHECKPOINT "checkpoints/last.safetensors"

typedef struct Results {
    char dir[RESULTS_PATH_MAX];    /* where writers write: the staging folder, then `target` once published */
    char target[RESULTS_PATH_MAX]; /* the folder asked for */
    bool published;
    bool replacing;                /* --force over an existing results folder */
    int lock_fd;                   /* the lock of the new folder; -1: none */
    int old_lock_fd;               /* the lock of the folder being replaced; -1: none */
    /* Missing parents of `target` this run created, outermost first, so a failed start removes them. */
    char *created[RESULTS_MAX_CREATED];
    int n_created;
} Results;

/* Prepares the results folder `dir`: an existing one is refused unless `force` and it is a results
 * folder made by this runner that is not the current directory, one of its parents or the home
 * directory; its lock is taken.  Then creates missing parents and the staging folder beside `dir`
 * with samples/, plots/, checkpoints/, the marker and the (held) lock.  Nothing at `dir` changes.
 * On failure nothing new is left behind. */
int results_open(Results *r, const char *dir, bool force, Error *err);
/* The checks of results_open on `dir` that change nothing (whether it exists, and if so whether
 * `force` may replace it), for a command to fail fast before its slow preparations; results_open
 * repeats them. */
int results_check_target(const char *dir, bool force, bool *exists, Error *err);
/* Moves the staging folder to its place (swapping out and removing the replaced folder with
 * --force); from then on r->dir is the target. */
int results_publish(Results *r, Error *err);
/* Before results_publish: removes everything results_open made.  After it: keeps the folder.
 * Releases the locks either way. */
void results_close(Results *r);
/* dir/rel into buf; -1 when it does not fit. */
int results_path(const Results *r, const char *rel, char *buf, size_t len, Error *err);

/* Takes the lock of the results folder `dir` (LOCK_EX | LOCK_NB on dir/RESULTS_LOCK, created when
 * missing) and writes this process's id into it; returns the descriptor, which holds the lock until
 * it is closed.  A lock held elsewhere is an error naming the holder's process id. */
int results_lock(const char *dir, Error *err);

/* 0 when `dir` (an existing folder) may be replaced with --force; otherwise an error saying why
 * not: it is the current directory or above it, the home directory or above it, or it is not a
 * results folder made by this runner. */
int results_check_replaceable(const char *dir, Error *err);

/* Removes a file or folder tree (no symlinks followed); 0 when it is gone. */
int remove_tree(const char *path);

#endif
