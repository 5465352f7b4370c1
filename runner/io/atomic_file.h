/* Writing a file so that readers never see half of it: write PATH.tmp.<pid>, flush, fsync, rename. */
#ifndef RUNNER_ATOMIC_FILE_H
#define RUNNER_ATOMIC_FILE_H

#include "graph/error.h"

#include <stdio.h>

typedef struct AtomicFile {
    FILE *f;
    char path[4096];
    char tmp[4160];
} AtomicFile;

int atomic_open(AtomicFile *af, const char *path, Error *err);
/* Flushes, syncs and renames into place; on any failure removes the temporary file. */
int atomic_commit(AtomicFile *af, Error *err);
/* Discards the temporary file (after an error while writing). */
void atomic_abort(AtomicFile *af);

#endif
