#include "runner/io/atomic_file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int atomic_open(AtomicFile *af, const char *path, Error *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return err_set(err, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return err_set(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

int atomic_commit(AtomicFile *af, Error *err)
{
    int failed = ferror(af->f) != 0;
    int saved = errno;
    failed |= fflush(af->f) != 0;
    if (!failed && fsync(fileno(af->f)) != 0) failed = 1;
    if (failed) saved = errno;
    failed |= fclose(af->f) != 0;
    af->f = NULL;
    if (!failed && rename(af->tmp, af->path) != 0) {
        saved = errno;
        failed = 1;
    }
    if (failed) {
        remove(af->tmp);
        return err_set(err, "%s: write failed: %s", af->path, strerror(saved ? saved : EIO));
    }
    return 0;
}

void atomic_abort(AtomicFile *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) remove(af->tmp);
}
