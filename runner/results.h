/* The results folder of a run (results/<name>/ or --out): created whole or not at all, never
 * overwritten without --force, with the subfolders every writer expects. */
#ifndef RUNNER_RESULTS_H
#define RUNNER_RESULTS_H

#include "graph/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Written into the resolved spec and the checkpoints' metadata. */
#define RUNNER_VERSION "0.4.0"

#define RESULTS_PATH_MAX 4096
#define RESULTS_MAX_CREATED 32

typedef struct Results {
    char dir[RESULTS_PATH_MAX];
    /* Folders this run created, outermost first, so a failed start removes exactly them. */
    char *created[RESULTS_MAX_CREATED];
    int n_created;
} Results;

/* Creates `dir` (and missing parents) with samples/, plots/ and checkpoints/.  An existing `dir`
 * is an error unless `force`, which replaces it.  On failure nothing new is left behind. */
int results_create(Results *r, const char *dir, bool force, Error *err);
/* Removes everything results_create made (a run that failed before it trained). */
void results_discard(Results *r);
/* Forgets the bookkeeping; the folder stays. */
void results_keep(Results *r);
/* dir/rel into buf; -1 when it does not fit. */
int results_path(const Results *r, const char *rel, char *buf, size_t len, Error *err);

/* Removes a file or folder tree (no symlinks followed); 0 when it is gone. */
int remove_tree(const char *path);

#endif
