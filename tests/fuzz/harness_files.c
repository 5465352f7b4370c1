/* The temporary folder the harnesses write their inputs to (see harness.h). */
#include "tests/fuzz/harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[512];

/* Removes the folder's files (harnesses write no subfolders), then the folder. */
static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove(path);
    }
    closedir(d);
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (dir[0]) return dir;
    /* Memory-backed /dev/shm where there is one: writing inputs to a disk costs most of the time. */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0]) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("fuzz: cannot create a temporary folder");
        abort();
    }
    atexit(remove_dir);
    return dir;
}

const char *fuzz_path(char *path, size_t len, const char *name)
{
    snprintf(path, len, "%s/%s", fuzz_dir(), name);
    return path;
}

void fuzz_write(char *path, size_t len, const char *name, const uint8_t *data, size_t size)
{
    fuzz_path(path, len, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fuzz_remove(const char *name)
{
    char path[1024];
    remove(fuzz_path(path, sizeof path, name));
}
