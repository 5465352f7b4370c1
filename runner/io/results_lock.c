/* The lock of a results folder (see results.h): flock on dir/RESULTS_LOCK, which holds the
 * holder's process id so that the refusal can name it. */
#include "runner/io/results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Wide enough for any pid, written in place (no truncation) so a reader never sees it empty. */
#define PID_FIELD 21

static long holder_pid(int fd)
{
    char buf[PID_FIELD + 1];
    ssize_t n = pread(fd, buf, PID_FIELD, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : -1;
}

static bool same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int results_lock(const char *dir, Error *err)
{
    char path[RESULTS_PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/%s", dir, RESULTS_LOCK) >= (int)sizeof path)
        return err_set(err, "results folder name '%s' is too long", dir);
    /* A run that replaces the folder removes the old lock file once it is done with it: a lock won
     * on that file is worth nothing, so take it again on the file the path names now. */
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) return err_set(err, "cannot open the lock file %s: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = holder_pid(fd);
            close(fd);
            if (e != EWOULDBLOCK) return err_set(err, "cannot lock %s: %s", path, strerror(e));
            if (pid > 0)
                return err_set(err, "results folder '%s' is in use by another run (process %ld holds %s); "
                               "wait for it to finish, or write elsewhere with --out DIR", dir, pid, path);
            return err_set(err, "results folder '%s' is in use by another run (it holds %s); wait for it "
                           "to finish, or write elsewhere with --out DIR", dir, path);
        }
        if (!same_file(fd, path)) {
            close(fd);
            continue;
        }
        char text[PID_FIELD + 1];
        snprintf(text, sizeof text, "%-*ld\n", PID_FIELD - 1, (long)getpid());
        if (pwrite(fd, text, PID_FIELD, 0) != PID_FIELD) {
            int e = errno;
            close(fd);
            return err_set(err, "cannot write %s: %s", path, strerror(e));
        }
        return fd;
    }
    return err_set(err, "results folder '%s' keeps being replaced by other runs; try again", dir);
}
